//! Extrinsic behaviour: validation order and outcomes of spec §3.2, commit-reveal v2 timing,
//! registration with pruning, serving checks, epoch scheduling.

use dojo_types::chain::{
    AxonInfo, ChainError, HyperparamValue, RevealWeights, SetWeights, account_id, commit_hash_v2,
};
use dojo_types::{Hotkey, Uid};
use proptest::prelude::*;

use super::*;

fn hk(s: &str) -> Hotkey {
    Hotkey::new(s).unwrap()
}

const NET: Netuid = 1;

/// A subnet with `n` registered neurons `v0..`, CR off, rate limit 0, min weights 0, tempo 10.
fn chain(n: usize) -> State {
    let mut s = State::new();
    let params = SubnetParams {
        tempo: 10,
        commit_reveal_weights_enabled: false,
        weights_rate_limit: 0,
        min_allowed_weights: 0,
        burn: 10,
        ..SubnetParams::default()
    };
    s.create_subnet(NET, hk("owner-ck"), None, params).unwrap();
    for i in 0..n {
        let ck = hk(&format!("ck{i}"));
        s.faucet(&ck, 100);
        s.burned_register(&ck, NET, &hk(&format!("v{i}"))).unwrap();
        s.add_stake(&hk(&format!("v{i}")), NET, 1_000).unwrap();
    }
    s
}

fn sw(who: &str, uids: &[u16], weights: &[u16]) -> SetWeights {
    SetWeights {
        hotkey: hk(who),
        netuid: NET,
        uids: uids.to_vec(),
        weights: weights.to_vec(),
        version_key: 0,
    }
}

fn permit(s: &mut State, uid: usize) {
    s.subnets.get_mut(&NET).unwrap().neurons[uid].validator_permit = true;
}

#[test]
fn validation_order_follows_subtensor() {
    let mut s = chain(3);
    // 1. Root network comes before everything.
    let mut root = sw("v0", &[0], &[1, 2]);
    root.netuid = 0;
    assert_eq!(
        s.set_weights(&root),
        Err(ChainError::CanNotSetRootNetworkWeights)
    );
    // 2. Unequal lengths before the subnet lookup.
    let mut bad = sw("v0", &[0], &[1, 2]);
    bad.netuid = 9;
    assert_eq!(s.set_weights(&bad), Err(ChainError::WeightVecNotEqualSize));
    // 3. Unknown subnet.
    let mut missing = sw("v0", &[0], &[1]);
    missing.netuid = 9;
    assert_eq!(
        s.set_weights(&missing),
        Err(ChainError::MechanismDoesNotExist(9))
    );
    // 4. Longer than n, checked before registration.
    assert_eq!(
        s.set_weights(&sw("nobody", &[0, 1, 2, 3], &[1; 4])),
        Err(ChainError::UidsLengthExceedUidsInSubNet)
    );
    // 5. Unknown hotkey.
    assert!(matches!(
        s.set_weights(&sw("nobody", &[0], &[1])),
        Err(ChainError::HotKeyNotRegisteredInSubNet(_))
    ));
    // 6. Stake threshold.
    s.set_hyperparam(NET, "stake_threshold", HyperparamValue::U64(5_000))
        .unwrap();
    assert_eq!(
        s.set_weights(&sw("v0", &[1], &[1])),
        Err(ChainError::NotEnoughStakeToSetWeights)
    );
    s.set_hyperparam(NET, "stake_threshold", HyperparamValue::U64(0))
        .unwrap();
    // 7. Version key.
    s.set_hyperparam(NET, "weights_version", HyperparamValue::U64(7))
        .unwrap();
    assert_eq!(
        s.set_weights(&sw("v0", &[1], &[1])),
        Err(ChainError::IncorrectWeightVersionKey {
            sent: 0,
            required: 7
        })
    );
    s.set_hyperparam(NET, "weights_version", HyperparamValue::U64(0))
        .unwrap();
    // 9. No permit: non-self weights refused, self-weight accepted.
    assert_eq!(
        s.set_weights(&sw("v0", &[1], &[1])),
        Err(ChainError::NeuronNoValidatorPermit)
    );
    s.step_block();
    s.set_weights(&sw("v0", &[0], &[5])).unwrap();
    assert_eq!(s.subnets[&NET].neurons[0].weights, vec![(0, 65535)]);
    // 8. Rate limit, checked before the permit.
    s.set_hyperparam(NET, "weights_rate_limit", HyperparamValue::U64(100))
        .unwrap();
    s.step_block();
    assert!(matches!(
        s.set_weights(&sw("v0", &[1], &[1])),
        Err(ChainError::SettingWeightsTooFast { limit: 100, .. })
    ));
    s.set_hyperparam(NET, "weights_rate_limit", HyperparamValue::U64(0))
        .unwrap();
    permit(&mut s, 0);
    // 10. Duplicates before out-of-range.
    assert_eq!(
        s.set_weights(&sw("v0", &[1, 1, 7], &[1, 1, 1])),
        Err(ChainError::DuplicateUids)
    );
    assert_eq!(
        s.set_weights(&sw("v0", &[1, 7], &[1, 1])),
        Err(ChainError::UidVecContainInvalidOne)
    );
    // 11. Length (min(min_allowed, n) = 2 here).
    s.set_hyperparam(NET, "min_allowed_weights", HyperparamValue::U16(2))
        .unwrap();
    assert_eq!(
        s.set_weights(&sw("v0", &[1], &[1])),
        Err(ChainError::WeightVecLengthIsLow)
    );
    // 13. Max weight limit, on the upscaled values.
    s.set_hyperparam(NET, "max_weights_limit", HyperparamValue::U16(40_000))
        .unwrap();
    assert_eq!(
        s.set_weights(&sw("v0", &[1, 2], &[65535, 1])),
        Err(ChainError::MaxWeightExceeded)
    );
    // 12 + 14 + 15: stored max-upscaled with explicit zeros, LastUpdate set.
    s.set_hyperparam(NET, "max_weights_limit", HyperparamValue::U16(65535))
        .unwrap();
    s.step_block();
    s.set_weights(&sw("v0", &[1, 2], &[32767, 0])).unwrap();
    let n0 = &s.subnets[&NET].neurons[0];
    assert_eq!(n0.weights, vec![(1, 65535), (2, 0)]);
    assert_eq!(n0.last_update, s.block);
    // Commit-reveal on: plain set_weights is refused first.
    s.set_hyperparam(
        NET,
        "commit_reveal_weights_enabled",
        HyperparamValue::Bool(true),
    )
    .unwrap();
    assert_eq!(
        s.set_weights(&sw("v0", &[1, 2], &[1, 1])),
        Err(ChainError::CommitRevealEnabled)
    );
}

#[test]
fn commit_reveal_v2_timing_and_errors() {
    let mut s = chain(3);
    permit(&mut s, 0);
    s.set_hyperparam(
        NET,
        "commit_reveal_weights_enabled",
        HyperparamValue::Bool(true),
    )
    .unwrap();
    let who = hk("v0");
    let salt = vec![1, 2, 3];
    let hash = commit_hash_v2(&account_id(&who), NET, &[1, 2], &[10, 20], &salt, 0);
    let reveal = RevealWeights {
        hotkey: who.clone(),
        netuid: NET,
        uids: vec![1, 2],
        values: vec![10, 20],
        salt,
        version_key: 0,
    };
    assert_eq!(
        s.reveal_weights(&reveal),
        Err(ChainError::NoWeightsCommitFound)
    );
    s.step_block();
    s.commit_weights(&who, NET, hash).unwrap();
    assert_eq!(
        s.subnets[&NET].neurons[0].last_update, s.block,
        "LastUpdate is set at commit"
    );
    // Same epoch: too early.
    assert_eq!(s.reveal_weights(&reveal), Err(ChainError::RevealTooEarly));
    // A wrong salt never matches.
    let mut wrong = reveal.clone();
    wrong.salt = vec![9];
    assert_eq!(
        s.reveal_weights(&wrong),
        Err(ChainError::InvalidRevealCommitHashNotMatch)
    );
    // Next epoch (tempo 10, netuid 1: epochs start where (block + 2) % 11 == 0).
    while Subnet::cr_epoch(NET, 10, s.block) == Subnet::cr_epoch(NET, 10, s.block + 1) {
        s.step_block();
    }
    s.step_block();
    s.reveal_weights(&reveal).unwrap();
    assert_eq!(
        s.subnets[&NET].neurons[0].weights,
        vec![(1, 32768), (2, 65535)]
    );
    // Replay: the commit was consumed.
    assert_eq!(
        s.reveal_weights(&reveal),
        Err(ChainError::NoWeightsCommitFound)
    );
    // A commit left past its reveal epoch expires.
    s.commit_weights(&who, NET, hash).unwrap();
    for _ in 0..25 {
        s.step_block();
    }
    assert_eq!(
        s.reveal_weights(&reveal),
        Err(ChainError::ExpiredWeightCommit)
    );
}

#[test]
fn registration_burn_and_pruning() {
    let mut s = chain(2);
    s.set_hyperparam(NET, "max_allowed_uids", HyperparamValue::U16(2))
        .unwrap();
    s.set_hyperparam(NET, "immunity_period", HyperparamValue::U16(5))
        .unwrap();
    let ck = hk("newcomer-ck");
    assert_eq!(
        s.burned_register(&ck, NET, &hk("new")),
        Err(ChainError::NotEnoughBalanceToStake {
            balance: 0,
            burn: 10
        })
    );
    s.faucet(&ck, 25);
    assert_eq!(
        s.burned_register(&ck, NET, &hk("v0")),
        Err(ChainError::HotKeyAlreadyRegisteredInSubNet)
    );
    // Full and everyone immune.
    assert_eq!(
        s.burned_register(&ck, NET, &hk("new")),
        Err(ChainError::NoNeuronIdAvailable)
    );
    for _ in 0..5 {
        s.step_block();
    }
    s.subnets.get_mut(&NET).unwrap().neurons[0].emission = 5;
    // Lowest emission goes: uid 1.
    assert_eq!(s.burned_register(&ck, NET, &hk("new")), Ok(Uid(1)));
    assert_eq!(s.balances[&ck], 15);
    let n1 = &s.subnets[&NET].neurons[1];
    assert_eq!(
        (n1.hotkey.as_str(), n1.block_at_registration),
        ("new", s.block)
    );
    // The hotkey now belongs to this coldkey.
    s.faucet(&hk("other"), 100);
    assert_eq!(
        s.burned_register(&hk("other"), 2, &hk("new")),
        Err(ChainError::SubnetNotExists(2))
    );
}

#[test]
fn serve_axon_checks() {
    let mut s = chain(1);
    let v0 = hk("v0");
    let axon = AxonInfo {
        block: 0,
        version: 1,
        ip: 0x0a00_0001,
        port: 8091,
        ip_type: 4,
        protocol: 4,
    };
    assert!(matches!(
        s.serve_axon(&hk("x"), NET, axon.clone()),
        Err(ChainError::HotKeyNotRegisteredInSubNet(_))
    ));
    assert_eq!(
        s.serve_axon(
            &v0,
            NET,
            AxonInfo {
                ip_type: 5,
                ..axon.clone()
            }
        ),
        Err(ChainError::InvalidIpType)
    );
    assert_eq!(
        s.serve_axon(
            &v0,
            NET,
            AxonInfo {
                ip: 1 << 40,
                ..axon.clone()
            }
        ),
        Err(ChainError::InvalidIpAddress)
    );
    assert_eq!(
        s.serve_axon(
            &v0,
            NET,
            AxonInfo {
                port: 0,
                ..axon.clone()
            }
        ),
        Err(ChainError::InvalidPort)
    );
    s.step_block();
    s.serve_axon(&v0, NET, axon.clone()).unwrap();
    assert_eq!(
        s.serve_axon(&v0, NET, axon.clone()),
        Err(ChainError::ServingRateLimitExceeded)
    );
    s.set_hyperparam(NET, "allow_loopback_axons", HyperparamValue::Bool(false))
        .unwrap();
    assert_eq!(
        s.serve_axon(
            &v0,
            NET,
            AxonInfo {
                ip: 0x7f00_0001,
                ..axon
            }
        ),
        Err(ChainError::InvalidIpAddress)
    );
    let served = s.metagraph(NET).unwrap().neurons[0].axon.clone().unwrap();
    assert_eq!(served.ipv4(), Some(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(served.block, 1);
}

#[test]
fn epochs_run_on_schedule_and_pay_emission() {
    let mut s = chain(4);
    s.set_hyperparam(NET, "emission_per_block", HyperparamValue::U64(1_000))
        .unwrap();
    s.set_hyperparam(NET, "owner_cut", HyperparamValue::U16(0))
        .unwrap();
    let total_before: u64 = s.subnets[&NET].stake.values().sum();
    let mut epochs = Vec::new();
    for _ in 0..30 {
        if !s.step_block().is_empty() {
            epochs.push(s.block);
        }
    }
    // (block + netuid + 1) % (tempo + 1) == 0 with tempo 10, netuid 1.
    assert_eq!(epochs, vec![9, 20]);
    let m = s.metagraph(NET).unwrap();
    assert!(
        m.neurons.iter().all(|n| n.validator_permit),
        "top-k permits after the first epoch"
    );
    let total_after: u64 = s.subnets[&NET].stake.values().sum();
    let paid = total_after - total_before;
    // Emission of 20 blocks is paid (the fallback pays stake-proportionally), minus rounding.
    assert!((20_000 - 8..=20_000).contains(&paid), "paid {paid}");
}

#[test]
fn hyperparams_by_name_and_type_errors() {
    let mut s = chain(0);
    let hp = s.hyperparams(NET).unwrap();
    assert_eq!(hp.u64("tempo"), Ok(10));
    assert_eq!(hp.flag("commit_reveal_weights_enabled"), Ok(false));
    assert_eq!(
        s.set_hyperparam(NET, "tempo", HyperparamValue::Bool(true)),
        Err(ChainError::InvalidHyperparam("tempo".into()))
    );
    assert_eq!(
        s.set_hyperparam(NET, "nope", HyperparamValue::U16(1)),
        Err(ChainError::MissingHyperparam("nope".into()))
    );
    assert_eq!(
        s.set_hyperparam(7, "tempo", HyperparamValue::U16(1)),
        Err(ChainError::SubnetNotExists(7))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random weight vectors either fail with a typed error and leave the state untouched, or are
    /// stored max-upscaled.
    #[test]
    fn set_weights_is_total(uids in proptest::collection::vec(0u16..8, 0..8),
                            weights in proptest::collection::vec(any::<u16>(), 0..8)) {
        let mut s = chain(5);
        permit(&mut s, 0);
        let before = s.clone();
        match s.set_weights(&sw("v0", &uids, &weights)) {
            Ok(()) => {
                let row = &s.subnets[&NET].neurons[0].weights;
                prop_assert_eq!(row.len(), uids.len());
                if weights.iter().any(|w| *w > 0) {
                    prop_assert!(row.iter().any(|(_, w)| *w == 65535));
                }
            }
            Err(_) => prop_assert_eq!(s, before),
        }
    }
}

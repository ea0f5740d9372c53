//! Subtensor's epoch test vectors (pallets/subtensor/src/tests/epoch.rs @14bc6f9f), replayed on a
//! minimal chain simulation: `set_weights` stores max-upscaled rows and sets `LastUpdate`, an epoch
//! writes back permits and bonds. Exact where subtensor asserts exact values, 1e-3 for Yuma3.

use proptest::prelude::*;

use super::*;

/// The mock runtime's defaults (tests/mock.rs): kappa 0.5, bma 900_000, penalty 1.0, threshold 0.
fn base(n: usize, tempo: u64, block: u64) -> EpochInput {
    EpochInput {
        block,
        tempo,
        activity_cutoff: 5000,
        kappa: 32_767,
        bonds_penalty: 65_535,
        bonds_moving_average: 900_000,
        yuma3: false,
        liquid_alpha: false,
        alpha_low: 45_875,
        alpha_high: 58_982,
        alpha_sigmoid_steepness: 1000,
        max_allowed_validators: 128,
        stake_threshold: 0,
        owner_uid: None,
        rao_emission: 1_000_000_000,
        last_tempo: 0,
        commit_reveal: false,
        neurons: (0..n)
            .map(|_| EpochNeuron {
                stake: 0,
                last_update: block,
                block_at_registration: block,
                validator_permit: false,
                weights: vec![],
                bonds: vec![],
                commit_block: None,
            })
            .collect(),
    }
}

struct Sim(EpochInput);

impl Sim {
    fn set_weights(&mut self, uid: usize, uids: &[u16], values: &[u16]) {
        let up = vec_u16_max_upscale_to_u16(values);
        let block = self.0.block;
        let n = &mut self.0.neurons[uid];
        n.weights = uids.iter().copied().zip(up).collect();
        n.last_update = block;
    }

    fn next_block(&mut self) {
        self.0.block += 1;
    }

    /// `SubtensorModule::epoch` called by hand: `LastMechansimStepBlock` stays 0, so
    /// `last_tempo = block - tempo`.
    fn epoch(&mut self) -> EpochOutput {
        self.0.last_tempo = self.0.block.saturating_sub(self.0.tempo);
        let out = run_epoch(&self.0).expect("valid snapshot");
        for (i, n) in self.0.neurons.iter_mut().enumerate() {
            n.validator_permit = out.validator_permit[i];
            n.bonds = out.bonds[i].clone();
        }
        out
    }

    fn bond(&self, i: usize, j: u16) -> u16 {
        self.0.neurons[i]
            .bonds
            .iter()
            .find(|(k, _)| *k == j)
            .map_or(0, |(_, v)| *v)
    }
}

#[test]
fn test_10_graph() {
    let mut sim = Sim(base(10, u64::from(u16::MAX - 1), 0));
    for n in &mut sim.0.neurons {
        n.stake = 1;
    }
    sim.next_block();
    for i in 0..10u16 {
        sim.set_weights(i as usize, &[i], &[u16::MAX]);
    }
    let out = sim.epoch();
    for i in 0..10 {
        assert_eq!(out.consensus[i], 0);
        assert_eq!(out.incentive[i], 0);
        assert_eq!(out.dividends[i], 0);
        assert_eq!(out.emission[i], 99_999_999);
    }
}

#[test]
fn test_active_stake() {
    let mut sim = Sim(base(4, 1, 0));
    sim.0.max_allowed_validators = 4;
    for n in &mut sim.0.neurons {
        n.stake = 1;
    }
    sim.epoch(); // Sets validator permits.
    sim.next_block();
    for uid in 0..2 {
        sim.set_weights(uid, &[2, 3], &[u16::MAX / 2; 2]);
    }
    let out = sim.epoch();
    for uid in 0..4 {
        if uid < 2 {
            assert_eq!(out.dividends[uid], 32767);
        }
        assert_eq!(out.emission[uid], 250_000_000);
    }
    for i in 0..2 {
        assert_eq!(sim.bond(i, 0), 0);
        assert_eq!(sim.bond(i, 2), 65535);
        assert_eq!(sim.bond(i, 3), 65535);
    }

    sim.0.block = 5002;
    sim.set_weights(0, &[2, 3], &[u16::MAX / 2; 2]);
    let out = sim.epoch();
    assert_eq!(out.dividends[0], 36044);
    assert_eq!(out.emission[0], 274_999_999);
    assert_eq!(out.dividends[1], 29490);
    assert_eq!(out.emission[1], 224_999_999);
    for s in 2..4 {
        assert_eq!(sim.bond(0, s), 65535);
        assert_eq!(sim.bond(1, s), 53619);
    }

    sim.set_weights(1, &[2, 3], &[u16::MAX / 2; 2]);
    sim.0.block = 5003;
    let out = sim.epoch();
    assert_eq!(out.dividends[0], 35716);
    assert_eq!(out.emission[0], 272_501_132);
    assert_eq!(out.dividends[1], 29818);
    assert_eq!(out.emission[1], 227_498_866);
    for s in 2..4 {
        assert_eq!(sim.bond(0, s), 65535);
        assert_eq!(sim.bond(1, s), 54712);
    }
}

/// `setup_yuma_3_scenario`: registered at block 1, first epoch at block 2 sets permits.
fn yuma3_scenario(stakes: &[u64], liquid_alpha: bool) -> Sim {
    let mut input = base(5, 1, 1);
    input.yuma3 = true;
    input.liquid_alpha = liquid_alpha;
    input.bonds_penalty = 0;
    input.bonds_moving_average = 975_000;
    input.alpha_sigmoid_steepness = 1000;
    input.max_allowed_validators = 3;
    // set_alpha_values_32(0.1, 0.3) stores floor(x × 65535).
    input.alpha_low = fixed_proportion_to_u16(I32F32::from_num(0.1));
    input.alpha_high = fixed_proportion_to_u16(I32F32::from_num(0.3));
    assert_eq!((input.alpha_low, input.alpha_high), (6553, 19660));
    for (n, s) in input.neurons.iter_mut().zip(stakes) {
        n.stake = *s;
    }
    let mut sim = Sim(input);
    sim.next_block();
    sim.epoch();
    sim
}

const A: [u16; 2] = [u16::MAX, 0];
const B: [u16; 2] = [0, u16::MAX];

fn run_yuma3(sim: &mut Sim, plan: &[Option<[[u16; 2]; 3]>], targets: &[[f64; 3]]) {
    for (epoch, (weights, target)) in plan.iter().zip(targets).enumerate() {
        if let Some(w) = weights {
            for (uid, row) in w.iter().enumerate() {
                sim.set_weights(uid, &[3, 4], row);
            }
        }
        sim.next_block();
        let out = sim.epoch();
        for (uid, t) in target.iter().enumerate() {
            let got = f64::from(out.dividends[uid]) / 65535.0;
            assert!(
                (got - t).abs() <= 1e-3,
                "epoch {epoch} uid {uid}: dividend {got} vs {t}"
            );
        }
        assert_eq!(out.dividends[3], 0);
        assert_eq!(out.dividends[4], 0);
    }
}

#[test]
fn test_yuma_3_kappa_moves_first() {
    let mut sim = yuma3_scenario(&[8, 1, 1, 0, 0], true);
    let plan = [
        Some([A, A, A]),
        Some([B, A, A]),
        Some([B, B, A]),
        Some([B, B, B]),
        None,
        None,
    ];
    let targets = [
        [0.8, 0.1, 0.1],
        [1.0, 0.0, 0.0],
        [0.9382, 0.0618, 0.0],
        [0.8819, 0.0773, 0.0407],
        [0.8564, 0.0844, 0.0592],
        [0.8418, 0.0884, 0.0697],
    ];
    run_yuma3(&mut sim, &plan, &targets);
}

#[test]
fn test_yuma_3_kappa_moves_second() {
    let mut sim = yuma3_scenario(&[8, 1, 1, 0, 0], true);
    let plan = [
        Some([A, A, A]),
        Some([A, B, A]),
        Some([B, B, A]),
        Some([B, B, B]),
        None,
        None,
    ];
    let targets = [
        [0.8, 0.1, 0.1],
        [0.8446, 0.0498, 0.1056],
        [0.6868, 0.3132, 0.0],
        [0.7421, 0.2090, 0.0489],
        [0.7625, 0.1706, 0.0669],
        [0.7730, 0.1508, 0.0762],
    ];
    run_yuma3(&mut sim, &plan, &targets);
}

#[test]
fn test_yuma_3_kappa_moves_last() {
    let mut sim = yuma3_scenario(&[8, 1, 1, 0, 0], true);
    let plan = [
        Some([A, A, A]),
        Some([A, B, A]),
        Some([A, B, B]),
        Some([B, B, B]),
        None,
        None,
    ];
    let targets = [
        [0.8, 0.1, 0.1],
        [0.8446, 0.0498, 0.1056],
        [0.8966, 0.0333, 0.0701],
        [0.4663, 0.3210, 0.2127],
        [0.5976, 0.2340, 0.1683],
        [0.6592, 0.1932, 0.1475],
    ];
    run_yuma3(&mut sim, &plan, &targets);
}

#[test]
fn test_yuma_3_liquid_alpha_disabled() {
    let mut sim = yuma3_scenario(&[33, 33, 34, 0, 0], false);
    let plan = [
        Some([A, A, A]),
        Some([A, A, A]),
        Some([A, A, B]),
        Some([A, A, A]),
        Some([A, A, A]),
        Some([A, A, A]),
    ];
    let targets = [
        [0.33, 0.33, 0.34],
        [0.33, 0.33, 0.34],
        [0.3734, 0.3734, 0.2532],
        [0.3611, 0.3611, 0.2779],
        [0.3541, 0.3541, 0.2919],
        [0.3495, 0.3495, 0.3009],
    ];
    run_yuma3(&mut sim, &plan, &targets);
}

#[test]
fn rejects_bad_snapshots() {
    let mut input = base(2, 1, 1);
    input.owner_uid = Some(2);
    assert_eq!(
        run_epoch(&input),
        Err(EpochError::OwnerOutOfRange { owner: 2, n: 2 })
    );
    let mut input = base(2, 1, 1);
    input.neurons[0].stake = u64::MAX;
    input.neurons[1].stake = u64::MAX;
    assert_eq!(run_epoch(&input), Err(EpochError::StakeOverflow));
    assert!(matches!(
        EpochInput::from_json("{\"block\": NaN}"),
        Err(EpochError::Parse(_))
    ));
    let mut json = serde_json::to_value(base(1, 1, 1)).unwrap();
    json["kappa"] = serde_json::json!(-1);
    assert!(matches!(
        EpochInput::from_json(&json.to_string()),
        Err(EpochError::Parse(_))
    ));
}

#[test]
fn json_roundtrip_of_example_file() {
    let input = EpochInput::from_json(include_str!(
        "../../../../docs/examples/yuma-epoch-input.json"
    ))
    .unwrap();
    let out = run_epoch(&input).unwrap();
    assert_eq!(out.emission.len(), input.neurons.len());
    assert!(out.emission.iter().sum::<u64>() <= input.rao_emission);
}

fn arb_input() -> impl Strategy<Value = EpochInput> {
    (
        1usize..24,
        any::<bool>(),
        any::<bool>(),
        any::<u16>(),
        any::<u16>(),
        0u64..=1_000_000,
    )
        .prop_flat_map(|(n, yuma3, liquid, kappa, penalty, bma)| {
            let neuron = (
                0u64..1_000_000_000_000,
                0u64..40,
                0u64..40,
                any::<bool>(),
                proptest::collection::vec((0u16..(n as u16 + 2), any::<u16>()), 0..n + 2),
                proptest::collection::vec((0u16..(n as u16 + 2), any::<u16>()), 0..n + 2),
            )
                .prop_map(
                    |(stake, last_update, reg, permit, weights, bonds)| EpochNeuron {
                        stake,
                        last_update,
                        block_at_registration: reg,
                        validator_permit: permit,
                        weights,
                        bonds,
                        commit_block: None,
                    },
                );
            (
                proptest::collection::vec(neuron, n),
                0u64..40,
                1u16..8,
                any::<u64>(),
                any::<i16>(),
            )
                .prop_map(move |(neurons, block, k, rao, steep)| {
                    let mut input = base(0, 1, block);
                    input.neurons = neurons;
                    input.yuma3 = yuma3;
                    input.liquid_alpha = liquid;
                    input.kappa = kappa;
                    input.bonds_penalty = penalty;
                    input.bonds_moving_average = bma;
                    input.max_allowed_validators = k;
                    input.rao_emission = rao;
                    input.alpha_sigmoid_steepness = steep;
                    input.activity_cutoff = 10;
                    input.last_tempo = block.saturating_sub(1);
                    input
                })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn epoch_is_total_and_bounded(input in arb_input()) {
        let out = run_epoch(&input).unwrap();
        let n = input.neurons.len();
        prop_assert_eq!(out.emission.len(), n);
        let rao = u128::from(input.rao_emission);
        let total = |v: &[u64]| v.iter().map(|x| u128::from(*x)).sum::<u128>();
        prop_assert!(total(&out.emission) <= rao);
        prop_assert!(total(&out.server_emission) + total(&out.validator_emission) <= rao);
        // Fixed-point rounding can push a normalised vector a few ulps over 1.
        let sum16 = |v: &[u16]| v.iter().map(|x| u64::from(*x)).sum::<u64>();
        prop_assert!(sum16(&out.dividends) <= 65535 + n as u64);
        prop_assert!(sum16(&out.incentive) <= 65535 + n as u64);
    }
}

/// Commit-reveal column masking (subtensor PR #1862, `test_epoch_masks_incoming_to_sniped_uid_…`):
/// weights from a validator whose active commit predates a UID's registration do not reach the new
/// occupant of that UID.
#[test]
fn commit_reveal_masks_weights_to_sniped_uid() {
    let mut input = base(4, 10, 20);
    input.max_allowed_validators = 4;
    for (i, n) in input.neurons.iter_mut().enumerate() {
        n.stake = if i == 0 { 1000 } else { 1 };
        n.validator_permit = i == 0;
        n.block_at_registration = if i == 2 { 12 } else { 0 };
    }
    input.neurons[0].weights = vec![(2, 65535), (3, 65535)];
    input.neurons[0].last_update = 15;
    input.neurons[0].commit_block = Some(10);
    let unmasked = run_epoch(&input).unwrap();
    assert!(
        unmasked.incentive[2] > 0,
        "without commit-reveal the weight counts"
    );
    input.commit_reveal = true;
    let masked = run_epoch(&input).unwrap();
    assert_eq!(masked.incentive[2], 0);
    assert_eq!(masked.incentive[3], 65535);
    // A commit made after the registration does not mask.
    input.neurons[0].commit_block = Some(13);
    assert_eq!(run_epoch(&input).unwrap().incentive, unmasked.incentive);
}

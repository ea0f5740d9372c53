use super::*;
use dojo_types::chain::cr_epoch;
use proptest::prelude::*;

fn params(tempo: u16, rate_limit: u64, cr: bool, period: u64, netuid: u16) -> WeightParams {
    WeightParams {
        netuid,
        tempo,
        rate_limit,
        required_version: 0,
        min_allowed_weights: 1,
        max_weights_limit: 65535,
        commit_reveal: cr,
        reveal_period: period,
    }
}

const ME: Me = Me {
    uid: Some(0),
    permit: true,
    last_update: 0,
};

proptest! {
    // Never a submission inside the rate limit; a wait always names a later block, which is the
    // first block the chain's `now - last >= limit` check accepts.
    #[test]
    fn never_submits_inside_the_rate_limit(
        tempo in 0u16..400, rate in 0u64..500, cr: bool, last in 1u64..10_000,
        offset in prop_oneof![-3i64..3, -20_000i64..20_000],
    ) {
        // Blocks right at the limit are where an off-by-one would hide.
        let block = u64::try_from((last + rate) as i64 + offset).unwrap_or(0);
        let p = params(tempo, rate, cr, 1, 3);
        let me = Me { last_update: last, ..ME };
        let chain_accepts = block.saturating_sub(last) >= rate && block >= last;
        match decide(&p, &me, 0, block, None) {
            Decision::Set | Decision::Commit => prop_assert!(chain_accepts),
            Decision::WaitUntil(b) => {
                prop_assert!(b > block);
                prop_assert!(!chain_accepts);
                prop_assert_eq!(b, last + rate);
            }
            d => prop_assert!(false, "unexpected {:?}", d),
        }
    }

    // Reveal exactly when the chain's rule holds: current epoch == commit epoch + period.
    #[test]
    fn reveals_exactly_in_the_reveal_epoch(
        tempo in 0u16..200, period in 1u64..4, netuid in 0u16..20, commit in 0u64..5_000,
        offset in prop_oneof![0u64..3, 0u64..2_000],
        at_start: bool,
    ) {
        // Blocks next to the window's edges, where an off-by-one would hide.
        let (first, last) = reveal_window(netuid, tempo, commit, period);
        let block = if at_start { first.saturating_sub(1) + offset } else { last.saturating_sub(1) + offset };
        let p = params(tempo, 0, true, period, netuid);
        let want = cr_epoch(netuid, tempo, commit) + period;
        let now = cr_epoch(netuid, tempo, block);
        let d = decide(&p, &ME, 0, block, Some(commit));
        if now == want {
            prop_assert_eq!(d, Decision::Reveal);
        } else if now < want {
            let Decision::WaitUntil(b) = d else { return Err(TestCaseError::fail(format!("{d:?}"))) };
            prop_assert_eq!(cr_epoch(netuid, tempo, b), want);
            prop_assert_eq!(cr_epoch(netuid, tempo, b - 1), want - 1);
        } else {
            prop_assert_eq!(d, Decision::Expired);
        }
    }

    // The weights sent always pass the chain's length and duplicate checks.
    #[test]
    fn weights_pass_chain_checks(scores in prop::collection::vec(0.0f64..10.0, 1..64), min_allowed in 0u16..8) {
        let mut p = params(10, 0, false, 1, 1);
        p.min_allowed_weights = min_allowed;
        let (uids, w) = weights_for(&scores, &p).unwrap();
        prop_assert_eq!(uids.len(), w.len());
        prop_assert!(uids.windows(2).all(|x| x[0] < x[1]));
        prop_assert!(uids.iter().all(|u| usize::from(*u) < scores.len()));
        prop_assert!(uids.len() >= usize::from(min_allowed).min(scores.len()));
    }
}

#[test]
fn permits_versions_and_registration() {
    let p = params(10, 5, false, 1, 1);
    let none = Me {
        uid: None,
        permit: false,
        last_update: 0,
    };
    assert_eq!(decide(&p, &none, 0, 100, None), Decision::NotRegistered);
    let no_permit = Me {
        permit: false,
        ..ME
    };
    assert_eq!(decide(&p, &no_permit, 0, 100, None), Decision::NoPermit);
    let versioned = WeightParams {
        required_version: 7,
        ..p
    };
    assert_eq!(
        decide(&versioned, &ME, 6, 100, None),
        Decision::VersionTooOld {
            ours: 6,
            required: 7
        }
    );
    assert_eq!(decide(&versioned, &ME, 7, 100, None), Decision::Set);
    // Commit-reveal switched off while a commit is pending: the commit is dead.
    assert_eq!(decide(&p, &ME, 0, 100, Some(90)), Decision::Expired);
}

#[test]
fn all_zero_scores_give_uniform_weights() {
    let p = params(10, 0, false, 1, 1);
    let (uids, w) = weights_for(&[0.0, 0.0, 0.0], &p).unwrap();
    assert_eq!(uids, [0, 1, 2]);
    assert_eq!(w, [65535, 65535, 65535]);
}

use std::collections::BTreeMap;

use dojo_scoring::{Mechanism, Task, VoteKind, Votes};
use dojo_types::{CompletionId, Hotkey, TaskId};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

fn h(s: &str) -> Hotkey {
    Hotkey::new(s).unwrap()
}

fn c(s: &str) -> CompletionId {
    CompletionId::new(s).unwrap()
}

fn miners(n: usize) -> Vec<Hotkey> {
    (0..n).map(|i| h(&format!("m{i}"))).collect()
}

#[test]
fn every_miner_generates_exactly_once_and_never_the_validator() {
    let val = h("val");
    let mut all = miners(11);
    all.push(val.clone());
    for seed in 0..200 {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = plan(&all, &val, DUEL_PERCENT, TRAP_PERCENT, &mut rng);
        let mut seen: Vec<Hotkey> = p.iter().flat_map(|t| t.generators.clone()).collect();
        seen.sort();
        let mut want = miners(11);
        want.sort();
        assert_eq!(seen, want, "seed {seed}");
        for t in &p {
            assert_eq!(t.generators.len(), if t.duel { 1 } else { 2 });
            match t.kind {
                VoteKind::Pvp => assert!(!t.duel && t.negative_generator.is_none()),
                VoteKind::Pvv => assert!(t.duel && t.negative_generator.is_none()),
                VoteKind::Trap if t.duel => assert_eq!(t.negative_generator, Some(val.clone())),
                VoteKind::Trap => {
                    assert!(
                        t.generators
                            .contains(t.negative_generator.as_ref().unwrap())
                    )
                }
            }
        }
    }
}

#[test]
fn draws_follow_the_percentages() {
    let val = h("val");
    let mut rng = StdRng::seed_from_u64(7);
    let (mut tasks, mut duels, mut traps) = (0usize, 0usize, 0usize);
    for _ in 0..400 {
        // Two miners: the first draw decides, and a non-duel leaves nobody to force a duel.
        for t in plan(&miners(2), &val, 20, 20, &mut rng) {
            tasks += 1;
            duels += usize::from(t.duel);
            traps += usize::from(t.kind == VoteKind::Trap);
        }
    }
    let first = 400.0;
    // A non-duel first task is the only task; a duel first task forces a second duel.
    let duel_share = (duels as f64 - (tasks as f64 - first)) / first;
    assert!(
        (0.12..0.28).contains(&duel_share),
        "duel share {duel_share}"
    );
    let trap_share = traps as f64 / tasks as f64;
    assert!(
        (0.12..0.28).contains(&trap_share),
        "trap share {trap_share}"
    );
    let never = plan(&miners(6), &val, 0, 0, &mut rng);
    assert!(never.iter().all(|t| t.kind == VoteKind::Pvp && !t.duel));
    let always = plan(&miners(3), &val, 100, 100, &mut rng);
    assert!(always.iter().all(|t| t.kind == VoteKind::Trap && t.duel));
}

#[test]
fn a_lone_miner_duels_the_validator() {
    let p = plan(&miners(1), &h("val"), 0, 0, &mut StdRng::seed_from_u64(1));
    assert_eq!(p.len(), 1);
    assert!(p[0].duel);
    assert_eq!(p[0].kind, VoteKind::Pvv);
}

fn score(t: dojo_scoring::VoteTask) -> BTreeMap<String, f64> {
    let mut task = Task::new(TaskId::new("t").unwrap(), vec![]);
    task.votes = Some(t);
    Votes::default()
        .score_task(&task)
        .unwrap()
        .to_map()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

#[test]
fn a_duel_trap_penalises_voters_of_the_degraded_answer() {
    let val = h("val");
    let p = Pairing {
        kind: VoteKind::Trap,
        generators: vec![h("g")],
        duel: true,
        negative_generator: Some(val.clone()),
    };
    let delivered = BTreeMap::from([(h("g"), c("x"))]);
    let votes = BTreeMap::from([(h("a"), c("x")), (h("b"), c("bad"))]);
    let t = to_vote_task(
        &p,
        &val,
        &delivered,
        Some(&c("bad")),
        &votes,
        &[h("a"), h("b"), h("silent")],
    )
    .unwrap();
    let s = score(t);
    assert_eq!(s["a"], 0.0);
    assert_eq!(s["b"], -0.4);
    assert_eq!(s["g"], 0.0);
    assert_eq!(s["silent"], -4.0);
}

#[test]
fn pvv_pays_voters_of_the_reference_and_the_generator_its_votes() {
    let val = h("val");
    let p = Pairing {
        kind: VoteKind::Pvv,
        generators: vec![h("g")],
        duel: true,
        negative_generator: None,
    };
    let delivered = BTreeMap::from([(h("g"), c("x"))]);
    // "ghost" is not a candidate: that vote is dropped, so "c" counts as a non-voter.
    let votes = BTreeMap::from([(h("a"), c("ref")), (h("b"), c("x")), (h("c"), c("ghost"))]);
    let t = to_vote_task(
        &p,
        &val,
        &delivered,
        Some(&c("ref")),
        &votes,
        &[h("a"), h("b"), h("c")],
    )
    .unwrap();
    assert_eq!(t.validator_completion, Some(c("ref")));
    assert!(!t.generators.contains_key(&val));
    let s = score(t);
    assert_eq!(s["a"], 0.5);
    assert_eq!(s["b"], 0.0);
    assert_eq!(s["g"], 0.5);
    assert_eq!(s["c"], -4.0);
}

#[test]
fn a_generator_that_delivered_nothing_voids_the_task() {
    let p = Pairing {
        kind: VoteKind::Pvp,
        generators: vec![h("g1"), h("g2")],
        duel: false,
        negative_generator: None,
    };
    let delivered = BTreeMap::from([(h("g1"), c("x"))]);
    assert_eq!(
        candidates(&p, &delivered, None),
        Err(VoidTask::TooFewCompletions(1))
    );
    let both = BTreeMap::from([(h("g1"), c("x")), (h("g2"), c("y"))]);
    // A PvP task never shows the validator's completion, even if one is passed.
    assert_eq!(
        candidates(&p, &both, Some(&c("ref"))).unwrap(),
        vec![c("x"), c("y")]
    );
}

//! Each population's answer, through `Simulator::decide` with a real ground-truth file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dojo_worksim::api::Task;
use dojo_worksim::population::{Canonical, to_submission};
use dojo_worksim::sim::{Decision, Source};
use dojo_worksim::{Config, Population, Simulator};

use crate::fixtures::*;

/// Ranks of five completions: completion i has true rank TRUTH[i].
const TRUTH: [u32; 5] = [2, 0, 4, 1, 3];
/// The order one miner is shown them in, and another's.
const ORDER_A: [usize; 5] = [3, 0, 4, 2, 1];
const ORDER_B: [usize; 5] = [1, 4, 2, 0, 3];

fn sim(
    population: Population,
    gt: PathBuf,
    share: Option<PathBuf>,
    noise: f64,
    seed: u64,
) -> Simulator {
    let mut c = Config::new("http://127.0.0.1:9", "sk-unused", population, gt);
    c.noise = noise;
    c.seed = seed;
    c.share_dir = share;
    Simulator::new(c).unwrap()
}

/// Per content index: (score, rank) the submission gives.
fn by_content(
    task: &Task,
    answer: &dojo_worksim::population::CanonicalAnswer,
) -> BTreeMap<usize, (f64, u32)> {
    let inputs = to_submission(task, &Canonical::of(task), answer).unwrap();
    let mut out: BTreeMap<usize, (f64, u32)> = BTreeMap::new();
    for a in inputs {
        let c = task
            .completions
            .iter()
            .find(|c| c.id == a.completion_id)
            .unwrap();
        let i = (0..TRUTH.len()).find(|&i| content(i) == c.content).unwrap();
        let e = out.entry(i).or_insert((f64::NAN, u32::MAX));
        if let Some(s) = a.score {
            e.0 = s;
        }
        if let Some(r) = a.rank {
            e.1 = r;
        }
    }
    assert_eq!(out.len(), TRUTH.len());
    out
}

fn submit(d: Decision) -> (dojo_worksim::population::CanonicalAnswer, Source) {
    match d {
        Decision::Submit(a, s) => (a, s),
        Decision::Wait => panic!("expected an answer, got Wait"),
    }
}

#[test]
fn honest_with_noise_zero_reproduces_the_ground_truth_order() {
    let dir = tempfile::tempdir().unwrap();
    append(&gt_path(&dir), &truth_line("qa-1", &TRUTH));
    let s = sim(Population::Honest, gt_path(&dir), None, 0.0, 1);
    let t = task("mt-1", "c", &ORDER_A, far_future());
    let (a, src) = submit(s.decide(&t, 0, now_ms()));
    assert_eq!(src, Source::Own);
    let got = by_content(&t, &a);
    for (i, &(score, rank)) in &got {
        assert_eq!(rank, TRUTH[*i], "completion {i}");
        // q = 1 - rank/(C-1) on 1..100, rounded to the slider's whole numbers.
        let want = (1.0 + (1.0 - f64::from(TRUTH[*i]) / 4.0) * 99.0).round();
        assert_eq!(score, want, "completion {i}");
    }
}

#[test]
fn reverse_gives_the_reverse_order() {
    let dir = tempfile::tempdir().unwrap();
    append(&gt_path(&dir), &truth_line("qa-1", &TRUTH));
    let s = sim(Population::Reverse, gt_path(&dir), None, 0.0, 1);
    let t = task("mt-1", "c", &ORDER_B, far_future());
    let got = by_content(&t, &submit(s.decide(&t, 0, now_ms())).0);
    for (i, &(_, rank)) in &got {
        assert_eq!(rank, 4 - TRUTH[*i], "completion {i}");
    }
}

#[test]
fn lazy_and_its_alias_constant_answer_the_page_default_everywhere() {
    assert_eq!("constant".parse::<Population>().unwrap(), Population::Lazy);
    assert_eq!(
        "random-baseline".parse::<Population>().unwrap(),
        Population::Random
    );
    assert!("diligent".parse::<Population>().is_err());
    let dir = tempfile::tempdir().unwrap();
    let s = sim(Population::Lazy, gt_path(&dir), None, 0.5, 1);
    let t = task("mt-1", "c", &ORDER_A, far_future());
    let (a, src) = submit(s.decide(&t, 0, now_ms()));
    assert_eq!(src, Source::Own);
    let inputs = to_submission(&t, &Canonical::of(&t), &a).unwrap();
    for x in &inputs {
        if let Some(score) = x.score {
            assert_eq!(score, 51.0, "the slider starts at the rounded midpoint");
        }
        if let Some(rank) = x.rank {
            // The page preselects rank k for the k-th response shown.
            let k: u32 = x.completion_id.strip_prefix("c-").unwrap().parse().unwrap();
            assert_eq!(rank, k);
        }
    }
}

#[test]
fn random_scores_differ_between_workers_and_stay_in_range() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(Population::Random, gt_path(&dir), None, 0.0, 1);
    let t = task("mt-1", "c", &ORDER_A, far_future());
    let a0 = by_content(&t, &submit(s.decide(&t, 0, now_ms())).0);
    let a1 = by_content(&t, &submit(s.decide(&t, 1, now_ms())).0);
    assert_ne!(a0, a1);
    assert!(a0.values().all(|(s, _)| (1.0..=100.0).contains(s)));
}

#[test]
fn sybils_with_one_seed_agree_across_instances_ids_and_orders() {
    let dir = tempfile::tempdir().unwrap();
    append(&gt_path(&dir), &truth_line("qa-1", &TRUTH));
    let one = sim(Population::Sybil, gt_path(&dir), None, 0.3, 42);
    let two = sim(Population::Sybil, gt_path(&dir), None, 0.3, 42);
    let other = sim(Population::Sybil, gt_path(&dir), None, 0.3, 43);
    let ta = task("mt-a", "a", &ORDER_A, far_future());
    let tb = task("mt-b", "b", &ORDER_B, far_future());
    let a = by_content(&ta, &submit(one.decide(&ta, 0, now_ms())).0);
    let b = by_content(&tb, &submit(two.decide(&tb, 3, now_ms())).0);
    assert_eq!(a, b, "same seed and content: the same answer");
    let c = by_content(&tb, &submit(other.decide(&tb, 0, now_ms())).0);
    assert_ne!(a, c, "another seed: other noise");
    // Honest workers of one process draw their own noise.
    let h = sim(Population::Honest, gt_path(&dir), None, 0.3, 42);
    let h0 = by_content(&ta, &submit(h.decide(&ta, 0, now_ms())).0);
    let h1 = by_content(&ta, &submit(h.decide(&ta, 1, now_ms())).0);
    assert_ne!(h0, h1);
}

#[test]
fn copycat_copies_a_published_answer_onto_its_own_ids_else_waits_then_answers_lazily() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    append(&gt_path(&dir), &truth_line("qa-1", &TRUTH));
    let copycat = sim(
        Population::Copycat,
        gt_path(&dir),
        Some(share.clone()),
        0.0,
        7,
    );
    let tb = task("mt-b", "b", &ORDER_B, far_future());
    assert_eq!(copycat.decide(&tb, 0, now_ms()), Decision::Wait);

    let honest = sim(
        Population::Honest,
        gt_path(&dir),
        Some(share.clone()),
        0.4,
        9,
    );
    let ta = task("mt-a", "a", &ORDER_A, far_future());
    let (published, _) = submit(honest.decide(&ta, 0, now_ms()));
    dojo_worksim::share::ShareDir::new(&share)
        .publish("honest", &published)
        .unwrap();
    let (copied, src) = submit(copycat.decide(&tb, 0, now_ms()));
    assert_eq!(src, Source::Copied);
    assert_eq!(by_content(&tb, &copied), by_content(&ta, &published));

    // Another task content: nothing published; near the deadline, the page default.
    let mut other = task("mt-c", "c", &ORDER_B, now_ms() + 500);
    other.prompt.push_str(" and a hat");
    let (lazy, src) = submit(copycat.decide(&other, 0, now_ms()));
    assert_eq!(src, Source::LazyFallback);
    assert!(by_content(&other, &lazy).values().all(|(s, _)| *s == 51.0));
}

#[test]
fn honest_waits_for_ground_truth_appended_later_and_falls_back_near_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(Population::Honest, gt_path(&dir), None, 0.0, 1);
    let t = task("mt-1", "c", &ORDER_A, far_future());
    assert_eq!(s.decide(&t, 0, now_ms()), Decision::Wait, "no log file yet");
    append(&gt_path(&dir), &truth_line("qa-0", &[0, 1]));
    assert_eq!(
        s.decide(&t, 0, now_ms()),
        Decision::Wait,
        "a record without these completions"
    );
    let soon = task("mt-2", "c", &ORDER_A, now_ms() + 500);
    assert_eq!(submit(s.decide(&soon, 0, now_ms())).1, Source::LazyFallback);
    append(&gt_path(&dir), &truth_line("qa-1", &TRUTH));
    let (a, src) = submit(s.decide(&t, 0, now_ms()));
    assert_eq!(src, Source::Own);
    let got = by_content(&t, &a);
    assert!(got.iter().all(|(i, (_, r))| *r == TRUTH[*i]));
}

/// Dojo v2 pages: which of four known pages (best first) each population delivers.
#[test]
fn writers_deliver_the_page_their_population_prefers() {
    use dojo_worksim::population::{answer_rng, page_choice};
    let pick = |p: Population, augmented: bool, seed: u64| {
        page_choice(p, 4, augmented, 0.05, &mut answer_rng(seed, "t", "w"))
    };
    for seed in 0..20 {
        assert_eq!(pick(Population::Honest, false, seed), Some(0));
        assert_eq!(pick(Population::Reverse, false, seed), Some(3));
        // A trap's augmented prompt, followed as written, gives the degraded page.
        assert_eq!(pick(Population::Honest, true, seed), Some(3));
        assert_eq!(pick(Population::Sybil, true, seed), Some(3));
        assert_eq!(pick(Population::Lazy, false, seed), None);
        assert_eq!(pick(Population::Copycat, false, seed), None);
    }
    let random: std::collections::BTreeSet<_> = (0..40)
        .filter_map(|s| pick(Population::Random, false, s))
        .collect();
    assert!(random.len() > 2, "random writers spread: {random:?}");
    assert_eq!(
        page_choice(
            Population::Honest,
            0,
            false,
            0.0,
            &mut answer_rng(0, "t", "w")
        ),
        None
    );
}

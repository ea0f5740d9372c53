//! Fixed vectors per mechanism, worked by hand from the formulas of spec §4 (dojo-subnet.md). The
//! arithmetic is in the comments; the expected numbers come from it, not from running this crate, so
//! these catch a port and its cross-check agreeing on the same mistake.

use std::collections::{BTreeMap, BTreeSet};

use dojo_scoring::{
    Answer, ConsensusNormalisation, DojoV0, DojoV0Params, FeedbackTask, Hfl, HflParams, Mechanism,
    Response, RmConsensus, RmConsensusParams, ScoringError, Task, TaskScores, VoteKind, VoteTask,
    Votes, VotesParams,
};
use dojo_types::{CompletionId, Hotkey, Ranking, TaskId};

fn c(s: &str) -> CompletionId {
    CompletionId::new(s).unwrap()
}

fn h(s: &str) -> Hotkey {
    Hotkey::new(s).unwrap()
}

fn scores(hotkey: &str, cids: &[&str], v: &[f64]) -> Response {
    Response {
        hotkey: h(hotkey),
        answer: Answer::Scores(cids.iter().map(|s| c(s)).zip(v.iter().copied()).collect()),
    }
}

fn ranks(hotkey: &str, cids: &[&str], v: &[u32]) -> Response {
    Response {
        hotkey: h(hotkey),
        answer: Answer::Ranks(cids.iter().map(|s| c(s)).zip(v.iter().copied()).collect()),
    }
}

#[track_caller]
fn assert_scores(out: &TaskScores, want: &[(&str, f64)], tol: f64) {
    let got = out.to_map();
    let want_keys: BTreeSet<&str> = want.iter().map(|(k, _)| *k).collect();
    let got_keys: BTreeSet<&str> = got.keys().map(|k| k.as_str()).collect();
    assert_eq!(got_keys, want_keys, "scored hotkeys");
    for (k, v) in want {
        let g = got[*k];
        assert!((g - v).abs() <= tol, "{k}: got {g}, want {v}");
    }
}

// ---------------------------------------------------------------------------------------------
// rm-consensus, spec §4.1:
//   mean_c = mean over miners that scored c; ρ_i = spearman(M_i, mean); s_i = 0.5(ρ_i + 1);
//   score_i = s_i / Σ s_j  (or softmax(s) in the later variant).

fn rm_task() -> Task {
    let abc = ["a", "b", "c"];
    Task::new(
        TaskId::new("rm").unwrap(),
        vec![
            scores("h1", &abc, &[3.0, 2.0, 1.0]),
            scores("h2", &abc, &[3.0, 1.0, 2.0]),
            scores("h3", &abc, &[1.0, 2.0, 3.0]),
            // Rejected: a NaN score. It must not enter the mean either.
            scores("h4", &abc, &[f64::NAN, 100.0, 0.0]),
        ],
    )
}

#[test]
fn rm_consensus_sum_normalised() {
    // mean = [(3+3+1)/3, (2+1+2)/3, (1+2+3)/3] = [7/3, 5/3, 2] → ranks [3, 1, 2].
    // h1 ranks [3,2,1]: d = [0, 1, -1], Σd² = 2, ρ = 1 - 6·2/(3·(9-1)) = 1 - 12/24 = 0.5
    // h2 ranks [3,1,2]: d = 0, ρ = 1
    // h3 ranks [1,2,3]: d = [-2, 1, 1], Σd² = 6, ρ = 1 - 36/24 = -0.5
    // s = 0.5(ρ+1) = [0.75, 1, 0.25], Σ = 2 → [0.375, 0.5, 0.125]
    let out = RmConsensus::default().score_task(&rm_task()).unwrap();
    assert_scores(&out, &[("h1", 0.375), ("h2", 0.5), ("h3", 0.125)], 1e-12);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].0.as_str(), "h4");
}

#[test]
fn rm_consensus_softmax_multiplier_and_accuracy() {
    // Softmax of s = [0.75, 1, 0.25]: e^0.75 = 2.117000017, e^1 = 2.718281828, e^0.25 = 1.284025417,
    // Σ = 6.119307262 → [0.345954195, 0.444213979, 0.209831826].
    let soft = RmConsensus::new(RmConsensusParams {
        normalise: ConsensusNormalisation::Softmax,
        ..Default::default()
    })
    .unwrap();
    assert_scores(
        &soft.score_task(&rm_task()).unwrap(),
        &[
            ("h1", 0.345_954_194_8),
            ("h2", 0.444_213_979_2),
            ("h3", 0.209_831_826_0),
        ],
        1e-9,
    );

    // MTurk multiplier 1.2 on h3: ρ3 = -0.6, s3 = 0.2; Σ = 0.75 + 1 + 0.2 = 1.95
    // → [0.75/1.95, 1/1.95, 0.2/1.95] = [0.384615385, 0.512820513, 0.102564103].
    let boosted = RmConsensus::new(RmConsensusParams {
        rho_multiplier: [(h("h3"), 1.2)].into(),
        ..Default::default()
    })
    .unwrap();
    assert_scores(
        &boosted.score_task(&rm_task()).unwrap(),
        &[("h1", 0.75 / 1.95), ("h2", 1.0 / 1.95), ("h3", 0.2 / 1.95)],
        1e-12,
    );

    // Accuracy multiplier {h1: 0.5, h2: 1.0}, h3 unevaluated → 0:
    // [0.375·0.5, 0.5·1, 0.125·0] = [0.1875, 0.5, 0].
    let with_acc = RmConsensus::new(RmConsensusParams {
        accuracy: Some([(h("h1"), 0.5), (h("h2"), 1.0)].into()),
        ..Default::default()
    })
    .unwrap();
    assert_scores(
        &with_acc.score_task(&rm_task()).unwrap(),
        &[("h1", 0.1875), ("h2", 0.5), ("h3", 0.0)],
        1e-12,
    );
}

// ---------------------------------------------------------------------------------------------
// dojo-v0-consensus, spec §4.2:
//   consensus order = completions by mean rank; R_i = ranks in that order; A = [1..C]
//   sp = spearman(R_i, A), ck = cohen_kappa(R_i, A) unweighted, dp = -Σ(A - R_i)²
//   consensus = softmax(l2n(sp) + l2n(ck) + 1.5·l2n(dp));  gt_i = softmax(-‖R_i - gt‖₂)
//   final = 0.65·gt + 0.35·consensus.

fn v0_task(with_gt: bool) -> Task {
    let abcd = ["a", "b", "c", "d"];
    // Ranks are 0-based on the wire and 1-based in era B: h1 = [1,2,3,4], h2 = [2,1,3,4],
    // h3 = [4,3,2,1] over a, b, c, d.
    let mut t = Task::new(
        TaskId::new("v0").unwrap(),
        vec![
            ranks("h1", &abcd, &[0, 1, 2, 3]),
            ranks("h2", &abcd, &[1, 0, 2, 3]),
            ranks("h3", &abcd, &[3, 2, 1, 0]),
            // Rejected: rank 0 twice is not a ranking.
            ranks("h4", &abcd, &[0, 0, 1, 2]),
        ],
    );
    if with_gt {
        t.ground_truth = Some(Ranking::new(abcd.iter().map(|s| c(s)).zip(0..)).unwrap());
    }
    t
}

// Mean ranks a = (1+2+4)/3 = 7/3, b = (2+1+3)/3 = 2, c = (3+3+2)/3 = 8/3, d = (4+4+1)/3 = 3
// → consensus order b, a, c, d (no ties), A = [1, 2, 3, 4].
// R1 = [2,1,3,4]: sp = 1 - 6·2/(4·15) = 0.8;  ck: p_o = 2/4, p_e = 4·(1/4·1/4) = 1/4,
//      κ = (1/2 - 1/4)/(3/4) = 1/3;  dp = -(1+1) = -2
// R2 = [1,2,3,4]: sp = 1, ck = 1, dp = 0
// R3 = [3,4,2,1]: d = [2,2,-1,-3], Σd² = 18, sp = 1 - 108/60 = -0.8;  p_o = 0, κ = -1/3;  dp = -18
// l2n(sp): ‖·‖ = √2.28 = 1.509966887 → [0.529812943, 0.662266179, -0.529812943]
// l2n(ck): ‖·‖ = √(11/9) = 1.105541597 → [0.301511345, 0.904534034, -0.301511345]
// l2n(dp): ‖·‖ = √328 = 18.110770276 → [-0.110431526, 0, -0.993883735]
// combined = [0.665676998, 1.566800212, -2.322149889]
// softmax: e^x = [1.945803, 4.791543, 0.098069], Σ = 6.835415 → [0.284676100, 0.700977126, 0.014346775]
const V0_CONSENSUS: [f64; 3] = [0.284_676_099_7, 0.700_977_125_7, 0.014_346_774_6];

#[test]
fn dojo_v0_consensus_without_ground_truth() {
    let out = DojoV0::default().score_task(&v0_task(false)).unwrap();
    assert_scores(
        &out,
        &[
            ("h1", V0_CONSENSUS[0]),
            ("h2", V0_CONSENSUS[1]),
            ("h3", V0_CONSENSUS[2]),
        ],
        1e-9,
    );
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].0.as_str(), "h4");
}

#[test]
fn dojo_v0_consensus_with_ground_truth() {
    // gt = [1, 2, 3, 4] over a..d. ‖R - gt‖: h1 0; h2 √(1+1) = 1.414213562; h3 √(9+1+1+9) = √20 = 4.472135955.
    // softmax(-dist): e^x = [1, 0.243116734, 0.011422923], Σ = 1.254539657
    //   → gt = [0.797105153, 0.193789602, 0.009105245]
    // final = 0.65·gt + 0.35·consensus:
    //   h1 = 0.518118349 + 0.099636635 = 0.617754984
    //   h2 = 0.125963241 + 0.245341994 = 0.371305235
    //   h3 = 0.005918409 + 0.005021371 = 0.010939781
    let out = DojoV0::default().score_task(&v0_task(true)).unwrap();
    assert_scores(
        &out,
        &[
            ("h1", 0.617_754_984_3),
            ("h2", 0.371_305_235_2),
            ("h3", 0.010_939_780_6),
        ],
        1e-9,
    );
    // The Sep 2024 weights: 0.4·gt + 0.6·consensus, h1 = 0.318842061 + 0.170805660 = 0.489647721.
    let sep = DojoV0::new(DojoV0Params {
        ground_truth_weight: 0.4,
        ..Default::default()
    })
    .unwrap();
    let h1 = sep.score_task(&v0_task(true)).unwrap().get("h1").unwrap();
    assert!((h1 - 0.489_647_721_0).abs() < 1e-9, "{h1}");
}

// ---------------------------------------------------------------------------------------------
// hfl, spec §4.7:
//   avg[c] = mean score over raters; tf_raw[author(c)] += avg[c] - prev; tf = minmax(max(tf_raw, 0))
//   sf[r] = ICC(A,1)([r, mean of the other valid raters]); a rater repeating a value is invalid → 0
//   hfl[author] = 0.7·tf + 0.3·sf.get(author, 0)

fn hfl_task() -> Task {
    let xyz = ["x", "y", "z"];
    let mut t = Task::new(
        TaskId::new("sf").unwrap(),
        vec![
            scores("r1", &xyz, &[80.0, 40.0, 60.0]),
            scores("r2", &xyz, &[70.0, 30.0, 65.0]),
            scores("r3", &xyz, &[90.0, 20.0, 61.0]),
            // Repeats 50: counts in the averages, invalid for ICC.
            scores("r4", &xyz, &[50.0, 50.0, 60.0]),
        ],
    );
    t.feedback = Some(FeedbackTask {
        previous_score: 50.0,
        authors: [(c("x"), h("a1")), (c("y"), h("a2")), (c("z"), h("r1"))].into(),
        completion_order: xyz.iter().map(|s| c(s)).collect(),
    });
    t
}

// ICC(A,1) with n = 3 subjects, k = 2 raters (spec §4.4):
//   (MSR − MSE) / (MSR + (k−1)·MSE + k·(MSC − MSE)/n)
// r1 vs mean(r2, r3) = [80, 25, 63]: pairs (80,80), (40,25), (60,63); grand mean 58
//   SSR = 2·((80-58)² + (32.5-58)² + (61.5-58)²) = 2·(484 + 650.25 + 12.25) = 2293, MSR = 1146.5
//   SSC = 3·((60-58)² + (56-58)²) = 24, MSC = 24;  SST = 2410, SSE = 2410 - 2293 - 24 = 93, MSE = 46.5
//   ICC = 1100 / (1146.5 + 46.5 + 2·(24 - 46.5)/3) = 1100 / 1178 = 0.933786078
// r2 vs mean(r1, r3) = [85, 30, 60.5]: grand mean 56.75, SSR = 2364.25, SSC = 18.375,
//   SST = 2486.875, SSE = 104.25 → MSR = 1182.125, MSC = 18.375, MSE = 52.125
//   ICC = 1130 / (1182.125 + 52.125 + 2·(18.375 - 52.125)/3) = 1130 / 1211.75 = 0.932535589
// r3 vs mean(r1, r2) = [75, 35, 62.5]: grand mean 57.25, SSR = 3085.75, SSC = 0.375,
//   SST = 3311.875, SSE = 225.75 → MSR = 1542.875, MSC = 0.375, MSE = 112.875
//   ICC = 1430 / (1542.875 + 112.875 + 2·(0.375 - 112.875)/3) = 1430 / 1580.75 = 0.904633876
const SF: [f64; 3] = [1100.0 / 1178.0, 1130.0 / 1211.75, 1430.0 / 1580.75];

#[test]
fn hfl_text_and_score_feedback() {
    // avg over r1..r4: x = (80+70+90+50)/4 = 72.5, y = (40+30+20+50)/4 = 35, z = (60+65+61+60)/4 = 61.5
    // tf_raw: a1 = 72.5 - 50 = 22.5, a2 = 35 - 50 = -15, r1 = 61.5 - 50 = 11.5
    // clamp → [22.5, 0, 11.5]; minmax → [1, 0, 11.5/22.5 = 0.511111111]
    // hfl: a1 = 0.7·1 + 0.3·0 = 0.7; a2 = 0; r1 = 0.7·0.511111111 + 0.3·0.933786078 = 0.637913601
    let exact = Hfl::new(HflParams {
        jitter: false,
        ..Default::default()
    })
    .unwrap();
    let r1 = 0.7 * (11.5 / 22.5) + 0.3 * SF[0];
    let want = [("a1", 0.7), ("a2", 0.0), ("r1", r1)];
    assert_scores(&exact.score_task(&hfl_task()).unwrap(), &want, 1e-12);
    // The original's σ = 1e-6 jitter moves ICC by far less than 1e-4.
    assert_scores(
        &Hfl::default().score_task(&hfl_task()).unwrap(),
        &want,
        1e-4,
    );
}

#[test]
fn hfl_score_feedback_per_rater() {
    let t = hfl_task();
    let raters: Vec<(&Hotkey, Vec<f64>)> = t
        .responses
        .iter()
        .map(|r| {
            let Answer::Scores(m) = &r.answer else {
                unreachable!()
            };
            (&r.hotkey, m.values().copied().collect())
        })
        .collect();
    let exact = Hfl::new(HflParams {
        jitter: false,
        ..Default::default()
    })
    .unwrap();
    let sf = exact.score_feedback(&raters);
    let want: BTreeMap<&str, f64> =
        [("r1", SF[0]), ("r2", SF[1]), ("r3", SF[2]), ("r4", 0.0)].into();
    assert_eq!(sf.len(), want.len());
    for (k, v) in &want {
        assert!((sf[*k] - v).abs() < 1e-12, "{k}: {} vs {v}", sf[*k]);
    }
}

// ---------------------------------------------------------------------------------------------
// dojo-v2-votes, spec §4.10: D = number of voters that voted;
//   PvP: voter → 1/D, generator → votes/D;  PvV: voter of the validator output → 1/D, else 0;
//   Trap: voter of the negative output → -0.4, else 0, generators 0;
//   assigned non-voters share -4.0; scores sum over tasks.

fn vote_task(id: &str, v: VoteTask) -> Task {
    let mut t = Task::new(TaskId::new(id).unwrap(), vec![]);
    t.votes = Some(v);
    t
}

fn pvp() -> Task {
    vote_task(
        "pvp",
        VoteTask {
            kind: VoteKind::Pvp,
            generators: [(h("g1"), c("a")), (h("g2"), c("b"))].into(),
            validator_completion: None,
            negative_generator: None,
            votes: [(h("v1"), c("a")), (h("v2"), c("a")), (h("v3"), c("b"))].into(),
            voters: ["v1", "v2", "v3", "v4", "v5"].map(h).to_vec(),
        },
    )
}

#[test]
fn votes_pvp() {
    // D = 3: v1, v2, v3 → 1/3 each; g1 has 2 votes → 2/3, g2 has 1 → 1/3;
    // v4, v5 assigned but silent → -4/2 = -2 each.
    let out = Votes::default().score_task(&pvp()).unwrap();
    let third = 1.0 / 3.0;
    assert_scores(
        &out,
        &[
            ("v1", third),
            ("v2", third),
            ("v3", third),
            ("g1", 2.0 / 3.0),
            ("g2", third),
            ("v4", -2.0),
            ("v5", -2.0),
        ],
        1e-15,
    );
    // Only active miners are penalised: with v5 inactive, v4 alone takes -4.
    let active = Votes::new(VotesParams {
        active_hotkeys: Some(["v1", "v2", "v3", "v4", "g1", "g2"].map(h).into()),
        ..Default::default()
    })
    .unwrap();
    let s = active.score_task(&pvp()).unwrap().to_map();
    assert_eq!((s.get("v4"), s.get("v5")), (Some(&-4.0), None));
}

#[test]
fn votes_pvv_trap_and_window_sum() {
    // PvV, D = 4: v1, v3, v4 chose the validator's output → 1/4; v2 chose g1's → 0; g1 has 1 vote
    // → 1/4; the validator gets nothing; v5 silent → -4/1 = -4.
    let pvv = vote_task(
        "pvv",
        VoteTask {
            kind: VoteKind::Pvv,
            generators: [(h("g1"), c("a"))].into(),
            validator_completion: Some(c("val")),
            negative_generator: None,
            votes: [
                (h("v1"), c("val")),
                (h("v2"), c("a")),
                (h("v3"), c("val")),
                (h("v4"), c("val")),
            ]
            .into(),
            voters: ["v1", "v2", "v3", "v4", "v5"].map(h).to_vec(),
        },
    );
    let m = Votes::default();
    let pvv_scores = m.score_task(&pvv).unwrap();
    assert_scores(
        &pvv_scores,
        &[
            ("v1", 0.25),
            ("v2", 0.0),
            ("v3", 0.25),
            ("v4", 0.25),
            ("g1", 0.25),
            ("v5", -4.0),
        ],
        1e-15,
    );

    // Trap, g2 negative: v1 chose b (g2's) → -0.4; v2 chose a → 0; g1, g2 → 0; v3 silent → -4.
    let trap = vote_task(
        "trap",
        VoteTask {
            kind: VoteKind::Trap,
            generators: [(h("g1"), c("a")), (h("g2"), c("b"))].into(),
            validator_completion: None,
            negative_generator: Some(h("g2")),
            votes: [(h("v1"), c("b")), (h("v2"), c("a"))].into(),
            voters: ["v1", "v2", "v3"].map(h).to_vec(),
        },
    );
    let trap_scores = m.score_task(&trap).unwrap();
    assert_scores(
        &trap_scores,
        &[
            ("v1", -0.4),
            ("v2", 0.0),
            ("g1", 0.0),
            ("g2", 0.0),
            ("v3", -4.0),
        ],
        1e-15,
    );

    // Window sum over the three tasks (PvP above): v1 = 1/3 + 1/4 - 0.4 = 0.183333333;
    // v3 = 1/3 + 1/4 - 4 = -3.416666667; g1 = 2/3 + 1/4 + 0 = 0.916666667; v5 = -2 - 4 = -6.
    let window = m.aggregate(&[m.score_task(&pvp()).unwrap(), pvv_scores, trap_scores]);
    for (k, v) in [
        ("v1", 1.0 / 3.0 + 0.25 - 0.4),
        ("v3", 1.0 / 3.0 + 0.25 - 4.0),
        ("g1", 2.0 / 3.0 + 0.25),
        ("v5", -6.0),
    ] {
        assert!((window[k] - v).abs() < 1e-12, "{k}: {} vs {v}", window[k]);
    }
}

#[test]
fn votes_tasks_missing_their_roles_are_refused() {
    // PvV needs the validator's output and trap needs the negative generator (spec §4.10's
    // categorisation); without them the task is invalid, not silently scored as PvP.
    let mut t = pvp();
    t.votes.as_mut().unwrap().kind = VoteKind::Pvv;
    assert!(matches!(
        Votes::default().score_task(&t),
        Err(ScoringError::InvalidTask { .. })
    ));
    t.votes.as_mut().unwrap().kind = VoteKind::Trap;
    assert!(matches!(
        Votes::default().score_task(&t),
        Err(ScoringError::InvalidTask { .. })
    ));
}

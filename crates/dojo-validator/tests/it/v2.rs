//! The Dojo v2 round end to end: `dojo-v2-votes` makes the validator plan generators, send
//! generation and vote assignments over the signed `MinerRoles` service, store every phase, and
//! score the votes into weights on the devnet. In every duel or trap both judged, the honest voter earns more than the reversed one; a miner
//! that declines everything, or votes for a completion it was never shown, is penalised.

use std::time::Duration;

use dojo_scoring::MechanismConfig;
use dojo_types::chain::Chain;
use dojo_validator::service;
use dojo_validator::store::Store;

use crate::run::{config, network, validator_on, wait_for};

/// The scored duels and traps in which `a` and `b` both voted (their votes accepted) and
/// neither generated: the tasks where only their judgement tells them apart.
async fn judged_by_both(store: &Store, a: &str, b: &str) -> Vec<dojo_types::TaskId> {
    let mut out = Vec::new();
    for id in store.v2_tasks_in("scored", None, 10_000).await.unwrap() {
        let (_, body) = store.load_v2(&id).await.unwrap();
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        let generated = |h: &str| {
            doc["pairing"]["generators"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == h)
        };
        let voted = |h: &str| doc["vote_outcomes"][h] == "accepted";
        if doc["pairing"]["kind"] != "pvp" && voted(a) && voted(b) && !generated(a) && !generated(b)
        {
            out.push(id);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v2_rounds_pay_honest_voters_and_land_weights() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Store::open(&url).await.unwrap();
    let net = network(false, &store).await;
    let events = dir.path().join("events.jsonl");
    let mut cfg = config(net.validator.ss58(), None, Some(events.clone()));
    cfg.mechanism = MechanismConfig::from_name("dojo-v2-votes").unwrap();
    let v = validator_on(&net, store.clone(), cfg).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(service::run(v.clone(), async move {
        let _ = rx.await;
    }));
    // Honest and reversed voters differ only on duels and traps (PvP pays every voter alike),
    // so wait for a few of those that both judged, and for weights.
    let (honest, reversed_hk) = (net.miners[0].0.ss58(), net.miners[1].0.ss58());
    wait_for("v2 tasks judged by both and weights set", 120, async || {
        judged_by_both(&store, honest.as_str(), reversed_hk.as_str())
            .await
            .len()
            >= 2
            && v.metrics.get("dojo_weights_set_total", &[("kind", "set")]) >= 1.0
    })
    .await;
    // Read before shutdown closes the pool: in each of those tasks the honest judge earned more.
    for id in judged_by_both(&store, honest.as_str(), reversed_hk.as_str()).await {
        let scores = store.task_scores(&id).await.unwrap();
        let score = |k| scores.get(k).copied().unwrap_or(0.0);
        let (h, r) = (score(&honest), score(&reversed_hk));
        assert!(h > r, "task {id}: honest {h} > reversed {r}");
    }
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();

    assert!(v.metrics.get("dojo_rounds_total", &[("outcome", "sent")]) >= 1.0);
    for role in ["generation", "vote"] {
        assert!(
            v.metrics.get(
                "dojo_v2_assignments_total",
                &[("role", role), ("outcome", "acked")]
            ) >= 1.0,
            "{role} assignments acked"
        );
        assert!(
            v.metrics.get(
                "dojo_v2_assignments_total",
                &[("role", role), ("outcome", "declined")]
            ) >= 1.0,
            "the decliner declined a {role}"
        );
    }
    assert!(
        v.metrics
            .get("dojo_rejections_total", &[("reason", "not_a_candidate")])
            >= 1.0,
        "a vote for a completion never shown is refused"
    );
    assert_eq!(v.metrics.total("dojo_weight_errors_total"), 0.0);

    let mg = net.devnet.metagraph(1).await.unwrap();
    let uid = |i: usize| usize::from(mg.uid_of(&net.miners[i].0.ss58()).unwrap().0);
    let ema = v.scores().await.scores();
    let (truthful, out_of_range, decline) = (ema[uid(0)], ema[uid(2)], ema[uid(4)]);
    assert!(truthful > 0.0);
    assert!(
        decline < 0.0,
        "a miner that never votes is penalised: {decline}"
    );
    assert!(out_of_range < truthful, "{out_of_range} < {truthful}");

    // Weights on chain follow the moving average: the decliner gets none.
    let me = mg
        .neurons
        .iter()
        .find(|n| n.hotkey == net.validator.ss58())
        .unwrap();
    let w = |u: usize| {
        me.weights
            .iter()
            .find(|(x, _)| usize::from(*x) == u)
            .map_or(0, |(_, w)| *w)
    };
    assert!(!me.weights.is_empty(), "weights stored on chain");
    assert_eq!(w(uid(4)), 0, "{:?}", me.weights);

    // Every scored task wrote one event line.
    let lines = std::fs::read_to_string(&events).unwrap();
    // `run` closed its pool on the way out; the file is reopened as a restart would.
    let store = Store::open(&url).await.unwrap();
    let scored = store.count_v2("scored").await.unwrap();
    assert_eq!(lines.lines().count() as i64, scored);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    for field in ["prompt", "kind", "votes", "rewards"] {
        assert!(first.get(field).is_some(), "event has {field}: {first}");
    }
}

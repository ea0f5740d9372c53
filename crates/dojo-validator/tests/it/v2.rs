//! The Dojo v2 round end to end: `dojo-v2-votes` makes the validator plan generators, send
//! generation and vote assignments over the signed `MinerRoles` service, store every phase, and
//! score the votes into weights on the devnet. Honest voters end above reversed ones; a miner
//! that declines everything, or votes for a completion it was never shown, is penalised.

use std::time::Duration;

use dojo_scoring::MechanismConfig;
use dojo_types::chain::Chain;
use dojo_validator::service;
use dojo_validator::store::Store;

use crate::run::{config, network, validator_on, wait_for};

/// Kinds of the scored v2 tasks, read back from the store.
async fn scored_kinds(store: &Store) -> Vec<String> {
    let mut kinds = Vec::new();
    for id in store.v2_tasks_in("scored", None, 10_000).await.unwrap() {
        let (_, body) = store.load_v2(&id).await.unwrap();
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        kinds.push(doc["pairing"]["kind"].as_str().unwrap().to_owned());
    }
    kinds
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
    // so wait for a few of those to be scored, and for weights.
    wait_for("v2 tasks scored and weights set", 120, async || {
        let kinds = scored_kinds(&store).await;
        kinds.iter().filter(|k| *k != "pvp").count() >= 3
            && v.metrics.get("dojo_weights_set_total", &[("kind", "set")]) >= 1.0
    })
    .await;
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
    let (truthful, reversed, out_of_range, decline) =
        (ema[uid(0)], ema[uid(1)], ema[uid(2)], ema[uid(4)]);
    assert!(
        truthful > reversed,
        "truthful {truthful} > reversed {reversed}: {ema:?}"
    );
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

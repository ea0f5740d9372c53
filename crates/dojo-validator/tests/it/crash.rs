//! Crash safety in process: the whole service is aborted at random points (every loop task dropped
//! at whatever await it was in, open transactions rolled back, as a SIGKILL would leave them),
//! restarted on the same database, repeatedly; then the invariants are checked. The SIGKILL harness
//! over separate processes is `bins/dojo-validator-bin/tests/crash_harness.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use dojo_synthetic_api::client::SyntheticClient;
use dojo_transport::{Dendrite, DendriteConfig};
use dojo_validator::service::{self, Validator};
use dojo_validator::store::Store;
use rand::{Rng, SeedableRng};

use crate::run::{config, network};

async fn crash_and_restart(url: String) -> Store {
    let store = Store::open(&url).await.unwrap();
    let net = network(false, &store).await;
    let make = || async {
        let dendrite = Dendrite::new(
            net.validator.clone(),
            DendriteConfig {
                timeout: Duration::from_secs(3),
                ..DendriteConfig::default()
            },
        );
        let client = SyntheticClient::new(&net.synthetic, None, Duration::from_secs(5)).unwrap();
        let store = Store::open(&url).await.unwrap();
        Arc::new(
            Validator::new(
                config(net.validator.ss58(), None, None),
                net.devnet.clone(),
                store,
                dendrite,
                client,
            )
            .await
            .unwrap(),
        )
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xdead);
    for _ in 0..8 {
        let v = make().await;
        let handle = tokio::spawn(service::run(v, std::future::pending()));
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..1500))).await;
        handle.abort();
        let _ = handle.await;
    }
    // Let the last round's deadline pass, then finish everything outstanding.
    let v = make().await;
    v.sync_metagraph().await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    while v.collect().await.unwrap() > 0 {}
    while v.score().await.unwrap() > 0 {}
    assert_eq!(
        store.count("sent").await.unwrap(),
        0,
        "no task left uncollected"
    );
    assert_eq!(
        store.count("collected").await.unwrap(),
        0,
        "no task left unscored"
    );
    let scored = store.tasks_in("scored", None, 10_000).await.unwrap();
    assert!(
        scored.len() >= 2,
        "rounds completed across restarts: {}",
        scored.len()
    );
    for id in &scored {
        let t = store.load(id).await.unwrap();
        assert!(!t.assignments.is_empty(), "task {id} kept its miners");
        assert_eq!(
            t.responses.len(),
            t.assignments.len(),
            "every miner's result recorded once for {id}"
        );
        let accepted: BTreeSet<_> = t
            .responses
            .iter()
            .filter(|r| r.answer.is_some())
            .map(|r| r.hotkey.clone())
            .collect();
        let scores = store.task_scores(id).await.unwrap();
        assert!(
            scores.keys().all(|h| accepted.contains(h)),
            "only accepted results scored"
        );
    }
    // Weights: never two submissions inside one rate limit, none left pending.
    v.weights_step().await.unwrap();
    let subs = store.submissions(None).await.unwrap();
    assert!(subs.iter().all(|s| s.status != "pending"), "{subs:?}");
    let set: Vec<u64> = subs
        .iter()
        .filter(|s| s.status == "set")
        .map(|s| s.block)
        .collect();
    assert!(
        set.windows(2).all(|w| w[1] >= w[0] + 5),
        "rate limit respected: {set:?}"
    );
    store
}
crate::both_backends!(
    aborted_at_random_points_loses_nothing_and_scores_once,
    crash_and_restart
);

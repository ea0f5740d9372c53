//! The reward-modelling era mode: `rm-consensus` with held-out preference pairs. Each round also
//! sends every miner accuracy probes; a miner that agrees with nobody's truth (reversed) ends with
//! nothing, however its consensus score looks, and the honest one is paid.

use std::time::Duration;

use dojo_scoring::MechanismConfig;
use dojo_types::chain::Chain;
use dojo_validator::probe::Probes;
use dojo_validator::service;
use dojo_validator::store::Store;

use crate::run::{config, network, validator_on, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_multiply_consensus_by_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Store::open(&url).await.unwrap();
    let net = network(false, &store).await;
    let pairs = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/dojo-minilm-rm/heldout-pairs.jsonl");
    let mut cfg = config(net.validator.ss58(), None, None);
    cfg.mechanism = MechanismConfig::from_name("rm-consensus").unwrap();
    cfg.probes = Some(Probes::load(&pairs, 2).unwrap());
    let v = validator_on(&net, store.clone(), cfg).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(service::run(v.clone(), async move {
        let _ = rx.await;
    }));
    wait_for("tasks scored and weights set", 90, async || {
        v.metrics.total("dojo_tasks_scored_total") >= 9.0
            && v.metrics.get("dojo_weights_set_total", &[("kind", "set")]) >= 1.0
    })
    .await;
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();
    assert!(v.metrics.total("dojo_probes_sent_total") >= 2.0);

    let mg = net.devnet.metagraph(1).await.unwrap();
    let uid = |i: usize| usize::from(mg.uid_of(&net.miners[i].0.ss58()).unwrap().0);
    let ema = v.scores().await.scores();
    let (truthful, reversed) = (ema[uid(0)], ema[uid(1)]);
    assert!(truthful > 0.0, "{ema:?}");
    // Alone with the honest miner, the reversed one has half the consensus (their mean is flat,
    // so both correlate 0 with it); its accuracy on the probes is 0, and so is its pay.
    assert_eq!(reversed, 0.0, "{ema:?}");
}

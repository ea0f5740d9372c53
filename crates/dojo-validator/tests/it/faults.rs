//! Faults the validator must survive: a synthetic API that is down or has no task, a chain that
//! refuses weights, a subnet demanding a newer version key.

use std::sync::Arc;
use std::time::Duration;

use dojo_synthetic_api::client::SyntheticClient;
use dojo_transport::{Dendrite, DendriteConfig};
use dojo_types::chain::{
    AxonInfo, Chain, ChainError, CommitScheme, Hyperparams, MetagraphSnapshot, Netuid,
    RevealWeights, SetWeights,
};
use dojo_types::{Hotkey, Uid};
use dojo_validator::service::{ServiceError, Validator};
use dojo_validator::store::Store;

use crate::run::{Net, config, network, network_with};

/// The `Chain` methods a test double passes to the devnet in field `$f` unchanged: reads,
/// axon serving and registration. Each double writes out only the calls it changes.
macro_rules! forward_to_devnet {
    ($f:tt) => {
        async fn current_block(&self) -> Result<u64, ChainError> {
            self.$f.current_block().await
        }
        async fn wait_for_block(&self, after: u64) -> Result<u64, ChainError> {
            self.$f.wait_for_block(after).await
        }
        async fn metagraph(&self, netuid: Netuid) -> Result<MetagraphSnapshot, ChainError> {
            self.$f.metagraph(netuid).await
        }
        async fn hyperparams(&self, netuid: Netuid) -> Result<Hyperparams, ChainError> {
            self.$f.hyperparams(netuid).await
        }
        async fn serve_axon(&self, h: &Hotkey, n: Netuid, a: AxonInfo) -> Result<(), ChainError> {
            self.$f.serve_axon(h, n, a).await
        }
        async fn burned_register(
            &self,
            c: &Hotkey,
            n: Netuid,
            h: &Hotkey,
        ) -> Result<Uid, ChainError> {
            self.$f.burned_register(c, n, h).await
        }
    };
}

/// The devnet, except that it refuses every `set_weights` as subtensor would an over-concentrated
/// vector: a chain-side rejection the validator cannot predict.
struct Refusing(dojo_devnet::Devnet);

impl Chain for Refusing {
    forward_to_devnet!(0);
    async fn set_weights(&self, _: SetWeights) -> Result<(), ChainError> {
        Err(ChainError::MaxWeightExceeded)
    }
    async fn commit_weights(&self, h: &Hotkey, n: Netuid, c: [u8; 32]) -> Result<(), ChainError> {
        self.0.commit_weights(h, n, c).await
    }
    async fn reveal_weights(&self, r: RevealWeights) -> Result<(), ChainError> {
        self.0.reveal_weights(r).await
    }
}

async fn validator(
    net: &Net,
    store: &Store,
    synthetic: &str,
) -> Arc<Validator<dojo_devnet::Devnet>> {
    validator_on(net.devnet.clone(), net, store, synthetic).await
}

async fn validator_on<C: Chain + 'static>(
    chain: C,
    net: &Net,
    store: &Store,
    synthetic: &str,
) -> Arc<Validator<C>> {
    let dendrite = Dendrite::new(
        net.validator.clone(),
        DendriteConfig {
            timeout: Duration::from_secs(3),
            ..DendriteConfig::default()
        },
    );
    let client =
        SyntheticClient::new(synthetic, Some("key".into()), Duration::from_secs(2)).unwrap();
    Arc::new(
        Validator::new(
            config(net.validator.ss58(), None, None),
            chain,
            store.clone(),
            dendrite,
            client,
        )
        .await
        .unwrap(),
    )
}

async fn sqlite() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Store::open(&url).await.unwrap();
    (dir, store)
}

/// An HTTP server that answers every request with 503, like a synthetic API with an empty buffer.
async fn always_503() -> String {
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "{\"success\":false,\"body\":null,\"error\":\"buffer empty\"}",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_api_down_or_empty_skips_the_round_and_backs_off() {
    let (_dir, store) = sqlite().await;
    let net = network(false, &store).await;
    // Nothing listens on this port: the API is down.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let v = validator(&net, &store, &dead).await;
    v.sync_metagraph().await.unwrap();
    v.heartbeat().await.unwrap();
    let wait = v.round().await.unwrap();
    assert!(
        wait < Duration::from_secs(1),
        "backs off briefly, not a whole interval: {wait:?}"
    );
    assert_eq!(
        v.metrics
            .get("dojo_rounds_total", &[("outcome", "synthetic_error")]),
        1.0
    );
    assert_eq!(
        store.count("sent").await.unwrap(),
        0,
        "nothing stored for a skipped round"
    );

    let v = validator(&net, &store, &always_503().await).await;
    v.sync_metagraph().await.unwrap();
    v.heartbeat().await.unwrap();
    v.round().await.unwrap();
    assert_eq!(
        v.metrics
            .get("dojo_rounds_total", &[("outcome", "synthetic_not_ready")]),
        1.0
    );
    assert_eq!(store.count("sent").await.unwrap(), 0);
    // The real API serves a task and the same validator carries on.
    let v = validator(&net, &store, &net.synthetic).await;
    v.sync_metagraph().await.unwrap();
    v.heartbeat().await.unwrap();
    v.round().await.unwrap();
    assert_eq!(store.count("sent").await.unwrap(), 1);
}

/// Runs one round to completion (sent, collected after the deadline, scored).
async fn one_scored_round<C: Chain + 'static>(v: &Validator<C>) {
    v.sync_metagraph().await.unwrap();
    v.heartbeat().await.unwrap();
    v.round().await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(v.collect().await.unwrap(), 1);
    assert_eq!(v.score().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_weights_are_typed_counted_and_not_resubmitted() {
    let (_dir, store) = sqlite().await;
    let net = network(false, &store).await;
    let v = validator_on(Refusing(net.devnet.clone()), &net, &store, &net.synthetic).await;
    one_scored_round(&v).await;
    v.weights_step().await.unwrap();
    assert_eq!(
        v.metrics.get(
            "dojo_weight_errors_total",
            &[("error", "MaxWeightExceeded")]
        ),
        1.0
    );
    // Later steps inside the back-off window send nothing again.
    for _ in 0..5 {
        v.weights_step().await.unwrap();
    }
    let subs = store.submissions(None).await.unwrap();
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0].status, "rejected");
    assert!(
        subs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("MaxWeightExceeded")
    );
    assert_eq!(v.metrics.total("dojo_weights_set_total"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_weights_version_stops_the_validator_with_a_clear_error() {
    let (_dir, store) = sqlite().await;
    let net = network_with(false, &store, |p| p.weights_version = 7).await;
    let v = validator(&net, &store, &net.synthetic).await;
    one_scored_round(&v).await;
    let e = v.weights_step().await.unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::VersionTooOld {
                ours: 1,
                required: 7
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade"));
    assert!(
        store.submissions(None).await.unwrap().is_empty(),
        "nothing submitted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_left_pending_by_a_crash_is_resolved_from_the_chain_not_resent() {
    let (_dir, store) = sqlite().await;
    let net = network(true, &store).await;
    let v = validator(&net, &store, &net.synthetic).await;
    one_scored_round(&v).await;
    v.weights_step().await.unwrap();
    let subs = store.submissions(None).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].status, "committed");
    // Pretend the process died between sending the commit and recording it.
    store
        .resolve_submission(&subs[0].id, "pending", None, 0)
        .await
        .unwrap();
    let v = validator(&net, &store, &net.synthetic).await;
    v.weights_step().await.unwrap();
    let subs = store.submissions(None).await.unwrap();
    assert_eq!(subs.len(), 1, "not resubmitted: {subs:?}");
    assert_eq!(
        subs[0].status, "committed",
        "LastUpdate on chain shows it landed"
    );
    // And it is revealed in its window.
    let (_, last) = dojo_types::chain::reveal_window(1, 9, subs[0].block, 1);
    while net.devnet.current_block().await.unwrap() <= last {
        v.weights_step().await.unwrap();
        if store.submissions(Some("revealed")).await.unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.submissions(Some("revealed")).await.unwrap().len(), 1);
}

/// The devnet, except that a hash commit lands in the first block of the next commit-reveal epoch,
/// as one decided in an epoch's last block and included a block later does on subtensor.
struct LateCommit(dojo_devnet::Devnet);

impl Chain for LateCommit {
    forward_to_devnet!(0);
    async fn set_weights(&self, r: SetWeights) -> Result<(), ChainError> {
        self.0.set_weights(r).await
    }
    async fn commit_weights(&self, h: &Hotkey, n: Netuid, c: [u8; 32]) -> Result<(), ChainError> {
        let now = self.0.current_block().await?;
        let (_, last) =
            dojo_types::chain::cr_epoch_blocks(n, 9, dojo_types::chain::cr_epoch(n, 9, now));
        self.0.advance_blocks(last + 1 - now)?;
        self.0.commit_weights(h, n, c).await
    }
    async fn reveal_weights(&self, r: RevealWeights) -> Result<(), ChainError> {
        self.0.reveal_weights(r).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_landing_in_the_next_epoch_is_revealed_in_the_window_the_chain_counts() {
    let (_dir, store) = sqlite().await;
    let net = network(true, &store).await;
    let v = validator_on(LateCommit(net.devnet.clone()), &net, &store, &net.synthetic).await;
    one_scored_round(&v).await;
    v.weights_step().await.unwrap();
    let subs = store.submissions(None).await.unwrap();
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0].status, "committed");
    through_reveal_window(&v, &net.devnet, &store, subs[0].block + 10).await;
    let subs = store.submissions(None).await.unwrap();
    assert_eq!(subs[0].status, "revealed", "{subs:?}");
    assert_eq!(v.metrics.total("dojo_weight_errors_total"), 0.0);
}

/// The devnet as a chain that takes timelocked commits (v4) and reveals them itself: when `lands`,
/// the weight row it reports is the last commit's; otherwise the reveal fails silently and the row
/// stays empty, as on subtensor when the drand pulse is missing. The commit itself goes to the
/// devnet as a hash commit, so `LastUpdate` and the reveal window follow the chain's rules.
struct Timelocked {
    inner: dojo_devnet::Devnet,
    lands: bool,
    committed: std::sync::Mutex<Vec<SetWeights>>,
}

impl Chain for Timelocked {
    forward_to_devnet!(inner);
    async fn set_weights(&self, r: SetWeights) -> Result<(), ChainError> {
        self.inner.set_weights(r).await
    }
    async fn commit_weights(&self, _: &Hotkey, _: Netuid, _: [u8; 32]) -> Result<(), ChainError> {
        panic!("a hash commit on a timelocked chain")
    }
    async fn reveal_weights(&self, _: RevealWeights) -> Result<(), ChainError> {
        panic!("the chain reveals timelocked commits itself")
    }
    async fn commit_scheme(&self, _: Netuid) -> Result<CommitScheme, ChainError> {
        Ok(CommitScheme::Timelocked { version: 4 })
    }
    async fn commit_timelocked_weights(&self, req: SetWeights) -> Result<u64, ChainError> {
        self.inner
            .commit_weights(&req.hotkey, req.netuid, [1; 32])
            .await?;
        self.committed.lock().unwrap().push(req);
        Ok(1234)
    }
    async fn weights_row(
        &self,
        _: &Hotkey,
        _: Netuid,
    ) -> Result<Option<Vec<(u16, u16)>>, ChainError> {
        let committed = self.committed.lock().unwrap();
        Ok(Some(match committed.last() {
            Some(req) if self.lands => req.uids.iter().copied().zip(req.weights.clone()).collect(),
            _ => Vec::new(),
        }))
    }
}

/// Steps the weight loop until the commit of `block` is past its reveal window (or resolved).
async fn through_reveal_window<C: Chain + 'static>(
    v: &Validator<C>,
    devnet: &dojo_devnet::Devnet,
    store: &Store,
    block: u64,
) {
    let (_, last) = dojo_types::chain::reveal_window(1, 9, block, 1);
    loop {
        v.weights_step().await.unwrap();
        if store
            .submissions(Some("committed"))
            .await
            .unwrap()
            .is_empty()
        {
            return;
        }
        assert!(
            devnet.current_block().await.unwrap() <= last + 500,
            "still unresolved well past the reveal window"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timelocked_commits_are_confirmed_from_the_weight_row_and_a_silent_failure_is_counted() {
    for lands in [true, false] {
        let (_dir, store) = sqlite().await;
        let net = network(true, &store).await;
        let chain = Timelocked {
            inner: net.devnet.clone(),
            lands,
            committed: std::sync::Mutex::new(Vec::new()),
        };
        let v = validator_on(chain, &net, &store, &net.synthetic).await;
        one_scored_round(&v).await;
        v.weights_step().await.unwrap();
        let subs = store.submissions(None).await.unwrap();
        assert_eq!(subs.len(), 1, "{subs:?}");
        assert_eq!(
            (subs[0].kind.as_str(), subs[0].status.as_str()),
            ("tlock", "committed")
        );
        assert!(subs[0].salt.is_empty(), "no salt: the chain reveals");
        through_reveal_window(&v, &net.devnet, &store, subs[0].block).await;
        let subs = store.submissions(None).await.unwrap();
        let failed = v
            .metrics
            .get("dojo_weight_errors_total", &[("error", "RevealFailed")]);
        let revealed = v
            .metrics
            .get("dojo_weights_set_total", &[("kind", "reveal")]);
        if lands {
            assert_eq!(subs[0].status, "revealed", "{subs:?}");
            assert_eq!((revealed, failed), (1.0, 0.0));
        } else {
            assert_eq!(subs[0].status, "reveal_failed", "{subs:?}");
            assert_eq!((revealed, failed), (0.0, 1.0));
        }
    }
}

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dojo_identity::Keypair;
use dojo_proto::v1::{self, miner_server::Miner};
use dojo_transport::{
    AxonConfig, AxonLayer, AxonTarget, Caller, CallerInfo, MetagraphCache, serve_miner,
};
use dojo_types::{Hotkey, Uid};
use tonic::{Request, Response, Status};

/// Verified callers a handler saw, with the peer address they came from.
pub(crate) type Seen = Arc<Mutex<Vec<(Caller, Option<SocketAddr>)>>>;

/// A miner that acknowledges tasks with `m-<task id>` and records who called from where.
#[derive(Default, Clone)]
pub(crate) struct EchoMiner {
    pub(crate) served: Arc<AtomicUsize>,
    pub(crate) callers: Seen,
    pub(crate) delay: Duration,
}

impl EchoMiner {
    fn record<T>(&self, r: &Request<T>) -> Result<(), Status> {
        let caller = r
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Status::internal("no verified caller"))?;
        self.callers.lock().unwrap().push((caller, r.remote_addr()));
        self.served.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tonic::async_trait]
impl Miner for EchoMiner {
    async fn send_task(
        &self,
        r: Request<v1::SendTaskRequest>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        self.record(&r)?;
        tokio::time::sleep(self.delay).await;
        let id = r.into_inner().task.map(|t| t.task_id).unwrap_or_default();
        Ok(Response::new(v1::TaskAck {
            miner_task_id: format!("m-{id}"),
        }))
    }
    async fn fetch_results(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::TaskResults>, Status> {
        self.record(&r)?;
        Ok(Response::new(v1::TaskResults {
            task_id: r.into_inner().task_id,
            results: vec![],
            ..Default::default()
        }))
    }
    async fn send_score_feedback(
        &self,
        r: Request<v1::ScoreFeedback>,
    ) -> Result<Response<v1::FeedbackAck>, Status> {
        self.record(&r)?;
        Ok(Response::new(v1::FeedbackAck {}))
    }
    async fn heartbeat(
        &self,
        r: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatAck>, Status> {
        self.record(&r)?;
        Ok(Response::new(v1::HeartbeatAck {
            ack: true,
            ..Default::default()
        }))
    }
    async fn rank_completions(
        &self,
        r: Request<v1::RankingRequest>,
    ) -> Result<Response<v1::RankingResult>, Status> {
        self.record(&r)?;
        Ok(Response::new(v1::RankingResult {
            request_id: r.into_inner().request_id,
            scores: vec![],
        }))
    }
}

pub(crate) fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).unwrap()
}

pub(crate) fn info(uid: u16, stake: f64, validator_permit: bool) -> CallerInfo {
    CallerInfo {
        uid: Uid(uid),
        stake,
        validator_permit,
    }
}

/// A running axon on 127.0.0.1 with hotkey //Miner; stops when dropped.
pub(crate) struct TestAxon {
    pub(crate) target: AxonTarget,
    pub(crate) miner: EchoMiner,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestAxon {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub(crate) async fn start_axon(
    hotkey: &Keypair,
    configure: impl FnOnce(&mut AxonConfig),
    callers: Vec<(Hotkey, CallerInfo)>,
    miner: EchoMiner,
) -> TestAxon {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    start_axon_on(any_port, hotkey, configure, callers, miner).await
}

/// [`start_axon`] listening on `addr` (a port a stopped axon used, to restart it).
pub(crate) async fn start_axon_on(
    addr: SocketAddr,
    hotkey: &Keypair,
    configure: impl FnOnce(&mut AxonConfig),
    callers: Vec<(Hotkey, CallerInfo)>,
    miner: EchoMiner,
) -> TestAxon {
    let mut config = AxonConfig::new(hotkey.ss58());
    configure(&mut config);
    let cache = Arc::new(MetagraphCache::new());
    cache.replace(1, callers);
    let layer = AxonLayer::new(config, cache);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let m = miner.clone();
    tokio::spawn(async move {
        serve_miner(m, listener, layer, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestAxon {
        target: AxonTarget {
            addr,
            hotkey: hotkey.ss58(),
        },
        miner,
        stop: Some(tx),
    }
}

pub(crate) fn task(id: &str, prompt_len: usize) -> v1::SendTaskRequest {
    v1::SendTaskRequest {
        task: Some(v1::Task {
            task_id: id.to_owned(),
            prompt: "p".repeat(prompt_len),
            task_type: v1::TaskType::CodeGeneration as i32,
            expire_at: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        }),
    }
}

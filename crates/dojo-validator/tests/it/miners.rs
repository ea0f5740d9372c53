//! Test-double miners behind the real axon (signed gRPC): each answers with a policy. The honest
//! ones are oracles that read the ground truth from the validator's store, so their quality order
//! is known; the others lie, break the bounds, or copy another miner.

use std::net::SocketAddr;
use std::sync::Arc;

use dojo_identity::Keypair;
use dojo_proto::v1::{self, miner_server::Miner};
use dojo_transport::{AxonConfig, AxonLayer, MetagraphCache, serve_miner};
use dojo_types::Hotkey;
use dojo_validator::store::Store;
use tonic::{Request, Response, Status};

#[derive(Clone, Debug)]
pub(crate) enum Policy {
    /// Scores the ground truth's order: 100 for rank 0, 30 less per rank.
    Truthful,
    /// The reverse order.
    Reversed,
    /// Scores of 500 on a 1–100 scale.
    OutOfRange,
    /// Returns another miner's honest answer under that miner's ids.
    Copy(Hotkey),
    /// Declines every task (empty miner task id).
    Decline,
}

#[derive(Clone)]
pub(crate) struct TestMiner {
    pub(crate) hotkey: Hotkey,
    pub(crate) policy: Policy,
    pub(crate) store: Store,
}

impl TestMiner {
    async fn honest(
        &self,
        task_id: &str,
        as_hotkey: &Hotkey,
        reversed: bool,
    ) -> Option<v1::TaskResults> {
        let stored = self.store.load(&task_id.parse().ok()?).await.ok()?;
        let a = stored.assignments.iter().find(|a| &a.hotkey == as_hotkey)?;
        let answers = a
            .view
            .shown
            .iter()
            .map(|(m, r)| {
                let rank = f64::from(stored.truth.rank(r.as_str()).unwrap_or(0));
                let score = if reversed {
                    10.0 + 30.0 * rank
                } else {
                    100.0 - 30.0 * rank
                };
                v1::CompletionAnswer {
                    completion_id: m.to_string(),
                    answer: Some(v1::completion_answer::Answer::Score(score)),
                }
            })
            .collect();
        Some(v1::TaskResults {
            task_id: task_id.to_owned(),
            results: vec![v1::WorkerResult {
                worker_id: "w1".into(),
                answers,
            }],
            status: v1::ResultStatus::Complete.into(),
        })
    }
}

#[tonic::async_trait]
impl Miner for TestMiner {
    async fn send_task(
        &self,
        r: Request<v1::SendTaskRequest>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let id = r.into_inner().task.map(|t| t.task_id).unwrap_or_default();
        let miner_task_id = match self.policy {
            Policy::Decline => String::new(),
            _ => format!("m-{id}"),
        };
        Ok(Response::new(v1::TaskAck { miner_task_id }))
    }

    async fn fetch_results(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::TaskResults>, Status> {
        let id = r.into_inner().task_id;
        let out = match &self.policy {
            Policy::Truthful => self.honest(&id, &self.hotkey, false).await,
            Policy::Reversed => self.honest(&id, &self.hotkey, true).await,
            Policy::Copy(other) => self.honest(&id, other, false).await,
            Policy::OutOfRange => self.honest(&id, &self.hotkey, false).await.map(|mut t| {
                for a in &mut t.results[0].answers {
                    a.answer = Some(v1::completion_answer::Answer::Score(500.0));
                }
                t
            }),
            Policy::Decline => None,
        };
        out.map(Response::new)
            .ok_or_else(|| Status::not_found("no such task"))
    }

    async fn send_score_feedback(
        &self,
        _: Request<v1::ScoreFeedback>,
    ) -> Result<Response<v1::FeedbackAck>, Status> {
        Ok(Response::new(v1::FeedbackAck {}))
    }

    async fn heartbeat(
        &self,
        _: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatAck>, Status> {
        Ok(Response::new(v1::HeartbeatAck {
            ack: true,
            ..Default::default()
        }))
    }

    async fn rank_completions(
        &self,
        r: Request<v1::RankingRequest>,
    ) -> Result<Response<v1::RankingResult>, Status> {
        Ok(Response::new(v1::RankingResult {
            request_id: r.into_inner().request_id,
            scores: vec![],
        }))
    }
}

/// Serves `miner` on 127.0.0.1 behind a real axon whose caller directory is `cache`.
pub(crate) async fn serve(
    key: &Keypair,
    miner: TestMiner,
    cache: Arc<MetagraphCache>,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let layer = AxonLayer::new(AxonConfig::new(key.ss58()), cache);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = serve_miner(miner, listener, layer, async {
            let _ = rx.await;
        })
        .await;
    });
    (addr, tx)
}

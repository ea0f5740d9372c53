//! Test-double miners behind the real axon (signed gRPC): each answers with a policy. The honest
//! ones are oracles that read the ground truth from the validator's store, so their quality order
//! is known; the others lie, break the bounds, or copy another miner. The same policies play the
//! Dojo v2 roles: every miner but the decliner writes a page, and the honest voter reads the
//! validator's stored task to vote as a perfect judge would (for the reference in a duel, against
//! the trap), the reversed one does the opposite, the out-of-range one names a completion it was
//! never shown.

use std::net::SocketAddr;
use std::sync::Arc;

use dojo_identity::Keypair;
use dojo_proto::v1::miner_roles_server::MinerRoles;
use dojo_proto::v1::{self, miner_server::Miner};
use dojo_transport::{AxonConfig, AxonLayer, MetagraphCache, serve_miner_with_roles};
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
        let roles = miner.clone();
        let _ = serve_miner_with_roles(miner, roles, listener, layer, async {
            let _ = rx.await;
        })
        .await;
    });
    (addr, tx)
}

impl TestMiner {
    /// The completion a perfect judge votes for in v2 task `id`, and the one it votes against.
    async fn judged(&self, id: &str) -> Option<(String, String)> {
        let (_, body) = self.store.load_v2(&id.parse().ok()?).await.ok()?;
        let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
        let p = &doc["pairing"];
        let delivered = |h: &serde_json::Value| {
            doc["delivered"][h.as_str()?]["id"]
                .as_str()
                .map(str::to_owned)
        };
        let mut shown: Vec<String> = p["generators"]
            .as_array()?
            .iter()
            .filter_map(delivered)
            .collect();
        let reference = doc["validator_completion"]["id"]
            .as_str()
            .map(str::to_owned);
        if p["duel"].as_bool()? {
            shown.extend(reference.clone());
        }
        if shown.len() < 2 {
            return None;
        }
        let bad = match p["kind"].as_str()? {
            "trap" => delivered(&p["negative_generator"]).or(reference.clone())?,
            "pvv" => shown
                .iter()
                .find(|c| Some(*c) != reference.as_ref())?
                .clone(),
            _ => shown[1].clone(),
        };
        let good = shown.iter().find(|c| **c != bad)?.clone();
        Some((good, bad))
    }
}

#[tonic::async_trait]
impl MinerRoles for TestMiner {
    async fn assign_generation(
        &self,
        r: Request<v1::GenerationTask>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let id = r.into_inner().task_id;
        Ok(Response::new(v1::TaskAck {
            miner_task_id: match self.policy {
                Policy::Decline => String::new(),
                _ => format!("g-{id}"),
            },
        }))
    }

    async fn fetch_generation(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::GenerationResult>, Status> {
        let task_id = r.into_inner().task_id;
        let page = format!("<html><body>page by {}</body></html>", self.hotkey);
        Ok(Response::new(v1::GenerationResult {
            task_id,
            status: v1::ResultStatus::Complete.into(),
            completion: Some(v1::Completion {
                completion_id: "mine".into(),
                content: Some(v1::completion::Content::Code(v1::CodeAnswer {
                    files: vec![v1::CodeFile {
                        filename: "index.html".into(),
                        content: page,
                        language: "html".into(),
                    }],
                    installation_commands: String::new(),
                })),
            }),
            author: "test".into(),
        }))
    }

    async fn assign_vote(&self, r: Request<v1::VoteTask>) -> Result<Response<v1::TaskAck>, Status> {
        self.assign_generation(Request::new(v1::GenerationTask {
            task_id: r.into_inner().task_id,
            ..Default::default()
        }))
        .await
    }

    async fn fetch_vote(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::VoteResult>, Status> {
        let task_id = r.into_inner().task_id;
        let (good, bad) = self
            .judged(&task_id)
            .await
            .ok_or_else(|| Status::not_found("no such vote task"))?;
        let chosen = match self.policy {
            Policy::Truthful | Policy::Copy(_) => good,
            Policy::Reversed => bad,
            Policy::OutOfRange => "never-shown".into(),
            Policy::Decline => return Err(Status::not_found("declined")),
        };
        Ok(Response::new(v1::VoteResult {
            task_id,
            status: v1::ResultStatus::Complete.into(),
            chosen_completion_id: chosen,
            tally: Default::default(),
        }))
    }
}

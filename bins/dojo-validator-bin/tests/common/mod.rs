//! Test doubles shared by the validator binary's process tests.

use std::sync::{Arc, Mutex};

use dojo_proto::v1::{self, miner_server::Miner};
use tonic::{Request, Response, Status};

/// Task id → the completion ids in the order this miner was shown them.
pub(crate) type Seen = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// Scores completions by the position it was shown them in: 100, 70, 40, 10.
#[derive(Clone, Default)]
pub(crate) struct PositionalMiner {
    pub(crate) seen: Seen,
}

#[tonic::async_trait]
impl Miner for PositionalMiner {
    async fn send_task(
        &self,
        r: Request<v1::SendTaskRequest>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let t = r
            .into_inner()
            .task
            .ok_or_else(|| Status::invalid_argument("no task"))?;
        let ids = t
            .completions
            .iter()
            .map(|c| c.completion_id.clone())
            .collect();
        self.seen.lock().unwrap().push((t.task_id.clone(), ids));
        Ok(Response::new(v1::TaskAck {
            miner_task_id: format!("m-{}", t.task_id),
        }))
    }
    async fn fetch_results(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::TaskResults>, Status> {
        let id = r.into_inner().task_id;
        let seen = self.seen.lock().unwrap();
        let (_, ids) = seen
            .iter()
            .find(|(t, _)| *t == id)
            .ok_or_else(|| Status::not_found("task"))?;
        let answers = ids
            .iter()
            .enumerate()
            .map(|(i, c)| v1::CompletionAnswer {
                completion_id: c.clone(),
                answer: Some(v1::completion_answer::Answer::Score(
                    100.0 - 30.0 * i as f64,
                )),
            })
            .collect();
        Ok(Response::new(v1::TaskResults {
            task_id: id,
            results: vec![v1::WorkerResult {
                worker_id: "w".into(),
                answers,
            }],
            status: v1::ResultStatus::Complete.into(),
        }))
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

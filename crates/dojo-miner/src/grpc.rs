//! The one implementation of the generated tonic `Miner` trait, and of the Dojo v2 roles'
//! `MinerRoles`: converts wire messages with `dojo-proto`, takes the verified [`Caller`] the axon
//! layer attached, and calls [`MinerService`]. Every refusal has its own gRPC status and a
//! message saying why.

use std::time::{SystemTime, UNIX_EPOCH};

use dojo_proto::v1;
use dojo_proto::v1::miner_roles_server::MinerRoles;
use dojo_proto::v1::miner_server::Miner;
use dojo_transport::Caller;
use dojo_types::TaskId;
use dojo_types::task::{GenerationTask, ScoreFeedback, Task, VoteTask};
use tonic::{Request, Response, Status};

use crate::service::{MinerService, ServiceError};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The tonic adapter over a [`MinerService`].
#[derive(Debug, Clone)]
pub struct MinerGrpc {
    service: MinerService,
}

impl MinerGrpc {
    /// Wraps `service`.
    pub fn new(service: MinerService) -> Self {
        MinerGrpc { service }
    }
}

fn caller<T>(r: &Request<T>) -> Result<Caller, Status> {
    // The axon layer inserts the caller after verifying the signature; without it the service
    // was mounted without the layer, which must not answer anyone.
    r.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("request was not verified by the axon layer"))
}

fn to_status(e: ServiceError) -> Status {
    match &e {
        ServiceError::InvalidTask(_) => Status::invalid_argument(e.to_string()),
        ServiceError::AtCapacity(_) => Status::resource_exhausted(e.to_string()),
        ServiceError::UnknownTask { .. } => Status::not_found(e.to_string()),
        ServiceError::Store(inner) => {
            tracing::error!(target: "miner::grpc", error = %inner, "storage failed");
            Status::unavailable("miner storage failed; nothing was recorded")
        }
    }
}

#[tonic::async_trait]
impl Miner for MinerGrpc {
    async fn send_task(
        &self,
        r: Request<v1::SendTaskRequest>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let who = caller(&r)?;
        let task =
            Task::try_from(r.into_inner()).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let ack = self
            .service
            .send_task(&who.hotkey, task, now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(ack.into()))
    }

    async fn fetch_results(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::TaskResults>, Status> {
        let who = caller(&r)?;
        let id = TaskId::new(r.into_inner().task_id)
            .map_err(|e| Status::invalid_argument(format!("task_id: {e}")))?;
        let results = self
            .service
            .fetch_results(&who.hotkey, &id, now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(results.into()))
    }

    async fn send_score_feedback(
        &self,
        r: Request<v1::ScoreFeedback>,
    ) -> Result<Response<v1::FeedbackAck>, Status> {
        let who = caller(&r)?;
        let fb = ScoreFeedback::try_from(r.into_inner())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.service
            .score_feedback(&who.hotkey, fb, now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(v1::FeedbackAck {}))
    }

    async fn heartbeat(
        &self,
        r: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatAck>, Status> {
        caller(&r)?;
        let info = self.service.heartbeat(now_ms()).await.map_err(to_status)?;
        Ok(Response::new(info.into()))
    }

    async fn rank_completions(
        &self,
        r: Request<v1::RankingRequest>,
    ) -> Result<Response<v1::RankingResult>, Status> {
        caller(&r)?;
        Err(Status::unimplemented(
            "RankCompletions (era A) is not served by this miner; send tasks with SendTask",
        ))
    }
}

/// The tonic adapter of the Dojo v2 roles over a [`MinerService`].
#[derive(Debug, Clone)]
pub struct MinerRolesGrpc {
    service: MinerService,
}

impl MinerRolesGrpc {
    /// Wraps `service`.
    pub fn new(service: MinerService) -> Self {
        MinerRolesGrpc { service }
    }
}

fn fetch_id(r: Request<v1::FetchResultsRequest>) -> Result<TaskId, Status> {
    TaskId::new(r.into_inner().task_id)
        .map_err(|e| Status::invalid_argument(format!("task_id: {e}")))
}

#[tonic::async_trait]
impl MinerRoles for MinerRolesGrpc {
    async fn assign_generation(
        &self,
        r: Request<v1::GenerationTask>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let who = caller(&r)?;
        let task = GenerationTask::try_from(r.into_inner())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let ack = self
            .service
            .assign_generation(&who.hotkey, task, now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(ack.into()))
    }

    async fn fetch_generation(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::GenerationResult>, Status> {
        let who = caller(&r)?;
        let id = fetch_id(r)?;
        let result = self
            .service
            .fetch_generation(&who.hotkey, &id, now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(result.into()))
    }

    async fn assign_vote(&self, r: Request<v1::VoteTask>) -> Result<Response<v1::TaskAck>, Status> {
        let who = caller(&r)?;
        let task = VoteTask::try_from(r.into_inner())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let ack = self
            .service
            .assign_vote(&who.hotkey, task, now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(ack.into()))
    }

    async fn fetch_vote(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::VoteResult>, Status> {
        let who = caller(&r)?;
        let id = fetch_id(r)?;
        let result = self
            .service
            .fetch_vote(&who.hotkey, &id, now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(result.into()))
    }
}

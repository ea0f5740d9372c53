//! `mturk`: Amazon Mechanical Turk workers judge the completions.
//!
//! For each task the provider creates one HIT whose question is an `HTMLQuestion` form with one
//! slider (1–100) per completion, then polls `ListAssignmentsForHIT` until the HIT's assignments
//! are all in or the task's deadline passes. Each submitted assignment is parsed (every slider
//! present, finite, in range), approved (`ApproveAssignment`) and handed to the miner as one
//! [`WorkerResult`] (worker id `mturk-<WorkerId>`): a slider value `v` becomes the preference
//! `(v − 1) / 99` and is mapped into the task's criteria by [`answers_from_preferences`], as the
//! automatic providers do. An assignment that cannot be parsed is not stored; it is rejected with
//! the reason as feedback to the worker (`RejectAssignment`), or, with
//! [`MturkConfig::reject_unusable`] off, left to MTurk's auto-approval.
//!
//! The HIT's id is recorded in the miner's store ([`JobLedger`]) as soon as it exists, so a
//! restarted miner polls the same HIT instead of paying for a second one; a crash in the moment
//! between `CreateHIT` and that record is caught by the `UniqueRequestToken` (see
//! `MturkProvider::hit_for`).
//!
//! Requests speak MTurk's JSON 1.1 protocol (`X-Amz-Target: MTurkRequesterServiceV20170117.<Op>`)
//! and are signed with AWS's own SigV4 signer (`aws-sigv4`), service `mturk-requester`. The
//! credentials never appear in logs: their `Debug` output is redacted.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use dojo_types::CompletionId;
use dojo_types::task::{CompletionContent, ScoringMethod, Task, WorkerResult};
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{
    BoxFuture, JobLedger, Provider, ProviderError, answers_from_preferences, check_automatic,
    flatten,
};

/// MTurk's requester sandbox (work is free and nobody is paid).
pub const SANDBOX_ENDPOINT: &str = "https://mturk-requester-sandbox.us-east-1.amazonaws.com";
/// MTurk's production requester endpoint (workers are paid).
pub const PRODUCTION_ENDPOINT: &str = "https://mturk-requester.us-east-1.amazonaws.com";
/// The only region MTurk runs in.
pub const REGION: &str = "us-east-1";
/// The SigV4 service name of the requester API.
pub const SIGNING_NAME: &str = "mturk-requester";
/// Prefix of the `X-Amz-Target` header.
pub const TARGET_PREFIX: &str = "MTurkRequesterServiceV20170117";
/// MTurk's limit on a HIT's question, in characters.
pub const MAX_QUESTION_CHARS: usize = 65_535;
/// Least time before the task's deadline worth a HIT (MTurk's minimum lifetime is 30 s).
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// The endpoint a `--mturk.endpoint` value names: `sandbox`, `production`, or an `http(s)://` URL
/// (a test double, a proxy).
pub fn endpoint_url(spec: &str) -> Result<String, String> {
    match spec {
        "sandbox" => Ok(SANDBOX_ENDPOINT.to_owned()),
        "production" => Ok(PRODUCTION_ENDPOINT.to_owned()),
        url if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        other => Err(format!(
            "unknown MTurk endpoint `{other}` (sandbox | production | an http(s):// URL)"
        )),
    }
}

/// AWS credentials. `Debug` shows none of them.
#[derive(Clone)]
pub struct AwsCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &"<redacted>")
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl AwsCredentials {
    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optional) `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<Self, MturkError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let access_key_id = var("AWS_ACCESS_KEY_ID")
            .ok_or_else(|| MturkError::Credentials("AWS_ACCESS_KEY_ID is not set".to_owned()))?;
        let secret_access_key = var("AWS_SECRET_ACCESS_KEY").ok_or_else(|| {
            MturkError::Credentials("AWS_SECRET_ACCESS_KEY is not set".to_owned())
        })?;
        Ok(Self {
            access_key_id,
            secret_access_key,
            session_token: var("AWS_SESSION_TOKEN"),
        })
    }
}

/// What went wrong talking to MTurk.
#[derive(Debug, thiserror::Error)]
pub enum MturkError {
    /// No usable credentials.
    #[error("AWS credentials: {0}")]
    Credentials(String),
    /// The request could not be signed.
    #[error("signing the request: {0}")]
    Sign(String),
    /// The request did not get an answer.
    #[error("MTurk request {operation} failed: {message}")]
    Http {
        /// The operation.
        operation: &'static str,
        /// What failed.
        message: String,
    },
    /// MTurk refused the request (`__type` is e.g. `RequestError`, `ServiceFault`,
    /// `InvalidSignatureException`).
    #[error("MTurk refused {operation} ({status}, {kind} {turk_code}): {message}")]
    Api {
        /// The operation.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// The error type MTurk named.
        kind: String,
        /// MTurk's own code (`TurkErrorCode`, e.g. `AWS.MechanicalTurk.HitAlreadyExists`), or empty.
        turk_code: String,
        /// Its message.
        message: String,
    },
    /// MTurk answered with something this client does not understand.
    #[error("MTurk answered {operation} with an unreadable body: {message}")]
    BadResponse {
        /// The operation.
        operation: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// A signed client of the MTurk requester API.
#[derive(Clone)]
pub struct MturkClient {
    http: HttpsClient,
    endpoint: String,
    credentials: AwsCredentials,
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

impl fmt::Debug for MturkClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MturkClient")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `CreateHIT`'s request.
#[derive(Debug, Clone, Serialize)]
pub struct CreateHit {
    /// Shown to workers in the HIT list.
    #[serde(rename = "Title")]
    pub title: String,
    /// Shown to workers in the HIT list.
    #[serde(rename = "Description")]
    pub description: String,
    /// Comma-separated search keywords.
    #[serde(rename = "Keywords")]
    pub keywords: String,
    /// US dollars per assignment, as MTurk wants it (`"0.05"`).
    #[serde(rename = "Reward")]
    pub reward: String,
    /// Workers per HIT.
    #[serde(rename = "MaxAssignments")]
    pub max_assignments: u32,
    /// How long the HIT is listed.
    #[serde(rename = "LifetimeInSeconds")]
    pub lifetime_secs: u64,
    /// How long one worker has once they accept.
    #[serde(rename = "AssignmentDurationInSeconds")]
    pub assignment_duration_secs: u64,
    /// After this an unreviewed assignment is approved by MTurk.
    #[serde(rename = "AutoApprovalDelayInSeconds")]
    pub auto_approval_delay_secs: u64,
    /// The `HTMLQuestion` document.
    #[serde(rename = "Question")]
    pub question: String,
    /// Requester-only note (the miner puts the task id there).
    #[serde(rename = "RequesterAnnotation")]
    pub requester_annotation: String,
    /// Makes a retried `CreateHIT` idempotent on MTurk's side (24 h).
    #[serde(rename = "UniqueRequestToken")]
    pub unique_request_token: String,
}

/// The part of a HIT the miner reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Hit {
    /// The HIT id.
    #[serde(rename = "HITId")]
    pub hit_id: String,
    /// `Assignable`, `Unassignable`, `Reviewable`, …
    #[serde(rename = "HITStatus", default)]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreateHitResponse {
    #[serde(rename = "HIT")]
    hit: Hit,
}

/// `GetHIT`'s answer: the HIT with the annotation the miner wrote into it.
#[derive(Debug, Deserialize)]
struct GetHitResponse {
    #[serde(rename = "HIT")]
    hit: HitDetail,
}

#[derive(Debug, Deserialize)]
struct HitDetail {
    #[serde(rename = "HITId")]
    hit_id: String,
    #[serde(rename = "RequesterAnnotation", default)]
    requester_annotation: String,
}

/// MTurk's code for a `CreateHIT` whose `UniqueRequestToken` already made a HIT.
pub const HIT_ALREADY_EXISTS: &str = "AWS.MechanicalTurk.HitAlreadyExists";

/// One worker's assignment.
#[derive(Debug, Clone, Deserialize)]
pub struct Assignment {
    /// The assignment id.
    #[serde(rename = "AssignmentId")]
    pub assignment_id: String,
    /// The worker's MTurk id.
    #[serde(rename = "WorkerId")]
    pub worker_id: String,
    /// `Submitted`, `Approved` or `Rejected`.
    #[serde(rename = "AssignmentStatus")]
    pub status: String,
    /// The `QuestionFormAnswers` XML of the submitted form.
    #[serde(rename = "Answer", default)]
    pub answer: String,
}

#[derive(Debug, Deserialize)]
struct ListAssignmentsResponse {
    #[serde(rename = "NextToken", default)]
    next_token: Option<String>,
    #[serde(rename = "Assignments", default)]
    assignments: Vec<Assignment>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(rename = "Message", alias = "message", default)]
    message: String,
    #[serde(rename = "TurkErrorCode", default)]
    turk_code: String,
}

impl MturkClient {
    /// A client for `endpoint` (see [`endpoint_url`]) signing with `credentials`. HTTPS is rustls
    /// with ring and the platform's certificate verifier.
    pub fn new(endpoint: &str, credentials: AwsCredentials) -> Result<Self, MturkError> {
        use rustls_platform_verifier::BuilderVerifierExt as _;
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| MturkError::Http {
            operation: "client",
            message: e.to_string(),
        })?
        .with_platform_verifier()
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            credentials,
        })
    }

    /// Where requests go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn call<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        body: &serde_json::Value,
    ) -> Result<T, MturkError> {
        let body = serde_json::to_vec(body).map_err(|e| MturkError::Sign(e.to_string()))?;
        let url = format!("{}/", self.endpoint);
        let target = format!("{TARGET_PREFIX}.{operation}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let identity = aws_credential_types::Credentials::new(
            self.credentials.access_key_id.clone(),
            self.credentials.secret_access_key.clone(),
            self.credentials.session_token.clone(),
            None,
            "dojo-miner",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(SIGNING_NAME)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| MturkError::Sign(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| MturkError::Sign(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| MturkError::Sign(e.to_string()))?
            .into_parts();
        let mut request = http::Request::post(&url);
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let request = request
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .map_err(|e| MturkError::Sign(e.to_string()))?;
        let http_err = |message: String| MturkError::Http { operation, message };
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| http_err(e.to_string()))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| http_err(e.to_string()))?
                .to_bytes();
            Ok::<_, MturkError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| http_err(format!("no answer within {REQUEST_TIMEOUT:?}")))??;
        if !status.is_success() {
            let err: ApiError = serde_json::from_slice(&bytes).unwrap_or(ApiError {
                kind: String::new(),
                message: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                turk_code: String::new(),
            });
            // `__type` may carry a namespace: `com.amazonaws.mturk#RequestError`.
            let kind = err.kind.rsplit('#').next().unwrap_or_default().to_owned();
            return Err(MturkError::Api {
                operation,
                status: status.as_u16(),
                kind,
                message: err.message,
                turk_code: err.turk_code,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| MturkError::BadResponse {
            operation,
            message: e.to_string(),
        })
    }

    /// `CreateHIT`.
    pub async fn create_hit(&self, req: &CreateHit) -> Result<Hit, MturkError> {
        let body = serde_json::to_value(req).map_err(|e| MturkError::Sign(e.to_string()))?;
        let r: CreateHitResponse = self.call("CreateHIT", &body).await?;
        Ok(r.hit)
    }

    /// `ListAssignmentsForHIT`, every page, submitted and approved assignments.
    pub async fn list_assignments(&self, hit_id: &str) -> Result<Vec<Assignment>, MturkError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = serde_json::json!({
                "HITId": hit_id,
                "MaxResults": 100,
                "AssignmentStatuses": ["Submitted", "Approved"],
            });
            if let Some(token) = &next {
                body["NextToken"] = serde_json::Value::String(token.clone());
            }
            let page: ListAssignmentsResponse = self.call("ListAssignmentsForHIT", &body).await?;
            out.extend(page.assignments);
            match page.next_token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// `GetHIT`: the HIT's id and requester annotation.
    async fn get_hit(&self, hit_id: &str) -> Result<HitDetail, MturkError> {
        let body = serde_json::json!({ "HITId": hit_id });
        let r: GetHitResponse = self.call("GetHIT", &body).await?;
        Ok(r.hit)
    }

    /// `RejectAssignment` with the reason shown to the worker (no pay).
    pub async fn reject_assignment(
        &self,
        assignment_id: &str,
        feedback: &str,
    ) -> Result<(), MturkError> {
        // MTurk caps requester feedback at 1024 characters.
        let feedback: String = feedback.chars().take(1024).collect();
        let body = serde_json::json!({
            "AssignmentId": assignment_id,
            "RequesterFeedback": feedback,
        });
        let _: serde_json::Value = self.call("RejectAssignment", &body).await?;
        Ok(())
    }

    /// `ApproveAssignment` (pays the worker).
    pub async fn approve_assignment(&self, assignment_id: &str) -> Result<(), MturkError> {
        let body = serde_json::json!({
            "AssignmentId": assignment_id,
            "RequesterFeedback": "Thank you.",
        });
        let _: serde_json::Value = self.call("ApproveAssignment", &body).await?;
        Ok(())
    }
}

/// How HITs are made and watched.
#[derive(Debug, Clone)]
pub struct MturkConfig {
    /// US dollars per assignment (`"0.05"`).
    pub reward: String,
    /// Workers per HIT; also the task's result maximum.
    pub assignments_per_hit: u32,
    /// Longest time a HIT is listed (cut to the task's deadline).
    pub lifetime: Duration,
    /// Time one worker has for one assignment.
    pub assignment_duration: Duration,
    /// MTurk approves an assignment the miner did not review after this.
    pub auto_approval_delay: Duration,
    /// Time between two `ListAssignmentsForHIT` calls for one HIT.
    pub poll_interval: Duration,
    /// HIT title.
    pub title: String,
    /// HIT description.
    pub description: String,
    /// Reject (unpaid, with the reason) a submitted assignment whose form is unusable, instead of
    /// leaving it to MTurk's auto-approval.
    pub reject_unusable: bool,
}

impl Default for MturkConfig {
    fn default() -> Self {
        Self {
            reward: "0.05".to_owned(),
            assignments_per_hit: 3,
            lifetime: Duration::from_secs(3600),
            assignment_duration: Duration::from_secs(600),
            auto_approval_delay: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_secs(30),
            title: "Rate AI responses".to_owned(),
            description:
                "Read a request and a few responses, and rate each response from 1 to 100."
                    .to_owned(),
            reject_unusable: true,
        }
    }
}

/// Checks a reward value as MTurk takes it: dollars with at most two decimals, above zero.
pub fn check_reward(reward: &str) -> Result<(), String> {
    let (units, cents) = reward.split_once('.').unwrap_or((reward, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if units.is_empty() || !digits(units) || !digits(cents) || cents.len() > 2 {
        return Err(format!(
            "reward `{reward}` is not an amount in dollars such as 0.05"
        ));
    }
    if reward.parse::<f64>().map_or(true, |r| r <= 0.0) {
        return Err(format!("reward `{reward}` must be above zero"));
    }
    Ok(())
}

/// Workers on Amazon Mechanical Turk.
#[derive(Debug, Clone)]
pub struct MturkProvider {
    client: MturkClient,
    config: MturkConfig,
}

impl MturkProvider {
    /// A provider creating HITs through `client`.
    pub fn new(client: MturkClient, config: MturkConfig) -> Self {
        Self { client, config }
    }

    fn hit_request(&self, task: &Task, now_ms: i64) -> Result<CreateHit, String> {
        let left = u64::try_from(task.expire_at_unix_ms.saturating_sub(now_ms)).unwrap_or(0) / 1000;
        if left < MIN_LIFETIME.as_secs() {
            return Err(format!(
                "the deadline is {left} s away; a HIT needs at least {} s",
                MIN_LIFETIME.as_secs()
            ));
        }
        let question = question(task);
        if question.chars().count() > MAX_QUESTION_CHARS {
            return Err(format!(
                "the HIT form would be {} characters, over MTurk's {MAX_QUESTION_CHARS}",
                question.chars().count()
            ));
        }
        let lifetime = self.config.lifetime.as_secs().min(left).max(30);
        Ok(CreateHit {
            title: self.config.title.clone(),
            description: self.config.description.clone(),
            keywords: "rating, ai, evaluation".to_owned(),
            reward: self.config.reward.clone(),
            max_assignments: self.config.assignments_per_hit,
            lifetime_secs: lifetime,
            assignment_duration_secs: self.config.assignment_duration.as_secs().min(lifetime),
            auto_approval_delay_secs: self.config.auto_approval_delay.as_secs(),
            question,
            // The token first: it is how a HIT found again after a crash is confirmed as this task's.
            requester_annotation: format!("dojo-miner {} task {}", request_token(task), task.id)
                .chars()
                .take(255)
                .collect(),
            unique_request_token: request_token(task),
        })
    }

    /// The HIT of `task`: the one recorded in `ledger` (a restart resumes it), else a new one,
    /// recorded at once. A crash between `CreateHIT` and the record leaves MTurk holding a HIT the
    /// ledger does not know; the retried `CreateHIT` then fails with [`HIT_ALREADY_EXISTS`], whose
    /// message names the HIT, and the HIT is confirmed by its annotation and adopted.
    async fn hit_for(
        &self,
        task: &Task,
        req: &CreateHit,
        ledger: &dyn JobLedger,
    ) -> Result<String, ProviderError> {
        let backend = |e: MturkError| ProviderError::Backend {
            provider: "mturk",
            message: e.to_string(),
        };
        if let Some(hit) = ledger.handle().await? {
            tracing::info!(target: "miner::mturk", task = %task.id, %hit, "resuming the recorded HIT");
            return Ok(hit);
        }
        let hit = match self.client.create_hit(req).await {
            Ok(hit) => {
                tracing::info!(target: "miner::mturk", task = %task.id, hit = %hit.hit_id, assignments = req.max_assignments, lifetime_secs = req.lifetime_secs, "HIT created");
                hit.hit_id
            }
            Err(MturkError::Api {
                turk_code, message, ..
            }) if turk_code == HIT_ALREADY_EXISTS => {
                let hit = self
                    .adopt(&message, &req.unique_request_token)
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| ProviderError::Backend {
                        provider: "mturk",
                        message: format!(
                            "MTurk holds a HIT for this task but its id could not be confirmed from `{message}`"
                        ),
                    })?;
                tracing::info!(target: "miner::mturk", task = %task.id, %hit, "adopted the HIT created before a crash");
                hit
            }
            Err(e) => return Err(backend(e)),
        };
        ledger.record(&hit).await?;
        Ok(hit)
    }

    /// The HIT named in a `HitAlreadyExists` message whose annotation carries `token`.
    async fn adopt(&self, message: &str, token: &str) -> Result<Option<String>, MturkError> {
        for candidate in hit_ids_in(message) {
            let hit = self.client.get_hit(candidate).await?;
            if hit.requester_annotation.contains(token) {
                return Ok(Some(hit.hit_id));
            }
        }
        Ok(None)
    }
}

/// Words of a message shaped like MTurk ids (upper-case letters and digits, 20 or more).
pub fn hit_ids_in(message: &str) -> Vec<&str> {
    message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            w.len() >= 20
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
        .collect()
}

fn now_ms() -> i64 {
    crate::grpc::now_ms()
}

impl Provider for MturkProvider {
    fn method(&self) -> ScoringMethod {
        ScoringMethod::Mturk
    }

    fn check(&self, task: &Task) -> Result<(), String> {
        check_automatic(task)?;
        self.hit_request(task, now_ms()).map(|_| ())
    }

    fn judge<'a>(
        &'a self,
        _task: &'a Task,
    ) -> BoxFuture<'a, Result<Option<WorkerResult>, ProviderError>> {
        // Answers come one assignment at a time through `collect`.
        Box::pin(async { Ok(None) })
    }

    fn max_results(&self) -> u32 {
        self.config.assignments_per_hit
    }

    fn collect<'a>(
        &'a self,
        task: &'a Task,
        ledger: &'a dyn JobLedger,
        out: tokio::sync::mpsc::Sender<WorkerResult>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let req =
                self.hit_request(task, now_ms())
                    .map_err(|message| ProviderError::BadAnswer {
                        provider: "mturk",
                        message,
                    })?;
            let hit_id = self.hit_for(task, &req, ledger).await?;
            let mut seen = std::collections::HashSet::new();
            loop {
                match self.client.list_assignments(&hit_id).await {
                    Ok(assignments) => {
                        for a in assignments {
                            if !seen.insert(a.assignment_id.clone()) {
                                continue;
                            }
                            match result_from_assignment(task, &a) {
                                Ok(result) => {
                                    // Stored even when approving fails: MTurk auto-approves it later.
                                    if a.status == "Submitted"
                                        && let Err(e) =
                                            self.client.approve_assignment(&a.assignment_id).await
                                    {
                                        tracing::warn!(target: "miner::mturk", assignment = %a.assignment_id, error = %e, "approving failed");
                                    }
                                    if out.send(result).await.is_err() {
                                        return Ok(());
                                    }
                                }
                                Err(reason)
                                    if self.config.reject_unusable && a.status == "Submitted" =>
                                {
                                    let feedback =
                                        format!("The submitted form could not be used: {reason}.");
                                    match self
                                        .client
                                        .reject_assignment(&a.assignment_id, &feedback)
                                        .await
                                    {
                                        Ok(()) => {
                                            tracing::warn!(target: "miner::mturk", task = %task.id, assignment = %a.assignment_id, %reason, "unusable assignment rejected")
                                        }
                                        Err(e) => {
                                            tracing::warn!(target: "miner::mturk", assignment = %a.assignment_id, %reason, error = %e, "unusable assignment; rejecting failed")
                                        }
                                    }
                                }
                                Err(reason) => {
                                    tracing::warn!(target: "miner::mturk", task = %task.id, assignment = %a.assignment_id, %reason, "unusable assignment; not approved");
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(target: "miner::mturk", hit = %hit_id, error = %e, "listing assignments failed; retrying");
                    }
                }
                if seen.len() >= usize::try_from(req.max_assignments).unwrap_or(usize::MAX) {
                    return Ok(());
                }
                let left = task.expire_at_unix_ms.saturating_sub(now_ms());
                if left <= 0 {
                    return Ok(());
                }
                let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
                tokio::time::sleep(self.config.poll_interval.min(left)).await;
            }
        })
    }
}

/// A token that names the task (its id, deadline and completions) so that a retried
/// `CreateHIT` for it is refused by MTurk instead of creating a second HIT. At most 64 chars.
pub fn request_token(task: &Task) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(task.id.as_str().as_bytes());
    h.update(task.expire_at_unix_ms.to_le_bytes());
    for c in &task.completions {
        h.update(c.id.as_str().as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..24])
}

/// The form field of the completion at `index`.
pub fn field_name(index: usize) -> String {
    format!("completion-{index}")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The `HTMLQuestion` document of a task: the prompt, each completion (text escaped, a code page
/// in an `<iframe sandbox="allow-scripts" srcdoc>`) and one slider per completion, posted to
/// MTurk's `externalSubmit`. Every task-supplied character is escaped, `>` included, so nothing
/// can close the CDATA section.
pub fn question(task: &Task) -> String {
    let mut body = String::new();
    body.push_str("<h1>Rate each response from 1 (worst) to 100 (best)</h1>\n");
    body.push_str("<h2>Request</h2>\n<pre class=\"prompt\">");
    body.push_str(&escape(&task.prompt));
    body.push_str("</pre>\n");
    for (i, c) in task.completions.iter().enumerate() {
        let field = field_name(i);
        body.push_str(&format!("<section><h2>Response {}</h2>\n", i + 1));
        match &c.content {
            CompletionContent::Code { files, .. } => {
                let page = files
                    .iter()
                    .find(|f| f.filename.ends_with(".html"))
                    .map(|f| f.content.clone());
                match page {
                    Some(html) => body.push_str(&format!(
                        "<iframe sandbox=\"allow-scripts\" title=\"Response {}\" style=\"width:100%;height:24rem;border:1px solid #999\" srcdoc=\"{}\"></iframe>\n",
                        i + 1,
                        escape(&html)
                    )),
                    None => {
                        body.push_str("<pre>");
                        body.push_str(&escape(&flatten(&c.content)));
                        body.push_str("</pre>\n");
                    }
                }
            }
            other => {
                body.push_str("<pre>");
                body.push_str(&escape(&flatten(other)));
                body.push_str("</pre>\n");
            }
        }
        body.push_str(&format!(
            "<label for=\"{field}\">Score for response {n}</label> \
             <input type=\"range\" min=\"1\" max=\"100\" step=\"1\" value=\"50\" name=\"{field}\" id=\"{field}\" required></section>\n",
            n = i + 1
        ));
    }
    format!(
        "<HTMLQuestion xmlns=\"http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd\">\
<HTMLContent><![CDATA[<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Rate responses</title>\
<style>body{{font-family:sans-serif;max-width:60rem;margin:auto}}pre{{white-space:pre-wrap;background:#f4f4f4;padding:.5rem}}input[type=range]{{width:60%}}</style></head><body>\n\
<form name=\"mturk_form\" method=\"post\" id=\"mturk_form\" action=\"https://www.mturk.com/mturk/externalSubmit\">\n\
<input type=\"hidden\" name=\"assignmentId\" id=\"assignmentId\" value=\"\">\n{body}\
<p><input type=\"submit\" id=\"submitButton\" value=\"Submit\"></p>\n</form>\n\
<script>(function(){{var p=new URLSearchParams(location.search),a=p.get('assignmentId')||'',t=p.get('turkSubmitTo');\
document.getElementById('assignmentId').value=a;if(t)document.getElementById('mturk_form').action=t+'/mturk/externalSubmit';\
if(a===''||a==='ASSIGNMENT_ID_NOT_AVAILABLE')document.getElementById('submitButton').disabled=true;}})();</script>\n\
</body></html>]]></HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>"
    )
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

/// The `(QuestionIdentifier, FreeText)` pairs of a `QuestionFormAnswers` document — the fixed
/// shape MTurk returns for an `HTMLQuestion` form (one `<Answer>` per form field).
pub fn parse_answers(xml: &str) -> Result<Vec<(String, String)>, String> {
    if !xml.contains("QuestionFormAnswers") {
        return Err("the answer is not a QuestionFormAnswers document".to_owned());
    }
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Answer>") {
        let after = &rest[start + "<Answer>".len()..];
        let end = after
            .find("</Answer>")
            .ok_or_else(|| "an <Answer> is not closed".to_owned())?;
        let one = &after[..end];
        let id = between(one, "<QuestionIdentifier>", "</QuestionIdentifier>")
            .ok_or_else(|| "an <Answer> has no QuestionIdentifier".to_owned())?;
        let text = between(one, "<FreeText>", "</FreeText>").unwrap_or("");
        out.push((unescape_xml(id.trim()), unescape_xml(text.trim())));
        rest = &after[end + "</Answer>".len()..];
    }
    Ok(out)
}

/// One assignment as the miner's result: every completion's slider, each a finite number in
/// 1–100, mapped through [`answers_from_preferences`].
pub fn result_from_assignment(task: &Task, a: &Assignment) -> Result<WorkerResult, String> {
    let fields = parse_answers(&a.answer)?;
    let mut prefs: Vec<(CompletionId, f64)> = Vec::with_capacity(task.completions.len());
    for (i, c) in task.completions.iter().enumerate() {
        let name = field_name(i);
        let raw = fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| format!("no score for response {} ({name})", i + 1))?;
        let v: f64 = raw
            .parse()
            .map_err(|_| format!("score `{raw}` for {name} is not a number"))?;
        if !v.is_finite() || !(1.0..=100.0).contains(&v) {
            return Err(format!("score {v} for {name} is outside 1–100"));
        }
        prefs.push((c.id.clone(), (v - 1.0) / 99.0));
    }
    Ok(WorkerResult {
        worker_id: format!("mturk-{}", a.worker_id),
        answers: answers_from_preferences(task, &prefs)?,
    })
}

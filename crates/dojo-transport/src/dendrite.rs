//! Client side: signed calls to many axons at once.
//!
//! Each call is signed for its target axon with a fresh nonce, runs under its own deadline (connect
//! included) and yields a [`CallOutcome`]; one slow or hostile miner costs at most its own
//! timeout. Connections are cached per address and reused; a broadcast runs at most
//! `max_concurrency` calls at a time, each on its own tokio task so signing uses every core.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dojo_identity::Keypair;
use dojo_proto::v1::miner_client::MinerClient;
use dojo_proto::v1::miner_roles_client::MinerRolesClient;
use dojo_types::Hotkey;
use tokio::sync::Semaphore;

use crate::channel::{AxonChannel, ConnectError};
use crate::headers::{self, SignedHeaders};
use crate::reject;

/// Dendrite settings.
#[derive(Debug, Clone)]
pub struct DendriteConfig {
    /// Deadline of one call, connecting included (bittensor's default is 12 s).
    pub timeout: Duration,
    /// Deadline for opening a connection.
    pub connect_timeout: Duration,
    /// Calls in flight at once across a broadcast.
    pub max_concurrency: usize,
    /// Largest accepted response message.
    pub max_response_bytes: usize,
}

impl Default for DendriteConfig {
    fn default() -> Self {
        DendriteConfig {
            timeout: Duration::from_secs(12),
            connect_timeout: Duration::from_secs(3),
            max_concurrency: 256,
            max_response_bytes: 16 << 20,
        }
    }
}

/// A miner's axon: where it listens and which hotkey it signs as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AxonTarget {
    /// Socket address.
    pub addr: SocketAddr,
    /// Axon hotkey (requests are signed for it).
    pub hotkey: Hotkey,
}

/// What became of one call.
#[derive(Debug)]
pub enum CallOutcome<R> {
    /// The axon answered.
    Success {
        /// The response message.
        response: R,
        /// Round-trip time.
        elapsed: Duration,
    },
    /// No answer within the deadline.
    Timeout {
        /// Time spent.
        elapsed: Duration,
    },
    /// No connection could be made.
    Refused {
        /// Why.
        error: String,
        /// Time spent.
        elapsed: Duration,
    },
    /// The axon (or its handler) answered with a non-OK status.
    Rejected {
        /// The status; [`CallOutcome::reject_reason`] gives the axon's machine-readable reason.
        status: tonic::Status,
        /// Time spent.
        elapsed: Duration,
    },
    /// The connection broke during the call, or the call task failed.
    Failed {
        /// Why.
        error: String,
        /// Time spent.
        elapsed: Duration,
    },
}

impl<R> CallOutcome<R> {
    /// Time spent on the call.
    pub fn elapsed(&self) -> Duration {
        match self {
            CallOutcome::Success { elapsed, .. }
            | CallOutcome::Timeout { elapsed }
            | CallOutcome::Refused { elapsed, .. }
            | CallOutcome::Rejected { elapsed, .. }
            | CallOutcome::Failed { elapsed, .. } => *elapsed,
        }
    }

    /// The response, if the call succeeded.
    pub fn success(&self) -> Option<&R> {
        match self {
            CallOutcome::Success { response, .. } => Some(response),
            _ => None,
        }
    }

    /// The axon's `dojo-reject` reason, if it refused the call.
    pub fn reject_reason(&self) -> Option<&str> {
        match self {
            CallOutcome::Rejected { status, .. } => reject::reason_of(status),
            _ => None,
        }
    }

    /// Short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CallOutcome::Success { .. } => "success",
            CallOutcome::Timeout { .. } => "timeout",
            CallOutcome::Refused { .. } => "refused",
            CallOutcome::Rejected { .. } => "rejected",
            CallOutcome::Failed { .. } => "failed",
        }
    }
}

struct Inner {
    keypair: Keypair,
    hotkey: Hotkey,
    uuid: String,
    last_nonce: AtomicU64,
    channels: Mutex<HashMap<SocketAddr, AxonChannel>>,
    limit: Arc<Semaphore>,
    config: DendriteConfig,
}

/// Signs and sends requests to axons. Cheap to clone; clones share connections and the nonce.
#[derive(Clone)]
pub struct Dendrite {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dendrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dendrite")
            .field("hotkey", &self.inner.hotkey.as_str())
            .field("uuid", &self.inner.uuid)
            .finish()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Dendrite {
    /// A dendrite signing with `keypair` (the validator's hotkey). One uuid per instance.
    pub fn new(keypair: Keypair, config: DendriteConfig) -> Self {
        let hotkey = keypair.ss58();
        Dendrite {
            inner: Arc::new(Inner {
                keypair,
                hotkey,
                uuid: uuid::Uuid::new_v4().to_string(),
                last_nonce: AtomicU64::new(0),
                channels: Mutex::default(),
                limit: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
                config,
            }),
        }
    }

    /// Another dendrite with the same key and settings but its own uuid, nonce and connections.
    /// An axon requires nonces from one `(hotkey, uuid)` to arrive in increasing order, so callers
    /// whose concurrent loops may reach the same axon at once give each loop its own.
    pub fn fork(&self) -> Self {
        Self::new(self.inner.keypair.clone(), self.inner.config.clone())
    }

    /// The hotkey requests are signed with.
    pub fn hotkey(&self) -> &Hotkey {
        &self.inner.hotkey
    }

    /// A nonce that is the current time in ns, or one more than the previous if the clock has not
    /// moved (or went back), so nonces from one process strictly increase.
    pub fn next_nonce(&self) -> u64 {
        let now = now_ns();
        let prev = self
            .inner
            .last_nonce
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(now.max(last.saturating_add(1)))
            })
            .unwrap_or(0);
        now.max(prev.saturating_add(1))
    }

    /// Signing headers for sending `message` to the axon with hotkey `axon`.
    pub fn sign<M: prost::Message>(&self, axon: &Hotkey, message: &M) -> SignedHeaders {
        self.sign_hashed(axon, headers::body_hash(&message.encode_to_vec()))
    }

    /// [`Dendrite::sign`] for a message whose body hash is already known: a broadcast encodes and
    /// hashes its message once, not once per target.
    fn sign_hashed(&self, axon: &Hotkey, body_hash: [u8; 32]) -> SignedHeaders {
        let nonce = self.next_nonce();
        let text = headers::signing_message(
            nonce,
            &self.inner.hotkey,
            axon,
            &self.inner.uuid,
            &body_hash,
        );
        SignedHeaders {
            dendrite_hotkey: self.inner.hotkey.clone(),
            uuid: self.inner.uuid.clone(),
            nonce,
            axon_hotkey: axon.clone(),
            body_hash,
            signature: self.inner.keypair.sign(text.as_bytes()),
        }
    }

    /// A tonic request carrying `message` and its signing headers.
    pub fn signed_request<M: prost::Message>(
        &self,
        axon: &Hotkey,
        message: M,
    ) -> tonic::Request<M> {
        let signed = self.sign(axon, &message);
        with_headers(message, &signed)
    }

    fn signed_request_hashed<M>(
        &self,
        axon: &Hotkey,
        message: M,
        body_hash: [u8; 32],
    ) -> tonic::Request<M> {
        let signed = self.sign_hashed(axon, body_hash);
        with_headers(message, &signed)
    }

    async fn channel(&self, addr: SocketAddr) -> Result<AxonChannel, ConnectError> {
        // A connection the axon has since closed (a restart, an idle timeout) is replaced here
        // rather than failing the call that finds it.
        if let Some(c) = self
            .inner
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&addr)
            .filter(|c| !c.is_closed())
        {
            return Ok(c.clone());
        }
        let channel = AxonChannel::connect(addr, self.inner.config.connect_timeout).await?;
        self.inner
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(addr, channel.clone());
        Ok(channel)
    }

    fn forget(&self, addr: SocketAddr) {
        self.inner
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&addr);
    }

    /// One signed call. `call` picks the RPC, e.g. `|mut c, r| async move { c.heartbeat(r).await }`.
    pub async fn call<Req, Resp, F, Fut>(
        &self,
        target: &AxonTarget,
        message: Req,
        call: F,
    ) -> CallOutcome<Resp>
    where
        Req: prost::Message,
        F: FnOnce(MinerClient<AxonChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let body_hash = headers::body_hash(&message.encode_to_vec());
        self.call_hashed(target, message, body_hash, call).await
    }

    /// One signed call to the Dojo v2 roles' `MinerRoles` service, e.g.
    /// `|mut c, r| async move { c.fetch_vote(r).await }`; signing and outcomes as [`Dendrite::call`].
    pub async fn call_roles<Req, Resp, F, Fut>(
        &self,
        target: &AxonTarget,
        message: Req,
        call: F,
    ) -> CallOutcome<Resp>
    where
        Req: prost::Message,
        F: FnOnce(MinerRolesClient<AxonChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let body_hash = headers::body_hash(&message.encode_to_vec());
        self.call_with(target, message, body_hash, call).await
    }

    async fn call_hashed<Req, Resp, F, Fut>(
        &self,
        target: &AxonTarget,
        message: Req,
        body_hash: [u8; 32],
        call: F,
    ) -> CallOutcome<Resp>
    where
        F: FnOnce(MinerClient<AxonChannel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        self.call_with(target, message, body_hash, call).await
    }

    async fn call_with<C: Client, Req, Resp, F, Fut>(
        &self,
        target: &AxonTarget,
        message: Req,
        body_hash: [u8; 32],
        call: F,
    ) -> CallOutcome<Resp>
    where
        F: FnOnce(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let Ok(_slot) = self.inner.limit.clone().acquire_owned().await else {
            return CallOutcome::Failed {
                error: "dendrite closed".to_owned(),
                elapsed: Duration::ZERO,
            };
        };
        let start = Instant::now();
        let timeout = self.inner.config.timeout;
        let attempt = async {
            let channel = match self.channel(target.addr).await {
                Ok(c) => c,
                Err(e) => {
                    return CallOutcome::Refused {
                        error: error_chain(&e),
                        elapsed: start.elapsed(),
                    };
                }
            };
            let mut request = self.signed_request_hashed(&target.hotkey, message, body_hash);
            request.set_timeout(timeout);
            let client = C::new(channel, self.inner.config.max_response_bytes);
            match call(client, request).await {
                Ok(r) => CallOutcome::Success {
                    response: r.into_inner(),
                    elapsed: start.elapsed(),
                },
                // A status built locally from an I/O error has a source; one sent by the axon does not.
                Err(status) if std::error::Error::source(&status).is_some() => {
                    self.forget(target.addr);
                    CallOutcome::Failed {
                        error: error_chain(&status),
                        elapsed: start.elapsed(),
                    }
                }
                // The axon's own deadline handling (from `grpc-timeout`) answers Cancelled/DeadlineExceeded.
                Err(status)
                    if matches!(
                        status.code(),
                        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
                    ) && reject::reason_of(&status).is_none() =>
                {
                    CallOutcome::Timeout {
                        elapsed: start.elapsed(),
                    }
                }
                Err(status) => CallOutcome::Rejected {
                    status,
                    elapsed: start.elapsed(),
                },
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => CallOutcome::Timeout {
                elapsed: start.elapsed(),
            },
        }
    }

    /// Sends `message` to every target concurrently; outcomes come back in target order.
    pub async fn broadcast<Req, Resp, F, Fut>(
        &self,
        targets: &[AxonTarget],
        message: Req,
        call: F,
    ) -> Vec<CallOutcome<Resp>>
    where
        Req: prost::Message + Clone + 'static,
        Resp: Send + 'static,
        F: Fn(MinerClient<AxonChannel>, tonic::Request<Req>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send + 'static,
    {
        // Every target gets the same body: encode and hash it once; only the signature differs.
        let body_hash = headers::body_hash(&message.encode_to_vec());
        let tasks: Vec<_> = targets
            .iter()
            .map(|t| {
                let (me, t, m, f) = (self.clone(), t.clone(), message.clone(), call.clone());
                tokio::spawn(async move { me.call_hashed(&t, m, body_hash, f).await })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.unwrap_or_else(|e| CallOutcome::Failed {
                error: e.to_string(),
                elapsed: Duration::ZERO,
            }));
        }
        out
    }
}

fn with_headers<M>(message: M, signed: &SignedHeaders) -> tonic::Request<M> {
    let mut map = http::HeaderMap::new();
    signed.write(&mut map);
    let mut request = tonic::Request::new(message);
    *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(map);
    request
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// A generated tonic client of a service the axon serves.
trait Client {
    fn new(channel: AxonChannel, max_response_bytes: usize) -> Self;
}

impl Client for MinerClient<AxonChannel> {
    fn new(channel: AxonChannel, max_response_bytes: usize) -> Self {
        MinerClient::new(channel).max_decoding_message_size(max_response_bytes)
    }
}

impl Client for MinerRolesClient<AxonChannel> {
    fn new(channel: AxonChannel, max_response_bytes: usize) -> Self {
        MinerRolesClient::new(channel).max_decoding_message_size(max_response_bytes)
    }
}

//! Server side: a tower layer that admits only signed, fresh, authorised requests.
//!
//! The checks run in a fixed order, cheapest and most decisive first, and nothing is buffered or
//! remembered for a caller until it has proven who it is and that it is registered:
//!
//! 1. well-formed signing headers ([`headers::parse`]; a missing signature is refused),
//! 2. sr25519 signature over `nonce.dendrite.axon.uuid.body_hash`,
//! 3. the axon hotkey in the request is ours,
//! 4. the nonce is within the clock window and newer than the last accepted one from that
//!    `(hotkey, uuid)`,
//! 5. blacklist: registered in the metagraph, stake ≥ minimum, validator permit if required,
//! 6. per-caller token-bucket rate limit,
//! 7. body: size limit, gRPC framing, sha3-256 equal to the signed hash (then the nonce is recorded),
//! 8. stake-priority gate on concurrency (highest stake served first when saturated).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dojo_identity::VerifyingKey;
use dojo_proto::v1::miner_roles_server::{MinerRoles, MinerRolesServer};
use dojo_proto::v1::miner_server::{Miner, MinerServer};
use dojo_types::{Hotkey, Uid};
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use tonic::body::Body;
use tower::{Layer, Service};

use crate::directory::{CallerDirectory, CallerInfo};
use crate::gate::{Gate, Permit};
use crate::headers::{self, SignedHeaders};
use crate::reject::Rejection;

/// Per-caller request rate: a token bucket refilled at `per_second`, holding at most `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: u32,
}

/// Axon settings.
#[derive(Debug, Clone)]
pub struct AxonConfig {
    /// This axon's hotkey; requests signed for another hotkey are refused.
    pub hotkey: Hotkey,
    /// Minimum effective stake of a caller.
    pub min_stake: f64,
    /// Refuse callers without a validator permit.
    pub require_validator_permit: bool,
    /// How old a nonce may be. bittensor allows 4 s of skew plus the request timeout (12 s).
    pub nonce_max_age: Duration,
    /// How far in the future a nonce may be (clock skew).
    pub nonce_max_skew: Duration,
    /// Largest accepted request body (gRPC-framed), in bytes.
    pub max_body_bytes: usize,
    /// How long reading the body may take.
    pub body_timeout: Duration,
    /// Per-caller rate limit.
    pub rate_limit: RateLimit,
    /// Requests handled at once.
    pub max_in_flight: usize,
    /// Requests waiting for a slot; beyond this the lowest-stake one is shed.
    pub max_queued: usize,
    /// How long a request may wait for a slot.
    pub max_queue_wait: Duration,
}

impl AxonConfig {
    /// Defaults for `hotkey`: no stake minimum, 16 s nonce window, 4 MiB bodies, 20 req/s per
    /// caller (burst 40), 64 in flight, 256 queued.
    pub fn new(hotkey: Hotkey) -> Self {
        AxonConfig {
            hotkey,
            min_stake: 0.0,
            require_validator_permit: false,
            nonce_max_age: Duration::from_secs(16),
            nonce_max_skew: Duration::from_secs(4),
            max_body_bytes: 4 << 20,
            body_timeout: Duration::from_secs(10),
            rate_limit: RateLimit {
                per_second: 20.0,
                burst: 40,
            },
            max_in_flight: 64,
            max_queued: 256,
            max_queue_wait: Duration::from_secs(2),
        }
    }
}

/// The verified caller, inserted into the request extensions for handlers
/// (`request.extensions().get::<Caller>()`).
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// Caller hotkey.
    pub hotkey: Hotkey,
    /// Caller uid.
    pub uid: Uid,
    /// Caller stake.
    pub stake: f64,
    /// Caller holds a validator permit.
    pub validator_permit: bool,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

struct State {
    config: AxonConfig,
    directory: Arc<dyn CallerDirectory>,
    nonces: Mutex<NonceBook>,
    buckets: Mutex<HashMap<Hotkey, Bucket>>,
    /// Decoded keys of registered callers; see [`State::verify_signature`].
    keys: Mutex<HashMap<Hotkey, VerifyingKey>>,
    gate: Arc<Gate>,
}

/// Most caller keys kept decoded; a metagraph holds at most 4096 neurons.
const MAX_CACHED_KEYS: usize = 4096;

#[derive(Default)]
struct NonceBook {
    last: HashMap<(Hotkey, String), u64>,
    pruned_at: u64,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl State {
    /// Steps 1–6: everything decidable from the headers alone.
    fn check_headers(
        &self,
        map: &HeaderMap,
        now: u64,
    ) -> Result<(SignedHeaders, CallerInfo), Rejection> {
        let h = headers::parse(map)?;
        if !self.verify_signature(&h) {
            return Err(Rejection::BadSignature {
                hotkey: h.dendrite_hotkey.to_string(),
            });
        }
        if h.axon_hotkey != self.config.hotkey {
            return Err(Rejection::WrongAxon {
                claimed: h.axon_hotkey.to_string(),
                ours: self.config.hotkey.to_string(),
            });
        }
        if h.nonce.saturating_add(nanos(self.config.nonce_max_age)) < now
            || h.nonce > now.saturating_add(nanos(self.config.nonce_max_skew))
        {
            return Err(Rejection::StaleNonce {
                nonce: h.nonce,
                now,
            });
        }
        {
            let book = self.nonces.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(&last) = book.last.get(&(h.dendrite_hotkey.clone(), h.uuid.clone()))
                && h.nonce <= last
            {
                return Err(Rejection::ReplayedNonce {
                    nonce: h.nonce,
                    last,
                });
            }
        }
        let info =
            self.directory
                .lookup(&h.dendrite_hotkey)
                .ok_or_else(|| Rejection::Unregistered {
                    hotkey: h.dendrite_hotkey.to_string(),
                })?;
        if info.stake.is_nan() || info.stake < self.config.min_stake {
            return Err(Rejection::LowStake {
                hotkey: h.dendrite_hotkey.to_string(),
                stake: info.stake,
                min: self.config.min_stake,
            });
        }
        if self.config.require_validator_permit && !info.validator_permit {
            return Err(Rejection::NoValidatorPermit {
                hotkey: h.dendrite_hotkey.to_string(),
            });
        }
        self.take_token(&h.dendrite_hotkey)?;
        Ok((h, info))
    }

    /// Checks the signature with the caller's decoded key. Only registered callers' keys are kept
    /// (an unregistered flood cannot grow the cache), and the cache starts over when full.
    fn verify_signature(&self, h: &SignedHeaders) -> bool {
        let message = h.message();
        let cached = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&h.dendrite_hotkey)
            .cloned();
        if let Some(key) = cached {
            return key.verify(message.as_bytes(), &h.signature);
        }
        let Some(key) = VerifyingKey::from_hotkey(&h.dendrite_hotkey) else {
            return false;
        };
        let ok = key.verify(message.as_bytes(), &h.signature);
        if ok && self.directory.lookup(&h.dendrite_hotkey).is_some() {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            if keys.len() >= MAX_CACHED_KEYS {
                keys.clear();
            }
            keys.insert(h.dendrite_hotkey.clone(), key);
        }
        ok
    }

    fn take_token(&self, hotkey: &Hotkey) -> Result<(), Rejection> {
        let RateLimit { per_second, burst } = self.config.rate_limit;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        // Only registered callers get here, so the map is bounded by the metagraph size.
        let b = buckets.entry(hotkey.clone()).or_insert(Bucket {
            tokens: f64::from(burst),
            at: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * per_second).min(f64::from(burst));
        b.at = now;
        if b.tokens < 1.0 {
            return Err(Rejection::RateLimited {
                hotkey: hotkey.to_string(),
                per_second,
            });
        }
        b.tokens -= 1.0;
        Ok(())
    }

    /// Records the nonce of a fully verified request. Re-checks under the lock so two copies of
    /// one request racing through the earlier steps cannot both pass.
    fn commit_nonce(&self, h: &SignedHeaders, now: u64) -> Result<(), Rejection> {
        let max_age = nanos(self.config.nonce_max_age);
        let mut book = self.nonces.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = book
            .last
            .entry((h.dendrite_hotkey.clone(), h.uuid.clone()))
            .or_insert(0);
        if h.nonce <= *entry {
            return Err(Rejection::ReplayedNonce {
                nonce: h.nonce,
                last: *entry,
            });
        }
        *entry = h.nonce;
        // Entries older than the window can go: their replays are refused as stale anyway.
        if now.saturating_sub(book.pruned_at) > max_age {
            book.last.retain(|_, n| n.saturating_add(max_age) >= now);
            book.pruned_at = now;
        }
        Ok(())
    }

    async fn read_body(&self, body: Body, h: &SignedHeaders) -> Result<Bytes, Rejection> {
        let limit = self.config.max_body_bytes;
        let collected = tokio::time::timeout(
            self.config.body_timeout,
            Limited::new(body, limit).collect(),
        )
        .await
        .map_err(|_| Rejection::MalformedBody("body not received in time"))?;
        let bytes = match collected {
            Ok(c) => c.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Rejection::BodyTooLarge { limit });
            }
            Err(_) => return Err(Rejection::MalformedBody("body stream failed")),
        };
        if headers::framed_body_hash(&bytes)? != h.body_hash {
            return Err(Rejection::BodyHashMismatch);
        }
        Ok(bytes)
    }

    async fn admit(
        &self,
        map: &HeaderMap,
        body: Body,
    ) -> Result<(Caller, Bytes, Permit), Rejection> {
        let now = now_ns();
        let (h, info) = self.check_headers(map, now)?;
        let bytes = self.read_body(body, &h).await?;
        self.commit_nonce(&h, now)?;
        let permit = self.gate.acquire(info.stake).await?;
        let caller = Caller {
            hotkey: h.dendrite_hotkey,
            uid: info.uid,
            stake: info.stake,
            validator_permit: info.validator_permit,
        };
        Ok((caller, bytes, permit))
    }
}

/// The axon's tower layer: wrap a tonic router (or [`Server::builder().layer`]) with it.
///
/// [`Server::builder().layer`]: tonic::transport::Server::layer
#[derive(Clone)]
pub struct AxonLayer {
    state: Arc<State>,
}

impl std::fmt::Debug for AxonLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxonLayer")
            .field("hotkey", &self.state.config.hotkey.as_str())
            .finish_non_exhaustive()
    }
}

impl AxonLayer {
    /// A layer checking requests against `config`, with callers looked up in `directory`.
    pub fn new(config: AxonConfig, directory: Arc<dyn CallerDirectory>) -> Self {
        let gate = Gate::new(
            config.max_in_flight,
            config.max_queued,
            config.max_queue_wait,
        );
        AxonLayer {
            state: Arc::new(State {
                config,
                directory,
                nonces: Mutex::default(),
                buckets: Mutex::default(),
                keys: Mutex::default(),
                gate,
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &AxonConfig {
        &self.state.config
    }
}

impl<S> Layer<S> for AxonLayer {
    type Service = AxonService<S>;
    fn layer(&self, inner: S) -> AxonService<S> {
        AxonService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// Service produced by [`AxonLayer`].
#[derive(Clone)]
pub struct AxonService<S> {
    inner: S,
    state: Arc<State>,
}

impl<S> std::fmt::Debug for AxonService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxonService").finish_non_exhaustive()
    }
}

impl<S> Service<Request<Body>> for AxonService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let state = self.state.clone();
        // The clone-and-swap dance keeps the instance that was polled ready (tower's guidance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            match state.admit(&parts.headers, body).await {
                Ok((caller, bytes, permit)) => {
                    tracing::trace!(target: "transport::axon", caller = %caller.hotkey, path = %parts.uri.path(), "admitted");
                    let mut req = Request::from_parts(parts, Body::new(Full::new(bytes)));
                    req.extensions_mut().insert(caller);
                    let resp = inner.call(req).await;
                    drop(permit);
                    resp
                }
                Err(rejection) => {
                    tracing::debug!(
                        target: "transport::axon",
                        reason = rejection.reason(),
                        path = %parts.uri.path(),
                        %rejection,
                        "refused request"
                    );
                    Ok(rejection.to_status().into_http())
                }
            }
        })
    }
}

/// Serves `miner` behind `layer` on `listener` until `shutdown` resolves.
///
/// Accepted sockets get `TCP_NODELAY` (small gRPC frames must not wait for Nagle), and each
/// HTTP/2 connection is capped at 256 concurrent streams and probed by keepalive pings so dead
/// validators do not hold connections forever.
pub async fn serve_miner<M: Miner>(
    miner: M,
    listener: tokio::net::TcpListener,
    layer: AxonLayer,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve(miner, None::<NoRoles>, listener, layer, shutdown).await
}

/// [`serve_miner`] plus the Dojo v2 roles' `MinerRoles` service on the same port, behind the same
/// layer (a request to either service passes the same checks).
pub async fn serve_miner_with_roles<M: Miner, R: MinerRoles>(
    miner: M,
    roles: R,
    listener: tokio::net::TcpListener,
    layer: AxonLayer,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve(miner, Some(roles), listener, layer, shutdown).await
}

/// Stands in for the roles service of a miner that serves none; never constructed.
enum NoRoles {}

#[tonic::async_trait]
impl MinerRoles for NoRoles {
    async fn assign_generation(
        &self,
        _: tonic::Request<dojo_proto::v1::GenerationTask>,
    ) -> Result<tonic::Response<dojo_proto::v1::TaskAck>, tonic::Status> {
        match *self {}
    }
    async fn fetch_generation(
        &self,
        _: tonic::Request<dojo_proto::v1::FetchResultsRequest>,
    ) -> Result<tonic::Response<dojo_proto::v1::GenerationResult>, tonic::Status> {
        match *self {}
    }
    async fn assign_vote(
        &self,
        _: tonic::Request<dojo_proto::v1::VoteTask>,
    ) -> Result<tonic::Response<dojo_proto::v1::TaskAck>, tonic::Status> {
        match *self {}
    }
    async fn fetch_vote(
        &self,
        _: tonic::Request<dojo_proto::v1::FetchResultsRequest>,
    ) -> Result<tonic::Response<dojo_proto::v1::VoteResult>, tonic::Status> {
        match *self {}
    }
}

async fn serve<M: Miner, R: MinerRoles>(
    miner: M,
    roles: Option<R>,
    listener: tokio::net::TcpListener,
    layer: AxonLayer,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let max = layer.config().max_body_bytes;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .max_concurrent_streams(Some(256))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .layer(layer)
        .add_service(MinerServer::new(miner).max_decoding_message_size(max))
        .add_optional_service(
            roles.map(|r| MinerRolesServer::new(r).max_decoding_message_size(max)),
        )
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

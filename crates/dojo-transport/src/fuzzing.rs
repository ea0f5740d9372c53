//! Entry points shared by the `cargo fuzz` targets (`fuzz/`) and the property tests.
//!
//! [`headers`] and [`proto`] feed arbitrary bytes to everything that parses remote input and check
//! that nothing panics. [`admission`] starts from a structurally valid request (real sr25519
//! signature, fresh nonce, registered caller), applies one [`Mutation`] and returns what the axon
//! layer decided, so callers can check it against [`expected`]: random bytes alone almost never
//! get past the header parser, let alone to the accept path.

use dojo_proto::v1;
use prost::Message;

/// Builds a header map from `data` (`name\0value\0` pairs) and runs the header parser and
/// the gRPC frame parser over it. Returns whether the headers parsed (and round-tripped).
pub fn headers(data: &[u8]) -> bool {
    let mut map = http::HeaderMap::new();
    let mut parts = data.split(|b| *b == 0);
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            map.append(n, v);
        }
    }
    let _ = crate::headers::framed_body_hash(data);
    let Ok(h) = crate::headers::parse(&map) else {
        return false;
    };
    // A parsed header set must re-serialise to something that parses to the same thing.
    let mut again = http::HeaderMap::new();
    h.write(&mut again);
    assert_eq!(
        crate::headers::parse(&again).ok(),
        Some(h),
        "header round trip"
    );
    true
}

/// Encodes a header map in the byte format [`headers`] reads (`name\0value\0` pairs).
pub fn encode_headers(map: &http::HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in map {
        out.extend_from_slice(name.as_str().as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

/// Decodes `data` as every request and response message of `dojo.v1`, and converts what decodes
/// into domain types.
pub fn proto(data: &[u8]) {
    if let Ok(m) = v1::SendTaskRequest::decode(data) {
        let _ = dojo_types::task::Task::try_from(m);
    }
    if let Ok(m) = v1::TaskAck::decode(data) {
        let _ = dojo_types::task::TaskAck::try_from(m);
    }
    if let Ok(m) = v1::TaskResults::decode(data) {
        let _ = dojo_types::task::TaskResults::try_from(m);
    }
    if let Ok(m) = v1::ScoreFeedback::decode(data) {
        let _ = dojo_types::task::ScoreFeedback::try_from(m);
    }
    if let Ok(m) = v1::RankingRequest::decode(data) {
        let _ = dojo_types::task::RankingRequest::try_from(m);
    }
    if let Ok(m) = v1::RankingResult::decode(data) {
        let _ = dojo_types::task::RankingResult::try_from(m);
    }
    let _ = v1::HeartbeatAck::decode(data);
    let _ = v1::FetchResultsRequest::decode(data);
}

/// A signing header, for mutations that target one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// [`headers::DENDRITE_HOTKEY`](crate::headers::DENDRITE_HOTKEY).
    DendriteHotkey,
    /// [`headers::DENDRITE_UUID`](crate::headers::DENDRITE_UUID).
    Uuid,
    /// [`headers::DENDRITE_NONCE`](crate::headers::DENDRITE_NONCE).
    Nonce,
    /// [`headers::DENDRITE_SIGNATURE`](crate::headers::DENDRITE_SIGNATURE).
    Signature,
    /// [`headers::AXON_HOTKEY`](crate::headers::AXON_HOTKEY).
    AxonHotkey,
    /// [`headers::BODY_HASH`](crate::headers::BODY_HASH).
    BodyHash,
}

impl Header {
    /// Every signing header.
    pub const ALL: [Header; 6] = [
        Header::DendriteHotkey,
        Header::Uuid,
        Header::Nonce,
        Header::Signature,
        Header::AxonHotkey,
        Header::BodyHash,
    ];

    /// The header's name on the wire.
    pub fn name(self) -> &'static str {
        use crate::headers as h;
        match self {
            Header::DendriteHotkey => h::DENDRITE_HOTKEY,
            Header::Uuid => h::DENDRITE_UUID,
            Header::Nonce => h::DENDRITE_NONCE,
            Header::Signature => h::DENDRITE_SIGNATURE,
            Header::AxonHotkey => h::AXON_HOTKEY,
            Header::BodyHash => h::BODY_HASH,
        }
    }
}

/// Who signs an admission case's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// Registered, stake above the minimum, validator permit.
    Validator,
    /// Registered, stake above the minimum, no validator permit.
    Miner,
    /// Registered, stake below the minimum.
    Minnow,
    /// Not registered.
    Stranger,
}

/// What is done to a structurally valid, properly signed request before the axon sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// Nothing: the request must be admitted.
    None,
    /// The header is left out.
    Drop(Header),
    /// The header is sent twice.
    Repeat(Header),
    /// A character no valid value of that header contains is appended to it.
    Garble(Header),
    /// One bit of the signature is flipped (`byte % 64`, `bit % 8`).
    FlipSignatureBit {
        /// Byte index, taken modulo 64.
        byte: u8,
        /// Bit index, taken modulo 8.
        bit: u8,
    },
    /// The claimed caller is the validator but another key signed.
    ForeignSignature,
    /// The nonce header is raised by `by` (≥ 1) after signing.
    AlterSignedNonce {
        /// Added to the nonce.
        by: u32,
    },
    /// Signed for another axon hotkey.
    WrongAxon,
    /// Nonce older than the window by `extra_ms` plus one second.
    StaleNonce {
        /// Milliseconds beyond the window.
        extra_ms: u32,
    },
    /// Nonce further in the future than the allowed skew.
    FutureNonce {
        /// Milliseconds beyond the skew.
        extra_ms: u32,
    },
    /// The request is admitted once and then sent again unchanged.
    Replay,
    /// A request is admitted, then another one with an older (still fresh) nonce is sent.
    OlderNonce {
        /// How much older, in nanoseconds (≥ 1).
        by_ns: u32,
    },
    /// The caller is required to hold a validator permit.
    RequirePermit,
    /// The caller has a burst of `burst` (≥ 1) requests and sends one more.
    ExceedRate {
        /// Burst size, 1..=8 after clamping.
        burst: u8,
    },
    /// The body limit is set below the request's framed size by `under` (≥ 1) bytes.
    Oversize {
        /// Bytes under the framed size.
        under: u16,
    },
    /// One payload byte is changed after signing.
    TamperBody {
        /// Payload index, modulo the payload length.
        at: u16,
        /// XOR mask, at least 1.
        mask: u8,
    },
    /// The first frame's flag claims compression.
    CompressedFrame,
    /// The body is cut inside its last frame.
    TruncateFrame {
        /// Bytes cut, at least 1 and less than the framed length.
        cut: u16,
    },
    /// Another request holds the only slot and no queue is allowed.
    Saturate,
}

/// A structurally valid request and what is done to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionCase {
    /// Who signs and claims to call.
    pub signer: Signer,
    /// Caller uuid (`[A-Za-z0-9-]{1,64}`).
    pub uuid: String,
    /// How old the nonce is, in milliseconds; clamped to 8 000 so it stays inside the 16 s window
    /// with room for the older-nonce mutation.
    pub nonce_age_ms: u32,
    /// Task id of the `SendTaskRequest` body.
    pub task_id: String,
    /// Prompt of the `SendTaskRequest` body.
    pub prompt: String,
    /// The mutation.
    pub mutation: Mutation,
}

/// How the axon answered: admitted, or refused with [`Rejection::reason`](crate::Rejection::reason).
pub type Outcome = Result<(), String>;

/// What a case must produce: `None` for admission, else the rejection reason.
pub fn expected(case: &AdmissionCase) -> Option<&'static str> {
    let by_signer = match case.signer {
        Signer::Validator | Signer::Miner => None,
        Signer::Minnow => Some("low-stake"),
        Signer::Stranger => Some("unregistered"),
    };
    match case.mutation {
        Mutation::Drop(Header::Signature) => Some("missing-signature"),
        Mutation::Drop(_) | Mutation::Repeat(_) | Mutation::Garble(_) => Some("malformed-header"),
        Mutation::FlipSignatureBit { .. }
        | Mutation::ForeignSignature
        | Mutation::AlterSignedNonce { .. } => Some("bad-signature"),
        Mutation::WrongAxon => Some("wrong-axon"),
        Mutation::StaleNonce { .. } | Mutation::FutureNonce { .. } => Some("stale-nonce"),
        // The checks before these pass for any signer; the caller checks then decide.
        Mutation::Replay | Mutation::OlderNonce { .. } => by_signer.or(Some("replayed-nonce")),
        Mutation::RequirePermit => by_signer.or(match case.signer {
            Signer::Miner => Some("no-validator-permit"),
            _ => None,
        }),
        Mutation::ExceedRate { .. } => by_signer.or(Some("rate-limited")),
        Mutation::Oversize { .. } => by_signer.or(Some("body-too-large")),
        Mutation::TamperBody { .. } => by_signer.or(Some("body-hash-mismatch")),
        Mutation::CompressedFrame | Mutation::TruncateFrame { .. } => {
            by_signer.or(Some("malformed-body"))
        }
        Mutation::Saturate => by_signer.or(Some("saturated")),
        Mutation::None => by_signer,
    }
}

struct Keys {
    axon: dojo_identity::Keypair,
    other_axon: dojo_identity::Keypair,
    validator: dojo_identity::Keypair,
    miner: dojo_identity::Keypair,
    minnow: dojo_identity::Keypair,
    stranger: dojo_identity::Keypair,
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let k = |uri: &str| dojo_identity::Keypair::from_uri(uri).expect("dev key");
        Keys {
            axon: k("//FuzzAxon"),
            other_axon: k("//FuzzOtherAxon"),
            validator: k("//FuzzValidator"),
            miner: k("//FuzzMiner"),
            minnow: k("//FuzzMinnow"),
            stranger: k("//FuzzStranger"),
        }
    })
}

const MIN_STAKE: f64 = 1_000.0;

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn grpc_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(0);
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

struct Prepared {
    map: http::HeaderMap,
    body: Vec<u8>,
}

/// Builds the signed request of `case` with `nonce`, then applies the header and body mutations.
fn prepare(case: &AdmissionCase, nonce: u64) -> Prepared {
    use crate::headers::{SignedHeaders, body_hash, signing_message};
    let k = keys();
    let signer = match case.signer {
        Signer::Validator => &k.validator,
        Signer::Miner => &k.miner,
        Signer::Minnow => &k.minnow,
        Signer::Stranger => &k.stranger,
    };
    let axon = if case.mutation == Mutation::WrongAxon {
        &k.other_axon
    } else {
        &k.axon
    };
    let request = v1::SendTaskRequest {
        task: Some(v1::Task {
            task_id: case.task_id.clone(),
            prompt: case.prompt.clone(),
            ..Default::default()
        }),
    };
    let payload = request.encode_to_vec();
    let hash = body_hash(&payload);
    let claimed = if case.mutation == Mutation::ForeignSignature {
        k.validator.ss58()
    } else {
        signer.ss58()
    };
    let key = if case.mutation == Mutation::ForeignSignature {
        &k.stranger
    } else {
        signer
    };
    let message = signing_message(nonce, &claimed, &axon.ss58(), &case.uuid, &hash);
    let mut signed = SignedHeaders {
        dendrite_hotkey: claimed,
        uuid: case.uuid.clone(),
        nonce,
        axon_hotkey: axon.ss58(),
        body_hash: hash,
        signature: key.sign(message.as_bytes()),
    };
    match case.mutation {
        Mutation::FlipSignatureBit { byte, bit } => {
            signed.signature[usize::from(byte % 64)] ^= 1 << (bit % 8);
        }
        Mutation::AlterSignedNonce { by } => signed.nonce += u64::from(by.max(1)),
        _ => {}
    }
    let mut map = http::HeaderMap::new();
    signed.write(&mut map);
    match case.mutation {
        Mutation::Drop(h) => {
            map.remove(h.name());
        }
        Mutation::Repeat(h) => {
            if let Some(v) = map.get(h.name()).cloned() {
                map.append(h.name(), v);
            }
        }
        Mutation::Garble(h) => {
            if let Some(v) = map.get(h.name()).and_then(|v| v.to_str().ok()) {
                // '!' is outside base58, hex, decimal and the uuid alphabet alike.
                let garbled = format!("{v}!");
                if let Ok(v) = http::HeaderValue::from_str(&garbled) {
                    map.insert(h.name(), v);
                }
            }
        }
        _ => {}
    }
    let mut body = grpc_frame(&payload);
    match case.mutation {
        Mutation::TamperBody { at, mask } if !payload.is_empty() => {
            let i = 5 + usize::from(at) % payload.len();
            body[i] ^= mask.max(1);
        }
        Mutation::CompressedFrame => body[0] = 1,
        Mutation::TruncateFrame { cut } => {
            // Keep at least one byte so the body is not an (empty, valid) zero-frame stream.
            let cut = usize::from(cut.max(1)).min(body.len() - 1);
            body.truncate(body.len() - cut);
        }
        _ => {}
    }
    Prepared { map, body }
}

type Held = std::sync::Arc<tokio::sync::Semaphore>;

/// Sends one prepared request through `service` and reads the outcome off the response.
async fn send<S>(service: &mut S, p: Prepared) -> Outcome
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
        >,
    S::Error: std::fmt::Debug,
{
    use tower::ServiceExt;
    let mut req = http::Request::builder()
        .method("POST")
        .uri("/dojo.v1.Miner/SendTask")
        .body(tonic::body::Body::new(http_body_util::Full::new(
            bytes::Bytes::from(p.body),
        )))
        .map_err(|e| e.to_string())?;
    *req.headers_mut() = p.map;
    let resp = service
        .ready()
        .await
        .map_err(|e| format!("{e:?}"))?
        .call(req)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if resp.headers().contains_key("x-admitted") {
        return Ok(());
    }
    Err(resp
        .headers()
        .get(crate::reject::REJECT_REASON)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no reason")
        .to_owned())
}

/// Runs `case` against a fresh axon layer (real sr25519 keys, a metagraph of the four signers,
/// an inner service that checks it received the verified caller) and reports the outcome of the
/// mutated request. Requests a mutation needs to be admitted first (the replayed original, the
/// burst, the slot holder) must be admitted, else that is the outcome.
pub fn admission(case: &AdmissionCase) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(admission_async(case))
}

async fn admission_async(case: &AdmissionCase) -> Outcome {
    use crate::{AxonConfig, AxonLayer, CallerInfo, MetagraphCache, RateLimit};
    use dojo_types::Uid;
    use std::sync::Arc;
    use tower::Layer;
    let k = keys();
    let mut config = AxonConfig::new(k.axon.ss58());
    config.min_stake = MIN_STAKE;
    config.require_validator_permit = case.mutation == Mutation::RequirePermit;
    if let Mutation::ExceedRate { burst } = case.mutation {
        config.rate_limit = RateLimit {
            per_second: 1e-9,
            burst: u32::from(burst.clamp(1, 8)),
        };
    }
    if case.mutation == Mutation::Saturate {
        config.max_in_flight = 1;
        config.max_queued = 0;
    }
    let probe = prepare(case, now_ns());
    if let Mutation::Oversize { under } = case.mutation {
        config.max_body_bytes = probe.body.len().saturating_sub(usize::from(under.max(1)));
    }
    let info = |uid, stake, validator_permit| CallerInfo {
        uid: Uid(uid),
        stake,
        validator_permit,
    };
    let directory = Arc::new(MetagraphCache::new());
    directory.replace(
        1,
        [
            (k.validator.ss58(), info(0, 10.0 * MIN_STAKE, true)),
            (k.miner.ss58(), info(1, 2.0 * MIN_STAKE, false)),
            (k.minnow.ss58(), info(2, MIN_STAKE / 2.0, false)),
        ],
    );
    let layer = AxonLayer::new(config, directory);
    let hold: Held = Arc::new(tokio::sync::Semaphore::new(0));
    let entered = Arc::new(tokio::sync::Notify::new());
    let holding = case.mutation == Mutation::Saturate;
    let inner = {
        let (hold, entered) = (hold.clone(), entered.clone());
        tower::service_fn(move |req: http::Request<tonic::body::Body>| {
            let (hold, entered) = (hold.clone(), entered.clone());
            async move {
                let admitted = req.extensions().get::<crate::Caller>().is_some();
                if holding {
                    entered.notify_one();
                    let _ = hold.acquire().await;
                }
                let mut resp = http::Response::new(tonic::body::Body::empty());
                if admitted {
                    resp.headers_mut()
                        .insert("x-admitted", http::HeaderValue::from_static("1"));
                }
                Ok::<_, std::convert::Infallible>(resp)
            }
        })
    };
    let mut service = layer.layer(inner);
    let nonce = now_ns().saturating_sub(u64::from(case.nonce_age_ms.min(8_000)) * 1_000_000);
    let window = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let cfg = layer.config().clone();
    match case.mutation {
        Mutation::StaleNonce { extra_ms } => {
            let n = now_ns()
                - window(cfg.nonce_max_age)
                - 1_000_000_000
                - u64::from(extra_ms % 60_000) * 1_000_000;
            send(&mut service, prepare(case, n)).await
        }
        Mutation::FutureNonce { extra_ms } => {
            let n = now_ns()
                + window(cfg.nonce_max_skew)
                + 1_000_000_000
                + u64::from(extra_ms % 60_000) * 1_000_000;
            send(&mut service, prepare(case, n)).await
        }
        Mutation::Replay => {
            let p = prepare(case, nonce);
            let again = Prepared {
                map: p.map.clone(),
                body: p.body.clone(),
            };
            send(&mut service, p).await?;
            send(&mut service, again).await
        }
        Mutation::OlderNonce { by_ns } => {
            send(&mut service, prepare(case, nonce)).await?;
            send(&mut service, prepare(case, nonce - u64::from(by_ns.max(1)))).await
        }
        Mutation::ExceedRate { burst } => {
            for i in 0..u64::from(burst.clamp(1, 8)) {
                send(&mut service, prepare(case, nonce + i)).await?;
            }
            send(&mut service, prepare(case, nonce + 100)).await
        }
        Mutation::Saturate => {
            let mut first = service.clone();
            let mut holder = tokio::spawn({
                let p = prepare(case, nonce);
                async move { send(&mut first, p).await }
            });
            // Wait until the holder is inside the handler (or was refused on its way there).
            tokio::select! {
                () = entered.notified() => {}
                r = &mut holder => {
                    // Refused on its way in (e.g. by the caller checks): that is the outcome.
                    let r = r.map_err(|e| e.to_string())?;
                    return r.and(Err("slot holder finished without holding".to_owned()));
                }
            }
            let second = send(&mut service, prepare(case, nonce + 1)).await;
            hold.add_permits(1);
            // The slot holder itself must have been admitted.
            holder.await.map_err(|e| e.to_string())??;
            second
        }
        _ => send(&mut service, prepare(case, nonce)).await,
    }
}

/// Runs `case` and panics unless the outcome is the [`expected`] one; returns the outcome.
pub fn check_admission(case: &AdmissionCase) -> Outcome {
    let got = admission(case);
    let want = expected(case).map_or(Ok(()), |r| Err(r.to_owned()));
    assert_eq!(got, want, "{case:?}");
    got
}

/// Reads an [`AdmissionCase`] from arbitrary bytes, for the `admission` fuzz target: every input
/// is a valid request plus one mutation, so the fuzzer spends its time past the header parser.
pub fn admission_case(data: &[u8]) -> AdmissionCase {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let word = |i: usize| u16::from_le_bytes([byte(i), byte(i + 1)]);
    let header = Header::ALL[usize::from(byte(2)) % Header::ALL.len()];
    let mutation = match byte(1) % 20 {
        0 => Mutation::None,
        1 => Mutation::Drop(header),
        2 => Mutation::Repeat(header),
        3 => Mutation::Garble(header),
        4 => Mutation::FlipSignatureBit {
            byte: byte(3),
            bit: byte(4),
        },
        5 => Mutation::ForeignSignature,
        6 => Mutation::AlterSignedNonce {
            by: u32::from(word(3)).max(1),
        },
        7 => Mutation::WrongAxon,
        8 => Mutation::StaleNonce {
            extra_ms: u32::from(word(3)),
        },
        9 => Mutation::FutureNonce {
            extra_ms: u32::from(word(3)),
        },
        10 => Mutation::Replay,
        11 => Mutation::OlderNonce {
            by_ns: u32::from(word(3)).max(1),
        },
        12 => Mutation::RequirePermit,
        13 => Mutation::ExceedRate { burst: byte(3) },
        14 => Mutation::Oversize { under: word(3) },
        15 => Mutation::TamperBody {
            at: word(3),
            mask: byte(5),
        },
        16 => Mutation::CompressedFrame,
        17 => Mutation::TruncateFrame { cut: word(3) },
        18 => Mutation::Saturate,
        _ => Mutation::None,
    };
    let signer = [
        Signer::Validator,
        Signer::Miner,
        Signer::Minnow,
        Signer::Stranger,
    ][usize::from(byte(0)) % 4];
    let rest = data.get(6..).unwrap_or(&[]);
    let uuid: String = rest
        .iter()
        .take(64)
        .map(|b| {
            const ALPHABET: &[u8] =
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
            char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])
        })
        .collect();
    AdmissionCase {
        signer,
        uuid: if uuid.is_empty() {
            "u".to_owned()
        } else {
            uuid
        },
        nonce_age_ms: u32::from(word(4)),
        task_id: hex::encode(rest.get(..rest.len().min(16)).unwrap_or(&[])),
        prompt: String::from_utf8_lossy(rest).into_owned(),
        mutation,
    }
}

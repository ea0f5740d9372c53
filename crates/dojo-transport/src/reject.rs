//! Why the axon refused a request, and how each refusal looks on the wire.
//!
//! Every variant maps to its own gRPC code where the code space allows, and always to its own
//! machine-readable reason in the `dojo-reject` response metadata, so a dendrite (or an operator
//! reading logs) can tell a replayed nonce from a stale one without parsing prose.

use tonic::Code;

/// Metadata key carrying [`Rejection::reason`] on refused calls.
pub const REJECT_REASON: &str = "dojo-reject";

/// A refused request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// A signing header is absent, repeated or malformed.
    #[error("header {header} is {reason}")]
    MalformedHeader {
        /// Header name.
        header: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// No signature header. Python bittensor accepts unsigned requests; this axon does not.
    #[error("request is not signed")]
    MissingSignature,
    /// The signature does not verify against the caller's hotkey.
    #[error("signature does not verify for hotkey {hotkey}")]
    BadSignature {
        /// Claimed caller.
        hotkey: String,
    },
    /// Signed for a different axon hotkey.
    #[error("request is signed for axon {claimed}, this axon is {ours}")]
    WrongAxon {
        /// Axon hotkey in the request.
        claimed: String,
        /// Our hotkey.
        ours: String,
    },
    /// Nonce outside the allowed clock window.
    #[error("nonce {nonce} is outside the allowed window around now ({now})")]
    StaleNonce {
        /// Request nonce (ns).
        nonce: u64,
        /// Axon clock (ns).
        now: u64,
    },
    /// Nonce not newer than the last accepted one from this caller.
    #[error("nonce {nonce} is not newer than the last accepted nonce {last} from this caller")]
    ReplayedNonce {
        /// Request nonce.
        nonce: u64,
        /// Last accepted nonce.
        last: u64,
    },
    /// Caller not in the metagraph.
    #[error("hotkey {hotkey} is not registered on this subnet")]
    Unregistered {
        /// Caller.
        hotkey: String,
    },
    /// Caller's effective stake is below the minimum.
    #[error("hotkey {hotkey} has stake {stake}, the minimum is {min}")]
    LowStake {
        /// Caller.
        hotkey: String,
        /// Caller's stake.
        stake: f64,
        /// Configured minimum.
        min: f64,
    },
    /// Caller has no validator permit and one is required.
    #[error("hotkey {hotkey} has no validator permit")]
    NoValidatorPermit {
        /// Caller.
        hotkey: String,
    },
    /// Caller exceeded its request rate.
    #[error("hotkey {hotkey} exceeded {per_second} requests/s")]
    RateLimited {
        /// Caller.
        hotkey: String,
        /// Allowed rate.
        per_second: f64,
    },
    /// Body larger than the limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// Limit in bytes.
        limit: usize,
    },
    /// Body framing is invalid.
    #[error("request body is malformed: {0}")]
    MalformedBody(&'static str),
    /// Body does not hash to the signed body hash.
    #[error("request body does not match the signed body hash")]
    BodyHashMismatch,
    /// The axon is saturated and the caller's priority (stake) was too low to wait.
    #[error("axon is saturated; request shed by stake priority")]
    Saturated,
}

impl Rejection {
    /// The gRPC code of this refusal.
    pub fn code(&self) -> Code {
        match self {
            Rejection::MalformedHeader { .. } | Rejection::MalformedBody(_) => {
                Code::InvalidArgument
            }
            Rejection::MissingSignature | Rejection::BadSignature { .. } => Code::Unauthenticated,
            Rejection::BodyHashMismatch => Code::DataLoss,
            Rejection::WrongAxon { .. } => Code::FailedPrecondition,
            Rejection::StaleNonce { .. } => Code::OutOfRange,
            Rejection::ReplayedNonce { .. } => Code::AlreadyExists,
            Rejection::Unregistered { .. } => Code::NotFound,
            Rejection::LowStake { .. } | Rejection::NoValidatorPermit { .. } => {
                Code::PermissionDenied
            }
            Rejection::RateLimited { .. } | Rejection::BodyTooLarge { .. } => {
                Code::ResourceExhausted
            }
            Rejection::Saturated => Code::Unavailable,
        }
    }

    /// Stable machine-readable reason, sent as `dojo-reject` metadata.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::MalformedHeader { .. } => "malformed-header",
            Rejection::MissingSignature => "missing-signature",
            Rejection::BadSignature { .. } => "bad-signature",
            Rejection::WrongAxon { .. } => "wrong-axon",
            Rejection::StaleNonce { .. } => "stale-nonce",
            Rejection::ReplayedNonce { .. } => "replayed-nonce",
            Rejection::Unregistered { .. } => "unregistered",
            Rejection::LowStake { .. } => "low-stake",
            Rejection::NoValidatorPermit { .. } => "no-validator-permit",
            Rejection::RateLimited { .. } => "rate-limited",
            Rejection::BodyTooLarge { .. } => "body-too-large",
            Rejection::MalformedBody(_) => "malformed-body",
            Rejection::BodyHashMismatch => "body-hash-mismatch",
            Rejection::Saturated => "saturated",
        }
    }

    /// The gRPC status sent back.
    pub fn to_status(&self) -> tonic::Status {
        let mut status = tonic::Status::new(self.code(), self.to_string());
        status.metadata_mut().insert(
            REJECT_REASON,
            tonic::metadata::MetadataValue::from_static(self.reason()),
        );
        status
    }
}

/// The `dojo-reject` reason of a status, if an axon refused the call.
pub fn reason_of(status: &tonic::Status) -> Option<&str> {
    status
        .metadata()
        .get(REJECT_REASON)
        .and_then(|v| v.to_str().ok())
}

//! Request headers of a signed call and the message the signature covers.
//!
//! Header names are gRPC metadata keys (lowercase, dash-separated); they carry the same fields as
//! bittensor's `bt_header_dendrite_*` / `bt_header_axon_hotkey` / `computed_body_hash`.

use dojo_types::Hotkey;
use http::HeaderMap;
use sha3::{Digest, Sha3_256};

use crate::reject::Rejection;

/// Caller hotkey (SS58).
pub const DENDRITE_HOTKEY: &str = "dojo-dendrite-hotkey";
/// Per-process uuid of the caller.
pub const DENDRITE_UUID: &str = "dojo-dendrite-uuid";
/// Nonce: Unix time in nanoseconds, strictly increasing per caller.
pub const DENDRITE_NONCE: &str = "dojo-dendrite-nonce";
/// `0x` + hex of the 64-byte sr25519 signature.
pub const DENDRITE_SIGNATURE: &str = "dojo-dendrite-signature";
/// Hotkey of the axon the request is meant for.
pub const AXON_HOTKEY: &str = "dojo-axon-hotkey";
/// Hex sha3-256 of the encoded request message.
pub const BODY_HASH: &str = "dojo-body-hash";

/// Longest accepted uuid; bittensor uses `uuid1` strings (36 characters).
pub const MAX_UUID_LEN: usize = 64;

/// The verified-shape contents of a request's signing headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Caller.
    pub dendrite_hotkey: Hotkey,
    /// Caller's process uuid.
    pub uuid: String,
    /// Nanosecond nonce.
    pub nonce: u64,
    /// Intended axon.
    pub axon_hotkey: Hotkey,
    /// sha3-256 of the encoded request.
    pub body_hash: [u8; 32],
    /// sr25519 signature.
    pub signature: [u8; 64],
}

/// sha3-256 of an encoded request message.
pub fn body_hash(encoded: &[u8]) -> [u8; 32] {
    Sha3_256::digest(encoded).into()
}

/// The signed message: `{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{hex body hash}`.
pub fn signing_message(
    nonce: u64,
    dendrite: &Hotkey,
    axon: &Hotkey,
    uuid: &str,
    body_hash: &[u8; 32],
) -> String {
    format!(
        "{nonce}.{dendrite}.{axon}.{uuid}.{}",
        hex::encode(body_hash)
    )
}

impl SignedHeaders {
    /// The message the signature must cover.
    pub fn message(&self) -> String {
        signing_message(
            self.nonce,
            &self.dendrite_hotkey,
            &self.axon_hotkey,
            &self.uuid,
            &self.body_hash,
        )
    }

    /// Writes these headers into a header map (dendrite side).
    ///
    /// The nonce, signature and body hash differ on every request to a connection, so they are
    /// marked never-indexed: HPACK would otherwise add each to the connection's header table on
    /// both ends, where it is never matched again and evicts the hotkeys and uuid that are.
    pub fn write(&self, map: &mut HeaderMap) {
        let mut put = |k: &'static str, v: &[u8], unique: bool| {
            if let Ok(mut v) = http::HeaderValue::from_bytes(v) {
                v.set_sensitive(unique);
                map.insert(k, v);
            }
        };
        put(
            DENDRITE_HOTKEY,
            self.dendrite_hotkey.as_str().as_bytes(),
            false,
        );
        put(DENDRITE_UUID, self.uuid.as_bytes(), false);
        put(AXON_HOTKEY, self.axon_hotkey.as_str().as_bytes(), false);
        put(DENDRITE_NONCE, self.nonce.to_string().as_bytes(), true);
        let mut sig = [0u8; 2 + 128];
        sig[..2].copy_from_slice(b"0x");
        // Both buffers are exactly twice their input's length, so encoding cannot fail.
        let _ = hex::encode_to_slice(self.signature, &mut sig[2..]);
        put(DENDRITE_SIGNATURE, &sig, true);
        let mut hash = [0u8; 64];
        let _ = hex::encode_to_slice(self.body_hash, &mut hash);
        put(BODY_HASH, &hash, true);
    }
}

fn get<'a>(map: &'a HeaderMap, name: &'static str) -> Result<&'a str, Rejection> {
    let mut values = map.get_all(name).iter();
    let v = values.next().ok_or(Rejection::MalformedHeader {
        header: name,
        reason: "missing",
    })?;
    if values.next().is_some() {
        return Err(Rejection::MalformedHeader {
            header: name,
            reason: "repeated",
        });
    }
    v.to_str().map_err(|_| Rejection::MalformedHeader {
        header: name,
        reason: "not visible ASCII",
    })
}

fn hex_exact<const N: usize>(header: &'static str, s: &str) -> Result<[u8; N], Rejection> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| Rejection::MalformedHeader {
        header,
        reason: "not hex of the right length",
    })?;
    Ok(out)
}

/// Parses and shape-checks the signing headers. Never panics; the signature itself is checked by
/// the axon, not here. A missing signature is [`Rejection::MissingSignature`], not a parse error.
pub fn parse(map: &HeaderMap) -> Result<SignedHeaders, Rejection> {
    let dendrite_hotkey =
        Hotkey::parse_ss58(get(map, DENDRITE_HOTKEY)?).map_err(|_| Rejection::MalformedHeader {
            header: DENDRITE_HOTKEY,
            reason: "not an SS58 address",
        })?;
    let uuid = get(map, DENDRITE_UUID)?;
    if uuid.is_empty()
        || uuid.len() > MAX_UUID_LEN
        || !uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Rejection::MalformedHeader {
            header: DENDRITE_UUID,
            reason: "must be 1-64 characters of [A-Za-z0-9-]",
        });
    }
    let nonce = get(map, DENDRITE_NONCE)?;
    if nonce.is_empty() || nonce.len() > 20 || !nonce.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::MalformedHeader {
            header: DENDRITE_NONCE,
            reason: "not a decimal u64",
        });
    }
    let nonce: u64 = nonce.parse().map_err(|_| Rejection::MalformedHeader {
        header: DENDRITE_NONCE,
        reason: "not a decimal u64",
    })?;
    let axon_hotkey =
        Hotkey::parse_ss58(get(map, AXON_HOTKEY)?).map_err(|_| Rejection::MalformedHeader {
            header: AXON_HOTKEY,
            reason: "not an SS58 address",
        })?;
    let body_hash = hex_exact::<32>(BODY_HASH, get(map, BODY_HASH)?)?;
    let signature = match get(map, DENDRITE_SIGNATURE) {
        Err(Rejection::MalformedHeader {
            reason: "missing", ..
        }) => return Err(Rejection::MissingSignature),
        Err(e) => return Err(e),
        Ok(s) => hex_exact::<64>(DENDRITE_SIGNATURE, s.strip_prefix("0x").unwrap_or(s))?,
    };
    Ok(SignedHeaders {
        dendrite_hotkey,
        uuid: uuid.to_owned(),
        nonce,
        axon_hotkey,
        body_hash,
        signature,
    })
}

/// Extracts the message payloads of a gRPC-framed body (`flag(1) ‖ len(4, BE) ‖ message`)*.
///
/// Compressed frames are refused: the dendrite never compresses, and hashing must see the bytes
/// that were signed.
pub fn grpc_payloads(mut body: &[u8]) -> Result<Vec<&[u8]>, Rejection> {
    let mut out = Vec::new();
    while !body.is_empty() {
        if body.len() < 5 {
            return Err(Rejection::MalformedBody("truncated frame header"));
        }
        if body[0] != 0 {
            return Err(Rejection::MalformedBody("compressed or unknown frame flag"));
        }
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let rest = &body[5..];
        if rest.len() < len {
            return Err(Rejection::MalformedBody("frame longer than body"));
        }
        out.push(&rest[..len]);
        body = &rest[len..];
    }
    Ok(out)
}

/// sha3-256 over the concatenated payloads of a gRPC-framed body.
pub fn framed_body_hash(body: &[u8]) -> Result<[u8; 32], Rejection> {
    let mut h = Sha3_256::new();
    for p in grpc_payloads(body)? {
        h.update(p);
    }
    Ok(h.finalize().into())
}

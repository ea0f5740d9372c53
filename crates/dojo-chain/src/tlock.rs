//! Timelocked commit-reveal (v3/v4) payloads, as bittensor-drand 2.0.0 builds them (spec
//! chain-and-wire.md §3.6).
//!
//! The commit is the SCALE-encoded `WeightsTlockPayload{hotkey, uids, values, version_key}`,
//! timelock-encrypted (Boneh–Franklin IBE over BLS12-381 + AES-GCM, the `timelock` crate of Ideal
//! Labs, the crates.io release of the code bittensor-drand and subtensor's `pallet_drand` use) to the
//! identity `sha256(reveal_round.to_be_bytes())` under drand quicknet's public key. The chain
//! decrypts it itself once `Drand.Pulses[reveal_round]` is stored, and sets the weights then.

use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use parity_scale_codec::Encode;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use timelock::block_ciphers::AESGCMBlockCipherProvider;
use timelock::engines::EngineBLS;
use timelock::engines::drand::TinyBLS381;
use timelock::ibe::fullident::Identity;
use timelock::tlock::{TLECiphertext, tld, tle};

/// drand quicknet's BLS public key (G2, compressed), as in bittensor-drand's constants.rs.
pub const QUICKNET_PUBLIC_KEY: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";
/// quicknet genesis, unix seconds.
pub const QUICKNET_GENESIS: u64 = 1_692_803_367;
/// quicknet round period, seconds.
pub const QUICKNET_PERIOD: u64 = 3;
/// Blocks past the first reveal block that bittensor-drand aims for, so the pulse is already
/// stored on chain when the reveal epoch begins (`SECURITY_BLOCK_OFFSET`).
pub const SECURITY_BLOCK_OFFSET: u64 = 3;
/// The chain's bound on a commit (`BoundedVec<u8, ConstU32<5000>>`).
pub const MAX_COMMIT_LEN: usize = 5000;
/// The `commit_reveal_version` argument bittensor-drand 2.0.0's payload belongs to.
pub const COMMIT_REVEAL_VERSION: u16 = 4;

/// A timelock failure.
#[derive(Debug, thiserror::Error)]
pub enum TlockError {
    /// The public key or signature is not a valid compressed curve point.
    #[error("bad {what}: {detail}")]
    BadKey {
        /// Which input.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// Encryption or decryption failed (for decryption: wrong round's signature or a damaged
    /// ciphertext).
    #[error("timelock {0}")]
    Crypto(String),
    /// The ciphertext is over the chain's 5000-byte bound.
    #[error("timelocked commit is {0} bytes, over the chain's {MAX_COMMIT_LEN}")]
    TooLong(usize),
}

/// `WeightsTlockPayload` of subtensor (coinbase/reveal_commits.rs) and bittensor-drand: SCALE of
/// `(hotkey: Vec<u8>, uids: Vec<u16>, values: Vec<u16>, version_key: u64)`.
pub fn payload(hotkey: &[u8; 32], uids: &[u16], values: &[u16], version_key: u64) -> Vec<u8> {
    (hotkey.to_vec(), uids.to_vec(), values.to_vec(), version_key).encode()
}

/// The IBE identity of a drand round: sha256 of the round number, big-endian.
pub fn round_identity(round: u64) -> [u8; 32] {
    Sha256::digest(round.to_be_bytes()).into()
}

/// The drand round whose pulse lets the chain reveal a commit made at `block`, exactly as
/// bittensor-drand's legacy `generate_commit` computes it (§3.6): the first block of epoch
/// `cr_epoch(block) + reveal_period`, plus [`SECURITY_BLOCK_OFFSET`], turned into wall-clock time
/// from `now_unix` at `block_time` seconds a block, then into a quicknet round (at least 1).
pub fn reveal_round(
    netuid: u16,
    tempo: u16,
    block: u64,
    reveal_period: u64,
    now_unix: f64,
    block_time: f64,
) -> u64 {
    let len = u64::from(tempo) + 1;
    let shift = u64::from(netuid) + 1;
    let epoch = (block + shift) / len;
    let first_reveal = ((epoch + reveal_period) * len).saturating_sub(shift);
    let target = first_reveal + SECURITY_BLOCK_OFFSET;
    let secs = target.saturating_sub(block) as f64 * block_time;
    let round = ((now_unix + secs - QUICKNET_GENESIS as f64) / QUICKNET_PERIOD as f64).floor();
    if round < 1.0 { 1 } else { round as u64 }
}

/// Compressed G2 point `U` at the head of a ciphertext.
const U_LEN: usize = 96;
/// `V` and `W` of the IBE header: 32 bytes each.
const HASH_LEN: usize = 32;

/// The `timelock` crate 0.3 serializes the IBE header's `V` and `W` as fixed 32-byte arrays; the
/// `tle` revision bittensor-drand and subtensor's `pallet_drand` build (ideal-lab5/timelock
/// @5416406c) has them as `Vec<u8>`, which ark-serialize prefixes with a u64 length. Everything
/// else (compressed `U`, body, cipher suite) is laid out alike, so these two functions move a
/// ciphertext between the layouts; the chain reads the `tle` one.
fn to_chain_layout(ours: &[u8]) -> Option<Vec<u8>> {
    if ours.len() < U_LEN + 2 * HASH_LEN {
        return None;
    }
    let len = (HASH_LEN as u64).to_le_bytes();
    let mut out = Vec::with_capacity(ours.len() + 16);
    out.extend_from_slice(&ours[..U_LEN]);
    out.extend_from_slice(&len);
    out.extend_from_slice(&ours[U_LEN..U_LEN + HASH_LEN]);
    out.extend_from_slice(&len);
    out.extend_from_slice(&ours[U_LEN + HASH_LEN..]);
    Some(out)
}

fn from_chain_layout(chain: &[u8]) -> Option<Vec<u8>> {
    let len = (HASH_LEN as u64).to_le_bytes();
    let v_at = U_LEN + 8;
    let w_len_at = v_at + HASH_LEN;
    let w_at = w_len_at + 8;
    if chain.len() < w_at + HASH_LEN || chain[U_LEN..v_at] != len || chain[w_len_at..w_at] != len {
        return None;
    }
    let mut out = Vec::with_capacity(chain.len() - 16);
    out.extend_from_slice(&chain[..U_LEN]);
    out.extend_from_slice(&chain[v_at..w_len_at]);
    out.extend_from_slice(&chain[w_at..]);
    Some(out)
}

fn public_key(hex_key: &str) -> Result<<TinyBLS381 as EngineBLS>::PublicKeyGroup, TlockError> {
    let bad = |detail: String| TlockError::BadKey {
        what: "drand public key",
        detail,
    };
    let bytes = hex::decode(hex_key).map_err(|e| bad(e.to_string()))?;
    <TinyBLS381 as EngineBLS>::PublicKeyGroup::deserialize_compressed(bytes.as_slice())
        .map_err(|e| bad(e.to_string()))
}

/// Timelock-encrypts `message` to `round` under the drand public key `public_key_hex` (compressed
/// G2, hex; [`QUICKNET_PUBLIC_KEY`] on finney) and returns the compressed `TLECiphertext` bytes the
/// chain stores, in the chain's (`tle`) layout.
pub fn encrypt(public_key_hex: &str, round: u64, message: &[u8]) -> Result<Vec<u8>, TlockError> {
    let pk = public_key(public_key_hex)?;
    let mut esk = [0u8; 32];
    OsRng.fill_bytes(&mut esk);
    let identity = Identity::new(b"", &round_identity(round));
    let ct = tle::<TinyBLS381, AESGCMBlockCipherProvider, _>(pk, esk, message, identity, OsRng)
        .map_err(|e| TlockError::Crypto(format!("encryption: {e:?}")))?;
    let mut ours = Vec::new();
    ct.serialize_compressed(&mut ours)
        .map_err(|e| TlockError::Crypto(format!("serialization: {e}")))?;
    let out = to_chain_layout(&ours)
        .ok_or_else(|| TlockError::Crypto("serialized ciphertext too short".into()))?;
    if out.len() > MAX_COMMIT_LEN {
        return Err(TlockError::TooLong(out.len()));
    }
    Ok(out)
}

/// Decrypts a ciphertext of [`encrypt`] with the round's drand signature (compressed G1 bytes,
/// the `signature` of the round's pulse): what the chain does at reveal time.
pub fn decrypt(ciphertext: &[u8], signature: &[u8]) -> Result<Vec<u8>, TlockError> {
    let ours = from_chain_layout(ciphertext)
        .ok_or_else(|| TlockError::Crypto("ciphertext: not in the chain's layout".into()))?;
    let ct = TLECiphertext::<TinyBLS381>::deserialize_compressed(ours.as_slice())
        .map_err(|e| TlockError::Crypto(format!("ciphertext: {e}")))?;
    let sig = <TinyBLS381 as EngineBLS>::SignatureGroup::deserialize_compressed(signature)
        .map_err(|e| TlockError::BadKey {
            what: "drand signature",
            detail: e.to_string(),
        })?;
    tld::<TinyBLS381, AESGCMBlockCipherProvider>(ct, sig)
        .map_err(|e| TlockError::Crypto(format!("decryption: {e:?}")))
}

/// A stand-in drand beacon with its own BLS key, for tests that must open a timelocked commit
/// offline: a round's signature is the IBE secret of the round's identity, exactly as drand's is.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug)]
pub struct TestBeacon {
    sk: <TinyBLS381 as EngineBLS>::Scalar,
}

#[cfg(any(test, feature = "testing"))]
impl TestBeacon {
    /// A beacon whose secret key is `seed` (never a secret: tests only).
    pub fn new(seed: u64) -> Self {
        Self {
            sk: <TinyBLS381 as EngineBLS>::Scalar::from(seed.max(1)),
        }
    }

    /// Its public key (compressed G2, hex), in the form of [`QUICKNET_PUBLIC_KEY`].
    pub fn public_key_hex(&self) -> String {
        use ark_ec::PrimeGroup;
        let pk = <TinyBLS381 as EngineBLS>::PublicKeyGroup::generator() * self.sk;
        let mut out = Vec::new();
        pk.serialize_compressed(&mut out)
            .expect("a G2 point serializes");
        hex::encode(out)
    }

    /// The signature of `round` (compressed G1), as a drand pulse carries it.
    pub fn signature(&self, round: u64) -> Vec<u8> {
        let secret = Identity::new(b"", &round_identity(round)).extract::<TinyBLS381>(self.sk);
        let mut out = Vec::new();
        secret
            .0
            .serialize_compressed(&mut out)
            .expect("a G1 point serializes");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quicknet round 1000, as recorded in the `timelock` crate's own test
    /// (https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/public/1000).
    const ROUND_1000_SIG: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

    #[test]
    fn round_trip_with_a_recorded_quicknet_signature_and_not_with_another_round() {
        let msg = payload(&[7; 32], &[0, 1], &[65535, 32768], 3);
        let ct = encrypt(QUICKNET_PUBLIC_KEY, 1000, &msg).unwrap();
        let sig = hex::decode(ROUND_1000_SIG).unwrap();
        assert_eq!(decrypt(&ct, &sig).unwrap(), msg);
        // The same signature cannot open a commit to another round.
        let other = encrypt(QUICKNET_PUBLIC_KEY, 1001, &msg).unwrap();
        assert!(decrypt(&other, &sig).is_err());
    }

    #[test]
    fn a_test_beacon_opens_its_own_rounds_only() {
        let beacon = TestBeacon::new(42);
        let pk = beacon.public_key_hex();
        let ct = encrypt(&pk, 77, b"weights").unwrap();
        assert_eq!(decrypt(&ct, &beacon.signature(77)).unwrap(), b"weights");
        assert!(decrypt(&ct, &beacon.signature(78)).is_err());
        assert!(decrypt(&ct, &TestBeacon::new(43).signature(77)).is_err());
    }

    #[test]
    fn payload_is_scale_of_the_four_fields() {
        let p = payload(&[1; 32], &[0, 1], &[65535, 32768], 2);
        let mut want = vec![0x80];
        want.extend([1u8; 32]);
        want.extend([0x08, 0, 0, 1, 0, 0x08, 0xff, 0xff, 0x00, 0x80]);
        want.extend(2u64.to_le_bytes());
        assert_eq!(p, want);
    }

    #[test]
    fn reveal_round_follows_the_legacy_epoch_formula() {
        // netuid 1, tempo 360: block 1000 is in epoch (1000+2)/361 = 2; reveal epoch 3 starts at
        // block 3*361-2 = 1081; target 1084, 84 blocks = 1008 s ahead.
        let now = (QUICKNET_GENESIS + 3 * 5000) as f64;
        assert_eq!(reveal_round(1, 360, 1000, 1, now, 12.0), 5000 + 1008 / 3);
        assert_eq!(
            hex::encode(round_identity(1000)),
            "f652498d092acd949bad74e40683bf3824fb817980504a0c7e6722cfc5a9c0a3"
        );
        assert_eq!(reveal_round(1, 360, 1000, 1, 0.0, 12.0), 1);
    }
}

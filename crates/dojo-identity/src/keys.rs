use std::fmt;

use blake2::{Blake2b, Digest, digest::consts::U32};
use dojo_types::{Hotkey, SS58_PREFIX_BITTENSOR};
use schnorrkel::derive::{ChainCode, Derivation};
use schnorrkel::{ExpansionMode, MiniSecretKey, PublicKey, SecretKey, Signature};
use zeroize::Zeroizing;

/// Signing context of Substrate's sr25519 (`sp_core::sr25519::Pair::sign`); bittensor uses it too.
pub const SIGNING_CONTEXT: &[u8] = b"substrate";

/// The Substrate development phrase; `//Alice` is this phrase with the hard junction `Alice`.
pub const DEV_PHRASE: &str =
    "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

/// Why a key could not be built or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The mnemonic is not a valid English BIP39 phrase.
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    /// A hex value did not decode or had the wrong length.
    #[error("{what} must be {len} bytes of hex")]
    Hex {
        /// Which value.
        what: &'static str,
        /// Expected length in bytes.
        len: usize,
    },
    /// The bytes are not a valid sr25519 secret, public key or signature.
    #[error("invalid sr25519 {0}")]
    Sr25519(&'static str),
    /// A secret URI could not be parsed.
    #[error("invalid secret URI: {0}")]
    Uri(&'static str),
    /// A derivation path needs a seed, but the key was built from a raw private key.
    #[error("soft/hard derivation needs a mini-secret seed")]
    NoSeed,
    /// The mnemonic word count is not 12, 15, 18, 21 or 24.
    #[error("mnemonic word count must be 12, 15, 18, 21 or 24, got {0}")]
    WordCount(usize),
}

/// An sr25519 key pair with the secrets it was derived from, as btwallet keeps them.
#[derive(Clone)]
pub struct Keypair {
    pair: schnorrkel::Keypair,
    phrase: Option<Zeroizing<String>>,
    seed: Option<Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("ss58", &self.ss58().as_str())
            .finish_non_exhaustive()
    }
}

fn mini_secret_from_entropy(
    entropy: &[u8],
    password: &str,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    // substrate-bip39: PBKDF2 over the *entropy*, not over the phrase as standard BIP39 does.
    let mut salt = Zeroizing::new(String::with_capacity(8 + password.len()));
    salt.push_str("mnemonic");
    salt.push_str(password);
    let mut seed = Zeroizing::new([0u8; 64]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(entropy, salt.as_bytes(), 2048, &mut seed[..]);
    let mut mini = Zeroizing::new([0u8; 32]);
    mini.copy_from_slice(&seed[..32]);
    Ok(mini)
}

fn parse_mnemonic(phrase: &str) -> Result<bip39::Mnemonic, KeyError> {
    bip39::Mnemonic::parse_in_normalized(bip39::Language::English, phrase)
        .map_err(|e| KeyError::Mnemonic(e.to_string()))
}

fn hex_bytes<const N: usize>(what: &'static str, s: &str) -> Result<Zeroizing<[u8; N]>, KeyError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let mut out = Zeroizing::new([0u8; N]);
    hex::decode_to_slice(s, &mut out[..]).map_err(|_| KeyError::Hex { what, len: N })?;
    Ok(out)
}

/// Chain code of a derivation junction: the SCALE encoding of the junction (u64 if it parses as
/// one, else a string), zero-padded to 32 bytes or blake2b-256-hashed when longer.
fn chain_code(junction: &str) -> ChainCode {
    let mut encoded = Vec::new();
    if let Ok(n) = junction.parse::<u64>() {
        encoded.extend_from_slice(&n.to_le_bytes());
    } else {
        compact_len(junction.len(), &mut encoded);
        encoded.extend_from_slice(junction.as_bytes());
    }
    let mut cc = [0u8; 32];
    if encoded.len() > 32 {
        let mut h = Blake2b::<U32>::new();
        h.update(&encoded);
        cc.copy_from_slice(&h.finalize());
    } else {
        cc[..encoded.len()].copy_from_slice(&encoded);
    }
    ChainCode(cc)
}

/// SCALE compact encoding of a length.
fn compact_len(n: usize, out: &mut Vec<u8>) {
    match n {
        0..=0x3f => out.push((n as u8) << 2),
        0x40..=0x3fff => out.extend_from_slice(&(((n as u16) << 2) | 0b01).to_le_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&(((n as u32) << 2) | 0b10).to_le_bytes()),
        _ => {
            let bytes = (n as u64).to_le_bytes();
            let len = 8 - (n as u64).leading_zeros() as usize / 8;
            out.push((((len - 4) as u8) << 2) | 0b11);
            out.extend_from_slice(&bytes[..len]);
        }
    }
}

impl Keypair {
    fn from_mini(
        mini: Zeroizing<[u8; 32]>,
        phrase: Option<Zeroizing<String>>,
    ) -> Result<Self, KeyError> {
        let secret =
            MiniSecretKey::from_bytes(&mini[..]).map_err(|_| KeyError::Sr25519("mini secret"))?;
        Ok(Keypair {
            pair: secret.expand_to_keypair(ExpansionMode::Ed25519),
            phrase,
            seed: Some(mini),
        })
    }

    /// Generates a fresh key from a new random mnemonic of `words` words.
    pub fn generate(words: usize) -> Result<Self, KeyError> {
        let len = match words {
            12 => 16,
            15 => 20,
            18 => 24,
            21 => 28,
            24 => 32,
            other => return Err(KeyError::WordCount(other)),
        };
        let mut entropy = Zeroizing::new([0u8; 32]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut entropy[..len]);
        let m = bip39::Mnemonic::from_entropy(&entropy[..len])
            .map_err(|e| KeyError::Mnemonic(e.to_string()))?;
        Self::from_phrase(&m.to_string())
    }

    /// Derives the key of a BIP39 mnemonic the Substrate way (no password).
    pub fn from_phrase(phrase: &str) -> Result<Self, KeyError> {
        Self::from_phrase_with_password(phrase, "")
    }

    fn from_phrase_with_password(phrase: &str, password: &str) -> Result<Self, KeyError> {
        let m = parse_mnemonic(phrase)?;
        let entropy = Zeroizing::new(m.to_entropy());
        let mini = mini_secret_from_entropy(&entropy, password)?;
        Self::from_mini(mini, Some(Zeroizing::new(phrase.to_owned())))
    }

    /// Builds a key from its 32-byte mini-secret seed (`secretSeed`), hex with or without `0x`.
    pub fn from_seed_hex(seed: &str) -> Result<Self, KeyError> {
        Self::from_mini(hex_bytes::<32>("secret seed", seed)?, None)
    }

    /// Builds a key from the 64-byte expanded secret (`privateKey`: scalar ‖ nonce).
    pub fn from_private_key_hex(key: &str) -> Result<Self, KeyError> {
        let bytes = hex_bytes::<64>("private key", key)?;
        let secret =
            SecretKey::from_bytes(&bytes[..]).map_err(|_| KeyError::Sr25519("private key"))?;
        Ok(Keypair {
            pair: secret.to_keypair(),
            phrase: None,
            seed: None,
        })
    }

    /// Builds a key from a Substrate secret URI: `PHRASE`, `0xSEED`, or either followed by
    /// `//hard` / `/soft` junctions and an optional `///password`. A URI that starts with a junction
    /// (`//Alice`) uses [`DEV_PHRASE`].
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        let (rest, password) = match uri.split_once("///") {
            Some((r, p)) if !p.is_empty() => (r, p),
            Some(_) => return Err(KeyError::Uri("empty password after ///")),
            None => (uri, ""),
        };
        let split = rest.find('/').unwrap_or(rest.len());
        let (root, path) = rest.split_at(split);
        let root = if root.is_empty() {
            DEV_PHRASE
        } else {
            root.trim()
        };
        let mut key = if root.starts_with("0x") {
            if !password.is_empty() {
                return Err(KeyError::Uri("a password applies to a phrase, not a seed"));
            }
            Self::from_seed_hex(root)?
        } else {
            Self::from_phrase_with_password(root, password)?
        };
        let mut path = path;
        while !path.is_empty() {
            let (hard, tail) = match path.strip_prefix("//") {
                Some(t) => (true, t),
                None => (
                    false,
                    path.strip_prefix('/')
                        .ok_or(KeyError::Uri("junction must start with /"))?,
                ),
            };
            let end = tail.find('/').unwrap_or(tail.len());
            let junction = &tail[..end];
            if junction.is_empty() {
                return Err(KeyError::Uri("empty junction"));
            }
            key = key.derive(junction, hard)?;
            path = &tail[end..];
        }
        // A derived key is no longer the key of the phrase; btwallet keeps the URI's phrase anyway,
        // but we must not write a phrase that loads back into a different key.
        if rest.contains('/') {
            key.phrase = None;
            key.seed = None;
        }
        Ok(key)
    }

    fn derive(&self, junction: &str, hard: bool) -> Result<Self, KeyError> {
        let cc = chain_code(junction);
        if hard {
            let (mini, _) = self.pair.secret.hard_derive_mini_secret_key(Some(cc), b"");
            Self::from_mini(Zeroizing::new(mini.to_bytes()), None)
        } else {
            let (pair, _) = self.pair.derived_key_simple(cc, b"");
            Ok(Keypair {
                pair,
                phrase: None,
                seed: None,
            })
        }
    }

    /// The 32-byte public key.
    pub fn public(&self) -> [u8; 32] {
        self.pair.public.to_bytes()
    }

    /// The SS58 address (prefix 42).
    pub fn ss58(&self) -> Hotkey {
        Hotkey::from_public_key(&self.public(), SS58_PREFIX_BITTENSOR)
    }

    /// The 64-byte expanded secret as btwallet stores it in `privateKey`.
    pub fn private_key(&self) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.pair.secret.to_bytes())
    }

    /// The mnemonic this key was derived from, if known.
    pub fn phrase(&self) -> Option<&str> {
        self.phrase.as_deref().map(String::as_str)
    }

    /// The 32-byte mini-secret seed, if known.
    pub fn seed(&self) -> Option<&[u8; 32]> {
        self.seed.as_deref()
    }

    /// Signs `message` with the `"substrate"` context. Signatures are randomised.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let ctx = schnorrkel::signing_context(SIGNING_CONTEXT);
        self.pair.sign(ctx.bytes(message)).to_bytes()
    }
}

/// Verifies an sr25519 signature made with the `"substrate"` context by the key of `signer`.
///
/// Like btwallet, a signature over `<Bytes>message</Bytes>` (polkadot.js wrapping) is accepted too.
/// Returns `false` for anything malformed, never panics.
pub fn verify(signer: &Hotkey, message: &[u8], signature: &[u8]) -> bool {
    signer
        .public_key()
        .is_some_and(|pk| verify_with_public(&pk, message, signature))
}

/// [`verify`] with a raw 32-byte public key.
pub fn verify_with_public(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    PublicKey::from_bytes(public).is_ok_and(|pk| verify_key(&pk, message, signature))
}

/// A signer's public key decoded once (SS58 and point decompression), for a verifier that checks
/// many signatures of the same caller: decompression costs about a third of a verification.
#[derive(Clone, Debug)]
pub struct VerifyingKey(PublicKey);

impl VerifyingKey {
    /// The key of an SS58 hotkey; `None` when it is not a valid sr25519 public key.
    pub fn from_hotkey(signer: &Hotkey) -> Option<Self> {
        let bytes = signer.public_key()?;
        PublicKey::from_bytes(&bytes).ok().map(Self)
    }

    /// [`verify`] against this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        verify_key(&self.0, message, signature)
    }
}

fn verify_key(pk: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = Signature::from_bytes(signature) else {
        return false;
    };
    if pk.verify_simple(SIGNING_CONTEXT, message, &sig).is_ok() {
        return true;
    }
    let mut wrapped = Vec::with_capacity(message.len() + 15);
    wrapped.extend_from_slice(b"<Bytes>");
    wrapped.extend_from_slice(message);
    wrapped.extend_from_slice(b"</Bytes>");
    pk.verify_simple(SIGNING_CONTEXT, &wrapped, &sig).is_ok()
}

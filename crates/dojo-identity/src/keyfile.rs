//! Keyfile contents: btwallet's JSON and its encryption.
//!
//! A keyfile is UTF-8 JSON, or that JSON encrypted. Encryption is recognised by prefix: `$NACL`
//! (current btwallet), `$ANSIBLE_VAULT` and `gAAAAA` (legacy Fernet; refused with a typed error).

use argon2::{Algorithm, Argon2, Params, Version};
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::{KeyError, Keypair};
use dojo_types::Hotkey;

/// Prefix of NaCl-encrypted keyfiles.
pub const NACL_PREFIX: &[u8] = b"$NACL";
/// Fixed argon2i salt of btwallet (`NACL_SALT` in its constants).
pub const NACL_SALT: [u8; 16] = [
    0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
];
/// libsodium `crypto_pwhash_argon2i_OPSLIMIT_SENSITIVE`.
pub const ARGON2_OPSLIMIT: u32 = 8;
/// libsodium `crypto_pwhash_argon2i_MEMLIMIT_SENSITIVE` in KiB (512 MiB).
pub const ARGON2_MEMLIMIT_KIB: u32 = 512 * 1024;
/// `cryptoType` of sr25519 keys in btwallet ≥ 4.
pub const CRYPTO_TYPE_SR25519: u8 = 1;

/// Why a keyfile could not be read, decrypted or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyfileError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("keyfile is not valid keyfile JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An encryption format this crate does not read.
    #[error("keyfile uses unsupported {0} encryption; re-encrypt it with btcli (NaCl)")]
    UnsupportedEncryption(&'static str),
    /// The keyfile is encrypted and no password was given.
    #[error("keyfile is encrypted and needs a password")]
    Encrypted,
    /// Wrong password, or the ciphertext was modified.
    #[error("wrong password or corrupted keyfile")]
    Decrypt,
    /// Encrypted data too short to hold a nonce and a tag.
    #[error("encrypted keyfile is truncated")]
    Truncated,
    /// The key material inside is invalid.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The file holds no key material at all.
    #[error("keyfile holds neither a secret nor an address")]
    Empty,
    /// The stored address does not match the stored secret.
    #[error("keyfile address {stored} does not match its secret (which gives {derived})")]
    Mismatch {
        /// Address in the file.
        stored: String,
        /// Address derived from the secret.
        derived: String,
    },
    /// A key type other than sr25519.
    #[error("keyfile holds a key of cryptoType {0}; only sr25519 (1) is supported")]
    CryptoType(u8),
    /// The address is not SS58.
    #[error("keyfile address is not SS58: {0}")]
    Address(#[from] dojo_types::HotkeyError),
    /// Key derivation failed (parameters rejected by argon2).
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

/// The JSON object btwallet writes. Unknown fields are ignored, as btwallet does.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct KeyfileJson {
    /// `0x` + hex public key.
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none", default)]
    pub account_id: Option<String>,
    /// `0x` + hex public key.
    #[serde(rename = "publicKey", skip_serializing_if = "Option::is_none", default)]
    pub public_key: Option<String>,
    /// `0x` + hex 64-byte expanded secret.
    #[serde(
        rename = "privateKey",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub private_key: Option<String>,
    /// BIP39 mnemonic.
    #[serde(
        rename = "secretPhrase",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub secret_phrase: Option<String>,
    /// `0x` + hex 32-byte mini-secret.
    #[serde(
        rename = "secretSeed",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub secret_seed: Option<String>,
    /// SS58 address.
    #[serde(
        rename = "ss58Address",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub ss58_address: Option<String>,
    /// 1 = sr25519 (absent in files written before btwallet 4).
    #[serde(
        rename = "cryptoType",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub crypto_type: Option<u8>,
}

impl std::fmt::Debug for KeyfileJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyfileJson")
            .field("ss58Address", &self.ss58_address)
            .finish_non_exhaustive()
    }
}

impl Drop for KeyfileJson {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for s in [
            &mut self.private_key,
            &mut self.secret_phrase,
            &mut self.secret_seed,
        ]
        .into_iter()
        .flatten()
        {
            s.zeroize();
        }
    }
}

/// What a keyfile holds: a full key pair, or only the public address.
#[derive(Debug, Clone)]
pub enum KeyMaterial {
    /// Secret and public key (boxed: it is ten times the size of an address).
    Pair(Box<Keypair>),
    /// Only the address (`coldkeypub.txt`, `*pub.txt`).
    Public(Hotkey),
}

impl KeyMaterial {
    /// The SS58 address either way.
    pub fn ss58(&self) -> Hotkey {
        match self {
            KeyMaterial::Pair(k) => k.ss58(),
            KeyMaterial::Public(h) => h.clone(),
        }
    }
}

/// How a keyfile's bytes are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Plain JSON.
    None,
    /// `$NACL` secretbox.
    Nacl,
    /// Ansible vault (legacy, unsupported).
    AnsibleVault,
    /// Fernet (legacy, unsupported).
    Fernet,
}

/// Detects the protection of keyfile bytes by prefix.
pub fn protection(data: &[u8]) -> Protection {
    if data.starts_with(NACL_PREFIX) {
        Protection::Nacl
    } else if data.starts_with(b"$ANSIBLE_VAULT") {
        Protection::AnsibleVault
    } else if data.starts_with(b"gAAAAA") {
        Protection::Fernet
    } else {
        Protection::None
    }
}

fn nacl_key(password: &str) -> Result<Zeroizing<[u8; 32]>, KeyfileError> {
    let params = Params::new(ARGON2_MEMLIMIT_KIB, ARGON2_OPSLIMIT, 1, Some(32))
        .map_err(|e| KeyfileError::Kdf(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &NACL_SALT, &mut key[..])
        .map_err(|e| KeyfileError::Kdf(e.to_string()))?;
    Ok(key)
}

/// Encrypts keyfile bytes the way btwallet does: `$NACL` ‖ nonce(24) ‖ tag ‖ ciphertext.
///
/// Key derivation uses 512 MiB of memory and takes seconds by design.
pub fn encrypt_nacl(plain: &[u8], password: &str) -> Result<Vec<u8>, KeyfileError> {
    let key = nacl_key(password)?;
    let cipher = XSalsa20Poly1305::new_from_slice(&key[..]).map_err(|_| KeyfileError::Decrypt)?;
    let mut nonce = [0u8; 24];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), plain)
        .map_err(|_| KeyfileError::Decrypt)?;
    let mut out = Vec::with_capacity(NACL_PREFIX.len() + 24 + sealed.len());
    out.extend_from_slice(NACL_PREFIX);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts `$NACL` keyfile bytes.
pub fn decrypt_nacl(data: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>, KeyfileError> {
    let body = data
        .strip_prefix(NACL_PREFIX)
        .ok_or(KeyfileError::Decrypt)?;
    if body.len() < 24 + 16 {
        return Err(KeyfileError::Truncated);
    }
    let (nonce, sealed) = body.split_at(24);
    let key = nacl_key(password)?;
    let cipher = XSalsa20Poly1305::new_from_slice(&key[..]).map_err(|_| KeyfileError::Decrypt)?;
    cipher
        .decrypt(Nonce::from_slice(nonce), sealed)
        .map(Zeroizing::new)
        .map_err(|_| KeyfileError::Decrypt)
}

/// Parses keyfile bytes, decrypting with `password` when they are encrypted.
pub fn parse(data: &[u8], password: Option<&str>) -> Result<KeyMaterial, KeyfileError> {
    match protection(data) {
        Protection::None => parse_json(data),
        Protection::Nacl => {
            let password = password.ok_or(KeyfileError::Encrypted)?;
            parse_json(&decrypt_nacl(data, password)?)
        }
        Protection::AnsibleVault => Err(KeyfileError::UnsupportedEncryption("ansible-vault")),
        Protection::Fernet => Err(KeyfileError::UnsupportedEncryption("legacy fernet")),
    }
}

/// Parses plain keyfile JSON. Precedence as in btwallet: phrase, then seed, then private key, then
/// the address alone. A stored address that disagrees with the secret is an error, not ignored.
pub fn parse_json(data: &[u8]) -> Result<KeyMaterial, KeyfileError> {
    let json: KeyfileJson = serde_json::from_slice(data)?;
    if let Some(t) = json.crypto_type.filter(|t| *t != CRYPTO_TYPE_SR25519) {
        return Err(KeyfileError::CryptoType(t));
    }
    let pair = if let Some(p) = &json.secret_phrase {
        Some(Keypair::from_phrase(p)?)
    } else if let Some(s) = &json.secret_seed {
        Some(Keypair::from_seed_hex(s)?)
    } else if let Some(k) = &json.private_key {
        Some(Keypair::from_private_key_hex(k)?)
    } else {
        None
    };
    match (pair, &json.ss58_address) {
        (Some(pair), stored) => {
            if let Some(stored) = stored {
                let derived = pair.ss58();
                if derived.as_str() != stored {
                    return Err(KeyfileError::Mismatch {
                        stored: stored.clone(),
                        derived: derived.to_string(),
                    });
                }
            }
            Ok(KeyMaterial::Pair(Box::new(pair)))
        }
        (None, Some(addr)) => Ok(KeyMaterial::Public(Hotkey::parse_ss58(addr)?)),
        (None, None) => {
            let pk = json
                .public_key
                .as_ref()
                .or(json.account_id.as_ref())
                .ok_or(KeyfileError::Empty)?;
            let mut key = [0u8; 32];
            hex::decode_to_slice(pk.strip_prefix("0x").unwrap_or(pk), &mut key).map_err(|_| {
                KeyError::Hex {
                    what: "public key",
                    len: 32,
                }
            })?;
            Ok(KeyMaterial::Public(Hotkey::from_public_key(
                &key,
                dojo_types::SS58_PREFIX_BITTENSOR,
            )))
        }
    }
}

/// Keyfile JSON of a full key pair, with every field btwallet writes.
pub fn to_json(pair: &Keypair) -> Zeroizing<Vec<u8>> {
    let public = format!("0x{}", hex::encode(pair.public()));
    let json = KeyfileJson {
        account_id: Some(public.clone()),
        public_key: Some(public),
        private_key: Some(format!("0x{}", hex::encode(&pair.private_key()[..]))),
        secret_phrase: pair.phrase().map(str::to_owned),
        secret_seed: pair.seed().map(|s| format!("0x{}", hex::encode(s))),
        ss58_address: Some(pair.ss58().to_string()),
        crypto_type: Some(CRYPTO_TYPE_SR25519),
    };
    Zeroizing::new(serde_json::to_vec(&json).unwrap_or_default())
}

/// Keyfile JSON of the public half only (`coldkeypub.txt`, `<hotkey>pub.txt`).
pub fn to_public_json(address: &Hotkey) -> Vec<u8> {
    let public = address
        .public_key()
        .map(|k| format!("0x{}", hex::encode(k)));
    let json = KeyfileJson {
        account_id: public.clone(),
        public_key: public,
        private_key: None,
        secret_phrase: None,
        secret_seed: None,
        ss58_address: Some(address.to_string()),
        crypto_type: Some(CRYPTO_TYPE_SR25519),
    };
    serde_json::to_vec(&json).unwrap_or_default()
}

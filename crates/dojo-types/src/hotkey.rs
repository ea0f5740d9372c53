use std::fmt;

use blake2::{Blake2b512, Digest};

/// SS58 address prefix used by Bittensor (the generic Substrate prefix).
pub const SS58_PREFIX_BITTENSOR: u16 = 42;

/// Errors from parsing a hotkey.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HotkeyError {
    /// Empty or otherwise unusable label.
    #[error("hotkey must be a non-empty string of at most 128 printable bytes")]
    Invalid,
    /// The string is not valid base58.
    #[error("hotkey {0:?} is not valid base58")]
    Base58(String),
    /// The decoded SS58 payload has the wrong length for a 32-byte account.
    #[error("hotkey {address:?} decodes to {len} bytes, an SS58 account id needs 35 or 36")]
    Length {
        /// The address as given.
        address: String,
        /// Decoded length.
        len: usize,
    },
    /// The two checksum bytes do not match.
    #[error("hotkey {0:?} has a bad SS58 checksum")]
    Checksum(String),
    /// The address prefix is reserved or unsupported.
    #[error("hotkey {address:?} uses unsupported SS58 prefix {prefix}")]
    Prefix {
        /// The address as given.
        address: String,
        /// The prefix found.
        prefix: u16,
    },
}

/// A neuron's hotkey, normally an SS58 address such as `5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY`.
///
/// Strings that claim to be SS58 (46–50 base58 characters) are validated, checksum included, so a
/// mistyped address is caught at the edge. Other short labels (`"h1"`) are accepted as opaque names,
/// which is what offline scoring replays and tests use.
///
/// ```
/// use dojo_types::Hotkey;
/// let alice = Hotkey::new("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap();
/// assert!(alice.public_key().is_some());
/// assert!(Hotkey::new("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ").is_err()); // checksum
/// assert!(Hotkey::new("h1").unwrap().public_key().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Hotkey(String);

fn claims_ss58(s: &str) -> bool {
    (46..=50).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'))
}

fn ss58_checksum(payload: &[u8]) -> [u8; 64] {
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(payload);
    h.finalize().into()
}

/// Decodes an SS58 address into `(prefix, public key)`.
fn decode_ss58(s: &str) -> Result<(u16, [u8; 32]), HotkeyError> {
    let bytes = bs58::decode(s).into_vec().map_err(|_| HotkeyError::Base58(s.to_owned()))?;
    let (prefix, prefix_len) = match bytes.first() {
        Some(&b) if b < 64 => (u16::from(b), 1),
        Some(&b) if b < 128 => {
            let second = *bytes.get(1).ok_or_else(|| HotkeyError::Length { address: s.to_owned(), len: bytes.len() })?;
            let lower = ((u16::from(b) << 2) & 0xff) | (u16::from(second) >> 6);
            let upper = u16::from(second & 0x3f);
            (lower | (upper << 8), 2)
        }
        Some(&b) => return Err(HotkeyError::Prefix { address: s.to_owned(), prefix: u16::from(b) }),
        None => return Err(HotkeyError::Length { address: s.to_owned(), len: 0 }),
    };
    if bytes.len() != prefix_len + 32 + 2 {
        return Err(HotkeyError::Length { address: s.to_owned(), len: bytes.len() });
    }
    let body = &bytes[..prefix_len + 32];
    let sum = ss58_checksum(body);
    if sum[..2] != bytes[prefix_len + 32..] {
        return Err(HotkeyError::Checksum(s.to_owned()));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes[prefix_len..prefix_len + 32]);
    Ok((prefix, key))
}

impl Hotkey {
    /// Parses a hotkey, validating it when it looks like an SS58 address.
    pub fn new(s: impl Into<String>) -> Result<Self, HotkeyError> {
        let s = s.into();
        if s.is_empty() || s.len() > 128 || s.chars().any(char::is_control) {
            return Err(HotkeyError::Invalid);
        }
        if claims_ss58(&s) {
            decode_ss58(&s)?;
        }
        Ok(Hotkey(s))
    }

    /// Parses a string that must be an SS58 address; opaque labels are rejected.
    pub fn parse_ss58(s: &str) -> Result<Self, HotkeyError> {
        decode_ss58(s)?;
        Ok(Hotkey(s.to_owned()))
    }

    /// Encodes a 32-byte public key as an SS58 address with the given prefix (`< 16384`).
    ///
    /// ```
    /// let key = [0u8; 32];
    /// let hk = dojo_types::Hotkey::from_public_key(&key, 42);
    /// assert_eq!(hk.public_key(), Some(key));
    /// ```
    pub fn from_public_key(key: &[u8; 32], prefix: u16) -> Self {
        let prefix = prefix & 0x3fff;
        let mut payload = Vec::with_capacity(36);
        if prefix < 64 {
            payload.push(prefix as u8);
        } else {
            payload.push((((prefix & 0b1111_1100) >> 2) as u8) | 0b0100_0000);
            payload.push(((prefix >> 8) as u8) | (((prefix & 0b11) as u8) << 6));
        }
        payload.extend_from_slice(key);
        let sum = ss58_checksum(&payload);
        payload.extend_from_slice(&sum[..2]);
        Hotkey(bs58::encode(payload).into_string())
    }

    /// The 32-byte public key if this hotkey is an SS58 address.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        if claims_ss58(&self.0) { decode_ss58(&self.0).ok().map(|(_, k)| k) } else { None }
    }

    /// The SS58 prefix if this hotkey is an SS58 address.
    pub fn ss58_prefix(&self) -> Option<u16> {
        if claims_ss58(&self.0) { decode_ss58(&self.0).ok().map(|(p, _)| p) } else { None }
    }

    /// The hotkey as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Hotkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Hotkey {
    type Err = HotkeyError;
    fn from_str(s: &str) -> Result<Self, HotkeyError> {
        Self::new(s)
    }
}

impl std::borrow::Borrow<str> for Hotkey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Hotkey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Hotkey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The //Alice sr25519 dev key, a well-known vector.
    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const ALICE_PUB: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn alice_roundtrip() {
        let key = hex32(ALICE_PUB);
        assert_eq!(Hotkey::from_public_key(&key, 42).as_str(), ALICE);
        let hk = Hotkey::new(ALICE).unwrap();
        assert_eq!(hk.public_key(), Some(key));
        assert_eq!(hk.ss58_prefix(), Some(42));
    }

    #[test]
    fn rejects_corrupted_addresses() {
        let mut bad = ALICE.to_owned();
        bad.replace_range(10..11, "z");
        assert!(matches!(Hotkey::new(bad), Err(HotkeyError::Checksum(_))));
        assert!(Hotkey::parse_ss58("h1").is_err());
        assert_eq!(Hotkey::new(""), Err(HotkeyError::Invalid));
    }

    proptest! {
        #[test]
        fn ss58_roundtrips(key in any::<[u8; 32]>(), prefix in 0u16..16384) {
            let hk = Hotkey::from_public_key(&key, prefix);
            prop_assert_eq!(hk.public_key(), Some(key));
            prop_assert_eq!(hk.ss58_prefix(), Some(prefix));
        }

        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = Hotkey::new(s.clone());
            let _ = Hotkey::parse_ss58(&s);
        }
    }
}

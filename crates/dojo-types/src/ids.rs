use std::fmt;

/// Position of a neuron in a subnet's metagraph (`0..n`).
///
/// ```
/// let uid = dojo_types::Uid(7);
/// assert_eq!(uid.to_string(), "7");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
pub struct Uid(pub u16);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u16> for Uid {
    fn from(v: u16) -> Self {
        Uid(v)
    }
}

/// Errors from constructing an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier was empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which identifier kind.
        kind: &'static str,
    },
    /// The identifier exceeded [`MAX_ID_LEN`].
    #[error("{kind} is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Which identifier kind.
        kind: &'static str,
        /// Actual length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The identifier contained a control character.
    #[error("{kind} contains a control character")]
    ControlCharacter {
        /// Which identifier kind.
        kind: &'static str,
    },
}

/// Longest identifier accepted, in bytes. Ids travel on the wire and into logs, so they are bounded.
pub const MAX_ID_LEN: usize = 128;

fn check_id(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, len: s.len(), max: MAX_ID_LEN });
    }
    if s.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter { kind });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an identifier: non-empty, at most [`MAX_ID_LEN`](crate::MAX_ID_LEN)
            /// bytes, no control characters.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_id($kind, &s)?;
                Ok(Self(s))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// Identifier of a task, assigned by the validator that created it.
    ///
    /// ```
    /// let t: dojo_types::TaskId = "t1".parse().unwrap();
    /// assert_eq!(t.as_str(), "t1");
    /// assert!(dojo_types::TaskId::new("").is_err());
    /// ```
    TaskId,
    "task id"
);

string_id!(
    /// Identifier of one completion (response) inside a task.
    ///
    /// Validators replace model names by random ids before sending, so this is opaque.
    ///
    /// ```
    /// let c = dojo_types::CompletionId::new("c1").unwrap();
    /// assert_eq!(c.to_string(), "c1");
    /// ```
    CompletionId,
    "completion id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_bad_input() {
        assert_eq!(TaskId::new(""), Err(IdError::Empty { kind: "task id" }));
        assert!(matches!(CompletionId::new("a".repeat(129)), Err(IdError::TooLong { len: 129, .. })));
        assert!(matches!(CompletionId::new("a\nb"), Err(IdError::ControlCharacter { .. })));
        assert!(CompletionId::new("550e8400-e29b-41d4-a716-446655440000").is_ok());
    }
}

//! Endpoint resolution for `--subtensor.network`, mirroring the Python SDK's `settings.py`.

use std::fmt;
use std::str::FromStr;

/// A subtensor network name or an explicit websocket endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    /// Mainnet (`wss://entrypoint-finney.opentensor.ai:443`).
    Finney,
    /// Testnet (`wss://test.finney.opentensor.ai:443`).
    Test,
    /// Mainnet archive node (`wss://archive.chain.opentensor.ai:443`).
    Archive,
    /// A node on this machine (`ws://127.0.0.1:9944`).
    Local,
    /// Any `ws://` or `wss://` URL.
    Custom(String),
}

/// A `--subtensor.network` value that is neither a known name nor a websocket URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown subtensor network {0:?}: use finney, test, archive, local or a ws:// / wss:// URL"
)]
pub struct NetworkError(pub String);

impl Network {
    /// The websocket endpoint.
    pub fn endpoint(&self) -> &str {
        match self {
            Self::Finney => "wss://entrypoint-finney.opentensor.ai:443",
            Self::Test => "wss://test.finney.opentensor.ai:443",
            Self::Archive => "wss://archive.chain.opentensor.ai:443",
            Self::Local => "ws://127.0.0.1:9944",
            Self::Custom(url) => url,
        }
    }

    /// Plain `ws://` endpoints need subxt's insecure constructor.
    pub fn is_insecure(&self) -> bool {
        self.endpoint().starts_with("ws://")
    }
}

impl FromStr for Network {
    type Err = NetworkError;
    fn from_str(s: &str) -> Result<Self, NetworkError> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "finney" | "main" | "mainnet" => Ok(Self::Finney),
            "test" | "testnet" => Ok(Self::Test),
            "archive" => Ok(Self::Archive),
            "local" | "localnet" => Ok(Self::Local),
            lower
                if (lower.starts_with("ws://") || lower.starts_with("wss://"))
                    && t.len() > 6
                    && !t.contains(' ') =>
            {
                Ok(Self::Custom(t.to_owned()))
            }
            _ => Err(NetworkError(s.to_owned())),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.endpoint())
    }
}

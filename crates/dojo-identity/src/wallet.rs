use std::io::Write;
use std::path::{Path, PathBuf};

use dojo_types::Hotkey;

use crate::keyfile::{self, KeyMaterial, KeyfileError};
use crate::keys::{KeyError, Keypair};

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// A keyfile could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A keyfile's content is invalid.
    #[error("{}: {source}", path.display())]
    Keyfile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        #[source]
        source: KeyfileError,
    },
    /// The hotkey file holds only a public key.
    #[error("{}: holds no secret key", .0.display())]
    PublicOnly(PathBuf),
    /// Creating would overwrite an existing key.
    #[error("{} exists; pass overwrite to replace it", .0.display())]
    Exists(PathBuf),
    /// A wallet or hotkey name that would escape the wallet directory.
    #[error("invalid wallet or hotkey name {0:?}")]
    Name(String),
    /// Key generation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A btcli wallet: `<path>/<name>/coldkey`, `coldkeypub.txt`, `hotkeys/<hotkey>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    /// Directory holding all wallets (btcli default `~/.bittensor/wallets`).
    pub path: PathBuf,
    /// Wallet (coldkey) name.
    pub name: String,
    /// Hotkey name.
    pub hotkey: String,
}

fn check_name(s: &str) -> Result<(), WalletError> {
    if s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\', '\0']) {
        return Err(WalletError::Name(s.to_owned()));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, WalletError> {
    std::fs::read(path).map_err(|source| WalletError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write_private(path: &Path, data: &[u8], overwrite: bool) -> Result<(), WalletError> {
    let io = |source| WalletError::Io {
        path: path.to_owned(),
        source,
    };
    if !overwrite && path.exists() {
        return Err(WalletError::Exists(path.to_owned()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(data).map_err(io)?;
    f.sync_all().map_err(io)
}

impl Wallet {
    /// A wallet handle; nothing is read until a key is asked for.
    pub fn new(
        path: impl Into<PathBuf>,
        name: impl Into<String>,
        hotkey: impl Into<String>,
    ) -> Result<Self, WalletError> {
        let w = Wallet {
            path: path.into(),
            name: name.into(),
            hotkey: hotkey.into(),
        };
        check_name(&w.name)?;
        check_name(&w.hotkey)?;
        Ok(w)
    }

    /// btcli's default wallet directory, `$HOME/.bittensor/wallets`, if a home directory is known.
    pub fn default_path() -> Option<PathBuf> {
        std::env::home_dir().map(|h| h.join(".bittensor").join("wallets"))
    }

    /// `<path>/<name>`.
    pub fn dir(&self) -> PathBuf {
        self.path.join(&self.name)
    }

    /// The coldkey file.
    pub fn coldkey_path(&self) -> PathBuf {
        self.dir().join("coldkey")
    }

    /// `coldkeypub.txt`.
    pub fn coldkeypub_path(&self) -> PathBuf {
        self.dir().join("coldkeypub.txt")
    }

    /// The hotkey file.
    pub fn hotkey_path(&self) -> PathBuf {
        self.dir().join("hotkeys").join(&self.hotkey)
    }

    /// The hotkey's public file.
    pub fn hotkeypub_path(&self) -> PathBuf {
        self.dir()
            .join("hotkeys")
            .join(format!("{}pub.txt", self.hotkey))
    }

    fn load(path: &Path, password: Option<&str>) -> Result<KeyMaterial, WalletError> {
        keyfile::parse(&read(path)?, password).map_err(|source| WalletError::Keyfile {
            path: path.to_owned(),
            source,
        })
    }

    /// Loads the hotkey pair (hotkeys are normally unencrypted; pass a password if yours is not).
    pub fn hotkey(&self, password: Option<&str>) -> Result<Keypair, WalletError> {
        match Self::load(&self.hotkey_path(), password)? {
            KeyMaterial::Pair(k) => Ok(*k),
            KeyMaterial::Public(_) => Err(WalletError::PublicOnly(self.hotkey_path())),
        }
    }

    /// The hotkey address: from the hotkey file, or from `<hotkey>pub.txt` when the hotkey file is
    /// encrypted and no password is at hand.
    pub fn hotkey_address(&self) -> Result<Hotkey, WalletError> {
        let path = self.hotkey_path();
        match keyfile::parse(&read(&path)?, None) {
            Ok(m) => Ok(m.ss58()),
            Err(KeyfileError::Encrypted) => Ok(Self::load(&self.hotkeypub_path(), None)?.ss58()),
            Err(source) => Err(WalletError::Keyfile { path, source }),
        }
    }

    /// The coldkey address from `coldkeypub.txt`.
    pub fn coldkey_address(&self) -> Result<Hotkey, WalletError> {
        Ok(Self::load(&self.coldkeypub_path(), None)?.ss58())
    }

    /// Decrypts and loads the coldkey pair.
    pub fn coldkey(&self, password: Option<&str>) -> Result<Keypair, WalletError> {
        match Self::load(&self.coldkey_path(), password)? {
            KeyMaterial::Pair(k) => Ok(*k),
            KeyMaterial::Public(_) => Err(WalletError::PublicOnly(self.coldkey_path())),
        }
    }

    /// Writes `coldkey` (NaCl-encrypted when a password is given) and `coldkeypub.txt`.
    pub fn write_coldkey(
        &self,
        key: &Keypair,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<(), WalletError> {
        let path = self.coldkey_path();
        let json = keyfile::to_json(key);
        let data = match password {
            Some(p) => keyfile::encrypt_nacl(&json, p).map_err(|source| WalletError::Keyfile {
                path: path.clone(),
                source,
            })?,
            None => json.to_vec(),
        };
        write_private(&path, &data, overwrite)?;
        write_private(
            &self.coldkeypub_path(),
            &keyfile::to_public_json(&key.ss58()),
            overwrite,
        )
    }

    /// Writes `hotkeys/<hotkey>` (unencrypted, as btcli does by default) and its `pub.txt`.
    pub fn write_hotkey(&self, key: &Keypair, overwrite: bool) -> Result<(), WalletError> {
        write_private(&self.hotkey_path(), &keyfile::to_json(key), overwrite)?;
        write_private(
            &self.hotkeypub_path(),
            &keyfile::to_public_json(&key.ss58()),
            overwrite,
        )
    }

    /// Creates a new coldkey and hotkey from fresh `words`-word mnemonics, as `btcli wallet create`.
    /// Returns `(coldkey, hotkey)`; the mnemonics are in [`Keypair::phrase`] for the operator to back up.
    pub fn create(
        &self,
        words: usize,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<(Keypair, Keypair), WalletError> {
        let cold = Keypair::generate(words)?;
        let hot = Keypair::generate(words)?;
        if !overwrite {
            for p in [self.coldkey_path(), self.hotkey_path()] {
                if p.exists() {
                    return Err(WalletError::Exists(p));
                }
            }
        }
        self.write_coldkey(&cold, password, overwrite)?;
        self.write_hotkey(&hot, overwrite)?;
        Ok((cold, hot))
    }
}

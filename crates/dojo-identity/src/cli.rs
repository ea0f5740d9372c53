//! Command-line pieces the binaries mount: wallet flags and the `wallet` subcommand.
//!
//! The library never prints: [`run`] returns a [`Report`] whose `Display` is what the binary shows.

use std::fmt;
use std::path::PathBuf;

use crate::{Keypair, Wallet, WalletError};

/// `--wallet.name`, `--wallet.hotkey`, `--wallet.path`, as bittensor spells them.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Wallet")]
pub struct WalletArgs {
    /// Wallet (coldkey) name.
    #[arg(
        long = "wallet.name",
        env = "BT_WALLET_NAME",
        default_value = "default"
    )]
    pub name: String,
    /// Hotkey name inside the wallet.
    #[arg(
        long = "wallet.hotkey",
        env = "BT_WALLET_HOTKEY",
        default_value = "default"
    )]
    pub hotkey: String,
    /// Directory holding wallets (default `~/.bittensor/wallets`).
    #[arg(long = "wallet.path", env = "BT_WALLET_PATH")]
    pub path: Option<PathBuf>,
}

impl WalletArgs {
    /// The wallet these flags name.
    pub fn wallet(&self) -> Result<Wallet, WalletError> {
        let path = self
            .path
            .clone()
            .or_else(Wallet::default_path)
            .ok_or_else(|| {
                WalletError::Name("no --wallet.path and no home directory".to_owned())
            })?;
        Wallet::new(path, self.name.clone(), self.hotkey.clone())
    }
}

/// `wallet <command>`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum WalletCommand {
    /// Create a coldkey and a hotkey in btcli's format.
    Create {
        /// Wallet to create.
        #[command(flatten)]
        wallet: WalletArgs,
        /// Words per mnemonic (12, 15, 18, 21, 24).
        #[arg(long = "n-words", default_value_t = 12)]
        n_words: usize,
        /// File whose first line is the coldkey password (NaCl-encrypts the coldkey).
        #[arg(long = "coldkey.password-file", conflicts_with = "no_password")]
        password_file: Option<PathBuf>,
        /// Store the coldkey unencrypted (test wallets only).
        #[arg(long = "no-password")]
        no_password: bool,
        /// Replace existing key files.
        #[arg(long)]
        overwrite: bool,
    },
    /// Print the wallet name, hotkey address and coldkey address.
    Show {
        /// Wallet to show.
        #[command(flatten)]
        wallet: WalletArgs,
    },
}

/// Why the wallet subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Wallet operation failed.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// `create` needs `--coldkey.password-file` or `--no-password`.
    #[error("pass --coldkey.password-file FILE to encrypt the coldkey, or --no-password")]
    NoPassword,
    /// The password file could not be read.
    #[error("reading password file {}: {source}", path.display())]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What a wallet command did, for the binary to print.
#[derive(Debug)]
pub enum Report {
    /// Wallet created. The mnemonics are shown once so the operator can back them up.
    Created {
        /// The wallet.
        wallet: Wallet,
        /// New coldkey.
        coldkey: Box<Keypair>,
        /// New hotkey.
        hotkey: Box<Keypair>,
    },
    /// Wallet addresses.
    Shown {
        /// The wallet.
        wallet: Wallet,
        /// Hotkey SS58.
        hotkey: String,
        /// Coldkey SS58.
        coldkey: String,
    },
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Created {
                wallet,
                coldkey,
                hotkey,
            } => {
                writeln!(
                    f,
                    "created wallet {} in {}",
                    wallet.name,
                    wallet.path.display()
                )?;
                writeln!(f, "coldkey {}", coldkey.ss58())?;
                writeln!(
                    f,
                    "coldkey mnemonic (write it down, it is not shown again): {}",
                    coldkey.phrase().unwrap_or("-")
                )?;
                writeln!(f, "hotkey {} {}", wallet.hotkey, hotkey.ss58())?;
                writeln!(f, "hotkey mnemonic: {}", hotkey.phrase().unwrap_or("-"))
            }
            Report::Shown {
                wallet,
                hotkey,
                coldkey,
            } => {
                writeln!(f, "name: {}", wallet.name)?;
                writeln!(f, "hotkey: {} {hotkey}", wallet.hotkey)?;
                writeln!(f, "coldkey: {coldkey}")
            }
        }
    }
}

/// Runs a wallet command.
pub fn run(cmd: &WalletCommand) -> Result<Report, CliError> {
    match cmd {
        WalletCommand::Create {
            wallet,
            n_words,
            password_file,
            no_password,
            overwrite,
        } => {
            let wallet = wallet.wallet()?;
            let password = match (password_file, no_password) {
                (Some(p), _) => Some(zeroize::Zeroizing::new(
                    std::fs::read_to_string(p)
                        .map_err(|source| CliError::PasswordFile {
                            path: p.clone(),
                            source,
                        })?
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                )),
                (None, true) => None,
                (None, false) => return Err(CliError::NoPassword),
            };
            let (coldkey, hotkey) = wallet.create(
                *n_words,
                password.as_deref().map(String::as_str),
                *overwrite,
            )?;
            Ok(Report::Created {
                wallet,
                coldkey: Box::new(coldkey),
                hotkey: Box::new(hotkey),
            })
        }
        WalletCommand::Show { wallet } => {
            let wallet = wallet.wallet()?;
            let hotkey = wallet.hotkey_address()?.to_string();
            let coldkey = wallet.coldkey_address()?.to_string();
            Ok(Report::Shown {
                wallet,
                hotkey,
                coldkey,
            })
        }
    }
}

//! Bittensor wallets as btcli writes them, and the sr25519 keys inside.
//!
//! # Brief overview
//!
//! * [`Keypair`]: an sr25519 key derived the Substrate way (BIP39 entropy → PBKDF2 mini-secret →
//!   schnorrkel, `//hard` and `/soft` junctions), signing with the `"substrate"` context. [`verify`]
//!   checks a signature against an SS58 hotkey.
//! * [`keyfile`]: the keyfile JSON (`accountId`, `publicKey`, `privateKey`, `secretPhrase`,
//!   `secretSeed`, `ss58Address`, `cryptoType`) and its NaCl encryption (`$NACL` ‖ nonce ‖
//!   secretbox, key from argon2i with libsodium's "sensitive" limits).
//! * [`Wallet`]: the on-disk layout `<path>/<name>/{coldkey,coldkeypub.txt,hotkeys/<hotkey>}`:
//!   load the hotkey, the public coldkey, decrypt the coldkey, create a new wallet.
//! * `cli` (feature `cli`): the `--wallet.name/--wallet.hotkey/--wallet.path` flags and the
//!   `wallet create|show` subcommand that the binaries mount.
//!
//! Secrets are zeroed on drop where the underlying types allow it and never appear in `Debug`.

#[cfg(feature = "cli")]
pub mod cli;
pub mod keyfile;
mod keys;
mod wallet;

pub use keys::{
    DEV_PHRASE, KeyError, Keypair, SIGNING_CONTEXT, VerifyingKey, verify, verify_with_public,
};
pub use wallet::{Wallet, WalletError};

#[cfg(test)]
mod tests;

//! `cargo xtask yuma-epoch --input FILE`: one devnet Yuma epoch on a JSON snapshot, printed as JSON.
//!
//! The epoch lives in `dojo-devnet`; xtask stays light by running the `dojo-devnet epoch` binary.

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

pub(crate) fn run(sh: &Shell, args: &[String]) -> Result<()> {
    let input = match args {
        [flag, file] if flag == "--input" => file.clone(),
        [arg] if arg.starts_with("--input=") => arg["--input=".len()..].to_owned(),
        _ => bail!("usage: cargo xtask yuma-epoch --input FILE (format: docs/yuma-epoch.md)"),
    };
    // Relative paths are resolved from where the user ran the command, not the project root.
    let path = std::path::Path::new(&input);
    let path = if path.is_absolute() || input == "-" {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    };
    cmd!(
        sh,
        "cargo run --quiet -p dojo-devnet-bin -- epoch --input {path}"
    )
    .run()?;
    Ok(())
}

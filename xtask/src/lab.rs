//! `cargo xtask lab run CONFIG.yaml [ARGS]`: runs a lab experiment with the shipped reward model
//! installed (forwards to the `dojo-lab` binary).

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

pub(crate) fn run(sh: &Shell, args: &[String]) -> Result<()> {
    let Some((sub, rest)) = args.split_first() else {
        bail!("usage: cargo xtask lab run CONFIG.yaml [dojo-lab flags]");
    };
    if sub != "run" && sub != "check" {
        bail!("unknown lab command `{sub}` (expected `run` or `check`)");
    }
    // The examples use the shipped model: make sure it and ONNX Runtime are installed (cached).
    let env = crate::reward::setup_env(sh)?;
    let mut c = cmd!(sh, "cargo run --quiet -p dojo-lab-bin -- {sub} {rest...}");
    for (k, v) in env {
        c = c.env(k, v);
    }
    c.run()?;
    Ok(())
}

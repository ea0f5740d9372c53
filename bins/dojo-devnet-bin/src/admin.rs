//! `dojo-devnet admin ...`: the devnet's admin and chain calls as one-shot commands for scripts.
//!
//! Every command prints exactly one JSON object on one stdout line, so an orchestrator that links
//! no project crate can drive a running devnet through its CLI alone.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use dojo_devnet::SubnetParams;
use dojo_devnet::grpc::RemoteChain;
use dojo_types::Hotkey;
use dojo_types::chain::{AxonInfo, Chain, ChainError, HyperparamValue, NeuronInfo};
use serde_json::{Value, json};

/// Hyperparameter names and types, listed in `--help`.
pub(crate) fn hyperparam_help() -> String {
    let mut out = String::from("Hyperparameters (NAME: type, default):\n");
    for (name, v) in SubnetParams::default().entries() {
        out.push_str(&format!("  {name}: {}, {}\n", kind(v), show(v)));
    }
    out
}

fn kind(v: HyperparamValue) -> &'static str {
    match v {
        HyperparamValue::Bool(_) => "bool",
        HyperparamValue::U16(_) => "u16",
        HyperparamValue::U64(_) => "u64",
        HyperparamValue::I16(_) => "i16",
    }
}

fn show(v: HyperparamValue) -> Value {
    match v {
        HyperparamValue::Bool(b) => json!(b),
        HyperparamValue::U16(x) => json!(x),
        HyperparamValue::U64(x) => json!(x),
        HyperparamValue::I16(x) => json!(x),
    }
}

/// Parses `value` as the type of hyperparameter `name` (the devnet's own table decides, so the
/// CLI never drifts from what `set_hyperparam` accepts).
fn parse_hyperparam(name: &str, value: &str) -> Result<HyperparamValue> {
    let entries = SubnetParams::default().entries();
    let Some((_, template)) = entries.iter().find(|(n, _)| n == name) else {
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        bail!(
            "unknown hyperparameter {name:?}; known: {}",
            names.join(", ")
        );
    };
    let bad = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "hyperparameter {name} is a {}: cannot parse {value:?} ({e})",
            kind(*template)
        )
    };
    let v = value.trim();
    Ok(match template {
        HyperparamValue::Bool(_) => HyperparamValue::Bool(match v {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad(&"expected true, false, 1 or 0")),
        }),
        HyperparamValue::U16(_) => HyperparamValue::U16(v.parse().map_err(|e| bad(&e))?),
        HyperparamValue::U64(_) => HyperparamValue::U64(v.parse().map_err(|e| bad(&e))?),
        HyperparamValue::I16(_) => HyperparamValue::I16(v.parse().map_err(|e| bad(&e))?),
    })
}

/// `NAME=VALUE` of `--set`.
fn parse_assignment(s: &str) -> Result<(String, HyperparamValue)> {
    let (name, value) = s
        .split_once('=')
        .with_context(|| format!("--set {s:?}: expected NAME=VALUE"))?;
    let name = name.trim();
    Ok((name.to_owned(), parse_hyperparam(name, value)?))
}

fn key(s: &str, what: &str) -> Result<Hotkey> {
    Hotkey::new(s).with_context(|| format!("{what} {s:?} is not a valid SS58 address or label"))
}

/// `dojo-devnet admin`.
#[derive(Args, Debug)]
pub(crate) struct AdminArgs {
    /// gRPC endpoint of a running `dojo-devnet`.
    #[arg(
        long = "subtensor.chain_endpoint",
        env = "DOJO_CHAIN_ENDPOINT",
        default_value = "http://127.0.0.1:50151",
        global = true
    )]
    endpoint: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create a subnet, then set each `--set NAME=VALUE`. Prints {"netuid":N,"created":bool}.
    #[command(after_help = hyperparam_help())]
    CreateSubnet {
        #[arg(long)]
        netuid: u16,
        #[arg(long = "owner-coldkey")]
        owner_coldkey: String,
        /// Registered at UID 0 when given.
        #[arg(long = "owner-hotkey")]
        owner_hotkey: Option<String>,
        /// A hyperparameter to set after creation (repeatable), e.g. `--set tempo=10`.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// An existing subnet is not an error (the `--set` values are still applied).
        #[arg(long = "exist-ok")]
        exist_ok: bool,
    },
    /// Set one hyperparameter. Prints {"netuid":N,"name":NAME,"value":VALUE}.
    #[command(after_help = hyperparam_help())]
    SetHyperparam {
        #[arg(long)]
        netuid: u16,
        name: String,
        value: String,
    },
    /// Mint free balance to a coldkey. Prints {"coldkey":..,"amount":RAO}.
    Faucet {
        #[arg(long)]
        coldkey: String,
        /// Rao.
        #[arg(long)]
        amount: u64,
    },
    /// Burned registration (pays the subnet's burn from the coldkey). Prints {"uid":U,...}.
    Register {
        #[arg(long)]
        netuid: u16,
        #[arg(long)]
        coldkey: String,
        #[arg(long)]
        hotkey: String,
    },
    /// Add alpha stake to a hotkey. Prints {"hotkey":..,"amount":RAO,"netuid":N}.
    Stake {
        #[arg(long)]
        netuid: u16,
        #[arg(long)]
        hotkey: String,
        /// Rao.
        #[arg(long)]
        amount: u64,
    },
    /// Produce K blocks now (epochs run as they fall due). Prints {"block":B}.
    Advance {
        #[arg(long)]
        blocks: u64,
    },
    /// The current block. Prints {"block":B}.
    Block,
    /// A subnet's hyperparameters as one JSON object {NAME: VALUE, ...}.
    Hyperparams {
        #[arg(long)]
        netuid: u16,
    },
    /// The metagraph; consensus, incentive, dividends and validator_trust as floats in [0, 1],
    /// emission and stakes in rao, weights as [uid, u16] pairs.
    Metagraph {
        #[arg(long)]
        netuid: u16,
    },
}

/// Runs one admin command and returns the JSON object it prints.
pub(crate) async fn run(args: AdminArgs) -> Result<Value> {
    let chain = RemoteChain::connect(&args.endpoint)
        .await
        .with_context(|| format!("connecting to the devnet at {}", args.endpoint))?;
    Ok(match args.command {
        AdminCommand::CreateSubnet {
            netuid,
            owner_coldkey,
            owner_hotkey,
            set,
            exist_ok,
        } => {
            // Everything is parsed before the chain changes, so a typo creates nothing.
            let ck = key(&owner_coldkey, "--owner-coldkey")?;
            let hk = owner_hotkey
                .as_deref()
                .map(|h| key(h, "--owner-hotkey"))
                .transpose()?;
            let set = set
                .iter()
                .map(|s| parse_assignment(s))
                .collect::<Result<Vec<_>>>()?;
            let created = match chain.create_subnet(netuid, &ck, hk.as_ref()).await {
                Ok(()) => true,
                Err(ChainError::SubnetExists(_)) if exist_ok => false,
                Err(e @ ChainError::SubnetExists(_)) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "subnet {netuid} exists (pass --exist-ok to reuse it)"
                    )));
                }
                Err(e) => return Err(e).context(format!("creating subnet {netuid}")),
            };
            for (name, value) in set {
                chain
                    .set_hyperparam(netuid, &name, value)
                    .await
                    .with_context(|| format!("setting {name} on subnet {netuid}"))?;
            }
            json!({"netuid": netuid, "created": created})
        }
        AdminCommand::SetHyperparam {
            netuid,
            name,
            value,
        } => {
            let v = parse_hyperparam(&name, &value)?;
            chain
                .set_hyperparam(netuid, &name, v)
                .await
                .with_context(|| format!("setting {name} on subnet {netuid}"))?;
            json!({"netuid": netuid, "name": name, "value": show(v)})
        }
        AdminCommand::Faucet { coldkey, amount } => {
            let ck = key(&coldkey, "--coldkey")?;
            chain.faucet(&ck, amount).await.context("faucet")?;
            json!({"coldkey": coldkey, "amount": amount})
        }
        AdminCommand::Register {
            netuid,
            coldkey,
            hotkey,
        } => {
            let (ck, hk) = (key(&coldkey, "--coldkey")?, key(&hotkey, "--hotkey")?);
            let uid = chain
                .burned_register(&ck, netuid, &hk)
                .await
                .with_context(|| format!("registering {hotkey} on subnet {netuid}"))?;
            json!({"uid": uid.0, "netuid": netuid, "hotkey": hotkey, "coldkey": coldkey})
        }
        AdminCommand::Stake {
            netuid,
            hotkey,
            amount,
        } => {
            let hk = key(&hotkey, "--hotkey")?;
            chain
                .add_stake(&hk, netuid, amount)
                .await
                .with_context(|| format!("staking to {hotkey} on subnet {netuid}"))?;
            json!({"hotkey": hotkey, "amount": amount, "netuid": netuid})
        }
        AdminCommand::Advance { blocks } => {
            let block = chain.advance_blocks(blocks).await.context("advancing")?;
            json!({"block": block})
        }
        AdminCommand::Block => {
            let block = chain.current_block().await.context("reading the block")?;
            json!({"block": block})
        }
        AdminCommand::Hyperparams { netuid } => {
            let hp = chain
                .hyperparams(netuid)
                .await
                .with_context(|| format!("hyperparameters of subnet {netuid}"))?;
            Value::Object(
                hp.entries
                    .into_iter()
                    .map(|(name, v)| (name, show(v)))
                    .collect(),
            )
        }
        AdminCommand::Metagraph { netuid } => {
            let m = chain
                .metagraph(netuid)
                .await
                .with_context(|| format!("metagraph of subnet {netuid}"))?;
            json!({
                "netuid": m.netuid,
                "block": m.block,
                "neurons": m.neurons.iter().map(neuron_json).collect::<Vec<_>>(),
            })
        }
    })
}

fn unit(x: u16) -> f64 {
    f64::from(x) / f64::from(u16::MAX)
}

fn axon_addr(a: &AxonInfo) -> String {
    match a.ipv4() {
        Some(ip) => format!("{ip}:{}", a.port),
        None => format!("[{}]:{}", std::net::Ipv6Addr::from(a.ip), a.port),
    }
}

fn neuron_json(n: &NeuronInfo) -> Value {
    json!({
        "uid": n.uid.0,
        "hotkey": n.hotkey.to_string(),
        "coldkey": n.coldkey.to_string(),
        "stake": n.stake,
        "alpha_stake": n.alpha_stake,
        "tao_stake": n.tao_stake,
        "validator_permit": n.validator_permit,
        "consensus": unit(n.consensus),
        "incentive": unit(n.incentive),
        "dividends": unit(n.dividends),
        "validator_trust": unit(n.validator_trust),
        "emission": n.emission,
        "last_update": n.last_update,
        "active": n.active,
        "block_at_registration": n.block_at_registration,
        "axon": n.axon.as_ref().map(axon_addr),
        "weights": n.weights.iter().map(|(u, w)| [*u, *w]).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_by_the_parameters_type() {
        assert_eq!(
            parse_hyperparam("tempo", "10").unwrap(),
            HyperparamValue::U16(10)
        );
        assert_eq!(
            parse_hyperparam("commit_reveal_weights_enabled", "false").unwrap(),
            HyperparamValue::Bool(false)
        );
        assert_eq!(
            parse_hyperparam("weights_rate_limit", "0").unwrap(),
            HyperparamValue::U64(0)
        );
        assert_eq!(
            parse_hyperparam("alpha_sigmoid_steepness", "-5").unwrap(),
            HyperparamValue::I16(-5)
        );
        assert!(parse_hyperparam("tempo", "70000").is_err());
        assert!(parse_hyperparam("tempo", "yes").is_err());
        let e = parse_hyperparam("tempoo", "1").unwrap_err().to_string();
        assert!(e.contains("unknown hyperparameter") && e.contains("immunity_period"));
        assert!(parse_assignment("tempo").is_err());
        assert_eq!(
            parse_assignment("max_allowed_uids=8").unwrap(),
            ("max_allowed_uids".to_owned(), HyperparamValue::U16(8))
        );
    }

    #[test]
    fn axons_print_as_socket_addresses() {
        let mut a = AxonInfo {
            block: 1,
            version: 0,
            ip: u128::from(u32::from(std::net::Ipv4Addr::new(127, 0, 0, 1))),
            port: 8091,
            ip_type: 4,
            protocol: 4,
        };
        assert_eq!(axon_addr(&a), "127.0.0.1:8091");
        a.ip = u128::from(std::net::Ipv6Addr::LOCALHOST);
        a.ip_type = 6;
        assert_eq!(axon_addr(&a), "[::1]:8091");
    }
}

//! Metagraph and hyperparameters through subtensor's runtime APIs (spec §2.2), both calls of a
//! snapshot pinned to one block hash so the vectors agree with each other.

use dojo_types::Hotkey;
use dojo_types::chain::{
    AxonInfo, ChainError, CommitScheme, HyperparamValue, Hyperparams, MetagraphSnapshot, Netuid,
    NeuronInfo,
};
use subxt::dynamic::Value;
use subxt::ext::scale_decode::DecodeAsType;
use subxt::ext::scale_value::{Primitive, ValueDef};

use crate::client::{At, Subtensor, transport};

/// SS58 prefix of every Bittensor network.
const SS58_PREFIX: u16 = 42;

/// The per-UID vectors of `SubnetInfoRuntimeApi.get_metagraph` (fields matched by name; the
/// struct has ~70, the rest are ignored).
#[derive(DecodeAsType, Debug)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct Metagraph {
    hotkeys: Vec<[u8; 32]>,
    coldkeys: Vec<[u8; 32]>,
    axons: Vec<Axon>,
    active: Vec<bool>,
    validator_permit: Vec<bool>,
    last_update: Vec<u64>,
    emission: Vec<u64>,
    dividends: Vec<u16>,
    incentives: Vec<u16>,
    consensus: Vec<u16>,
    block_at_registration: Vec<u64>,
    alpha_stake: Vec<u64>,
    tao_stake: Vec<u64>,
    total_stake: Vec<u64>,
}

#[derive(DecodeAsType, Debug)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct Axon {
    block: u64,
    version: u32,
    ip: u128,
    port: u16,
    ip_type: u8,
    protocol: u8,
}

/// `get_metagraph` has no validator trust; `get_neurons_lite` at the same block supplies it.
#[derive(DecodeAsType, Debug)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct NeuronLite {
    uid: u16,
    validator_trust: u16,
}

/// `get_neurons` (the full `NeuronInfo`) adds the weight and bond rows, as
/// `Vec<(Compact<u16>, Compact<u16>)>` with zeros left out.
#[derive(DecodeAsType, Debug)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct NeuronFull {
    uid: u16,
    validator_trust: u16,
    weights: Vec<(u16, u16)>,
    bonds: Vec<(u16, u16)>,
}

/// What the per-neuron call at the snapshot's block adds to `get_metagraph`.
#[derive(Debug, Default)]
struct Extra {
    validator_trust: u16,
    weights: Vec<(u16, u16)>,
    bonds: Vec<(u16, u16)>,
}

async fn runtime_api<R: DecodeAsType>(
    at: &At,
    api: &str,
    method: &str,
    netuid: Netuid,
) -> Result<R, ChainError> {
    let payload = subxt::dynamic::runtime_api_call::<_, R>(api, method, (netuid,));
    at.runtime_apis().call(payload).await.map_err(|e| {
        let text = e.to_string();
        if text.contains("decode") || text.contains("Decode") {
            ChainError::Decode(format!("{api}.{method}: {text}"))
        } else {
            transport(format!("{api}.{method}: {text}"))
        }
    })
}

fn snapshot(
    netuid: Netuid,
    block: u64,
    m: Metagraph,
    extra: Vec<(u16, Extra)>,
) -> Result<MetagraphSnapshot, ChainError> {
    let n = m.hotkeys.len();
    let lens = [
        ("coldkeys", m.coldkeys.len()),
        ("axons", m.axons.len()),
        ("active", m.active.len()),
        ("validator_permit", m.validator_permit.len()),
        ("last_update", m.last_update.len()),
        ("emission", m.emission.len()),
        ("dividends", m.dividends.len()),
        ("incentives", m.incentives.len()),
        ("consensus", m.consensus.len()),
        ("block_at_registration", m.block_at_registration.len()),
        ("alpha_stake", m.alpha_stake.len()),
        ("tao_stake", m.tao_stake.len()),
        ("total_stake", m.total_stake.len()),
    ];
    if let Some((name, len)) = lens.iter().find(|(_, l)| *l != n) {
        return Err(ChainError::Decode(format!(
            "metagraph of netuid {netuid} at block {block}: {name} has {len} entries, hotkeys {n}"
        )));
    }
    let mut by_uid: Vec<Extra> = (0..n).map(|_| Extra::default()).collect();
    for (uid, e) in extra {
        if let Some(slot) = by_uid.get_mut(usize::from(uid)) {
            *slot = e;
        }
    }
    let neurons = by_uid
        .into_iter()
        .enumerate()
        .map(|(i, extra)| {
            let a = &m.axons[i];
            NeuronInfo {
                uid: dojo_types::Uid(i as u16),
                hotkey: Hotkey::from_public_key(&m.hotkeys[i], SS58_PREFIX),
                coldkey: Hotkey::from_public_key(&m.coldkeys[i], SS58_PREFIX),
                alpha_stake: m.alpha_stake[i],
                tao_stake: m.tao_stake[i],
                stake: m.total_stake[i],
                validator_permit: m.validator_permit[i],
                axon: (a.ip != 0).then_some(AxonInfo {
                    block: a.block,
                    version: a.version,
                    ip: a.ip,
                    port: a.port,
                    ip_type: a.ip_type,
                    protocol: a.protocol,
                }),
                consensus: m.consensus[i],
                incentive: m.incentives[i],
                dividends: m.dividends[i],
                validator_trust: extra.validator_trust,
                emission: m.emission[i],
                last_update: m.last_update[i],
                active: m.active[i],
                block_at_registration: m.block_at_registration[i],
                weights: extra.weights,
                bonds: extra.bonds,
            }
        })
        .collect();
    Ok(MetagraphSnapshot {
        netuid,
        block,
        neurons,
    })
}

/// One hyperparameter as the v2 struct field or v3 entry holds it.
fn hyperparam(v: &Value) -> Option<HyperparamValue> {
    match &v.value {
        ValueDef::Primitive(Primitive::Bool(b)) => Some(HyperparamValue::Bool(*b)),
        ValueDef::Primitive(Primitive::U128(x)) => Some(match u16::try_from(*x) {
            Ok(small) => HyperparamValue::U16(small),
            Err(_) => HyperparamValue::U64(u64::try_from(*x).ok()?),
        }),
        ValueDef::Primitive(Primitive::I128(x)) => i16::try_from(*x).ok().map(HyperparamValue::I16),
        // Newtypes (`TaoBalance`, `I32F32 { bits }`) and v3's enum variants wrap one value.
        ValueDef::Composite(c) if c.len() == 1 => hyperparam(c.values().next()?),
        ValueDef::Variant(var) if var.values.len() == 1 => {
            let inner = var.values.values().next()?;
            if var.name == "I32F32" {
                // Fixed point with 32 fractional bits: the integer part is what the chain's
                // setters take (alpha_sigmoid_steepness).
                if let ValueDef::Primitive(Primitive::I128(bits)) = inner.value {
                    return i16::try_from(bits >> 32).ok().map(HyperparamValue::I16);
                }
            }
            hyperparam(inner)
        }
        _ => None,
    }
}

fn fixed_field(name: &str, v: &Value) -> Option<HyperparamValue> {
    // `I32F32` decodes as a composite `{ bits: i64 }`; report its integer part, as above.
    if name == "alpha_sigmoid_steepness"
        && let ValueDef::Composite(c) = &v.value
        && let Some(Value {
            value: ValueDef::Primitive(Primitive::I128(bits)),
            ..
        }) = c.values().next()
    {
        return i16::try_from(*bits >> 32).ok().map(HyperparamValue::I16);
    }
    hyperparam(v)
}

/// `Some(x)` of an `Option` decoded as a dynamic value, `None` for `None`.
fn some(v: Value) -> Result<Option<Value>, ChainError> {
    match v.value {
        ValueDef::Variant(var) if var.name == "None" => Ok(None),
        ValueDef::Variant(var) if var.name == "Some" => Ok(var.values.into_values().next()),
        other => Err(ChainError::Decode(format!(
            "expected an Option, got {}",
            Value {
                value: other,
                context: ()
            }
        ))),
    }
}

fn hyperparams_from(v: Value, v3: bool) -> Result<Hyperparams, ChainError> {
    let mut entries = Vec::new();
    if v3 {
        let ValueDef::Composite(list) = v.value else {
            return Err(ChainError::Decode("hyperparams_v3: not a list".into()));
        };
        for entry in list.into_values() {
            let ValueDef::Composite(fields) = entry.value else {
                continue;
            };
            let mut name = None;
            let mut value = None;
            for (k, f) in fields.into_named_or_unnamed_values() {
                match k.as_deref() {
                    Some("name") => {
                        name = f.as_bytes().and_then(|b| String::from_utf8(b).ok());
                    }
                    Some("value") => value = hyperparam(&f),
                    _ => {}
                }
            }
            if let (Some(n), Some(v)) = (name, value) {
                entries.push((n, v));
            }
        }
    } else {
        let ValueDef::Composite(fields) = v.value else {
            return Err(ChainError::Decode("hyperparams_v2: not a struct".into()));
        };
        for (k, f) in fields.into_named_or_unnamed_values() {
            if let Some(name) = k
                && let Some(value) = fixed_field(&name, &f)
            {
                entries.push((name, value));
            }
        }
    }
    Ok(Hyperparams { entries })
}

trait ValueExt {
    fn as_bytes(&self) -> Option<Vec<u8>>;
}

impl ValueExt for Value {
    fn as_bytes(&self) -> Option<Vec<u8>> {
        let ValueDef::Composite(c) = &self.value else {
            return None;
        };
        c.values()
            .map(|b| match b.value {
                ValueDef::Primitive(Primitive::U128(x)) => u8::try_from(x).ok(),
                _ => None,
            })
            .collect()
    }
}

trait CompositeExt {
    fn into_named_or_unnamed_values(self) -> Vec<(Option<String>, Value)>;
}

impl CompositeExt for subxt::ext::scale_value::Composite<()> {
    fn into_named_or_unnamed_values(self) -> Vec<(Option<String>, Value)> {
        match self {
            subxt::ext::scale_value::Composite::Named(v) => {
                v.into_iter().map(|(k, v)| (Some(k), v)).collect()
            }
            subxt::ext::scale_value::Composite::Unnamed(v) => {
                v.into_iter().map(|v| (None, v)).collect()
            }
        }
    }
}

impl Subtensor {
    /// Metagraph of `netuid` at the latest finalized block: `get_metagraph` and
    /// `get_neurons_lite` (or `get_neurons`, with [`crate::Options::rows`]) at the same block hash.
    pub async fn read_metagraph(&self, netuid: Netuid) -> Result<MetagraphSnapshot, ChainError> {
        let at = self.at_finalized().await?;
        let block = at.block_number();
        let m: Option<Metagraph> =
            runtime_api(&at, "SubnetInfoRuntimeApi", "get_metagraph", netuid).await?;
        let m = m.ok_or(ChainError::SubnetNotExists(netuid))?;
        let extra = if self.options.rows {
            let full: Vec<NeuronFull> =
                runtime_api(&at, "NeuronInfoRuntimeApi", "get_neurons", netuid).await?;
            full.into_iter()
                .map(|f| {
                    let e = Extra {
                        validator_trust: f.validator_trust,
                        weights: f.weights,
                        bonds: f.bonds,
                    };
                    (f.uid, e)
                })
                .collect()
        } else {
            let lite: Vec<NeuronLite> =
                runtime_api(&at, "NeuronInfoRuntimeApi", "get_neurons_lite", netuid).await?;
            lite.into_iter()
                .map(|l| {
                    let e = Extra {
                        validator_trust: l.validator_trust,
                        ..Extra::default()
                    };
                    (l.uid, e)
                })
                .collect()
        };
        snapshot(netuid, block, m, extra)
    }

    /// Hyperparameters by name: `get_subnet_hyperparams_v3` where the runtime has it, else the
    /// v2 struct's fields by name (spec 393, the fixture's runtime, has only v2).
    pub async fn read_hyperparams(&self, netuid: Netuid) -> Result<Hyperparams, ChainError> {
        let at = self.at_finalized().await?;
        let v3 = at
            .metadata_ref()
            .runtime_api_trait_by_name("SubnetInfoRuntimeApi")
            .is_some_and(|t| t.method_by_name("get_subnet_hyperparams_v3").is_some());
        let method = if v3 {
            "get_subnet_hyperparams_v3"
        } else {
            "get_subnet_hyperparams_v2"
        };
        let v: Value = runtime_api(&at, "SubnetInfoRuntimeApi", method, netuid).await?;
        let inner = some(v)?.ok_or(ChainError::SubnetNotExists(netuid))?;
        hyperparams_from(inner, v3)
    }
}

/// `CommitRevealWeightsVersion` from this version on means timelocked (drand) commits.
pub(crate) const TIMELOCKED_FROM: u16 = 3;

impl Subtensor {
    /// `SubtensorModule.CommitRevealWeightsVersion` at the latest finalized block: which
    /// commit-reveal scheme the chain expects of subnets that have it on (its default when the
    /// value was never written). `None` when the runtime has no such item (hash commits only).
    pub async fn commit_reveal_version(&self) -> Result<Option<u16>, ChainError> {
        let at = self.at_finalized().await?;
        let Some(entry) = at
            .metadata_ref()
            .pallet_by_name(crate::PALLET)
            .and_then(|p| p.storage())
            .and_then(|s| s.entry_by_name("CommitRevealWeightsVersion"))
        else {
            return Ok(None);
        };
        let default = entry.default_value().map(<[u8]>::to_vec);
        let key = subxt::ext::frame_decode::storage::encode_storage_key_prefix(
            crate::PALLET,
            "CommitRevealWeightsVersion",
        )
        .to_vec();
        let raw = match at.storage().fetch_raw(key).await {
            Ok(bytes) => bytes,
            Err(subxt::error::StorageError::NoValueFound) => default.unwrap_or_default(),
            Err(e) => return Err(transport(format!("CommitRevealWeightsVersion: {e}"))),
        };
        let bytes: [u8; 2] = raw.as_slice().try_into().map_err(|_| {
            ChainError::Decode(format!(
                "CommitRevealWeightsVersion: expected a u16, got {} bytes",
                raw.len()
            ))
        })?;
        Ok(Some(u16::from_le_bytes(bytes)))
    }

    /// The commit scheme of `netuid` while commit-reveal is on: timelocked from
    /// `CommitRevealWeightsVersion` 3 on, hash commits below it or when the runtime has no such
    /// item.
    pub async fn read_commit_scheme(&self, _netuid: Netuid) -> Result<CommitScheme, ChainError> {
        Ok(match self.commit_reveal_version().await? {
            Some(version) if version >= TIMELOCKED_FROM => CommitScheme::Timelocked { version },
            _ => CommitScheme::Hash,
        })
    }

    /// Fails when `netuid` has commit-reveal on and the chain expects timelocked commits (v3/v4):
    /// a hash commit would be the wrong scheme and could never be revealed. Passes when
    /// commit-reveal is off (plain `set_mechanism_weights`) or the chain still takes hash commits.
    pub async fn check_weights_supported(&self, netuid: Netuid) -> Result<(), ChainError> {
        let hp = self.read_hyperparams(netuid).await?;
        if !hp.flag("commit_reveal_weights_enabled")? {
            return Ok(());
        }
        match self.read_commit_scheme(netuid).await? {
            CommitScheme::Timelocked { version } => Err(ChainError::InvalidInput(format!(
                "subnet {netuid} has commit-reveal on and the chain expects timelocked \
                 commit-reveal v{version} (drand): a hash commit could never be revealed; \
                 commit with commit_timelocked_weights"
            ))),
            CommitScheme::Hash => Ok(()),
        }
    }

    /// The weight row of `hotkey` on `netuid` at the latest finalized block, from
    /// `NeuronInfoRuntimeApi.get_neurons` (the chain leaves zero entries out); `None` when the
    /// hotkey has no uid there.
    pub async fn read_weights_row(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
    ) -> Result<Option<Vec<(u16, u16)>>, ChainError> {
        let Some(pk) = hotkey.public_key() else {
            return Err(ChainError::InvalidInput(format!(
                "{hotkey} is not an SS58 address"
            )));
        };
        let at = self.at_finalized().await?;
        let full: Vec<NeuronRow> =
            runtime_api(&at, "NeuronInfoRuntimeApi", "get_neurons", netuid).await?;
        Ok(full.into_iter().find(|n| n.hotkey == pk).map(|n| n.weights))
    }
}

/// The parts of the full `NeuronInfo` a reveal check reads.
#[derive(DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct NeuronRow {
    hotkey: [u8; 32],
    weights: Vec<(u16, u16)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyperparam_values_by_shape() {
        assert_eq!(
            hyperparam(&Value::bool(true)),
            Some(HyperparamValue::Bool(true))
        );
        assert_eq!(
            hyperparam(&Value::u128(100)),
            Some(HyperparamValue::U16(100))
        );
        assert_eq!(
            hyperparam(&Value::u128(70_000)),
            Some(HyperparamValue::U64(70_000))
        );
        assert_eq!(hyperparam(&Value::u128(u128::MAX)), None);
        assert_eq!(
            hyperparam(&Value::unnamed_composite([Value::u128(5)])),
            Some(HyperparamValue::U16(5))
        );
        assert_eq!(
            fixed_field(
                "alpha_sigmoid_steepness",
                &Value::named_composite([("bits", Value::i128(1000i128 << 32))])
            ),
            Some(HyperparamValue::I16(1000))
        );
        assert_eq!(hyperparam(&Value::string("x")), None);
    }
}

//! What this crate needs from the runtime metadata, checked by name against the live metadata at
//! connect time and after every runtime upgrade (spec §7.2: fail loudly, listing the mismatches).

use scale_info::PortableRegistry;
use subxt::metadata::Metadata;

use crate::PALLET;

/// Calls and the argument names the payloads in [`crate::calls`] send.
const CALLS: &[(&str, &[&str])] = &[
    (
        "set_mechanism_weights",
        &["netuid", "mecid", "dests", "weights", "version_key"],
    ),
    ("commit_weights", &["netuid", "commit_hash"]),
    (
        "reveal_weights",
        &["netuid", "uids", "values", "salt", "version_key"],
    ),
    (
        "serve_axon",
        &[
            "netuid",
            "version",
            "ip",
            "port",
            "ip_type",
            "protocol",
            "placeholder1",
            "placeholder2",
        ],
    ),
    ("burned_register", &["netuid", "hotkey"]),
    (
        "commit_timelocked_mechanism_weights",
        &[
            "netuid",
            "mecid",
            "commit",
            "reveal_round",
            "commit_reveal_version",
        ],
    ),
];

/// Events whose presence confirms a call (spec §1.2).
const EVENTS: &[&str] = &[
    "WeightsSet",
    "WeightsCommitted",
    "WeightsRevealed",
    "AxonServed",
    "NeuronRegistered",
    "TimelockedWeightsCommitted",
];

/// Fields of `SubnetInfoRuntimeApi.get_metagraph`'s `Metagraph` that the snapshot reads.
pub(crate) const METAGRAPH_FIELDS: &[&str] = &[
    "hotkeys",
    "coldkeys",
    "axons",
    "active",
    "validator_permit",
    "last_update",
    "emission",
    "dividends",
    "incentives",
    "consensus",
    "block_at_registration",
    "alpha_stake",
    "tao_stake",
    "total_stake",
];

/// Fields of `NeuronInfoLite` the snapshot reads.
pub(crate) const NEURON_LITE_FIELDS: &[&str] = &["uid", "validator_trust"];

/// Every mismatch between `metadata` and what this crate uses, empty when all is there.
pub fn check(metadata: &Metadata) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(pallet) = metadata.pallet_by_name(PALLET) else {
        return vec![format!("pallet {PALLET} is missing")];
    };
    for (call, args) in CALLS {
        match pallet.call_variant_by_name(call) {
            None => problems.push(format!("call {PALLET}.{call} is missing")),
            Some(v) => {
                let have: Vec<&str> = v.fields.iter().filter_map(|f| f.name.as_deref()).collect();
                if have != *args {
                    problems.push(format!(
                        "call {PALLET}.{call} takes ({}) instead of ({})",
                        have.join(", "),
                        args.join(", ")
                    ));
                }
            }
        }
    }
    for event in EVENTS {
        if !pallet
            .event_variants()
            .is_some_and(|vs| vs.iter().any(|v| v.name == *event))
        {
            problems.push(format!("event {PALLET}.{event} is missing"));
        }
    }
    api_fields(
        metadata,
        "SubnetInfoRuntimeApi",
        "get_metagraph",
        METAGRAPH_FIELDS,
        &mut problems,
    );
    api_fields(
        metadata,
        "NeuronInfoRuntimeApi",
        "get_neurons_lite",
        NEURON_LITE_FIELDS,
        &mut problems,
    );
    let hp = metadata
        .runtime_api_trait_by_name("SubnetInfoRuntimeApi")
        .is_some_and(|t| {
            t.method_by_name("get_subnet_hyperparams_v3").is_some()
                || t.method_by_name("get_subnet_hyperparams_v2").is_some()
        });
    if !hp {
        problems.push(
            "runtime API SubnetInfoRuntimeApi.get_subnet_hyperparams_v3 (or _v2) is missing".into(),
        );
    }
    problems
}

fn api_fields(
    metadata: &Metadata,
    api: &str,
    method: &str,
    fields: &[&str],
    problems: &mut Vec<String>,
) {
    let Some(m) = metadata
        .runtime_api_trait_by_name(api)
        .and_then(|t| t.method_by_name(method))
    else {
        problems.push(format!("runtime API {api}.{method} is missing"));
        return;
    };
    let inputs: Vec<&str> = m.inputs().map(|i| &*i.name).collect();
    if inputs != ["netuid"] {
        problems.push(format!(
            "runtime API {api}.{method} takes ({}) instead of (netuid)",
            inputs.join(", ")
        ));
    }
    let Some(names) = composite_fields(metadata.types(), m.output_ty()) else {
        problems.push(format!("runtime API {api}.{method} returns no struct"));
        return;
    };
    for f in fields {
        if !names.iter().any(|n| n == f) {
            problems.push(format!("{api}.{method} output has no field {f}"));
        }
    }
}

/// Field names of the struct inside `Option<..>` / `Vec<..>` wrappers of `ty`.
fn composite_fields(types: &PortableRegistry, mut ty: u32) -> Option<Vec<String>> {
    use scale_info::TypeDef;
    for _ in 0..4 {
        let t = types.resolve(ty)?;
        match &t.type_def {
            TypeDef::Composite(c) => {
                return Some(c.fields.iter().filter_map(|f| f.name.clone()).collect());
            }
            TypeDef::Sequence(s) => ty = s.type_param.id,
            TypeDef::Variant(v) if t.path.segments.last().is_some_and(|s| s == "Option") => {
                ty = v
                    .variants
                    .iter()
                    .find(|v| v.name == "Some")?
                    .fields
                    .first()?
                    .ty
                    .id;
            }
            _ => return None,
        }
    }
    None
}

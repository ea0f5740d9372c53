//! A local subtensor stand-in for tests (feature `testing`): a JSON-RPC WebSocket server that
//! serves the recorded finney metadata (tests/fixtures/finney.scale, spec 393) and answers the
//! legacy RPC methods the client uses. Storage and runtime-API answers are SCALE-encoded from
//! test-defined values against the fixture's own type registry; submitted extrinsics are decoded
//! against it and their sr25519 signatures verified before they are "included" in a new block.
//! This crate's tests and the binaries' tests (which run `dojo-validator run` and `dojo-miner run`
//! against it) share it. Test support: it panics on values that do not fit the fixture.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use parity_scale_codec::{Compact, Decode, Encode};
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};
use serde_json::{Value as Json, json};
pub use subxt::dynamic::Value;
use subxt::ext::frame_decode;
use subxt::ext::scale_value::scale::{decode_as_type, encode_as_type};
use subxt::ext::scale_value::{Composite, ValueDef};
use subxt::metadata::Metadata;
use tokio::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// The recorded finney runtime metadata (see tests/fixtures/README.md).
pub const FIXTURE: &[u8] = include_bytes!("../tests/fixtures/finney.scale");
/// `twox128("System") ++ twox128("Events")`.
const EVENTS_KEY: &str = "26aa394eea5630e07c48ae0c9558cef780d41e5e16056765bc8461851072c9d7";

/// What the node does wrong.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Fault {
    #[default]
    None,
    /// Never answers this method.
    Hang(String),
    /// Closes the socket right after accepting a submission.
    DropOnSubmit,
}

/// A decoded, signature-checked submission.
#[derive(Clone, Debug)]
pub struct Submitted {
    pub pallet: String,
    pub call: String,
    pub args: Vec<(String, Value<u32>)>,
    pub signer: [u8; 32],
    pub nonce: u64,
    pub mortal: Option<(u64, u64)>,
    pub signature_ok: bool,
}

pub struct State {
    pub metadata: Metadata,
    /// Raw storage values by hex key (no `0x`), answered by `state_getStorage`.
    pub storage: HashMap<String, Vec<u8>>,
    pub metadata_bytes: Vec<u8>,
    pub spec_version: u32,
    pub best: u64,
    /// Runtime API answers by `Trait_method`, already SCALE.
    pub answers: HashMap<String, Vec<u8>>,
    /// `(extrinsics, events)` of blocks this node produced.
    pub blocks: HashMap<u64, (Vec<Vec<u8>>, Vec<u8>)>,
    pub nonces: HashMap<[u8; 32], u64>,
    /// Every submission received, valid or not.
    pub submitted: Vec<Submitted>,
    pub fault: Fault,
    /// Reject submissions in the pool with `InvalidTransaction::Custom(code)`.
    pub reject_custom: Option<u8>,
    /// Include submissions but fail them with this SubtensorModule error.
    pub dispatch_error: Option<&'static str>,
    pub connections: usize,
    pub metadata_downloads: usize,
    pub next_uid: u16,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("spec_version", &self.spec_version)
            .field("best", &self.best)
            .field("submitted", &self.submitted.len())
            .finish_non_exhaustive()
    }
}

/// One neuron of [`State::set_subnet`].
#[derive(Clone, Debug, Default)]
pub struct NeuronSpec {
    pub hotkey: [u8; 32],
    pub coldkey: [u8; 32],
    /// `(ipv4 as integer, port)` when serving.
    pub axon: Option<(u128, u16)>,
    /// Alpha stake, which is also the total stake (RAO).
    pub stake: u64,
    pub validator_permit: bool,
    pub last_update: u64,
    pub validator_trust: u16,
}

impl State {
    /// Answers `get_metagraph`, `get_neurons_lite` and `get_subnet_hyperparams_v2` for `netuid`
    /// with `neurons` (uid = index) and the v2 hyperparameters `params` (the rest zero).
    pub fn set_subnet(&mut self, netuid: u16, neurons: &[NeuronSpec], params: &[(&str, Value)]) {
        let list = |v: Vec<Value>| Value::unnamed_composite(v);
        let nums = |f: &dyn Fn(&NeuronSpec) -> u128| {
            list(neurons.iter().map(|n| Value::u128(f(n))).collect())
        };
        let bools = |f: &dyn Fn(&NeuronSpec) -> bool| {
            list(neurons.iter().map(|n| Value::bool(f(n))).collect())
        };
        let mut m = self.zero_inner("SubnetInfoRuntimeApi", "get_metagraph");
        set(&mut m, "netuid", Value::u128(u128::from(netuid)));
        set(
            &mut m,
            "hotkeys",
            list(
                neurons
                    .iter()
                    .map(|n| Value::from_bytes(n.hotkey))
                    .collect(),
            ),
        );
        set(
            &mut m,
            "coldkeys",
            list(
                neurons
                    .iter()
                    .map(|n| Value::from_bytes(n.coldkey))
                    .collect(),
            ),
        );
        let axons = neurons
            .iter()
            .map(|n| {
                let (ip, port) = n.axon.unwrap_or((0, 0));
                Value::named_composite([
                    ("block", Value::u128(1)),
                    ("version", Value::u128(1)),
                    ("ip", Value::u128(ip)),
                    ("port", Value::u128(u128::from(port))),
                    ("ip_type", Value::u128(4)),
                    ("protocol", Value::u128(4)),
                    ("placeholder1", Value::u128(0)),
                    ("placeholder2", Value::u128(0)),
                ])
            })
            .collect();
        set(&mut m, "axons", list(axons));
        set(&mut m, "active", bools(&|_| true));
        set(&mut m, "validator_permit", bools(&|n| n.validator_permit));
        set(&mut m, "last_update", nums(&|n| u128::from(n.last_update)));
        set(&mut m, "emission", nums(&|_| 0));
        set(&mut m, "dividends", nums(&|_| 0));
        set(&mut m, "incentives", nums(&|_| 0));
        set(&mut m, "consensus", nums(&|_| 0));
        set(&mut m, "block_at_registration", nums(&|_| 1));
        set(&mut m, "alpha_stake", nums(&|n| u128::from(n.stake)));
        set(&mut m, "tao_stake", nums(&|_| 0));
        set(&mut m, "total_stake", nums(&|n| u128::from(n.stake)));
        self.set_answer(
            "SubnetInfoRuntimeApi",
            "get_metagraph",
            &Value::unnamed_variant("Some", [m]),
        );
        let lite = neurons
            .iter()
            .enumerate()
            .map(|(uid, spec)| {
                let mut n = self.zero_inner("NeuronInfoRuntimeApi", "get_neurons_lite");
                set(&mut n, "hotkey", Value::from_bytes(spec.hotkey));
                set(&mut n, "uid", Value::u128(uid as u128));
                set(
                    &mut n,
                    "validator_trust",
                    Value::u128(u128::from(spec.validator_trust)),
                );
                n
            })
            .collect();
        self.set_answer("NeuronInfoRuntimeApi", "get_neurons_lite", &list(lite));
        let mut hp = self.zero_inner("SubnetInfoRuntimeApi", "get_subnet_hyperparams_v2");
        for (name, v) in params {
            set(&mut hp, name, v.clone());
        }
        self.set_answer(
            "SubnetInfoRuntimeApi",
            "get_subnet_hyperparams_v2",
            &Value::unnamed_variant("Some", [hp]),
        );
    }

    /// Stores `v` as the value of plain storage item `pallet.entry`.
    pub fn set_storage_value(&mut self, pallet: &str, entry: &str, v: &Value) {
        let ty = self
            .metadata
            .pallet_by_name(pallet)
            .and_then(|p| p.storage())
            .and_then(|s| s.entry_by_name(entry))
            .unwrap_or_else(|| panic!("{pallet}.{entry} not in the fixture"))
            .value_ty();
        let bytes = encode(self.types(), ty, v);
        let key = frame_decode::storage::encode_storage_key_prefix(pallet, entry);
        self.storage.insert(hex::encode(key), bytes);
    }

    fn types(&self) -> &PortableRegistry {
        self.metadata.types()
    }

    /// SCALE of `v` as runtime API `api.method`'s return type.
    pub fn set_answer(&mut self, api: &str, method: &str, v: &Value) {
        let ty = self
            .metadata
            .runtime_api_trait_by_name(api)
            .and_then(|t| t.method_by_name(method))
            .unwrap_or_else(|| panic!("{api}.{method} not in the fixture"))
            .output_ty();
        let bytes = encode(self.types(), ty, v);
        self.answers.insert(format!("{api}_{method}"), bytes);
    }

    /// Zero value of the type inside `Option<Vec<..>>`-style wrappers: the struct itself.
    pub fn zero_inner(&self, api: &str, method: &str) -> Value {
        let mut ty = self
            .metadata
            .runtime_api_trait_by_name(api)
            .and_then(|t| t.method_by_name(method))
            .unwrap()
            .output_ty();
        loop {
            let t = self.types().resolve(ty).unwrap();
            match &t.type_def {
                TypeDef::Sequence(s) => ty = s.type_param.id,
                TypeDef::Variant(v) if t.path.segments.last().unwrap() == "Option" => {
                    ty = v.variants.iter().find(|v| v.name == "Some").unwrap().fields[0]
                        .ty
                        .id;
                }
                _ => return zero(self.types(), ty),
            }
        }
    }

    fn hash(n: u64) -> String {
        format!("0x{}{:016x}", "ab".repeat(24), n)
    }

    fn number_of(hash: &str) -> Option<u64> {
        let h = hash.strip_prefix("0x")?;
        (h.len() == 64).then(|| u64::from_str_radix(&h[48..], 16).ok())?
    }

    fn header(n: u64) -> Json {
        json!({
            "parentHash": Self::hash(n.saturating_sub(1)),
            "number": format!("0x{n:x}"),
            "stateRoot": format!("0x{}", "00".repeat(32)),
            "extrinsicsRoot": format!("0x{}", "00".repeat(32)),
            "digest": {"logs": []}
        })
    }

    fn runtime_version(&self) -> Vec<u8> {
        let c = self
            .metadata
            .pallet_by_name("System")
            .unwrap()
            .constant_by_name("Version")
            .unwrap();
        let mut bytes = c.value().to_vec();
        let cursor = &mut &bytes[..];
        String::decode(cursor).unwrap();
        String::decode(cursor).unwrap();
        let at = bytes.len() - cursor.len() + 4;
        bytes[at..at + 4].copy_from_slice(&self.spec_version.to_le_bytes());
        bytes
    }

    fn state_call(&mut self, name: &str, data: &[u8]) -> Result<Vec<u8>, String> {
        Ok(match name {
            "Core_version" => self.runtime_version(),
            "Metadata_metadata_versions" => vec![14u32, 15, 16].encode(),
            "Metadata_metadata_at_version" => {
                self.metadata_downloads += 1;
                let mut out = vec![1u8];
                Compact(self.metadata_bytes.len() as u32).encode_to(&mut out);
                out.extend_from_slice(&self.metadata_bytes);
                out
            }
            "AccountNonceApi_account_nonce" => {
                let who: [u8; 32] = data.try_into().map_err(|_| "bad account")?;
                (self.nonces.get(&who).copied().unwrap_or(0) as u32).encode()
            }
            other => self
                .answers
                .get(other)
                .cloned()
                .ok_or_else(|| format!("no answer for {other}"))?,
        })
    }

    /// Decodes `ext` against the fixture metadata and checks its signature.
    pub fn decode_extrinsic(&self, ext: &[u8]) -> Result<Submitted, String> {
        let md = &self.metadata;
        let info = frame_decode::extrinsics::decode_extrinsic(&mut &ext[..], md, md.types())
            .map_err(|e| format!("extrinsic does not decode: {e:?}"))?;
        let sig = info.signature_payload().ok_or("unsigned extrinsic")?;
        let addr = &ext[sig.address_range()];
        let signature = &ext[sig.signature_range()];
        if addr.len() != 33 || addr[0] != 0 || signature.len() != 65 || signature[0] != 1 {
            return Err("not a MultiAddress::Id / sr25519 MultiSignature".into());
        }
        let signer: [u8; 32] = addr[1..].try_into().unwrap();
        let exts = info
            .transaction_extension_payload()
            .ok_or("no extensions")?;
        let mut nonce = 0;
        let mut mortal = None;
        let mut implicit = Vec::new();
        let genesis = hex_bytes(&Self::hash(0));
        for e in exts.iter() {
            let bytes = &ext[e.range()];
            match e.name() {
                "CheckNonce" => nonce = Compact::<u64>::decode(&mut &bytes[..]).unwrap().0,
                "CheckMortality" => {
                    if bytes[0] != 0 {
                        let enc = u16::from_le_bytes([bytes[0], bytes[1]]);
                        let period = 2u64 << (enc % (1 << 4));
                        let quantize = (period >> 12).max(1);
                        let phase = u64::from(enc >> 4) * quantize;
                        mortal = Some((period, phase));
                        let birth = (self.best.max(phase) - phase) / period * period + phase;
                        implicit.push(hex_bytes(&Self::hash(birth)));
                    } else {
                        implicit.push(genesis.clone());
                    }
                }
                "CheckSpecVersion" => implicit.push(self.spec_version.encode()),
                "CheckTxVersion" => implicit.push(1u32.encode()),
                "CheckGenesis" => implicit.push(genesis.clone()),
                "CheckMetadataHash" => implicit.push(vec![0]),
                _ => {}
            }
        }
        let mut payload = ext[info.call_data_range()].to_vec();
        payload.extend_from_slice(&ext[exts.range()]);
        for i in implicit {
            payload.extend(i);
        }
        if payload.len() > 256 {
            use blake2::Digest;
            let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
            h.update(&payload);
            payload = h.finalize().to_vec();
        }
        let signature_ok = dojo_identity::verify_with_public(&signer, &payload, &signature[1..]);
        let args = info
            .call_data()
            .map(|a| {
                let v = decode_as_type(&mut &ext[a.range()], *a.ty(), md.types())
                    .map_err(|e| format!("argument {}: {e}", a.name()))?;
                Ok((a.name().to_owned(), v))
            })
            .collect::<Result<_, String>>()?;
        Ok(Submitted {
            pallet: info.pallet_name().to_owned(),
            call: info.call_name().to_owned(),
            args,
            signer,
            nonce,
            mortal,
            signature_ok,
        })
    }

    /// Includes `ext` in a new block with the events the chain would emit.
    fn include(&mut self, ext: Vec<u8>, sub: &Submitted) -> u64 {
        let n = self.best + 1;
        self.best = n;
        *self.nonces.entry(sub.signer).or_default() += 1;
        let arg = |name: &str| {
            sub.args
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone().remove_context())
        };
        let netuid = arg("netuid").unwrap_or(Value::u128(0));
        let who = Value::from_bytes(sub.signer);
        let phase = Value::unnamed_variant("ApplyExtrinsic", [Value::u128(0)]);
        let events_ty = self
            .metadata
            .pallet_by_name("System")
            .unwrap()
            .storage()
            .unwrap()
            .entry_by_name("Events")
            .unwrap()
            .value_ty();
        let record = |event: Value| {
            Value::named_composite([
                ("phase", phase.clone()),
                ("event", event),
                ("topics", Value::unnamed_composite([])),
            ])
        };
        let info = self.zero_of_event_field("System", "ExtrinsicSuccess", 0);
        let events = if let Some(err) = self.dispatch_error {
            let pallet = self.metadata.pallet_by_name("SubtensorModule").unwrap();
            let idx = pallet
                .error_variants()
                .unwrap()
                .iter()
                .find(|v| v.name == err)
                .unwrap()
                .index;
            let module = Value::unnamed_variant(
                "Module",
                [Value::named_composite([
                    ("index", Value::u128(7)),
                    ("error", Value::from_bytes([idx, 0, 0, 0])),
                ])],
            );
            vec![record(Value::unnamed_variant(
                "System",
                [Value::named_variant(
                    "ExtrinsicFailed",
                    [("dispatch_error", module), ("dispatch_info", info)],
                )],
            ))]
        } else {
            let event = match sub.call.as_str() {
                "set_weights" | "set_mechanism_weights" => {
                    Value::unnamed_variant("WeightsSet", [netuid, Value::u128(0)])
                }
                "commit_weights" => Value::unnamed_variant(
                    "WeightsCommitted",
                    [who, netuid, arg("commit_hash").unwrap()],
                ),
                "reveal_weights" => Value::unnamed_variant(
                    "WeightsRevealed",
                    [who, netuid, Value::from_bytes([0u8; 32])],
                ),
                "commit_timelocked_mechanism_weights" => Value::unnamed_variant(
                    "TimelockedWeightsCommitted",
                    [
                        who,
                        netuid,
                        Value::from_bytes([0u8; 32]),
                        arg("reveal_round").unwrap(),
                    ],
                ),
                "serve_axon" => Value::unnamed_variant("AxonServed", [netuid, who]),
                "burned_register" => {
                    let uid = self.next_uid;
                    self.next_uid += 1;
                    Value::unnamed_variant(
                        "NeuronRegistered",
                        [netuid, Value::u128(u128::from(uid)), arg("hotkey").unwrap()],
                    )
                }
                other => panic!("no events modelled for {other}"),
            };
            vec![
                record(Value::unnamed_variant("SubtensorModule", [event])),
                record(Value::unnamed_variant(
                    "System",
                    [Value::named_variant(
                        "ExtrinsicSuccess",
                        [("dispatch_info", info)],
                    )],
                )),
            ]
        };
        let bytes = encode(self.types(), events_ty, &Value::unnamed_composite(events));
        self.blocks.insert(n, (vec![ext], bytes));
        n
    }

    fn zero_of_event_field(&self, pallet: &str, event: &str, field: usize) -> Value {
        let p = self.metadata.pallet_by_name(pallet).unwrap();
        let v = p
            .event_variants()
            .unwrap()
            .iter()
            .find(|v| v.name == event)
            .unwrap();
        zero(self.types(), v.fields[field].ty.id)
    }
}

fn hex_bytes(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

pub fn encode(types: &PortableRegistry, ty: u32, v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_as_type(v, ty, types, &mut out)
        .unwrap_or_else(|e| panic!("test value does not fit type {ty}: {e}"));
    out
}

/// A zero value of any type in the registry: what the tests start from before setting fields.
pub fn zero(types: &PortableRegistry, ty: u32) -> Value {
    let t = types.resolve(ty).unwrap();
    match &t.type_def {
        TypeDef::Composite(c) => {
            if c.fields.iter().all(|f| f.name.is_some()) && !c.fields.is_empty() {
                Value::named_composite(
                    c.fields
                        .iter()
                        .map(|f| (f.name.clone().unwrap(), zero(types, f.ty.id))),
                )
            } else {
                Value::unnamed_composite(c.fields.iter().map(|f| zero(types, f.ty.id)))
            }
        }
        TypeDef::Variant(v) => {
            let var = v
                .variants
                .iter()
                .find(|x| x.name == "None")
                .unwrap_or(&v.variants[0]);
            Value::unnamed_variant(
                var.name.clone(),
                var.fields.iter().map(|f| zero(types, f.ty.id)),
            )
        }
        TypeDef::Sequence(_) => Value::unnamed_composite([]),
        TypeDef::Array(a) => {
            Value::unnamed_composite((0..a.len).map(|_| zero(types, a.type_param.id)))
        }
        TypeDef::Tuple(t) => Value::unnamed_composite(t.fields.iter().map(|f| zero(types, f.id))),
        TypeDef::Primitive(p) => match p {
            TypeDefPrimitive::Bool => Value::bool(false),
            TypeDefPrimitive::Str => Value::string(""),
            TypeDefPrimitive::Char => Value::char('0'),
            TypeDefPrimitive::I8
            | TypeDefPrimitive::I16
            | TypeDefPrimitive::I32
            | TypeDefPrimitive::I64
            | TypeDefPrimitive::I128
            | TypeDefPrimitive::I256 => Value::i128(0),
            _ => Value::u128(0),
        },
        TypeDef::Compact(c) => zero(types, c.type_param.id),
        TypeDef::BitSequence(_) => Value::bit_sequence(Default::default()),
    }
}

/// Sets named field `name` of a struct value.
pub fn set(v: &mut Value, name: &str, to: Value) {
    let ValueDef::Composite(Composite::Named(fields)) = &mut v.value else {
        panic!("not a struct: {v}");
    };
    let slot = fields
        .iter_mut()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no field {name}"));
    slot.1 = to;
}

/// A running stand-in node on 127.0.0.1 (its tasks live as long as the tokio runtime).
#[derive(Debug)]
pub struct Node {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Node {
    pub async fn start() -> Node {
        Self::start_with(FIXTURE.to_vec()).await
    }

    pub async fn start_with(metadata_bytes: Vec<u8>) -> Node {
        let metadata = Metadata::decode_from(&metadata_bytes).unwrap();
        let state = Arc::new(Mutex::new(State {
            metadata,
            storage: HashMap::new(),
            metadata_bytes,
            spec_version: 393,
            best: 100,
            answers: HashMap::new(),
            blocks: HashMap::new(),
            nonces: HashMap::new(),
            submitted: Vec::new(),
            fault: Fault::None,
            reject_custom: None,
            dispatch_error: None,
            connections: 0,
            metadata_downloads: 0,
            next_uid: 0,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                st.lock().unwrap().connections += 1;
                tokio::spawn(serve(socket, st.clone()));
            }
        });
        Node { url, state }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Produces an empty block every `every`, as a live chain does (a node that only makes
    /// blocks on submissions looks stale to `wait_for_block`'s watchdog).
    pub fn produce_blocks(&self, every: std::time::Duration) {
        let st = self.state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                st.lock().unwrap().best += 1;
            }
        });
    }

    /// The submissions received so far.
    pub fn submitted(&self) -> Vec<Submitted> {
        self.state().submitted.clone()
    }
}

enum Reply {
    One(Json),
    None,
    /// Answer, then notifications on a subscription, then maybe close the socket.
    Subscribe {
        answer: Json,
        notices: Vec<Json>,
        close: bool,
    },
}

async fn serve(socket: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let mut server = soketto::handshake::Server::new(socket.compat());
    let Ok(req) = server.receive_request().await else {
        return;
    };
    let key = req.key();
    let accept = soketto::handshake::server::Response::Accept {
        key,
        protocol: None,
    };
    if server.send_response(&accept).await.is_err() {
        return;
    }
    let (mut tx, mut rx) = server.into_builder().finish();
    let (out, mut outq) = futures::channel::mpsc::unbounded::<Option<String>>();
    let writer = tokio::spawn(async move {
        while let Some(msg) = outq.next().await {
            let Some(msg) = msg else { break };
            if tx.send_text(msg).await.is_err() || tx.flush().await.is_err() {
                break;
            }
        }
        let _ = tx.close().await;
    });
    let mut sub_id = 0u64;
    loop {
        let mut data = Vec::new();
        if rx.receive_data(&mut data).await.is_err() {
            break;
        }
        let Ok(req) = serde_json::from_slice::<Json>(&data) else {
            continue;
        };
        let id = req["id"].clone();
        let method = req["method"].as_str().unwrap_or("").to_owned();
        let params = req["params"].clone();
        let reply = {
            let mut s = state.lock().unwrap();
            handle(&mut s, &method, &params, &mut sub_id)
        };
        let send = |j: Json| {
            let _ = out.unbounded_send(Some(j.to_string()));
        };
        match reply {
            Reply::None => {}
            Reply::One(r) => send(with_id(r, &id)),
            Reply::Subscribe {
                answer,
                notices,
                close,
            } => {
                send(with_id(answer, &id));
                if close {
                    let _ = out.unbounded_send(None);
                    break;
                }
                for n in notices {
                    send(n);
                }
            }
        }
    }
    drop(out);
    let _ = writer.await;
}

fn with_id(mut r: Json, id: &Json) -> Json {
    r["jsonrpc"] = json!("2.0");
    r["id"] = id.clone();
    r
}

fn ok(v: Json) -> Reply {
    Reply::One(json!({ "result": v }))
}

fn err(code: i64, message: &str, data: Option<&str>) -> Reply {
    Reply::One(json!({ "error": { "code": code, "message": message, "data": data } }))
}

fn block_param(s: &State, p: &Json) -> u64 {
    p.as_str().and_then(State::number_of).unwrap_or(s.best)
}

fn handle(s: &mut State, method: &str, params: &Json, sub_id: &mut u64) -> Reply {
    if let Fault::Hang(m) = &s.fault
        && m == method
    {
        return Reply::None;
    }
    match method {
        "rpc_methods" => ok(json!({ "methods": [
            "chain_getBlockHash", "chain_getFinalizedHead", "chain_getHeader", "chain_getBlock",
            "state_call", "state_getStorage", "author_submitAndWatchExtrinsic",
            "author_unwatchExtrinsic", "system_accountNextIndex"
        ]})),
        "chain_getBlockHash" => {
            let n = params[0].as_u64().unwrap_or(s.best);
            ok(json!(State::hash(n)))
        }
        "chain_getFinalizedHead" => ok(json!(State::hash(s.best))),
        "chain_getHeader" => ok(State::header(block_param(s, &params[0]))),
        "chain_getBlock" => {
            let n = block_param(s, &params[0]);
            let exts: Vec<String> = s
                .blocks
                .get(&n)
                .map(|(e, _)| e.iter().map(|x| format!("0x{}", hex::encode(x))).collect())
                .unwrap_or_default();
            ok(
                json!({ "block": { "header": State::header(n), "extrinsics": exts }, "justifications": null }),
            )
        }
        "state_call" => {
            let name = params[0].as_str().unwrap_or("");
            let data = hex_bytes(params[1].as_str().unwrap_or("0x"));
            match s.state_call(name, &data) {
                Ok(b) => ok(json!(format!("0x{}", hex::encode(b)))),
                Err(e) => err(-32000, &e, None),
            }
        }
        "state_getStorage" => {
            let key = params[0].as_str().unwrap_or("").trim_start_matches("0x");
            let n = block_param(s, &params[1]);
            if key == EVENTS_KEY
                && let Some((_, ev)) = s.blocks.get(&n)
            {
                return ok(json!(format!("0x{}", hex::encode(ev))));
            }
            match s.storage.get(key) {
                Some(v) => ok(json!(format!("0x{}", hex::encode(v)))),
                None => ok(Json::Null),
            }
        }
        "author_submitAndWatchExtrinsic" => {
            let ext = hex_bytes(params[0].as_str().unwrap_or("0x"));
            let sub = match s.decode_extrinsic(&ext) {
                Ok(sub) => sub,
                Err(e) => return err(1002, "Verification Error", Some(&e)),
            };
            s.submitted.push(sub.clone());
            if !sub.signature_ok {
                return err(
                    1010,
                    "Invalid Transaction",
                    Some("Transaction has a bad signature"),
                );
            }
            let expected = s.nonces.get(&sub.signer).copied().unwrap_or(0);
            if sub.nonce < expected {
                return err(1010, "Invalid Transaction", Some("Transaction is outdated"));
            }
            if sub.nonce > expected {
                return err(
                    1010,
                    "Invalid Transaction",
                    Some("Transaction will be valid in the future"),
                );
            }
            if let Some(code) = s.reject_custom {
                return err(
                    1010,
                    "Invalid Transaction",
                    Some(&format!("Custom error: {code}")),
                );
            }
            *sub_id += 1;
            let id = format!("sub{sub_id}");
            let answer = json!({ "result": id });
            if s.fault == Fault::DropOnSubmit {
                return Reply::Subscribe {
                    answer,
                    notices: vec![],
                    close: true,
                };
            }
            let n = s.include(ext, &sub);
            let note = |r: Json| json!({"jsonrpc": "2.0", "method": "author_extrinsicUpdate", "params": {"subscription": id, "result": r}});
            Reply::Subscribe {
                answer,
                notices: vec![
                    note(json!("ready")),
                    note(json!({ "inBlock": State::hash(n) })),
                ],
                close: false,
            }
        }
        "author_unwatchExtrinsic" => ok(json!(true)),
        other => err(-32601, &format!("method {other} not found"), None),
    }
}

/// The value of argument `name` of a submission, without type context.
pub fn arg(sub: &Submitted, name: &str) -> Value {
    sub.args
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone().remove_context())
        .unwrap_or_else(|| panic!("{} has no argument {name}", sub.call))
}

/// `u16`s of a `Vec<u16>` argument.
pub fn u16s(v: &Value) -> Vec<u16> {
    match &v.value {
        ValueDef::Composite(c) => c
            .values()
            .map(|x| x.as_u128().expect("number") as u16)
            .collect(),
        _ => panic!("not a list: {v}"),
    }
}

/// Builds a modified copy of the fixture: renames call `call` and field `field` of the
/// `Metagraph` struct, as a runtime upgrade that changed shapes would.
pub fn upgraded_metadata(call: &str, field: &str) -> Vec<u8> {
    use subxt::ext::frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
    let mut md = RuntimeMetadataPrefixed::decode(&mut &FIXTURE[..]).unwrap();
    let RuntimeMetadata::V16(v16) = &mut md.1 else {
        panic!("fixture is not V16")
    };
    for t in v16.types.types.iter_mut() {
        match &mut t.ty.type_def {
            TypeDef::Variant(v) if t.ty.path.segments.iter().any(|s| s == "pallet_subtensor") => {
                for var in v.variants.iter_mut() {
                    if var.name == call {
                        var.name = format!("{call}_renamed");
                    }
                }
            }
            TypeDef::Composite(c)
                if t.ty.path.segments.last().is_some_and(|s| s == "Metagraph") =>
            {
                for f in c.fields.iter_mut() {
                    if f.name.as_deref() == Some(field) {
                        f.name = Some(format!("{field}_renamed"));
                    }
                }
            }
            _ => {}
        }
    }
    md.encode()
}

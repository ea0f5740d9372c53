//! `dojo.chain.v1` over gRPC: a server exposing a [`Devnet`] and [`RemoteChain`], a client that
//! implements the `Chain` port against it.
//!
//! Chain errors travel as `FAILED_PRECONDITION` with the JSON of the `ChainError` in the status
//! details, so the remote side gets the same typed error back; anything else maps to
//! `ChainError::Transport`.

use std::future::Future;

use dojo_types::chain::{
    AxonInfo, Chain, ChainError, HyperparamValue, Hyperparams, MetagraphSnapshot, Netuid,
    NeuronInfo, RevealWeights, SetWeights,
};
use dojo_types::{Hotkey, Uid};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use crate::node::Devnet;
use crate::state::SubnetParams;

/// Generated protobuf and gRPC code for `proto/dojo/chain/v1/chain.proto`.
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all
)]
pub mod pb {
    tonic::include_proto!("dojo.chain.v1");
}

use pb::chain_client::ChainClient;
use pb::chain_server::{Chain as ChainRpc, ChainServer};
use pb::devnet_admin_client::DevnetAdminClient;
use pb::devnet_admin_server::{DevnetAdmin, DevnetAdminServer};

fn to_status(e: ChainError) -> Status {
    let details = serde_json::to_vec(&e).unwrap_or_default();
    Status::with_details(Code::FailedPrecondition, e.to_string(), details.into())
}

fn from_status(s: Status) -> ChainError {
    if s.code() == Code::FailedPrecondition
        && let Ok(e) = serde_json::from_slice::<ChainError>(s.details())
    {
        return e;
    }
    ChainError::Transport(format!("{:?}: {}", s.code(), s.message()))
}

fn hotkey(s: &str) -> Result<Hotkey, Status> {
    Hotkey::new(s).map_err(|e| to_status(ChainError::InvalidInput(e.to_string())))
}

fn netuid(n: u32) -> Result<Netuid, Status> {
    u16::try_from(n)
        .map_err(|_| to_status(ChainError::InvalidInput(format!("netuid {n} out of range"))))
}

fn u16s(v: &[u32], what: &str) -> Result<Vec<u16>, Status> {
    v.iter()
        .map(|x| {
            u16::try_from(*x).map_err(|_| {
                to_status(ChainError::InvalidInput(format!(
                    "{what} value {x} > 65535"
                )))
            })
        })
        .collect()
}

fn axon_to_pb(a: &AxonInfo) -> pb::AxonInfo {
    pb::AxonInfo {
        block: a.block,
        version: a.version,
        ip: a.ip.to_be_bytes().to_vec(),
        port: u32::from(a.port),
        ip_type: u32::from(a.ip_type),
        protocol: u32::from(a.protocol),
    }
}

fn axon_from_pb(a: &pb::AxonInfo) -> Result<AxonInfo, ChainError> {
    let ip: [u8; 16] =
        a.ip.as_slice()
            .try_into()
            .map_err(|_| ChainError::InvalidInput("axon ip must be 16 bytes".into()))?;
    let small = |v: u32, what: &str| {
        u8::try_from(v).map_err(|_| ChainError::InvalidInput(format!("{what} {v}")))
    };
    Ok(AxonInfo {
        block: a.block,
        version: a.version,
        ip: u128::from_be_bytes(ip),
        port: u16::try_from(a.port).map_err(|_| ChainError::InvalidPort)?,
        ip_type: small(a.ip_type, "ip_type")?,
        protocol: small(a.protocol, "protocol")?,
    })
}

fn value_to_pb(v: HyperparamValue) -> pb::HyperparamValue {
    use pb::hyperparam_value::Value;
    pb::HyperparamValue {
        value: Some(match v {
            HyperparamValue::Bool(b) => Value::Bool(b),
            HyperparamValue::U16(x) => Value::U16(u32::from(x)),
            HyperparamValue::U64(x) => Value::U64(x),
            HyperparamValue::I16(x) => Value::I16(i32::from(x)),
        }),
    }
}

fn value_from_pb(v: Option<&pb::HyperparamValue>) -> Result<HyperparamValue, ChainError> {
    use pb::hyperparam_value::Value;
    let bad = || ChainError::InvalidInput("hyperparameter value missing or out of range".into());
    Ok(match v.and_then(|v| v.value).ok_or_else(bad)? {
        Value::Bool(b) => HyperparamValue::Bool(b),
        Value::U16(x) => HyperparamValue::U16(u16::try_from(x).map_err(|_| bad())?),
        Value::U64(x) => HyperparamValue::U64(x),
        Value::I16(x) => HyperparamValue::I16(i16::try_from(x).map_err(|_| bad())?),
    })
}

fn pairs_to_pb(v: &[(u16, u16)]) -> Vec<pb::Pair> {
    v.iter()
        .map(|(u, w)| pb::Pair {
            uid: u32::from(*u),
            value: u32::from(*w),
        })
        .collect()
}

fn pairs_from_pb(v: &[pb::Pair]) -> Result<Vec<(u16, u16)>, ChainError> {
    v.iter()
        .map(|p| match (u16::try_from(p.uid), u16::try_from(p.value)) {
            (Ok(u), Ok(w)) => Ok((u, w)),
            _ => Err(ChainError::Decode(format!(
                "pair ({}, {}) out of range",
                p.uid, p.value
            ))),
        })
        .collect()
}

fn neuron_to_pb(n: &NeuronInfo) -> pb::Neuron {
    pb::Neuron {
        uid: u32::from(n.uid.0),
        hotkey: n.hotkey.to_string(),
        coldkey: n.coldkey.to_string(),
        alpha_stake: n.alpha_stake,
        tao_stake: n.tao_stake,
        stake: n.stake,
        validator_permit: n.validator_permit,
        axon: n.axon.as_ref().map(axon_to_pb),
        consensus: u32::from(n.consensus),
        incentive: u32::from(n.incentive),
        dividends: u32::from(n.dividends),
        validator_trust: u32::from(n.validator_trust),
        emission: n.emission,
        last_update: n.last_update,
        active: n.active,
        block_at_registration: n.block_at_registration,
        weights: pairs_to_pb(&n.weights),
        bonds: pairs_to_pb(&n.bonds),
    }
}

fn neuron_from_pb(n: &pb::Neuron) -> Result<NeuronInfo, ChainError> {
    let small = |v: u32| {
        u16::try_from(v).map_err(|_| ChainError::Decode(format!("u16 field {v} out of range")))
    };
    let key = |s: &str| Hotkey::new(s).map_err(|e| ChainError::Decode(e.to_string()));
    Ok(NeuronInfo {
        uid: Uid(small(n.uid)?),
        hotkey: key(&n.hotkey)?,
        coldkey: key(&n.coldkey)?,
        alpha_stake: n.alpha_stake,
        tao_stake: n.tao_stake,
        stake: n.stake,
        validator_permit: n.validator_permit,
        axon: n.axon.as_ref().map(axon_from_pb).transpose()?,
        consensus: small(n.consensus)?,
        incentive: small(n.incentive)?,
        dividends: small(n.dividends)?,
        validator_trust: small(n.validator_trust)?,
        emission: n.emission,
        last_update: n.last_update,
        active: n.active,
        block_at_registration: n.block_at_registration,
        weights: pairs_from_pb(&n.weights)?,
        bonds: pairs_from_pb(&n.bonds)?,
    })
}

/// The gRPC services over one devnet.
#[derive(Clone, Debug)]
struct Service {
    devnet: Devnet,
}

impl Service {
    async fn apply<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut crate::State) -> Result<R, ChainError> + Send + 'static,
    ) -> Result<R, Status> {
        let d = self.devnet.clone();
        tokio::task::spawn_blocking(move || d.apply(f))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(to_status)
    }
}

#[tonic::async_trait]
impl ChainRpc for Service {
    async fn current_block(&self, _: Request<pb::Empty>) -> Result<Response<pb::Block>, Status> {
        Ok(Response::new(pb::Block {
            number: self.devnet.block(),
        }))
    }

    async fn wait_for_block(&self, req: Request<pb::Block>) -> Result<Response<pb::Block>, Status> {
        let number = self
            .devnet
            .wait_for_block(req.into_inner().number)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::Block { number }))
    }

    async fn metagraph(&self, req: Request<pb::Netuid>) -> Result<Response<pb::Metagraph>, Status> {
        let netuid = netuid(req.into_inner().netuid)?;
        let m = self
            .devnet
            .read(|s| s.metagraph(netuid))
            .map_err(to_status)?;
        Ok(Response::new(pb::Metagraph {
            netuid: u32::from(m.netuid),
            block: m.block,
            neurons: m.neurons.iter().map(neuron_to_pb).collect(),
        }))
    }

    async fn hyperparams(
        &self,
        req: Request<pb::Netuid>,
    ) -> Result<Response<pb::HyperparamList>, Status> {
        let netuid = netuid(req.into_inner().netuid)?;
        let hp = self
            .devnet
            .read(|s| s.hyperparams(netuid))
            .map_err(to_status)?;
        Ok(Response::new(pb::HyperparamList {
            params: hp
                .entries
                .into_iter()
                .map(|(name, v)| pb::Hyperparam {
                    name,
                    value: Some(value_to_pb(v)),
                })
                .collect(),
        }))
    }

    async fn set_weights(
        &self,
        req: Request<pb::SetWeightsRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let sw = SetWeights {
            hotkey: hotkey(&r.hotkey)?,
            netuid: netuid(r.netuid)?,
            uids: u16s(&r.uids, "uid")?,
            weights: u16s(&r.weights, "weight")?,
            version_key: r.version_key,
        };
        self.apply(move |s| s.set_weights(&sw)).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn commit_weights(
        &self,
        req: Request<pb::CommitWeightsRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let hk = hotkey(&r.hotkey)?;
        let netuid = netuid(r.netuid)?;
        let hash: [u8; 32] = r.commit_hash.as_slice().try_into().map_err(|_| {
            to_status(ChainError::InvalidInput(
                "commit hash must be 32 bytes".into(),
            ))
        })?;
        self.apply(move |s| s.commit_weights(&hk, netuid, hash))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn reveal_weights(
        &self,
        req: Request<pb::RevealWeightsRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let rw = RevealWeights {
            hotkey: hotkey(&r.hotkey)?,
            netuid: netuid(r.netuid)?,
            uids: u16s(&r.uids, "uid")?,
            values: u16s(&r.values, "value")?,
            salt: u16s(&r.salt, "salt")?,
            version_key: r.version_key,
        };
        self.apply(move |s| s.reveal_weights(&rw)).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn serve_axon(
        &self,
        req: Request<pb::ServeAxonRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let hk = hotkey(&r.hotkey)?;
        let netuid = netuid(r.netuid)?;
        let axon = r
            .axon
            .as_ref()
            .ok_or_else(|| to_status(ChainError::InvalidInput("axon missing".into())))
            .and_then(|a| axon_from_pb(a).map_err(to_status))?;
        self.apply(move |s| s.serve_axon(&hk, netuid, axon)).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn burned_register(
        &self,
        req: Request<pb::BurnedRegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        let r = req.into_inner();
        let (ck, hk, netuid) = (hotkey(&r.coldkey)?, hotkey(&r.hotkey)?, netuid(r.netuid)?);
        let uid = self
            .apply(move |s| s.burned_register(&ck, netuid, &hk))
            .await?;
        Ok(Response::new(pb::RegisterReply {
            uid: u32::from(uid.0),
        }))
    }
}

#[tonic::async_trait]
impl DevnetAdmin for Service {
    async fn create_subnet(
        &self,
        req: Request<pb::CreateSubnetRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let netuid = netuid(r.netuid)?;
        let owner_ck = hotkey(&r.owner_coldkey)?;
        let owner_hk = if r.owner_hotkey.is_empty() {
            None
        } else {
            Some(hotkey(&r.owner_hotkey)?)
        };
        self.apply(move |s| s.create_subnet(netuid, owner_ck, owner_hk, SubnetParams::default()))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn set_hyperparam(
        &self,
        req: Request<pb::SetHyperparamRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let netuid = netuid(r.netuid)?;
        let value = value_from_pb(r.value.as_ref()).map_err(to_status)?;
        self.apply(move |s| s.set_hyperparam(netuid, &r.name, value))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn faucet(&self, req: Request<pb::FaucetRequest>) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let ck = hotkey(&r.coldkey)?;
        self.apply(move |s| {
            s.faucet(&ck, r.amount);
            Ok(())
        })
        .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn add_stake(
        &self,
        req: Request<pb::AddStakeRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let (hk, netuid) = (hotkey(&r.hotkey)?, netuid(r.netuid)?);
        self.apply(move |s| s.add_stake(&hk, netuid, r.amount))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn advance_blocks(
        &self,
        req: Request<pb::AdvanceBlocksRequest>,
    ) -> Result<Response<pb::Block>, Status> {
        let n = req.into_inner().blocks;
        let d = self.devnet.clone();
        let number = tokio::task::spawn_blocking(move || d.advance_blocks(n))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(to_status)?;
        Ok(Response::new(pb::Block { number }))
    }

    async fn export_state(&self, _: Request<pb::Empty>) -> Result<Response<pb::StateDump>, Status> {
        Ok(Response::new(pb::StateDump {
            json: self.devnet.export_json(),
        }))
    }
}

/// Serves `devnet` on `listener` until `shutdown` resolves.
pub async fn serve(
    devnet: Devnet,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let svc = Service { devnet };
    tonic::transport::Server::builder()
        .add_service(ChainServer::new(svc.clone()))
        .add_service(DevnetAdminServer::new(svc))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

/// A `Chain` reached over gRPC (a `dojo-devnet` process), with the devnet admin calls.
#[derive(Clone, Debug)]
pub struct RemoteChain {
    chain: ChainClient<Channel>,
    admin: DevnetAdminClient<Channel>,
}

impl RemoteChain {
    /// Connects to `http://host:port`.
    pub async fn connect(url: &str) -> Result<Self, ChainError> {
        let channel = Endpoint::from_shared(url.to_owned())
            .map_err(|e| ChainError::InvalidInput(e.to_string()))?
            .connect()
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        Ok(Self {
            chain: ChainClient::new(channel.clone()),
            admin: DevnetAdminClient::new(channel),
        })
    }

    /// Admin: creates a subnet with default hyperparameters.
    pub async fn create_subnet(
        &self,
        netuid: Netuid,
        owner_coldkey: &Hotkey,
        owner_hotkey: Option<&Hotkey>,
    ) -> Result<(), ChainError> {
        let req = pb::CreateSubnetRequest {
            netuid: u32::from(netuid),
            owner_coldkey: owner_coldkey.to_string(),
            owner_hotkey: owner_hotkey.map(ToString::to_string).unwrap_or_default(),
        };
        self.admin
            .clone()
            .create_subnet(req)
            .await
            .map_err(from_status)?;
        Ok(())
    }

    /// Admin: sets a hyperparameter by name.
    pub async fn set_hyperparam(
        &self,
        netuid: Netuid,
        name: &str,
        value: HyperparamValue,
    ) -> Result<(), ChainError> {
        let req = pb::SetHyperparamRequest {
            netuid: u32::from(netuid),
            name: name.to_owned(),
            value: Some(value_to_pb(value)),
        };
        self.admin
            .clone()
            .set_hyperparam(req)
            .await
            .map_err(from_status)?;
        Ok(())
    }

    /// Admin: mints balance to a coldkey.
    pub async fn faucet(&self, coldkey: &Hotkey, amount: u64) -> Result<(), ChainError> {
        let req = pb::FaucetRequest {
            coldkey: coldkey.to_string(),
            amount,
        };
        self.admin.clone().faucet(req).await.map_err(from_status)?;
        Ok(())
    }

    /// Admin: adds alpha stake.
    pub async fn add_stake(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        amount: u64,
    ) -> Result<(), ChainError> {
        let req = pb::AddStakeRequest {
            hotkey: hotkey.to_string(),
            netuid: u32::from(netuid),
            amount,
        };
        self.admin
            .clone()
            .add_stake(req)
            .await
            .map_err(from_status)?;
        Ok(())
    }

    /// Admin: produces blocks now.
    pub async fn advance_blocks(&self, blocks: u64) -> Result<u64, ChainError> {
        let r = self
            .admin
            .clone()
            .advance_blocks(pb::AdvanceBlocksRequest { blocks })
            .await
            .map_err(from_status)?;
        Ok(r.into_inner().number)
    }

    /// Admin: the devnet's whole state as JSON.
    pub async fn export_state(&self) -> Result<String, ChainError> {
        let r = self
            .admin
            .clone()
            .export_state(pb::Empty {})
            .await
            .map_err(from_status)?;
        Ok(r.into_inner().json)
    }
}

impl Chain for RemoteChain {
    async fn current_block(&self) -> Result<u64, ChainError> {
        Ok(self
            .chain
            .clone()
            .current_block(pb::Empty {})
            .await
            .map_err(from_status)?
            .into_inner()
            .number)
    }

    async fn wait_for_block(&self, after: u64) -> Result<u64, ChainError> {
        Ok(self
            .chain
            .clone()
            .wait_for_block(pb::Block { number: after })
            .await
            .map_err(from_status)?
            .into_inner()
            .number)
    }

    async fn metagraph(&self, netuid: Netuid) -> Result<MetagraphSnapshot, ChainError> {
        let m = self
            .chain
            .clone()
            .metagraph(pb::Netuid {
                netuid: u32::from(netuid),
            })
            .await
            .map_err(from_status)?;
        let m = m.into_inner();
        Ok(MetagraphSnapshot {
            netuid: u16::try_from(m.netuid).map_err(|_| ChainError::Decode("netuid".into()))?,
            block: m.block,
            neurons: m
                .neurons
                .iter()
                .map(neuron_from_pb)
                .collect::<Result<_, _>>()?,
        })
    }

    async fn hyperparams(&self, netuid: Netuid) -> Result<Hyperparams, ChainError> {
        let r = self
            .chain
            .clone()
            .hyperparams(pb::Netuid {
                netuid: u32::from(netuid),
            })
            .await
            .map_err(from_status)?;
        let entries = r
            .into_inner()
            .params
            .into_iter()
            .map(|p| {
                Ok((
                    p.name,
                    value_from_pb(p.value.as_ref())
                        .map_err(|e| ChainError::Decode(e.to_string()))?,
                ))
            })
            .collect::<Result<_, ChainError>>()?;
        Ok(Hyperparams { entries })
    }

    async fn set_weights(&self, req: SetWeights) -> Result<(), ChainError> {
        let r = pb::SetWeightsRequest {
            hotkey: req.hotkey.to_string(),
            netuid: u32::from(req.netuid),
            uids: req.uids.iter().map(|x| u32::from(*x)).collect(),
            weights: req.weights.iter().map(|x| u32::from(*x)).collect(),
            version_key: req.version_key,
        };
        self.chain
            .clone()
            .set_weights(r)
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn commit_weights(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        commit_hash: [u8; 32],
    ) -> Result<(), ChainError> {
        let r = pb::CommitWeightsRequest {
            hotkey: hotkey.to_string(),
            netuid: u32::from(netuid),
            commit_hash: commit_hash.to_vec(),
        };
        self.chain
            .clone()
            .commit_weights(r)
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn reveal_weights(&self, req: RevealWeights) -> Result<(), ChainError> {
        let wide = |v: &[u16]| v.iter().map(|x| u32::from(*x)).collect();
        let r = pb::RevealWeightsRequest {
            hotkey: req.hotkey.to_string(),
            netuid: u32::from(req.netuid),
            uids: wide(&req.uids),
            values: wide(&req.values),
            salt: wide(&req.salt),
            version_key: req.version_key,
        };
        self.chain
            .clone()
            .reveal_weights(r)
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn serve_axon(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        axon: AxonInfo,
    ) -> Result<(), ChainError> {
        let r = pb::ServeAxonRequest {
            hotkey: hotkey.to_string(),
            netuid: u32::from(netuid),
            axon: Some(axon_to_pb(&axon)),
        };
        self.chain
            .clone()
            .serve_axon(r)
            .await
            .map_err(from_status)?;
        Ok(())
    }

    async fn burned_register(
        &self,
        coldkey: &Hotkey,
        netuid: Netuid,
        hotkey: &Hotkey,
    ) -> Result<Uid, ChainError> {
        let r = pb::BurnedRegisterRequest {
            coldkey: coldkey.to_string(),
            netuid: u32::from(netuid),
            hotkey: hotkey.to_string(),
        };
        let uid = self
            .chain
            .clone()
            .burned_register(r)
            .await
            .map_err(from_status)?
            .into_inner()
            .uid;
        Ok(Uid(
            u16::try_from(uid).map_err(|_| ChainError::Decode(format!("uid {uid}")))?
        ))
    }
}

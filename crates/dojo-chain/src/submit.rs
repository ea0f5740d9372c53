//! Signed extrinsics and the `Chain` port.
//!
//! Each submission: the nonce from the chain state at the best block (`AccountNonceApi`), a
//! mortal era from that block, sr25519 signature by the wallet key, `author_submitAndWatchExtrinsic`
//! with a deadline, and on inclusion the block's events: `ExtrinsicFailed` becomes the mapped
//! dispatch error, and the call's own success event must be there. Nothing is resubmitted here.
//! Because the nonce is the chain state's (not the pool's), a caller that tries again after an
//! unknown outcome reuses the nonce of the earlier attempt until that one is known to be included,
//! so two copies can never both land.

use dojo_identity::Keypair;
use dojo_types::chain::{
    AxonInfo, Chain, ChainError, CommitScheme, Hyperparams, MetagraphSnapshot, Netuid,
    RevealWeights, SetWeights, account_id,
};
use dojo_types::{Hotkey, Uid};
use subxt::PolkadotConfig;
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::tx::Signer;
use subxt::utils::{AccountId32, MultiSignature};

use crate::calls::{self, Call};
use crate::client::{Subtensor, submit_error, transport};
use crate::errors::{CallKind, from_module_error};

struct KeySigner<'a>(&'a Keypair);

impl Signer<PolkadotConfig> for KeySigner<'_> {
    fn account_id(&self) -> AccountId32 {
        AccountId32(self.0.public())
    }
    fn sign(&self, payload: &[u8]) -> MultiSignature {
        MultiSignature::Sr25519(self.0.sign(payload))
    }
}

/// The events of an included extrinsic that matter to the caller.
struct Included {
    /// `(pallet, event, field bytes)` of this extrinsic's events.
    events: Vec<(String, String, Vec<u8>)>,
}

impl Included {
    fn find(&self, event: &str) -> Option<&[u8]> {
        self.events
            .iter()
            .find(|(p, e, _)| p == crate::PALLET && e == event)
            .map(|(_, _, b)| b.as_slice())
    }
}

impl Subtensor {
    fn key_for(&self, who: &Hotkey, cold: bool) -> Result<&Keypair, ChainError> {
        let key = if cold { &self.coldkey } else { &self.hotkey };
        let role = if cold { "coldkey" } else { "hotkey" };
        let key = key
            .as_deref()
            .ok_or_else(|| ChainError::InvalidInput(format!("no {role} loaded to sign with")))?;
        if key.public() != account_id(who) {
            return Err(ChainError::InvalidInput(format!(
                "asked to sign as {who} but the loaded {role} is {}",
                key.ss58()
            )));
        }
        Ok(key)
    }

    /// Signs `call` with `key`, submits it and waits for inclusion and its events.
    async fn submit(
        &self,
        key: &Keypair,
        call: &Call,
        kind: CallKind,
        success_event: &str,
    ) -> Result<Included, ChainError> {
        let _one_at_a_time = self.submit_lock.lock().await;
        let at = self.at_best().await?;
        let signer = KeySigner(key);
        let account = signer.account_id();
        let mut tx = at.tx();
        let nonce = tokio::time::timeout(self.options.call_timeout, tx.account_nonce(&account))
            .await
            .map_err(|_| ChainError::Transport("account nonce: no answer".into()))?
            .map_err(transport)?;
        let params = DefaultExtrinsicParamsBuilder::<PolkadotConfig>::new()
            .mortal(self.options.mortality)
            .nonce(nonce)
            .build();
        let signed = tx
            .create_signed(call, &signer, params)
            .await
            .map_err(|e| ChainError::InvalidInput(format!("building the extrinsic: {e}")))?;
        let hash = signed.hash();
        tracing::info!(signer = %key.ss58(), nonce, extrinsic = ?hash, kind = ?kind, "submitting");
        let deadline = tokio::time::Instant::now() + self.options.inclusion_timeout;
        let unknown = |why: &str| {
            ChainError::Transport(format!(
                "{why}; extrinsic {hash:?} (nonce {nonce}) may still be included: not resubmitted"
            ))
        };
        let mut progress = tokio::time::timeout_at(deadline, signed.submit_and_watch())
            .await
            .map_err(|_| unknown("no answer to the submission"))?
            .map_err(|e| submit_error(e, kind))?;
        let in_block = loop {
            let status = tokio::time::timeout_at(deadline, progress.next())
                .await
                .map_err(|_| {
                    unknown(&format!(
                        "not included within {:?}",
                        self.options.inclusion_timeout
                    ))
                })?;
            use subxt::tx::TransactionStatus as S;
            match status {
                None => return Err(unknown("the node closed the status stream")),
                Some(Err(e)) => return Err(unknown(&format!("status stream failed: {e}"))),
                Some(Ok(S::InBestBlock(b) | S::InFinalizedBlock(b))) => break b,
                Some(Ok(
                    S::Invalid { message } | S::Dropped { message } | S::Error { message },
                )) => {
                    return Err(submit_error(message, kind));
                }
                Some(Ok(_)) => continue,
            }
        };
        let events = tokio::time::timeout_at(deadline, in_block.fetch_events())
            .await
            .map_err(|_| unknown("included, but its events did not arrive in time"))?
            .map_err(|e| unknown(&format!("included, but its events failed to load: {e}")))?;
        let mut out = Vec::new();
        for ev in events.iter() {
            let ev = ev.map_err(|e| ChainError::Decode(format!("event: {e}")))?;
            if ev.pallet_name() == "System" && ev.event_name() == "ExtrinsicFailed" {
                let err = subxt::error::DispatchError::decode_from(ev.field_bytes(), at.metadata())
                    .map_err(|e| ChainError::Decode(format!("dispatch error: {e}")))?;
                return Err(match &err {
                    subxt::error::DispatchError::Module(m) => match m.details() {
                        Ok(d) => from_module_error(&d.variant.name),
                        Err(_) => ChainError::Dispatch(err.to_string()),
                    },
                    other => ChainError::Dispatch(other.to_string()),
                });
            }
            out.push((
                ev.pallet_name().to_owned(),
                ev.event_name().to_owned(),
                ev.field_bytes().to_vec(),
            ));
        }
        let included = Included { events: out };
        if included.find(success_event).is_none() {
            return Err(ChainError::Dispatch(format!(
                "extrinsic {hash:?} was included without a {} {success_event} event",
                crate::PALLET
            )));
        }
        tracing::info!(extrinsic = ?hash, event = success_event, "included");
        Ok(included)
    }
}

impl Chain for Subtensor {
    async fn current_block(&self) -> Result<u64, ChainError> {
        self.best_block().await
    }

    async fn wait_for_block(&self, after: u64) -> Result<u64, ChainError> {
        self.wait_for_block_after(after).await
    }

    async fn metagraph(&self, netuid: Netuid) -> Result<MetagraphSnapshot, ChainError> {
        self.read_metagraph(netuid).await
    }

    async fn hyperparams(&self, netuid: Netuid) -> Result<Hyperparams, ChainError> {
        self.read_hyperparams(netuid).await
    }

    async fn set_weights(&self, req: SetWeights) -> Result<(), ChainError> {
        if req.uids.len() != req.weights.len() {
            return Err(ChainError::WeightVecNotEqualSize);
        }
        let key = self.key_for(&req.hotkey, false)?;
        let call =
            calls::set_mechanism_weights(req.netuid, 0, &req.uids, &req.weights, req.version_key);
        self.submit(key, &call, CallKind::SetWeights, "WeightsSet")
            .await
            .map(drop)
    }

    async fn commit_weights(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        commit_hash: [u8; 32],
    ) -> Result<(), ChainError> {
        let key = self.key_for(hotkey, false)?;
        // A hash commit on a chain that expects timelocked ones could never be revealed.
        self.check_weights_supported(netuid).await?;
        let call = calls::commit_weights(netuid, commit_hash);
        self.submit(key, &call, CallKind::CommitWeights, "WeightsCommitted")
            .await
            .map(drop)
    }

    async fn reveal_weights(&self, req: RevealWeights) -> Result<(), ChainError> {
        if req.uids.len() != req.values.len() {
            return Err(ChainError::InputLengthsUnequal);
        }
        let key = self.key_for(&req.hotkey, false)?;
        let call = calls::reveal_weights(
            req.netuid,
            &req.uids,
            &req.values,
            &req.salt,
            req.version_key,
        );
        self.submit(key, &call, CallKind::SetWeights, "WeightsRevealed")
            .await
            .map(drop)
    }

    async fn serve_axon(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        axon: AxonInfo,
    ) -> Result<(), ChainError> {
        let key = self.key_for(hotkey, false)?;
        let call = calls::serve_axon(netuid, &axon);
        self.submit(key, &call, CallKind::ServeAxon, "AxonServed")
            .await
            .map(drop)
    }

    async fn burned_register(
        &self,
        coldkey: &Hotkey,
        netuid: Netuid,
        hotkey: &Hotkey,
    ) -> Result<Uid, ChainError> {
        let key = self.key_for(coldkey, true)?;
        let hot = hotkey
            .public_key()
            .ok_or_else(|| ChainError::InvalidInput(format!("{hotkey} is not an SS58 address")))?;
        let call = calls::burned_register(netuid, hot);
        let included = self
            .submit(key, &call, CallKind::Register, "NeuronRegistered")
            .await?;
        // NeuronRegistered(NetUid, u16 uid, AccountId): NetUid is a transparent u16.
        let fields = included
            .find("NeuronRegistered")
            .ok_or_else(|| ChainError::Decode("NeuronRegistered vanished".into()))?;
        if fields.len() != 36 || fields[4..] != hot {
            return Err(ChainError::Decode(format!(
                "NeuronRegistered event has unexpected fields {fields:02x?}"
            )));
        }
        Ok(Uid(u16::from_le_bytes([fields[2], fields[3]])))
    }

    async fn commit_scheme(&self, netuid: Netuid) -> Result<CommitScheme, ChainError> {
        self.read_commit_scheme(netuid).await
    }

    async fn commit_timelocked_weights(&self, req: SetWeights) -> Result<u64, ChainError> {
        if req.uids.len() != req.weights.len() {
            return Err(ChainError::WeightVecNotEqualSize);
        }
        let key = self.key_for(&req.hotkey, false)?;
        let version = match self.read_commit_scheme(req.netuid).await? {
            CommitScheme::Timelocked { version } => version,
            CommitScheme::Hash => {
                return Err(ChainError::InvalidInput(format!(
                    "subnet {} takes hash commits (commit-reveal v2), not timelocked ones",
                    req.netuid
                )));
            }
        };
        if version != crate::tlock::COMMIT_REVEAL_VERSION {
            // The payload layout is bittensor-drand 2.0.0's, which the chain reads as v4; another
            // version would be rejected (`IncorrectCommitRevealVersion`) or mis-decoded.
            return Err(ChainError::InvalidInput(format!(
                "the chain expects commit-reveal v{version}; dojo-chain builds v{} payloads",
                crate::tlock::COMMIT_REVEAL_VERSION
            )));
        }
        let hp = self.read_hyperparams(req.netuid).await?;
        let tempo = u16::try_from(hp.u64("tempo")?)
            .map_err(|_| ChainError::InvalidHyperparam("tempo".into()))?;
        let reveal_period = hp.u64("commit_reveal_period").unwrap_or(1);
        let block = self.best_block().await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| ChainError::InvalidInput(format!("system clock before 1970: {e}")))?
            .as_secs_f64();
        let round = crate::tlock::reveal_round(
            req.netuid,
            tempo,
            block,
            reveal_period,
            now,
            self.options.block_time,
        );
        let payload = crate::tlock::payload(
            &account_id(&req.hotkey),
            &req.uids,
            &req.weights,
            req.version_key,
        );
        let commit = crate::tlock::encrypt(&self.options.drand_public_key, round, &payload)
            .map_err(|e| ChainError::InvalidInput(e.to_string()))?;
        let call =
            calls::commit_timelocked_mechanism_weights(req.netuid, 0, &commit, round, version);
        tracing::info!(
            netuid = req.netuid,
            block,
            reveal_round = round,
            bytes = commit.len(),
            "timelocked commit"
        );
        self.submit(
            key,
            &call,
            CallKind::CommitWeights,
            "TimelockedWeightsCommitted",
        )
        .await?;
        Ok(round)
    }

    async fn weights_row(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
    ) -> Result<Option<Vec<(u16, u16)>>, ChainError> {
        self.read_weights_row(hotkey, netuid).await
    }
}

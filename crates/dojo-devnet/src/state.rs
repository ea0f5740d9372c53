//! The devnet's chain state and its extrinsics, as plain synchronous code.
//!
//! Every extrinsic validates in subtensor's order and either fails with the same error without
//! touching state, or applies completely. [`State::step_block`] advances the clock, accrues emission
//! and runs epochs on the legacy schedule `(block + netuid + 1) % (tempo + 1) == 0`.

use std::collections::{BTreeMap, VecDeque};

use dojo_types::chain::{
    AxonInfo, ChainError, HyperparamValue, Hyperparams, MetagraphSnapshot, Netuid, NeuronInfo,
    RevealWeights, SetWeights, account_id, commit_hash_v2,
};
use dojo_types::{Hotkey, Uid};
use serde::{Deserialize, Serialize};

use crate::epoch::{
    EpochInput, EpochNeuron, EpochOutput, check_vec_max_limited, run_epoch,
    vec_u16_max_upscale_to_u16,
};

/// Most unrevealed commits a hotkey may hold per subnet.
const MAX_UNREVEALED_COMMITS: usize = 10;

/// Per-subnet hyperparameters; defaults are subtensor's runtime defaults (spec §2.4, §9) except where
/// a field says otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetParams {
    /// Blocks between epochs.
    pub tempo: u16,
    /// Consensus majority (`u16` proportion).
    pub kappa: u16,
    /// Bonds EMA in parts per million.
    pub bonds_moving_average: u64,
    /// Bonds penalty (`u16` proportion).
    pub bonds_penalty: u16,
    /// Yuma3 bonds instead of the original.
    pub yuma3: bool,
    /// Liquid alpha (Yuma3).
    pub liquid_alpha: bool,
    /// Liquid alpha bounds.
    pub alpha_low: u16,
    /// Liquid alpha bounds.
    pub alpha_high: u16,
    /// Liquid alpha steepness.
    pub alpha_sigmoid_steepness: i16,
    /// Capacity of the subnet.
    pub max_allowed_uids: u16,
    /// Validator permits per epoch (top-k stake).
    pub max_allowed_validators: u16,
    /// Minimum weights per set (clamped to n).
    pub min_allowed_weights: u16,
    /// Largest normalised weight, `u16` proportion; 65535 disables the check.
    pub max_weights_limit: u16,
    /// Blocks between weight sets (or commits).
    pub weights_rate_limit: u64,
    /// Minimum `version_key`; 0 accepts anything.
    pub weights_version: u64,
    /// Blocks without an update after which a neuron is inactive.
    pub activity_cutoff: u16,
    /// Blocks a new registration cannot be pruned.
    pub immunity_period: u16,
    /// Commit-reveal v2 gate.
    pub commit_reveal_weights_enabled: bool,
    /// Reveal `commit_reveal_period` epochs after the commit.
    pub commit_reveal_period: u64,
    /// Blocks between axon updates.
    pub serving_rate_limit: u64,
    /// Registration burn, rao.
    pub burn: u64,
    /// Registration open.
    pub registration_allowed: bool,
    /// Stake below this (rao) cannot set weights and counts as zero in the epoch.
    pub stake_threshold: u64,
    /// Devnet only: alpha emitted to the subnet per block, rao.
    pub emission_per_block: u64,
    /// Owner's share of emission (`u16` proportion; subtensor's `SubnetOwnerCut`, default 18%).
    pub owner_cut: u16,
    /// Devnet only: accept axons on 127.0.0.1 / ::1 (subtensor rejects them) so local miners work.
    pub allow_loopback_axons: bool,
}

impl Default for SubnetParams {
    fn default() -> Self {
        Self {
            tempo: 360,
            kappa: 32_767,
            bonds_moving_average: 900_000,
            bonds_penalty: 65_535,
            yuma3: false,
            liquid_alpha: false,
            alpha_low: 45_875,
            alpha_high: 58_982,
            alpha_sigmoid_steepness: 1000,
            max_allowed_uids: 256,
            max_allowed_validators: 128,
            min_allowed_weights: 1024,
            max_weights_limit: 65_535,
            weights_rate_limit: 100,
            weights_version: 0,
            activity_cutoff: 5000,
            immunity_period: 4096,
            commit_reveal_weights_enabled: true,
            commit_reveal_period: 1,
            serving_rate_limit: 50,
            burn: 100_000_000,
            registration_allowed: true,
            stake_threshold: 0,
            emission_per_block: 1_000_000_000,
            owner_cut: 11_796,
            allow_loopback_axons: true,
        }
    }
}

macro_rules! hyperparams {
    ($($name:literal => $field:ident : $variant:ident),* $(,)?) => {
        impl SubnetParams {
            /// `(name, value)` pairs under subtensor's hyperparameter names.
            pub fn entries(&self) -> Vec<(String, HyperparamValue)> {
                vec![$(($name.to_owned(), HyperparamValue::$variant(self.$field))),*]
            }

            /// Sets one parameter by name; the value's type must match.
            pub fn set(&mut self, name: &str, value: HyperparamValue) -> Result<(), ChainError> {
                match (name, value) {
                    $(($name, HyperparamValue::$variant(v)) => self.$field = v,)*
                    $(($name, _) => return Err(ChainError::InvalidHyperparam(name.to_owned())),)*
                    _ => return Err(ChainError::MissingHyperparam(name.to_owned())),
                }
                Ok(())
            }
        }
    };
}

hyperparams! {
    "tempo" => tempo: U16,
    "kappa" => kappa: U16,
    "bonds_moving_avg" => bonds_moving_average: U64,
    "bonds_penalty" => bonds_penalty: U16,
    "yuma3_enabled" => yuma3: Bool,
    "liquid_alpha_enabled" => liquid_alpha: Bool,
    "alpha_low" => alpha_low: U16,
    "alpha_high" => alpha_high: U16,
    "alpha_sigmoid_steepness" => alpha_sigmoid_steepness: I16,
    "max_allowed_uids" => max_allowed_uids: U16,
    "max_validators" => max_allowed_validators: U16,
    "min_allowed_weights" => min_allowed_weights: U16,
    "max_weights_limit" => max_weights_limit: U16,
    "weights_rate_limit" => weights_rate_limit: U64,
    "weights_version" => weights_version: U64,
    "activity_cutoff" => activity_cutoff: U16,
    "immunity_period" => immunity_period: U16,
    "commit_reveal_weights_enabled" => commit_reveal_weights_enabled: Bool,
    "commit_reveal_period" => commit_reveal_period: U64,
    "serving_rate_limit" => serving_rate_limit: U64,
    "burn" => burn: U64,
    "registration_allowed" => registration_allowed: Bool,
    "stake_threshold" => stake_threshold: U64,
    "emission_per_block" => emission_per_block: U64,
    "owner_cut" => owner_cut: U16,
    "allow_loopback_axons" => allow_loopback_axons: Bool,
}

/// One UID's storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neuron {
    /// Hotkey at this UID.
    pub hotkey: Hotkey,
    /// Its owning coldkey.
    pub coldkey: Hotkey,
    /// `BlockAtRegistration`.
    pub block_at_registration: u64,
    /// `LastUpdate`.
    pub last_update: u64,
    /// `ValidatorPermit`.
    pub validator_permit: bool,
    /// `Active`.
    pub active: bool,
    /// `Consensus`.
    pub consensus: u16,
    /// `Incentive`.
    pub incentive: u16,
    /// `Dividends`.
    pub dividends: u16,
    /// `ValidatorTrust`.
    pub validator_trust: u16,
    /// `Emission`, rao.
    pub emission: u64,
    /// `Weights` row.
    pub weights: Vec<(u16, u16)>,
    /// `Bonds` row.
    pub bonds: Vec<(u16, u16)>,
    /// `Axons`.
    pub axon: Option<AxonInfo>,
}

/// A commit-reveal v2 commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// BlakeTwo256 commit hash.
    pub hash: [u8; 32],
    /// CR epoch index at commit time.
    pub epoch: u64,
    /// Block of the commit.
    pub block: u64,
}

/// One subnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// Hyperparameters.
    pub params: SubnetParams,
    /// Owner coldkey.
    pub owner_coldkey: Hotkey,
    /// Owner hotkey (exempt from permit and stake checks when registered).
    pub owner_hotkey: Option<Hotkey>,
    /// UIDs `0..n`.
    pub neurons: Vec<Neuron>,
    /// Alpha stake per hotkey, rao.
    pub stake: BTreeMap<Hotkey, u64>,
    /// Pending CR v2 commits per hotkey, oldest first.
    pub commits: BTreeMap<Hotkey, VecDeque<Commit>>,
    /// Emission accrued since the last epoch, rao.
    pub pending_emission: u64,
    /// Block of the last epoch (`LastMechansimStepBlock`), 0 before the first.
    pub last_epoch_block: u64,
}

/// The whole devnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Current block.
    pub block: u64,
    /// Subnets by netuid.
    pub subnets: BTreeMap<Netuid, Subnet>,
    /// Free balance per coldkey, rao.
    pub balances: BTreeMap<Hotkey, u64>,
    /// Coldkey that owns each hotkey (first registration wins, as `Owner[hotkey]`).
    pub hotkey_owner: BTreeMap<Hotkey, Hotkey>,
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

impl Subnet {
    fn uid_of(&self, hotkey: &Hotkey) -> Option<u16> {
        self.neurons
            .iter()
            .position(|n| &n.hotkey == hotkey)
            .map(|i| i as u16)
    }

    fn owner_uid(&self) -> Option<u16> {
        self.owner_hotkey.as_ref().and_then(|h| self.uid_of(h))
    }

    fn stake_of(&self, hotkey: &Hotkey) -> u64 {
        self.stake.get(hotkey).copied().unwrap_or(0)
    }

    fn is_self_weight(uid: u16, uids: &[u16], weights: &[u16]) -> bool {
        weights.len() == 1 && uids.first() == Some(&uid)
    }

    /// Legacy CR epoch index, the formula validators use too ([`dojo_types::chain::cr_epoch`]).
    fn cr_epoch(netuid: Netuid, tempo: u16, block: u64) -> u64 {
        dojo_types::chain::cr_epoch(netuid, tempo, block)
    }

    fn is_commit_expired(&self, netuid: Netuid, now: u64, commit_epoch: u64) -> bool {
        Self::cr_epoch(netuid, self.params.tempo, now)
            > commit_epoch.saturating_add(self.params.commit_reveal_period)
    }
}

impl State {
    /// An empty chain at block 0.
    pub fn new() -> Self {
        Self {
            block: 0,
            subnets: BTreeMap::new(),
            balances: BTreeMap::new(),
            hotkey_owner: BTreeMap::new(),
        }
    }

    fn subnet(&self, netuid: Netuid) -> Result<&Subnet, ChainError> {
        self.subnets
            .get(&netuid)
            .ok_or(ChainError::SubnetNotExists(netuid))
    }

    fn subnet_mut(&mut self, netuid: Netuid) -> Result<&mut Subnet, ChainError> {
        self.subnets
            .get_mut(&netuid)
            .ok_or(ChainError::SubnetNotExists(netuid))
    }

    /// Admin: creates a subnet; a given owner hotkey is registered at UID 0, as subtensor does.
    pub fn create_subnet(
        &mut self,
        netuid: Netuid,
        owner_coldkey: Hotkey,
        owner_hotkey: Option<Hotkey>,
        params: SubnetParams,
    ) -> Result<(), ChainError> {
        if netuid == 0 {
            return Err(ChainError::InvalidInput(
                "netuid 0 is the root network".into(),
            ));
        }
        if self.subnets.contains_key(&netuid) {
            return Err(ChainError::SubnetExists(netuid));
        }
        let mut subnet = Subnet {
            params,
            owner_coldkey: owner_coldkey.clone(),
            owner_hotkey: owner_hotkey.clone(),
            neurons: Vec::new(),
            stake: BTreeMap::new(),
            commits: BTreeMap::new(),
            pending_emission: 0,
            last_epoch_block: 0,
        };
        if let Some(hk) = owner_hotkey {
            self.hotkey_owner
                .entry(hk.clone())
                .or_insert_with(|| owner_coldkey.clone());
            subnet
                .neurons
                .push(new_neuron(hk, owner_coldkey, self.block));
        }
        self.subnets.insert(netuid, subnet);
        Ok(())
    }

    /// Admin: sets a hyperparameter by name.
    pub fn set_hyperparam(
        &mut self,
        netuid: Netuid,
        name: &str,
        value: HyperparamValue,
    ) -> Result<(), ChainError> {
        let mut params = self.subnet(netuid)?.params.clone();
        params.set(name, value)?;
        // Tempo 0 is legal (no epochs, as on subtensor); a subnet with no room is not.
        if params.max_allowed_uids == 0 {
            return Err(ChainError::InvalidHyperparam(name.to_owned()));
        }
        self.subnet_mut(netuid)?.params = params;
        Ok(())
    }

    /// Admin: mints free balance to a coldkey.
    pub fn faucet(&mut self, coldkey: &Hotkey, amount: u64) {
        let b = self.balances.entry(coldkey.clone()).or_default();
        *b = b.saturating_add(amount);
    }

    /// Admin: adds alpha stake to a hotkey on a subnet.
    pub fn add_stake(
        &mut self,
        hotkey: &Hotkey,
        netuid: Netuid,
        amount: u64,
    ) -> Result<(), ChainError> {
        let s = self
            .subnet_mut(netuid)?
            .stake
            .entry(hotkey.clone())
            .or_default();
        *s = s.saturating_add(amount);
        Ok(())
    }

    /// Hyperparameters of a subnet by name.
    pub fn hyperparams(&self, netuid: Netuid) -> Result<Hyperparams, ChainError> {
        Ok(Hyperparams {
            entries: self.subnet(netuid)?.params.entries(),
        })
    }

    /// The metagraph at the current block.
    pub fn metagraph(&self, netuid: Netuid) -> Result<MetagraphSnapshot, ChainError> {
        let s = self.subnet(netuid)?;
        let neurons = s
            .neurons
            .iter()
            .enumerate()
            .map(|(uid, n)| {
                let alpha = s.stake_of(&n.hotkey);
                NeuronInfo {
                    uid: Uid(uid as u16),
                    hotkey: n.hotkey.clone(),
                    coldkey: n.coldkey.clone(),
                    alpha_stake: alpha,
                    tao_stake: 0,
                    stake: alpha,
                    validator_permit: n.validator_permit,
                    axon: n.axon.clone(),
                    consensus: n.consensus,
                    incentive: n.incentive,
                    dividends: n.dividends,
                    validator_trust: n.validator_trust,
                    emission: n.emission,
                    last_update: n.last_update,
                    active: n.active,
                    block_at_registration: n.block_at_registration,
                    weights: n.weights.clone(),
                    bonds: n.bonds.clone(),
                }
            })
            .collect();
        Ok(MetagraphSnapshot {
            netuid,
            block: self.block,
            neurons,
        })
    }

    /// `burned_register`: pays the burn from `coldkey` and gives `hotkey` a UID, pruning the
    /// lowest-emission non-immune neuron when the subnet is full.
    pub fn burned_register(
        &mut self,
        coldkey: &Hotkey,
        netuid: Netuid,
        hotkey: &Hotkey,
    ) -> Result<Uid, ChainError> {
        let now = self.block;
        let s = self.subnet(netuid)?;
        if !s.params.registration_allowed {
            return Err(ChainError::SubNetRegistrationDisabled);
        }
        if s.uid_of(hotkey).is_some() {
            return Err(ChainError::HotKeyAlreadyRegisteredInSubNet);
        }
        if let Some(owner) = self.hotkey_owner.get(hotkey)
            && owner != coldkey
        {
            return Err(ChainError::NonAssociatedColdKey);
        }
        let burn = s.params.burn;
        let balance = self.balances.get(coldkey).copied().unwrap_or(0);
        if balance < burn {
            return Err(ChainError::NotEnoughBalanceToStake { balance, burn });
        }
        let slot = if s.neurons.len() < usize::from(s.params.max_allowed_uids) {
            None
        } else {
            Some(neuron_to_prune(s, now).ok_or(ChainError::NoNeuronIdAvailable)?)
        };
        self.balances.insert(coldkey.clone(), balance - burn);
        self.hotkey_owner
            .entry(hotkey.clone())
            .or_insert_with(|| coldkey.clone());
        let s = self.subnet_mut(netuid)?;
        let neuron = new_neuron(hotkey.clone(), coldkey.clone(), now);
        let uid = match slot {
            Some(uid) => {
                let old = std::mem::replace(&mut s.neurons[uid as usize], neuron);
                s.commits.remove(&old.hotkey);
                tracing::info!(netuid, uid, pruned = %old.hotkey, hotkey = %hotkey, "neuron replaced");
                uid
            }
            None => {
                s.neurons.push(neuron);
                (s.neurons.len() - 1) as u16
            }
        };
        Ok(Uid(uid))
    }

    /// `serve_axon` with subtensor's checks and order.
    pub fn serve_axon(
        &mut self,
        hotkey: &Hotkey,
        netuid: Netuid,
        axon: AxonInfo,
    ) -> Result<(), ChainError> {
        let now = self.block;
        let s = self.subnet_mut(netuid)?;
        let uid = s
            .uid_of(hotkey)
            .ok_or_else(|| ChainError::HotKeyNotRegisteredInSubNet(hotkey.to_string()))?;
        if axon.ip_type != 4 && axon.ip_type != 6 {
            return Err(ChainError::InvalidIpType);
        }
        let loopback =
            (axon.ip_type == 4 && axon.ip == 0x7f00_0001) || (axon.ip_type == 6 && axon.ip == 1);
        let bad = (axon.ip_type == 4 && axon.ip >= u128::from(u32::MAX))
            || (axon.ip_type == 6 && axon.ip == u128::MAX);
        if bad || (loopback && !s.params.allow_loopback_axons) {
            return Err(ChainError::InvalidIpAddress);
        }
        let neuron = &mut s.neurons[uid as usize];
        let prev_block = neuron.axon.as_ref().map_or(0, |a| a.block);
        let limit = s.params.serving_rate_limit;
        if !(limit == 0 || prev_block == 0 || now.saturating_sub(prev_block) >= limit) {
            return Err(ChainError::ServingRateLimitExceeded);
        }
        if axon.port == 0 {
            return Err(ChainError::InvalidPort);
        }
        neuron.axon = Some(AxonInfo { block: now, ..axon });
        Ok(())
    }

    /// The `set_weights` extrinsic: refused while commit-reveal is on, else `internal_set_weights`.
    pub fn set_weights(&mut self, req: &SetWeights) -> Result<(), ChainError> {
        if let Some(s) = self.subnets.get(&req.netuid)
            && s.params.commit_reveal_weights_enabled
        {
            return Err(ChainError::CommitRevealEnabled);
        }
        self.internal_set_weights(
            &req.hotkey,
            req.netuid,
            &req.uids,
            &req.weights,
            req.version_key,
        )
    }

    /// Subtensor's `internal_set_weights`, the 15 steps of spec §3.2 in order.
    fn internal_set_weights(
        &mut self,
        hotkey: &Hotkey,
        netuid: Netuid,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
    ) -> Result<(), ChainError> {
        let now = self.block;
        // 1. Root network.
        if netuid == 0 {
            return Err(ChainError::CanNotSetRootNetworkWeights);
        }
        // 2. Equal lengths.
        if uids.len() != values.len() {
            return Err(ChainError::WeightVecNotEqualSize);
        }
        // 3. Mechanism exists.
        let s = self
            .subnets
            .get_mut(&netuid)
            .ok_or(ChainError::MechanismDoesNotExist(netuid))?;
        let n = s.neurons.len();
        // 4. Not more uids than neurons.
        if uids.len() > n {
            return Err(ChainError::UidsLengthExceedUidsInSubNet);
        }
        // 5. Registered.
        let uid = s
            .uid_of(hotkey)
            .ok_or_else(|| ChainError::HotKeyNotRegisteredInSubNet(hotkey.to_string()))?;
        let owner_uid = s.owner_uid();
        // 6. Stake threshold (owner exempt).
        if owner_uid != Some(uid) && s.stake_of(hotkey) < s.params.stake_threshold {
            return Err(ChainError::NotEnoughStakeToSetWeights);
        }
        // 7. Version key.
        let required = s.params.weights_version;
        if required != 0 && version_key < required {
            return Err(ChainError::IncorrectWeightVersionKey {
                sent: version_key,
                required,
            });
        }
        let cr = s.params.commit_reveal_weights_enabled;
        let neuron = &s.neurons[uid as usize];
        // 8. Rate limit, only without commit-reveal.
        if !cr {
            let last = neuron.last_update;
            let limit = s.params.weights_rate_limit;
            if !(last == 0 || now.saturating_sub(last) >= limit) {
                return Err(ChainError::SettingWeightsTooFast {
                    last_update: last,
                    now,
                    limit,
                });
            }
        }
        let self_weight = Subnet::is_self_weight(uid, uids, values);
        // 9. Validator permit.
        if !(self_weight || owner_uid == Some(uid) || neuron.validator_permit) {
            return Err(ChainError::NeuronNoValidatorPermit);
        }
        // 10. Duplicates, then uids in range.
        let mut seen = vec![false; n];
        let mut duplicate = false;
        let mut invalid = false;
        for &u in uids {
            match seen.get_mut(u as usize) {
                Some(true) => duplicate = true,
                Some(slot) => *slot = true,
                None => invalid = true,
            }
        }
        if duplicate {
            return Err(ChainError::DuplicateUids);
        }
        if invalid {
            return Err(ChainError::UidVecContainInvalidOne);
        }
        // 11. Length.
        let min_allowed = usize::from(s.params.min_allowed_weights).min(n);
        if !self_weight && values.len() < min_allowed {
            return Err(ChainError::WeightVecLengthIsLow);
        }
        // 12. Max-upscale.
        let upscaled = vec_u16_max_upscale_to_u16(values);
        // 13. Max weight limit.
        let limit = s.params.max_weights_limit;
        if !self_weight && limit != u16::MAX && !check_vec_max_limited(&upscaled, limit) {
            return Err(ChainError::MaxWeightExceeded);
        }
        // 14. Store, explicit zeros included.
        let neuron = &mut s.neurons[uid as usize];
        neuron.weights = uids.iter().copied().zip(upscaled).collect();
        // 15. LastUpdate without commit-reveal.
        if !cr {
            neuron.last_update = now;
        }
        tracing::debug!(netuid, uid, entries = uids.len(), "weights set");
        Ok(())
    }

    /// `commit_weights` (CR v2).
    pub fn commit_weights(
        &mut self,
        hotkey: &Hotkey,
        netuid: Netuid,
        hash: [u8; 32],
    ) -> Result<(), ChainError> {
        let now = self.block;
        let s = self
            .subnets
            .get_mut(&netuid)
            .ok_or(ChainError::MechanismDoesNotExist(netuid))?;
        if !s.params.commit_reveal_weights_enabled {
            return Err(ChainError::CommitRevealDisabled);
        }
        let uid = s
            .uid_of(hotkey)
            .ok_or_else(|| ChainError::HotKeyNotRegisteredInSubNet(hotkey.to_string()))?;
        let last = s.neurons[uid as usize].last_update;
        if !(last == 0 || now.saturating_sub(last) >= s.params.weights_rate_limit) {
            return Err(ChainError::CommittingWeightsTooFast);
        }
        let epoch = Subnet::cr_epoch(netuid, s.params.tempo, now);
        let mut queue = s.commits.get(hotkey).cloned().unwrap_or_default();
        while queue
            .front()
            .is_some_and(|c| s.is_commit_expired(netuid, now, c.epoch))
        {
            queue.pop_front();
        }
        if queue.len() >= MAX_UNREVEALED_COMMITS {
            return Err(ChainError::TooManyUnrevealedCommits);
        }
        queue.push_back(Commit {
            hash,
            epoch,
            block: now,
        });
        s.commits.insert(hotkey.clone(), queue);
        s.neurons[uid as usize].last_update = now;
        Ok(())
    }

    /// `reveal_weights` (CR v2): the matching commit must be exactly `commit_reveal_period` epochs old.
    pub fn reveal_weights(&mut self, req: &RevealWeights) -> Result<(), ChainError> {
        let now = self.block;
        let netuid = req.netuid;
        let s = self
            .subnets
            .get(&netuid)
            .ok_or(ChainError::MechanismDoesNotExist(netuid))?;
        if !s.params.commit_reveal_weights_enabled {
            return Err(ChainError::CommitRevealDisabled);
        }
        let mut queue = s
            .commits
            .get(&req.hotkey)
            .cloned()
            .ok_or(ChainError::NoWeightsCommitFound)?;
        let mut expired = Vec::new();
        while let Some(c) = queue.front() {
            if s.is_commit_expired(netuid, now, c.epoch) {
                expired.push(c.hash);
                queue.pop_front();
            } else {
                break;
            }
        }
        let hash = commit_hash_v2(
            &account_id(&req.hotkey),
            netuid,
            &req.uids,
            &req.values,
            &req.salt,
            req.version_key,
        );
        if queue.is_empty() {
            return Err(if expired.contains(&hash) {
                ChainError::ExpiredWeightCommit
            } else {
                ChainError::NoWeightsCommitFound
            });
        }
        let Some(pos) = queue.iter().position(|c| c.hash == hash) else {
            return Err(if expired.contains(&hash) {
                ChainError::ExpiredWeightCommit
            } else {
                ChainError::InvalidRevealCommitHashNotMatch
            });
        };
        let current = Subnet::cr_epoch(netuid, s.params.tempo, now);
        if current
            != queue[pos]
                .epoch
                .saturating_add(s.params.commit_reveal_period)
        {
            return Err(ChainError::RevealTooEarly);
        }
        queue.drain(..=pos);
        // The weights are validated before the queue is written, so a failed reveal keeps the
        // commit (subtensor's `try_mutate_exists` rolls back on error).
        self.internal_set_weights(&req.hotkey, netuid, &req.uids, &req.values, req.version_key)?;
        let s = self.subnet_mut(netuid)?;
        if queue.is_empty() {
            s.commits.remove(&req.hotkey);
        } else {
            s.commits.insert(req.hotkey.clone(), queue);
        }
        Ok(())
    }

    /// Advances one block: accrues emission and runs the epochs due at the new block.
    /// Returns the netuids whose epoch ran.
    pub fn step_block(&mut self) -> Vec<Netuid> {
        self.block += 1;
        let block = self.block;
        let mut ran = Vec::new();
        let netuids: Vec<Netuid> = self.subnets.keys().copied().collect();
        for netuid in netuids {
            let Some(s) = self.subnets.get_mut(&netuid) else {
                continue;
            };
            let emitted = s.params.emission_per_block;
            let owner_cut = (u128::from(emitted) * u128::from(s.params.owner_cut) / 65_535) as u64;
            if let Some(owner) = s.owner_hotkey.clone() {
                let st = s.stake.entry(owner).or_default();
                *st = st.saturating_add(owner_cut);
            }
            s.pending_emission = s.pending_emission.saturating_add(emitted - owner_cut);
            let tempo = u64::from(s.params.tempo);
            if tempo > 0 && (block + u64::from(netuid) + 1).is_multiple_of(tempo + 1) {
                self.epoch(netuid);
                ran.push(netuid);
            }
        }
        ran
    }

    /// The epoch input the devnet would use for `netuid` now.
    pub fn epoch_input(&self, netuid: Netuid) -> Result<EpochInput, ChainError> {
        let s = self.subnet(netuid)?;
        let p = &s.params;
        let block = self.block;
        let last_tempo = if s.last_epoch_block == 0 {
            block.saturating_sub(u64::from(p.tempo))
        } else {
            s.last_epoch_block + 1
        };
        let neurons = s
            .neurons
            .iter()
            .map(|n| EpochNeuron {
                stake: s.stake_of(&n.hotkey),
                last_update: n.last_update,
                block_at_registration: n.block_at_registration,
                validator_permit: n.validator_permit,
                weights: n.weights.clone(),
                bonds: n.bonds.clone(),
                commit_block: s.commits.get(&n.hotkey).and_then(|q| {
                    q.iter()
                        .find(|c| !s.is_commit_expired(netuid, block, c.epoch))
                        .map(|c| c.block)
                }),
            })
            .collect();
        Ok(EpochInput {
            block,
            tempo: u64::from(p.tempo),
            activity_cutoff: u64::from(p.activity_cutoff),
            kappa: p.kappa,
            bonds_penalty: p.bonds_penalty,
            bonds_moving_average: p.bonds_moving_average,
            yuma3: p.yuma3,
            liquid_alpha: p.liquid_alpha,
            alpha_low: p.alpha_low,
            alpha_high: p.alpha_high,
            alpha_sigmoid_steepness: p.alpha_sigmoid_steepness,
            max_allowed_validators: p.max_allowed_validators,
            stake_threshold: p.stake_threshold,
            owner_uid: s.owner_uid(),
            rao_emission: s.pending_emission,
            last_tempo,
            commit_reveal: p.commit_reveal_weights_enabled,
            neurons,
        })
    }

    /// Runs the epoch of `netuid` now: writes its outputs and pays the emission as alpha stake.
    pub fn epoch(&mut self, netuid: Netuid) -> Option<EpochOutput> {
        let input = self.epoch_input(netuid).ok()?;
        let out = match run_epoch(&input) {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(netuid, error = %e, "epoch refused its input; state unchanged");
                return None;
            }
        };
        let block = self.block;
        let s = self.subnets.get_mut(&netuid)?;
        for (i, n) in s.neurons.iter_mut().enumerate() {
            n.active = out.active[i];
            n.validator_permit = out.validator_permit[i];
            n.consensus = out.consensus[i];
            n.incentive = out.incentive[i];
            n.dividends = out.dividends[i];
            n.validator_trust = out.validator_trust[i];
            n.emission = out.emission[i];
            n.bonds = out.bonds[i].clone();
        }
        let mut paid = 0u64;
        for (i, n) in s.neurons.iter().enumerate() {
            let amount = out.server_emission[i].saturating_add(out.validator_emission[i]);
            paid = paid.saturating_add(amount);
            let st = s.stake.entry(n.hotkey.clone()).or_default();
            *st = st.saturating_add(amount);
        }
        tracing::info!(
            netuid,
            block,
            emitted = paid,
            pending = s.pending_emission,
            "epoch"
        );
        s.pending_emission = 0;
        s.last_epoch_block = block;
        Some(out)
    }
}

fn new_neuron(hotkey: Hotkey, coldkey: Hotkey, now: u64) -> Neuron {
    Neuron {
        hotkey,
        coldkey,
        block_at_registration: now,
        last_update: now,
        validator_permit: false,
        active: true,
        consensus: 0,
        incentive: 0,
        dividends: 0,
        validator_trust: 0,
        emission: 0,
        weights: Vec::new(),
        bonds: Vec::new(),
        axon: None,
    }
}

/// Lowest emission among non-immune, non-owner UIDs; ties go to the earliest registration, then the
/// lowest UID.
fn neuron_to_prune(s: &Subnet, now: u64) -> Option<u16> {
    let owner = s.owner_uid();
    s.neurons
        .iter()
        .enumerate()
        .filter(|(uid, n)| {
            Some(*uid as u16) != owner
                && now.saturating_sub(n.block_at_registration)
                    >= u64::from(s.params.immunity_period)
        })
        .min_by_key(|(uid, n)| (n.emission, n.block_at_registration, *uid))
        .map(|(uid, _)| uid as u16)
}

#[cfg(test)]
mod tests;

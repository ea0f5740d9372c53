//! The `Chain` port: what miners and validators need from a Bittensor chain.
//!
//! Two backends implement it: the embedded devnet (`dojo-devnet`, in process or over gRPC) and the
//! subtensor client (`dojo-chain`, subxt). Errors mirror subtensor's dispatch errors by name so the
//! services handle `SettingWeightsTooFast` the same way whichever chain they talk to.

use std::future::Future;

use crate::{Hotkey, Uid};

/// Subnet identifier (`NetUid` on chain, a transparent `u16`).
pub type Netuid = u16;

/// Where a neuron serves its axon (`AxonInfo` storage on chain).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AxonInfo {
    /// Block at which the axon was last served.
    pub block: u64,
    /// Software version the miner advertises (`version_as_int`).
    pub version: u32,
    /// IP address as subtensor stores it: IPv4 in the low 32 bits, or a full IPv6.
    pub ip: u128,
    /// TCP port.
    pub port: u16,
    /// 4 or 6.
    pub ip_type: u8,
    /// Protocol tag; the Python SDK sends 4.
    pub protocol: u8,
}

impl AxonInfo {
    /// The IPv4 address when `ip_type == 4`.
    pub fn ipv4(&self) -> Option<std::net::Ipv4Addr> {
        (self.ip_type == 4).then(|| std::net::Ipv4Addr::from((self.ip & 0xffff_ffff) as u32))
    }
}

/// One UID's row of the metagraph.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NeuronInfo {
    /// Position in the subnet.
    pub uid: Uid,
    /// Hotkey registered at this UID.
    pub hotkey: Hotkey,
    /// Coldkey that owns the hotkey.
    pub coldkey: Hotkey,
    /// Alpha stake on this subnet, in rao.
    pub alpha_stake: u64,
    /// TAO (root) stake, in rao.
    pub tao_stake: u64,
    /// Epoch stake weight `alpha + tao × tao_weight`, in rao.
    pub stake: u64,
    /// Validator permit as of the last epoch.
    pub validator_permit: bool,
    /// Served axon, if any.
    pub axon: Option<AxonInfo>,
    /// Consensus, `u16` proportion of 65535.
    pub consensus: u16,
    /// Incentive, `u16` proportion.
    pub incentive: u16,
    /// Dividends, `u16` proportion.
    pub dividends: u16,
    /// Validator trust, `u16` proportion.
    pub validator_trust: u16,
    /// Emission of the last epoch, in rao.
    pub emission: u64,
    /// Block of the last weight set (or commit).
    pub last_update: u64,
    /// Active as of the last epoch.
    pub active: bool,
    /// Block at which this hotkey took the UID.
    pub block_at_registration: u64,
    /// Weights row as stored (max-upscaled `u16`s), empty when not read.
    pub weights: Vec<(u16, u16)>,
    /// Bonds row as stored, empty when not read.
    pub bonds: Vec<(u16, u16)>,
}

/// A consistent view of one subnet at one block.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MetagraphSnapshot {
    /// Subnet.
    pub netuid: Netuid,
    /// Block the snapshot was read at.
    pub block: u64,
    /// Neurons in UID order.
    pub neurons: Vec<NeuronInfo>,
}

impl MetagraphSnapshot {
    /// The UID of `hotkey`, if registered.
    pub fn uid_of(&self, hotkey: &Hotkey) -> Option<Uid> {
        self.neurons
            .iter()
            .find(|n| &n.hotkey == hotkey)
            .map(|n| n.uid)
    }
}

/// A hyperparameter value, typed as subtensor stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HyperparamValue {
    /// Boolean flag.
    Bool(bool),
    /// `u16` (kappa, tempo, alpha bounds, ...).
    U16(u16),
    /// `u64` (rate limits, version key, ...).
    U64(u64),
    /// `i16` (alpha sigmoid steepness).
    I16(i16),
}

impl HyperparamValue {
    /// The value as a `u64` if it is an unsigned integer or a bool.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Self::Bool(b) => Some(u64::from(b)),
            Self::U16(v) => Some(u64::from(v)),
            Self::U64(v) => Some(v),
            Self::I16(v) => u64::try_from(v).ok(),
        }
    }
}

/// Hyperparameters looked up by their subtensor names (`get_subnet_hyperparams_v3`), so new
/// parameters never break old clients.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Hyperparams {
    /// `(name, value)` pairs in chain order.
    pub entries: Vec<(String, HyperparamValue)>,
}

impl Hyperparams {
    /// Looks a parameter up by name (`"weights_rate_limit"`, `"commit_reveal_weights_enabled"`, ...).
    pub fn get(&self, name: &str) -> Option<HyperparamValue> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    /// A numeric parameter, or an error naming the missing one.
    pub fn u64(&self, name: &str) -> Result<u64, ChainError> {
        self.get(name)
            .and_then(HyperparamValue::as_u64)
            .ok_or_else(|| ChainError::MissingHyperparam(name.to_owned()))
    }

    /// A boolean parameter.
    pub fn flag(&self, name: &str) -> Result<bool, ChainError> {
        match self.get(name) {
            Some(HyperparamValue::Bool(b)) => Ok(b),
            Some(v) => v
                .as_u64()
                .map(|x| x != 0)
                .ok_or_else(|| ChainError::MissingHyperparam(name.to_owned())),
            None => Err(ChainError::MissingHyperparam(name.to_owned())),
        }
    }
}

/// `set_weights` arguments: the hotkey acts as the signer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetWeights {
    /// Signing hotkey.
    pub hotkey: Hotkey,
    /// Subnet.
    pub netuid: Netuid,
    /// Destination UIDs.
    pub uids: Vec<u16>,
    /// Weights, any scale; the chain max-upscales them.
    pub weights: Vec<u16>,
    /// Must be `≥ weights_version` when that is non-zero.
    pub version_key: u64,
}

/// `reveal_weights` arguments (commit-reveal v2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RevealWeights {
    /// Signing hotkey.
    pub hotkey: Hotkey,
    /// Subnet.
    pub netuid: Netuid,
    /// Destination UIDs.
    pub uids: Vec<u16>,
    /// Weights.
    pub values: Vec<u16>,
    /// Salt used in the commit hash.
    pub salt: Vec<u16>,
    /// Version key used in the commit hash.
    pub version_key: u64,
}

/// Errors from a chain. Variants named after subtensor's `Error<T>` mirror it one to one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum ChainError {
    /// Weights cannot be set on the root network.
    #[error("CanNotSetRootNetworkWeights")]
    CanNotSetRootNetworkWeights,
    /// `uids` and `weights` have different lengths.
    #[error("WeightVecNotEqualSize: uids and weights differ in length")]
    WeightVecNotEqualSize,
    /// The subnet (mechanism) does not exist.
    #[error("MechanismDoesNotExist: netuid {0}")]
    MechanismDoesNotExist(Netuid),
    /// The subnet does not exist.
    #[error("SubnetNotExists: netuid {0}")]
    SubnetNotExists(Netuid),
    /// The subnet already exists.
    #[error("SubnetExists: netuid {0}")]
    SubnetExists(Netuid),
    /// More uids than neurons.
    #[error("UidsLengthExceedUidsInSubNet")]
    UidsLengthExceedUidsInSubNet,
    /// The signing hotkey has no UID on the subnet.
    #[error("HotKeyNotRegisteredInSubNet: {0}")]
    HotKeyNotRegisteredInSubNet(String),
    /// Stake below `StakeThreshold`.
    #[error("NotEnoughStakeToSetWeights")]
    NotEnoughStakeToSetWeights,
    /// `version_key` below the subnet's `weights_version`.
    #[error("IncorrectWeightVersionKey: sent {sent}, subnet requires >= {required}")]
    IncorrectWeightVersionKey {
        /// Version key sent.
        sent: u64,
        /// Subnet's `WeightsVersionKey`.
        required: u64,
    },
    /// Fewer than `weights_rate_limit` blocks since the last update.
    #[error("SettingWeightsTooFast: last update {last_update}, now {now}, limit {limit} blocks")]
    SettingWeightsTooFast {
        /// `LastUpdate` of the UID.
        last_update: u64,
        /// Current block.
        now: u64,
        /// `WeightsSetRateLimit`.
        limit: u64,
    },
    /// Non-self weights from a UID without a validator permit.
    #[error("NeuronNoValidatorPermit")]
    NeuronNoValidatorPermit,
    /// The same uid appears twice.
    #[error("DuplicateUids")]
    DuplicateUids,
    /// A uid is not in `0..n`.
    #[error("UidVecContainInvalidOne")]
    UidVecContainInvalidOne,
    /// Fewer weights than `min(min_allowed_weights, n)`.
    #[error("WeightVecLengthIsLow")]
    WeightVecLengthIsLow,
    /// A normalised weight exceeds `max_weights_limit`.
    #[error("MaxWeightExceeded")]
    MaxWeightExceeded,
    /// `set_weights` while commit-reveal is on.
    #[error("CommitRevealEnabled: use commit/reveal on this subnet")]
    CommitRevealEnabled,
    /// `commit`/`reveal` while commit-reveal is off.
    #[error("CommitRevealDisabled")]
    CommitRevealDisabled,
    /// Commit inside the rate limit.
    #[error("CommittingWeightsTooFast")]
    CommittingWeightsTooFast,
    /// Ten unrevealed commits already.
    #[error("TooManyUnrevealedCommits")]
    TooManyUnrevealedCommits,
    /// No commit to reveal.
    #[error("NoWeightsCommitFound")]
    NoWeightsCommitFound,
    /// Reveal before `commit_epoch + reveal_period`.
    #[error("RevealTooEarly")]
    RevealTooEarly,
    /// Reveal after the reveal epoch.
    #[error("ExpiredWeightCommit")]
    ExpiredWeightCommit,
    /// The revealed data does not hash to any pending commit.
    #[error("InvalidRevealCommitHashNotMatch")]
    InvalidRevealCommitHashNotMatch,
    /// Reveal vectors of different lengths.
    #[error("InputLengthsUnequal")]
    InputLengthsUnequal,
    /// `serve_axon` inside `serving_rate_limit`.
    #[error("ServingRateLimitExceeded")]
    ServingRateLimitExceeded,
    /// `ip_type` is neither 4 nor 6.
    #[error("InvalidIpType")]
    InvalidIpType,
    /// IP is loopback, broadcast or malformed.
    #[error("InvalidIpAddress")]
    InvalidIpAddress,
    /// Port 0.
    #[error("InvalidPort")]
    InvalidPort,
    /// The hotkey already has a UID on the subnet.
    #[error("HotKeyAlreadyRegisteredInSubNet")]
    HotKeyAlreadyRegisteredInSubNet,
    /// The hotkey is owned by another coldkey.
    #[error("NonAssociatedColdKey")]
    NonAssociatedColdKey,
    /// The coldkey cannot pay the burn.
    #[error("NotEnoughBalanceToStake: balance {balance}, burn {burn}")]
    NotEnoughBalanceToStake {
        /// Free balance.
        balance: u64,
        /// Required burn.
        burn: u64,
    },
    /// Registration is closed on the subnet.
    #[error("SubNetRegistrationDisabled")]
    SubNetRegistrationDisabled,
    /// The subnet is full and every UID is immune.
    #[error("NoNeuronIdAvailable")]
    NoNeuronIdAvailable,
    /// A hyperparameter the caller needs is absent (or unknown to the devnet).
    #[error("unknown or missing hyperparameter {0:?}")]
    MissingHyperparam(String),
    /// A hyperparameter value has the wrong type or range.
    #[error("invalid value for hyperparameter {0:?}")]
    InvalidHyperparam(String),
    /// A pool-level rejection the client does not know by name.
    #[error("transaction invalid: Custom({0})")]
    InvalidTransactionCustom(u8),
    /// Rate limit hit (`Custom(6)`) on a call that is not a weight call.
    #[error("RateLimitExceeded")]
    RateLimitExceeded,
    /// Another dispatch error, by its pallet error name.
    #[error("dispatch error: {0}")]
    Dispatch(String),
    /// Bad input that never reached the chain (malformed hotkey, bad snapshot).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Connection or RPC failure; worth retrying.
    #[error("transport: {0}")]
    Transport(String),
    /// The chain answered with something that does not decode.
    #[error("decode: {0}")]
    Decode(String),
    /// Storage or persistence failure on the devnet.
    #[error("storage: {0}")]
    Storage(String),
}

impl ChainError {
    /// Errors that clear up by waiting (rate limits, connections), as opposed to bad requests.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::SettingWeightsTooFast { .. }
                | Self::CommittingWeightsTooFast
                | Self::ServingRateLimitExceeded
                | Self::RateLimitExceeded
                | Self::RevealTooEarly
                | Self::Transport(_)
        )
    }
}

/// The chain operations miners and validators use.
///
/// Every method takes the acting hotkey (or coldkey) explicitly: the devnet trusts it, a signing
/// backend checks it against its keypair.
pub trait Chain: Send + Sync {
    /// The current best block number.
    fn current_block(&self) -> impl Future<Output = Result<u64, ChainError>> + Send;
    /// Waits until a block strictly after `after` exists and returns its number.
    fn wait_for_block(&self, after: u64) -> impl Future<Output = Result<u64, ChainError>> + Send;
    /// A consistent metagraph of `netuid` at the current block.
    fn metagraph(
        &self,
        netuid: Netuid,
    ) -> impl Future<Output = Result<MetagraphSnapshot, ChainError>> + Send;
    /// The subnet's hyperparameters, by name.
    fn hyperparams(
        &self,
        netuid: Netuid,
    ) -> impl Future<Output = Result<Hyperparams, ChainError>> + Send;
    /// `set_weights` (rejected with [`ChainError::CommitRevealEnabled`] when commit-reveal is on).
    fn set_weights(&self, req: SetWeights) -> impl Future<Output = Result<(), ChainError>> + Send;
    /// `commit_weights` with a v2 hash (see [`commit_hash_v2`]).
    fn commit_weights(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        commit_hash: [u8; 32],
    ) -> impl Future<Output = Result<(), ChainError>> + Send;
    /// `reveal_weights` for an earlier commit.
    fn reveal_weights(
        &self,
        req: RevealWeights,
    ) -> impl Future<Output = Result<(), ChainError>> + Send;
    /// `serve_axon` signed by `hotkey`.
    fn serve_axon(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        axon: AxonInfo,
    ) -> impl Future<Output = Result<(), ChainError>> + Send;
    /// `burned_register` signed by `coldkey`; returns the UID the hotkey got.
    fn burned_register(
        &self,
        coldkey: &Hotkey,
        netuid: Netuid,
        hotkey: &Hotkey,
    ) -> impl Future<Output = Result<Uid, ChainError>> + Send;
    /// Which commit scheme `netuid` takes while commit-reveal is on. Backends without timelocked
    /// commits (the devnet) take hash commits.
    fn commit_scheme(
        &self,
        netuid: Netuid,
    ) -> impl Future<Output = Result<CommitScheme, ChainError>> + Send {
        let _ = netuid;
        async { Ok(CommitScheme::Hash) }
    }
    /// A drand-timelocked commit of `req`'s weights (commit-reveal v3/v4); the chain reveals it
    /// itself. Returns the drand round it is locked to.
    fn commit_timelocked_weights(
        &self,
        req: SetWeights,
    ) -> impl Future<Output = Result<u64, ChainError>> + Send {
        let _ = req;
        async {
            Err(ChainError::InvalidInput(
                "this chain backend has no timelocked commits".into(),
            ))
        }
    }
    /// The weight row of `hotkey` on `netuid` as the chain holds it now (zeros left out), `None`
    /// when the hotkey has no uid: how a client confirms that a reveal landed, since failed
    /// reveals leave no error.
    fn weights_row(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
    ) -> impl Future<Output = Result<Option<Vec<(u16, u16)>>, ChainError>> + Send {
        let _ = (hotkey, netuid);
        async {
            Err(ChainError::InvalidInput(
                "this chain backend cannot read weight rows".into(),
            ))
        }
    }
}

/// The commit scheme of a subnet with commit-reveal on (`CommitRevealWeightsVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitScheme {
    /// v2: `commit_weights(hash)`, then the client's `reveal_weights`.
    Hash,
    /// v3/v4: a drand-timelocked payload that the chain decrypts and applies itself.
    Timelocked {
        /// The `commit_reveal_version` the chain expects.
        version: u16,
    },
}

/// Whether the weight row the chain holds is the one a client set: `uids`/`values` with zeros
/// left out (the chain's read path filters them), order ignored. The chain stores rows
/// max-upscaled, which leaves rows whose maximum is already 65535 unchanged.
pub fn row_matches(row: &[(u16, u16)], uids: &[u16], values: &[u16]) -> bool {
    let mut want: Vec<(u16, u16)> = uids
        .iter()
        .copied()
        .zip(values.iter().copied())
        .filter(|(_, v)| *v != 0)
        .collect();
    let mut have: Vec<(u16, u16)> = row.iter().copied().filter(|(_, v)| *v != 0).collect();
    want.sort_unstable();
    have.sort_unstable();
    want == have
}

/// Commit-reveal epoch index of `block`: subtensor's legacy `(block + netuid + 1) / (tempo + 1)`.
/// The devnet and validators share this one formula so a reveal lands in the epoch the chain checks.
pub fn cr_epoch(netuid: Netuid, tempo: u16, block: u64) -> u64 {
    (block + u64::from(netuid) + 1) / (u64::from(tempo) + 1)
}

/// The blocks of commit-reveal epoch `epoch`, first and last inclusive.
pub fn cr_epoch_blocks(netuid: Netuid, tempo: u16, epoch: u64) -> (u64, u64) {
    let len = u64::from(tempo) + 1;
    let shift = u64::from(netuid) + 1;
    let first = (epoch * len).saturating_sub(shift);
    let last = ((epoch + 1) * len).saturating_sub(shift + 1);
    (first, last)
}

/// The blocks in which a commit made at `commit_block` may be revealed: all of epoch
/// `cr_epoch(commit_block) + reveal_period`, first and last inclusive. Earlier is `RevealTooEarly`,
/// later `ExpiredWeightCommit`.
pub fn reveal_window(
    netuid: Netuid,
    tempo: u16,
    commit_block: u64,
    reveal_period: u64,
) -> (u64, u64) {
    cr_epoch_blocks(
        netuid,
        tempo,
        cr_epoch(netuid, tempo, commit_block).saturating_add(reveal_period),
    )
}

/// SCALE compact encoding of a length prefix.
fn push_compact_len(out: &mut Vec<u8>, len: usize) {
    let v = len as u64;
    if v < 1 << 6 {
        out.push((v as u8) << 2);
    } else if v < 1 << 14 {
        out.extend_from_slice(&(((v as u16) << 2) | 0b01).to_le_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&(((v as u32) << 2) | 0b10).to_le_bytes());
    } else {
        let bytes = v.to_le_bytes();
        let used = 8 - (v.leading_zeros() as usize / 8);
        out.push((((used - 4) as u8) << 2) | 0b11);
        out.extend_from_slice(&bytes[..used]);
    }
}

fn push_u16_vec(out: &mut Vec<u8>, v: &[u16]) {
    push_compact_len(out, v.len());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// The SCALE preimage of subtensor's commit-reveal v2 hash:
/// `(who: AccountId32, netuid_index: u16, uids: Vec<u16>, values: Vec<u16>, salt: Vec<u16>, version_key: u64)`.
pub fn commit_preimage_v2(
    account: &[u8; 32],
    netuid_index: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u16],
    version_key: u64,
) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(32 + 2 + 8 + 2 * (uids.len() + values.len() + salt.len()) + 15);
    out.extend_from_slice(account);
    out.extend_from_slice(&netuid_index.to_le_bytes());
    push_u16_vec(&mut out, uids);
    push_u16_vec(&mut out, values);
    push_u16_vec(&mut out, salt);
    out.extend_from_slice(&version_key.to_le_bytes());
    out
}

/// Commit-reveal v2 hash: BlakeTwo256 of [`commit_preimage_v2`], as `get_commit_hash` computes it.
pub fn commit_hash_v2(
    account: &[u8; 32],
    netuid_index: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u16],
    version_key: u64,
) -> [u8; 32] {
    use blake2::Digest;
    let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
    h.update(commit_preimage_v2(
        account,
        netuid_index,
        uids,
        values,
        salt,
        version_key,
    ));
    h.finalize().into()
}

/// The 32-byte account id a hotkey signs with: its SS58 public key, or for opaque devnet labels
/// (`"validator-0"`) blake2b-256 of the label, so labels still get distinct, stable accounts.
pub fn account_id(hotkey: &Hotkey) -> [u8; 32] {
    use blake2::Digest;
    hotkey.public_key().unwrap_or_else(|| {
        let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
        h.update(hotkey.as_str().as_bytes());
        h.finalize().into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // Spec chain-and-wire.md §1.1: CR-v2 commit hash for Alice, netuid 1, uids [0,1],
    // values [65535, 32768], salt [1..8], version 0.
    #[test]
    fn commit_hash_vector() {
        let alice = Hotkey::new("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap();
        let acct = account_id(&alice);
        let salt: Vec<u16> = (1..=8).collect();
        let pre = commit_preimage_v2(&acct, 1, &[0, 1], &[65535, 32768], &salt, 0);
        assert_eq!(
            hex(&pre),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d\
             0100080000010008ffff008020010002000300040005000600070008000000000000000000"
        );
        assert_eq!(
            hex(&commit_hash_v2(
                &acct,
                1,
                &[0, 1],
                &[65535, 32768],
                &salt,
                0
            )),
            "15d1d763685dfce22d8650296059d5767f0932787b33a80c31d996c3d36b6eef"
        );
    }

    #[test]
    fn reveal_window_is_exactly_the_reveal_epoch() {
        for netuid in [0u16, 1, 7] {
            for tempo in [0u16, 1, 9, 360] {
                for commit in 0..800u64 {
                    let (first, last) = reveal_window(netuid, tempo, commit, 1);
                    let want = cr_epoch(netuid, tempo, commit) + 1;
                    assert!(first <= last);
                    assert_eq!(cr_epoch(netuid, tempo, first), want);
                    assert_eq!(cr_epoch(netuid, tempo, last), want);
                    assert_eq!(cr_epoch(netuid, tempo, last + 1), want + 1);
                    if first > 0 {
                        assert_eq!(cr_epoch(netuid, tempo, first - 1), want - 1);
                    }
                }
            }
        }
    }

    #[test]
    fn compact_lengths() {
        let mut v = Vec::new();
        push_compact_len(&mut v, 63);
        push_compact_len(&mut v, 64);
        push_compact_len(&mut v, 16384);
        assert_eq!(hex(&v), "fc".to_owned() + "0101" + "02000100");
    }

    #[test]
    fn rows_match_ignoring_order_and_zeros() {
        assert!(row_matches(
            &[(1, 5), (0, 65535)],
            &[0, 1, 2],
            &[65535, 5, 0]
        ));
        assert!(row_matches(
            &[(1, 5), (0, 65535), (2, 0)],
            &[0, 1],
            &[65535, 5]
        ));
        assert!(!row_matches(&[(1, 5)], &[0, 1], &[65535, 5]));
        assert!(!row_matches(&[(1, 6), (0, 65535)], &[0, 1], &[65535, 5]));
        assert!(!row_matches(&[], &[0], &[1]));
    }

    #[test]
    fn hyperparams_by_name() {
        let hp = Hyperparams {
            entries: vec![
                ("weights_rate_limit".into(), HyperparamValue::U64(100)),
                (
                    "commit_reveal_weights_enabled".into(),
                    HyperparamValue::Bool(false),
                ),
            ],
        };
        assert_eq!(hp.u64("weights_rate_limit"), Ok(100));
        assert_eq!(hp.flag("commit_reveal_weights_enabled"), Ok(false));
        assert_eq!(
            hp.u64("tempo"),
            Err(ChainError::MissingHyperparam("tempo".into()))
        );
    }
}

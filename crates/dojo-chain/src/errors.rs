//! Chain rejections mapped to [`ChainError`].
//!
//! Subtensor's `SubtensorTransactionExtension` rejects weight, serving and registration calls in
//! the transaction pool with `InvalidTransaction::Custom(code)` (common/src/transaction_error.rs);
//! those never become dispatch errors, so the codes must be mapped here. Errors raised during
//! dispatch arrive as `Module` errors carrying the pallet error's name.

use dojo_types::chain::ChainError;

/// Which extrinsic was rejected; code 6 (rate limit) means different things per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// `set_weights` / `set_mechanism_weights` / `reveal_weights`.
    SetWeights,
    /// `commit_weights`.
    CommitWeights,
    /// `serve_axon`.
    ServeAxon,
    /// `burned_register`.
    Register,
}

/// Maps `InvalidTransaction::Custom(code)` from subtensor's transaction extension.
pub fn from_custom_code(code: u8, kind: CallKind) -> ChainError {
    match (code, kind) {
        (1, _) => ChainError::NotEnoughStakeToSetWeights,
        (3, _) => ChainError::SubnetNotExists(0),
        (6, CallKind::SetWeights) => ChainError::SettingWeightsTooFast {
            last_update: 0,
            now: 0,
            limit: 0,
        },
        (6, CallKind::CommitWeights) => ChainError::CommittingWeightsTooFast,
        (6, CallKind::ServeAxon) => ChainError::ServingRateLimitExceeded,
        (6, CallKind::Register) => ChainError::RateLimitExceeded,
        (10, _) | (19, _) => ChainError::HotKeyNotRegisteredInSubNet(String::new()),
        (11, _) => ChainError::InvalidIpAddress,
        (12, _) => ChainError::ServingRateLimitExceeded,
        (13, _) => ChainError::InvalidPort,
        (15, _) => ChainError::Dispatch("InvalidRevealRound".into()),
        (16, _) => ChainError::NoWeightsCommitFound,
        (17, _) => ChainError::RevealTooEarly,
        (18, _) => ChainError::InputLengthsUnequal,
        (code, _) => ChainError::InvalidTransactionCustom(code),
    }
}

/// Maps a `SubtensorModule` dispatch error by its name in the metadata.
pub fn from_module_error(name: &str) -> ChainError {
    match name {
        "CanNotSetRootNetworkWeights" => ChainError::CanNotSetRootNetworkWeights,
        "WeightVecNotEqualSize" => ChainError::WeightVecNotEqualSize,
        "MechanismDoesNotExist" => ChainError::MechanismDoesNotExist(0),
        "SubnetNotExists" | "SubNetworkDoesNotExist" => ChainError::SubnetNotExists(0),
        "UidsLengthExceedUidsInSubNet" => ChainError::UidsLengthExceedUidsInSubNet,
        "HotKeyNotRegisteredInSubNet" | "HotKeyNotRegisteredInNetwork" => {
            ChainError::HotKeyNotRegisteredInSubNet(String::new())
        }
        "NotEnoughStakeToSetWeights" => ChainError::NotEnoughStakeToSetWeights,
        "IncorrectWeightVersionKey" => ChainError::IncorrectWeightVersionKey {
            sent: 0,
            required: 0,
        },
        "SettingWeightsTooFast" => ChainError::SettingWeightsTooFast {
            last_update: 0,
            now: 0,
            limit: 0,
        },
        "NeuronNoValidatorPermit" => ChainError::NeuronNoValidatorPermit,
        "DuplicateUids" => ChainError::DuplicateUids,
        "UidVecContainInvalidOne" => ChainError::UidVecContainInvalidOne,
        "WeightVecLengthIsLow" => ChainError::WeightVecLengthIsLow,
        "MaxWeightExceeded" => ChainError::MaxWeightExceeded,
        "CommitRevealEnabled" => ChainError::CommitRevealEnabled,
        "CommitRevealDisabled" => ChainError::CommitRevealDisabled,
        "CommittingWeightsTooFast" => ChainError::CommittingWeightsTooFast,
        "TooManyUnrevealedCommits" => ChainError::TooManyUnrevealedCommits,
        "NoWeightsCommitFound" => ChainError::NoWeightsCommitFound,
        "RevealTooEarly" => ChainError::RevealTooEarly,
        "ExpiredWeightCommit" => ChainError::ExpiredWeightCommit,
        "InvalidRevealCommitHashNotMatch" => ChainError::InvalidRevealCommitHashNotMatch,
        "InputLengthsUnequal" => ChainError::InputLengthsUnequal,
        "ServingRateLimitExceeded" => ChainError::ServingRateLimitExceeded,
        "InvalidIpType" => ChainError::InvalidIpType,
        "InvalidIpAddress" => ChainError::InvalidIpAddress,
        "InvalidPort" => ChainError::InvalidPort,
        "HotKeyAlreadyRegisteredInSubNet" => ChainError::HotKeyAlreadyRegisteredInSubNet,
        "NonAssociatedColdKey" => ChainError::NonAssociatedColdKey,
        "NotEnoughBalanceToStake" => ChainError::NotEnoughBalanceToStake {
            balance: 0,
            burn: 0,
        },
        "SubNetRegistrationDisabled" => ChainError::SubNetRegistrationDisabled,
        "NoNeuronIdAvailable" => ChainError::NoNeuronIdAvailable,
        other => ChainError::Dispatch(other.to_owned()),
    }
}

//! Stable names for the mechanisms, so a subnet config can select one.

use crate::error::ScoringError;
use crate::mechanism::Mechanism;
use crate::mechanisms::dojo_v0::{DojoV0, DojoV0Params};
use crate::mechanisms::ground_truth::{GroundTruth, GroundTruthParams};
use crate::mechanisms::hfl::{Hfl, HflParams};
use crate::mechanisms::rm_consensus::{RmConsensus, RmConsensusParams};
use crate::mechanisms::votes::{Votes, VotesParams};

/// Every registered mechanism name. These names are part of the crate's semver contract.
pub const NAMES: &[&str] = &[
    RmConsensus::NAME,
    DojoV0::NAME,
    GroundTruth::NAME,
    Hfl::NAME,
    Votes::NAME,
];

/// A mechanism selected by name with its parameters, as it appears in a config file:
/// `{"mechanism": "dojo-v1-ground-truth", "params": {"minmax": "nan"}}`.
///
/// ```
/// use dojo_scoring::MechanismConfig;
/// let m = MechanismConfig::from_name("dojo-v1-ground-truth").unwrap().build().unwrap();
/// assert_eq!(m.name(), "dojo-v1-ground-truth");
/// assert!(MechanismConfig::from_name("nope").is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "mechanism", content = "params", deny_unknown_fields)
)]
pub enum MechanismConfig {
    /// Era A Spearman consensus.
    #[cfg_attr(feature = "serde", serde(rename = "rm-consensus"))]
    RmConsensus(#[cfg_attr(feature = "serde", serde(default))] RmConsensusParams),
    /// Era B ranking consensus with ground-truth blend.
    #[cfg_attr(feature = "serde", serde(rename = "dojo-v0-consensus"))]
    DojoV0Consensus(#[cfg_attr(feature = "serde", serde(default))] DojoV0Params),
    /// Dojo v1 cubic ground-truth reward.
    #[cfg_attr(feature = "serde", serde(rename = "dojo-v1-ground-truth"))]
    DojoV1GroundTruth(#[cfg_attr(feature = "serde", serde(default))] GroundTruthParams),
    /// Human feedback loop.
    #[cfg_attr(feature = "serde", serde(rename = "hfl"))]
    Hfl(#[cfg_attr(feature = "serde", serde(default))] HflParams),
    /// Dojo v2 votes.
    #[cfg_attr(feature = "serde", serde(rename = "dojo-v2-votes"))]
    DojoV2Votes(#[cfg_attr(feature = "serde", serde(default))] VotesParams),
}

impl MechanismConfig {
    /// The mechanism `name` with default parameters.
    pub fn from_name(name: &str) -> Result<Self, ScoringError> {
        Ok(match name {
            RmConsensus::NAME => Self::RmConsensus(Default::default()),
            DojoV0::NAME => Self::DojoV0Consensus(Default::default()),
            GroundTruth::NAME => Self::DojoV1GroundTruth(Default::default()),
            Hfl::NAME => Self::Hfl(Default::default()),
            Votes::NAME => Self::DojoV2Votes(Default::default()),
            other => return Err(ScoringError::UnknownMechanism(other.to_owned())),
        })
    }

    /// The registry name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RmConsensus(_) => RmConsensus::NAME,
            Self::DojoV0Consensus(_) => DojoV0::NAME,
            Self::DojoV1GroundTruth(_) => GroundTruth::NAME,
            Self::Hfl(_) => Hfl::NAME,
            Self::DojoV2Votes(_) => Votes::NAME,
        }
    }

    /// Builds the mechanism, validating parameters.
    pub fn build(self) -> Result<Box<dyn Mechanism>, ScoringError> {
        Ok(match self {
            Self::RmConsensus(p) => Box::new(RmConsensus::new(p)?),
            Self::DojoV0Consensus(p) => Box::new(DojoV0::new(p)?),
            Self::DojoV1GroundTruth(p) => Box::new(GroundTruth::new(p)?),
            Self::Hfl(p) => Box::new(Hfl::new(p)?),
            Self::DojoV2Votes(p) => Box::new(Votes::new(p)?),
        })
    }
}

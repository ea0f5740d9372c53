//! Reward-model experiments and validator network analysis, driven by YAML configs.
//!
//! # Overview
//!
//! An experiment is a list of steps of four kinds, the same as the reward_model_analysis and
//! Mirror Neuron seeds: `model` (a reward model: ONNX directory, the shipped model, or a
//! baseline), `data` (a local JSONL/CSV file mapped onto prompt/chosen/rejected/completions, or a
//! validator event log), `query` (score the data with the model) and `analysis` (text features,
//! gradient-boosted regression with held-out R², scatter plots, exploit probes, network analysis).
//! Steps name their inputs in `requires`; [`plan::plan`] checks the whole file and orders the DAG
//! before anything runs, and [`run::execute`] runs only the steps whose outputs are not already
//! in the content-addressed cache ([`cache`]), then writes a run directory with the config, a
//! log, `metrics.jsonl` and an HTML report with PNG plots.
//!
//! The lab reaches reward models only through [`dojo_types::ports::RewardModel`]; ONNX models are
//! built by the [`model::ModelFactory`] the caller passes in (the `dojo-lab` binary wires
//! `dojo-reward`), so this crate links no inference runtime.

pub mod analysis;
pub mod cache;
pub mod chart;
pub mod config;
pub mod data;
pub mod error;
pub mod estimate;
pub mod model;
pub mod network;
pub mod plan;
pub mod plot;
pub mod probes;
pub mod query;
pub mod report;
pub mod run;
pub mod stats;
pub mod text;

pub use config::ExperimentConfig;
pub use error::LabError;
pub use model::{BaselinesOnly, ModelFactory};
pub use run::{RunOptions, RunSummary, StepOutcome, execute, prepare, run};

#[cfg(test)]
mod tests;

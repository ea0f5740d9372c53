//! The code-task reward model: scores single-file HTML/JS answers from their [`digest`].
//!
//! The text model reads a page as text, and 256 tokens of a page are mostly `<head>` and CSS. The
//! code-task model reads the page's digest instead: the encoder embeds `(prompt, digest text)`,
//! the digest's structural features (some comparing the page with the prompt) are appended, and a
//! head trained on the offline generator's tasks turns that into a logit. The head lives in the
//! model directory as [`CODE_HEAD_FILE`], next to the text model it shares the encoder with.
//!
//! [`CodeRewardModel`] implements [`RewardModel`]: `completion` is the page source (for a
//! multi-file answer, the files merged by [`digest::assemble`]).

pub mod digest;
pub mod training;

use std::path::Path;
use std::sync::Arc;

use dojo_types::ports::{RewardError, RewardInput, RewardModel};
use serde::{Deserialize, Serialize};

use crate::LoadError;
use crate::model::OnnxRewardModel;
use crate::train::Head;

/// The code-task head's file in a model directory.
pub const CODE_HEAD_FILE: &str = "code-head.json";
/// Format tag of [`CODE_HEAD_FILE`].
pub const CODE_HEAD_FORMAT: &str = "dojo-code-head/1";

/// What [`CODE_HEAD_FILE`] holds: which inputs the head was trained on, and the head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeHead {
    /// [`CODE_HEAD_FORMAT`].
    pub format: String,
    /// [`digest::DIGEST_FORMAT`] of the digest it was trained on.
    pub digest: String,
    /// Whether the encoder's embedding of `(prompt, digest text)` comes first in the input.
    pub embedding: bool,
    /// Names of the structural features that follow ([`digest::FEATURE_NAMES`]).
    pub features: Vec<String>,
    /// The MLP (standardisation folded in).
    pub head: Head,
}

impl CodeHead {
    /// Reads and checks a head file.
    pub fn read(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let head: Self = serde_json::from_str(&text).map_err(|e| LoadError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        head.check().map_err(|message| LoadError::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(head)
    }

    /// Writes the head as JSON.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    fn check(&self) -> Result<(), String> {
        if self.format != CODE_HEAD_FORMAT {
            return Err(format!("format {} is not {CODE_HEAD_FORMAT}", self.format));
        }
        if self.digest != digest::DIGEST_FORMAT {
            return Err(format!(
                "trained on digest {}, this build computes {}",
                self.digest,
                digest::DIGEST_FORMAT
            ));
        }
        if self
            .features
            .iter()
            .map(String::as_str)
            .ne(digest::FEATURE_NAMES)
        {
            return Err("its structural features are not this build's".into());
        }
        let h = &self.head;
        if h.w1.len() != h.hidden
            || h.b1.len() != h.hidden
            || h.w2.len() != h.hidden
            || h.w1.iter().any(|r| r.len() != h.features)
        {
            return Err("head weights do not match its stated shape".into());
        }
        Ok(())
    }

    /// Input width the head expects given the encoder's embedding width.
    fn width(&self, embedding_width: usize) -> usize {
        self.features.len() + if self.embedding { embedding_width } else { 0 }
    }
}

/// The encoder input and structural features of each `(prompt, page)`: the embedding of
/// `(prompt, digest text)` when `encoder` is given, then [`digest::structural_features`].
pub fn features(
    encoder: Option<&OnnxRewardModel>,
    batch: &[RewardInput<'_>],
) -> Result<Vec<Vec<f32>>, RewardError> {
    let digests: Vec<digest::PageDigest> =
        batch.iter().map(|i| digest::digest(i.completion)).collect();
    let mut rows: Vec<Vec<f32>> = match encoder {
        Some(e) => {
            let inputs: Vec<RewardInput<'_>> = batch
                .iter()
                .zip(&digests)
                .map(|(i, d)| RewardInput::new(i.prompt, &d.text))
                .collect();
            let emb = e.embed_batch(&inputs)?;
            if emb.len() != batch.len() {
                return Err(RewardError::Shape {
                    expected: batch.len(),
                    got: emb.len(),
                });
            }
            emb
        }
        None => vec![Vec::new(); batch.len()],
    };
    for ((row, i), d) in rows.iter_mut().zip(batch).zip(&digests) {
        row.extend(digest::structural_features(i.prompt, d));
    }
    Ok(rows)
}

/// Scores `(prompt, page)` pairs with the code-task head.
#[derive(Debug, Clone)]
pub struct CodeRewardModel {
    name: String,
    encoder: Option<Arc<OnnxRewardModel>>,
    head: CodeHead,
}

impl CodeRewardModel {
    /// The code-task model of `head`, with the `encoder` it reads embeddings from (needed only
    /// when [`CodeHead::embedding`] is set; the shared text model). Errors if it is missing.
    pub fn new(encoder: Option<Arc<OnnxRewardModel>>, head: CodeHead) -> Result<Self, LoadError> {
        let encoder = encoder.filter(|_| head.embedding);
        if head.embedding
            && encoder
                .as_ref()
                .is_none_or(|e| e.config().embedding_output.is_none())
        {
            return Err(LoadError::Config {
                path: CODE_HEAD_FILE.into(),
                message: "the head reads an encoder embedding, and no encoder with one was given"
                    .into(),
            });
        }
        let name = match &encoder {
            Some(e) => format!("{}/code", RewardModel::name(e.as_ref())),
            None => "code-digest".to_owned(),
        };
        Ok(Self {
            name,
            encoder,
            head,
        })
    }

    /// The code-task model in `encoder`'s directory, or `None` if it has no [`CODE_HEAD_FILE`].
    pub fn from_dir(encoder: Arc<OnnxRewardModel>) -> Result<Option<Self>, LoadError> {
        let path = encoder.dir().join(CODE_HEAD_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let head = CodeHead::read(&path)?;
        Self::new(Some(encoder), head).map(Some)
    }

    /// The head.
    pub fn head(&self) -> &CodeHead {
        &self.head
    }
}

impl RewardModel for CodeRewardModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
        let rows = features(self.encoder.as_deref(), batch)?;
        rows.iter()
            .enumerate()
            .map(|(index, x)| {
                if x.len() != self.head.head.features {
                    return Err(RewardError::InvalidInput(format!(
                        "{} features for a head of {} (expected {})",
                        x.len(),
                        self.head.head.features,
                        self.head
                            .width(x.len().saturating_sub(self.head.features.len()))
                    )));
                }
                let v = self.head.head.score(x);
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(RewardError::NonFinite { index, value: v })
                }
            })
            .collect()
    }
}

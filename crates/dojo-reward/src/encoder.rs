//! [`SentenceEncoder`]: a sentence-embedding model on ONNX Runtime (all-MiniLM-L6-v2 as
//! `cargo xtask setup` builds it), for semantic similarity such as question dedupe.
//!
//! # Model directory
//!
//! ```text
//! DIR/model.onnx       inputs input_ids, attention_mask[, token_type_ids] (int64 [batch, seq])
//!                      output sentence_embedding [batch, D], L2-normalised
//! DIR/tokenizer.json   Hugging Face tokenizers format
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use dojo_types::ports::RewardError;
use ort::session::Session;
use ort::value::Tensor;
use tokenizers::{EncodeInput, Tokenizer};

use crate::LoadError;
use crate::model::{
    LoadOptions, build_session, cap_chars, check_inputs, load_tokenizer, output_names,
};

/// The output a sentence-embedding export names its pooled vector.
pub const SENTENCE_OUTPUT: &str = "sentence_embedding";
/// all-MiniLM-L6-v2 was trained on inputs of at most 256 word pieces; longer text is truncated.
const MAX_TOKENS: usize = 256;
/// A token covers at least one character; the cap bounds tokenizer work on hostile inputs.
const MAX_CHARS: usize = MAX_TOKENS * 32;

/// A sentence encoder: text in, unit-length embedding out.
#[derive(Debug)]
pub struct SentenceEncoder {
    dir: PathBuf,
    tokenizer: Tokenizer,
    session: Mutex<Session>,
    has_token_type_ids: bool,
}

impl SentenceEncoder {
    /// Loads `dir` (see the module docs) with `opts` (`max_length` and `max_batch` are unused).
    pub fn load_with(dir: impl AsRef<Path>, opts: &LoadOptions) -> Result<Self, LoadError> {
        let dir = dir.as_ref().to_path_buf();
        let onnx = dir.join("model.onnx");
        let tok_path = dir.join("tokenizer.json");
        for p in [&onnx, &tok_path] {
            if !p.is_file() {
                return Err(LoadError::MissingFile { path: p.clone() });
            }
        }
        let tokenizer = load_tokenizer(&tok_path, MAX_TOKENS)?;
        let session = build_session(&onnx, opts)?;
        let has_token_type_ids = check_inputs(&session, &onnx)?;
        let outputs = output_names(&session);
        if !outputs.iter().any(|o| o == SENTENCE_OUTPUT) {
            return Err(LoadError::NotSentenceEncoder {
                path: onnx,
                found: outputs,
            });
        }
        tracing::info!(dir = %dir.display(), "loaded sentence encoder");
        Ok(Self {
            has_token_type_ids,
            dir,
            tokenizer,
            session: Mutex::new(session),
        })
    }

    /// Loads `dir` on the CPU with one intra-op thread: embedding one question at a time gains
    /// nothing from more, and the service's workers share the machine.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, LoadError> {
        let opts = LoadOptions {
            intra_threads: Some(1),
            ..LoadOptions::default()
        };
        Self::load_with(dir, &opts)
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Embeddings of `texts`, in order; each has unit length (checked: a non-finite or zero vector
    /// is an error, never a silent zero similarity).
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RewardError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<EncodeInput<'_>> = texts
            .iter()
            .map(|t| EncodeInput::Single(cap_chars(t, MAX_CHARS).into()))
            .collect();
        let enc = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(RewardError::Backend)?;
        let batch = enc.len();
        let seq = enc.iter().map(tokenizers::Encoding::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch * seq);
        let mut mask = Vec::with_capacity(batch * seq);
        let mut types = Vec::with_capacity(batch * seq);
        for e in &enc {
            if e.len() != seq {
                return Err(RewardError::InvalidInput(format!(
                    "tokenizer padded to {} not {seq}",
                    e.len()
                )));
            }
            ids.extend(e.get_ids().iter().map(|&x| i64::from(x)));
            mask.extend(e.get_attention_mask().iter().map(|&x| i64::from(x)));
            types.extend(e.get_type_ids().iter().map(|&x| i64::from(x)));
        }
        let shape = [batch, seq];
        let backend = |e: ort::Error| RewardError::Backend(Box::new(e));
        let ids = Tensor::from_array((shape, ids)).map_err(backend)?;
        let mask = Tensor::from_array((shape, mask)).map_err(backend)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| RewardError::Unavailable("session poisoned".into()))?;
        let outputs = if self.has_token_type_ids {
            let tt = Tensor::from_array((shape, types)).map_err(backend)?;
            session.run(
                ort::inputs!["input_ids" => ids, "attention_mask" => mask, "token_type_ids" => tt],
            )
        } else {
            session.run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])
        }
        .map_err(backend)?;
        let (oshape, data) = outputs[SENTENCE_OUTPUT]
            .try_extract_tensor::<f32>()
            .map_err(backend)?;
        let width = match oshape.iter().copied().collect::<Vec<i64>>().as_slice() {
            [b, w] if usize::try_from(*b).ok() == Some(batch) => usize::try_from(*w).unwrap_or(0),
            other => {
                return Err(RewardError::InvalidInput(format!(
                    "`{SENTENCE_OUTPUT}` has shape {other:?}; expected [batch, dim]"
                )));
            }
        };
        if width == 0 || data.len() != batch * width {
            return Err(RewardError::InvalidInput(format!(
                "`{SENTENCE_OUTPUT}` has {} values for {batch} rows of {width}",
                data.len()
            )));
        }
        let rows: Vec<Vec<f32>> = data.chunks(width).map(<[f32]>::to_vec).collect();
        for (index, row) in rows.iter().enumerate() {
            let norm = row
                .iter()
                .map(|x| f64::from(*x).powi(2))
                .sum::<f64>()
                .sqrt();
            if !norm.is_finite() || (norm - 1.0).abs() > 1e-3 {
                return Err(RewardError::InvalidInput(format!(
                    "embedding {index} has norm {norm}; `{SENTENCE_OUTPUT}` must be L2-normalised"
                )));
            }
        }
        Ok(rows)
    }

    /// The embedding of one text.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, RewardError> {
        self.embed_batch(&[text])?
            .pop()
            .ok_or_else(|| RewardError::InvalidInput("no embedding returned".into()))
    }
}

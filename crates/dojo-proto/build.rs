//! Compiles every `.proto` under `<repo>/proto/dojo/` with protox (no system `protoc`).
//!
//! Files are discovered, not listed, so a new file (e.g. `proto/dojo/chain/v1/chain.proto`) is
//! picked up without touching this script; each protobuf package becomes one generated module that
//! `lib.rs` includes with `tonic::include_proto!`.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let mut files = Vec::new();
    collect(&root.join("dojo"), &mut files)?;
    files.sort();
    let fds = protox::compile(&files, [&root])?;
    // No `connect` helpers: they would tie this crate to tonic's transport; dojo-transport builds channels.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed={}", root.display());
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    Ok(())
}

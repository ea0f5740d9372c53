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
    // Relative to the package directory (a build script's working directory), also in the
    // `rerun-if-changed` lines: cargo then checks this checkout's protos even when the target
    // directory is shared with another checkout (CI keeps one across fresh clones), where an
    // absolute path would point at the checkout that built it first.
    let root = std::path::Path::new("../../proto");
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

//! Generates the gRPC code for `proto/dojo/chain/v1/chain.proto` with protox (no system protoc).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Relative to the package directory (a build script's working directory), also in the
    // `rerun-if-changed` lines: cargo then checks this checkout's protos even when the target
    // directory is shared with another checkout (CI keeps one across fresh clones), where an
    // absolute path would point at the checkout that built it first.
    let root = std::path::Path::new("../../proto");
    let file = root.join("dojo/chain/v1/chain.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let fds = protox::compile([&file], [&root])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}

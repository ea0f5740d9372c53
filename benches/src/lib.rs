//! Benchmarks that span several crates; the code is in `benches/`. `cargo bench -p dojo-benches`
//! runs them.

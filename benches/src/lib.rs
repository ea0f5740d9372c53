//! Cross-crate pipeline benchmarks (tokenize → infer → score) live here; per-crate micro-benches live
//! next to their crate in `crates/*/benches/`.

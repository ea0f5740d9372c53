//! Architecture invariants (ARCHITECTURE.md, "Dependency rule"): the pure crates never pull in I/O
//! crates, and each project crate depends (normal edges) only on the project crates its layer allows.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

/// Crates that must stay pure (embeddable by other subnets without an async runtime or network stack).
const PURE: &[&str] = &["dojo-types", "dojo-scoring"];
/// Crates that do I/O or bind native runtimes.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "tonic",
    "prost",
    "ort",
    "subxt",
    "reqwest",
    "sqlx",
    "hyper",
    "axum",
    "mio",
    "tokenizers",
];

/// The project crates each library crate may depend on (normal dependencies only). A library crate
/// missing from this table is an error: its layer must be decided, not inherited.
const LIBRARIES: &[(&str, &[&str])] = &[
    // L0
    ("dojo-types", &[]),
    ("dojo-scoring", &["dojo-types"]),
    // L1 adapters: L0 only.
    ("dojo-devnet", &["dojo-types", "dojo-scoring"]),
    (
        "dojo-chain",
        &["dojo-types", "dojo-scoring", "dojo-identity"],
    ),
    ("dojo-proto", &["dojo-types", "dojo-scoring"]),
    ("dojo-identity", &["dojo-types", "dojo-scoring"]),
    ("dojo-reward", &["dojo-types", "dojo-scoring"]),
    ("dojo-llm", &["dojo-types", "dojo-scoring"]),
    // Its LLM generator speaks through the OpenAI-compatible client, re-exported as `llm`.
    (
        "dojo-synthetic",
        &["dojo-types", "dojo-scoring", "dojo-llm"],
    ),
    // Signing and the wire format are what it adapts.
    (
        "dojo-transport",
        &["dojo-types", "dojo-scoring", "dojo-proto", "dojo-identity"],
    ),
    // L2 services: L0 and the adapters of the domain they serve.
    // The signed dendrite it sends through, the tasks it obfuscates, and the synthetic API's client
    // (feature `client`, the wire types it shares with that service); the reward-modelling era's
    // preference pairs and accuracy evaluator.
    (
        "dojo-validator",
        &[
            "dojo-types",
            "dojo-scoring",
            "dojo-reward",
            "dojo-proto",
            "dojo-identity",
            "dojo-transport",
            "dojo-synthetic",
            "dojo-synthetic-api",
        ],
    ),
    ("dojo-lab", &["dojo-types", "dojo-scoring"]),
    // The signed axon it serves, and the two automatic feedback providers it builds.
    (
        "dojo-miner",
        &[
            "dojo-types",
            "dojo-scoring",
            "dojo-proto",
            "dojo-identity",
            "dojo-transport",
            "dojo-reward",
            "dojo-llm",
        ],
    ),
    (
        "dojo-synthetic-api",
        &["dojo-types", "dojo-scoring", "dojo-synthetic"],
    ),
    // Simulated human workers: it speaks only the miner's worker JSON API over HTTP (its own
    // copy of the wire shapes, like a browser), so it needs no project crate at all.
    ("dojo-worksim", &[]),
];

/// Crates allowed only as dev-dependencies.
const DEV_ONLY: &[&str] = &["dojo-test-utils"];

pub(crate) fn check(sh: &Shell) -> Result<()> {
    let mut bad = Vec::new();
    for krate in PURE {
        // Normal (non-dev, non-build) edges only, across all features.
        let tree = cmd!(
            sh,
            "cargo tree --locked -q -p {krate} -e normal --all-features --prefix none"
        )
        .read()?;
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if FORBIDDEN.contains(&name) {
                bad.push(format!("{krate} depends on {name}"));
            }
        }
    }
    let meta = cmd!(sh, "cargo metadata --locked --format-version 1 --no-deps").read()?;
    let graph = project_graph(&meta)?;
    bad.extend(check_graph(&graph));
    bad.sort();
    bad.dedup();
    if !bad.is_empty() {
        bail!(
            "layering violated (ARCHITECTURE.md):\n  {}",
            bad.join("\n  ")
        );
    }
    eprintln!(
        "xtask: layering ok ({} pure crates, {} project crates checked)",
        PURE.len(),
        graph.len()
    );
    Ok(())
}

/// One workspace package: whether it is a binary package (under `bins/`, xtask, benches), and its
/// normal dependencies on other workspace packages.
#[derive(Debug)]
struct Package {
    kind: Kind,
    deps: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Kind {
    Library,
    Binary,
    Xtask,
}

fn project_graph(meta: &str) -> Result<BTreeMap<String, Package>> {
    let v: serde_json::Value = serde_json::from_str(meta).context("parsing cargo metadata")?;
    let packages = v["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut out = BTreeMap::new();
    for p in packages {
        let name = p["name"].as_str().context("package without a name")?;
        let manifest = p["manifest_path"].as_str().unwrap_or("");
        let kind = if name == "xtask" {
            Kind::Xtask
        } else if manifest.contains("/bins/") || manifest.contains("/benches/") {
            Kind::Binary
        } else {
            Kind::Library
        };
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|d| names.contains(d))
            .map(str::to_owned)
            .collect();
        out.insert(name.to_owned(), Package { kind, deps });
    }
    Ok(out)
}

fn check_graph(graph: &BTreeMap<String, Package>) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, pkg) in graph {
        for dep in &pkg.deps {
            if DEV_ONLY.contains(&dep.as_str()) {
                bad.push(format!(
                    "{name} depends on {dep}, which is for dev-dependencies only"
                ));
            }
            if graph.get(dep).is_some_and(|d| d.kind != Kind::Library) {
                bad.push(format!("{name} depends on the binary package {dep}"));
            }
        }
        match pkg.kind {
            Kind::Xtask => {
                for dep in &pkg.deps {
                    bad.push(format!("xtask depends on the project crate {dep}"));
                }
            }
            Kind::Binary => {}
            Kind::Library if DEV_ONLY.contains(&name.as_str()) => {
                for dep in &pkg.deps {
                    bad.push(format!("{name} (test support) depends on {dep}"));
                }
            }
            Kind::Library => {
                let Some((_, allowed)) = LIBRARIES.iter().find(|(n, _)| n == name) else {
                    bad.push(format!(
                        "{name} has no layer: add it to LIBRARIES in xtask/src/layering.rs and to ARCHITECTURE.md"
                    ));
                    continue;
                };
                for dep in &pkg.deps {
                    if !allowed.contains(&dep.as_str()) {
                        bad.push(format!(
                            "{name} depends on {dep}, which its layer does not allow"
                        ));
                    }
                }
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(kind: Kind, deps: &[&str]) -> Package {
        Package {
            kind,
            deps: deps.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn graph(extra: Vec<(&str, Package)>) -> BTreeMap<String, Package> {
        let mut g: BTreeMap<String, Package> = [
            ("dojo-types", pkg(Kind::Library, &[])),
            ("dojo-scoring", pkg(Kind::Library, &["dojo-types"])),
            ("dojo-synthetic", pkg(Kind::Library, &["dojo-types"])),
            ("dojo-reward", pkg(Kind::Library, &["dojo-types"])),
            (
                "dojo-synthetic-api",
                pkg(Kind::Library, &["dojo-types", "dojo-synthetic"]),
            ),
            ("dojo-test-utils", pkg(Kind::Library, &[])),
            (
                "dojo-synthetic-api-bin",
                pkg(Kind::Binary, &["dojo-synthetic-api", "dojo-reward"]),
            ),
            ("xtask", pkg(Kind::Xtask, &[])),
        ]
        .into_iter()
        .map(|(n, p)| (n.to_owned(), p))
        .collect();
        for (n, p) in extra {
            g.insert(n.to_owned(), p);
        }
        g
    }

    #[test]
    fn the_documented_graph_passes() {
        assert_eq!(check_graph(&graph(vec![])), Vec::<String>::new());
    }

    #[test]
    fn each_violation_is_named() {
        let cases = [
            (
                "dojo-synthetic-api",
                pkg(Kind::Library, &["dojo-synthetic", "dojo-reward"]),
                "dojo-synthetic-api depends on dojo-reward",
            ),
            (
                "dojo-reward",
                pkg(Kind::Library, &["dojo-synthetic"]),
                "dojo-reward depends on dojo-synthetic",
            ),
            (
                "dojo-types",
                pkg(Kind::Library, &["dojo-scoring"]),
                "dojo-types depends on dojo-scoring",
            ),
            (
                "dojo-synthetic",
                pkg(Kind::Library, &["dojo-test-utils"]),
                "dev-dependencies only",
            ),
            ("xtask", pkg(Kind::Xtask, &["dojo-types"]), "xtask depends"),
            (
                "dojo-new",
                pkg(Kind::Library, &["dojo-types"]),
                "dojo-new has no layer",
            ),
            (
                "dojo-synthetic",
                pkg(Kind::Library, &["dojo-synthetic-api-bin"]),
                "the binary package",
            ),
        ];
        for (name, p, expect) in cases {
            let bad = check_graph(&graph(vec![(name, p)]));
            assert!(bad.iter().any(|b| b.contains(expect)), "{expect}: {bad:?}");
        }
    }
}

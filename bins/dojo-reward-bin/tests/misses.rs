//! `dojo-reward eval --misses` lists exactly the pairs ranked the wrong way round.

use std::process::Command;

#[test]
fn misses_lists_the_wrongly_ranked_pair_only() {
    let Some(model) = dojo_test_utils::require_env("DOJO_REWARD_MODEL_DIR") else {
        return;
    };
    if dojo_test_utils::require_env("ORT_DYLIB_PATH").is_none() {
        return;
    }
    let heldout = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/dojo-minilm-rm/heldout-pairs.jsonl"
    );
    let first = std::fs::read_to_string(heldout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let pair: serde_json::Value = serde_json::from_str(&first).unwrap();
    // The same pair both ways round: whichever way the model ranks it, one of the two is a miss.
    let mut swapped = pair.clone();
    swapped["chosen"] = pair["rejected"].clone();
    swapped["rejected"] = pair["chosen"].clone();
    swapped["kind"] = "swapped".into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pairs.jsonl");
    std::fs::write(&file, format!("{pair}\n{swapped}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-reward"))
        .args(["eval", "--model", &model, "--pairs"])
        .arg(&file)
        .arg("--misses")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("misses     1\n"), "{stdout}");
    let block: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("misses"))
        .skip(1)
        .collect();
    assert_eq!(block.len(), 4, "{stdout}");
    let margin: f64 = block[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(margin < 0.0, "{stdout}");
    // The listed pair is the one whose chosen answer the model scored lower.
    let (index, chosen) = if block[0].starts_with("#1 ") {
        (1, &pair["chosen"])
    } else {
        (2, &swapped["chosen"])
    };
    assert!(block[0].starts_with(&format!("#{index} ")), "{stdout}");
    let flat = chosen
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let head: String = flat.chars().take(40).collect();
    assert!(
        block[2].starts_with(&format!("  chosen   {head}")),
        "{stdout}"
    );
    assert!(block[1].starts_with("  prompt   "), "{stdout}");
}

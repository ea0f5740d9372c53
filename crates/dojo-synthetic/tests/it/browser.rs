//! Offline pages in headless Chromium: originals (plain and obfuscated) and every augmentation
//! except `InjectError` raise no JavaScript error; `InjectError` pages do.
//!
//! Each page gets a recorder script prepended to `<head>` that stores `error` events in a DOM
//! attribute and, after load, clicks the canvas and presses the keys the templates use; Chromium's
//! `--dump-dom` with a virtual-time budget then prints the DOM with the attribute.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use dojo_synthetic::obfuscate::obfuscate_html;
use dojo_synthetic::{Augmentation, OfflineGenerator};
use rand::SeedableRng;

use crate::require_env;

const RECORDER: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push(String(e.message));
  document.documentElement.setAttribute('data-js-errors', JSON.stringify(window.__errors));
});
document.documentElement.setAttribute('data-js-errors', '[]');
window.addEventListener('load', function () {
  setTimeout(function () {
    var c = document.querySelector('canvas');
    var keys = [' ', 'r', 't', 'd', 'c', 'Enter', 'ArrowLeft', 'ArrowRight'];
    if (c) {
      var r = c.getBoundingClientRect();
      ['click', 'dblclick', 'mousemove'].forEach(function (type) {
        c.dispatchEvent(new MouseEvent(type, { clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true }));
      });
    }
    keys.forEach(function (k) { document.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true })); });
    document.querySelectorAll('input[type=range]').forEach(function (i) { i.value = i.max; i.dispatchEvent(new Event('input', { bubbles: true })); });
    document.documentElement.setAttribute('data-acted', '1');
  }, 500);
});
</script>"#;

fn with_recorder(html: &str) -> String {
    match html.find("<head>") {
        Some(i) => format!(
            "{}<head>{}{}",
            &html[..i],
            RECORDER,
            &html[i + "<head>".len()..]
        ),
        None => format!("{RECORDER}{html}"),
    }
}

#[derive(Debug)]
struct Outcome {
    errors: Vec<String>,
    acted: bool,
    has_canvas: bool,
}

async fn run_page(chromium: PathBuf, dir: PathBuf, name: String, html: String) -> Outcome {
    let (chromium, dir, name, html) = (
        chromium.as_path(),
        dir.as_path(),
        name.as_str(),
        html.as_str(),
    );
    let file = dir.join(format!("{name}.html"));
    std::fs::write(&file, with_recorder(html)).expect("write page");
    let profile = dir.join(format!("profile-{name}"));
    let child = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=1500",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", file.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromium");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("chromium finished {name} within 60 s"))
        .expect("chromium output");
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    let attr = dom
        .split("data-js-errors=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "no recorder attribute in the DOM of {name}: {}",
                &dom[..dom.len().min(400)]
            )
        });
    let json = attr
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let errors: Vec<String> =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("bad recorder JSON {json:?}: {e}"));
    Outcome {
        errors,
        acted: dom.contains("data-acted=\"1\""),
        has_canvas: dom.contains("<canvas id=\"stage\""),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_pages_run_in_chromium_and_injected_errors_fire() {
    let Some(chromium) = require_env("DOJO_CHROMIUM") else {
        return;
    };
    let chromium = PathBuf::from(chromium);
    let dir = tempfile::tempdir().expect("tempdir");
    let g = OfflineGenerator::default();
    let mut checked_error = 0;
    let mut checked_clean = 0;
    // A fixed sample: the first two seeds whose task has an InjectError page, plus three others.
    let has_error = |seed: u64| {
        g.task(seed)
            .expect("task")
            .completions()
            .iter()
            .any(|c| c.augmentation == Augmentation::InjectError)
    };
    let mut seeds: Vec<u64> = (0..200u64).filter(|s| has_error(*s)).take(2).collect();
    let others: Vec<u64> = (0..200u64).filter(|s| !seeds.contains(s)).take(3).collect();
    seeds.extend(others);
    for seed in seeds {
        let task = g.task(seed).expect("task");
        let mut jobs = Vec::new();
        for (i, c) in task.completions().iter().enumerate() {
            let html = c.index_html().expect("page").to_owned();
            jobs.push((
                format!("s{seed}-{i}-{}", c.augmentation.as_str()),
                html,
                c.augmentation,
            ));
        }
        let orig = task
            .completions()
            .iter()
            .find(|c| c.augmentation == Augmentation::Original)
            .expect("original");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        jobs.push((
            format!("s{seed}-obfuscated"),
            obfuscate_html(orig.index_html().expect("page"), &mut rng),
            Augmentation::Original,
        ));
        for pair in jobs.chunks(2) {
            let runs = pair.iter().map(|(name, html, _)| {
                run_page(
                    chromium.clone(),
                    dir.path().to_path_buf(),
                    name.clone(),
                    html.clone(),
                )
            });
            let outs = futures_join(runs).await;
            for ((name, _, aug), out) in pair.iter().zip(outs) {
                assert!(out.acted, "{name}: the recorder ran its user actions");
                assert!(
                    out.has_canvas,
                    "{name}: the canvas is in the DOM (obfuscated pages decode their body)"
                );
                if *aug == Augmentation::InjectError {
                    assert!(
                        !out.errors.is_empty(),
                        "{name}: the injected error must fire"
                    );
                    checked_error += 1;
                } else {
                    assert!(
                        out.errors.is_empty(),
                        "{name} ({}): unexpected JS errors {:?}",
                        task.generator(),
                        out.errors
                    );
                    checked_clean += 1;
                }
            }
        }
    }
    assert!(checked_clean >= 15);
    assert!(checked_error >= 2, "the sample contains InjectError pages");
}

async fn futures_join<F: std::future::Future<Output = Outcome> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<Outcome> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("page task"));
    }
    out
}

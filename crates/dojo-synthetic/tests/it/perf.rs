//! The performance family (spec §5.3) measured in real time in headless Chromium, driven over
//! WebDriver by ChromeDriver (`--dump-dom` only sees virtual time, in which frames and stalls do not
//! happen as they do on screen).
//!
//! A probe runs in each page for a few seconds: it records `requestAnimationFrame` intervals, then
//! presses space (every offline template pauses on it) and records how long until the canvas stops
//! changing and how much still changes on screen afterwards (canvas pixels, style attributes).
//! Against the original page:
//! * `Delay`: the pause takes effect a second late;
//! * `Jank`: frames stall for 100 ms or more, several times a second;
//! * `Glitch`: the paused page keeps changing.
//!
//! Both implementations are measured: the deviations the offline generator builds into its pages,
//! and `augment::apply`'s scripts (what LLM pages get), applied here to an original offline page.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use dojo_synthetic::{Augmentation, OfflineGenerator, augment};
use rand::SeedableRng;
use serde_json::{Value, json};

use crate::require_env;

/// Runs in the page through WebDriver's execute/async; calls back with the measurements.
const PROBE: &str = r#"
var done = arguments[arguments.length - 1];
var canvas = document.querySelector('canvas');
var ctx = canvas && canvas.getContext('2d');
function sig() {
  if (!ctx) return 0;
  var d = ctx.getImageData(0, 0, canvas.width, canvas.height).data, h = 0;
  for (var i = 0; i < d.length; i += 61) h = (h * 31 + d[i]) | 0;
  return h;
}
var intervals = [], last = null, phase = 'run', pressedAt = 0, settledAfter = null;
var prev = null, same = 0, changedAfter = 0, mutations = 0;
new MutationObserver(function (list) { if (settledAfter !== null) mutations += list.length; })
  .observe(document.documentElement, { attributes: true, subtree: true });
function frame(t) {
  if (phase === 'run') { if (last !== null) intervals.push(t - last); last = t; }
  else {
    var s = sig();
    if (prev !== null) {
      if (s === prev) { same++; if (settledAfter === null && same >= 3) settledAfter = performance.now() - pressedAt; }
      else { same = 0; if (settledAfter !== null) changedAfter++; }
    }
    prev = s;
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
setTimeout(function () {
  phase = 'pause';
  pressedAt = performance.now();
  document.dispatchEvent(new KeyboardEvent('keydown', { key: ' ', bubbles: true, cancelable: true }));
}, 2500);
setTimeout(function () {
  var sorted = intervals.slice().sort(function (a, b) { return a - b; });
  done({
    frames: intervals.length,
    p95: sorted[Math.floor(sorted.length * 0.95)] || 0,
    max: sorted[sorted.length - 1] || 0,
    stalls: intervals.filter(function (x) { return x >= 100; }).length,
    settled_after: settledAfter,
    changed_after: changedAfter,
    mutations: mutations
  });
}, 5500);
"#;

#[derive(Debug)]
struct Measure {
    frames: u64,
    p95: f64,
    max: f64,
    /// Frame intervals of 100 ms or more in the 2.5 s before the pause.
    stalls: u64,
    /// Milliseconds from pressing space until the canvas held still for three frames.
    settled_after: Option<f64>,
    /// Visible changes after that: canvas frames that differed, plus style mutations.
    visual_changes: u64,
}

struct Driver {
    child: tokio::process::Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Driver {
    async fn start(chromedriver: &Path, chromium: &Path, profile: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let child = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": chromium.display().to_string(),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display())],
        }}}});
        let deadline = Instant::now() + Duration::from_secs(30);
        let session = loop {
            match http
                .post(format!("{base}/session"))
                .json(&caps)
                .send()
                .await
            {
                Ok(r) => {
                    let v: Value = r.json().await.expect("session json");
                    match v["value"]["sessionId"].as_str() {
                        Some(s) => break s.to_owned(),
                        None => panic!("chromedriver refused the session: {v}"),
                    }
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "chromedriver did not start: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        Self {
            child,
            http,
            base,
            session,
        }
    }

    async fn call(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.base, self.session);
        let v: Value = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .json()
            .await
            .expect("webdriver json");
        assert!(v["value"]["error"].is_null(), "{path}: {v}");
        v["value"].clone()
    }

    async fn measure(&self, file: &Path) -> Measure {
        self.call("url", json!({"url": format!("file://{}", file.display())}))
            .await;
        let v = self
            .call("execute/async", json!({"script": PROBE, "args": []}))
            .await;
        let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
        Measure {
            frames: n("frames"),
            p95: v["p95"].as_f64().expect("p95"),
            max: v["max"].as_f64().expect("max"),
            stalls: n("stalls"),
            settled_after: v["settled_after"].as_f64(),
            visual_changes: n("changed_after") + n("mutations"),
        }
    }

    async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.child.kill().await;
    }
}

/// The pause-on-space feature; the probe needs it to tell a late or glitching page from a still one.
const PAUSE_FEATURE: &str = "if (k === ' ') S.paused = !S.paused;";

/// The first seed whose task has a completion with `aug` and whose pages pause on space, and that
/// completion's page.
fn offline_page(g: &OfflineGenerator, aug: Augmentation) -> (u64, String) {
    (0..500u64)
        .find_map(|seed| {
            let task = g.task(seed).expect("task");
            task.completions()
                .iter()
                .find(|c| c.augmentation == aug)
                .and_then(|c| c.index_html())
                .filter(|_| original_page(g, seed).contains(PAUSE_FEATURE))
                .map(|html| (seed, html.to_owned()))
        })
        .unwrap_or_else(|| panic!("no task in 500 seeds has {aug:?} and the pause feature"))
}

fn original_page(g: &OfflineGenerator, seed: u64) -> String {
    g.task(seed)
        .expect("task")
        .completions()
        .iter()
        .find(|c| c.augmentation == Augmentation::Original)
        .and_then(|c| c.index_html())
        .expect("original page")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn performance_augmentations_degrade_the_page_in_chromium() {
    let Some(chromium) = require_env("DOJO_CHROMIUM") else {
        return;
    };
    let Some(chromedriver) = require_env("DOJO_CHROMEDRIVER") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let g = OfflineGenerator::default();
    let mut pages: Vec<(String, Augmentation, String)> = Vec::new();
    for aug in [
        Augmentation::Delay,
        Augmentation::Jank,
        Augmentation::Glitch,
    ] {
        let (seed, page) = offline_page(&g, aug);
        let original = format!("original-s{seed}");
        if !pages.iter().any(|(n, _, _)| *n == original) {
            pages.push((original, Augmentation::Original, original_page(&g, seed)));
        }
        pages.push((format!("offline-{}-s{seed}", aug.as_str()), aug, page));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let applied =
            augment::apply(&original_page(&g, seed), aug, &mut rng).expect("programmatic");
        pages.push((format!("applied-{}-s{seed}", aug.as_str()), aug, applied));
    }

    let driver = Driver::start(
        Path::new(&chromedriver),
        &PathBuf::from(&chromium),
        &dir.path().join("profile"),
    )
    .await;
    let mut results = Vec::new();
    for (i, (name, aug, html)) in pages.iter().enumerate() {
        let file = dir.path().join(format!("{i}.html"));
        std::fs::write(&file, html).expect("write page");
        let m = driver.measure(&file).await;
        eprintln!("{name} {aug:?}: {m:?}");
        results.push((name.clone(), *aug, m));
    }
    driver.quit().await;

    let mut failures = Vec::new();
    for (name, aug, m) in &results {
        let settled = m.settled_after.unwrap_or(f64::INFINITY);
        let mut check = |ok: bool, what: &str| {
            if !ok {
                failures.push(format!("{name} {aug:?}: {what} ({m:?})"));
            }
        };
        check(m.frames >= 10, "the page animates");
        match aug {
            Augmentation::Original => {
                check(m.stalls <= 3 && m.p95 < 60.0, "the original does not stall");
                check(settled < 500.0, "space pauses the original at once");
                check(m.visual_changes <= 2, "the paused original holds still");
            }
            Augmentation::Delay => {
                check(
                    (900.0..3000.0).contains(&settled),
                    "the pause comes a second late",
                );
                check(m.stalls <= 3, "Delay does not stall frames");
            }
            // A 120 ms stall lands on the next vsync, so a stalled interval reads 100, 117 or 133 ms;
            // p95 sits at the edge of that set when about one frame in ten stalls, and every stall may read
            // 100 ms (seen on a fresh machine), so the longest interval is held to that, not to 120.
            Augmentation::Jank => check(
                m.stalls >= 5 && m.p95 >= 80.0 && m.max >= 95.0,
                "frames stall for 100 ms or more, often",
            ),
            Augmentation::Glitch => check(
                settled < 1500.0 && m.visual_changes >= 5,
                "the paused page keeps glitching",
            ),
            other => check(false, &format!("{other:?} is not measured here")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Headless Chromium, driven over WebDriver (chromedriver), uses the worker page as a worker
//! would: join with a subscription key, open the task, set the sliders with the keyboard, submit.
//! A signed validator-side `FetchResults` then gets exactly those scores. The completion page
//! that tries to navigate the top window and read cookies stays inside its sandbox. Screenshots
//! (1280×800 and phone width) go to `$CARGO_TARGET_TMPDIR/worker-page-*.png`. A second task
//! with a ranking criterion is ranked with the keyboard (Alt+Arrow keys on the list items, one
//! move button) and by a drag and drop, and `FetchResults` gets that order.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use dojo_miner::provider::HumanProvider;
use dojo_miner::store::KeyKind;
use dojo_proto::v1;
use serde_json::{Value, json};

use crate::fixtures::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    http: reqwest::Client,
    base: String,
    child: tokio::process::Child,
}

impl Driver {
    async fn start() -> Option<(Driver, String)> {
        let chromium = dojo_test_utils::require_env("DOJO_CHROMIUM")?;
        let driver = std::path::Path::new("/usr/bin/chromedriver");
        if !driver.exists() {
            return dojo_test_utils::missing("/usr/bin/chromedriver");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some((Driver { http, base, child }, chromium))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "{path}: {v}");
        v["value"].clone()
    }

    async fn get(&self, path: &str) -> Value {
        let v: Value = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["value"].clone()
    }
}

async fn find(d: &Driver, s: &str, css: &str) -> String {
    // Pages load asynchronously after a click; poll briefly for the element.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = d
            .http
            .post(format!("{}/session/{s}/element", d.base))
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        if let Some(id) = v["value"][ELEMENT].as_str() {
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "no element {css}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(d: &Driver, s: &str, name: &str) -> std::path::PathBuf {
    let png = d.get(&format!("/session/{s}/screenshot")).await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_scores_a_task_in_chromium_and_the_validator_fetches_exactly_that() {
    let Some((driver, chromium)) = Driver::start().await else {
        return;
    };
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(HumanProvider { max_results: 1 }),
        config(true),
    )
    .await;
    let (alice, t, web) = (dendrite("//Alice"), m.target(), m.web());
    send(&alice, &t, text_task("browser-1", Duration::from_secs(600)))
        .await
        .unwrap();
    let key =
        dojo_miner::keys::generate(&m.store, KeyKind::Subscription, dojo_miner::grpc::now_ms())
            .await
            .unwrap();

    let profile = tempfile::tempdir().unwrap();
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,800", format!("--user-data-dir={}", profile.path().display())]
        }
    }}});
    let session = driver.post("/session", caps).await;
    let s = session["sessionId"].as_str().unwrap().to_owned();

    driver
        .post(
            &format!("/session/{s}/url"),
            json!({"url": format!("{web}/")}),
        )
        .await;
    let input = find(&driver, &s, "#key").await;
    driver
        .post(
            &format!("/session/{s}/element/{input}/value"),
            json!({"text": key.secret}),
        )
        .await;
    let join = find(&driver, &s, "#join").await;
    driver
        .post(&format!("/session/{s}/element/{join}/click"), json!({}))
        .await;
    let link = find(&driver, &s, "a.task-link").await;
    driver
        .post(&format!("/session/{s}/element/{link}/click"), json!({}))
        .await;

    // Keyboard only: End puts a slider at its maximum, Home at its minimum, arrows step by one.
    let a = find(&driver, &s, "input[name='c0.c-a']").await;
    driver
        .post(
            &format!("/session/{s}/element/{a}/value"),
            json!({"text": "\u{E010}\u{E012}\u{E012}"}),
        )
        .await;
    let b = find(&driver, &s, "input[name='c0.c-b']").await;
    driver
        .post(
            &format!("/session/{s}/element/{b}/value"),
            json!({"text": "\u{E011}\u{E014}\u{E014}\u{E014}"}),
        )
        .await;
    // The completion's script tried `top.location = …`: the top page is still ours.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let url = driver.get(&format!("/session/{s}/url")).await;
    assert!(
        url.as_str().unwrap().starts_with(&web),
        "top window navigated away: {url}"
    );
    // Inside the code response's frame: no cookie, no worker API, no access to the top window.
    let frame = find(&driver, &s, "iframe.render").await;
    driver
        .post(
            &format!("/session/{s}/frame"),
            json!({"id": {ELEMENT: frame}}),
        )
        .await;
    let probe = driver
        .post(
            &format!("/session/{s}/execute/async"),
            json!({"script": "var done = arguments[arguments.length - 1]; var out = {};
                try { out.cookie = 'read:' + document.cookie; } catch (e) { out.cookie = 'blocked'; }
                try { out.top = 'read:' + window.top.location.href; } catch (e) { out.top = 'blocked'; }
                fetch('/api/v1/tasks', {credentials: 'include'})
                  .then(function (r) { out.api = 'status ' + r.status; done(out); })
                  .catch(function () { out.api = 'blocked'; done(out); });",
                   "args": []}),
        )
        .await;
    assert_eq!(
        probe,
        json!({"cookie": "blocked", "top": "blocked", "api": "blocked"}),
        "sandbox escaped"
    );
    driver
        .post(&format!("/session/{s}/frame/parent"), json!({}))
        .await;
    let shot = screenshot(&driver, &s, "worker-page-1280x800.png").await;
    driver
        .post(
            &format!("/session/{s}/window/rect"),
            json!({"width": 390, "height": 844}),
        )
        .await;
    let phone = screenshot(&driver, &s, "worker-page-phone.png").await;
    eprintln!("screenshots: {} {}", shot.display(), phone.display());

    let submit = find(&driver, &s, "#submit").await;
    driver
        .post(&format!("/session/{s}/element/{submit}/click"), json!({}))
        .await;
    find(&driver, &s, "#done").await;

    // A ranking task: reorder by keyboard, a button and a drag; the list order is submitted.
    driver
        .post(
            &format!("/session/{s}/window/rect"),
            json!({"width": 1280, "height": 800}),
        )
        .await;
    send(&alice, &t, ranking_task("browser-rank"))
        .await
        .unwrap();
    driver
        .post(
            &format!("/session/{s}/url"),
            json!({"url": format!("{web}/tasks")}),
        )
        .await;
    let link = find(&driver, &s, "a.task-link").await;
    driver
        .post(&format!("/session/{s}/element/{link}/click"), json!({}))
        .await;
    // Start a, b, c, d. Alt+Up twice on c: c, a, b, d.
    let c = find(&driver, &s, "li.rank-item[data-cid='r-c']").await;
    driver
        .post(
            &format!("/session/{s}/element/{c}/value"),
            json!({"text": "\u{E00A}\u{E013}\u{E013}\u{E000}"}),
        )
        .await;
    assert_eq!(rank_order(&driver, &s).await, "r-c r-a r-b r-d");
    // Focus stays on the moved item: Alt+Down once more moves c back below a: a, c, b, d.
    let active = driver.get(&format!("/session/{s}/element/active")).await;
    assert_eq!(
        active[ELEMENT].as_str(),
        Some(c.as_str()),
        "focus left the moved item"
    );
    driver
        .post(
            &format!("/session/{s}/actions"),
            json!({"actions": [{"type": "key", "id": "kb", "actions": [
                {"type": "keyDown", "value": "\u{E00A}"}, {"type": "keyDown", "value": "\u{E015}"},
                {"type": "keyUp", "value": "\u{E015}"}, {"type": "keyUp", "value": "\u{E00A}"}]}]}),
        )
        .await;
    assert_eq!(rank_order(&driver, &s).await, "r-a r-c r-b r-d");
    // The button "Move response 2 up" (b) once: a, c → b above c: a, b, c, d.
    let up = find(&driver, &s, "button[aria-label='Move response 2 up']").await;
    driver
        .post(&format!("/session/{s}/element/{up}/click"), json!({}))
        .await;
    assert_eq!(rank_order(&driver, &s).await, "r-a r-b r-c r-d");
    // Alt+Down three times on a: b, c, d, a.
    let a = find(&driver, &s, "li.rank-item[data-cid='r-a']").await;
    driver
        .post(
            &format!("/session/{s}/element/{a}/value"),
            json!({"text": "\u{E00A}\u{E015}\u{E015}\u{E015}\u{E000}"}),
        )
        .await;
    assert_eq!(rank_order(&driver, &s).await, "r-b r-c r-d r-a");
    // HTML5 drag and drop (WebDriver cannot drive it natively): drag d onto the top half of b:
    // d, b, c, a.
    let dragged = driver
        .post(
            &format!("/session/{s}/execute/sync"),
            json!({"script": "var d = document.querySelector(\"li[data-cid='r-d']\"),
                      b = document.querySelector(\"li[data-cid='r-b']\"), dt = new DataTransfer(),
                      box = b.getBoundingClientRect();
                  function fire(el, type) { el.dispatchEvent(new DragEvent(type, {bubbles: true,
                      cancelable: true, dataTransfer: dt, clientX: box.left + 5, clientY: box.top + 2})); }
                  fire(d, 'dragstart'); fire(b, 'dragover'); fire(b, 'drop'); fire(d, 'dragend');
                  return Array.prototype.map.call(document.querySelectorAll('li.rank-item'),
                      function (li) { return li.dataset.cid + '=' + li.querySelector('input').value; });",
                   "args": []}),
        )
        .await;
    assert_eq!(dragged, json!(["r-d=1", "r-b=2", "r-c=3", "r-a=4"]));
    screenshot(&driver, &s, "worker-page-ranking.png").await;
    let submit = find(&driver, &s, "#submit").await;
    driver
        .post(&format!("/session/{s}/element/{submit}/click"), json!({}))
        .await;
    find(&driver, &s, "#done").await;
    let ranked = fetch(&alice, &t, "browser-rank").await.unwrap();
    assert_eq!(ranked.status, v1::ResultStatus::Complete as i32);
    let order: Vec<_> = ranked.results[0]
        .answers
        .iter()
        .map(|a| (a.completion_id.as_str(), a.answer.clone()))
        .collect();
    let rank = |r| Some(v1::completion_answer::Answer::Rank(r));
    assert_eq!(
        order,
        vec![
            ("r-a", rank(3)),
            ("r-b", rank(1)),
            ("r-c", rank(2)),
            ("r-d", rank(0))
        ]
    );

    let _ = driver
        .http
        .delete(format!("{}/session/{s}", driver.base))
        .send()
        .await;

    let r = fetch(&alice, &t, "browser-1").await.unwrap();
    assert_eq!(r.status, v1::ResultStatus::Complete as i32);
    assert_eq!(r.results.len(), 1);
    let got: Vec<_> = r.results[0]
        .answers
        .iter()
        .map(|a| (a.completion_id.as_str(), a.answer.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("c-a", Some(v1::completion_answer::Answer::Score(98.0))),
            ("c-b", Some(v1::completion_answer::Answer::Score(4.0))),
        ]
    );
    m.stop().await;
    let mut child = driver.child;
    let _ = child.kill().await;
}

/// The ranking list's order, as `data-cid`s.
async fn rank_order(d: &Driver, s: &str) -> String {
    let v = d
        .post(
            &format!("/session/{s}/execute/sync"),
            json!({"script": "return Array.prototype.map.call(document.querySelectorAll('li.rank-item'),
                      function (li) { return li.dataset.cid; }).join(' ');", "args": []}),
        )
        .await;
    v.as_str().unwrap().to_owned()
}

/// Four text responses and one ranking criterion.
fn ranking_task(id: &str) -> v1::SendTaskRequest {
    let mut req = text_task(id, Duration::from_secs(600));
    let task = req.task.as_mut().unwrap();
    task.completions = ["r-a", "r-b", "r-c", "r-d"]
        .iter()
        .map(|cid| v1::Completion {
            completion_id: (*cid).to_owned(),
            content: Some(v1::completion::Content::Text(format!("answer {cid}"))),
        })
        .collect();
    task.criteria = vec![v1::Criterion {
        kind: Some(v1::criterion::Kind::Ranking(v1::RankingCriterion {})),
    }];
    req
}

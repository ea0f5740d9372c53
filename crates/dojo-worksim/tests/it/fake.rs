//! The simulator against a scripted page: what it does with a refused session and with a
//! submission the miner could not store.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use dojo_worksim::{Config, Population, Simulator};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fixtures::*;

#[derive(Default)]
struct Page {
    joins: AtomicU32,
    lists: AtomicU32,
    posts: AtomicU32,
    stored: Mutex<Vec<Value>>,
}

type S = State<Arc<Page>>;

async fn join(State(p): S) -> Json<Value> {
    let n = p.joins.fetch_add(1, Ordering::SeqCst);
    Json(json!({"token": format!("st-{n}"), "worker_id": format!("w-{n}"), "expires_at_ms": 0}))
}

async fn tasks(State(p): S) -> (StatusCode, Json<Value>) {
    // The second list says the session is gone (a miner on a fresh database).
    if p.lists.fetch_add(1, Ordering::SeqCst) == 1 {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "missing, expired or revoked session"})),
        );
    }
    let open = p.stored.lock().unwrap().is_empty();
    let tasks: Vec<_> = open
        .then(|| task("mt-1", "c", &[1, 0], far_future()))
        .into_iter()
        .collect();
    (StatusCode::OK, Json(json!({ "tasks": tasks })))
}

async fn submit(State(p): S, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    // The first submission finds the database locked.
    if p.posts.fetch_add(1, Ordering::SeqCst) == 0 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "storage failed; nothing was recorded"})),
        );
    }
    p.stored.lock().unwrap().push(body);
    (StatusCode::OK, Json(json!({"num_results": 1})))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejoins_after_401_and_retries_a_submission_the_miner_could_not_store() {
    let page = Arc::new(Page::default());
    let app = axum::Router::new()
        .route("/api/v1/session", post(join))
        .route("/api/v1/tasks", get(tasks))
        .route("/api/v1/tasks/{id}/results", post(submit))
        .with_state(Arc::clone(&page));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::new(
        &format!("http://{addr}"),
        "sk-x",
        Population::Lazy,
        gt_path(&dir),
    );
    c.poll = Duration::from_millis(20);
    let sim = Arc::new(Simulator::new(c).unwrap());
    let cancel = CancellationToken::new();
    let run = tokio::spawn(Arc::clone(&sim).run(cancel.clone(), || {}));
    for _ in 0..500 {
        if !page.stored.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let counters = run.await.unwrap();
    let stored = page.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1, "the 503 was retried and then stored");
    assert_eq!(stored[0]["answers"].as_array().unwrap().len(), 4);
    assert_eq!(
        page.joins.load(Ordering::SeqCst),
        2,
        "joined again after the 401"
    );
    assert_eq!(page.posts.load(Ordering::SeqCst), 2);
    assert_eq!(
        (counters.seen, counters.submitted, counters.lazy_fallback),
        (1, 1, 0)
    );
    assert_eq!(counters.errors, 2, "the 401 and the 503");
}

//! Fault injection for devnet chaos runs: `drop` leaves a share of tasks unanswered, `late` holds
//! answers until the task's deadline has passed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use dojo_worksim::{Config, Population, Simulator};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fixtures::*;

struct Page {
    tasks: usize,
    expire_at_ms: i64,
    /// (task id, arrival ms).
    posts: Mutex<Vec<(String, i64)>>,
}

type S = State<Arc<Page>>;

async fn join() -> Json<Value> {
    Json(json!({"token": "st-0", "worker_id": "w-0", "expires_at_ms": 0}))
}

async fn tasks(State(p): S) -> Json<Value> {
    let answered: Vec<String> = p
        .posts
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    let tasks: Vec<_> = (0..p.tasks)
        .map(|i| format!("mt-{i}"))
        .filter(|id| !answered.contains(id))
        .map(|id| task(&id, "c", &[1, 0], p.expire_at_ms))
        .collect();
    Json(json!({ "tasks": tasks }))
}

async fn submit(State(p): S, Path(id): Path<String>) -> Json<Value> {
    p.posts.lock().unwrap().push((id, now_ms()));
    Json(json!({"num_results": 1}))
}

async fn run_against(
    page: Arc<Page>,
    drop: f64,
    late: f64,
    wait: Duration,
) -> dojo_worksim::CounterSnapshot {
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
    c.seed = 11;
    c.drop = drop;
    c.late = late;
    let sim = Arc::new(Simulator::new(c).unwrap());
    let cancel = CancellationToken::new();
    let run = tokio::spawn(Arc::clone(&sim).run(cancel.clone(), || {}));
    tokio::time::sleep(wait).await;
    cancel.cancel();
    run.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_leaves_about_that_share_of_tasks_unanswered() {
    let page = Arc::new(Page {
        tasks: 200,
        expire_at_ms: far_future(),
        posts: Mutex::new(Vec::new()),
    });
    let c = run_against(Arc::clone(&page), 0.3, 0.0, Duration::from_millis(1500)).await;
    let posted = page.posts.lock().unwrap().len() as u64;
    assert_eq!(
        c.dropped + posted,
        200,
        "every task is either answered or dropped: {c:?}"
    );
    // Binomial(200, 0.3): mean 60, sd 6.5.
    assert!(
        (35..=85).contains(&c.dropped),
        "dropped {} of 200",
        c.dropped
    );
    assert_eq!(c.delayed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_answers_arrive_only_after_the_deadline() {
    let expire = now_ms() + 400;
    let page = Arc::new(Page {
        tasks: 5,
        expire_at_ms: expire,
        posts: Mutex::new(Vec::new()),
    });
    let c = run_against(Arc::clone(&page), 0.0, 1.0, Duration::from_millis(1200)).await;
    let posts = page.posts.lock().unwrap().clone();
    assert_eq!(c.delayed, 5, "{c:?}");
    assert_eq!(
        posts.len(),
        5,
        "held answers are still sent once the deadline passed"
    );
    for (id, at) in posts {
        assert!(
            at > expire,
            "{id} arrived at {at}, before the deadline {expire}"
        );
    }
}

#[test]
fn fault_shares_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::new("http://127.0.0.1:1", "k", Population::Lazy, gt_path(&dir));
    c.drop = 0.8;
    c.late = 0.3;
    assert!(Simulator::new(c.clone()).is_err());
    c.late = f64::NAN;
    assert!(Simulator::new(c).is_err());
}

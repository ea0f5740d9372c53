//! The Dojo v2 roles through the signed axon: generation and vote assignments, by an automatic
//! provider (a test double behind `Provider`) and by human workers on the worker page.

use std::sync::Arc;
use std::time::Duration;

use dojo_miner::provider::{
    BoxFuture, HumanProvider, Provider, ProviderError, answers_from_preferences, page_completion,
};
use dojo_proto::v1;
use dojo_transport::{AxonTarget, CallOutcome, Dendrite};
use dojo_types::task::{
    CompletionContent, Generated, GenerationTask, ScoringMethod, Task, WorkerResult,
};
use reqwest::StatusCode;

use crate::fixtures::*;

/// A provider double: prefers completions whose text contains "better", and writes a fixed page.
#[derive(Debug)]
struct PreferBetter {
    writes: bool,
}

impl Provider for PreferBetter {
    fn method(&self) -> ScoringMethod {
        ScoringMethod::LlmApi
    }
    fn check(&self, task: &Task) -> Result<(), String> {
        dojo_miner::provider::check_automatic(task)
    }
    fn judge<'a>(
        &'a self,
        task: &'a Task,
    ) -> BoxFuture<'a, Result<Option<WorkerResult>, ProviderError>> {
        Box::pin(async move {
            let prefs: Vec<_> = task
                .completions
                .iter()
                .map(|c| {
                    let good =
                        matches!(&c.content, CompletionContent::Text(t) if t.contains("better"));
                    (c.id.clone(), if good { 1.0 } else { 0.0 })
                })
                .collect();
            Ok(Some(WorkerResult {
                worker_id: "double".into(),
                answers: answers_from_preferences(task, &prefs).unwrap(),
            }))
        })
    }
    fn check_generation(&self, task: &GenerationTask) -> Result<(), String> {
        if self.writes {
            Ok(())
        } else {
            Err(format!("no writing for {}", task.id))
        }
    }
    fn generate<'a>(
        &'a self,
        task: &'a GenerationTask,
    ) -> BoxFuture<'a, Result<Option<Generated>, ProviderError>> {
        Box::pin(async move {
            Ok(Some(Generated {
                completion: page_completion(
                    "ignored",
                    &format!("<!doctype html><h1>{}</h1>", task.prompt),
                )
                .unwrap(),
                author: "double".into(),
            }))
        })
    }
}

fn expire(in_: Duration) -> Option<prost_types::Timestamp> {
    let ms = dojo_miner::grpc::now_ms() + i64::try_from(in_.as_millis()).unwrap();
    Some(prost_types::Timestamp {
        seconds: ms / 1000,
        nanos: i32::try_from((ms % 1000) * 1_000_000).unwrap(),
    })
}

fn generation(id: &str, prompt: &str) -> v1::GenerationTask {
    v1::GenerationTask {
        task_id: id.to_owned(),
        prompt: prompt.to_owned(),
        task_type: v1::TaskType::CodeGeneration as i32,
        expire_at: expire(Duration::from_secs(600)),
    }
}

fn text(id: &str, t: &str) -> v1::Completion {
    v1::Completion {
        completion_id: id.to_owned(),
        content: Some(v1::completion::Content::Text(t.to_owned())),
    }
}

fn vote(id: &str, completions: Vec<v1::Completion>) -> v1::VoteTask {
    v1::VoteTask {
        task_id: id.to_owned(),
        prompt: "a counter page".to_owned(),
        task_type: v1::TaskType::CodeGeneration as i32,
        completions,
        expire_at: expire(Duration::from_secs(600)),
    }
}

fn outcome<R>(o: CallOutcome<R>) -> Result<R, tonic::Status> {
    match o {
        CallOutcome::Success { response, .. } => Ok(response),
        CallOutcome::Rejected { status, .. } => Err(status),
        other => panic!("call failed: {}", other.kind()),
    }
}

async fn assign_generation(
    d: &Dendrite,
    t: &AxonTarget,
    g: v1::GenerationTask,
) -> Result<v1::TaskAck, tonic::Status> {
    outcome(
        d.call_roles(t, g, |mut c, r| async move { c.assign_generation(r).await })
            .await,
    )
}

async fn assign_vote(
    d: &Dendrite,
    t: &AxonTarget,
    v: v1::VoteTask,
) -> Result<v1::TaskAck, tonic::Status> {
    outcome(
        d.call_roles(t, v, |mut c, r| async move { c.assign_vote(r).await })
            .await,
    )
}

async fn fetch_generation(
    d: &Dendrite,
    t: &AxonTarget,
    id: &str,
) -> Result<v1::GenerationResult, tonic::Status> {
    let req = v1::FetchResultsRequest {
        task_id: id.to_owned(),
    };
    outcome(
        d.call_roles(
            t,
            req,
            |mut c, r| async move { c.fetch_generation(r).await },
        )
        .await,
    )
}

async fn fetch_vote(
    d: &Dendrite,
    t: &AxonTarget,
    id: &str,
) -> Result<v1::VoteResult, tonic::Status> {
    let req = v1::FetchResultsRequest {
        task_id: id.to_owned(),
    };
    outcome(
        d.call_roles(t, req, |mut c, r| async move { c.fetch_vote(r).await })
            .await,
    )
}

/// Polls until `f` reports a status other than pending.
async fn settled<R, F, Fut>(f: F) -> R
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (i32, R)>,
{
    for _ in 0..200 {
        let (status, r) = f().await;
        if status != v1::ResultStatus::Pending as i32 {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("still pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_provider_writes_and_votes_through_the_signed_axon() {
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(PreferBetter { writes: true }),
        config(false),
    )
    .await;
    let (alice, bob, t) = (dendrite("//Alice"), dendrite("//Bob"), m.target());

    let ack = assign_generation(&alice, &t, generation("v2-1", "a clock"))
        .await
        .unwrap();
    assert!(ack.miner_task_id.starts_with("mg-"), "{ack:?}");
    let g = settled(|| async {
        let r = fetch_generation(&alice, &t, "v2-1").await.unwrap();
        (r.status, r)
    })
    .await;
    assert_eq!(g.status, v1::ResultStatus::Complete as i32);
    let c = g.completion.unwrap();
    // The completion carries the miner's id for the task, whatever the provider named it.
    assert_eq!(c.completion_id, ack.miner_task_id);
    let Some(v1::completion::Content::Code(code)) = c.content else {
        panic!("not a page")
    };
    assert_eq!(code.files.len(), 1);
    assert_eq!(code.files[0].filename, "index.html");
    assert!(code.files[0].content.contains("<h1>a clock</h1>"));
    assert_eq!(g.author, "double");

    // The same validator id as a vote task: a separate assignment, not the generation task.
    let ack = assign_vote(
        &alice,
        &t,
        vote(
            "v2-1",
            vec![text("x", "plain"), text("y", "the better one")],
        ),
    )
    .await
    .unwrap();
    assert!(ack.miner_task_id.starts_with("mt-"), "{ack:?}");
    let v = settled(|| async {
        let r = fetch_vote(&alice, &t, "v2-1").await.unwrap();
        (r.status, r)
    })
    .await;
    assert_eq!(v.status, v1::ResultStatus::Complete as i32);
    assert_eq!(v.chosen_completion_id, "y");
    assert_eq!(v.tally.get("y"), Some(&1));
    assert_eq!(v.tally.get("x"), Some(&0));

    // Another validator sees neither.
    assert_eq!(
        fetch_vote(&bob, &t, "v2-1").await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    assert_eq!(
        fetch_generation(&bob, &t, "v2-1").await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    // Unknown ids are a typed refusal, not an empty answer.
    let e = fetch_vote(&alice, &t, "nope").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    assert!(e.message().contains("unknown task"), "{}", e.message());

    // Malformed assignments are refused with the reason.
    let e = assign_vote(&alice, &t, vote("v2-2", vec![text("x", "alone")]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("at least two"), "{}", e.message());
    let e = assign_vote(
        &alice,
        &t,
        vote("v2-3", vec![text("x", "a"), text("x", "b")]),
    )
    .await
    .unwrap_err();
    assert!(e.message().contains("twice"), "{}", e.message());
    let e = assign_generation(&alice, &t, generation("v2-4", "  "))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("no prompt"), "{}", e.message());
    let mut late = generation("v2-5", "late");
    late.expire_at = Some(prost_types::Timestamp::default());
    let e = assign_generation(&alice, &t, late).await.unwrap_err();
    assert!(e.message().contains("not after now"), "{}", e.message());
    // A vote id too long to store under its `vote:` key.
    let long = "v".repeat(dojo_types::MAX_ID_LEN);
    let e = assign_vote(
        &alice,
        &t,
        vote(&long, vec![text("x", "a"), text("y", "b")]),
    )
    .await
    .unwrap_err();
    assert!(e.message().contains("too long"), "{}", e.message());
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_cannot_write_declines_generation_tasks() {
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(PreferBetter { writes: false }),
        config(false),
    )
    .await;
    let (alice, t) = (dendrite("//Alice"), m.target());
    let ack = assign_generation(&alice, &t, generation("g", "a clock"))
        .await
        .unwrap();
    assert_eq!(ack.miner_task_id, "", "declined: no miner id");
    let r = fetch_generation(&alice, &t, "g").await.unwrap();
    assert_eq!(r.status, v1::ResultStatus::Declined as i32);
    assert!(r.completion.is_none());
    m.stop().await;
}

async fn join(http: &reqwest::Client, web: &str, store: &dojo_miner::Store) -> String {
    let key = dojo_miner::keys::generate(
        store,
        dojo_miner::store::KeyKind::Subscription,
        dojo_miner::grpc::now_ms(),
    )
    .await
    .unwrap();
    let r: serde_json::Value = http
        .post(format!("{web}/api/v1/session"))
        .json(&serde_json::json!({ "key": key.secret }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_workers_write_pages_and_vote_on_the_worker_page() {
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(HumanProvider { max_results: 3 }),
        config(true),
    )
    .await;
    let (alice, t, web) = (dendrite("//Alice"), m.target(), m.web());
    let http = reqwest::Client::new();
    let (w1, w2, w3) = (
        join(&http, &web, &m.store).await,
        join(&http, &web, &m.store).await,
        join(&http, &web, &m.store).await,
    );

    // Generation: listed, written once (by JSON), refused the second time.
    let ack = assign_generation(&alice, &t, generation("g-1", "a <b>bold</b> clock"))
        .await
        .unwrap();
    let listed: serde_json::Value = http
        .get(format!("{web}/api/v1/generations"))
        .bearer_auth(&w1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["generations"][0]["id"], ack.miner_task_id.as_str());
    assert_eq!(listed["generations"][0]["prompt"], "a <b>bold</b> clock");
    // The HTML page lists it too, escaped.
    let tasks_html = http
        .get(format!("{web}/tasks"))
        .header("cookie", format!("dojo_session={w1}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(tasks_html.contains(&format!("/generate/{}", ack.miner_task_id)));
    assert!(tasks_html.contains("a &lt;b&gt;bold&lt;/b&gt; clock"));
    let url = format!("{web}/api/v1/generations/{}", ack.miner_task_id);
    let empty = http
        .post(&url)
        .bearer_auth(&w1)
        .json(&serde_json::json!({ "html": "   " }))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let huge = "x".repeat(dojo_miner::provider::MAX_COMPLETION_BYTES + 1);
    let r = http
        .post(&url)
        .bearer_auth(&w1)
        .json(&serde_json::json!({ "html": huge }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let err: serde_json::Value = r.json().await.unwrap();
    assert!(
        err["error"].as_str().unwrap().contains("byte limit"),
        "{err}"
    );
    // Form submission, as the page's form sends it.
    let r = http
        .post(format!("{web}/generate/{}", ack.miner_task_id))
        .header("cookie", format!("dojo_session={w1}"))
        .form(&[("html", "<!doctype html><p>tick</p>")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Your page was recorded"));
    let again = http
        .post(&url)
        .bearer_auth(&w2)
        .json(&serde_json::json!({ "html": "<p>mine</p>" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "written tasks close");
    let g = fetch_generation(&alice, &t, "g-1").await.unwrap();
    assert_eq!(g.status, v1::ResultStatus::Complete as i32);
    let Some(v1::completion::Content::Code(code)) = g.completion.unwrap().content else {
        panic!("not a page")
    };
    assert_eq!(code.files[0].content, "<!doctype html><p>tick</p>");
    assert!(g.author.starts_with("w-"), "{}", g.author);

    // Vote: three workers, two for `y`.
    let ack = assign_vote(
        &alice,
        &t,
        vote("v-1", vec![text("x", "first"), text("y", "second")]),
    )
    .await
    .unwrap();
    let view: serde_json::Value = http
        .get(format!("{web}/api/v1/tasks/{}", ack.miner_task_id))
        .bearer_auth(&w1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["role"], "vote");
    assert_eq!(view["criteria"][0]["type"], "ranking");
    for (w, best) in [(&w1, "y"), (&w2, "x"), (&w3, "y")] {
        let other = if best == "x" { "y" } else { "x" };
        let r = http
            .post(format!("{web}/api/v1/tasks/{}/results", ack.miner_task_id))
            .bearer_auth(w)
            .json(&serde_json::json!({ "answers": [
                {"completion_id": best, "criterion": 0, "rank": 0},
                {"completion_id": other, "criterion": 0, "rank": 1},
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let v = fetch_vote(&alice, &t, "v-1").await.unwrap();
    assert_eq!(v.status, v1::ResultStatus::Complete as i32);
    assert_eq!(v.chosen_completion_id, "y");
    assert_eq!((v.tally.get("x"), v.tally.get("y")), (Some(&1), Some(&2)));
    m.stop().await;
}

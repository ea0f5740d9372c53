//! The miner behind its signed axon: tasks, namespacing, statuses, heartbeats, feedback.

use std::sync::Arc;
use std::time::Duration;

use dojo_miner::provider::{BoxFuture, HumanProvider, Provider, ProviderError};
use dojo_proto::v1;
use dojo_types::task::{Answer, CompletionAnswer, ScoringMethod, Task, WorkerResult};
use dojo_types::{Score, TaskId};

use crate::fixtures::*;

/// A provider double: scores every completion 42, counting calls.
#[derive(Debug, Default)]
struct FixedJudge {
    calls: std::sync::atomic::AtomicUsize,
}

impl Provider for FixedJudge {
    fn method(&self) -> ScoringMethod {
        ScoringMethod::RewardModel
    }
    fn check(&self, task: &Task) -> Result<(), String> {
        dojo_miner::provider::renderable(task)
    }
    fn judge<'a>(
        &'a self,
        task: &'a Task,
    ) -> BoxFuture<'a, Result<Option<WorkerResult>, ProviderError>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move {
            Ok(Some(WorkerResult {
                worker_id: "judge".into(),
                answers: task
                    .completions
                    .iter()
                    .map(|c| CompletionAnswer {
                        completion: c.id.clone(),
                        answer: Answer::Score(Score::new(42.0).unwrap()),
                    })
                    .collect(),
            }))
        })
    }
}

async fn join(http: &reqwest::Client, web: &str, store: &dojo_miner::Store) -> String {
    let key = dojo_miner::keys::generate(
        store,
        dojo_miner::store::KeyKind::Api,
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
async fn two_validators_with_one_task_id_never_see_each_others_results() {
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(HumanProvider { max_results: 1 }),
        config(true),
    )
    .await;
    let (alice, bob, t) = (dendrite("//Alice"), dendrite("//Bob"), m.target());

    let a = send(&alice, &t, text_task("t-1", Duration::from_secs(600)))
        .await
        .unwrap();
    let b = send(&bob, &t, text_task("t-1", Duration::from_secs(600)))
        .await
        .unwrap();
    assert!(a.miner_task_id.starts_with("mt-") && b.miner_task_id.starts_with("mt-"));
    assert_ne!(a.miner_task_id, b.miner_task_id);
    // A resent task is a no-op with the same answer.
    let again = send(&alice, &t, text_task("t-1", Duration::from_secs(600)))
        .await
        .unwrap();
    assert_eq!(again.miner_task_id, a.miner_task_id);

    let pending = fetch(&alice, &t, "t-1").await.unwrap();
    assert_eq!(pending.status, v1::ResultStatus::Pending as i32);
    assert!(pending.results.is_empty());

    // A worker answers Alice's task on the page.
    let http = reqwest::Client::new();
    let token = join(&http, &m.web(), &m.store).await;
    let submit = http
        .post(format!(
            "{}/api/v1/tasks/{}/results",
            m.web(),
            a.miner_task_id
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({"answers": [
            {"completion_id": "c-a", "criterion": 0, "score": 80},
            {"completion_id": "c-b", "criterion": 0, "score": 20.5}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(submit.status(), 200, "{}", submit.text().await.unwrap());

    let done = fetch(&alice, &t, "t-1").await.unwrap();
    assert_eq!(done.status, v1::ResultStatus::Complete as i32);
    assert_eq!(done.results.len(), 1);
    let scores: Vec<_> = done.results[0]
        .answers
        .iter()
        .map(|a| (a.completion_id.clone(), a.answer.clone()))
        .collect();
    assert_eq!(
        scores,
        vec![
            (
                "c-a".to_owned(),
                Some(v1::completion_answer::Answer::Score(80.0))
            ),
            (
                "c-b".to_owned(),
                Some(v1::completion_answer::Answer::Score(20.5))
            ),
        ]
    );
    let bobs = fetch(&bob, &t, "t-1").await.unwrap();
    assert_eq!(bobs.status, v1::ResultStatus::Pending as i32);
    assert!(bobs.results.is_empty(), "Bob must not see Alice's results");

    let unknown = fetch(&alice, &t, "never-sent").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(unknown.message().contains("unknown task never-sent"));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_reports_version_method_and_capacity_and_feedback_is_recorded() {
    let (devnet, owner) = devnet();
    let mut cfg = config(true);
    cfg.limits.max_open_tasks = 2;
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(HumanProvider { max_results: 3 }),
        cfg,
    )
    .await;
    let (alice, t) = (dendrite("//Alice"), m.target());
    let beat = |d: dojo_transport::Dendrite, t: dojo_transport::AxonTarget| async move {
        d.call(&t, v1::HeartbeatRequest {}, |mut c, r| async move {
            c.heartbeat(r).await
        })
        .await
        .success()
        .cloned()
        .unwrap()
    };
    let h = beat(alice.clone(), t.clone()).await;
    assert!(h.ack);
    assert_eq!(h.version, "0.1.0-test");
    assert_eq!(h.scoring_method, v1::ScoringMethod::Human as i32);
    assert_eq!(h.free_capacity, Some(2));
    send(&alice, &t, text_task("t-1", Duration::from_secs(600)))
        .await
        .unwrap();
    send(&alice, &t, text_task("t-2", Duration::from_secs(600)))
        .await
        .unwrap();
    assert_eq!(beat(alice.clone(), t.clone()).await.free_capacity, Some(0));
    let full = send(&alice, &t, text_task("t-3", Duration::from_secs(600)))
        .await
        .unwrap_err();
    assert_eq!(full.code(), tonic::Code::ResourceExhausted);

    let fb = v1::ScoreFeedback {
        task_id: "t-1".into(),
        score: 0.75,
    };
    let ok = alice
        .call(
            &t,
            fb,
            |mut c, r| async move { c.send_score_feedback(r).await },
        )
        .await;
    assert!(ok.success().is_some(), "{}", ok.kind());
    let caller = key("//Alice").ss58();
    assert_eq!(
        m.store
            .feedback(&caller, &TaskId::new("t-1").unwrap())
            .await
            .unwrap(),
        Some(0.75)
    );
    let fb = v1::ScoreFeedback {
        task_id: "nope".into(),
        score: 0.5,
    };
    match alice
        .call(
            &t,
            fb,
            |mut c, r| async move { c.send_score_feedback(r).await },
        )
        .await
    {
        dojo_transport::CallOutcome::Rejected { status, .. } => {
            assert_eq!(status.code(), tonic::Code::NotFound)
        }
        other => panic!("{}", other.kind()),
    }
    let fb = v1::ScoreFeedback {
        task_id: "t-1".into(),
        score: f64::NAN,
    };
    match alice
        .call(
            &t,
            fb,
            |mut c, r| async move { c.send_score_feedback(r).await },
        )
        .await
    {
        dojo_transport::CallOutcome::Rejected { status, .. } => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument)
        }
        other => panic!("{}", other.kind()),
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tasks_are_refused_or_declined_and_strangers_rejected() {
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(HumanProvider { max_results: 1 }),
        config(true),
    )
    .await;
    let (alice, t) = (dendrite("//Alice"), m.target());

    // Already past its deadline: refused, nothing stored.
    let mut late = text_task("late", Duration::from_secs(600));
    late.task.as_mut().unwrap().expire_at = Some(prost_types::Timestamp {
        seconds: 1,
        nanos: 0,
    });
    let e = send(&alice, &t, late).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("deadline"), "{}", e.message());
    assert_eq!(
        fetch(&alice, &t, "late").await.unwrap_err().code(),
        tonic::Code::NotFound
    );

    // No completions / unknown enum value: typed refusals.
    let mut empty = text_task("empty", Duration::from_secs(600));
    empty.task.as_mut().unwrap().completions.clear();
    assert_eq!(
        send(&alice, &t, empty).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    let mut weird = text_task("weird", Duration::from_secs(600));
    weird.task.as_mut().unwrap().task_type = 77;
    assert_eq!(
        send(&alice, &t, weird).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );

    // Media cannot be rendered for workers: declined, and the status says so.
    let mut media = text_task("media", Duration::from_secs(600));
    media.task.as_mut().unwrap().completions[0].content =
        Some(v1::completion::Content::Media(v1::MediaAnswer {
            files: vec![],
        }));
    let ack = send(&alice, &t, media).await.unwrap();
    assert_eq!(ack.miner_task_id, "", "declined tasks get no miner id");
    let r = fetch(&alice, &t, "media").await.unwrap();
    assert_eq!(r.status, v1::ResultStatus::Declined as i32);

    // A hotkey that is not on the subnet is refused by the axon layer.
    let eve = dendrite("//Eve");
    let out = eve
        .call(&t, v1::HeartbeatRequest {}, |mut c, r| async move {
            c.heartbeat(r).await
        })
        .await;
    assert_eq!(out.reject_reason(), Some("unregistered"), "{}", out.kind());
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_provider_answers_and_expiry_without_results_reads_expired() {
    let (devnet, owner) = devnet();
    let judge = Arc::new(FixedJudge::default());
    let m = start_miner(&devnet, &owner, judge.clone(), config(false)).await;
    let (alice, t) = (dendrite("//Alice"), m.target());
    send(&alice, &t, text_task("auto", Duration::from_secs(600)))
        .await
        .unwrap();
    let mut r = fetch(&alice, &t, "auto").await.unwrap();
    for _ in 0..100 {
        if r.status == v1::ResultStatus::Complete as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        r = fetch(&alice, &t, "auto").await.unwrap();
    }
    assert_eq!(r.status, v1::ResultStatus::Complete as i32);
    assert_eq!(r.results.len(), 1);
    assert_eq!(r.results[0].answers.len(), 2);
    assert_eq!(judge.calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Sent one second before its deadline and never judged (the store is written directly, the
    // way a task looks whose judge failed): expired, not pending.
    let caller = key("//Alice").ss58();
    let task: Task = text_task("stale", Duration::from_secs(1))
        .try_into()
        .unwrap();
    m.store
        .insert_task(
            &caller,
            &task,
            "mt-stale",
            dojo_miner::store::TaskState::Open,
            None,
            0,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = fetch(&alice, &t, "stale").await.unwrap();
    assert_eq!(r.status, v1::ResultStatus::Expired as i32);
    m.stop().await;
}

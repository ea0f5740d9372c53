//! Storage on its own: what survives a reopen, and expiry.

use std::time::Duration;

use dojo_miner::Store;
use dojo_miner::store::{Inserted, ResultRefused, TaskState};
use dojo_types::task::{Answer, CompletionAnswer, Task, WorkerResult};
use dojo_types::{Score, TaskId};

use crate::fixtures::*;

fn result(worker: &str) -> WorkerResult {
    WorkerResult {
        worker_id: worker.into(),
        answers: vec![CompletionAnswer {
            completion: dojo_types::CompletionId::new("c-a").unwrap(),
            answer: Answer::Score(Score::new(5.0).unwrap()),
        }],
    }
}

#[tokio::test]
async fn committed_rows_survive_reopen_and_purge_drops_old_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let caller = key("//Alice").ss58();
    let task: Task = text_task("t-1", Duration::from_secs(60))
        .try_into()
        .unwrap();
    let now = dojo_miner::grpc::now_ms();
    {
        let s = Store::open(&path).await.unwrap();
        assert_eq!(
            s.insert_task(&caller, &task, "mt-1", TaskState::Open, None, now)
                .await
                .unwrap(),
            Inserted::New
        );
        s.add_result(&caller, &task.id, &result("w1"), 2, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            s.add_result(&caller, &task.id, &result("w1"), 2, now)
                .await
                .unwrap(),
            Err(ResultRefused::Duplicate)
        );
        s.add_result(&caller, &task.id, &result("w2"), 2, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            s.add_result(&caller, &task.id, &result("w3"), 2, now)
                .await
                .unwrap(),
            Err(ResultRefused::Full { max: 2 })
        );
        assert_eq!(
            s.add_result(
                &caller,
                &TaskId::new("other").unwrap(),
                &result("w1"),
                2,
                now
            )
            .await
            .unwrap(),
            Err(ResultRefused::UnknownTask)
        );
        s.close().await;
    }
    let s = Store::open(&path).await.unwrap();
    let stored = s.task(&caller, &task.id).await.unwrap().unwrap();
    assert_eq!(stored.task, task);
    assert_eq!(stored.num_results, 2);
    assert_eq!(
        s.results(&caller, &task.id).await.unwrap(),
        vec![result("w1"), result("w2")]
    );
    assert_eq!(
        s.task_by_miner_id("mt-1").await.unwrap().unwrap().task.id,
        task.id
    );
    // Within retention nothing goes; after it the task and its results do.
    let deadline = task.expire_at_unix_ms;
    assert_eq!(
        s.purge(deadline + 1_000, Duration::from_secs(10))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.purge(deadline + 20_000, Duration::from_secs(10))
            .await
            .unwrap(),
        1
    );
    assert!(s.task(&caller, &task.id).await.unwrap().is_none());
    assert!(s.results(&caller, &task.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn expired_sessions_and_revoked_keys_are_not_live() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("k.sqlite")).await.unwrap();
    let now = dojo_miner::grpc::now_ms();
    let key = dojo_miner::keys::generate(&s, dojo_miner::store::KeyKind::Subscription, now)
        .await
        .unwrap();
    let hash = dojo_miner::keys::hash_secret(&key.secret);
    assert!(s.live_key(&hash).await.unwrap().is_some());
    let session = |expires_at_ms| dojo_miner::store::Session {
        worker_id: "w".into(),
        key_id: key.id.clone(),
        expires_at_ms,
    };
    s.insert_session("old", &session(now - 1)).await.unwrap();
    s.insert_session("new", &session(now + 60_000))
        .await
        .unwrap();
    assert!(s.session("old", now).await.unwrap().is_none(), "expired");
    assert!(s.session("new", now).await.unwrap().is_some());
    assert!(s.session("forged", now).await.unwrap().is_none());
    assert!(s.revoke_key(&key.id, now).await.unwrap());
    assert!(s.live_key(&hash).await.unwrap().is_none());
    assert!(
        s.session("new", now).await.unwrap().is_none(),
        "revoking ends sessions"
    );
    assert!(
        !s.revoke_key(&key.id, now).await.unwrap(),
        "already revoked"
    );
}

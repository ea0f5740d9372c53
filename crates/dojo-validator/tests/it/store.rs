//! The store on both backends: round trips, once-only transitions, atomic scoring, restarts.

use dojo_scoring::{Answer, CompletionMap};
use dojo_types::task::{Completion, CompletionContent, Task, TaskType};
use dojo_types::{CompletionId, Criterion, Hotkey, Ranking, TaskId, Uid};
use dojo_validator::scores::ScoreBook;
use dojo_validator::store::{Collected, Store, StoreError, Submission};
use dojo_validator::view::MinerView;
use rand::SeedableRng;

use crate::both_backends;

pub(crate) fn task(id: &str, expire: i64) -> (Task, Ranking) {
    let ids: Vec<CompletionId> = (0..4)
        .map(|i| CompletionId::new(format!("{id}-c{i}")).unwrap())
        .collect();
    let task = Task {
        id: TaskId::new(id).unwrap(),
        previous: None,
        prompt: format!("prompt of {id} with 'quotes' and \"double\" and ünïcode"),
        task_type: TaskType::CodeGeneration,
        completions: ids
            .iter()
            .map(|c| Completion {
                id: c.clone(),
                content: CompletionContent::Text(format!("<html>{c}</html>")),
            })
            .collect(),
        criteria: vec![Criterion::MultiScore {
            options: ids.iter().map(|c| c.to_string()).collect(),
            min: 1.0,
            max: 100.0,
        }],
        expire_at_unix_ms: expire,
    };
    let truth = Ranking::new(ids.into_iter().enumerate().map(|(i, c)| (c, i as u32))).unwrap();
    (task, truth)
}

pub(crate) fn hk(s: &str) -> Hotkey {
    Hotkey::new(s).unwrap()
}

pub(crate) fn parts(t: &Task) -> Vec<(Hotkey, Uid, MinerView)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    vec![
        (hk("m1"), Uid(1), MinerView::random(t, &mut rng)),
        (hk("m2"), Uid(2), MinerView::random(t, &mut rng)),
    ]
}

pub(crate) fn answer(t: &Task) -> Answer {
    Answer::Scores(
        t.completions
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), 100.0 - 10.0 * i as f64))
            .collect::<CompletionMap<f64>>(),
    )
}

async fn round_trip(url: String) -> Store {
    let store = Store::open(&url).await.unwrap();
    let (t, truth) = task("t1", 1_000);
    let p = parts(&t);
    store.insert_round(&t, &truth, &p, 10).await.unwrap();
    assert!(matches!(
        store.insert_round(&t, &truth, &p, 11).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .record_send(&t.id, &hk("m1"), "acked", Some("mt-1"))
        .await
        .unwrap();
    let got = store.load(&t.id).await.unwrap();
    assert_eq!(got.task, t);
    assert_eq!(got.truth, truth);
    assert_eq!(got.status, "sent");
    assert_eq!(got.assignments.len(), 2);
    assert_eq!(got.assignments[0].view, p[0].2);
    assert_eq!(got.assignments[0].send_outcome.as_deref(), Some("acked"));
    assert_eq!(got.assignments[1].send_outcome, None);
    // Not due before its deadline, due after.
    assert!(
        store
            .tasks_in("sent", Some(999), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.tasks_in("sent", Some(1_000), 10).await.unwrap(),
        std::slice::from_ref(&t.id)
    );
    store
}
both_backends!(round_trip_and_deadlines, round_trip);

async fn once_only(url: String) -> Store {
    let store = Store::open(&url).await.unwrap();
    let (t1, g1) = task("a", 1);
    let (t2, g2) = task("b", 2);
    store.insert_round(&t1, &g1, &parts(&t1), 0).await.unwrap();
    store.insert_round(&t2, &g2, &parts(&t2), 0).await.unwrap();
    let c = vec![
        Collected {
            hotkey: hk("m1"),
            outcome: "accepted".into(),
            reason: None,
            answer: Some(answer(&t1)),
        },
        Collected {
            hotkey: hk("m2"),
            outcome: "rejected".into(),
            reason: Some("out_of_range".into()),
            answer: None,
        },
    ];
    store.record_collection(&t1.id, &c, 5).await.unwrap();
    assert!(matches!(
        store.record_collection(&t1.id, &c[..1], 6).await,
        Err(StoreError::Conflict(_))
    ));
    let got = store.load(&t1.id).await.unwrap();
    assert_eq!(got.status, "collected");
    assert_eq!(got.responses, c);

    let book = ScoreBook {
        entries: vec![(None, 0.0), (Some(hk("m1")), 0.25), (Some(hk("m2")), 0.0)],
    };
    store
        .apply_scores(&[(t1.id.clone(), vec![(hk("m1"), 1.0)])], &book, 7)
        .await
        .unwrap();
    assert_eq!(store.load_ema().await.unwrap(), book);
    // A batch holding an already scored task writes nothing at all.
    store.record_collection(&t2.id, &c[..1], 8).await.unwrap();
    let mut other = book.clone();
    other.entries[1].1 = 0.9;
    let r = store
        .apply_scores(
            &[
                (t2.id.clone(), vec![(hk("m1"), 0.5)]),
                (t1.id.clone(), vec![(hk("m1"), 1.0)]),
            ],
            &other,
            9,
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))));
    assert_eq!(store.load_ema().await.unwrap(), book, "EMA untouched");
    assert_eq!(
        store.load(&t2.id).await.unwrap().status,
        "collected",
        "t2 untouched"
    );
    assert!(store.task_scores(&t2.id).await.unwrap().is_empty());
    assert_eq!(store.task_scores(&t1.id).await.unwrap()[&hk("m1")], 1.0);
    assert_eq!(store.count("scored").await.unwrap(), 1);
    store
}
both_backends!(transitions_happen_once_and_atomically, once_only);

async fn submissions(url: String) -> Store {
    let store = Store::open(&url).await.unwrap();
    let s = Submission {
        id: "s1".into(),
        kind: "commit".into(),
        block: 42,
        uids: vec![0, 3],
        weights: vec![65535, 100],
        salt: vec![1, 2, 3, 65535],
        version_key: u64::from(u32::MAX) + 5,
        status: "pending".into(),
        error: None,
    };
    store.insert_submission(&s, 1).await.unwrap();
    assert!(
        store.insert_submission(&s, 1).await.is_err(),
        "ids are unique"
    );
    assert_eq!(
        store.submissions(None).await.unwrap(),
        std::slice::from_ref(&s)
    );
    store
        .resolve_submission("s1", "rejected", Some("MaxWeightExceeded"), 2)
        .await
        .unwrap();
    assert!(store.submissions(Some("pending")).await.unwrap().is_empty());
    let got = store.submissions(Some("rejected")).await.unwrap();
    assert_eq!(got[0].error.as_deref(), Some("MaxWeightExceeded"));
    assert_eq!(got[0].salt, s.salt);
    store
}
both_backends!(weight_submissions_keep_salt_and_outcome, submissions);

async fn reopen(url: String) -> Store {
    let store = Store::open(&url).await.unwrap();
    let (t, g) = task("r", 1);
    store.insert_round(&t, &g, &parts(&t), 0).await.unwrap();
    store.close().await;
    // Migrations are idempotent and data survives a restart.
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.load(&t.id).await.unwrap().task, t);
    store
}
both_backends!(reopening_keeps_data, reopen);

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let (db, url) = crate::db::Db::sqlite();
    let store = Store::open(&url).await.unwrap();
    store.close().await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO dojo_schema (version) VALUES (99)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(matches!(
        Store::open(&url).await,
        Err(StoreError::NewerSchema { found: 99, .. })
    ));
    db.drop_db(None).await;
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    let (db, url) = crate::db::Db::sqlite();
    let store = Store::open(&url).await.unwrap();
    store.close().await;
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let row = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    let mode: String = sqlx::Row::try_get(&row, 0).unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    pool.close().await;
    db.drop_db(None).await;
}

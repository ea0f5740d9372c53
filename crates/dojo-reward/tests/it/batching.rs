//! The dynamic batcher: gathering, length bucketing, backpressure, per-caller results.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dojo_reward::batching::{Batcher, BatcherConfig};
use dojo_reward::{RewardError, RewardInput, RewardModel};

use crate::model;

/// Test double: scores by completion length, records batch sizes, fails on the prompt "boom",
/// and can be slowed down.
#[derive(Debug, Default)]
struct Recorder {
    batches: Mutex<Vec<Vec<usize>>>,
    delay: Duration,
}

impl RewardModel for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
        self.batches
            .lock()
            .unwrap()
            .push(batch.iter().map(|i| i.completion.len()).collect());
        if !self.delay.is_zero() {
            std::thread::park_timeout(self.delay);
        }
        if batch.iter().any(|i| i.prompt == "boom") {
            return Err(RewardError::InvalidInput("boom".into()));
        }
        Ok(batch.iter().map(|i| i.completion.len() as f32).collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_are_batched_and_answered_in_order() {
    let rec = Arc::new(Recorder::default());
    let cfg = BatcherConfig {
        max_batch: 16,
        max_wait: Duration::from_millis(50),
        run_batch: 4,
        queue: 64,
    };
    let b = Arc::new(Batcher::new(rec.clone(), cfg).unwrap());
    let mut tasks = Vec::new();
    for i in 0..16 {
        let b = b.clone();
        tasks.push(tokio::spawn(
            async move { b.score("q", "x".repeat(i)).await },
        ));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap().unwrap(), i as f32);
    }
    let batches = rec.batches.lock().unwrap().clone();
    assert!(batches.iter().all(|b| b.len() <= 4), "{batches:?}");
    // Gathered: far fewer model calls than requests, and each chunk is sorted by length.
    assert!(batches.len() < 16, "{batches:?}");
    assert!(
        batches.iter().all(|b| b.windows(2).all(|w| w[0] <= w[1])),
        "{batches:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_item_fails_only_its_caller() {
    let rec = Arc::new(Recorder::default());
    let cfg = BatcherConfig {
        max_batch: 8,
        max_wait: Duration::from_millis(50),
        run_batch: 8,
        queue: 8,
    };
    let b = Arc::new(Batcher::new(rec, cfg).unwrap());
    let (x, y, z) = tokio::join!(
        b.score("q", "aa"),
        b.score("boom", "bbb"),
        b.score("q", "c")
    );
    assert_eq!(x.unwrap(), 2.0);
    assert!(matches!(y, Err(RewardError::InvalidInput(_))));
    assert_eq!(z.unwrap(), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_pushes_back() {
    let rec = Arc::new(Recorder {
        delay: Duration::from_millis(300),
        ..Recorder::default()
    });
    let cfg = BatcherConfig {
        max_batch: 1,
        max_wait: Duration::ZERO,
        run_batch: 1,
        queue: 1,
    };
    let b = Arc::new(Batcher::new(rec, cfg).unwrap());
    // One request occupies the worker, one fills the queue; the next try_score is refused.
    let b1 = b.clone();
    let first = tokio::spawn(async move { b1.score("q", "a").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let b2 = b.clone();
    let second = tokio::spawn(async move { b2.score("q", "bb").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = b.try_score("q", "ccc").await;
    assert!(
        matches!(refused, Err(RewardError::Unavailable(_))),
        "{refused:?}"
    );
    assert_eq!(first.await.unwrap().unwrap(), 1.0);
    assert_eq!(second.await.unwrap().unwrap(), 2.0);
    // Once drained, requests are accepted again.
    assert_eq!(b.try_score("q", "ddd").await.unwrap(), 3.0);
}

#[test]
fn shutdown_finishes_and_refuses() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let b = Batcher::new(Arc::new(Recorder::default()), BatcherConfig::default()).unwrap();
    assert_eq!(rt.block_on(b.score("q", "abc")).unwrap(), 3.0);
    b.shutdown();
    assert!(
        Batcher::new(
            Arc::new(Recorder::default()),
            BatcherConfig {
                max_batch: 0,
                ..BatcherConfig::default()
            }
        )
        .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_model_through_the_batcher_matches_direct_scoring() {
    let Some(m) = model() else { return };
    let texts = [
        "Paris is the capital of France.",
        "",
        "Lyon.",
        "The capital of France is Paris, a city on the Seine.",
    ];
    let direct: Vec<f32> = texts
        .iter()
        .map(|t| {
            m.score_batch(&[RewardInput::new("What is the capital of France?", t)])
                .unwrap()[0]
        })
        .collect();
    let b = Arc::new(
        Batcher::new(
            m,
            BatcherConfig {
                max_wait: Duration::from_millis(20),
                ..BatcherConfig::default()
            },
        )
        .unwrap(),
    );
    let futs: Vec<_> = texts
        .iter()
        .map(|t| {
            let b = b.clone();
            let t = t.to_string();
            tokio::spawn(async move { b.score("What is the capital of France?", t).await })
        })
        .collect();
    for (f, d) in futs.into_iter().zip(direct) {
        let s = f.await.unwrap().unwrap();
        assert!((s - d).abs() < 1e-4, "{s} vs {d}");
    }
}

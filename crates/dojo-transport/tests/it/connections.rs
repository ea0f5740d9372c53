//! The dendrite's own HTTP/2 connections: flow control both ways, and axons that go away.

use std::time::Duration;

use dojo_proto::v1;
use dojo_transport::{CallOutcome, Dendrite, DendriteConfig};

use crate::fixtures::{EchoMiner, info, key, start_axon, start_axon_on};

fn dendrite(validator: &dojo_identity::Keypair) -> Dendrite {
    Dendrite::new(
        validator.clone(),
        DendriteConfig {
            timeout: Duration::from_secs(10),
            ..DendriteConfig::default()
        },
    )
}

/// 3 MiB each way is more than the axon's receive window for one stream, and three of them
/// are more than the dendrite's window for the whole connection, so the calls only finish if
/// both ends hand flow-control capacity back as they read.
#[tokio::test]
async fn large_requests_and_responses_pass_flow_control() {
    let validator = key("//Validator");
    let callers = vec![(validator.ss58(), info(1, 1.0, true))];
    let axon = start_axon(&key("//Miner"), |_| {}, callers, EchoMiner::default()).await;
    let d = dendrite(&validator);
    for round in 0..3 {
        // The echo miner answers with the task id it was asked for.
        let id = format!("{round}{}", "x".repeat(3 << 20));
        let out = d
            .call(
                &axon.target,
                v1::FetchResultsRequest {
                    task_id: id.clone(),
                },
                |mut c, r| async move { c.fetch_results(r).await },
            )
            .await;
        match out {
            CallOutcome::Success { response, .. } => assert!(response.task_id == id),
            other => panic!("round {round}: {other:?}"),
        }
    }
}

/// An axon that restarts closes the dendrite's connection; the next call opens a new one
/// instead of failing on the old.
#[tokio::test]
async fn a_closed_connection_is_replaced_before_the_next_call() {
    let validator = key("//Validator");
    let miner_key = key("//Miner");
    let callers = || vec![(validator.ss58(), info(1, 1.0, true))];
    let first = start_axon(&miner_key, |_| {}, callers(), EchoMiner::default()).await;
    let target = first.target.clone();
    let d = dendrite(&validator);
    let heartbeat = |d: Dendrite, t| async move {
        d.call(&t, v1::HeartbeatRequest {}, |mut c, r| async move {
            c.heartbeat(r).await
        })
        .await
    };
    let before = heartbeat(d.clone(), target.clone()).await;
    assert!(before.success().is_some(), "{before:?}");
    let first_peer = first.miner.callers.lock().unwrap()[0].1;

    drop(first);
    // Graceful shutdown sends GOAWAY and closes the connection once it is idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = start_axon_on(
        target.addr,
        &miner_key,
        |_| {},
        callers(),
        EchoMiner::default(),
    )
    .await;
    let after = heartbeat(d.clone(), target.clone()).await;
    assert!(after.success().is_some(), "{after:?}");
    let second_peer = second.miner.callers.lock().unwrap()[0].1;
    assert_ne!(first_peer, second_peer);
}

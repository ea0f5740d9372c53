use std::time::Duration;

use dojo_transport::{AxonTarget, CallOutcome, Dendrite, DendriteConfig};

use crate::fixtures::{EchoMiner, info, key, start_axon, task};

#[tokio::test]
async fn each_target_gets_its_own_outcome_and_slow_ones_do_not_delay_others() {
    let validator = key("//Validator");
    let callers = || vec![(validator.ss58(), info(1, 1.0, true))];
    let good = start_axon(&key("//Good"), |_| {}, callers(), EchoMiner::default()).await;
    let slow_miner = EchoMiner {
        delay: Duration::from_secs(5),
        ..EchoMiner::default()
    };
    let slow = start_axon(&key("//Slow"), |_| {}, callers(), slow_miner).await;
    // This axon does not know the validator.
    let picky = start_axon(&key("//Picky"), |_| {}, vec![], EchoMiner::default()).await;
    // A port with nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let targets = vec![
        good.target.clone(),
        slow.target.clone(),
        picky.target.clone(),
        AxonTarget {
            addr: closed,
            hotkey: key("//Closed").ss58(),
        },
    ];
    let d = Dendrite::new(
        validator.clone(),
        DendriteConfig {
            timeout: Duration::from_millis(700),
            connect_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    let out = d
        .broadcast(&targets, task("t", 10), |mut c, r| async move {
            c.send_task(r).await
        })
        .await;
    let kinds: Vec<_> = out.iter().map(CallOutcome::kind).collect();
    assert_eq!(
        kinds,
        ["success", "timeout", "rejected", "refused"],
        "{out:?}"
    );
    assert_eq!(out[2].reject_reason(), Some("unregistered"));
    assert!(out[0].elapsed() < out[1].elapsed());

    // Connections are reused: a second round from the same dendrite arrives from the same peer port.
    let again = d
        .broadcast(&targets[..1], task("t2", 10), |mut c, r| async move {
            c.send_task(r).await
        })
        .await;
    assert!(again[0].success().is_some());
    let peers: Vec<_> = good
        .miner
        .callers
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0], peers[1]);
}

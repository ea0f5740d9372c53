use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dojo_identity::Keypair;
use dojo_proto::v1::{self, miner_client::MinerClient};
use dojo_transport::headers::{self, SignedHeaders};
use dojo_transport::reject::reason_of;
use dojo_transport::{Dendrite, DendriteConfig, RateLimit};
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;

use crate::fixtures::{EchoMiner, TestAxon, info, key, start_axon, task};

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Signs `body` by hand so tests can bend any field.
fn signed(
    signer: &Keypair,
    claimed: &Keypair,
    axon: &Keypair,
    nonce: u64,
    body: &[u8],
) -> SignedHeaders {
    let body_hash = headers::body_hash(body);
    let msg = headers::signing_message(
        nonce,
        &claimed.ss58(),
        &axon.ss58(),
        "test-uuid",
        &body_hash,
    );
    SignedHeaders {
        dendrite_hotkey: claimed.ss58(),
        uuid: "test-uuid".to_owned(),
        nonce,
        axon_hotkey: axon.ss58(),
        body_hash,
        signature: signer.sign(msg.as_bytes()),
    }
}

async fn client(axon: &TestAxon) -> MinerClient<Channel> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{}", axon.target.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    MinerClient::new(ch)
}

async fn send(
    c: &mut MinerClient<Channel>,
    h: &SignedHeaders,
    req: v1::SendTaskRequest,
) -> Result<v1::TaskAck, tonic::Status> {
    let mut map = http::HeaderMap::new();
    h.write(&mut map);
    let mut r = tonic::Request::new(req);
    *r.metadata_mut() = tonic::metadata::MetadataMap::from_headers(map);
    c.send_task(r).await.map(tonic::Response::into_inner)
}

#[track_caller]
fn refused(r: Result<v1::TaskAck, tonic::Status>, code: Code, reason: &str) {
    let status = r.expect_err("request must be refused");
    assert_eq!(
        (status.code(), reason_of(&status)),
        (code, Some(reason)),
        "{status:?}"
    );
    assert!(!status.message().is_empty());
}

struct World {
    miner: Keypair,
    validator: Keypair,
    minnow: Keypair,
    stranger: Keypair,
    axon: TestAxon,
}

async fn world(configure: impl FnOnce(&mut dojo_transport::AxonConfig)) -> World {
    let (miner, validator, minnow, stranger) = (
        key("//Miner"),
        key("//Validator"),
        key("//Minnow"),
        key("//Stranger"),
    );
    let callers = vec![
        (validator.ss58(), info(1, 10_000.0, true)),
        (minnow.ss58(), info(2, 10.0, false)),
    ];
    let axon = start_axon(
        &miner,
        |c| {
            c.min_stake = 5_000.0;
            configure(c);
        },
        callers,
        EchoMiner::default(),
    )
    .await;
    World {
        miner,
        validator,
        minnow,
        stranger,
        axon,
    }
}

#[tokio::test]
async fn honest_call_is_served_with_the_verified_caller() {
    let w = world(|_| {}).await;
    let d = Dendrite::new(w.validator.clone(), DendriteConfig::default());
    let out = d
        .call(&w.axon.target, task("t1", 10), |mut c, r| async move {
            c.send_task(r).await
        })
        .await;
    assert_eq!(
        out.success().map(|a| a.miner_task_id.as_str()),
        Some("m-t1"),
        "{out:?}"
    );
    let (caller, _) = w.axon.miner.callers.lock().unwrap()[0].clone();
    assert_eq!(
        (caller.hotkey, caller.uid.0, caller.stake),
        (w.validator.ss58(), 1, 10_000.0)
    );
}

#[tokio::test]
async fn every_bad_request_is_refused_with_its_own_status() {
    let w = world(|c| c.max_body_bytes = 64 * 1024).await;
    let mut c = client(&w.axon).await;
    let req = task("t", 10);
    let body = req.encode_to_vec();
    let (m, v) = (&w.miner, &w.validator);

    // Forged: claims the validator's hotkey, signed by someone else.
    refused(
        send(
            &mut c,
            &signed(&w.stranger, v, m, now_ns(), &body),
            req.clone(),
        )
        .await,
        Code::Unauthenticated,
        "bad-signature",
    );
    // Unsigned.
    let mut map = http::HeaderMap::new();
    signed(v, v, m, now_ns(), &body).write(&mut map);
    map.remove(headers::DENDRITE_SIGNATURE);
    let mut r = tonic::Request::new(req.clone());
    *r.metadata_mut() = tonic::metadata::MetadataMap::from_headers(map);
    refused(
        c.send_task(r).await.map(tonic::Response::into_inner),
        Code::Unauthenticated,
        "missing-signature",
    );
    // Malformed nonce.
    let mut map = http::HeaderMap::new();
    signed(v, v, m, now_ns(), &body).write(&mut map);
    map.insert(
        headers::DENDRITE_NONCE,
        http::HeaderValue::from_static("12abc"),
    );
    let mut r = tonic::Request::new(req.clone());
    *r.metadata_mut() = tonic::metadata::MetadataMap::from_headers(map);
    refused(
        c.send_task(r).await.map(tonic::Response::into_inner),
        Code::InvalidArgument,
        "malformed-header",
    );
    // Signed for another axon.
    refused(
        send(
            &mut c,
            &signed(v, v, &w.stranger, now_ns(), &body),
            req.clone(),
        )
        .await,
        Code::FailedPrecondition,
        "wrong-axon",
    );
    // Stale nonce: a minute old.
    refused(
        send(
            &mut c,
            &signed(v, v, m, now_ns() - 60_000_000_000, &body),
            req.clone(),
        )
        .await,
        Code::OutOfRange,
        "stale-nonce",
    );
    // Far-future nonce.
    refused(
        send(
            &mut c,
            &signed(v, v, m, now_ns() + 60_000_000_000, &body),
            req.clone(),
        )
        .await,
        Code::OutOfRange,
        "stale-nonce",
    );
    // Replayed: the same signed request twice.
    let once = signed(v, v, m, now_ns(), &body);
    assert_eq!(
        send(&mut c, &once, req.clone())
            .await
            .unwrap()
            .miner_task_id,
        "m-t"
    );
    refused(
        send(&mut c, &once, req.clone()).await,
        Code::AlreadyExists,
        "replayed-nonce",
    );
    // An older nonce than the last accepted one, still inside the window.
    refused(
        send(
            &mut c,
            &signed(v, v, m, once.nonce - 1_000_000, &body),
            req.clone(),
        )
        .await,
        Code::AlreadyExists,
        "replayed-nonce",
    );
    // Unregistered caller, properly signed.
    let s = &w.stranger;
    refused(
        send(&mut c, &signed(s, s, m, now_ns(), &body), req.clone()).await,
        Code::NotFound,
        "unregistered",
    );
    // Registered but below the stake minimum.
    let n = &w.minnow;
    refused(
        send(&mut c, &signed(n, n, m, now_ns(), &body), req.clone()).await,
        Code::PermissionDenied,
        "low-stake",
    );
    // Body swapped after signing.
    refused(
        send(&mut c, &signed(v, v, m, now_ns(), &body), task("other", 10)).await,
        Code::DataLoss,
        "body-hash-mismatch",
    );
    // Oversized body, properly signed.
    let big = task("big", 128 * 1024);
    refused(
        send(
            &mut c,
            &signed(v, v, m, now_ns(), &big.encode_to_vec()),
            big,
        )
        .await,
        Code::ResourceExhausted,
        "body-too-large",
    );
    // Forged again, now that the validator's key is known to the axon from its honest call.
    refused(
        send(
            &mut c,
            &signed(&w.stranger, v, m, now_ns(), &body),
            task("forged-later", 10),
        )
        .await,
        Code::Unauthenticated,
        "bad-signature",
    );
    // Only the one honest request reached the handler.
    assert_eq!(
        w.axon
            .miner
            .served
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn validator_permit_and_rate_limit() {
    let w = world(|c| {
        c.min_stake = 0.0;
        c.require_validator_permit = true;
        c.rate_limit = RateLimit {
            per_second: 0.001,
            burst: 2,
        };
    })
    .await;
    let mut c = client(&w.axon).await;
    let req = task("t", 1);
    let body = req.encode_to_vec();
    let (m, v, n) = (&w.miner, &w.validator, &w.minnow);
    refused(
        send(&mut c, &signed(n, n, m, now_ns(), &body), req.clone()).await,
        Code::PermissionDenied,
        "no-validator-permit",
    );
    for _ in 0..2 {
        send(&mut c, &signed(v, v, m, now_ns(), &body), req.clone())
            .await
            .unwrap();
    }
    refused(
        send(&mut c, &signed(v, v, m, now_ns(), &body), req.clone()).await,
        Code::ResourceExhausted,
        "rate-limited",
    );
}

#[tokio::test]
async fn honest_caller_is_served_during_a_flood() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let w = world(|c| c.max_body_bytes = 16 * 1024).await;
    let (m, v) = (w.miner.clone(), w.validator.clone());
    // The flood runs until the honest calls are done, so every honest call competes with it.
    let (honest_started, honest_done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let mut attackers = Vec::new();
    for a in 0..6u64 {
        let (m, v, s, n) = (m.clone(), v.clone(), w.stranger.clone(), w.minnow.clone());
        let (started, done) = (honest_started.clone(), honest_done.clone());
        let mut c = client(&w.axon).await;
        attackers.push(tokio::spawn(async move {
            let req = task("flood", 100);
            let body = req.encode_to_vec();
            let replay = signed(&v, &v, &m, now_ns(), &body);
            let (mut sent, mut admitted, mut during) = (0u64, 0u64, 0u64);
            let mut reasons = std::collections::BTreeSet::new();
            let mut i = 0u64;
            while i < 60 || !done.load(Ordering::SeqCst) {
                let h = match (a + i) % 5 {
                    0 => signed(&s, &v, &m, now_ns(), &body),
                    1 => replay.clone(),
                    2 => signed(&s, &s, &m, now_ns(), &body),
                    3 => signed(&n, &n, &m, now_ns(), &body),
                    _ => signed(&v, &v, &m, now_ns() - 120_000_000_000, &body),
                };
                let in_window = started.load(Ordering::SeqCst) && !done.load(Ordering::SeqCst);
                match send(&mut c, &h, req.clone()).await {
                    Ok(_) => admitted += 1,
                    Err(status) => {
                        reasons.insert(reason_of(&status).unwrap_or("none").to_owned());
                    }
                }
                sent += 1;
                during += u64::from(in_window);
                i += 1;
            }
            (sent, admitted, during, reasons)
        }));
    }
    let d = Dendrite::new(
        v,
        DendriteConfig {
            timeout: Duration::from_secs(10),
            ..DendriteConfig::default()
        },
    );
    honest_started.store(true, Ordering::SeqCst);
    for i in 0..30 {
        let out = d
            .call(
                &w.axon.target,
                task(&format!("h{i}"), 10),
                |mut c, r| async move { c.send_task(r).await },
            )
            .await;
        assert!(
            out.success().is_some(),
            "honest call {i} failed during flood: {out:?}"
        );
    }
    honest_done.store(true, Ordering::SeqCst);
    let mut flood_during_honest = 0;
    let mut reasons = std::collections::BTreeSet::new();
    for a in attackers {
        // Every attack request is refused, except that each attacker's captured request is a
        // valid one the first time it is seen (if no newer nonce was accepted before it).
        let (sent, admitted, during, r) = a.await.unwrap();
        assert!(sent >= 60, "an attacker sent only {sent} requests");
        assert!(
            admitted <= 1,
            "{admitted} of {sent} attack requests admitted"
        );
        flood_during_honest += during;
        reasons.extend(r);
    }
    // The honest calls above were made while attack requests were in flight, and the flood was
    // refused for the reasons it was built to trigger.
    assert!(
        flood_during_honest > 0,
        "no attack request overlapped the honest calls"
    );
    let want: std::collections::BTreeSet<String> = [
        "bad-signature",
        "replayed-nonce",
        "unregistered",
        "low-stake",
        "stale-nonce",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(reasons, want);
}

//! The `mturk` provider against a local MTurk double that checks every request's shape and
//! verifies its SigV4 signature independently (recomputed here with hmac + sha2), answering with
//! bodies shaped like MTurk's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dojo_miner::provider::mturk::{
    self, AwsCredentials, MturkClient, MturkConfig, MturkError, MturkProvider,
};
use dojo_miner::provider::{BoxFuture, JobLedger, Provider, ProviderError};
use dojo_proto::v1;
use dojo_transport::{AxonTarget, Dendrite};
use dojo_types::task::Task;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::fixtures::*;

const ACCESS_KEY: &str = "AKIDEXAMPLEDOJO";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Verifies an MTurk request's SigV4 signature with `secret`, from the canonical request (AWS's
/// published algorithm, written out here independently of the signer under test).
pub(crate) fn verify_sigv4(
    headers: &HeaderMap,
    body: &[u8],
    access_key: &str,
    secret: &str,
) -> Result<(), String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("no {name} header"))
    };
    let auth = header("authorization")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let mut parts = HashMap::new();
    for p in rest.split(", ") {
        let (k, v) = p.split_once('=').ok_or("malformed authorization")?;
        parts.insert(k, v);
    }
    let credential = parts.get("Credential").ok_or("no Credential")?;
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[0] != access_key {
        return Err(format!("credential {credential} is not for {access_key}"));
    }
    let (date, region, service) = (scope[1], scope[2], scope[3]);
    if region != "us-east-1" || service != "mturk-requester" || scope[4] != "aws4_request" {
        return Err(format!("scope {credential}"));
    }
    let signed = parts.get("SignedHeaders").ok_or("no SignedHeaders")?;
    for required in ["content-type", "host", "x-amz-date", "x-amz-target"] {
        if !signed.split(';').any(|h| h == required) {
            return Err(format!("{required} is not signed"));
        }
    }
    let amz_date = header("x-amz-date")?;
    if !amz_date.starts_with(date) {
        return Err("x-amz-date does not match the scope".to_owned());
    }
    let mut canonical = String::from("POST\n/\n\n");
    for h in signed.split(';') {
        canonical.push_str(h);
        canonical.push(':');
        canonical.push_str(header(h)?.trim());
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(signed);
    canonical.push('\n');
    canonical.push_str(&sha_hex(body));
    let scope_str = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope_str}\n{}",
        sha_hex(canonical.as_bytes())
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex::encode(hmac(&k_signing, to_sign.as_bytes()));
    let got = parts.get("Signature").ok_or("no Signature")?;
    if *got != expected {
        return Err("signature does not match".to_owned());
    }
    Ok(())
}

fn answer_xml(fields: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"ASCII\"?><QuestionFormAnswers xmlns=\"http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd\">",
    );
    for (k, v) in fields {
        s.push_str(&format!(
            "<Answer><QuestionIdentifier>{k}</QuestionIdentifier><FreeText>{v}</FreeText></Answer>"
        ));
    }
    s.push_str("</QuestionFormAnswers>");
    s
}

/// What the double saw and holds.
#[derive(Debug, Default)]
pub(crate) struct Double {
    secret: String,
    /// `(operation, body)` of every request whose signature verified.
    pub(crate) verified: Vec<(String, serde_json::Value)>,
    /// Requests refused for their signature.
    pub(crate) bad_signatures: usize,
    /// Shape problems seen (must stay empty).
    pub(crate) shape_errors: Vec<String>,
    /// `(assignment id, worker id, status, answer)`.
    assignments: Vec<(String, String, String, String)>,
    /// How many of `assignments` workers have submitted so far (`None`: all).
    pub(crate) visible: Option<usize>,
    pub(crate) approved: Vec<String>,
    /// `(assignment id, feedback)` of every rejection.
    pub(crate) rejected: Vec<(String, String)>,
    /// The `UniqueRequestToken` and annotation of the one HIT, once created.
    hit: Option<(String, String)>,
    /// `CreateHIT` calls refused as duplicates.
    pub(crate) duplicates: usize,
}

const HIT_ID: &str = "3HITDOUBLE000000000000000001";

type Shared = Arc<Mutex<Double>>;

fn error(kind: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        serde_json::json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

/// A `RequestError` with MTurk's own code, as the requester API sends it.
fn turk_error(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        serde_json::json!({"__type": "com.amazonaws.mturk#RequestError", "Message": message, "TurkErrorCode": code})
            .to_string(),
    )
        .into_response()
}

async fn handle(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut d = state.lock().unwrap();
    if let Err(e) = verify_sigv4(&headers, &body, ACCESS_KEY, &d.secret) {
        d.bad_signatures += 1;
        return error("InvalidSignatureException", &e);
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/x-amz-json-1.1")
    {
        d.shape_errors.push(format!("{target}: content-type"));
    }
    let Some(op) = target.strip_prefix("MTurkRequesterServiceV20170117.") else {
        d.shape_errors.push(format!("target {target}"));
        return error("RequestError", "unknown target");
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        d.shape_errors.push(format!("{op}: body is not JSON"));
        return error("RequestError", "not JSON");
    };
    d.verified.push((op.to_owned(), json.clone()));
    let reply = match op {
        "CreateHIT" => {
            for field in [
                "Title",
                "Description",
                "Reward",
                "MaxAssignments",
                "LifetimeInSeconds",
                "AssignmentDurationInSeconds",
                "Question",
                "UniqueRequestToken",
            ] {
                if json.get(field).is_none() {
                    d.shape_errors.push(format!("CreateHIT without {field}"));
                }
            }
            let q = json["Question"].as_str().unwrap_or_default();
            if !q.starts_with("<HTMLQuestion") || !q.contains("externalSubmit") {
                d.shape_errors
                    .push("CreateHIT: the question is not an HTMLQuestion form".to_owned());
            }
            for slider in ["name=\"completion-0\"", "name=\"completion-1\""] {
                if !q.contains(slider) {
                    d.shape_errors
                        .push(format!("CreateHIT: no slider {slider}"));
                }
            }
            if q.contains("<script>alert(1)") {
                d.shape_errors
                    .push("CreateHIT: task text reached the form unescaped".to_owned());
            }
            let token = json["UniqueRequestToken"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if d.hit.as_ref().is_some_and(|(t, _)| *t == token) {
                d.duplicates += 1;
                return turk_error(
                    "AWS.MechanicalTurk.HitAlreadyExists",
                    &format!(
                        "There is already a HIT which exists with the same UniqueRequestToken. HIT ID: {HIT_ID}"
                    ),
                );
            }
            if d.hit.is_some() {
                d.shape_errors.push("CreateHIT: a second HIT".to_owned());
            }
            let annotation = json["RequesterAnnotation"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            d.hit = Some((token, annotation));
            serde_json::json!({"HIT": {
                "HITId": HIT_ID, "HITTypeId": "3TYPEDOUBLE",
                "HITGroupId": "3GROUP", "CreationTime": 1764680000.0, "Title": json["Title"],
                "Question": json["Question"], "HITStatus": "Assignable",
                "MaxAssignments": json["MaxAssignments"], "Reward": json["Reward"],
                "NumberOfAssignmentsPending": 0, "NumberOfAssignmentsAvailable": json["MaxAssignments"],
                "NumberOfAssignmentsCompleted": 0
            }})
        }
        "GetHIT" => {
            let Some((_, annotation)) = d.hit.clone().filter(|_| json["HITId"] == HIT_ID) else {
                d.shape_errors.push(format!("GetHIT for {}", json["HITId"]));
                return error("RequestError", "no such HIT");
            };
            serde_json::json!({"HIT": {"HITId": HIT_ID, "RequesterAnnotation": annotation, "HITStatus": "Assignable"}})
        }
        "ListAssignmentsForHIT" => {
            if json["HITId"] != HIT_ID || d.hit.is_none() {
                d.shape_errors
                    .push(format!("ListAssignmentsForHIT for {}", json["HITId"]));
            }
            let visible = d.visible.unwrap_or(d.assignments.len());
            let wanted: Vec<&str> = json["AssignmentStatuses"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            let submitted: Vec<_> = d.assignments[..visible.min(d.assignments.len())]
                .iter()
                .filter(|a| wanted.contains(&a.2.as_str()))
                .collect();
            // Two pages: the first assignment, then the rest.
            let (page, next): (Vec<_>, Option<&str>) = if json.get("NextToken").is_none() {
                (submitted.iter().copied().take(1).collect(), Some("page-2"))
            } else {
                (submitted.iter().copied().skip(1).collect(), None)
            };
            let assignments: Vec<_> = page
                .iter()
                .map(|(id, worker, status, answer)| {
                    serde_json::json!({
                        "AssignmentId": id, "WorkerId": worker,
                        "HITId": HIT_ID, "AssignmentStatus": status,
                        "AutoApprovalTime": 1764766400.0, "AcceptTime": 1764680100.0,
                        "SubmitTime": 1764680200.0, "Answer": answer
                    })
                })
                .collect();
            let mut r =
                serde_json::json!({"NumResults": assignments.len(), "Assignments": assignments});
            if let Some(n) = next {
                r["NextToken"] = n.into();
            }
            r
        }
        "ApproveAssignment" => {
            let id = json["AssignmentId"].as_str().unwrap_or_default().to_owned();
            match d.assignments.iter_mut().find(|a| a.0 == id) {
                Some(a) if a.2 == "Submitted" => a.2 = "Approved".to_owned(),
                _ => {
                    d.shape_errors.push(format!("approving {id}"));
                    return error("RequestError", "not submitted");
                }
            }
            d.approved.push(id);
            serde_json::json!({})
        }
        "RejectAssignment" => {
            let id = json["AssignmentId"].as_str().unwrap_or_default().to_owned();
            let feedback = json["RequesterFeedback"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if feedback.is_empty() || feedback.chars().count() > 1024 {
                d.shape_errors
                    .push(format!("rejecting {id} with feedback {feedback:?}"));
            }
            match d.assignments.iter_mut().find(|a| a.0 == id) {
                Some(a) if a.2 == "Submitted" => a.2 = "Rejected".to_owned(),
                _ => {
                    d.shape_errors.push(format!("rejecting {id}"));
                    return error("RequestError", "not submitted");
                }
            }
            d.rejected.push((id, feedback));
            serde_json::json!({})
        }
        other => {
            d.shape_errors.push(format!("unexpected operation {other}"));
            return error("RequestError", "unknown operation");
        }
    };
    (
        [("content-type", "application/x-amz-json-1.1")],
        reply.to_string(),
    )
        .into_response()
}

async fn start_double(secret: &str) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Double {
        secret: secret.to_owned(),
        assignments: vec![
            (
                "A1".into(),
                "WORKER1".into(),
                "Submitted".into(),
                answer_xml(&[
                    ("assignmentId", "A1"),
                    ("completion-0", "73"),
                    ("completion-1", "20"),
                ]),
            ),
            (
                "A2".into(),
                "WORKER2".into(),
                "Submitted".into(),
                answer_xml(&[("completion-1", "100"), ("completion-0", "1")]),
            ),
            // A broken form: rejected, not stored.
            (
                "A3".into(),
                "WORKER3".into(),
                "Submitted".into(),
                answer_xml(&[("completion-0", "abc"), ("completion-1", "50")]),
            ),
        ],
        ..Double::default()
    }));
    let app = axum::Router::new()
        .route("/", axum::routing::post(handle))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

fn credentials(secret: &str) -> AwsCredentials {
    AwsCredentials {
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mturk_hits_are_signed_polled_approved_and_returned_through_fetch_results() {
    let (url, double) = start_double(SECRET).await;
    let client = MturkClient::new(&url, credentials(SECRET)).unwrap();
    let provider = MturkProvider::new(
        client,
        MturkConfig {
            reward: "0.07".to_owned(),
            assignments_per_hit: 3,
            poll_interval: Duration::from_millis(200),
            ..MturkConfig::default()
        },
    );
    let (devnet, owner) = devnet();
    let miner = start_miner(&devnet, &owner, Arc::new(provider), config(false)).await;
    let alice = dendrite("//Alice");
    let t = miner.target();
    let ack = send(&alice, &t, text_task("t-mturk", Duration::from_secs(600)))
        .await
        .unwrap();
    assert!(ack.miner_task_id.starts_with("mt-"), "{ack:?}");

    let mut got = None;
    for _ in 0..100 {
        let r = fetch(&alice, &t, "t-mturk").await.unwrap();
        if r.results.len() == 2 {
            got = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = got.expect("two MTurk workers' results through FetchResults");
    // Three assignments per HIT, one unusable: pending until the deadline.
    assert_eq!(r.status, v1::ResultStatus::Pending as i32);
    let mut by_worker: Vec<(String, Vec<(String, f64)>)> = r
        .results
        .iter()
        .map(|w| {
            let scores = w
                .answers
                .iter()
                .map(|a| match a.answer {
                    Some(v1::completion_answer::Answer::Score(s)) => (a.completion_id.clone(), s),
                    ref other => panic!("unexpected answer {other:?}"),
                })
                .collect();
            (w.worker_id.clone(), scores)
        })
        .collect();
    by_worker.sort_by(|a, b| a.0.cmp(&b.0));
    // A 1–100 score criterion: slider v becomes 1 + (v − 1)/99 · 99 = v.
    let expect = [
        ("mturk-WORKER1", [("c-a", 73.0), ("c-b", 20.0)]),
        ("mturk-WORKER2", [("c-a", 1.0), ("c-b", 100.0)]),
    ];
    for ((worker, scores), (want_worker, want)) in by_worker.iter().zip(expect) {
        assert_eq!(worker, want_worker);
        for ((id, s), (want_id, want_s)) in scores.iter().zip(want) {
            assert_eq!(id, want_id);
            assert!((s - want_s).abs() < 1e-9, "{worker} {id}: {s} != {want_s}");
        }
    }

    {
        let d = double.lock().unwrap();
        assert!(d.shape_errors.is_empty(), "{:?}", d.shape_errors);
        assert_eq!(d.bad_signatures, 0);
        let ops: Vec<&str> = d.verified.iter().map(|(op, _)| op.as_str()).collect();
        assert_eq!(ops[0], "CreateHIT", "{ops:?}");
        assert_eq!(ops.iter().filter(|o| **o == "CreateHIT").count(), 1);
        assert!(ops.contains(&"ListAssignmentsForHIT"));
        let create = &d.verified[0].1;
        assert_eq!(create["Reward"], "0.07");
        assert_eq!(create["MaxAssignments"], 3);
        assert!(create["LifetimeInSeconds"].as_u64().unwrap() <= 600);
        let mut approved = d.approved.clone();
        approved.sort();
        assert_eq!(
            approved,
            ["A1", "A2"],
            "the broken assignment is not approved"
        );
        assert_eq!(d.rejected.len(), 1, "{:?}", d.rejected);
        assert_eq!(d.rejected[0].0, "A3");
        assert!(
            d.rejected[0].1.contains("completion-0"),
            "the worker is told what was wrong: {}",
            d.rejected[0].1
        );
    }
    miner.stop().await;
}

fn provider_for(url: &str) -> MturkProvider {
    MturkProvider::new(
        MturkClient::new(url, credentials(SECRET)).unwrap(),
        MturkConfig {
            assignments_per_hit: 3,
            poll_interval: Duration::from_millis(200),
            ..MturkConfig::default()
        },
    )
}

async fn wait_for_results(alice: &Dendrite, t: &AxonTarget, id: &str, n: usize) -> v1::TaskResults {
    for _ in 0..150 {
        let r = fetch(alice, t, id).await.unwrap();
        if r.results.len() >= n {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{id}: fewer than {n} results");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_miner_polls_the_same_hit_and_keeps_collecting() {
    let (url, double) = start_double(SECRET).await;
    // Only the first worker has submitted before the miner goes down.
    double.lock().unwrap().visible = Some(1);
    let (devnet, owner) = devnet();
    let miner = start_miner(&devnet, &owner, Arc::new(provider_for(&url)), config(false)).await;
    let alice = dendrite("//Alice");
    send(
        &alice,
        &miner.target(),
        text_task("t-restart", Duration::from_secs(600)),
    )
    .await
    .unwrap();
    assert_eq!(
        wait_for_results(&alice, &miner.target(), "t-restart", 1)
            .await
            .results
            .len(),
        1
    );
    let dir = miner.stop_keeping_data().await;

    // The other two submit while it is down; a new process on the same database picks up.
    double.lock().unwrap().visible = None;
    let miner = start_miner_in(
        dir,
        &devnet,
        &owner,
        Arc::new(provider_for(&url)),
        config(false),
    )
    .await;
    let r = wait_for_results(&alice, &miner.target(), "t-restart", 2).await;
    let mut workers: Vec<&str> = r.results.iter().map(|w| w.worker_id.as_str()).collect();
    workers.sort_unstable();
    assert_eq!(workers, ["mturk-WORKER1", "mturk-WORKER2"]);
    // Wait for the broken third assignment to be dealt with before looking at the calls.
    for _ in 0..100 {
        if !double.lock().unwrap().rejected.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    {
        let d = double.lock().unwrap();
        assert!(d.shape_errors.is_empty(), "{:?}", d.shape_errors);
        let creates = d
            .verified
            .iter()
            .filter(|(op, _)| op == "CreateHIT")
            .count();
        assert_eq!(creates, 1, "the restart resumed the recorded HIT");
        assert_eq!(d.duplicates, 0);
        let mut approved = d.approved.clone();
        approved.sort();
        assert_eq!(approved, ["A1", "A2"], "nobody is paid twice");
        assert_eq!(
            d.rejected.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ["A3"]
        );
    }
    miner.stop().await;
}

/// A ledger in memory, standing in for the store in the moment of a crash.
#[derive(Default)]
struct MemoryLedger(Mutex<Option<String>>);

impl JobLedger for MemoryLedger {
    fn handle(&self) -> BoxFuture<'_, Result<Option<String>, ProviderError>> {
        let h = self.0.lock().unwrap().clone();
        Box::pin(async move { Ok(h) })
    }
    fn record<'a>(&'a self, handle: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.0
            .lock()
            .unwrap()
            .get_or_insert_with(|| handle.to_owned());
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_hit_created_just_before_a_crash_is_adopted_not_duplicated() {
    let (url, double) = start_double(SECRET).await;
    double.lock().unwrap().visible = Some(1);
    let provider = provider_for(&url);
    let task: Task = text_task("t-crash", Duration::from_secs(600))
        .task
        .unwrap()
        .try_into()
        .unwrap();
    // First life: the HIT is created; its record is lost with the process.
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let lost = MemoryLedger::default();
    let first = tokio::spawn({
        let provider = provider_for(&url);
        let task = task.clone();
        async move {
            let _ = provider.collect(&task, &lost, tx).await;
        }
    });
    assert!(rx.recv().await.is_some(), "the first life got a result");
    first.abort();
    let _ = first.await;
    double.lock().unwrap().visible = None;
    assert_eq!(
        double
            .lock()
            .unwrap()
            .verified
            .iter()
            .filter(|(op, _)| op == "CreateHIT")
            .count(),
        1
    );

    // Second life, empty ledger: CreateHIT is refused as a duplicate, and the HIT is adopted.
    let ledger = MemoryLedger::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let collecting = tokio::spawn(async move {
        let r = provider.collect(&task, &ledger, tx).await;
        (r, ledger.0.into_inner().unwrap())
    });
    let mut got = Vec::new();
    while let Some(r) = rx.recv().await {
        got.push(r.worker_id.to_string());
    }
    let (result, recorded) = collecting.await.unwrap();
    result.unwrap();
    assert_eq!(recorded.as_deref(), Some("3HITDOUBLE000000000000000001"));
    got.sort();
    assert_eq!(got, ["mturk-WORKER1", "mturk-WORKER2"]);
    let d = double.lock().unwrap();
    assert_eq!(d.duplicates, 1);
    assert!(d.verified.iter().any(|(op, _)| op == "GetHIT"));
    assert!(d.shape_errors.is_empty(), "{:?}", d.shape_errors);
}

#[test]
fn hit_ids_are_found_in_mturk_messages() {
    assert_eq!(
        mturk::hit_ids_in(
            "There is already a HIT which exists with the same UniqueRequestToken. HIT ID: 3XYZ0123456789ABCDEFGHIJ"
        ),
        ["3XYZ0123456789ABCDEFGHIJ"]
    );
    assert!(mturk::hit_ids_in("UniqueRequestToken already used").is_empty());
    assert!(mturk::hit_ids_in("").is_empty());
}

#[tokio::test]
async fn a_wrong_secret_fails_signature_verification() {
    // The double knows the real secret; the client signs with another one.
    let (url, double) = start_double(SECRET).await;
    let client = MturkClient::new(&url, credentials("not-the-secret")).unwrap();
    let err = client.approve_assignment("A1").await.unwrap_err();
    match err {
        MturkError::Api { status, kind, .. } => {
            assert_eq!(status, 400);
            assert_eq!(kind, "InvalidSignatureException");
        }
        other => panic!("expected a signature refusal, got {other}"),
    }
    {
        let d = double.lock().unwrap();
        assert_eq!(d.bad_signatures, 1);
        assert!(d.verified.is_empty() && d.approved.is_empty());
    }
    // The right secret passes the same verifier, so it is the secret that failed above.
    let good = MturkClient::new(&url, credentials(SECRET)).unwrap();
    good.approve_assignment("A1").await.unwrap();
    assert_eq!(double.lock().unwrap().approved, ["A1"]);
}

#[test]
fn credentials_never_show_in_debug_output() {
    let c = AwsCredentials {
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: SECRET.to_owned(),
        session_token: Some("FQoGZXIvYXdzEXAMPLETOKEN".to_owned()),
    };
    let client = MturkClient::new("http://127.0.0.1:9", c.clone()).unwrap();
    for shown in [format!("{c:?}"), format!("{client:?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains(ACCESS_KEY), "{shown}");
        assert!(!shown.contains("EXAMPLETOKEN"), "{shown}");
    }
}

#[test]
fn endpoints_rewards_and_unusable_answers() {
    assert_eq!(
        mturk::endpoint_url("sandbox").unwrap(),
        "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
    );
    assert_eq!(
        mturk::endpoint_url("production").unwrap(),
        "https://mturk-requester.us-east-1.amazonaws.com"
    );
    assert_eq!(
        mturk::endpoint_url("http://127.0.0.1:1234/").unwrap(),
        "http://127.0.0.1:1234"
    );
    assert!(mturk::endpoint_url("staging").is_err());
    assert!(mturk::check_reward("0.05").is_ok());
    for bad in ["0", "0.001", "-1", "abc", "", "1e3"] {
        assert!(mturk::check_reward(bad).is_err(), "{bad}");
    }
    assert_eq!(
        mturk::parse_answers(&answer_xml(&[("completion-0", "1 &lt; 2 &amp; ok")])).unwrap(),
        [("completion-0".to_owned(), "1 < 2 & ok".to_owned())]
    );
    assert!(mturk::parse_answers("<html>nope</html>").is_err());
}

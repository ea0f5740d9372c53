//! The worker page over real HTTP: keys, sessions, submissions and what is refused.

use std::sync::Arc;
use std::time::Duration;

use dojo_miner::provider::HumanProvider;
use dojo_miner::store::KeyKind;
use reqwest::StatusCode;

use crate::fixtures::*;

async fn join_with(http: &reqwest::Client, web: &str, key: &str) -> reqwest::Response {
    http.post(format!("{web}/api/v1/session"))
        .json(&serde_json::json!({ "key": key }))
        .send()
        .await
        .unwrap()
}

async fn error_of(r: reqwest::Response) -> (StatusCode, String) {
    let s = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    (s, body["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_sessions_and_submissions_refuse_bad_input_with_reasons() {
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(HumanProvider { max_results: 2 }),
        config(true),
    )
    .await;
    let (alice, t, web) = (dendrite("//Alice"), m.target(), m.web());
    let ack = send(&alice, &t, text_task("t-1", Duration::from_secs(600)))
        .await
        .unwrap();
    let id = ack.miner_task_id;
    let http = reqwest::Client::new();

    // Forged key and forged / missing tokens.
    let (s, e) = error_of(join_with(&http, &web, "sk-forged").await).await;
    assert_eq!(
        (s, e.as_str()),
        (StatusCode::UNAUTHORIZED, "unknown or revoked key")
    );
    for auth in [Some("st-forged"), None] {
        let mut req = http.get(format!("{web}/api/v1/tasks"));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let (s, e) = error_of(req.send().await.unwrap()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(e.contains("session"), "{e}");
    }

    let key =
        dojo_miner::keys::generate(&m.store, KeyKind::Subscription, dojo_miner::grpc::now_ms())
            .await
            .unwrap();
    let joined: serde_json::Value = join_with(&http, &web, &key.secret)
        .await
        .json()
        .await
        .unwrap();
    let token = joined["token"].as_str().unwrap().to_owned();
    let tasks: serde_json::Value = http
        .get(format!("{web}/api/v1/tasks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(tasks["tasks"][0]["id"], id.as_str());
    assert_eq!(
        tasks["tasks"][0]["completions"][1]["render_url"],
        format!("/render/{id}/c-b")
    );
    let one = http
        .get(format!("{web}/api/v1/tasks/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    let url = format!("{web}/api/v1/tasks/{id}/results");
    let post = |body: serde_json::Value| http.post(&url).bearer_auth(&token).json(&body).send();

    let bad = [
        (
            serde_json::json!({"answers": [{"completion_id": "c-a", "criterion": 0, "score": 101}, {"completion_id": "c-b", "criterion": 0, "score": 5}]}),
            "outside [1, 100]",
        ),
        (
            serde_json::json!({"answers": [{"completion_id": "c-a", "criterion": 0, "score": "NaN"}, {"completion_id": "c-b", "criterion": 0, "score": 5}]}),
            "finite",
        ),
        (
            serde_json::json!({"answers": [{"completion_id": "c-a", "criterion": 0, "score": "high"}, {"completion_id": "c-b", "criterion": 0, "score": 5}]}),
            "must be a number",
        ),
        (
            serde_json::json!({"answers": [{"completion_id": "c-a", "criterion": 0, "score": 5}]}),
            "c-b has no answer",
        ),
        (
            serde_json::json!({"answers": [{"completion_id": "zzz", "criterion": 0, "score": 5}]}),
            "not in this task",
        ),
    ];
    for (body, want) in bad {
        let (s, e) = error_of(post(body).await.unwrap()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        assert!(e.contains(want), "{e:?} should mention {want:?}");
    }
    let (s, e) = error_of(
        post(serde_json::json!({"answers": [], "extra": 1}))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        s.is_client_error() && e.contains("bad JSON body"),
        "{s} {e}"
    );
    // An oversized body is refused once it passes the limit (64 KiB), before it is parsed. Sent by
    // hand: a client that writes the whole declared 200 KiB races the server's early answer and may
    // see a broken pipe instead of the 413, so only 70 KiB are written before reading the answer.
    let status_line = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let authority = web.trim_start_matches("http://").trim_end_matches('/');
        let mut conn = tokio::net::TcpStream::connect(authority).await.unwrap();
        let head = format!(
            "POST /api/v1/tasks/{id}/results HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"answers\":[],\"pad\":\"",
            200 * 1024
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all("x".repeat(70 * 1024).as_bytes())
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("the miner answers an oversized body without waiting for it")
            .unwrap();
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(status_line.contains(" 413 "), "{status_line}");

    let good = serde_json::json!({"answers": [{"completion_id": "c-a", "criterion": 0, "score": 60}, {"completion_id": "c-b", "criterion": 0, "score": 40}]});
    let r = post(good.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, e) = error_of(post(good.clone()).await.unwrap()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(e.contains("already submitted"), "{e}");
    let one = http
        .get(format!("{web}/api/v1/tasks/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        one.status(),
        StatusCode::NOT_FOUND,
        "an answered task is no longer open to this worker"
    );
    // Answered tasks leave this worker's list.
    let tasks: serde_json::Value = http
        .get(format!("{web}/api/v1/tasks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tasks["tasks"].as_array().unwrap().is_empty());

    // Revoking the key ends the session at once.
    assert!(
        m.store
            .revoke_key(&key.id, dojo_miner::grpc::now_ms())
            .await
            .unwrap()
    );
    let (s, _) = error_of(
        http.get(format!("{web}/api/v1/tasks"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = error_of(join_with(&http, &web, &key.secret).await).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tasks_disappear_and_cannot_be_answered() {
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(HumanProvider { max_results: 1 }),
        config(true),
    )
    .await;
    let (alice, t, web) = (dendrite("//Alice"), m.target(), m.web());
    let ack = send(&alice, &t, text_task("soon", Duration::from_millis(1500)))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let key = dojo_miner::keys::generate(&m.store, KeyKind::Api, dojo_miner::grpc::now_ms())
        .await
        .unwrap();
    let joined: serde_json::Value = join_with(&http, &web, &key.secret)
        .await
        .json()
        .await
        .unwrap();
    let token = joined["token"].as_str().unwrap().to_owned();
    let list = |token: String| {
        let (http, web) = (http.clone(), web.clone());
        async move {
            let v: serde_json::Value = http
                .get(format!("{web}/api/v1/tasks"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["tasks"].as_array().unwrap().len()
        }
    };
    assert_eq!(list(token.clone()).await, 1);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(list(token.clone()).await, 0, "expired tasks disappear");
    let r = http
        .post(format!("{web}/api/v1/tasks/{}/results", ack.miner_task_id))
        .bearer_auth(&token)
        .json(&serde_json::json!({"answers": [{"completion_id": "c-a", "criterion": 0, "score": 60}, {"completion_id": "c-b", "criterion": 0, "score": 40}]}))
        .send()
        .await
        .unwrap();
    let (s, e) = error_of(r).await;
    assert_eq!((s, e.as_str()), (StatusCode::GONE, "task has expired"));
    let r = fetch(&alice, &t, "soon").await.unwrap();
    assert_eq!(r.status, dojo_proto::v1::ResultStatus::Expired as i32);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_escape_text_and_sandbox_code() {
    let (devnet, owner) = devnet();
    let m = start_miner(
        &devnet,
        &owner,
        Arc::new(HumanProvider { max_results: 1 }),
        config(true),
    )
    .await;
    let (alice, t, web) = (dendrite("//Alice"), m.target(), m.web());
    let ack = send(&alice, &t, text_task("t-1", Duration::from_secs(600)))
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let key =
        dojo_miner::keys::generate(&m.store, KeyKind::Subscription, dojo_miner::grpc::now_ms())
            .await
            .unwrap();
    let r = http
        .post(format!("{web}/join"))
        .form(&[("key", key.secret.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();

    let page = http
        .get(format!("{web}/tasks/{}", ack.miner_task_id))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "text is escaped"
    );
    assert!(
        !html.contains("<script>alert(1)"),
        "no raw script from a completion"
    );
    assert!(html.contains(&format!("<iframe class=\"render\" sandbox=\"allow-scripts\" referrerpolicy=\"no-referrer\" title=\"Response 2 (runs sandboxed)\" src=\"/render/{}/c-b\">", ack.miner_task_id)));
    assert!(!html.contains("allow-same-origin"));

    let render = http
        .get(format!("{web}/render/{}/c-b", ack.miner_task_id))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let csp = render.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("sandbox allow-scripts;") && csp.contains("connect-src 'none'"),
        "{csp}"
    );
    assert!(render.text().await.unwrap().contains("<p id=x>hello</p>"));
    // Without a session nothing renders.
    let anon = http
        .get(format!("{web}/render/{}/c-b", ack.miner_task_id))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);

    // The form path submits too; the second submission is refused.
    let form = [("c0.c-a", "70"), ("c0.c-b", "30")];
    let r = http
        .post(format!("{web}/tasks/{}", ack.miner_task_id))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Your scores were recorded")
    );
    let r = http
        .post(format!("{web}/tasks/{}", ack.miner_task_id))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    m.stop().await;
}

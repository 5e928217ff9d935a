//! The one gate every request passes, probed as an attacker would: paths with a second
//! spelling, bodies too large or too slow, more connections than one client may hold,
//! and what every answer tells the browser. Raw HTTP where a client library would
//! tidy the request up first (URL parsers resolve `..` and turn `\` into `/`).

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{config, eventually, Backend, TestApp, TestDb};

crate::on_both_databases!(
    backend: paths_with_a_second_spelling_never_reach_a_route,
    bodies_have_a_cap_and_a_deadline,
    one_client_cannot_hold_every_connection,
    every_answer_says_how_it_may_be_shown
);

/// Sends `request` as it is and reads the answer: its status and JSON body (status 0:
/// the server closed the connection before the request was sent whole, and the
/// client's unread bytes reset it, answer and all).
async fn raw(app: &TestApp, request: String) -> (u16, Value) {
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn request(method: &str, path: &str, headers: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
}

/// An upstream for `--mlflow-uri` that counts the requests reaching it whole (it
/// reads each body first, as MLflow does).
async fn counting_upstream() -> (String, Arc<AtomicUsize>) {
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let upstream = axum::Router::new().fallback(move |_body: axum::body::Bytes| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { "reached" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, upstream).await });
    (url, reached)
}

async fn paths_with_a_second_spelling_never_reach_a_route(backend: Backend) {
    let db = TestDb::create(backend).await;
    let viewer = db.token("viewer", shared::Role::Viewer, &[]).await;
    let (upstream, reached) = counting_upstream().await;
    let mut config = config(db.url());
    config.access.auth = server::config::AuthMode::Tokens;
    config.mlflow_uri = Some(upstream);
    let app = TestApp::start(db, config).await;
    let as_viewer = format!("Authorization: Bearer {viewer}\r\n");
    let artifact = "/mlflow/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/a%5C..%5C..%5C..%5C..%5C..%5Cx.html";
    for (method, path, headers) in [
        // The probes that walked around the permission check.
        ("PUT", artifact, ""),
        ("PUT", "/api/budgets/x%5C..%5C..%5C..", as_viewer.as_str()),
        ("DELETE", "/api/tokens/x%5C..%5C..", as_viewer.as_str()),
        // Every other second spelling of a path.
        ("PUT", "/api/budgets/x%5c..", as_viewer.as_str()),
        ("PUT", "/api/budgets/x\\..\\..", as_viewer.as_str()),
        ("GET", "/api/workflows/..%2F..%2Ftokens", as_viewer.as_str()),
        ("GET", "/api/%2e%2e/api/tokens", as_viewer.as_str()),
        ("GET", "/api/workflows/./../tokens", as_viewer.as_str()),
        ("GET", "/api/./tokens", as_viewer.as_str()),
        ("GET", "//api/tokens", as_viewer.as_str()),
        ("GET", "/%61pi/tokens", as_viewer.as_str()),
        ("GET", "/api/agents/a%00", as_viewer.as_str()),
        ("GET", "/api/agents/%C0%AE%C0%AE", as_viewer.as_str()),
        ("GET", "/api/agents/%E2%82", as_viewer.as_str()),
        ("GET", "/mlflow/..%2f..%2fapi/tokens", ""),
        ("POST", "/mlflow//ajax-api/2.0/mlflow/runs/delete", ""),
    ] {
        let (status, error) = raw(&app, request(method, path, headers, "{\"daily_usd\": 1}")).await;
        assert_eq!(status, 400, "{method} {path}: {error}");
        assert_eq!(error["error"]["code"], "non_canonical_path", "{method} {path}: {error}");
    }
    // A 20 MB body with the first probe: refused before it is read.
    let huge = "x".repeat(20 * 1024 * 1024);
    assert!([0, 400].contains(&raw(&app, request("PUT", artifact, "", &huge)).await.0));
    assert_eq!(reached.load(Ordering::SeqCst), 0, "nothing reached MLflow");
    let admin = app.db.token("auditor", shared::Role::Admin, &[]).await;
    let admin = app.with_token(&admin);
    let budgets: Value = admin.fetch("/api/budgets").await;
    assert_eq!(budgets, json!([]), "no budget was set");
    let audit: Value = admin.fetch("/api/audit").await;
    assert!(audit["entries"].as_array().unwrap().iter().all(|e| e["action"] != "budget.set"), "{audit}");
    // The canonical spellings are the routes they name, checked as such.
    let (status, _) = raw(&app, request("PUT", "/api/budgets/x", &as_viewer, "{\"daily_usd\": 1}")).await;
    assert_eq!(status, 403, "a viewer sets no budget");
    let (status, _) = raw(&app, request("GET", "/api/agents/caf%C3%A9%20agent", &as_viewer, "")).await;
    assert_eq!(status, 404, "an escaped name that needs escaping is fine");
}

async fn bodies_have_a_cap_and_a_deadline(backend: Backend) {
    let (upstream, reached) = counting_upstream().await;
    let app = TestApp::spawn_with(backend, |config| {
        config.body_timeout = Duration::from_secs(2);
        config.max_body_bytes = 64 * 1024;
        config.mlflow_uri = Some(upstream);
    })
    .await;
    let big = format!("{{\"message\": \"{}\"}}", "x".repeat(100 * 1024));
    for (method, path) in [("POST", "/api/views"), ("PUT", "/mlflow/api/2.0/mlflow-artifacts/artifacts/a.bin")] {
        // Declared too large: refused at once.
        let (status, error) = raw(&app, request(method, path, "", &big)).await;
        assert_eq!(status, 413, "{path}: {error}");
        assert_eq!(error["error"]["code"], "payload_too_large");
        // Sent in chunks with no length: cut off where it passes the cap.
        let chunked = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
            big.len()
        );
        let (status, error) = raw(&app, chunked).await;
        assert_eq!(status, 413, "{path}: {error}");
    }
    assert_eq!(reached.load(Ordering::SeqCst), 0, "no body past the cap reached MLflow whole");

    // A body sent a byte at a time ends at its deadline, whoever it is sent to: the
    // connection is closed (after a 408, unless the client's own bytes reset it).
    let address = app.address.trim_start_matches("http://").to_owned();
    for path in ["/api/session", "/api/workflows", "/mlflow/ajax-api/2.0/mlflow/runs/create"] {
        let connection = TcpStream::connect(&address).await.unwrap();
        let (mut reading, mut writing) = connection.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        );
        writing.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        let trickle = tokio::spawn(async move {
            while started.elapsed() < Duration::from_secs(8) && writing.write_all(b" ").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        let mut answer = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(10), reading.read_to_end(&mut answer)).await;
        trickle.abort();
        assert!(ended.is_ok() && started.elapsed() < Duration::from_secs(6), "{path}: {:?}", started.elapsed());
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
    }
    let health: Value = app.fetch("/api/health").await;
    assert!(health["refused"]["bodies_timed_out"].as_u64().unwrap() >= 3, "{health}");
    // Later requests are served as ever.
    app.create_run(json!({"workflow_name": "after"})).await;
}

async fn one_client_cannot_hold_every_connection(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.max_connections_per_client = 4).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    // Connections kept open (keep-alive) until one is closed unanswered; the test
    // client's own pooled connection may hold one of the four places.
    let mut held = Vec::new();
    let refused = loop {
        assert!(held.len() <= 4, "more than four connections were served at once");
        let mut connection = TcpStream::connect(&address).await.unwrap();
        let _ = connection.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        let mut answer = vec![0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(2), connection.read(&mut answer)).await {
            Ok(Ok(read)) if read > 0 => {
                assert!(answer.starts_with(b"HTTP/1.1 200"));
                held.push(connection);
            }
            _ => break held.len(),
        }
    };
    assert!((3..=4).contains(&refused), "{refused} connections were served before one was closed");
    held.clear();
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    eventually("places are free again", || async {
        client.get(app.url("/api/health")).send().await.is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    let health: Value = client.get(app.url("/api/health")).send().await.unwrap().json().await.unwrap();
    assert!(health["refused"]["connections_over_cap"].as_u64().unwrap() >= 1, "{health}");
}

async fn every_answer_says_how_it_may_be_shown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/", "/workflows", "/api/health", "/api/nowhere", "/api/docs", "/nowhere.js"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "SAMEORIGIN", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'self'"), "{path}: {policy}");
        if response.status() == StatusCode::OK && headers["content-type"].to_str().unwrap().starts_with("text/html") {
            assert!(
                policy.contains("script-src 'self' 'wasm-unsafe-eval'") && policy.contains("object-src 'none'"),
                "{path}: {policy}"
            );
        }
    }
}

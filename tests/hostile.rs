//! Agents the dashboard does not control and clients it does not trust: agents on
//! forbidden networks, redirecting, huge, never-ending, garbled answers with NULs, an
//! unreachable agent among good ones; clients that leave streams, open too many, or
//! never finish their headers.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream;
use serde_json::{json, Value};
use shared::{RunDetail, RunStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{eventually, Backend, TestApp};
use crate::test_agents::{serve_and_register, Answer, OriginalAgent};

crate::on_both_databases!(
    agents_outside_the_allowed_networks_are_refused,
    redirects_are_not_followed,
    huge_answers_are_cut_off_unread,
    garbled_answers_and_nul_bytes_fail_the_run_cleanly,
    an_unreachable_agent_hands_the_run_to_the_next,
    the_catalog_asks_few_agents_at_a_time_and_remembers,
    streams_end_when_their_clients_leave,
    long_log_lines_are_kept_truncated,
    a_client_that_stops_reading_is_cut_off,
    event_stream_connections_take_one_request_each
);

mod configured {
    use super::*;
    crate::on_both_databases!(
        backend: a_run_that_never_ends_times_out,
        an_agent_that_never_answers_fails_its_run_in_time,
        too_many_streams_get_503,
        slow_clients_are_cut_off
    );
}

fn ended(detail: &RunDetail) -> bool {
    !detail.run.status.is_active()
}

/// Starts a run on `agent_id` and waits for it to end.
async fn run_on(app: &TestApp, workflow: &str, agent_id: &str) -> RunDetail {
    let (status, run) = app.post("/api/workflows/run", json!({"workflow_name": workflow, "agent_id": agent_id})).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    app.run_when(run["id"].as_str().unwrap(), "the run ends", ended).await
}

async fn agents_outside_the_allowed_networks_are_refused(app: TestApp) {
    for host in ["169.254.169.254", "fe80::1", "[fe80::1]", "8.8.8.8", "224.0.0.1", "0.0.0.0", "no-such-host.invalid"] {
        let body = json!({"agent_id": "evil", "agent_name": "w", "host": host, "port": 80});
        let (status, error) = app.post("/api/agents/register", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{host}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("--agent-networks") || message.contains("cannot be resolved"), "{host}: {message}");
    }
    for host in ["127.0.0.1", "localhost", "::1", "10.1.2.3", "192.168.0.7"] {
        let body = json!({"agent_id": format!("ok-{host}"), "agent_name": "w", "host": host, "port": 80});
        assert_eq!(app.post("/api/agents/register", body).await.0, StatusCode::OK, "{host}");
    }
    // An agent written into the database by another writer is checked when the
    // dashboard connects: nothing is sent to it.
    app.db.insert_agent_as_another_writer("metadata", "169.254.169.254", 80).await;
    let done = run_on(&app, "metadata", "metadata").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(done.run.error_message.unwrap().contains("--agent-networks"));
}

async fn redirects_are_not_followed(app: TestApp) {
    let followed = Arc::new(AtomicUsize::new(0));
    let counter = followed.clone();
    let target = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Json(json!({"status": "success", "outputs": {"stolen": true}})) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = format!("http://{}/latest/meta-data", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, target).await.unwrap() });
    let location = elsewhere.clone();
    let router = Router::new().route(
        "/run",
        post(move || {
            let location = location.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response() }
        }),
    );
    let (agent, _server) = serve_and_register(&app, "redirecting", router).await;
    let done = run_on(&app, "redirecting", &agent).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    let error = done.run.error_message.unwrap();
    assert!(error.contains("redirect") && error.contains(&elsewhere), "{error}");
    assert_eq!(followed.load(Ordering::SeqCst), 0, "the redirect was not followed");
}

async fn huge_answers_are_cut_off_unread(app: TestApp) {
    // A gigabyte, made as it is read: the agent counts what it got to send.
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let router = Router::new().route(
        "/run",
        post(move || {
            let counter = counter.clone();
            async move {
                let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
                let chunks = stream::iter((0..16 * 1024).map(move |_| {
                    counter.fetch_add(64 * 1024, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(chunk.clone())
                }));
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from_stream(chunks))
                    .unwrap()
            }
        }),
    );
    let (agent, _server) = serve_and_register(&app, "huge", router).await;
    let done = run_on(&app, "huge", &agent).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(done.run.error_message.unwrap().contains("answer too large"));
    let read = sent.load(Ordering::SeqCst);
    assert!(read < 64 * 1024 * 1024, "the dashboard stopped reading early: the agent produced {read} bytes of 1 GiB");
}

async fn garbled_answers_and_nul_bytes_fail_the_run_cleanly(app: TestApp) {
    let answers: [(&str, StatusCode, &'static str); 4] = [
        ("garbled", StatusCode::OK, "this is not json"),
        ("nul-error", StatusCode::INTERNAL_SERVER_ERROR, "{\"detail\": \"boom\u{0}\u{0} and more\"}"),
        ("nul-raw", StatusCode::BAD_GATEWAY, "raw \u{0} bytes"),
        ("nul-outputs", StatusCode::OK, "{\"status\": \"success\", \"outputs\": {\"text\": \"a\\u0000b\"}}"),
    ];
    for (workflow, status, body) in answers {
        let router = Router::new().route("/run", post(move || async move { (status, body) }));
        let (agent, _server) = serve_and_register(&app, workflow, router).await;
        let done = run_on(&app, workflow, &agent).await;
        let error = done.run.error_message.clone().unwrap_or_default();
        assert!(!error.contains('\0'), "{workflow}: NULs never reach the database: {error:?}");
        match workflow {
            "garbled" => assert!(error.contains("not the agent protocol"), "{error}"),
            "nul-error" => assert!(error.contains("boom") && error.contains("and more"), "{error}"),
            "nul-raw" => assert!(error.contains("raw") && error.contains("bytes"), "{error}"),
            _ => {
                assert_eq!(done.run.status, RunStatus::Completed, "{error}");
                assert_eq!(done.outputs.unwrap()["text"], "a\u{0}b", "NUL inside JSON survives as an escape");
            }
        }
    }
}

async fn an_unreachable_agent_hands_the_run_to_the_next(app: TestApp) {
    let good = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::ZERO)).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = json!({"agent_id": "dead", "agent_name": "article_writer", "host": "127.0.0.1", "port": port});
    assert_eq!(app.post("/api/agents/register", dead).await.0, StatusCode::OK);
    let done = run_on(&app, "article_writer", "dead").await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);
    assert_eq!(done.dispatch.unwrap().agent_id, good.agent_id);
    assert_eq!(good.received().len(), 1);
    let said = done
        .logs
        .lines
        .iter()
        .any(|l| l.message.contains("Agent dead could not be reached") && l.message.contains(&good.agent_id));
    assert!(said, "{:?}", done.logs.lines);
    // With no other agent left, the run fails saying so.
    drop(good);
    let dead_too = json!({"agent_id": "dead-2", "agent_name": "support_triage", "host": "127.0.0.1", "port": port});
    assert_eq!(app.post("/api/agents/register", dead_too).await.0, StatusCode::OK);
    let done = run_on(&app, "support_triage", "dead-2").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(done.run.error_message.unwrap().contains("no other alive agent serves support_triage"));
}

async fn the_catalog_asks_few_agents_at_a_time_and_remembers(app: TestApp) {
    let (asked, at_once, most) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut servers = Vec::new();
    for n in 0..20 {
        let (asked, at_once, most) = (asked.clone(), at_once.clone(), most.clone());
        let router = Router::new().route(
            "/schema",
            get(move || async move {
                asked.fetch_add(1, Ordering::SeqCst);
                let now = at_once.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                at_once.fetch_sub(1, Ordering::SeqCst);
                Json(json!({"inputs": {"topic": {"type": "str"}}}))
            }),
        );
        servers.push(serve_and_register(&app, &format!("workflow_{n}"), router).await.1);
    }
    let catalog: Vec<Value> = app.fetch("/api/workflows/catalog").await;
    assert_eq!(catalog.len(), 20);
    assert!(catalog.iter().all(|entry| entry["inputs"]["topic"].is_object()));
    assert_eq!(asked.load(Ordering::SeqCst), 20);
    assert!(most.load(Ordering::SeqCst) <= 8, "at most 8 at once, saw {}", most.load(Ordering::SeqCst));
    let _: Vec<Value> = app.fetch("/api/workflows/catalog").await;
    assert_eq!(asked.load(Ordering::SeqCst), 20, "answers are remembered");
}

/// The tasks alive in this test's runtime, which also runs the server.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

/// The tasks alive once what the last write set off has ended: the same count over
/// five reads 50 ms apart.
async fn settled_tasks() -> usize {
    let mut counts = std::collections::VecDeque::from([alive_tasks()]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "the server's tasks never settled: {counts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        counts.push_back(alive_tasks());
        if counts.len() > 5 {
            counts.pop_front();
        }
        if counts.len() == 5 && counts.iter().all(|n| *n == counts[0]) {
            return counts[0];
        }
    }
}

async fn streams_end_when_their_clients_leave(app: TestApp) {
    let run = app.create_run(json!({"workflow_name": "done", "status": "running"})).await;
    app.posted(&format!("/api/workflows/{run}/complete"), json!({})).await;
    let baseline = settled_tasks().await;
    // A finished run's page: its stream never gets another event to notice by.
    let path = format!("/api/events?run={run}&topics=workflows,logs");
    let opened = futures_util::future::join_all((0..20).map(|_| {
        let (api, path) = (app.api.clone(), path.clone());
        async move {
            for _ in 0..500 {
                let mut events = api.events(&path, None).await;
                events.expect(&["ready"]).await;
            }
        }
    }));
    opened.await;
    eventually("every stream's task has ended", || async { alive_tasks() <= baseline + 5 }).await;
    // Writes are as quick as before: nothing left behind wakes on each event.
    for n in 0..50 {
        let other = app.create_run(json!({"workflow_name": format!("after-{n}")})).await;
        assert_eq!(
            app.post(&format!("/api/workflows/{other}/logs"), json!({"message": "m"})).await.0,
            StatusCode::CREATED
        );
    }
    assert!(alive_tasks() <= baseline + 5, "{} tasks, {baseline} before", alive_tasks());
}

async fn long_log_lines_are_kept_truncated(app: TestApp) {
    let run = app.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    let line = "x".repeat(100_000);
    let (status, stored) = app.post(&format!("/api/workflows/{run}/logs"), json!({"message": line})).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let message = stored[0]["message"].as_str().unwrap();
    assert!(message.starts_with(&"x".repeat(16 * 1024)));
    assert!(message.ends_with("… [truncated: 83616 more characters]"), "{}", &message[message.len() - 60..]);
}

async fn a_run_that_never_ends_times_out(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.run_timeout = Duration::from_secs(2)).await;
    let cancelled = Arc::new(AtomicUsize::new(0));
    let counter = cancelled.clone();
    let router = Router::new()
        .route("/run", post(|| async { Json(json!({"status": "async", "job_id": "forever"})) }))
        .route("/status/{job}", get(|| async { Json(json!({"job_id": "forever", "status": "running"})) }))
        .route(
            "/cancel/{job}",
            post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Json(json!({"status": "cancelled"})) }
            }),
        );
    let (agent, _server) = serve_and_register(&app, "forever", router).await;
    let done = run_on(&app, "forever", &agent).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    let error = done.run.error_message.unwrap();
    assert!(error.contains("longer than --run-timeout (2 s)") && error.contains("the agent stopped it"), "{error}");
    assert_eq!(cancelled.load(Ordering::SeqCst), 1);
}

async fn an_agent_that_never_answers_fails_its_run_in_time(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.agent_answer_timeout = Duration::from_secs(1)).await;
    let router = Router::new().route("/run", post(std::future::pending::<&'static str>));
    let (agent, _server) = serve_and_register(&app, "silent", router).await;
    let done = run_on(&app, "silent", &agent).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    let error = done.run.error_message.unwrap();
    assert!(error.contains("did not answer in time"), "{error}");
}

async fn too_many_streams_get_503(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.max_streams = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = app.events("/api/events", None).await;
        stream.expect(&["ready"]).await;
        open.push(stream);
    }
    let refused = app.client.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    let error: Value = refused.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("--max-streams"), "{error}");
    drop(open.pop());
    eventually("a slot is free again", || async {
        app.client.get(app.url("/api/events")).send().await.unwrap().status() == StatusCode::OK
    })
    .await;
}

async fn slow_clients_are_cut_off(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.header_timeout = Duration::from_secs(1)).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    // Headers that never end, and a keep-alive connection left idle: both closed.
    let mut stalled = tokio::net::TcpStream::connect(&host).await.unwrap();
    stalled.write_all(b"GET /api/summary HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(&host).await.unwrap();
    idle.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    // An event stream's connection is served apart (`listen::streams`), as strictly.
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    stream.write_all(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(&host).await.unwrap();
    let connections = [
        ("stalled headers", &mut stalled),
        ("idle keep-alive", &mut idle),
        ("stalled stream headers", &mut stream),
        ("silent", &mut silent),
    ];
    for (what, connection) in connections {
        let mut read = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), connection.read_to_end(&mut read)).await;
        assert!(closed.is_ok(), "{what}: the server closed the connection");
    }
}

async fn a_client_that_stops_reading_is_cut_off(app: TestApp) {
    let run = app.create_run(json!({"workflow_name": "chatty", "status": "running"})).await;
    // A client with a small receive buffer that reads nothing after its request.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    socket.connect(&address.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut client = tokio::net::TcpStream::from_std(socket.into()).unwrap();
    let request = format!("GET /api/events?run={run}&topics=logs HTTP/1.1\r\nHost: localhost\r\n\r\n");
    client.write_all(request.as_bytes()).await.unwrap();
    // Far more than the socket buffers and the stream's 256 waiting events hold.
    let lines: Vec<Value> = (0..60).map(|_| json!({"message": "y".repeat(16 * 1024)})).collect();
    for _ in 0..20 {
        let (status, _) = app.post(&format!("/api/workflows/{run}/logs"), json!({ "lines": lines })).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // After 10 s of not keeping up, the server lets the stream go; the client, reading
    // again, finds the chunked body's last chunk.
    eventually("the server lets the stream go", || async {
        app.fetch::<shared::Health>("/api/health").await.streams.open == 0
    })
    .await;
    let mut received = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let read = client.read(&mut chunk).await.unwrap();
            received.extend_from_slice(&chunk[..read]);
            if read == 0 || received.ends_with(b"\r\n0\r\n\r\n") {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream was closed ({} bytes received)", received.len());
    assert!(received.len() < 19 * 1024 * 1024, "not every event was sent: it resumes with Last-Event-ID instead");
}

/// What one request on a fresh connection gets back, read until the server closes
/// it or `until` appears.
async fn exchange(app: &TestApp, request: &[u8], until: &[u8]) -> String {
    let mut connection = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    connection.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.windows(until.len()).any(|w| w == until) {
            match connection.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => seen.extend_from_slice(&chunk[..read]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "an answer in time: {}", String::from_utf8_lossy(&seen));
    String::from_utf8_lossy(&seen).into_owned()
}

/// Event streams have a lighter connection of their own (`listen::streams`): one
/// request, answered through the same router, then closed; a request head it cannot
/// take is refused as hyper would refuse it.
async fn event_stream_connections_take_one_request_each(app: TestApp) {
    let stream = exchange(&app, b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n", b"event: ready").await;
    let head = stream.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    for line in
        ["http/1.1 200 ok", "content-type: text/event-stream", "transfer-encoding: chunked", "connection: close"]
    {
        assert!(head.contains(line), "{line} in {head}");
    }
    // HTTP/1.0 has no chunks: the body ends with the connection.
    let old = exchange(&app, b"GET /api/events HTTP/1.0\r\nHost: localhost\r\n\r\n", b"event: ready").await;
    assert!(old.starts_with("HTTP/1.1 200") && !old.to_ascii_lowercase().contains("chunked"), "{old}");
    // Through the same gate: a query the stream refuses gets its JSON error.
    let refused = exchange(&app, b"GET /api/events?topics=nope HTTP/1.1\r\nHost: localhost\r\n\r\n", b"}}").await;
    assert!(refused.starts_with("HTTP/1.1 422") && refused.contains("\"error\""), "{refused}");
    // No stream takes a body, and its connection takes no second request.
    let body = b"GET /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
    let body = exchange(&app, body, b"}}").await;
    assert!(body.starts_with("HTTP/1.1 400") && body.contains("has no body"), "{body}");
    let (mut connection, _) =
        crate::helpers::raw_stream(app.address.trim_start_matches("http://"), "/api/events", None).await;
    connection.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), connection.read_to_end(&mut rest)).await;
    assert!(closed.is_ok() && !String::from_utf8_lossy(&rest).contains("HTTP/1.1"), "closed unanswered");
    let chunked = b"GET /api/events HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert!(exchange(&app, chunked, b"\r\n\r\n").await.starts_with("HTTP/1.1 400"));
    let huge = format!("GET /api/events HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\n\r\n", "c".repeat(20_000));
    assert!(exchange(&app, huge.as_bytes(), b"\r\n\r\n").await.starts_with("HTTP/1.1 431"));
    let garbled = exchange(&app, b"GET /api/events HTTP/1.1\r\nHo\0st: x\r\n\r\n", b"\r\n\r\n").await;
    assert!(garbled.starts_with("HTTP/1.1 400"), "{garbled}");
}

//! Writes that cannot break: clients that hang up mid-write, SIGKILL under load,
//! SIGTERM with clients still connected. Nothing acknowledged is ever lost, and no
//! client can leave the server unable to write.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::{eventually, Api, Backend, TestDb};
use crate::process::Process;

crate::on_both_databases!(
    backend: writes_survive_clients_that_hang_up,
    acknowledged_writes_survive_sigkill,
    sigterm_ends_the_process_within_the_grace,
    a_failing_write_fails_alone
);

/// A POST as raw bytes, to send on a socket that is then reset.
fn raw_post(api: &Api, path: &str, body: &Value) -> Vec<u8> {
    let host = api.address.trim_start_matches("http://");
    let body = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Clients that each connect, send one of `requests`, wait 0 to 4 ms and reset the
/// connection (before, during or after the write), as wrk does when it stops and
/// flaky networks do; until `until`. Threads of their own, because the moments that
/// matter are finer than async timers.
async fn hang_up_storm(api: &Api, requests: Vec<Vec<u8>>, threads: u64, until: Instant) {
    let address: std::net::SocketAddr = api.address.trim_start_matches("http://").parse().unwrap();
    tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            for thread in 0..threads {
                let requests = &requests;
                scope.spawn(move || {
                    let mut random = 0x9e37_79b9_7f4a_7c15_u64 ^ (thread + 1);
                    while Instant::now() < until {
                        random ^= random << 13;
                        random ^= random >> 7;
                        random ^= random << 17;
                        let Ok(mut stream) = std::net::TcpStream::connect(address) else { continue };
                        let request = &requests[(random % requests.len() as u64) as usize];
                        if std::io::Write::write_all(&mut stream, request).is_ok() {
                            std::thread::sleep(Duration::from_micros(random % 4000));
                        }
                        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    }
                });
            }
        })
    })
    .await
    .unwrap();
}

/// Node states acknowledged with 201, as (run id, node id).
type Acknowledged = Arc<Mutex<BTreeSet<(String, String)>>>;

/// Posts uniquely named node states into `run` until `until`, recording each 201.
async fn report_states(api: Api, run: String, writer: usize, until: Instant, acked: Acknowledged) {
    let mut n = 0;
    while Instant::now() < until {
        let node = format!("w{writer}-n{n}");
        n += 1;
        let state = json!({"node_id": node, "status": "completed", "input_tokens": 7, "output_tokens": 3});
        let sent = api.client.post(api.url(&format!("/api/workflows/{run}/states"))).json(&state).send().await;
        if sent.is_ok_and(|response| response.status() == StatusCode::CREATED) {
            acked.lock().unwrap().insert((run.clone(), node));
        }
    }
}

/// The node ids stored for `run`.
async fn stored_nodes(api: &Api, run: &str) -> BTreeSet<String> {
    let detail: Value = api.fetch(&format!("/api/workflows/{run}")).await;
    detail["states"].as_array().unwrap().iter().map(|s| s["node_id"].as_str().unwrap().to_owned()).collect()
}

/// Every write kind works: create, start, report, finish, register, heartbeat.
async fn every_write_works(api: &Api) {
    let run = api.create_run(json!({"workflow_name": "after"})).await;
    assert_eq!(api.post_empty(&format!("/api/workflows/{run}/start")).await.0, StatusCode::OK);
    let (status, body) = api.post(&format!("/api/workflows/{run}/states"), json!({"node_id": "n"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(api.post(&format!("/api/workflows/{run}/complete"), json!({})).await.0, StatusCode::OK);
    let agent = json!({"agent_id": "after", "agent_name": "after", "host": "127.0.0.1", "port": 9});
    assert_eq!(api.post("/api/agents/register", agent).await.0, StatusCode::OK);
    assert_eq!(api.post_empty("/api/agents/after/heartbeat").await.0, StatusCode::OK);
}

/// The summary's totals equal the sums over every stored run.
async fn summary_agrees(api: &Api) {
    let mut runs = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = api.fetch(&format!("/api/workflows?limit=500{cursor}")).await;
        runs.extend(page["runs"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let summary: Value = api.fetch("/api/summary").await;
    assert_eq!(summary["total_workflows"].as_u64(), Some(runs.len() as u64), "{summary}");
    let tokens: i64 = runs.iter().map(|run| run["total_tokens"].as_i64().unwrap_or(0)).sum();
    assert_eq!(summary["total_tokens"].as_i64(), Some(tokens), "{summary}");
}

async fn writes_survive_clients_that_hang_up(backend: Backend) {
    let db = TestDb::create(backend).await;
    let app = Process::start(&db.url(), &[]).await;
    let run = app.create_run(json!({"workflow_name": "storm", "status": "running"})).await;
    let agent = json!({"agent_id": "a1", "agent_name": "a1", "host": "127.0.0.1", "port": 9});
    assert_eq!(app.post("/api/agents/register", agent).await.0, StatusCode::OK);
    let acked = Acknowledged::default();
    let state = raw_post(&app, &format!("/api/workflows/{run}/states"), &json!({"node_id": "cut"}));
    let heartbeat = raw_post(&app, "/api/agents/a1/heartbeat", &json!({}));
    for round in 0..4 {
        let until = Instant::now() + Duration::from_secs(2);
        let mut tasks = tokio::task::JoinSet::new();
        for writer in 0..8 {
            tasks.spawn(report_states(app.api.clone(), run.clone(), round * 8 + writer, until, acked.clone()));
        }
        hang_up_storm(&app, vec![state.clone(), heartbeat.clone()], 32, until).await;
        while tasks.join_next().await.is_some() {}
        every_write_works(&app).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "only {} states were acknowledged", acked.len());
    let stored = stored_nodes(&app, &run).await;
    let lost: Vec<_> = acked.iter().filter(|(_, node)| !stored.contains(node)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    summary_agrees(&app).await;
}

async fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let db = TestDb::create(backend).await;
    let mut process = Process::start(&db.url(), &[]).await;
    let acked = Acknowledged::default();
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..16 {
        let (api, acked, created) = (process.api.clone(), acked.clone(), created.clone());
        writers.spawn(async move {
            for n in 0.. {
                let Ok(response) =
                    api.client.post(api.url("/api/workflows")).json(&json!({"workflow_name": "k"})).send().await
                else {
                    return;
                };
                if response.status() != StatusCode::CREATED {
                    return;
                }
                let run = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
                created.lock().unwrap().push(run.clone());
                if api.client.post(api.url(&format!("/api/workflows/{run}/start"))).send().await.is_err() {
                    return;
                }
                let until = Instant::now() + Duration::from_millis(50);
                report_states(api.clone(), run, writer * 100_000 + n, until, acked.clone()).await;
            }
        });
    }
    // Killed mid-stream, with writes acknowledged and more in flight.
    eventually("a hundred states are acknowledged", || async { acked.lock().unwrap().len() >= 100 }).await;
    process.kill();
    while writers.join_next().await.is_some() {}
    let process = Process::start(&db.url(), &[]).await;
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "only {} states were acknowledged", acked.len());
    let mut by_run: HashMap<&str, Vec<&str>> = HashMap::new();
    for (run, node) in &acked {
        by_run.entry(run).or_default().push(node);
    }
    for (run, nodes) in by_run {
        let stored = stored_nodes(&process, run).await;
        let lost: Vec<_> = nodes.iter().filter(|node| !stored.contains(**node)).collect();
        assert!(lost.is_empty(), "run {run}: acknowledged but lost: {lost:?}");
    }
    let created = created.lock().unwrap().clone();
    for run in &created {
        assert_eq!(process.get(&format!("/api/workflows/{run}")).await.0, StatusCode::OK, "run {run} was lost");
    }
    summary_agrees(&process).await;
    every_write_works(&process).await;
}

async fn sigterm_ends_the_process_within_the_grace(backend: Backend) {
    let db = TestDb::create(backend).await;
    let mut process = Process::start(&db.url(), &["--shutdown-grace", "2"]).await;
    let run = process.create_run(json!({"workflow_name": "t", "status": "running"})).await;
    // A client that never finishes its request headers, one that never finishes its
    // body, an open event stream, and writers hanging up.
    let address = process.address.trim_start_matches("http://").to_owned();
    let mut stalled_headers = TcpStream::connect(&address).await.unwrap();
    stalled_headers.write_all(b"GET /api/summary HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut stalled_body = TcpStream::connect(&address).await.unwrap();
    let partial = raw_post(&process, &format!("/api/workflows/{run}/states"), &json!({"node_id": "n"}));
    stalled_body.write_all(&partial[..partial.len() - 3]).await.unwrap();
    let _stream = process.events("/api/events", None).await;
    let state = raw_post(&process, &format!("/api/workflows/{run}/states"), &json!({"node_id": "cut"}));
    let storm = {
        let api = process.api.clone();
        tokio::spawn(async move { hang_up_storm(&api, vec![state], 16, Instant::now() + Duration::from_secs(2)).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let took = process.terminate(Duration::from_secs(10)).await;
    storm.await.unwrap();
    let took = took.expect("SIGTERM did not end the process within 10 s");
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?} with a 2 s grace");
    // The next start opens the same database (nothing left locked) and writes.
    let process = Process::start(&db.url(), &[]).await;
    every_write_works(&process).await;
}

/// Writes that arrive together share a transaction; those that fail (a run past its
/// token bound, found after its totals were updated; a finished run) fail alone and
/// leave nothing, and every other write of their batches commits.
async fn a_failing_write_fails_alone(backend: Backend) {
    const MAX_TOKENS: i64 = 1_000_000_000_000;
    let app = crate::limits::up_to_the_stored_bounds(backend).await;
    let good = app.create_run(json!({"workflow_name": "good"})).await;
    let full = app.create_run(json!({"workflow_name": "full"})).await;
    app.posted(&format!("/api/workflows/{full}/states"), json!({"node_id": "all", "total_tokens": MAX_TOKENS})).await;
    let done = app.create_run(json!({"workflow_name": "done"})).await;
    app.posted(&format!("/api/workflows/{done}/complete"), json!({})).await;

    let mut tasks = tokio::task::JoinSet::new();
    for (run, writers, expected) in [
        (&good, 8, StatusCode::CREATED),
        (&full, 4, StatusCode::UNPROCESSABLE_ENTITY),
        (&done, 4, StatusCode::CONFLICT),
    ] {
        for writer in 0..writers {
            let (api, path) = (app.api.clone(), format!("/api/workflows/{run}/states"));
            tasks.spawn(async move {
                for n in 0..25 {
                    let state = json!({"node_id": format!("w{writer}-n{n}"), "input_tokens": 7, "output_tokens": 3});
                    let (status, body) = api.post(&path, state).await;
                    assert_eq!(status, expected, "{path}: {body}");
                }
            });
        }
    }
    while let Some(finished) = tasks.join_next().await {
        finished.unwrap();
    }
    let totals = |detail: &Value| (detail["states"].as_array().unwrap().len(), detail["total_tokens"].as_i64());
    assert_eq!(totals(&app.fetch(&format!("/api/workflows/{good}")).await), (200, Some(2000)));
    assert_eq!(totals(&app.fetch(&format!("/api/workflows/{full}")).await), (1, Some(MAX_TOKENS)));
    assert_eq!(totals(&app.fetch(&format!("/api/workflows/{done}")).await), (0, None));
    summary_agrees(&app).await;
}

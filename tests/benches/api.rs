//! `cargo bench -p tests --bench api -- [--runs N] [--postgres]`
//!
//! Seeds a fresh database with N realistic runs (default 1,000,000), starts the real
//! server on it, and measures over HTTP: read latencies of the list (first page,
//! filters, a deep keyset page, search), detail and summary; write throughput of the
//! ingest API; the delay from a write to its SSE event at 50 subscribers; and runs
//! dispatched to a demo agent (no simulated LLM time), from start to completion.
//! Prints a Markdown table for the README. (Concurrent load: the `load` bench.)

#[path = "../helpers/mod.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;
mod seeded;

use futures_util::future::join_all;
use helpers::{config, Backend, TestApp, TestDb};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SAMPLES: usize = 200;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map_or(1_000_000, |n| n.parse().expect("--runs N"));
    let backend = if args.iter().any(|a| a == "--postgres") { Backend::Postgres } else { Backend::Sqlite };

    let db = TestDb::create(backend).await;
    let seeded = seeded::seed(&db.url(), runs).await;
    let url = db.url();
    let app = TestApp::start(db, config(url)).await;

    println!(
        "\n{runs} runs on {backend:?}, seeded in {:.1} s ({:.0} runs/s)\n",
        seeded.as_secs_f64(),
        runs as f64 / seeded.as_secs_f64()
    );
    println!("| request | p50 | p95 | p99 |\n| --- | --- | --- | --- |");
    let page: shared::RunPage = app.fetch("/api/workflows?limit=50").await;
    let some_id = page.runs[10].id.clone();
    let deep_cursor = deep_cursor(&app, 20).await;
    for (label, path) in [
        ("list, first page (50)", "/api/workflows?limit=50".to_owned()),
        ("list, status=failed", "/api/workflows?status=failed".to_owned()),
        (
            "list, workflow + status + week",
            "/api/workflows?workflow=code_review&status=completed&range=week".to_owned(),
        ),
        ("list, sorted by cost", "/api/workflows?sort=-total_cost_usd".to_owned()),
        ("list, page 21 by cursor", format!("/api/workflows?limit=50&cursor={deep_cursor}")),
        ("list, text search `invoice`", "/api/workflows?q=invoice".to_owned()),
        ("run detail (states, logs)", format!("/api/workflows/{some_id}")),
        ("summary over all runs", "/api/summary".to_owned()),
        ("agents", "/api/agents?include_dead=true".to_owned()),
    ] {
        let mut times = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let start = Instant::now();
            let (status, _) = app.get(&path).await;
            times.push(start.elapsed());
            assert!(status.is_success(), "{path}: {status}");
        }
        let [p50, p95, p99] = percentiles(&mut times);
        println!("| {label} | {p50} | {p95} | {p99} |");
    }

    let writes = ingest_throughput(&app, 8, 200).await;
    println!("\nIngest, 8 concurrent runners: {writes:.0} writes/s (create, node state, log, complete)");
    let mut delays = event_delays(&app, 50, 20).await;
    let [p50, p95, p99] = percentiles(&mut delays);
    println!("Write → SSE event at 50 subscribers: p50 {p50}, p95 {p95}, p99 {p99}");
    let (mut alone, per_second, mut burst) = dispatch(&app, 8, 50).await;
    let [p50, p95, p99] = percentiles(&mut alone);
    println!("Run on a demo agent, start → completed, one at a time: p50 {p50}, p95 {p95}, p99 {p99}");
    let [p50, p95, p99] = percentiles(&mut burst);
    println!("400 runs started at once by 8 clients: {per_second:.0} runs/s; start → completed p50 {p50}, p95 {p95}, p99 {p99}\n");
}

/// Runs on an in-process demo agent (named: the seeded agents are not real) whose
/// nodes take no time, each reporting three node states and eight log lines, timed
/// from `POST /api/workflows/run` to the run's `completed` event: first one at a time
/// (the dispatch overhead), then `starters * runs_each` at once (throughput).
async fn dispatch(app: &TestApp, starters: usize, runs_each: usize) -> (Vec<Duration>, f64, Vec<Duration>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let args = server::demo::agent::AgentArgs {
        dashboard_url: app.address.clone(),
        workflow: "support_triage".into(),
        agent_id: Some("bench-agent".into()),
        token: None,
        host: "127.0.0.1".into(),
        port: 0,
        ttl_seconds: 60,
        sync_timeout: Duration::from_secs(30),
        node_seconds: 0.0,
        failure_rate: 0.0,
    };
    let agent = tokio::spawn(server::demo::agent::serve(args, listener, std::future::pending()));
    while !app.get("/api/agents/bench-agent").await.0.is_success() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut events = app.events("/api/events?topics=workflows", None).await;
    events.expect(&["ready"]).await;

    let mut alone = Vec::with_capacity(SAMPLES / 4);
    for _ in 0..SAMPLES / 4 {
        let sent = Instant::now();
        let id = start_demo_run(app).await;
        completions(&mut events, &HashMap::from([(id, sent)]), &mut alone).await;
    }

    let start = Instant::now();
    let sent: HashMap<String, Instant> = join_all((0..starters).map(|_| async move {
        let mut mine = Vec::new();
        for _ in 0..runs_each {
            let sent = Instant::now();
            mine.push((start_demo_run(app).await, sent));
        }
        mine
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    let mut burst = Vec::with_capacity(sent.len());
    completions(&mut events, &sent, &mut burst).await;
    let per_second = sent.len() as f64 / start.elapsed().as_secs_f64();
    agent.abort();
    (alone, per_second, burst)
}

async fn start_demo_run(app: &TestApp) -> String {
    let body = json!({ "workflow_name": "support_triage", "agent_id": "bench-agent", "inputs": { "ticket": "t" } });
    let (status, run) = app.post("/api/workflows/run", body).await;
    assert!(status.is_success(), "{run}");
    run["id"].as_str().unwrap().to_owned()
}

/// Reads events until every run in `sent` has completed, noting how long each took.
async fn completions(events: &mut helpers::EventStream, sent: &HashMap<String, Instant>, took: &mut Vec<Duration>) {
    let mut left = sent.len();
    while left > 0 {
        let message = events.next_within(Duration::from_secs(30)).await.expect("runs complete");
        assert_ne!(message.data["status"], "failed", "{}", message.data);
        if message.event == "workflow_update" && message.data["status"] == "completed" {
            if let Some(at) = sent.get(message.data["id"].as_str().unwrap_or_default()) {
                took.push(at.elapsed());
                left -= 1;
            }
        }
    }
}

async fn deep_cursor(app: &TestApp, pages: usize) -> String {
    let mut cursor = String::new();
    for _ in 0..pages {
        let page: shared::RunPage = app.fetch(&format!("/api/workflows?limit=50&cursor={cursor}")).await;
        cursor = page.next_cursor.expect("enough runs for a deep page");
    }
    cursor
}

fn percentiles(times: &mut [Duration]) -> [String; 3] {
    times.sort();
    [0.50, 0.95, 0.99].map(|q| {
        let t = times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        format!("{:.2} ms", t.as_secs_f64() * 1000.0)
    })
}

async fn ingest_throughput(app: &TestApp, runners: usize, runs_each: usize) -> f64 {
    let start = Instant::now();
    join_all((0..runners).map(|r| async move {
        for i in 0..runs_each {
            let id = app.create_run(json!({ "workflow_name": "bench", "status": "running" })).await;
            app.post(
                &format!("/api/workflows/{id}/states"),
                json!({ "node_id": "n", "total_tokens": 10, "cost_usd": 0.001 }),
            )
            .await;
            app.post(&format!("/api/workflows/{id}/logs"), json!({ "message": format!("runner {r} run {i}") })).await;
            app.post(&format!("/api/workflows/{id}/complete"), json!({})).await;
        }
    }))
    .await;
    (runners * runs_each * 4) as f64 / start.elapsed().as_secs_f64()
}

async fn event_delays(app: &TestApp, subscribers: usize, writes: usize) -> Vec<Duration> {
    let mut streams = Vec::new();
    for _ in 0..subscribers {
        let mut stream = app.events("/api/events?topics=workflows", None).await;
        stream.expect(&["ready"]).await;
        streams.push(stream);
    }
    let mut delays = Vec::new();
    for _ in 0..writes {
        let sent = Instant::now();
        app.create_run(json!({ "workflow_name": "latency" })).await;
        for stream in &mut streams {
            stream.expect(&["workflow_update"]).await;
            delays.push(sent.elapsed());
        }
    }
    delays
}

//! `cargo bench -p tests --bench load -- [--runs N] [--postgres] [--database-url URL]
//! [--connections C] [--seconds T] [--streams-only]`
//!
//! The dashboard under concurrent load, as operators see it: many agents reporting at
//! once and many browsers watching. Seeds a fresh database with N runs (default
//! 1,000,000; `--database-url` uses one seeded before instead), starts the release
//! binary as a process of its own, and drives it from C keep-alive connections
//! (default 32) for T seconds (default 5) per request kind, with a lean load loop in
//! this process (hyper's client, one task per connection). Then the delay from a write
//! to its event at 1,000 open streams, and the memory of 10,000 idle streams. Prints
//! Markdown tables for the README.

#[path = "../helpers/mod.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;
#[path = "../process.rs"]
#[allow(dead_code)]
mod process;
mod seeded;

use bytes::Bytes;
use futures_util::future::join_all;
use helpers::{raw_stream, Backend, TestDb};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use process::Process;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

struct Options {
    runs: u64,
    backend: Backend,
    database_url: Option<String>,
    connections: usize,
    seconds: u64,
    /// Only the reconnect storm and the idle streams' memory.
    streams_only: bool,
}

impl Options {
    fn parse() -> Options {
        let args: Vec<String> = std::env::args().collect();
        let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
        let number = |name: &str, default: u64| value(name).map_or(default, |n| n.parse().expect(name));
        Options {
            runs: number("--runs", 1_000_000),
            backend: if args.iter().any(|a| a == "--postgres") { Backend::Postgres } else { Backend::Sqlite },
            database_url: value("--database-url"),
            connections: number("--connections", 32) as usize,
            seconds: number("--seconds", 5),
            streams_only: args.iter().any(|a| a == "--streams-only"),
        }
    }
}

/// The bench's thousands of browsers all connect from this one address: the per-client
/// caps (`--max-connections-per-client`, `--max-streams-per-caller`) are lifted.
const MANY_BROWSERS: [&str; 6] =
    ["--max-streams", "20000", "--max-connections-per-client", "0", "--max-streams-per-caller", "20000"];

#[tokio::main]
async fn main() {
    let options = Options::parse();
    // Kept until the end: a fresh database is dropped with it.
    let fresh = match &options.database_url {
        Some(_) => None,
        None => Some(TestDb::create(options.backend).await),
    };
    let url = options.database_url.clone().unwrap_or_else(|| fresh.as_ref().unwrap().url());
    if fresh.is_some() {
        let took = seeded::seed(&url, options.runs).await;
        println!("\nSeeded {} runs in {:.0} s.", options.runs, took.as_secs_f64());
    }
    if options.streams_only {
        let dashboard = Process::start(&url, &MANY_BROWSERS).await;
        return streams(dashboard, &url, &options).await;
    }
    let dashboard = Process::start(&url, &MANY_BROWSERS).await;
    let summary: Value = dashboard.fetch("/api/summary").await;
    let (c, t) = (options.connections, options.seconds);
    println!(
        "\n{} runs on {:?}; {c} connections, {t} s per row; {} cores\n",
        summary["total_workflows"],
        options.backend,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| load | requests/s | p50 | p99 | errors |\n| --- | --- | --- | --- | --- |");
    let page: shared::RunPage = dashboard.fetch("/api/workflows?limit=50").await;
    let one = page.runs[10].id.clone();
    let rare = one[..13].to_owned();
    let load =
        Load { address: socket_address(&dashboard), connections: c, duration: Duration::from_secs(t), pace: None };
    for (label, path) in [
        ("list, first page of 50", "/api/workflows?limit=50".to_owned()),
        (
            "list, workflow + status + week",
            "/api/workflows?workflow=code_review&status=completed&range=week".to_owned(),
        ),
        ("list, failed runs by cost", "/api/workflows?status=failed&sort=-total_cost_usd".to_owned()),
        ("list, one workflow by duration", "/api/workflows?workflow=support_triage&sort=-duration_seconds".to_owned()),
        ("search, common term `invoice`", "/api/workflows?q=invoice".to_owned()),
        ("search, rare term (part of one run's id)", format!("/api/workflows?q={rare}")),
        ("run detail", format!("/api/workflows/{one}")),
        (
            "analytics: cost by workflow per day, 30 days",
            "/api/analytics/series?metric=cost&group_by=workflow&range=30d".to_owned(),
        ),
        (
            "analytics: p95 duration per hour, 24 hours",
            "/api/analytics/series?metric=duration_p95&range=24h".to_owned(),
        ),
        ("analytics: breakdown by workflow, 30 days", "/api/analytics/breakdown?range=30d".to_owned()),
        ("analytics: breakdown by model, 30 days", "/api/analytics/breakdown?group_by=model&range=30d".to_owned()),
        ("summary", "/api/summary".to_owned()),
    ] {
        load.run(label, move |_, _| ("GET", path.clone(), None)).await;
    }

    // Writers: one run, or one agent, per connection, as runners and agents would.
    let mut runs = Vec::with_capacity(c);
    for _ in 0..c {
        runs.push(dashboard.create_run(json!({"workflow_name": "load", "status": "running"})).await);
    }
    let state =
        json!({"node_id": "n", "status": "completed", "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001});
    load.run("node states (fsync'd, one run per connection)", move |conn, _| {
        ("POST", format!("/api/workflows/{}/states", runs[conn]), Some(state.to_string()))
    })
    .await;
    for conn in 0..c {
        let agent = json!({"agent_id": format!("load-{conn}"), "agent_name": "load", "host": "127.0.0.1", "port": 9});
        dashboard.posted("/api/agents/register", agent).await;
    }
    load.run("heartbeats (one agent per connection)", |conn, _| {
        ("POST", format!("/api/agents/load-{conn}/heartbeat"), None)
    })
    .await;

    bulk_cancel(&dashboard, &load, &url).await;
    streams(dashboard, &url, &options).await;
}

/// The rows about event streams: fan-out, a reconnect storm after a restart, memory.
async fn streams(dashboard: Process, url: &str, options: &Options) {
    let mut delays = fan_out(&dashboard, 1000, 100).await;
    let [p50, p99] = percentiles(&mut delays);
    println!("\nA write reaching 1,000 event streams: p50 {p50}, p99 {p99} (from the POST to each stream's event)");
    drop(dashboard);
    reconnect_storm(url, 10_000, options).await;
    idle_streams(10_000).await;
}

/// After a deploy: the dashboard starts again and `n` streams reconnect at once, each
/// resuming `BACK` events back (what a few seconds' outage misses), while half the
/// connections read the runs list and four agents report node states ten times a
/// second each; then the time until every stream had its `ready`, and the log
/// lines the storm left.
async fn reconnect_storm(url: &str, n: usize, options: &Options) {
    const BACK: i64 = 20;
    let log = std::env::temp_dir().join(format!("dashboard-storm-{}.log", std::process::id()));
    let dashboard = Process::start_logged(url, &MANY_BROWSERS, &log).await;
    let address = socket_address(&dashboard);
    const WRITERS: usize = 4;
    let half = (options.connections / 2).max(1);
    let mut runs = Vec::with_capacity(BACK as usize);
    for _ in 0..BACK {
        runs.push(dashboard.create_run(json!({"workflow_name": "storm", "status": "running"})).await);
    }
    let logged_before = std::fs::read_to_string(&log).unwrap_or_default().lines().count();
    let duration = Duration::from_secs(options.seconds);
    let readers = Load { address, connections: half, duration, pace: None };
    // Agents report at a steady rate (every event goes to every stream, so a write
    // rate at the server's limit would measure the fan-out, not the storm).
    let writers = Load { address, connections: WRITERS, duration, pace: Some(Duration::from_millis(100)) };
    let state = json!({"node_id": "n", "status": "completed", "total_tokens": 1}).to_string();
    println!("\n| while {n} streams reconnect | requests/s | p50 | p99 | errors |\n| --- | --- | --- | --- | --- |");
    let storm = async {
        // The loads get going first.
        tokio::time::sleep(duration / 5).await;
        let session: Value = dashboard.fetch("/api/session").await;
        let resume_after = session["event_id"].as_i64().expect("the newest event") - BACK;
        let started = Instant::now();
        let target = address.to_string();
        let streams = join_all((0..n).map(|_| raw_stream(&target, "/api/events", Some(resume_after)))).await;
        (started.elapsed(), streams)
    };
    let (_, _, (took, streams)) = tokio::join!(
        readers.run("list, first page of 50", |_, _| ("GET", "/api/workflows?limit=50".to_owned(), None)),
        writers.run("node states, 4 agents reporting 10 times a second", move |conn, _| {
            ("POST", format!("/api/workflows/{}/states", runs[conn]), Some(state.clone()))
        }),
        storm,
    );
    let health: Value = dashboard.fetch("/api/health").await;
    let logged = std::fs::read_to_string(&log).unwrap_or_default().lines().count() - logged_before;
    let sent: usize = streams.iter().map(|(_, seen)| seen.len()).sum();
    println!(
        "\n{n} event streams reconnecting at once with `Last-Event-ID` ({BACK} events back): all ready in {:.2} s \
         ({:.0} MB sent); {} resumed from memory, {} from the database; {logged} log lines meanwhile",
        took.as_secs_f64(),
        sent as f64 / 1e6,
        health["streams"]["resumed_from_memory"],
        health["streams"]["resumed_from_database"],
    );
    drop(streams);
    let _ = std::fs::remove_file(&log);
}

/// One bulk job cancels 100,000 pending runs by filter while the connections read
/// the runs list: the reads' latency meanwhile, and the job's time.
async fn bulk_cancel(dashboard: &Process, load: &Load, url: &str) {
    const RUNS: i64 = 100_000;
    TestDb::Shared(url.to_owned()).insert_runs("bulk_bench", "pending", 900_000_000_000, RUNS).await;
    let started = Instant::now();
    let job: shared::BulkJob = serde_json::from_value(
        dashboard
            .posted("/api/workflows/bulk", json!({"action": "cancel", "filter": {"workflow": "bulk_bench"}}))
            .await,
    )
    .unwrap();
    load.run("list, first page of 50, while the bulk job below runs", |_, _| {
        ("GET", "/api/workflows?limit=50".to_owned(), None)
    })
    .await;
    let still_running: shared::BulkJob = dashboard.fetch(&format!("/api/bulk/{}", job.id)).await;
    let done = loop {
        let now: shared::BulkJob = dashboard.fetch(&format!("/api/bulk/{}", job.id)).await;
        if now.status != shared::BulkStatus::Running {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = started.elapsed().as_secs_f64();
    println!(
        "\nA bulk job cancelling {RUNS} runs by filter: {} cancelled in {took:.1} s ({:.0} runs/s); {} of them \
         were done while the row above was measured",
        done.done,
        done.done as f64 / took,
        still_running.done
    );
}

/// Requests from `connections` keep-alive connections for `duration` each.
struct Load {
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    /// Each connection's wait between requests; none: as fast as answers come.
    pace: Option<Duration>,
}

/// A request to send: method, path and JSON body, from the connection's index and
/// its count of requests sent.
type Request = (&'static str, String, Option<String>);

impl Load {
    async fn run(&self, label: &str, request: impl Fn(usize, u64) -> Request + Send + Sync + 'static) {
        let request = Arc::new(request);
        let until = Instant::now() + self.duration;
        let started = Instant::now();
        let workers = (0..self.connections).map(|conn| {
            let (request, address, pace) = (request.clone(), self.address, self.pace);
            tokio::spawn(async move {
                let stream = TcpStream::connect(address).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
                tokio::spawn(connection);
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                let mut n = 0;
                while Instant::now() < until {
                    let (method, path, body) = request(conn, n);
                    n += 1;
                    let request = hyper::Request::builder()
                        .method(method)
                        .uri(path)
                        .header("host", address.to_string())
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body.unwrap_or_default())))
                        .unwrap();
                    let sent = Instant::now();
                    let response = sender.send_request(request).await.expect("the dashboard answers");
                    let ok = response.status().is_success();
                    response.into_body().collect().await.expect("a whole response");
                    latencies.push(sent.elapsed());
                    errors += u64::from(!ok);
                    if let Some(pace) = pace {
                        tokio::time::sleep(pace).await;
                    }
                }
                (latencies, errors)
            })
        });
        let mut latencies = Vec::new();
        let mut errors = 0;
        for worker in join_all(workers).await {
            let (mine, failed) = worker.unwrap();
            latencies.extend(mine);
            errors += failed;
        }
        let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
        let [p50, p99] = percentiles(&mut latencies);
        println!("| {label} | {rate:.0} | {p50} | {p99} | {errors} |");
    }
}

/// Opens `streams` event streams of runs, then makes `writes` runs, one every 20 ms;
/// returns, for each write and stream, the time from the write's POST to the event.
async fn fan_out(dashboard: &Process, streams: usize, writes: usize) -> Vec<Duration> {
    let sent: Arc<Vec<Mutex<Option<Instant>>>> = Arc::new((0..writes).map(|_| Mutex::new(None)).collect());
    let delays = Arc::new(Mutex::new(Vec::with_capacity(streams * writes)));
    let address = socket_address(dashboard).to_string();
    let opened = join_all((0..streams).map(|_| raw_stream(&address, "/api/events?topics=workflows", None))).await;
    let readers: Vec<_> = opened
        .into_iter()
        .map(|(mut stream, _)| {
            let (sent, delays) = (sent.clone(), delays.clone());
            tokio::spawn(async move {
                let (mut seen, mut buffer) = (0, Vec::new());
                while seen < writes {
                    let mut chunk = [0u8; 16384];
                    let read = stream.read(&mut chunk).await.unwrap();
                    assert!(read > 0, "an event stream closed");
                    buffer.extend_from_slice(&chunk[..read]);
                    let text = String::from_utf8_lossy(&buffer).into_owned();
                    let mut rest = text.as_str();
                    while let Some(at) = rest.find("\"workflow_name\":\"fan-") {
                        let tail = &rest[at + 21..];
                        let end = tail.find('"').unwrap_or(tail.len());
                        if let Ok(n) = tail[..end].parse::<usize>() {
                            let at = sent[n].lock().unwrap().expect("sent before its event");
                            delays.lock().unwrap().push(at.elapsed());
                            seen += 1;
                        }
                        rest = &tail[end..];
                    }
                    // Keeps what follows the last complete event.
                    let keep = text.rfind("\n\n").map_or(0, |end| end + 2);
                    buffer.drain(..keep.min(buffer.len()));
                }
            })
        })
        .collect();
    for n in 0..writes {
        *sent[n].lock().unwrap() = Some(Instant::now());
        dashboard.posted("/api/workflows", json!({"workflow_name": format!("fan-{n}")})).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for reader in readers {
        tokio::time::timeout(Duration::from_secs(30), reader).await.expect("every stream gets every event").unwrap();
    }
    Arc::try_unwrap(delays).unwrap().into_inner().unwrap()
}

/// The server's memory with `n` idle event streams open, and after `n` per-run
/// streams were opened and left: a dashboard of its own on a fresh SQLite file,
/// measured by its resident set size.
async fn idle_streams(n: usize) {
    let db = TestDb::create(Backend::Sqlite).await;
    let dashboard = Process::start(&db.url(), &MANY_BROWSERS).await;
    let before = dashboard.rss_mb();
    let address = socket_address(&dashboard).to_string();
    // First streams opened and left (a finished run's page, visited n times), then n
    // held open at once: the first must leave nothing behind.
    let run = dashboard.create_run(json!({ "workflow_name": "finished" })).await;
    let path = format!("/api/events?run={run}&topics=workflows,logs");
    for batch in (0..n).collect::<Vec<_>>().chunks(200) {
        drop(join_all(batch.iter().map(|_| raw_stream(&address, &path, None))).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_left = dashboard.rss_mb();
    let mut streams = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(200) {
        streams.extend(join_all(batch.iter().map(|_| raw_stream(&address, "/api/events", None))).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with = dashboard.rss_mb();
    println!(
        "Event streams' memory: {before:.0} MB at start, {after_left:.0} MB after {n} opened and left, \
         {with:.0} MB with {n} idle ones open ({:.1} KB each)",
        (with - after_left) * 1024.0 / n as f64
    );
}

fn percentiles(times: &mut [Duration]) -> [String; 2] {
    times.sort();
    [0.50, 0.99].map(|q| {
        let t = times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        format!("{:.2} ms", t.as_secs_f64() * 1000.0)
    })
}

fn socket_address(dashboard: &Process) -> SocketAddr {
    dashboard.address.trim_start_matches("http://").parse().expect("the dashboard's address")
}

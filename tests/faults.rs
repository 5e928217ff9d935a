//! Database faults: PostgreSQL restarting under load, a SQLite disk that fills up or
//! turns read-only. While the database cannot write the dashboard answers 503 JSON,
//! never crashes, recovers by itself and loses nothing it acknowledged.
//!
//! These tests stop and mount things: a PostgreSQL server of their own (so that no
//! other test is disturbed) and a small tmpfs, which needs root, as CI has.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::RunStatus;

use crate::helpers::{config, eventually, Api, TestApp, TestDb};
use crate::test_agents::{Answer, OriginalAgent};

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// A PostgreSQL server of the test's own, on a free port, in a temporary directory.
struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if is_root() {
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        let server = OwnPostgres { dir, port };
        run(server
            .tool("initdb")
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "-D"])
            .arg(server.data()));
        server.resume();
        server
    }

    /// The PostgreSQL server refuses to run as root: its tools run as `postgres` then.
    fn tool(&self, name: &str) -> Command {
        let output = Command::new("pg_config").arg("--bindir").output().expect("pg_config (PostgreSQL) is installed");
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join(name);
        match is_root() {
            true => {
                let mut command = Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(path);
                command
            }
            false => Command::new(path),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn resume(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-w", "start"]));
    }

    /// A fast shutdown: open connections are ended, as in a restart for maintenance.
    fn stop(&self) {
        run(self.tool("pg_ctl").arg("-D").arg(self.data()).args(["-m", "fast", "-w", "stop"]));
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.tool("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "stop"]).status();
    }
}

/// An error answer has the JSON shape and says the database is unavailable.
async fn unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unavailable", "{error}");
}

/// Creates runs until told to stop; keeps the ids acknowledged with 201 and fails on
/// any answer but 201 or 503.
async fn create_runs(api: Api, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<String>>>) {
    while !stop.load(Ordering::SeqCst) {
        let sent = api.client.post(api.url("/api/workflows")).json(&json!({"workflow_name": "pg"})).send().await;
        let response = sent.expect("the dashboard keeps answering");
        match response.status() {
            StatusCode::CREATED => {
                let run: Value = response.json().await.unwrap();
                acked.lock().unwrap().push(run["id"].as_str().unwrap().to_owned());
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                unavailable(response).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("unexpected answer {other}: {}", response.text().await.unwrap_or_default()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarting_under_load_loses_nothing() {
    let postgres = OwnPostgres::start();
    let app = TestApp::start(TestDb::Shared(postgres.url()), config(postgres.url())).await;
    let mut stream = app.events("/api/events?topics=workflows", None).await;
    // A run whose agent answers while the database is away: its outcome is recorded
    // once the database is back.
    let _agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::from_secs(2))).await;
    let dispatched = app.start_run("article_writer", json!({"topic": "outage"})).await;
    app.run_when(&dispatched, "the agent is working on it", |d| d.run.status == RunStatus::Running).await;
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
    let writers: Vec<_> =
        (0..8).map(|_| tokio::spawn(create_runs(app.api.clone(), stop.clone(), acked.clone()))).collect();
    eventually("writes are being acknowledged", || async { acked.lock().unwrap().len() >= 20 }).await;

    postgres.stop();
    unavailable(app.client.get(app.url("/api/summary")).send().await.unwrap()).await;
    unavailable(app.client.get(app.url("/api/workflows")).send().await.unwrap()).await;
    postgres.resume();
    let before = acked.lock().unwrap().len();
    eventually("writes succeed again", || async { acked.lock().unwrap().len() > before + 20 }).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }

    let done = app.run_when(&dispatched, "the outcome is recorded", |d| !d.run.status.is_active()).await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);

    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    for id in &acked {
        assert_eq!(app.get(&format!("/api/workflows/{id}")).await.0, StatusCode::OK, "run {id} was lost");
    }
    // The open stream went on through the outage: every acknowledged run reached it,
    // in event id order.
    let (mut seen, mut last_id) = (BTreeSet::new(), 0);
    let acked: BTreeSet<String> = acked.into_iter().chain([dispatched]).collect();
    while !acked.is_subset(&seen) {
        let message = stream.expect(&["workflow_update"]).await;
        let id = message.id.expect("persisted events carry ids");
        assert!(id > last_id, "event {id} after {last_id}");
        last_id = id;
        seen.insert(message.data["id"].as_str().unwrap().to_owned());
    }
}

/// A tmpfs of `megabytes` mounted on a temporary directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"]).arg(dir.path()));
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

async fn reads_work(api: &Api, run: &str) {
    assert_eq!(api.get(&format!("/api/workflows/{run}")).await.0, StatusCode::OK);
    assert_eq!(api.get("/api/summary").await.0, StatusCode::OK);
    assert_eq!(api.get("/api/workflows").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_answers_503_and_recovers() {
    if !is_root() {
        eprintln!("skipped: mounting a small disk needs root (CI runs as root)");
        return;
    }
    let disk = SmallDisk::mount(4);
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![0u8; 1024 * 1024]).unwrap();
    let url = format!("sqlite://{}", disk.path().join("dashboard.db").display());
    let app = TestApp::start(TestDb::Shared(url.clone()), config(url)).await;
    let run = app.create_run(json!({"workflow_name": "disk", "status": "running"})).await;
    let logs = format!("/api/workflows/{run}/logs");
    let lines: Vec<Value> = (0..8).map(|_| json!({"message": "x".repeat(60_000)})).collect();
    let batch = json!({ "lines": lines });

    let mut full = None;
    for _ in 0..100 {
        let response = app.client.post(app.url(&logs)).json(&batch).send().await.unwrap();
        if response.status() != StatusCode::CREATED {
            full = Some(response);
            break;
        }
    }
    unavailable(full.expect("the disk filled up")).await;
    reads_work(&app, &run).await;
    std::fs::remove_file(&filler).unwrap();
    let small = json!({"message": "room again"});
    eventually("writes work once there is room", || async {
        app.post(&logs, small.clone()).await.0 == StatusCode::CREATED
    })
    .await;

    let detail: Value = app.fetch(&format!("/api/workflows/{run}")).await;
    assert_eq!(detail["status"], "running");
}

/// Files marked immutable while it lives: writes to them fail even through
/// descriptors already open, as on a disk remounted read-only (which the kernel
/// refuses to do by hand while files are open for writing).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn mark(files: Vec<PathBuf>) -> Immutable {
        run(Command::new("chattr").arg("+i").args(&files));
        Immutable(files)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").args(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_read_only_disk_answers_503_and_recovers() {
    if !is_root() {
        eprintln!("skipped: making files immutable needs root (CI runs as root)");
        return;
    }
    let db = TestDb::create(crate::helpers::Backend::Sqlite).await;
    let file = PathBuf::from(db.url().trim_start_matches("sqlite://"));
    let app = TestApp::start(db, config(format!("sqlite://{}", file.display()))).await;
    let run = app.create_run(json!({"workflow_name": "disk", "status": "running"})).await;
    let logs = format!("/api/workflows/{run}/logs");
    let line = json!({"message": "a line"});
    let files = ["", "-wal"].iter().map(|suffix| PathBuf::from(format!("{}{suffix}", file.display()))).collect();

    let read_only = Immutable::mark(files);
    unavailable(app.client.post(app.url(&logs)).json(&line).send().await.unwrap()).await;
    reads_work(&app, &run).await;
    drop(read_only);
    eventually("writes work once the disk is writable", || async {
        app.post(&logs, line.clone()).await.0 == StatusCode::CREATED
    })
    .await;
}

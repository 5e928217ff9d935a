//! The dashboard under test: the real server on 127.0.0.1:0 in this process (or a
//! runtime of its own, to crash it), and `Api`, its HTTP API as clients see it.

use clap::Parser;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use server::cli::{Cli, Command};
use server::config::DashboardArgs;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::sse::EventStream;
use super::{Backend, TestDb};

/// The HTTP API of a running dashboard, as its clients see it.
#[derive(Clone)]
pub struct Api {
    pub address: String,
    pub client: reqwest::Client,
}

pub struct TestApp {
    pub backend: Backend,
    pub api: Api,
    pub db: TestDb,
    pub config: DashboardArgs,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    /// Set when the server runs in a runtime of its own, so that it can crash.
    runtime: Option<tokio::runtime::Runtime>,
}

/// A new database and the default test settings for it, adjusted.
async fn fresh(backend: Backend, adjust: impl FnOnce(&mut DashboardArgs)) -> (TestDb, DashboardArgs) {
    let db = TestDb::create(backend).await;
    let mut config = config(db.url());
    adjust(&mut config);
    (db, config)
}

/// The dashboard's defaults, parsed as the binary parses them, on `database_url` and
/// a free port; webhooks may reach this machine (the tests' receivers listen here).
pub fn config(database_url: String) -> DashboardArgs {
    let arguments = [
        "configurable-agents",
        "dashboard",
        "--port",
        "0",
        "--database-url",
        &database_url,
        "--webhook-networks",
        "127.0.0.0/8",
    ];
    match Cli::try_parse_from(arguments).expect("the default arguments parse").command {
        Command::Dashboard(args) => *args,
        _ => panic!("`dashboard` parsed as another command"),
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut DashboardArgs)) -> TestApp {
        let (db, config) = fresh(backend, adjust).await;
        Self::start(db, config).await
    }

    /// Starts the server on an existing database.
    pub async fn start(db: TestDb, config: DashboardArgs) -> TestApp {
        Self::start_on(db, config, "127.0.0.1:0", None).await
    }

    /// Starts the server in a runtime of its own, which `crash` ends.
    pub async fn spawn_crashable(backend: Backend, adjust: impl FnOnce(&mut DashboardArgs)) -> TestApp {
        let (db, config) = fresh(backend, adjust).await;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        Self::start_on(db, config, "127.0.0.1:0", Some(runtime)).await
    }

    async fn start_on(
        db: TestDb,
        config: DashboardArgs,
        address: &str,
        runtime: Option<tokio::runtime::Runtime>,
    ) -> TestApp {
        let listener = TcpListener::bind(address).await.expect("bind").into_std().unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server_config = config.clone();
        let serving = async move {
            let listener = TcpListener::from_std(listener).unwrap();
            server::serve(server_config, listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("server failed");
        };
        let server = match &runtime {
            Some(runtime) => runtime.spawn(serving),
            None => tokio::spawn(serving),
        };
        let backend = if db.url().starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let app =
            TestApp { backend, api: Api::new(address), db, config, stop: Some(stop), server: Some(server), runtime };
        app.wait_until_ready().await;
        app
    }

    /// Shuts the server down gracefully and waits for it to finish.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("graceful shutdown took too long")
                .unwrap();
        }
    }

    /// Stops the server and starts a new one on the same database and address.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut DashboardArgs)) -> TestApp {
        self.shutdown().await;
        let mut config = self.config.clone();
        adjust(&mut config);
        let db = self.take_db();
        Self::start_on(db, config, self.api.address.trim_start_matches("http://"), None).await
    }

    /// The process dies mid-flight: every task and connection ends at once, and
    /// nothing is given up or cleaned. Returns its database for a successor.
    pub fn crash(mut self) -> TestDb {
        self.runtime.take().expect("started with spawn_crashable").shutdown_background();
        self.stop = None;
        self.take_db()
    }

    /// This server's database, for a successor (a placeholder is left to drop).
    fn take_db(&mut self) -> TestDb {
        std::mem::replace(&mut self.db, TestDb::Sqlite(tempfile::tempdir().unwrap()))
    }

    /// A second server on the same database, as a replica behind a load balancer.
    pub async fn replica(&self) -> TestApp {
        Self::start(TestDb::Shared(self.db.url()), self.config.clone()).await
    }
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Api {
    pub fn new(address: String) -> Api {
        Api { address, client: reqwest::Client::new() }
    }

    /// The same server, every request sending `Authorization: Bearer SECRET`.
    pub fn with_token(&self, secret: &str) -> Api {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {secret}").parse().unwrap());
        let client = reqwest::Client::builder().default_headers(headers).build().unwrap();
        Api { address: self.address.clone(), client }
    }

    /// Waits until the server answers its health check; panics after 10 s.
    pub async fn wait_until_ready(&self) {
        for _ in 0..400 {
            if let Ok(response) = self.client.get(self.url("/api/health")).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.unwrap();
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    /// POST without a body (cancel, restart, heartbeat, start).
    pub async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::POST, path, None).await
    }

    /// POST that must succeed (a step of a test's setup); the answer.
    pub async fn posted(&self, path: &str, body: Value) -> Value {
        self.succeeded(Method::POST, path, Some(body)).await
    }

    /// POST without a body that must succeed.
    pub async fn posted_empty(&self, path: &str) -> Value {
        self.succeeded(Method::POST, path, None).await
    }

    /// PUT that must succeed; the answer.
    pub async fn put(&self, path: &str, body: Value) -> Value {
        self.succeeded(Method::PUT, path, Some(body)).await
    }

    async fn succeeded(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.request(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    /// GET that must succeed, decoded.
    pub async fn fetch<T: DeserializeOwned>(&self, path: &str) -> T {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        serde_json::from_value(body).unwrap()
    }

    /// Creates a run through the ingest API and returns its id.
    pub async fn create_run(&self, body: Value) -> String {
        let (status, run) = self.post("/api/workflows", body).await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        run["id"].as_str().unwrap().to_owned()
    }

    /// Sends `request` while 6,000 log lines go to running run `chatty` at once: more
    /// events than the event bus holds (1,024), so its slower readers fall behind.
    pub async fn amid_a_flood<T>(&self, chatty: &str, request: impl std::future::Future<Output = T>) -> T {
        let logs = format!("/api/workflows/{chatty}/logs");
        let lines: Vec<Value> = (0..1000).map(|n| serde_json::json!({ "message": format!("line {n}") })).collect();
        let flood =
            futures_util::future::join_all((0..6).map(|_| self.post(&logs, serde_json::json!({ "lines": lines }))));
        let (floods, answer) = tokio::join!(flood, request);
        assert!(floods.iter().all(|(status, _)| *status == StatusCode::CREATED), "the flood was taken");
        answer
    }

    pub async fn events(&self, path: &str, last_event_id: Option<i64>) -> EventStream {
        EventStream::connect(&self.client, &self.url(path), last_event_id).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Api {
    /// The run's detail once `done` holds for it; panics naming `what` after 20 s.
    pub async fn run_when(&self, id: &str, what: &str, done: impl Fn(&shared::RunDetail) -> bool) -> shared::RunDetail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let detail: shared::RunDetail = self.fetch(&format!("/api/workflows/{id}")).await;
            if done(&detail) {
                return detail;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}: {detail:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts a run on an agent through the API; returns its id.
    pub async fn start_run(&self, workflow: &str, inputs: Value) -> String {
        let (status, run) =
            self.post("/api/workflows/run", serde_json::json!({ "workflow_name": workflow, "inputs": inputs })).await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        run["id"].as_str().unwrap().to_owned()
    }
}

//! `TestApp`: the real server on 127.0.0.1:0 with its own fresh database (a temp
//! SQLite file, or a new PostgreSQL database), spoken to over real HTTP.

use clap::Parser;
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use server::cli::{Cli, Command};
use server::config::DashboardArgs;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per database for each listed test function, in
/// modules `sqlite` and `postgres`. Plain tests are `async fn name(app: TestApp)`;
/// after `backend:` they are `async fn name(backend: Backend)` and start their own
/// server (for non-default settings).
#[macro_export]
macro_rules! on_both_databases {
    (backend: $($test:ident),* $(,)?) => {
        $crate::on_both_databases!(@each sqlite, Sqlite, |backend| backend, $($test),*);
        $crate::on_both_databases!(@each postgres, Postgres, |backend| backend, $($test),*);
    };
    ($($test:ident),* $(,)?) => {
        $crate::on_both_databases!(@each sqlite, Sqlite, |backend| $crate::helpers::TestApp::spawn(backend).await, $($test),*);
        $crate::on_both_databases!(@each postgres, Postgres, |backend| $crate::helpers::TestApp::spawn(backend).await, $($test),*);
    };
    (@each $module:ident, $backend:ident, |$arg:ident| $setup:expr, $($test:ident),*) => {
        mod $module {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let $arg = $crate::helpers::Backend::$backend;
                super::$test($setup).await
            })*
        }
    };
}

/// The database server the PostgreSQL tests create their databases in.
fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres(String),
    /// Another server's database, by URL; that server's `TestDb` owns it.
    Shared(String),
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::Sqlite(tempfile::tempdir().expect("temp dir")),
            Backend::Postgres => {
                let name = format!("dashboard_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&postgres_admin_url())
                    .await
                    .expect("PostgreSQL must run on 127.0.0.1:5432 (see README)");
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create database");
                admin.close().await;
                TestDb::Postgres(name)
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => format!("sqlite://{}", dir.path().join("dashboard.db").display()),
            TestDb::Postgres(name) => {
                let admin = postgres_admin_url();
                let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin);
                format!("{base}/{name}")
            }
            TestDb::Shared(url) => url.clone(),
        }
    }
}

impl TestDb {
    /// Runs `sql` straight on the database, as another writer (the Python runtime, a
    /// SQL shell) would.
    /// Makes a token straight in the database, as `configurable-agents token create`
    /// does; returns its secret.
    pub async fn token(&self, name: &str, role: shared::Role, agent_ids: &[&str]) -> String {
        let store = server::store::connect(&self.url(), server::events::EventBus::default()).await.unwrap();
        let request = shared::CreateToken {
            name: name.to_owned(),
            role,
            agent_ids: agent_ids.iter().map(|id| id.to_string()).collect(),
            expires_in_days: None,
        };
        let by = server::store::access::Actor { name: "test".to_owned(), token_id: None };
        server::access::issue(store.as_ref(), request, &by).await.unwrap().secret
    }

    pub async fn execute_as_another_writer(&self, sql: &str) {
        use sqlx::Connection;
        let url = self.url();
        if url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
            db.close().await.unwrap();
        } else {
            let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
            db.close().await.unwrap();
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres(name) = self {
            let name = name.clone();
            // Drop runs outside any async context we can borrow; use a thread of our own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(async {
                    let admin = sqlx::PgPool::connect(&postgres_admin_url()).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.ok()
                })
            })
            .join();
        }
    }
}

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
/// a free port.
pub fn config(database_url: String) -> DashboardArgs {
    let arguments = ["configurable-agents", "dashboard", "--port", "0", "--database-url", &database_url];
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

/// One parsed SSE message.
#[derive(Debug, Clone, PartialEq)]
pub struct SseMessage {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// A live SSE connection, parsed as it arrives.
pub struct EventStream {
    pub headers: reqwest::header::HeaderMap,
    messages: mpsc::UnboundedReceiver<Result<SseMessage, String>>,
    /// Reads the connection; dropping the stream closes it.
    reader: JoinHandle<()>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

pub const COMMENT: &str = ":comment";

impl EventStream {
    async fn connect(client: &reqwest::Client, url: &str, last_event_id: Option<i64>) -> EventStream {
        let id = last_event_id.map(|id| id.to_string());
        let headers: Vec<(&str, &str)> = id.as_deref().map(|id| ("last-event-id", id)).into_iter().collect();
        Self::connect_with(client, url, &headers).await
    }

    /// Opens the stream with these request headers (a cookie, `Last-Event-ID`).
    pub async fn connect_with(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> EventStream {
        let mut request = client.get(url).header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("connect to event stream");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        let (sender, messages) = mpsc::unbounded_channel();
        let mut body = response.bytes_stream();
        let reader = tokio::spawn(async move {
            let mut buffer = String::new();
            while let Some(chunk) = body.next().await {
                let Ok(chunk) = chunk else { break };
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if sender.send(parse_frame(&frame)).is_err() {
                        return;
                    }
                }
            }
            let _ = sender.send(Err("stream ended".to_owned()));
        });
        EventStream { headers, messages, reader }
    }

    /// The next message (comments included, as event `:comment`), or an error if the
    /// stream ended or nothing came within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Result<SseMessage, String> {
        match tokio::time::timeout(wait, self.messages.recv()).await {
            Ok(Some(message)) => message,
            Ok(None) => Err("stream ended".to_owned()),
            Err(_) => Err(format!("no event within {wait:?}")),
        }
    }

    /// The next event of one of `kinds`, skipping others; panics after 5 s.
    pub async fn expect(&mut self, kinds: &[&str]) -> SseMessage {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next_within(left).await.unwrap_or_else(|e| panic!("waiting for {kinds:?}: {e}"));
            if kinds.contains(&message.event.as_str()) {
                return message;
            }
        }
    }

    /// Every message that arrives within `wait` of the previous one.
    pub async fn drain(&mut self, wait: Duration) -> Vec<SseMessage> {
        let mut all = Vec::new();
        while let Ok(message) = self.next_within(wait).await {
            all.push(message);
        }
        all
    }
}

fn parse_frame(frame: &str) -> Result<SseMessage, String> {
    let (mut id, mut event, mut data) = (None, "message".to_owned(), String::new());
    for line in frame.lines() {
        if line.starts_with(':') {
            return Ok(SseMessage { id: None, event: COMMENT.to_owned(), data: Value::Null });
        }
        let (field, value) =
            line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
        match field {
            "id" => id = Some(value.parse().map_err(|_| format!("bad id {value}"))?),
            "event" => event = value.to_owned(),
            "data" => data.push_str(value),
            _ => {}
        }
    }
    let data = serde_json::from_str(&data).map_err(|e| format!("bad data {data}: {e}"))?;
    Ok(SseMessage { id, event, data })
}

/// Polls `check` until it holds; panics naming `what` after 20 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
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

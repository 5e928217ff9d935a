//! Agents the dispatch tests send runs to, each a real HTTP server on 127.0.0.1:
//! our demo agent, and a minimal agent of the original kind (`/run`, `/status/{job}`,
//! no cancel endpoint), written here the way the original `deploy` generated them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use server::demo::agent::AgentArgs;
use shared::RUN_ID_HEADER;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::TestApp;

/// How the original-kind agent answers `POST /run`.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// Works this long, then answers with the outputs.
    Sync(Duration),
    /// Answers with a job id at once; the job completes after this long.
    Async(Duration),
    /// Answers with a job id at once; the job fails after this long.
    AsyncFailing(Duration),
}

/// What the agent was sent: the body, and the run id header if any.
pub type Received = (Value, Option<String>);

#[derive(Clone)]
struct Original {
    answer: Answer,
    received: Arc<Mutex<Vec<Received>>>,
    /// Job id -> when it was created.
    jobs: Arc<Mutex<HashMap<String, Instant>>>,
    /// Synchronous answers given (the work done).
    answered: Arc<AtomicUsize>,
}

pub struct OriginalAgent {
    pub agent_id: String,
    answer: Answer,
    received: Arc<Mutex<Vec<Received>>>,
    jobs: Arc<Mutex<HashMap<String, Instant>>>,
    answered: Arc<AtomicUsize>,
    server: JoinHandle<()>,
}

impl OriginalAgent {
    /// Serves `workflow` and registers under that name, as the original's deployed
    /// agents did (no metadata, so it offers the workflow it is named for).
    pub async fn start(app: &TestApp, workflow: &str, answer: Answer) -> OriginalAgent {
        let state = Original { answer, received: Arc::default(), jobs: Arc::default(), answered: Arc::default() };
        let (received, jobs, answered) = (state.received.clone(), state.jobs.clone(), state.answered.clone());
        let router = Router::new()
            .route("/run", post(original_run))
            .route("/status/{job_id}", get(original_status))
            .route("/health", get(|| async { Json(json!({ "status": "healthy" })) }))
            .with_state(state);
        let (agent_id, server) = serve_and_register(app, workflow, router).await;
        OriginalAgent { agent_id, answer, received, jobs, answered, server }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Runs finished here: synchronous answers given, async jobs past their work time.
    pub fn finished(&self) -> usize {
        let work = match self.answer {
            Answer::Async(work) | Answer::AsyncFailing(work) => work,
            Answer::Sync(_) => return self.answered.load(Ordering::SeqCst),
        };
        self.jobs.lock().unwrap().values().filter(|created| created.elapsed() >= work).count()
    }
}

impl Drop for OriginalAgent {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Serves `router` on a free loopback port and registers it as an agent of
/// `workflow` (named for it, as the original's deployed agents were); returns the
/// agent id and the server task.
pub async fn serve_and_register(app: &TestApp, workflow: &str, router: Router) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let agent_id = format!("{workflow}-{port}");
    let (status, body) = app
        .post(
            "/api/agents/register",
            json!({ "agent_id": agent_id, "agent_name": workflow, "host": "127.0.0.1", "port": port, "ttl_seconds": 60 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (agent_id, server)
}

async fn original_run(State(agent): State<Original>, headers: HeaderMap, Json(inputs): Json<Value>) -> Response {
    let run_id = headers.get(RUN_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    agent.received.lock().unwrap().push((inputs.clone(), run_id));
    match agent.answer {
        Answer::Sync(work) => {
            tokio::time::sleep(work).await;
            agent.answered.fetch_add(1, Ordering::SeqCst);
            Json(json!({ "status": "success", "execution_time_ms": work.as_millis(), "outputs": { "echo": inputs } }))
                .into_response()
        }
        Answer::Async(_) | Answer::AsyncFailing(_) => {
            let job_id = uuid::Uuid::new_v4().to_string();
            agent.jobs.lock().unwrap().insert(job_id.clone(), Instant::now());
            Json(json!({ "status": "async", "job_id": job_id, "message": "running in background" })).into_response()
        }
    }
}

async fn original_status(State(agent): State<Original>, Path(job_id): Path<String>) -> Response {
    let Some(created) = agent.jobs.lock().unwrap().get(&job_id).copied() else {
        return (StatusCode::NOT_FOUND, Json(json!({ "detail": "Job not found" }))).into_response();
    };
    let (work, fails) = match agent.answer {
        Answer::Async(work) => (work, false),
        Answer::AsyncFailing(work) => (work, true),
        Answer::Sync(_) => unreachable!("sync agents create no jobs"),
    };
    let body = match (created.elapsed() >= work, fails) {
        (false, _) => json!({ "job_id": job_id, "status": "running", "created_at": "2026-01-01T00:00:00" }),
        (true, false) => json!({ "job_id": job_id, "status": "completed", "outputs": { "answer": 42 },
            "execution_time_ms": work.as_millis(), "error": null }),
        (true, true) => {
            json!({ "job_id": job_id, "status": "failed", "error": "Node 'write' failed: context too long" })
        }
    };
    Json(body).into_response()
}

/// Our demo agent on its own port, in a runtime of its own: shutting that runtime
/// down ends every task and connection of the agent at once, as a crash would.
pub struct DemoAgent {
    pub agent_id: String,
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl DemoAgent {
    /// Starts it and waits until the dashboard lists it alive. Defaults: quick nodes,
    /// no failures, sync answers.
    pub async fn start(app: &TestApp, adjust: impl FnOnce(&mut AgentArgs)) -> DemoAgent {
        let mut args = AgentArgs {
            dashboard_url: app.address.clone(),
            workflow: "article_writer".to_owned(),
            agent_id: Some(format!("demo-{}", uuid::Uuid::new_v4())),
            token: None,
            host: "127.0.0.1".to_owned(),
            port: 0,
            ttl_seconds: 30,
            sync_timeout: Duration::from_secs(30),
            node_seconds: 0.05,
            failure_rate: 0.0,
        };
        adjust(&mut args);
        let agent_id = args.agent_id.clone().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            server::demo::agent::serve(args, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
        });
        let agent = DemoAgent { agent_id, url, stop: Some(stop), server, runtime: Some(runtime) };
        let path = format!("/api/agents/{}", agent.agent_id);
        crate::helpers::eventually("the demo agent registers", || async { app.get(&path).await.0 == StatusCode::OK })
            .await;
        agent
    }

    /// The process dies without a word: connections drop, jobs are gone, and the
    /// registry hears nothing more.
    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Stops gracefully, deregistering.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }

    pub async fn job(&self, job_id: &str) -> Value {
        reqwest::get(format!("{}/status/{job_id}", self.url)).await.unwrap().json().await.unwrap()
    }
}

impl Drop for DemoAgent {
    fn drop(&mut self) {
        self.kill();
    }
}

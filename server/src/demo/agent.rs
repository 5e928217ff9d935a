//! `configurable-agents demo-agent`: an agent service like the ones the original
//! `deploy` generated (`/run`, `/status/{job}`, `/health`, `/schema`, `/docs`), plus a
//! cancel endpoint. It registers and heartbeats with the dashboard's registry, and
//! executes one sample workflow by simulating its LLM calls.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde_json::{json, Value};
use shared::{JobState, JobStatus, RegisterAgent, RunAnswer, RUN_ID_HEADER};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::job::{Behaviour, Job, JobError};
use super::reporter::{ReportError, Reporter};
use crate::config::parse_seconds;
use crate::samples::{self, Workflow};

/// Ended jobs stay answerable on `/status` this long.
const KEEP_ENDED: Duration = Duration::from_secs(3600);
const REGISTER_RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// The dashboard to register with and report runs into.
    #[arg(long, env = "DASHBOARD_URL", default_value = "http://127.0.0.1:7861")]
    pub dashboard_url: String,

    /// The sample workflow to serve: article_writer, support_triage, code_review,
    /// invoice_extractor or market_research.
    #[arg(long, default_value = "article_writer", value_parser = known_workflow)]
    pub workflow: String,

    /// Registry id; by default the workflow's name with a random suffix.
    #[arg(long)]
    pub agent_id: Option<String>,

    /// The agent token to send to a dashboard run with `--auth tokens`.
    #[arg(long, env = "DASHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Address to serve on, and to register (the dashboard must reach it there).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to serve on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Registry TTL; heartbeats go out three times per TTL.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(3..=3600))]
    pub ttl_seconds: u16,

    /// How long `POST /run` waits for the result before answering with a job id to
    /// follow (the original agents' sync timeout).
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    pub sync_timeout: Duration,

    /// Mean simulated seconds per node.
    #[arg(long, default_value_t = 2.0)]
    pub node_seconds: f64,

    /// Chance that a run fails at one of its nodes (0 to 1).
    #[arg(long, default_value_t = 0.1)]
    pub failure_rate: f64,
}

fn known_workflow(name: &str) -> Result<String, String> {
    samples::workflow(name).map(|w| w.name.to_owned()).ok_or_else(|| {
        let names: Vec<_> = samples::WORKFLOWS.iter().map(|w| w.name).collect();
        format!("unknown workflow `{name}`; the demo serves {}", names.join(", "))
    })
}

/// Serves until ctrl-c, then deregisters.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind((args.host.as_str(), args.port)).await?;
    tracing::info!("demo agent for {} on http://{}", args.workflow, listener.local_addr()?);
    serve(args, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serves the agent protocol on `listener` and stays registered until `shutdown`
/// resolves, then deregisters. Dropping the future instead is a crash: jobs stop and
/// the registry hears nothing more.
pub async fn serve(
    args: AgentArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let workflow = samples::workflow(&args.workflow)
        .ok_or_else(|| anyhow::anyhow!(known_workflow(&args.workflow).unwrap_err()))?;
    let agent_id =
        args.agent_id.clone().unwrap_or_else(|| format!("{}-{:06x}", workflow.name, fastrand::u32(..1 << 24)));
    let reporter = Reporter::new(&args.dashboard_url, args.token.clone())?;
    let host = match args.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1".to_owned(),
        host => host.to_owned(),
    };
    let registration = RegisterAgent {
        agent_id: agent_id.clone(),
        agent_name: workflow.name.to_owned(),
        host,
        port: i64::from(listener.local_addr()?.port()),
        ttl_seconds: Some(i64::from(args.ttl_seconds)),
        metadata: Some(json!({
            "capabilities": [workflow.name],
            "nodes": workflow.nodes,
            "kind": "demo",
            "version": env!("CARGO_PKG_VERSION"),
        })),
    };
    let jobs = Arc::new(Jobs::default());
    let registry = tokio::spawn(keep_registered(
        reporter.clone(),
        registration,
        Duration::from_secs(u64::from(args.ttl_seconds) / 3),
    ));
    let _lifetime = Lifetime { jobs: jobs.clone(), registry: registry.abort_handle() };
    let agent = Agent {
        workflow,
        reporter: reporter.clone(),
        behaviour: Behaviour {
            node_seconds: args.node_seconds.max(0.0),
            failure_rate: args.failure_rate.clamp(0.0, 1.0),
        },
        sync_timeout: args.sync_timeout,
        jobs,
    };
    axum::serve(listener, routes(agent)).with_graceful_shutdown(shutdown).await?;
    registry.abort();
    if let Err(error) = reporter.deregister(&agent_id).await {
        tracing::warn!(%error, "could not deregister");
    }
    Ok(())
}

/// Registers, then heartbeats; registers again when the registry has forgotten us.
async fn keep_registered(reporter: Reporter, registration: RegisterAgent, every: Duration) {
    let mut registered = false;
    loop {
        let sent = if registered {
            reporter.heartbeat(&registration.agent_id).await
        } else {
            reporter.register(&registration).await
        };
        match sent {
            Ok(()) => registered = true,
            Err(ReportError::NotFound) if registered => {
                registered = false;
                continue;
            }
            Err(error) => tracing::warn!(%error, "registry did not take our registration or heartbeat"),
        }
        tokio::time::sleep(if registered { every } else { REGISTER_RETRY }).await;
    }
}

#[derive(Clone)]
struct Agent {
    workflow: &'static Workflow,
    reporter: Reporter,
    behaviour: Behaviour,
    sync_timeout: Duration,
    jobs: Arc<Jobs>,
}

#[derive(Default)]
struct Jobs(Mutex<HashMap<String, Entry>>);

struct Entry {
    status: JobStatus,
    started: Instant,
    ended: Option<Instant>,
    task: AbortHandle,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn status(&self, job_id: &str) -> Option<JobStatus> {
        self.lock().get(job_id).map(|entry| entry.status.clone())
    }

    /// Records how a job ended, unless it already has (cancelled meanwhile).
    fn end(&self, job_id: &str, state: JobState, outputs: Option<Value>, error: Option<String>) {
        if let Some(entry) = self.lock().get_mut(job_id) {
            if matches!(entry.status.status, JobState::Pending | JobState::Running) {
                entry.status.status = state;
                entry.status.outputs = outputs;
                entry.status.error = error;
                entry.status.completed_at = Some(chrono::Utc::now().to_rfc3339());
                entry.status.execution_time_ms = Some(entry.started.elapsed().as_secs_f64() * 1000.0);
                entry.ended = Some(Instant::now());
            }
        }
    }
}

/// Ends everything the agent started when its `serve` future ends or is dropped.
struct Lifetime {
    jobs: Arc<Jobs>,
    registry: AbortHandle,
}

impl Drop for Lifetime {
    fn drop(&mut self) {
        self.registry.abort();
        for entry in self.jobs.lock().values() {
            entry.task.abort();
        }
    }
}

fn routes(agent: Agent) -> Router {
    Router::new()
        .route("/run", post(run_job))
        .route("/status/{job_id}", get(job_status))
        .route("/cancel/{job_id}", post(cancel_job))
        .route("/health", get(health))
        .route("/schema", get(schema))
        .route("/docs", get(docs))
        .with_state(agent)
}

fn detail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "detail": message.into() }))).into_response()
}

async fn run_job(State(agent): State<Agent>, headers: HeaderMap, body: Result<Json<Value>, JsonRejection>) -> Response {
    let inputs = match body {
        Ok(Json(Value::Object(inputs))) => inputs,
        Ok(_) => return detail(StatusCode::UNPROCESSABLE_ENTITY, "the body must be a JSON object of input fields"),
        Err(rejection) => return detail(StatusCode::UNPROCESSABLE_ENTITY, rejection.body_text()),
    };
    let field = agent.workflow.topic_field;
    if inputs.get(field).and_then(Value::as_str).is_none_or(|v| v.trim().is_empty()) {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, format!("input `{field}` is required (a non-empty string)"));
    }
    // The dashboard's run id doubles as the job id, so the run can be asked about by it.
    let run_id = headers
        .get(RUN_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .map(str::to_owned);
    let job_id = run_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let job =
        Job { workflow: agent.workflow, inputs, run_id, reporter: agent.reporter.clone(), behaviour: agent.behaviour };
    let mut done = {
        let mut jobs = agent.jobs.lock();
        if jobs.contains_key(&job_id) {
            return detail(StatusCode::CONFLICT, format!("job {job_id} already exists"));
        }
        jobs.retain(|_, entry| entry.ended.is_none_or(|at| at.elapsed() < KEEP_ENDED));
        let (finished, done) = watch::channel(false);
        let (shared_jobs, id) = (agent.jobs.clone(), job_id.clone());
        let task = tokio::spawn(async move {
            match job.execute().await {
                Ok(outputs) => shared_jobs.end(&id, JobState::Completed, Some(outputs), None),
                Err(JobError::Cancelled) => shared_jobs.end(&id, JobState::Cancelled, None, None),
                Err(error) => shared_jobs.end(&id, JobState::Failed, None, Some(error.to_string())),
            }
            let _ = finished.send(true);
        });
        let status = JobStatus {
            job_id: job_id.clone(),
            status: JobState::Running,
            created_at: Some(chrono::Utc::now().to_rfc3339()),
            completed_at: None,
            execution_time_ms: None,
            outputs: None,
            error: None,
        };
        jobs.insert(job_id.clone(), Entry { status, started: Instant::now(), ended: None, task: task.abort_handle() });
        done
    };
    // Finished within the sync timeout: the outputs at once; otherwise a job to follow.
    let finished = tokio::time::timeout(agent.sync_timeout, done.wait_for(|d| *d)).await.is_ok_and(|r| r.is_ok());
    let status = agent.jobs.status(&job_id);
    match status {
        Some(JobStatus { status: JobState::Completed, outputs, execution_time_ms, .. }) if finished => {
            Json(RunAnswer::Success { execution_time_ms, outputs }).into_response()
        }
        Some(JobStatus { status: JobState::Failed, error, .. }) if finished => {
            detail(StatusCode::INTERNAL_SERVER_ERROR, error.unwrap_or_default())
        }
        Some(JobStatus { status: JobState::Cancelled, .. }) => {
            detail(StatusCode::CONFLICT, format!("job {job_id} was cancelled"))
        }
        _ => Json(RunAnswer::Async { message: Some(format!("still running; follow GET /status/{job_id}")), job_id })
            .into_response(),
    }
}

async fn job_status(State(agent): State<Agent>, Path(job_id): Path<String>) -> Response {
    match agent.jobs.status(&job_id) {
        Some(status) => Json(status).into_response(),
        None => detail(StatusCode::NOT_FOUND, format!("no job {job_id}")),
    }
}

async fn cancel_job(State(agent): State<Agent>, Path(job_id): Path<String>) -> Response {
    let task = agent.jobs.lock().get(&job_id).map(|entry| entry.task.clone());
    let Some(task) = task else { return detail(StatusCode::NOT_FOUND, format!("no job {job_id}")) };
    task.abort();
    agent.jobs.end(&job_id, JobState::Cancelled, None, None);
    Json(agent.jobs.status(&job_id)).into_response()
}

async fn health(State(agent): State<Agent>) -> Json<Value> {
    let active = agent.jobs.lock().values().filter(|e| e.ended.is_none()).count();
    Json(json!({ "status": "healthy", "workflow": agent.workflow.name, "active_jobs": active }))
}

async fn schema(State(agent): State<Agent>) -> Json<Value> {
    let workflow = agent.workflow;
    Json(json!({
        "workflow": workflow.name,
        "description": workflow.description,
        "inputs": {
            workflow.topic_field: { "type": "str", "required": true, "description": format!("What the {} works on", workflow.name) },
        },
        "outputs": ["result", "score"],
        "nodes": workflow.nodes,
    }))
}

async fn docs(State(agent): State<Agent>) -> Html<String> {
    let (name, field) = (agent.workflow.name, agent.workflow.topic_field);
    Html(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{name} agent API</title>\
         <style>body{{font:15px/1.5 system-ui;max-width:44rem;margin:2rem auto;padding:0 1rem}}code{{background:#eee;padding:0 .2em}}</style>\
         <h1>{name} — demo agent</h1><p>{}</p><dl>\
         <dt><code>POST /run</code></dt><dd>Body: the input fields, e.g. <code>{{\"{field}\": \"...\"}}</code>. \
         Answers <code>{{status: \"success\", outputs}}</code> when done within the sync timeout, else \
         <code>{{status: \"async\", job_id}}</code>.</dd>\
         <dt><code>GET /status/{{job_id}}</code></dt><dd>The job: pending, running, completed, failed or cancelled.</dd>\
         <dt><code>POST /cancel/{{job_id}}</code></dt><dd>Stops the job.</dd>\
         <dt><code>GET /schema</code></dt><dd>Input fields and outputs.</dd>\
         <dt><code>GET /health</code></dt><dd>Liveness and active jobs.</dd></dl></html>",
        agent.workflow.description
    ))
}

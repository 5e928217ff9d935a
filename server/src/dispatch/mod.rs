//! Running workflows on agents. A started run is stored pending with the agent it goes
//! to, then one task per run follows it: `POST /run`, and for an async answer
//! `GET /status/{job}` until the job ends, and records the outcome. The database is the
//! truth: each run names the dashboard process following it, which holds a lease it
//! renews while it lives; another process takes over the runs of one that stopped or
//! crashed. A cancelled run (from any replica, seen on the event bus) stops its task
//! and is cancelled on the agent too.

pub mod agent_api;
pub mod catalog;

use serde_json::Value;
use shared::{
    AgentInfo, Dispatch, Event, FinishRun, JobState, JobStatus, LogLevel, NewLogLine, RunAnswer, RunStatus, WorkflowRun,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::AbortHandle;

use crate::events::EventBus;
use crate::outbound::Outbound;
use crate::store::access::{Actor, Audit};
use crate::store::{InFlight, NewRun, Outcome, RunRecord, Store, StoreError, Ts};
use agent_api::{AgentClient, AgentError, CancelAnswer};

/// Between two status questions to an agent running an async job.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// Retries of recording an outcome while the database is away back off to this.
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(250);
const RECORD_RETRY_MAX: Duration = Duration::from_secs(30);
/// The longest error message a run keeps, as for runners reporting through the API.
const MAX_ERROR_CHARS: usize = 65_536;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Longest wait for the answer to `POST /run`.
    pub answer: Duration,
    /// How long an agent may leave status questions unanswered before its run fails.
    pub unreachable: Duration,
    /// How long this process's claim on its runs lasts unrenewed; renewed three times
    /// as often.
    pub lease: Duration,
    /// Longest a run may take on an agent before it fails and the agent is told to stop.
    pub run: Duration,
}

/// What to start: a new run, or a restart of an ended one.
#[derive(Debug, Clone)]
pub struct Start {
    pub workflow_name: String,
    pub inputs: Value,
    pub agent_id: Option<String>,
    pub restarted_from: Option<String>,
    pub config_snapshot: Option<Value>,
    /// Who starts it.
    pub by: Actor,
}

impl Start {
    /// The same workflow with the same inputs, as a new run linked to `original`.
    pub fn restart(original: RunRecord, by: Actor) -> Start {
        Start {
            inputs: RunRecord::json(&original.inputs)
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::Object(Default::default())),
            config_snapshot: RunRecord::json(&original.config_snapshot),
            workflow_name: original.run.workflow_name,
            agent_id: None,
            restarted_from: Some(original.run.id),
            by,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    NoAgent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    /// This process's id, as the runs it follows name their dispatcher.
    id: String,
    store: Arc<dyn Store>,
    agents: AgentClient,
    schemas: catalog::Schemas,
    timeouts: Timeouts,
    /// Runs this process follows.
    following: Mutex<HashMap<String, Followed>>,
}

struct Followed {
    task: AbortHandle,
    /// Set once `POST /run` has been sent: only then is there work to cancel.
    sent: Arc<AtomicBool>,
    dispatch: Dispatch,
}

/// How a followed run ended on the agent.
type Ending = (Outcome, FinishRun);

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, timeouts: Timeouts, policy: Outbound) -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().to_string();
        let agents = AgentClient::new(policy)?;
        let inner = Inner { id, store, agents, schemas: Default::default(), timeouts, following: Mutex::default() };
        Ok(Dispatcher { inner: Arc::new(inner) })
    }

    /// The workflows alive agents serve, with their inputs (for the start form).
    pub async fn catalog(&self, agents: &[AgentInfo]) -> Vec<shared::CatalogEntry> {
        catalog::build(&self.inner.agents, &self.inner.schemas, agents).await
    }

    /// This process's id, which its lease and the work it claims carry.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub fn lease(&self) -> Duration {
        self.inner.timeouts.lease
    }

    /// Where agents may be.
    pub fn policy(&self) -> &Outbound {
        self.inner.agents.policy()
    }

    /// Stores the run (pending, with its agent) and starts following it; without an
    /// alive agent serving the workflow nothing is stored. The run goes to the serving
    /// agent with the fewest runs in flight, ties broken at random.
    pub async fn start(&self, start: Start) -> Result<WorkflowRun, StartError> {
        let agent = self.inner.choose(&start.workflow_name, start.agent_id.as_deref(), &[]).await?;
        let dispatch = Dispatch { agent_id: agent.agent_id.clone(), agent_url: agent.base_url(), job_id: None };
        let id = uuid::Uuid::new_v4().to_string();
        let (action, note) = match &start.restarted_from {
            Some(original) => ("run.restart", format!("Restarted by {} from run {original}", start.by.name)),
            None => ("run.start", format!("Started by {}", start.by.name)),
        };
        let on_agent = format!("on agent {}", agent.agent_id);
        let audit = Audit { actor: start.by.clone(), action, target: id.clone(), detail: Some(on_agent.clone()) };
        let new = NewRun {
            id,
            workflow_name: start.workflow_name,
            status: RunStatus::Pending,
            inputs: Some(start.inputs.clone()),
            config_snapshot: start.config_snapshot,
            mlflow: Default::default(),
            restarted_from: start.restarted_from,
            dispatch: Some(dispatch.clone()),
            dispatcher: Some(self.inner.id.clone()),
            created_by: Some(start.by),
        };
        let run = self.inner.store.create_run(new, Some(audit)).await?;
        self.inner.note(&run.id, info(format!("{note} {on_agent}"))).await;
        self.follow(InFlight {
            run_id: run.id.clone(),
            workflow_name: run.workflow_name.clone(),
            status: run.status,
            started_at: Ts::from(run.started_at),
            inputs: Some(start.inputs),
            dispatch,
        });
        Ok(run)
    }

    /// Renews this process's lease, then follows every run in flight that no live
    /// process follows: on start, those of the previous run of the dashboard; later,
    /// those of a replica that crashed.
    pub async fn take_over(&self) -> Result<usize, StoreError> {
        let runs = self.inner.store.renew_and_claim(&self.inner.id, self.inner.timeouts.lease).await?;
        let count = runs.len();
        for run in runs {
            self.follow(run);
        }
        Ok(count)
    }

    /// Keeps the lease and takes over runs whose process's lease lapsed. Runs until
    /// dropped.
    pub async fn keep_lease(self) {
        loop {
            tokio::time::sleep(self.inner.timeouts.lease / 3).await;
            match self.take_over().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "took over runs of a dashboard whose lease lapsed"),
                Err(error) => tracing::warn!(%error, "could not renew the dispatch lease"),
            }
        }
    }

    fn follow(&self, run: InFlight) {
        let sent = Arc::new(AtomicBool::new(run.status == RunStatus::Running));
        let mut following = self.inner.following.lock().unwrap_or_else(|e| e.into_inner());
        if following.contains_key(&run.run_id) {
            return;
        }
        let (id, dispatch) = (run.run_id.clone(), run.dispatch.clone());
        let inner = self.inner.clone();
        let flag = sent.clone();
        let task = tokio::spawn(async move {
            let ending = inner.execute(&run, &flag).await;
            inner.record(&run, ending).await;
            inner.lock_following().remove(&run.run_id);
        });
        following.insert(id, Followed { task: task.abort_handle(), sent, dispatch });
    }

    /// Stops following runs that were cancelled, here or on another replica, and asks
    /// their agents to stop. Runs until the bus closes.
    pub fn watch_cancellations(self, bus: &EventBus) -> impl std::future::Future<Output = ()> + Send + 'static {
        // Subscribed now, before any run is followed, so no cancellation is missed.
        let mut events = bus.subscribe();
        async move {
            loop {
                match events.recv().await {
                    Ok(published) => {
                        if let Event::WorkflowUpdate(run) = published.event.as_ref() {
                            if run.status == RunStatus::Cancelled {
                                self.cancelled(&run.id).await;
                            }
                        }
                    }
                    // Missed events: ask the database about every followed run.
                    Err(RecvError::Lagged(_)) => {
                        let ids: Vec<String> = self.inner.lock_following().keys().cloned().collect();
                        for id in ids {
                            if let Ok(Some(record)) = self.inner.store.get_run(&id).await {
                                if record.run.status == RunStatus::Cancelled {
                                    self.cancelled(&id).await;
                                }
                            }
                        }
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }

    async fn cancelled(&self, run_id: &str) {
        let Some(followed) = self.inner.lock_following().remove(run_id) else { return };
        followed.task.abort();
        let Dispatch { agent_id, agent_url, job_id } = followed.dispatch;
        let line = if !followed.sent.load(Ordering::SeqCst) {
            info(format!("Cancelled before it was sent to agent {agent_id}"))
        } else {
            // Our agents know a job by the run id until they name it otherwise.
            let job = job_id.or_else(|| self.inner.current_job(run_id)).unwrap_or_else(|| run_id.to_owned());
            match self.inner.agents.cancel(&agent_url, &job).await {
                Ok(CancelAnswer::Stopped) => info(format!("Agent {agent_id} stopped the run")),
                Ok(CancelAnswer::NotSupported(status)) => warning(format!(
                    "Agent {agent_id} has no cancel endpoint (POST /cancel/{{job}} answered {status}): \
                     the work may go on there, but its result will be ignored"
                )),
                Err(error) => warning(format!(
                    "Agent {agent_id} could not be asked to stop ({error}): its result will be ignored"
                )),
            }
        };
        self.inner.note(run_id, line).await;
    }

    /// Stops following every run (on shutdown) and gives up the lease, so that the
    /// next start takes them over at once (and a replica at its next check).
    pub async fn stop(&self) {
        for (_, followed) in self.inner.lock_following().drain() {
            followed.task.abort();
        }
        if let Err(error) = self.inner.store.release_lease(&self.inner.id).await {
            tracing::warn!(%error, "could not give up the dispatch lease; replicas take over when it lapses");
        }
    }
}

impl Inner {
    fn lock_following(&self) -> std::sync::MutexGuard<'_, HashMap<String, Followed>> {
        self.following.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current_job(&self, run_id: &str) -> Option<String> {
        self.lock_following().get(run_id).and_then(|f| f.dispatch.job_id.clone())
    }

    /// The alive agent serving `workflow` (the named one, if any) with the fewest runs
    /// in flight, ties broken at random, leaving out those already `tried`.
    async fn choose(&self, workflow: &str, named: Option<&str>, tried: &[String]) -> Result<AgentInfo, StartError> {
        let agents = self.store.list_agents().await?;
        let serving: Vec<_> = agents
            .into_iter()
            .filter(|a| a.is_alive && a.serves(workflow) && !tried.contains(&a.agent_id))
            .filter(|a| named.is_none_or(|id| id == a.agent_id))
            .collect();
        let loads = if serving.len() > 1 { self.store.agent_loads().await? } else { HashMap::new() };
        let load = |agent: &AgentInfo| loads.get(&agent.agent_id).copied().unwrap_or(0);
        let least = serving.iter().map(load).min();
        let mut idlest: Vec<_> = serving.into_iter().filter(|a| Some(load(a)) == least).collect();
        match (idlest.is_empty(), named) {
            (false, _) => Ok(idlest.swap_remove(fastrand::usize(..idlest.len()))),
            (true, Some(id)) => {
                Err(StartError::NoAgent(format!("agent `{id}` is not an alive agent serving workflow `{workflow}`")))
            }
            (true, None) => Err(StartError::NoAgent(format!(
                "no alive agent serves workflow `{workflow}`; start one (`configurable-agents demo-agent`) \
                 or wait for its heartbeat"
            ))),
        }
    }

    /// Sends the run if it has not been, then follows its job to the end.
    async fn execute(&self, run: &InFlight, sent: &AtomicBool) -> Ending {
        let (job, dispatch) = match (run.status, &run.dispatch.job_id) {
            (_, Some(job)) => (job.clone(), run.dispatch.clone()),
            (RunStatus::Pending, None) => {
                if let Err(error) = self.store.start_run(&run.run_id, Some(&self.id)).await {
                    return failed(format!("could not start the run: {error}"));
                }
                sent.store(true, Ordering::SeqCst);
                match self.send(run).await {
                    Ok(sent) => sent,
                    Err(ending) => return ending,
                }
            }
            // The dashboard stopped while waiting for a synchronous answer, which is
            // lost; our agents can still be asked about the run by its id.
            (_, None) => {
                let Dispatch { agent_id, agent_url, .. } = &run.dispatch;
                match self.agents.status(agent_url, &run.run_id).await {
                    Ok(_) => (run.run_id.clone(), run.dispatch.clone()),
                    Err(error) => {
                        return failed(format!(
                            "the dashboard restarted while agent {agent_id} was running this run, and the agent \
                             cannot be asked for its result ({error})"
                        ))
                    }
                }
            }
        };
        self.poll(run, &dispatch, &job).await
    }

    /// `POST /run`: to the run's agent, or, while agents cannot be reached at all
    /// (nothing was sent), to the next alive agent serving the workflow. Returns the
    /// job to follow and the agent that has it, or how the run ended.
    async fn send(&self, run: &InFlight) -> Result<(String, Dispatch), Ending> {
        let inputs = run.inputs.clone().unwrap_or_else(|| Value::Object(Default::default()));
        let mut dispatch = run.dispatch.clone();
        let mut tried = Vec::new();
        loop {
            let Dispatch { agent_id, agent_url, .. } = &dispatch;
            match self.agents.run(agent_url, &run.run_id, &inputs, self.timeouts.answer).await {
                Ok(RunAnswer::Success { outputs, .. }) => return Err(completed(outputs)),
                Ok(RunAnswer::Async { job_id, .. }) if usable_job_id(&job_id) => {
                    self.job_named(&run.run_id, &job_id).await;
                    return Ok((job_id, dispatch));
                }
                Ok(RunAnswer::Async { .. }) => {
                    return Err(failed(format!("agent {agent_id} named its job with an unusable id")))
                }
                Err(AgentError::NotConnected(reason)) => {
                    tried.push(agent_id.clone());
                    let Ok(next) = self.choose(&run.workflow_name, None, &tried).await else {
                        return Err(failed(format!(
                            "agent {agent_id} at {agent_url} could not be reached ({reason}), and no other \
                             alive agent serves {}",
                            run.workflow_name
                        )));
                    };
                    let next = Dispatch { agent_id: next.agent_id.clone(), agent_url: next.base_url(), job_id: None };
                    if let Err(error) = self.store.redispatch(&run.run_id, &next, &self.id).await {
                        return Err(failed(format!("could not send the run to another agent: {error}")));
                    }
                    self.note(
                        &run.run_id,
                        warning(format!(
                            "Agent {agent_id} could not be reached ({reason}); nothing was sent to it, \
                             so the run goes to agent {} instead",
                            next.agent_id
                        )),
                    )
                    .await;
                    if let Some(followed) = self.lock_following().get_mut(&run.run_id) {
                        followed.dispatch = next.clone();
                    }
                    dispatch = next;
                }
                Err(error) => return Err(failed(run_error(agent_id, agent_url, error))),
            }
        }
    }

    async fn job_named(&self, run_id: &str, job_id: &str) {
        if let Some(followed) = self.lock_following().get_mut(run_id) {
            followed.dispatch.job_id = Some(job_id.to_owned());
        }
        if let Err(error) = self.store.set_job(run_id, job_id, &self.id).await {
            tracing::warn!(%error, run_id, "could not record the agent's job id");
        }
    }

    async fn poll(&self, run: &InFlight, dispatch: &Dispatch, job: &str) -> Ending {
        let Dispatch { agent_id, agent_url, .. } = dispatch;
        let mut last_answer = Instant::now();
        let deadline = run.started_at.plus_seconds(self.timeouts.run.as_secs().try_into().unwrap_or(i64::MAX));
        loop {
            if Ts::now() > deadline {
                let asked = match self.agents.cancel(agent_url, job).await {
                    Ok(CancelAnswer::Stopped) => "the agent stopped it",
                    Ok(CancelAnswer::NotSupported(_)) | Err(_) => "the agent could not be asked to stop it",
                };
                return failed(format!(
                    "the run went on for longer than --run-timeout ({} s) on agent {agent_id}; {asked}",
                    self.timeouts.run.as_secs()
                ));
            }
            match self.agents.status(agent_url, job).await {
                Ok(JobStatus { status: JobState::Completed, outputs, .. }) => return completed(outputs),
                Ok(JobStatus { status: JobState::Failed, error, .. }) => {
                    return failed(error.unwrap_or_else(|| format!("agent {agent_id} reported job {job} failed")))
                }
                Ok(JobStatus { status: JobState::Cancelled, .. }) => {
                    return failed(format!("agent {agent_id} cancelled job {job} on its own"))
                }
                Ok(_) => last_answer = Instant::now(),
                Err(AgentError::Refused { status, body }) if status == reqwest::StatusCode::NOT_FOUND => {
                    return failed(format!(
                        "agent {agent_id} no longer knows job {job} (it may have restarted): {body}"
                    ))
                }
                Err(error) if last_answer.elapsed() >= self.timeouts.unreachable => {
                    return failed(format!(
                        "agent {agent_id} at {agent_url} stopped answering for {} s: {error}",
                        self.timeouts.unreachable.as_secs()
                    ))
                }
                Err(_) => {}
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Records the outcome, retrying while the database cannot take it, so that no
    /// run stays running because of a blip. A run that was cancelled meanwhile, or
    /// that another process follows now, refuses the outcome, which is what we want.
    async fn record(&self, run: &InFlight, (outcome, report): Ending) {
        let mut wait = RECORD_RETRY_FIRST;
        loop {
            match self.store.finish_run(&run.run_id, outcome, report.clone(), Some(&self.id)).await {
                Ok(_) | Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return,
                Err(error) => {
                    tracing::warn!(%error, run_id = %run.run_id, "could not record a run's outcome; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RECORD_RETRY_MAX);
                }
            }
        }
    }

    async fn note(&self, run_id: &str, mut line: NewLogLine) {
        line.message = line.message.replace('\0', "\u{FFFD}");
        if let Err(error) = self.store.note(run_id, line).await {
            tracing::warn!(%error, run_id, "could not add a note to a run's log");
        }
    }
}

fn run_error(agent_id: &str, agent_url: &str, error: AgentError) -> String {
    match error {
        AgentError::Refused { status, body } if status.is_server_error() => {
            format!("failed on agent {agent_id}: {body}")
        }
        AgentError::Refused { status, body } => format!("agent {agent_id} refused the run ({status}): {body}"),
        error => format!("agent {agent_id} at {agent_url} {error}"),
    }
}

/// The duration is left to the store: wall-clock from the run's start, like every run's.
fn completed(outputs: Option<Value>) -> Ending {
    (Outcome::Completed, FinishRun { outputs, ..Default::default() })
}

/// Agents' words end up in the message: NULs (which PostgreSQL refuses in text) are
/// replaced, and the length is capped like any reported error's.
fn failed(error_message: String) -> Ending {
    let message: String = error_message.replace('\0', "\u{FFFD}").chars().take(MAX_ERROR_CHARS).collect();
    (Outcome::Failed, FinishRun { error_message: Some(message), ..Default::default() })
}

/// A job id goes into URLs (escaped) and the database: printable and of sane length.
fn usable_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && !id.chars().any(char::is_control)
}

fn info(message: String) -> NewLogLine {
    NewLogLine { level: LogLevel::Info, message, node_id: None }
}

fn warning(message: String) -> NewLogLine {
    NewLogLine { level: LogLevel::Warning, message, node_id: None }
}

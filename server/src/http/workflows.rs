//! Workflow runs: the list and detail for people, the ingest routes for runners,
//! starting runs on agents, and cancel / restart.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use shared::{
    AppendLogs, CatalogEntry, CreateRun, FinishRun, LogLine, LogPage, NodeState, NodeStateData, RunDetail, RunPage,
    RunQuery, RunStatus, StartRun, WorkflowRun,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Query};
use super::ids::RunId;
use super::AppState;
use crate::callers::Caller;
use crate::dispatch::Start;
use crate::run_filter;
use crate::starts::Refused;
use crate::store::limits::RunBound;
use crate::store::{NewRun, Outcome, RunRecord, RunSnapshot};
use crate::validate;

const LOG_PAGE: i64 = 500;
const MAX_LOG_BATCH: usize = 1000;
/// A longer log line is kept truncated, with a marker: one line cannot fill a page or
/// a stream's buffer.
const MAX_LOG_LINE: usize = 16 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(start_on_agent))
        .routes(routes!(catalog))
        .routes(routes!(detail))
        .routes(routes!(logs, append_logs))
        .routes(routes!(append_state))
        .routes(routes!(start))
        .routes(routes!(complete))
        .routes(routes!(fail))
        .routes(routes!(cancel))
        .routes(routes!(restart))
}

type ApiResult<T> = Result<axum::Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, axum::Json<T>), ApiError>;

fn created<T>(value: T) -> Created<T> {
    Ok((StatusCode::CREATED, axum::Json(value)))
}

/// A page of runs: filtered, sorted, and paged by keyset (`next_cursor`).
#[utoipa::path(get, path = "/workflows", operation_id = "list_runs", tag = "runs", security(("token" = ["read"])), params(RunQuery), responses((status = OK, body = RunPage)))]
async fn list(State(state): State<AppState>, Query(query): Query<RunQuery>) -> ApiResult<RunPage> {
    let mut filter = run_filter::parse(&query, chrono::Utc::now())?;
    let limit = filter.limit as usize;
    // One row more than asked tells whether another page follows.
    filter.limit += 1;
    let mut runs = state.services.store.list_runs(&filter).await?;
    let next_cursor = if runs.len() > limit {
        runs.truncate(limit);
        runs.last().map(|last| run_filter::encode(last, &filter))
    } else {
        None
    };
    Ok(axum::Json(RunPage { runs, next_cursor }))
}

/// A run with its inputs, outputs, node states and first page of logs.
#[utoipa::path(get, path = "/workflows/{id}", operation_id = "get_run", tag = "runs", security(("token" = ["read"])), params(("id" = uuid::Uuid, Path, description = "the run's id")), responses((status = OK, body = RunDetail)))]
async fn detail(State(state): State<AppState>, RunId(id): RunId) -> ApiResult<RunDetail> {
    let RunSnapshot { record, states, restarted_into, logs } =
        state.services.store.run_detail(&id, LOG_PAGE).await?.ok_or_else(|| unknown_run(&id))?;
    Ok(axum::Json(RunDetail {
        inputs: RunRecord::json(&record.inputs),
        outputs: RunRecord::json(&record.outputs),
        config_snapshot: RunRecord::json(&record.config_snapshot),
        bottleneck_info: RunRecord::json(&record.bottleneck_info),
        mlflow: record.mlflow,
        dispatch: record.dispatch,
        run: record.run,
        states,
        restarted_into,
        logs: log_page(logs, LOG_PAGE),
    }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    /// Lines after this id (the previous page's `next_after`).
    #[serde(default)]
    after: i64,
    /// 1 to 5000; default 500.
    limit: Option<i64>,
}

/// A page of the run's log, oldest first.
#[utoipa::path(get, path = "/workflows/{id}/logs", tag = "runs", security(("token" = ["read"])), params(("id" = uuid::Uuid, Path, description = "the run's id"), LogsQuery),
    responses((status = OK, body = LogPage)))]
async fn logs(State(state): State<AppState>, RunId(id): RunId, Query(query): Query<LogsQuery>) -> ApiResult<LogPage> {
    let limit = query.limit.unwrap_or(LOG_PAGE);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::invalid("`limit` must be between 1 and 5000"));
    }
    if query.after < 0 {
        return Err(ApiError::invalid("`after` must not be negative"));
    }
    state.services.store.get_run(&id).await?.ok_or_else(|| unknown_run(&id))?;
    let lines = state.services.store.run_logs(&id, query.after, limit).await?;
    Ok(axum::Json(log_page(lines, limit)))
}

fn log_page(lines: Vec<LogLine>, limit: i64) -> LogPage {
    let next_after = (lines.len() as i64 == limit).then(|| lines.last().map(|l| l.id)).flatten();
    LogPage { lines, next_after }
}

fn unknown_run(id: &str) -> ApiError {
    ApiError::NotFound(format!("no workflow run with id {id}"))
}

/// Records a run that another runner executes (the ingest API).
#[utoipa::path(post, path = "/workflows", operation_id = "create_run", tag = "ingest", security(("token" = ["report"])), request_body = CreateRun,
    responses((status = CREATED, body = WorkflowRun)))]
async fn create(State(state): State<AppState>, caller: Caller, Json(body): Json<CreateRun>) -> Created<WorkflowRun> {
    validate::name("workflow_name", &body.workflow_name, 256)?;
    let id = match &body.id {
        Some(id) => validate::run_id(id).map_err(|_| ApiError::invalid("`id` must be a uuid"))?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    if body.inputs.as_ref().is_some_and(|inputs| !inputs.is_object()) {
        return Err(ApiError::invalid("`inputs` must be a JSON object"));
    }
    let status = body.status.unwrap_or(RunStatus::Pending);
    if !status.is_active() {
        return Err(ApiError::invalid("a new run's `status` is `pending` or `running`"));
    }
    let mlflow = body.mlflow.unwrap_or_default();
    validate::mlflow_ids(&mlflow)?;
    caller.may_create_run(state.services.store.as_ref(), &body.workflow_name).await?;
    let run = NewRun {
        id,
        workflow_name: body.workflow_name,
        status,
        inputs: body.inputs,
        config_snapshot: body.config_snapshot,
        mlflow,
        restarted_from: None,
        dispatch: None,
        dispatcher: None,
        created_by: Some(caller.actor()),
    };
    let audit = caller.audit("run.create", &run.id, Some(run.workflow_name.clone()));
    created(state.services.store.create_run(run, Some(audit)).await?)
}

/// The runner started the run.
#[utoipa::path(post, path = "/workflows/{id}/start", tag = "ingest", security(("token" = ["report"])), params(("id" = uuid::Uuid, Path, description = "the run's id")), responses((status = OK, body = WorkflowRun)))]
async fn start(State(state): State<AppState>, caller: Caller, RunId(id): RunId) -> ApiResult<WorkflowRun> {
    caller.may_report(state.services.store.as_ref(), &id).await?;
    Ok(axum::Json(state.services.store.start_run(&id, None).await?))
}

/// A node's state; the run's tokens and cost grow by the node's.
#[utoipa::path(post, path = "/workflows/{id}/states", tag = "ingest", security(("token" = ["report"])), params(("id" = uuid::Uuid, Path, description = "the run's id")), request_body = NodeStateData,
    responses((status = CREATED, body = NodeState)))]
async fn append_state(
    State(state): State<AppState>,
    caller: Caller,
    RunId(id): RunId,
    Json(data): Json<NodeStateData>,
) -> Created<NodeState> {
    validate::name("node_id", &data.node_id, 128)?;
    validate::duration("duration_seconds", data.duration_seconds)?;
    validate::cost("cost_usd", data.cost_usd)?;
    for (field, value) in [
        ("input_tokens", data.input_tokens),
        ("output_tokens", data.output_tokens),
        ("total_tokens", data.total_tokens),
    ] {
        validate::tokens(field, value)?;
    }
    // Input and output each within bounds may still sum beyond them.
    validate::tokens("input_tokens + output_tokens", data.tokens())?;
    caller.may_report(state.services.store.as_ref(), &id).await?;
    // Budgets see the run's new totals on the bus, as they see every writer's.
    created(state.services.store.append_state(&id, data, run_bound(&state)).await?)
}

/// Log lines: one, or `{"lines": [...]}` of up to 1000.
#[utoipa::path(post, path = "/workflows/{id}/logs", tag = "ingest", security(("token" = ["report"])), params(("id" = uuid::Uuid, Path, description = "the run's id")), request_body = AppendLogs,
    responses((status = CREATED, body = Vec<LogLine>)))]
async fn append_logs(
    State(state): State<AppState>,
    caller: Caller,
    RunId(id): RunId,
    Json(body): Json<AppendLogs>,
) -> Created<Vec<LogLine>> {
    let lines = match body {
        AppendLogs::Batch { lines } => lines,
        AppendLogs::One(line) => vec![line],
    };
    if lines.is_empty() || lines.len() > MAX_LOG_BATCH {
        return Err(ApiError::invalid(format!("send between 1 and {MAX_LOG_BATCH} log lines at a time")));
    }
    let mut lines = lines;
    for line in &mut lines {
        validate::text("message", &line.message, usize::MAX)?;
        line.message = validate::capped(std::mem::take(&mut line.message), MAX_LOG_LINE);
        if let Some(node) = &line.node_id {
            validate::name("node_id", node, 128)?;
        }
    }
    caller.may_report(state.services.store.as_ref(), &id).await?;
    created(state.services.store.append_logs(&id, lines).await?)
}

#[utoipa::path(post, path = "/workflows/{id}/complete", tag = "ingest", security(("token" = ["report"])), params(("id" = uuid::Uuid, Path, description = "the run's id")), request_body = FinishRun,
    responses((status = OK, body = WorkflowRun)))]
async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    RunId(id): RunId,
    Json(report): Json<FinishRun>,
) -> ApiResult<WorkflowRun> {
    finish(state, caller, id, Outcome::Completed, report).await
}

/// The run failed; `error_message` is required.
#[utoipa::path(post, path = "/workflows/{id}/fail", tag = "ingest", security(("token" = ["report"])), params(("id" = uuid::Uuid, Path, description = "the run's id")), request_body = FinishRun,
    responses((status = OK, body = WorkflowRun)))]
async fn fail(
    State(state): State<AppState>,
    caller: Caller,
    RunId(id): RunId,
    Json(report): Json<FinishRun>,
) -> ApiResult<WorkflowRun> {
    if report.error_message.as_deref().is_none_or(|m| m.trim().is_empty()) {
        return Err(ApiError::invalid("a failed run needs an `error_message`"));
    }
    finish(state, caller, id, Outcome::Failed, report).await
}

/// The most one run may report (`--max-run-cost-usd`, `--max-run-tokens`).
fn run_bound(state: &AppState) -> RunBound {
    RunBound { cost_usd: state.services.config.max_run_cost_usd, tokens: state.services.config.max_run_tokens }
}

/// Ends the run as reported, held to the same caps as node reports: totals beyond the
/// run bound are refused, and totals over the workflow's per-run budget end the run
/// cancelled by the budget (the answer shows it) instead of as reported.
async fn finish(
    state: AppState,
    caller: Caller,
    id: String,
    outcome: Outcome,
    mut report: FinishRun,
) -> ApiResult<WorkflowRun> {
    if let Some(message) = &report.error_message {
        validate::text("error_message", message, 65_536)?;
    }
    validate::duration("duration_seconds", report.duration_seconds)?;
    validate::cost("total_cost_usd", report.total_cost_usd)?;
    validate::tokens("total_tokens", report.total_tokens)?;
    run_bound(&state).check(report.total_tokens, report.total_cost_usd)?;
    if let Some(ids) = &report.mlflow {
        validate::mlflow_ids(ids)?;
    }
    caller.may_report(state.services.store.as_ref(), &id).await?;
    let run = state.services.store.get_run(&id).await?.ok_or_else(|| unknown_run(&id))?.run;
    let outcome = state.services.budgets.final_outcome(&run, outcome, &mut report);
    Ok(axum::Json(state.services.store.finish_run(&id, outcome, report, None).await?))
}

/// Cancels a pending or running run; its agent is told to stop.
#[utoipa::path(post, path = "/workflows/{id}/cancel", tag = "runs", security(("token" = ["operate"])), params(("id" = uuid::Uuid, Path, description = "the run's id")), responses((status = OK, body = WorkflowRun)))]
async fn cancel(State(state): State<AppState>, caller: Caller, RunId(id): RunId) -> ApiResult<WorkflowRun> {
    Ok(axum::Json(state.services.store.cancel_run(&id, &caller.actor(), None).await?))
}

/// Restarting runs the same workflow with the same inputs on an alive agent, as a new
/// run linked to the old one.
#[utoipa::path(post, path = "/workflows/{id}/restart", tag = "runs", security(("token" = ["operate"])), params(("id" = uuid::Uuid, Path, description = "the run's id")),
    responses((status = CREATED, body = WorkflowRun, description = "the new run")))]
async fn restart(State(state): State<AppState>, caller: Caller, RunId(id): RunId) -> Created<WorkflowRun> {
    created(state.services.starts.restart(&id, caller.actor()).await?)
}

/// Starts a run on an alive agent serving the workflow (the least busy one).
#[utoipa::path(post, path = "/workflows/run", tag = "runs", security(("token" = ["operate"])), request_body = StartRun,
    responses((status = CREATED, body = WorkflowRun)))]
async fn start_on_agent(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<StartRun>,
) -> Created<WorkflowRun> {
    validate::name("workflow_name", &body.workflow_name, 256)?;
    if let Some(agent_id) = &body.agent_id {
        validate::name("agent_id", agent_id, 255)?;
    }
    let inputs = body.inputs.unwrap_or_else(empty_inputs);
    if !inputs.is_object() {
        return Err(ApiError::invalid("`inputs` must be a JSON object of the workflow's input fields"));
    }
    let start = Start {
        workflow_name: body.workflow_name,
        inputs,
        agent_id: body.agent_id,
        restarted_from: None,
        config_snapshot: None,
        by: caller.actor(),
    };
    created(state.services.starts.start(start).await?)
}

/// The workflows alive agents serve, with their input fields.
#[utoipa::path(get, path = "/workflows/catalog", tag = "runs", security(("token" = ["read"])), responses((status = OK, body = Vec<CatalogEntry>)))]
async fn catalog(State(state): State<AppState>) -> ApiResult<Vec<CatalogEntry>> {
    let agents = state.services.store.list_agents().await?;
    Ok(axum::Json(state.services.dispatcher.catalog(&agents).await))
}

fn empty_inputs() -> Value {
    Value::Object(Default::default())
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::NoSuchRun(id) => unknown_run(&id),
            Refused::Unchecked(error) | Refused::NotRecorded(error) => ApiError::Store(error),
            // A workflow at its cap, a run still going, no agent to take it.
            other => ApiError::Conflict(other.to_string()),
        }
    }
}

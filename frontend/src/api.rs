//! The one typed client of the REST API, and every URL the app uses.

use serde::de::DeserializeOwned;
use shared::{
    AgentDeleted, AgentInfo, AnalyticsQuery, Breakdown, Budget, BudgetLimits, CatalogEntry, ErrorBody, LogPage,
    MlflowStatus, RunDetail, RunPage, RunQuery, Series, Session, SignIn, StartRun, WorkflowRun,
};
use shared::{BulkJob, BulkPreview, BulkRequest};
use shared::{CreatedWebhook, NewView, NewWebhook, SavedView, Webhook, WebhookTest};
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

thread_local! {
    /// The browser session's CSRF value, sent with every change.
    static CSRF: RefCell<Option<String>> = const { RefCell::new(None) };
    /// What to do when the server says the caller is not signed in (any more).
    static ON_UNAUTHORIZED: RefCell<Option<Rc<dyn Fn()>>> = const { RefCell::new(None) };
}

pub fn set_csrf(csrf: Option<String>) {
    CSRF.with(|value| *value.borrow_mut() = csrf);
}

pub fn on_unauthorized(handler: impl Fn() + 'static) {
    ON_UNAUTHORIZED.with(|value| *value.borrow_mut() = Some(Rc::new(handler)));
}

/// An API call that did not succeed: the server's message, or why there was none.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: Option<u16>,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

async fn read<T: DeserializeOwned>(request: gloo_net::http::RequestBuilder) -> ApiResult<T> {
    read_response(request.send().await).await
}

async fn read_sent<T: DeserializeOwned>(request: gloo_net::http::Request) -> ApiResult<T> {
    read_response(request.send().await).await
}

async fn read_response<T: DeserializeOwned>(sent: Result<gloo_net::http::Response, gloo_net::Error>) -> ApiResult<T> {
    let unreachable =
        |e: gloo_net::Error| ApiError { status: None, message: format!("the server is unreachable ({e})") };
    let response = sent.map_err(unreachable)?;
    let status = response.status();
    if status == 401 {
        if let Some(handler) = ON_UNAUTHORIZED.with(|value| value.borrow().clone()) {
            handler();
        }
    }
    if response.ok() {
        return response
            .json()
            .await
            .map_err(|e| ApiError { status: Some(status), message: format!("unreadable answer: {e}") });
    }
    let message = match response.json::<ErrorBody>().await {
        Ok(body) => body.error.message,
        Err(_) => format!("the server answered {status}"),
    };
    Err(ApiError { status: Some(status), message })
}

/// A GET that an early request (`index.html`) may have answered already.
async fn read_early<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    match crate::early::take(path).await {
        Some(answer) => read_response(Ok(answer)).await,
        None => read(get(path)).await,
    }
}

fn get(path: &str) -> gloo_net::http::RequestBuilder {
    gloo_net::http::Request::get(path)
}

fn post(path: &str) -> gloo_net::http::RequestBuilder {
    with_csrf(gloo_net::http::Request::post(path))
}

fn delete(path: &str) -> gloo_net::http::RequestBuilder {
    with_csrf(gloo_net::http::Request::delete(path))
}

fn with_csrf(request: gloo_net::http::RequestBuilder) -> gloo_net::http::RequestBuilder {
    match CSRF.with(|value| value.borrow().clone()) {
        Some(csrf) => request.header("X-CSRF-Token", &csrf),
        None => request,
    }
}

/// Who is signed in; 401 when no one is (the app then shows the sign-in page).
pub async fn session() -> ApiResult<Session> {
    read_early("/api/session").await
}

pub async fn sign_in(token: &str) -> ApiResult<Session> {
    send_json(post("/api/session"), &SignIn { token: token.trim().to_owned() }).await
}

pub async fn sign_out() -> ApiResult<()> {
    deleted("/api/session").await
}

/// `key=value&...` of the set fields, values URI-encoded.
pub fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(key, value)| value.as_ref().filter(|v| !v.is_empty()).map(|v| format!("{key}={}", encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(value: &str) -> String {
    js_sys::encode_uri_component(value).into()
}

pub fn run_query_pairs(query: &RunQuery) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("status", query.status.as_ref().map(ToString::to_string)),
        ("workflow", query.workflow.clone()),
        ("agent", query.agent.clone()),
        ("range", query.range.map(|range| range.to_string())),
        ("since", query.since.map(|t| t.to_rfc3339())),
        ("until", query.until.map(|t| t.to_rfc3339())),
        ("q", query.q.clone()),
        ("sort", query.sort.map(|sort| sort.to_string())),
        ("limit", query.limit.map(|l| l.to_string())),
        ("cursor", query.cursor.clone()),
    ]
}

pub async fn runs(query: &RunQuery) -> ApiResult<RunPage> {
    read_early(&format!("/api/workflows?{}", query_string(&run_query_pairs(query)))).await
}

/// The export of every run `query`'s filters and sort select (`csv` or `jsonl`).
pub fn export(query: &RunQuery, format: &str) -> String {
    let filters = RunQuery { limit: None, cursor: None, ..query.clone() };
    format!("/api/workflows/export.{format}?{}", query_string(&run_query_pairs(&filters)))
}

pub async fn run(id: &str) -> ApiResult<RunDetail> {
    read(get(&format!("/api/workflows/{}", encode(id)))).await
}

pub async fn run_logs(id: &str, after: i64) -> ApiResult<LogPage> {
    read(get(&format!("/api/workflows/{}/logs?after={after}", encode(id)))).await
}

pub async fn cancel(id: &str) -> ApiResult<WorkflowRun> {
    read(post(&format!("/api/workflows/{}/cancel", encode(id)))).await
}

pub async fn restart(id: &str) -> ApiResult<WorkflowRun> {
    read(post(&format!("/api/workflows/{}/restart", encode(id)))).await
}

/// What a bulk action would touch (the request's `dry_run` is set).
pub async fn bulk_preview(request: &BulkRequest) -> ApiResult<BulkPreview> {
    send_json(post("/api/workflows/bulk"), &BulkRequest { dry_run: true, ..request.clone() }).await
}

/// Starts a bulk job.
pub async fn bulk_start(request: &BulkRequest) -> ApiResult<BulkJob> {
    send_json(post("/api/workflows/bulk"), &BulkRequest { dry_run: false, ..request.clone() }).await
}

pub async fn bulk_jobs() -> ApiResult<Vec<BulkJob>> {
    read(get("/api/bulk?limit=10")).await
}

pub async fn stop_bulk(id: &str) -> ApiResult<BulkJob> {
    read(post(&format!("/api/bulk/{}/stop", encode(id)))).await
}

pub async fn catalog() -> ApiResult<Vec<CatalogEntry>> {
    read(get("/api/workflows/catalog")).await
}

pub async fn start_run(start: &StartRun) -> ApiResult<WorkflowRun> {
    send_json(post("/api/workflows/run"), start).await
}

fn analytics_pairs(query: &AnalyticsQuery) -> String {
    query_string(&[
        ("metric", query.metric.map(|metric| metric.to_string())),
        ("group_by", query.group_by.map(|group| group.to_string())),
        ("bucket", query.bucket.map(|bucket| bucket.to_string())),
        ("range", query.range.map(|range| range.to_string())),
        ("since", query.since.map(|t| t.to_rfc3339())),
        ("until", query.until.map(|t| t.to_rfc3339())),
        ("workflow", query.workflow.clone()),
    ])
}

pub async fn series(query: &AnalyticsQuery) -> ApiResult<Series> {
    read(get(&format!("/api/analytics/series?{}", analytics_pairs(query)))).await
}

pub async fn breakdown(query: &AnalyticsQuery) -> ApiResult<Breakdown> {
    read(get(&format!("/api/analytics/breakdown?{}", analytics_pairs(query)))).await
}

pub async fn budgets() -> ApiResult<Vec<Budget>> {
    read(get("/api/budgets")).await
}

/// Sends `body` as JSON with `request`.
async fn send_json<T: DeserializeOwned>(
    request: gloo_net::http::RequestBuilder,
    body: &impl serde::Serialize,
) -> ApiResult<T> {
    let request = request
        .json(body)
        .map_err(|e| ApiError { status: None, message: format!("could not encode the request: {e}") })?;
    read_sent(request).await
}

/// A DELETE answered without a body.
async fn deleted(path: &str) -> ApiResult<()> {
    match delete(path).send().await {
        Ok(response) if response.ok() => Ok(()),
        sent => read_response::<()>(sent).await,
    }
}

pub async fn set_budget(workflow: &str, limits: &BudgetLimits) -> ApiResult<Budget> {
    send_json(with_csrf(gloo_net::http::Request::put(&format!("/api/budgets/{}", encode(workflow)))), limits).await
}

pub async fn delete_budget(workflow: &str) -> ApiResult<()> {
    deleted(&format!("/api/budgets/{}", encode(workflow))).await
}

pub async fn views() -> ApiResult<Vec<SavedView>> {
    read(get("/api/views")).await
}

/// Saves a new view (`id` none) or changes one of the caller's.
pub async fn save_view(id: Option<&str>, view: &NewView) -> ApiResult<SavedView> {
    match id {
        None => send_json(post("/api/views"), view).await,
        Some(id) => {
            send_json(with_csrf(gloo_net::http::Request::put(&format!("/api/views/{}", encode(id)))), view).await
        }
    }
}

pub async fn delete_view(id: &str) -> ApiResult<()> {
    deleted(&format!("/api/views/{}", encode(id))).await
}

pub async fn webhooks() -> ApiResult<Vec<Webhook>> {
    read(get("/api/webhooks")).await
}

pub async fn create_webhook(hook: &NewWebhook) -> ApiResult<CreatedWebhook> {
    send_json(post("/api/webhooks"), hook).await
}

pub async fn delete_webhook(id: &str) -> ApiResult<()> {
    deleted(&format!("/api/webhooks/{}", encode(id))).await
}

pub async fn test_webhook(id: &str) -> ApiResult<WebhookTest> {
    read(post(&format!("/api/webhooks/{}/test", encode(id)))).await
}

pub async fn agents(include_dead: bool) -> ApiResult<Vec<AgentInfo>> {
    read(get(&format!("/api/agents?include_dead={include_dead}"))).await
}

pub async fn deregister(id: &str) -> ApiResult<AgentDeleted> {
    read(delete(&format!("/api/agents/{}", encode(id)))).await
}

pub async fn mlflow_status() -> ApiResult<MlflowStatus> {
    read(get("/api/mlflow")).await
}

/// The id of the MLflow experiment with this name, asked of MLflow through the proxy.
pub async fn mlflow_experiment_id(name: &str) -> ApiResult<String> {
    #[derive(serde::Deserialize)]
    struct Found {
        experiment: Experiment,
    }
    #[derive(serde::Deserialize)]
    struct Experiment {
        experiment_id: String,
    }
    let url = format!("{MLFLOW}ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name={}", encode(name));
    let found: Found = read(get(&url)).await?;
    Ok(found.experiment.experiment_id)
}

/// The MLflow UI through the server's proxy (the trailing slash matters: MLflow's
/// own URLs are relative).
pub const MLFLOW: &str = "/mlflow/";

pub fn agent_docs(id: &str) -> String {
    format!("/api/agents/{}/docs", encode(id))
}

/// The live event stream; `last_event_id` resumes a stream the browser had to drop.
pub fn events(topics: &str, run: Option<&str>, last_event_id: Option<i64>) -> String {
    let query = query_string(&[
        ("topics", Some(topics.to_owned())),
        ("run", run.map(str::to_owned)),
        ("last_event_id", last_event_id.map(|id| id.to_string())),
    ]);
    format!("/api/events?{query}")
}

/// Paths of the app's own pages: the routes (`lib.rs`) and every link use these.
pub mod pages {
    /// A page's route segment: its path without the leading slash.
    pub fn segment(path: &'static str) -> &'static str {
        path.trim_start_matches('/')
    }

    pub const DASHBOARD: &str = "/";
    pub const WORKFLOWS: &str = "/workflows";
    pub const AGENTS: &str = "/agents";
    pub const OBSERVABILITY: &str = "/observability";
    pub const ANALYTICS: &str = "/analytics";
    pub const LOGIN: &str = "/login";

    pub fn workflow(id: &str) -> String {
        format!("/workflows/{id}")
    }

    pub fn agent(id: &str) -> String {
        format!("{AGENTS}/{}", super::encode(id))
    }

    pub const COMPARE: &str = "/workflows/compare";

    /// Two runs side by side.
    pub fn compare(a: &str, b: &str) -> String {
        format!("{COMPARE}?a={}&b={}", super::encode(a), super::encode(b))
    }

    /// The runs page filtered to one workflow.
    pub fn runs_of(workflow: &str) -> String {
        format!("{WORKFLOWS}?workflow={}", super::encode(workflow))
    }

    /// The MLflow page showing one view of the MLflow UI (`/experiments/1/runs/abc`).
    pub fn mlflow_view(view: &str) -> String {
        format!("{OBSERVABILITY}?view={}", super::encode(view))
    }

    /// The MLflow page showing the experiment with this name.
    pub fn mlflow_experiment(name: &str) -> String {
        format!("{OBSERVABILITY}?experiment={}", super::encode(name))
    }
}

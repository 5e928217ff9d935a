//! The HTTP surface: shared state, the router, and one module per resource.

pub mod access;
mod admin;
mod agents;
mod analytics;
mod budgets;
mod bulk;
pub mod error;
mod export;
mod frontend;
pub mod guard;
pub mod mlflow;
mod openapi;
pub mod run_filter;
mod session;
pub mod stream;
mod summary;
mod validate;
mod views;
mod webhooks;
mod workflows;

use axum::extract::DefaultBodyLimit;
use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use axum::Router;
use std::any::Any;
use std::sync::Arc;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::config::DashboardArgs;
use crate::events::EventBus;
use crate::store::Store;
use error::error_response;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub bus: EventBus,
    pub config: Arc<DashboardArgs>,
    /// The reverse proxy to MLflow, when `--mlflow-uri` is set.
    pub mlflow: Option<mlflow::MlflowProxy>,
    /// Starts runs on agents and follows them to the end.
    pub dispatcher: crate::dispatch::Dispatcher,
    /// Turns true on graceful shutdown; open event streams end then.
    pub shutdown: watch::Receiver<bool>,
    /// Who may do what.
    pub access: Arc<access::Access>,
    /// The hosts and origins that are this dashboard's own.
    pub origins: Arc<guard::Origins>,
    /// Open event streams, against `--max-streams`.
    pub streams: stream::StreamSlots,
    /// Budgets per workflow, enforced on reports and starts.
    pub budgets: Arc<crate::budgets::Budgets>,
    /// Alerts to outgoing webhooks.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// Bulk jobs at work.
    pub bulk: Arc<crate::bulk::BulkJobs>,
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = utoipa_axum::router::OpenApiRouter::with_openapi(openapi::base())
        .merge(workflows::routes())
        .merge(export::routes())
        .merge(agents::routes())
        .merge(analytics::routes())
        .merge(budgets::routes())
        .merge(bulk::routes())
        .merge(webhooks::routes())
        .merge(views::routes())
        .merge(summary::routes())
        .merge(stream::routes())
        .merge(mlflow::status_routes())
        .merge(session::routes())
        .merge(admin::routes())
        .split_for_parts();
    let api = api
        .merge(openapi::routes(openapi::finish(doc)))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed);
    // Only the app's files are compressed: compressing event streams would buffer them.
    let app = Router::new().fallback(frontend::serve).layer(CompressionLayer::new());
    Router::new()
        .nest("/api", api)
        .merge(mlflow::routes())
        .fallback_service(app)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), access::authenticate))
        .layer(from_fn_with_state(state.clone(), guard::check_host_and_origin))
        .layer(from_fn(guard::refuse_nul_in_url))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn unknown_route(OriginalUri(uri): OriginalUri) -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", format!("no route for {}", uri.path()))
}

async fn method_not_allowed() -> Response {
    error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route".to_owned())
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error".to_owned())
}

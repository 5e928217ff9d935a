//! The HTTP surface: shared state, the router, and one module per resource.

mod admin;
mod agents;
mod analytics;
pub mod auth;
mod auth_failures;
pub mod body_guard;
mod budgets;
mod bulk;
pub mod error;
mod export;
mod frontend;
pub mod guard;
pub mod ids;
pub mod mlflow;
mod openapi;
mod ownership;
pub mod rules;
mod security_headers;
mod session;
pub mod stream;
mod summary;
mod views;
mod webhooks;
mod workflows;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use axum::Router;
use std::any::Any;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::services::Services;
use error::error_response;
use rules::Rules;

/// What every handler shares. One `Arc`: axum clones the state for every layer a
/// request passes, and one counter is cheaper than one per field (a reconnect storm
/// spent a quarter of its time on those clones).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    /// What the handlers call: the store, the dispatcher, budgets, bulk jobs...
    pub services: Arc<Services>,
    /// The reverse proxy to MLflow, when `--mlflow-uri` is set.
    pub mlflow: Option<mlflow::MlflowProxy>,
    /// Turns true on graceful shutdown; open event streams end then.
    pub shutdown: watch::Receiver<bool>,
    /// Who may do what.
    pub access: Arc<auth::Access>,
    /// The hosts and origins that are this dashboard's own.
    pub origins: Arc<guard::Origins>,
    /// Open event streams, against `--max-streams`.
    pub streams: stream::StreamSlots,
    /// What the gate turned away, for `/api/health`.
    pub refusals: Refusals,
}

/// Counts of what the gate turned away (failed authentication is counted by `auth`).
#[derive(Clone, Default)]
pub struct Refusals {
    pub bodies_timed_out: Arc<AtomicU64>,
    /// Connections closed at once: their client address had `--max-connections-per-client` open.
    pub connections_over_cap: Arc<AtomicU64>,
}

/// Every route, and the gate in front of them. Each request passes, in order: a
/// canonical path (400), the Host and Origin checks, the body's cap and deadline, and
/// the permission its matched route declared (`rules`); the router, the access check
/// and the MLflow proxy all read the same path.
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
    let doc = openapi::finish(doc);
    // A programming error, met by every test that starts the server.
    let mut rules = Rules::from_document(&doc).unwrap_or_else(|why| panic!("an API operation {why}"));
    let documents = openapi::routes(doc, &mut rules);
    let mlflow = mlflow::routes(&mut rules);
    let gate = auth::Gate { state: state.clone(), rules: Arc::new(rules) };
    let bodies = body_guard::BodyLimits {
        max_bytes: state.services.config.max_body_bytes,
        timeout: state.services.config.body_timeout,
        timed_out: state.refusals.bodies_timed_out.clone(),
    };
    // Only the app's files are compressed: compressing event streams would buffer them.
    let app = Router::new().fallback(frontend::serve).layer(CompressionLayer::new());
    Router::new()
        .nest("/api", api)
        .merge(documents)
        .merge(mlflow)
        .fallback_service(app)
        // The gate's body guard holds every body to the cap, the proxy's too.
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(gate, auth::authenticate))
        .layer(from_fn_with_state(bodies, body_guard::guard))
        .layer(from_fn_with_state(state.clone(), guard::check_host_and_origin))
        .layer(from_fn(guard::refuse_non_canonical))
        .layer(from_fn(security_headers::add))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error".to_owned())
}

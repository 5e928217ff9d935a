//! Live events over Server-Sent Events.
//!
//! A stream is a queue of SSE frames that the hub (`crate::live`) fills: live events
//! as they are published, and on resume (`Last-Event-ID`) the persisted events after
//! it from the hub's memory, or for a stream further behind, from the database first.
//! Ids only grow and commit in order and the hub fills any jump from the database:
//! nothing persisted is skipped, nothing is sent twice. Here: the endpoints, their
//! caps on open streams, and the response body.

mod body;
mod slots;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::ClientAddress;
use super::error::{ApiError, Query};
use super::AppState;
use crate::callers::Caller;
use crate::events::Revocation;
use crate::live::{self, Feed, Hub, Stop, Topics};
use shared::Event;
use slots::Full;
pub use slots::StreamSlots;

/// The paths `routes` serves, where `listen` gives a connection its lighter form for
/// event streams.
pub const PATHS: [&str; 3] = ["/api/events", "/api/metrics/workflows/stream", "/api/metrics/agents/stream"];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(all)).routes(routes!(workflows_stream)).routes(routes!(agents_stream))
}

/// How often a stream checks that its token or session still exists (revocations on
/// other replicas); each stream's first check falls at random within the first two
/// periods, so streams opened together do not check together.
const RECHECK_ACCESS: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    /// Comma-separated: workflows, logs, agents, summary. Default: all but logs.
    topics: Option<String>,
    /// Only this run's workflow, node-state and log events.
    run: Option<String>,
    /// For clients that cannot set the `Last-Event-ID` header.
    last_event_id: Option<i64>,
}

/// Live events: each `event:` is an `Event` type's name, its `data:` the content, its
/// `id:` a number to resume from (`Last-Event-ID`). The first event is `ready`.
#[utoipa::path(get, path = "/events", tag = "events", security(("token" = ["read"])), params(StreamQuery),
    responses((status = OK, content_type = "text/event-stream", body = Event)))]
async fn all(
    state: State<AppState>,
    caller: Option<Caller>,
    client: Extension<ClientAddress>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    let list = query.topics.as_deref().unwrap_or("workflows,agents,summary");
    open(state, (caller, client), &headers, &query, list)
}

/// The seed's stream of run changes (`/api/events?topics=workflows`).
#[utoipa::path(get, path = "/metrics/workflows/stream", tag = "events", security(("token" = ["read"])), params(StreamQuery),
    responses((status = OK, content_type = "text/event-stream", body = Event)))]
async fn workflows_stream(
    state: State<AppState>,
    caller: Option<Caller>,
    client: Extension<ClientAddress>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    fixed_topic(state, (caller, client), &headers, &query, "workflows")
}

/// The seed's stream of agent changes (`/api/events?topics=agents`).
#[utoipa::path(get, path = "/metrics/agents/stream", tag = "events", security(("token" = ["read"])), params(StreamQuery),
    responses((status = OK, content_type = "text/event-stream", body = Event)))]
async fn agents_stream(
    state: State<AppState>,
    caller: Option<Caller>,
    client: Extension<ClientAddress>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    fixed_topic(state, (caller, client), &headers, &query, "agents")
}

/// Who opens a stream: the caller, if signed in, and the address it comes from.
type Opener = (Option<Caller>, Extension<ClientAddress>);

fn fixed_topic(
    state: State<AppState>,
    caller: Opener,
    headers: &HeaderMap,
    query: &StreamQuery,
    topic: &str,
) -> Result<Response, ApiError> {
    match query.topics {
        Some(_) => Err(ApiError::invalid("this stream has a fixed topic; use /api/events?topics= to choose")),
        None => open(state, caller, headers, query, topic),
    }
}

fn open(
    State(state): State<AppState>,
    (caller, Extension(ClientAddress(client))): Opener,
    headers: &HeaderMap,
    query: &StreamQuery,
    topics: &str,
) -> Result<Response, ApiError> {
    let topics = Topics::parse(topics, query.run.as_deref())?;
    let last_event_id = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
            ApiError::Rejected(StatusCode::BAD_REQUEST, "`Last-Event-ID` must be an event id".into())
        })?),
        None => query.last_event_id,
    };
    // A token's streams count together, its browser sessions' included; an SSO user's
    // together; without sign-in, an address's.
    let owner = match &caller {
        Some(caller) if caller.token_id.is_some() || state.access.tokens => caller.owner_key(),
        _ => format!("address:{}", client.map_or_else(String::new, |ip| ip.to_string())),
    };
    let slot = state.streams.take(owner).map_err(|full| match full {
        Full::All => ApiError::Busy(format!(
            "{} event streams are open, the most this dashboard serves (--max-streams); try again shortly",
            state.services.config.max_streams
        )),
        Full::Caller => ApiError::TooMany {
            message: format!(
                "you have {} event streams open, the most one caller may (--max-streams-per-caller); close one",
                state.services.config.max_streams_per_caller
            ),
            retry_after: 5,
        },
    })?;
    let (queue, frames) = live::queue();
    let mut shutdown = state.shutdown.clone();
    let response = body::response(frames, state.services.config.sse_keep_alive);
    tokio::spawn(async move {
        let _slot = slot;
        let hub = &state.services.hub;
        let key = hub.key();
        let _attached = Attachment { hub, key, run: topics.run.clone() };
        let feed = Feed { hub, store: state.services.store.as_ref(), key, topics, queue: queue.clone() };
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => {}
            // The client left: noticed at once, not on the next event for it (a
            // finished run's stream may never get one).
            _ = queue.closed() => {}
            _ = revocation_of(caller, &state) => {}
            result = feed.run(last_event_id) => match result {
                Err(Stop::Failed(error)) => {
                    let ended = hub.failures.lock().unwrap_or_else(|e| e.into_inner()).count(1);
                    if let Some(ended) = ended {
                        tracing::warn!(%error, ended, "event streams ended on a database error (since the last such warning)");
                    }
                }
                Err(Stop::Behind) => tracing::debug!("closed an event stream whose client fell behind"),
                Ok(()) | Err(Stop::Gone) => {}
            },
        }
    });
    Ok(response)
}

/// A stream known to the hub; forgotten there when the stream ends.
struct Attachment<'a> {
    hub: &'a Hub,
    key: u64,
    run: Option<String>,
}

impl Drop for Attachment<'_> {
    fn drop(&mut self) {
        self.hub.detach(self.key, self.run.take());
    }
}

/// Resolves when the token or browser session the stream was opened with ends: at
/// once when it is revoked or expires on this replica, within `RECHECK_ACCESS` when
/// revoked on another.
async fn revocation_of(caller: Option<Caller>, state: &AppState) {
    let expiry = caller.as_ref().and_then(|caller| caller.expires_at);
    let expired = async move {
        match expiry.map(|at| (at - chrono::Utc::now()).to_std().unwrap_or_default()) {
            Some(left) => tokio::time::sleep(left).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = expired => {}
        _ = revoked(caller, state) => {}
    }
}

async fn revoked(caller: Option<Caller>, state: &AppState) {
    let token = caller.as_ref().and_then(|caller| caller.token_id.clone());
    let session = caller.and_then(|caller| caller.session).map(|session| session.id_hash);
    if token.is_none() && session.is_none() {
        return std::future::pending().await;
    }
    let mut revocations = state.services.bus.revocations();
    let first = RECHECK_ACCESS.mul_f64(1.0 + fastrand::f64());
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + first, RECHECK_ACCESS);
    loop {
        tokio::select! {
            revoked = revocations.recv() => match revoked {
                Ok(Revocation::Token(id)) if Some(&id) == token.as_ref() => return,
                Ok(Revocation::Session(hash)) if Some(&hash) == session.as_ref() => return,
                _ => {}
            },
            _ = recheck.tick() => {
                let Ok(_permit) = state.services.hub.reads.acquire().await else { return };
                let alive = match (&session, &token) {
                    (Some(hash), _) => state.services.store.session(hash).await.map(|found| found.is_some()),
                    (None, Some(id)) => state.services.store.token_exists(id).await,
                    (None, None) => Ok(true),
                };
                // A database that cannot answer ends nothing.
                if matches!(alive, Ok(false)) {
                    return;
                }
            }
        }
    }
}

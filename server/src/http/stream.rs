//! Live events over Server-Sent Events.
//!
//! Each connection subscribes to the bus first, then replays persisted events after
//! the client's `Last-Event-ID` from the database, then follows the bus. Ids only
//! grow and commit in order, so any jump in ids (an event published late, or the
//! subscriber lagging behind the channel) is filled from the database: nothing
//! persisted is skipped, nothing is sent twice.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::StreamExt;
use shared::Event;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::error::SendTimeoutError;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::ClientAddress;
use super::error::{ApiError, Query};
use super::{validate, AppState};
use crate::access::Caller;
use crate::events::{Published, Revocation};
use crate::store::StoreError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(all)).routes(routes!(workflows_stream)).routes(routes!(agents_stream))
}

const REPLAY_BATCH: i64 = 500;
/// Events waiting for a slow client; when they stay this many for `SLOW_CLIENT`, the
/// stream is closed.
const STREAM_BUFFER: usize = 256;
const SLOW_CLIENT: std::time::Duration = std::time::Duration::from_secs(10);
const DATABASE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
/// How often a stream checks that its token or session still exists (revocations on
/// other replicas).
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

#[derive(Debug, Clone, Default)]
struct Topics {
    workflows: bool,
    logs: bool,
    agents: bool,
    summary: bool,
    run: Option<String>,
}

impl Topics {
    /// `list` is comma-separated; `run` narrows run events to one run.
    fn parse(list: &str, run: Option<&str>) -> Result<Topics, ApiError> {
        let mut topics = Topics::default();
        for topic in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match topic {
                "workflows" => topics.workflows = true,
                "logs" => topics.logs = true,
                "agents" => topics.agents = true,
                "summary" => topics.summary = true,
                other => {
                    return Err(ApiError::invalid(format!(
                        "unknown topic `{other}` (expected workflows, logs, agents or summary)"
                    )))
                }
            }
        }
        topics.run = run.map(validate::run_id).transpose()?;
        Ok(topics)
    }

    fn wants(&self, event: &Event) -> bool {
        let topic = match event {
            Event::WorkflowUpdate(_) | Event::NodeState(_) | Event::BulkJob(_) => self.workflows,
            Event::RunLog(_) => self.logs,
            Event::AgentUpdate(_) => self.agents,
            Event::Summary(_) => self.summary,
            Event::Resync { .. } | Event::Ready { .. } => true,
        };
        topic
            && match (&self.run, event.run_id()) {
                (Some(wanted), Some(run)) => wanted == run,
                _ => true,
            }
    }
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
) -> Result<impl IntoResponse, ApiError> {
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
        None => open(state, caller, headers, query, topic).map(IntoResponse::into_response),
    }
}

fn open(
    State(state): State<AppState>,
    (caller, Extension(ClientAddress(client))): Opener,
    headers: &HeaderMap,
    query: &StreamQuery,
    topics: &str,
) -> Result<impl IntoResponse, ApiError> {
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
            state.config.max_streams
        )),
        Full::Caller => ApiError::TooMany {
            message: format!(
                "you have {} event streams open, the most one caller may (--max-streams-per-caller); close one",
                state.config.max_streams_per_caller
            ),
            retry_after: 5,
        },
    })?;
    let keep_alive_every = state.config.sse_keep_alive;
    // Subscribe before reading the database, so nothing committed in between is missed.
    let live = state.bus.subscribe();
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    let mut shutdown = state.shutdown.clone();
    let client = sender.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let feed = Feed { state, topics, sender };
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => {}
            // The client left: noticed at once, not on the next event for it (a
            // finished run's stream may never get one).
            _ = client.closed() => {}
            _ = revocation_of(caller, &feed.state) => {}
            result = feed.run(last_event_id, live) => match result {
                Err(Stop::Failed(error)) => tracing::warn!(%error, "event stream ended"),
                Err(Stop::Behind) => tracing::debug!("closed an event stream whose client fell behind"),
                Ok(()) | Err(Stop::Gone) => {}
            },
        }
    });
    let stream = ReceiverStream::new(receiver).map(Ok::<_, Infallible>);
    // Proxies such as nginx must pass events through as they come.
    let headers = [("x-accel-buffering", HeaderValue::from_static("no"))];
    let keep_alive = KeepAlive::new().interval(keep_alive_every);
    Ok((headers, Sse::new(stream).keep_alive(keep_alive)))
}

/// Counts open event streams against `--max-streams`, and each caller's against
/// `--max-streams-per-caller`.
#[derive(Clone)]
pub struct StreamSlots {
    open: Arc<Mutex<OpenStreams>>,
    max: usize,
    per_caller: usize,
}

#[derive(Default)]
struct OpenStreams {
    total: usize,
    by_caller: HashMap<String, usize>,
}

/// Which limit a new stream met.
enum Full {
    All,
    Caller,
}

/// One open stream; gives its slot back when dropped.
pub struct StreamSlot(Arc<Mutex<OpenStreams>>, String);

impl StreamSlots {
    pub fn new(max: usize, per_caller: usize) -> StreamSlots {
        StreamSlots { open: Arc::default(), max, per_caller }
    }

    fn take(&self, caller: String) -> Result<StreamSlot, Full> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.max {
            return Err(Full::All);
        }
        let mine = open.by_caller.entry(caller.clone()).or_default();
        if *mine >= self.per_caller {
            return Err(Full::Caller);
        }
        *mine += 1;
        open.total += 1;
        Ok(StreamSlot(self.open.clone(), caller))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        open.total -= 1;
        if let Some(mine) = open.by_caller.get_mut(&self.1) {
            *mine -= 1;
            if *mine == 0 {
                open.by_caller.remove(&self.1);
            }
        }
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
    let mut revocations = state.bus.revocations();
    let mut recheck = tokio::time::interval(RECHECK_ACCESS);
    recheck.tick().await;
    loop {
        tokio::select! {
            revoked = revocations.recv() => match revoked {
                Ok(Revocation::Token(id)) if Some(&id) == token.as_ref() => return,
                Ok(Revocation::Session(hash)) if Some(&hash) == session.as_ref() => return,
                _ => {}
            },
            _ = recheck.tick() => {
                let alive = match (&session, &token) {
                    (Some(hash), _) => state.store.session(hash).await.map(|found| found.is_some()),
                    (None, Some(id)) => state.store.token_exists(id).await,
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

enum Stop {
    /// The client went away.
    Gone,
    /// The client stopped taking events: it resumes with `Last-Event-ID` when it
    /// reconnects, instead of events piling up here.
    Behind,
    Failed(StoreError),
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Stop::Failed(error)
    }
}

struct Feed {
    state: AppState,
    topics: Topics,
    sender: mpsc::Sender<SseEvent>,
}

impl Feed {
    async fn run(&self, last_event_id: Option<i64>, mut live: broadcast::Receiver<Published>) -> Result<(), Stop> {
        let (oldest, newest) = self.state.store.event_bounds().await?;
        let mut cursor = match last_event_id {
            None => newest,
            Some(last) if last > newest => {
                self.resync(format!("event {last} is unknown here; the newest is {newest}")).await?;
                newest
            }
            Some(last) if last < oldest - 1 => {
                self.resync(format!("events after {last} are no longer kept")).await?;
                newest
            }
            Some(last) => self.replay(last).await?,
        };
        self.send(Some(cursor), &Event::Ready { last_event_id: cursor }).await?;
        if self.topics.summary {
            let totals = crate::summary::compute(self.state.store.as_ref()).await?;
            self.send(None, &Event::Summary(totals)).await?;
        }
        loop {
            match live.recv().await {
                Ok(published @ Published { id: None, .. }) => self.send_published(&published).await?,
                Ok(Published { id: Some(id), .. }) if id <= cursor => {}
                Ok(published @ Published { id: Some(id), .. }) if id == cursor + 1 => {
                    self.send_published(&published).await?;
                    cursor = id;
                }
                Ok(Published { id: Some(_), .. }) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    cursor = self.replay(cursor).await?;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }

    /// Sends every persisted event after `cursor`; returns the last id read. While the
    /// database is away the stream waits for it, so that its client misses nothing.
    async fn replay(&self, mut cursor: i64) -> Result<i64, Stop> {
        loop {
            let batch = match self.state.store.events_after(cursor, REPLAY_BATCH).await {
                Ok(batch) => batch,
                Err(StoreError::Unavailable(_)) if !self.sender.is_closed() => {
                    tokio::time::sleep(DATABASE_RETRY).await;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let full = batch.len() as i64 == REPLAY_BATCH;
            for (id, event) in batch {
                self.send_wanted(Some(id), &event).await?;
                cursor = id;
            }
            if !full {
                return Ok(cursor);
            }
        }
    }

    async fn resync(&self, reason: String) -> Result<(), Stop> {
        self.send(None, &Event::Resync { reason }).await
    }

    async fn send_wanted(&self, id: Option<i64>, event: &Event) -> Result<(), Stop> {
        if self.topics.wants(event) {
            self.send(id, event).await?;
        }
        Ok(())
    }

    /// A live event, whose JSON every stream shares.
    async fn send_published(&self, published: &Published) -> Result<(), Stop> {
        if self.topics.wants(&published.event) {
            self.send_data(published.id, published.event.name(), published.data()).await?;
        }
        Ok(())
    }

    async fn send(&self, id: Option<i64>, event: &Event) -> Result<(), Stop> {
        self.send_data(id, event.name(), &event.data().to_string()).await
    }

    async fn send_data(&self, id: Option<i64>, name: &str, data: &str) -> Result<(), Stop> {
        let mut sse = SseEvent::default().event(name).data(data);
        if let Some(id) = id {
            sse = sse.id(id.to_string());
        }
        self.sender.send_timeout(sse, SLOW_CLIENT).await.map_err(|error| match error {
            SendTimeoutError::Timeout(_) => Stop::Behind,
            SendTimeoutError::Closed(_) => Stop::Gone,
        })
    }
}

//! What every resource's SQL shares: the write helper, the event log's `emit`, and
//! the reads a write makes of the row it changes.

pub(super) use super::access::{claim_agent, record as record_audit};
pub(super) use crate::store::access::{Actor, Audit, Claim};
pub(super) use crate::store::backend::Backend;
pub(super) use crate::store::rows::{
    self, AgentRow, EventRow, InFlightRow, LogRow, RunRecordRow, RunRow, StateRow, RUN_COLUMNS,
};
pub(super) use crate::store::writer::Recorded;
pub(super) use crate::store::{
    limits, InFlight, NewAgent, NewRun, Outcome, Result, RunFilter, RunRecord, RunSnapshot, SeedRun, SortKey,
    StatusTally, StoreError, Ts,
};
pub(super) use shared::{
    AgentChange, AgentInfo, AgentUpdate, Event, FinishRun, LogLevel, LogLine, NewLogLine, NodeState, NodeStateData,
    RunSort, RunStatus, Summary, WorkflowRun,
};
pub(super) use sqlx::QueryBuilder;

pub(super) type Db = <super::Target as Backend>::Db;
pub(super) type Conn = <Db as sqlx::Database>::Connection;

pub(super) const AGENT_COLUMNS: &str =
    "agent_id, agent_name, host, port, last_heartbeat, ttl_seconds, agent_metadata, registered_at";
pub(super) const ACTIVE: &str = "status IN ('pending', 'running')";

pub(super) fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("no workflow run with id {id}"))
}

pub(super) fn json_text(value: &Option<serde_json::Value>) -> Option<String> {
    value.as_ref().map(serde_json::Value::to_string)
}

/// Records a batch's events in the event log, in its transaction, with one
/// statement per thousand; returns their ids, in the events' order.
pub(crate) async fn record_events(conn: &mut Conn, events: &[&Event]) -> sqlx::Result<Vec<i64>> {
    let now = Ts::now();
    let mut ids = Vec::with_capacity(events.len());
    for chunk in events.chunks(1000) {
        let mut query = QueryBuilder::<Db>::new("INSERT INTO dashboard_events (kind, run_id, payload, created_at) ");
        query.push_values(chunk, |mut row, event| {
            row.push_bind(event.name())
                .push_bind(event.run_id().map(str::to_owned))
                .push_bind(event.data().to_string())
                .push_bind(now);
        });
        query.push(" RETURNING id");
        let mut chunk_ids: Vec<i64> = query.build_query_scalar().fetch_all(&mut *conn).await?;
        // Rows take increasing ids in the order of the values; RETURNING may
        // list them in another.
        chunk_ids.sort_unstable();
        ids.extend(chunk_ids);
    }
    Ok(ids)
}

pub(super) async fn run_in(conn: &mut Conn, id: &str) -> Result<Option<WorkflowRun>> {
    let row: Option<RunRow> = sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(WorkflowRun::try_from).transpose()
}

/// The run, if it exists and can still take reports; a finished run is a
/// conflict so that a runner reporting into a cancelled run stops.
pub(super) async fn active_run(conn: &mut Conn, id: &str) -> Result<WorkflowRun> {
    let run = run_in(conn, id).await?.ok_or_else(|| not_found(id))?;
    if !run.status.is_active() {
        return Err(StoreError::Conflict(format!("run {id} is already {}; it takes no more reports", run.status)));
    }
    Ok(run)
}

/// Why a run took no report: it does not exist, or it has finished.
pub(super) async fn inactive(conn: &mut Conn, id: &str) -> StoreError {
    match active_run(conn, id).await {
        Err(error) => error,
        Ok(_) => StoreError::Conflict(format!("run {id} takes no more reports")),
    }
}

/// Fencing: a dashboard process records into a dispatched run only while the
/// run is still its own (a replica may have taken it over).
pub(super) async fn check_follower(conn: &mut Conn, id: &str, follower: Option<&str>) -> Result<()> {
    let Some(follower) = follower else { return Ok(()) };
    let current: Option<Option<String>> = sqlx::query_scalar("SELECT dispatcher_id FROM workflow_runs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match current {
        None => Err(not_found(id)),
        Some(Some(owner)) if owner == follower => Ok(()),
        Some(_) => Err(StoreError::Conflict(format!(
            "run {id} is followed by another dashboard process now; its result is theirs to record"
        ))),
    }
}

/// The run as it is now, and its `workflow_update` event.
pub(super) async fn run_event(conn: &mut Conn, id: &str) -> Result<(WorkflowRun, Event)> {
    let run = run_in(conn, id).await?.ok_or_else(|| not_found(id))?;
    Ok((run.clone(), Event::WorkflowUpdate(run)))
}

/// Deletes the row of `table` whose `column` is `key`, recording `audit`;
/// `missing` says what was not found when there is no such row.
pub(super) async fn delete_audited(
    conn: &mut Conn,
    table: &str,
    column: &str,
    key: &str,
    missing: String,
    audit: Audit,
) -> Result<()> {
    let deleted = sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
        .bind(key)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(StoreError::NotFound(missing));
    }
    record_audit(conn, audit).await
}

/// Inserts a node's state report, now.
pub(super) async fn insert_state(conn: &mut Conn, id: &str, state: &NodeStateData) -> Result<NodeState> {
    let text = serde_json::to_string(state).map_err(|e| StoreError::Unprocessable(e.to_string()))?;
    let row: StateRow = sqlx::query_as(
        "INSERT INTO execution_states (run_id, node_id, state_data, created_at) \
         VALUES ($1, $2, $3, $4) RETURNING id, run_id, node_id, state_data, created_at",
    )
    .bind(id)
    .bind(&state.node_id)
    .bind(text)
    .bind(Ts::now())
    .fetch_one(&mut *conn)
    .await?;
    Ok(NodeState::from(row))
}

/// Inserts log lines and records a `run_log` event for each.
pub(super) async fn insert_logs(conn: &mut Conn, id: &str, lines: Vec<NewLogLine>) -> Result<(Vec<LogLine>, Recorded)> {
    let ts = Ts::now();
    let mut stored = Vec::with_capacity(lines.len());
    let mut events = Vec::with_capacity(lines.len());
    for line in lines {
        let row: LogRow = sqlx::query_as(
            "INSERT INTO run_logs (run_id, ts, level, node_id, message) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, run_id, ts, level, node_id, message",
        )
        .bind(id)
        .bind(ts)
        .bind(line.level.as_str())
        .bind(line.node_id)
        .bind(line.message)
        .fetch_one(&mut *conn)
        .await?;
        let line = LogLine::from(row);
        events.push(Event::RunLog(line.clone()));
        stored.push(line);
    }
    Ok((stored, events))
}

/// Why the dashboard cancels a run.
pub(super) enum Cancelling {
    /// An operator asked.
    Operator,
    /// An operator's bulk job (its id).
    Bulk(String),
    /// The dashboard itself (a budget): kept as the run's error and as a
    /// state of the node named after the actor.
    Because(String),
}

/// Cancels `run`, which is active, in the write: the row, a log line saying
/// who and why, and the audit entry; the run and its events.
pub(super) async fn cancel_in(
    conn: &mut Conn,
    run: &WorkflowRun,
    by: &Actor,
    why: Cancelling,
) -> Result<(WorkflowRun, Recorded)> {
    let id = &run.id;
    let now = Ts::now();
    let reason = match &why {
        Cancelling::Because(reason) => Some(reason.clone()),
        _ => None,
    };
    sqlx::query(&format!(
        "UPDATE workflow_runs SET status = 'cancelled', completed_at = $2, duration_seconds = $3, \
         error_message = COALESCE($4, error_message) WHERE id = $1 AND {ACTIVE}"
    ))
    .bind(id)
    .bind(now)
    .bind(now.seconds_since(Ts::from(run.started_at)))
    .bind(&reason)
    .execute(&mut *conn)
    .await?;
    let (message, detail) = match &why {
        Cancelling::Operator => (format!("Run cancelled from the dashboard by {}", by.name), None),
        Cancelling::Bulk(job) => {
            (format!("Run cancelled by {} in bulk job {job}", by.name), Some(format!("bulk job {job}")))
        }
        Cancelling::Because(reason) => (format!("Run cancelled by {}: {reason}", by.name), reason.clone().into()),
    };
    let note = NewLogLine { level: LogLevel::Warning, message, node_id: None };
    let (_, mut events) = insert_logs(conn, id, vec![note]).await?;
    if let Some(reason) = reason {
        let state = NodeStateData {
            node_id: by.name.clone(),
            status: Some("cancelled".to_owned()),
            error: Some(reason),
            ..NodeStateData::default()
        };
        events.push(Event::NodeState(insert_state(conn, id, &state).await?));
    }
    let audit = Audit { actor: by.clone(), action: "run.cancel", target: id.clone(), detail };
    record_audit(conn, audit).await?;
    let (cancelled, event) = run_event(conn, id).await?;
    events.push(event);
    Ok((cancelled, events))
}

/// Records the change of an agent, and who made it (audited), in the write.
pub(super) async fn agent_event(
    conn: &mut Conn,
    row: AgentRow,
    change: AgentChange,
    audit: Option<Audit>,
) -> Result<(AgentInfo, Recorded)> {
    let agent = row.info(Ts::now());
    let by = audit.as_ref().map(|audit| audit.actor.name.clone());
    if let Some(audit) = audit {
        record_audit(conn, audit).await?;
    }
    Ok((agent.clone(), vec![Event::AgentUpdate(AgentUpdate { change, agent, by })]))
}

impl super::Target {
    /// Runs `work` on the writer task (see `writer.rs`).
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> futures_util::future::BoxFuture<'c, Result<(T, Recorded)>>
            + Clone
            + Send
            + 'static,
    {
        self.writer().write(work).await
    }
}

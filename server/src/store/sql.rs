//! The `Store` implementation, written once for both databases. The SQL is the common
//! subset of SQLite and PostgreSQL (`$N` parameters, `RETURNING`, `ON CONFLICT`, row
//! values); the dialect differences, case-insensitive `LIKE` and the database's clock,
//! are macro arguments.
//!
//! Every write runs on the writer task (`writer.rs`), in a transaction that the backend
//! begins so that writers are serialised and event ids commit in order, and records its
//! events in `dashboard_events` in that same transaction. The backend delivers them
//! after commit: SQLite to this process's bus at once; PostgreSQL to every replica's
//! bus through `NOTIFY` and each replica's relay.

macro_rules! sql_store {
    ($store:ty, $db:ty, like = $like:literal, now = $now:literal) => {
        use shared::{
            AgentChange, AgentInfo, AgentUpdate, Event, FinishRun, LogLevel, LogLine, NewLogLine, NodeState,
            NodeStateData, RunSort, RunStatus, Summary, WorkflowRun,
        };
        use sqlx::QueryBuilder;
        use $crate::store::rows::{
            self, AgentRow, EventRow, InFlightRow, LogRow, RunRecordRow, RunRow, StateRow, RUN_COLUMNS,
        };
        use $crate::store::access::{Actor, Audit};
        use $crate::store::{
            limits, InFlight, NewAgent, NewRun, Outcome, Result, RunFilter, RunRecord, SeedRun, SortKey, Store,
            StoreError, Ts,
        };

        const AGENT_COLUMNS: &str =
            "agent_id, agent_name, host, port, last_heartbeat, ttl_seconds, agent_metadata, registered_at";
        const ACTIVE: &str = "status IN ('pending', 'running')";

        type Conn = <$db as sqlx::Database>::Connection;

        fn not_found(id: &str) -> StoreError {
            StoreError::NotFound(format!("no workflow run with id {id}"))
        }

        fn json_text(value: &Option<serde_json::Value>) -> Option<String> {
            value.as_ref().map(serde_json::Value::to_string)
        }

        /// Records `event` in the event log, in the write's transaction.
        async fn emit(conn: &mut Conn, event: Event) -> Result<(i64, Event)> {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO dashboard_events (kind, run_id, payload, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(event.name())
            .bind(event.run_id().map(str::to_owned))
            .bind(event.data().to_string())
            .bind(Ts::now())
            .fetch_one(&mut *conn)
            .await?;
            Ok((id, event))
        }

        async fn run_in(conn: &mut Conn, id: &str) -> Result<Option<WorkflowRun>> {
            let row: Option<RunRow> =
                sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(WorkflowRun::try_from).transpose()
        }

        /// The run, if it exists and can still take reports; a finished run is a
        /// conflict so that a runner reporting into a cancelled run stops.
        async fn active_run(conn: &mut Conn, id: &str) -> Result<WorkflowRun> {
            let run = run_in(conn, id).await?.ok_or_else(|| not_found(id))?;
            if !run.status.is_active() {
                return Err(StoreError::Conflict(format!(
                    "run {id} is already {}; it takes no more reports",
                    run.status
                )));
            }
            Ok(run)
        }

        /// Fencing: a dashboard process records into a dispatched run only while the
        /// run is still its own (a replica may have taken it over).
        async fn check_follower(conn: &mut Conn, id: &str, follower: Option<&str>) -> Result<()> {
            let Some(follower) = follower else { return Ok(()) };
            let current: Option<Option<String>> =
                sqlx::query_scalar("SELECT dispatcher_id FROM workflow_runs WHERE id = $1")
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

        async fn updated_run(conn: &mut Conn, id: &str) -> Result<(WorkflowRun, Event)> {
            let run = run_in(conn, id).await?.ok_or_else(|| not_found(id))?;
            Ok((run.clone(), Event::WorkflowUpdate(run)))
        }

        /// The run as it is now, recorded as a `workflow_update` event.
        async fn run_event(conn: &mut Conn, id: &str) -> Result<(WorkflowRun, (i64, Event))> {
            let (run, event) = updated_run(conn, id).await?;
            Ok((run, emit(conn, event).await?))
        }

        /// Inserts log lines and records a `run_log` event for each.
        async fn insert_logs(conn: &mut Conn, id: &str, lines: Vec<NewLogLine>) -> Result<(Vec<LogLine>, $crate::store::writer::Recorded)> {
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
                events.push(emit(conn, Event::RunLog(line.clone())).await?);
                stored.push(line);
            }
            Ok((stored, events))
        }

        /// Records the change of an agent, and who made it (audited), in the write.
        async fn agent_event(
            conn: &mut Conn,
            row: AgentRow,
            change: AgentChange,
            audit: Option<Audit>,
        ) -> Result<(AgentInfo, $crate::store::writer::Recorded)> {
            let agent = row.info(Ts::now());
            let by = audit.as_ref().map(|audit| audit.actor.name.clone());
            if let Some(audit) = audit {
                access_sql::record(conn, audit).await?;
            }
            let event = emit(conn, Event::AgentUpdate(AgentUpdate { change, agent: agent.clone(), by })).await?;
            Ok((agent, vec![event]))
        }

        impl $store {
            /// Runs `work` on the writer task (see `writer.rs`).
            async fn write<T, F>(&self, work: F) -> Result<T>
            where
                T: Send + 'static,
                F: for<'c> FnOnce(&'c mut Conn) -> futures_util::future::BoxFuture<'c, Result<(T, $crate::store::writer::Recorded)>> + Send + 'static,
            {
                self.writer.write(work).await
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<WorkflowRun>> {
                let key = match filter.sort {
                    RunSort::StartedAt => "started_at",
                    RunSort::DurationSeconds => "COALESCE(duration_seconds, -1)",
                    RunSort::TotalTokens => "COALESCE(total_tokens, -1)",
                    RunSort::TotalCostUsd => "COALESCE(total_cost_usd, -1)",
                };
                let mut query =
                    QueryBuilder::<$db>::new(format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE 1 = 1"));
                if !filter.statuses.is_empty() {
                    query.push(" AND status IN (");
                    let mut list = query.separated(", ");
                    for status in &filter.statuses {
                        list.push_bind(status.as_str());
                    }
                    query.push(")");
                }
                if let Some(name) = &filter.workflow {
                    query.push(" AND workflow_name = ").push_bind(name.clone());
                }
                if let Some(since) = filter.since {
                    query.push(" AND started_at >= ").push_bind(since);
                }
                if let Some(until) = filter.until {
                    query.push(" AND started_at < ").push_bind(until);
                }
                if let Some(text) = &filter.text {
                    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                    let pattern = format!("%{escaped}%");
                    query
                        .push(concat!(" AND (workflow_name ", $like, " "))
                        .push_bind(pattern.clone())
                        .push(concat!(" ESCAPE '\\' OR id ", $like, " "))
                        .push_bind(pattern)
                        .push(" ESCAPE '\\')");
                }
                let (direction, beyond) = if filter.descending { ("DESC", "<") } else { ("ASC", ">") };
                if let Some((position, id)) = &filter.after {
                    query.push(format!(" AND ({key}, id) {beyond} ("));
                    match *position {
                        SortKey::Int(v) => query.push_bind(v),
                        SortKey::Float(v) => query.push_bind(v),
                        SortKey::Time(v) => query.push_bind(v),
                    };
                    query.push(", ").push_bind(id.clone()).push(")");
                }
                query.push(format!(" ORDER BY {key} {direction}, id {direction} LIMIT ")).push_bind(filter.limit);
                let found: Vec<RunRow> = query.build_query_as().fetch_all(&self.reader).await?;
                rows::runs(found)
            }

            async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
                let row: Option<RunRecordRow> = sqlx::query_as(&format!(
                    "SELECT {RUN_COLUMNS}, inputs, outputs, config_snapshot, bottleneck_info, \
                     mlflow_experiment_id, mlflow_run_id, agent_id, agent_url, agent_job_id \
                     FROM workflow_runs WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
                row.map(RunRecord::try_from).transpose()
            }

            async fn run_states(&self, id: &str) -> Result<Vec<NodeState>> {
                let found: Vec<StateRow> = sqlx::query_as(
                    "SELECT id, run_id, node_id, state_data, created_at FROM execution_states \
                     WHERE run_id = $1 ORDER BY id",
                )
                .bind(id)
                .fetch_all(&self.reader)
                .await?;
                Ok(found.into_iter().map(NodeState::from).collect())
            }

            async fn restarted_into(&self, id: &str) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT id FROM workflow_runs WHERE restarted_from = $1 ORDER BY started_at, id")
                    .bind(id)
                    .fetch_all(&self.reader)
                    .await?)
            }

            async fn run_logs(&self, id: &str, after: i64, limit: i64) -> Result<Vec<LogLine>> {
                let found: Vec<LogRow> = sqlx::query_as(
                    "SELECT id, run_id, ts, level, node_id, message FROM run_logs \
                     WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind(id)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
                Ok(found.into_iter().map(LogLine::from).collect())
            }

            async fn create_run(&self, run: NewRun, audit: Option<Audit>) -> Result<WorkflowRun> {
                self.write(move |conn| {
                    Box::pin(async move {
                        if run_in(conn, &run.id).await?.is_some() {
                            return Err(StoreError::Conflict(format!("a run with id {} already exists", run.id)));
                        }
                        sqlx::query(
                            "INSERT INTO workflow_runs (id, workflow_name, status, inputs, config_snapshot, \
                             started_at, mlflow_experiment_id, mlflow_run_id, restarted_from, agent_id, agent_url, \
                             dispatcher_id, created_by, created_by_token) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                        )
                        .bind(&run.id)
                        .bind(&run.workflow_name)
                        .bind(run.status.as_str())
                        .bind(json_text(&run.inputs))
                        .bind(json_text(&run.config_snapshot))
                        .bind(Ts::now())
                        .bind(&run.mlflow.experiment_id)
                        .bind(&run.mlflow.run_id)
                        .bind(&run.restarted_from)
                        .bind(run.dispatch.as_ref().map(|d| d.agent_id.clone()))
                        .bind(run.dispatch.as_ref().map(|d| d.agent_url.clone()))
                        .bind(&run.dispatcher)
                        .bind(run.created_by.as_ref().map(|actor| actor.name.clone()))
                        .bind(run.created_by.as_ref().and_then(|actor| actor.token_id.clone()))
                        .execute(&mut *conn)
                        .await?;
                        if let Some(audit) = audit {
                            access_sql::record(conn, audit).await?;
                        }
                        let (created, event) = run_event(conn, &run.id).await?;
                        Ok((created, vec![event]))
                    })
                })
                .await
            }

            async fn start_run(&self, id: &str, follower: Option<&str>) -> Result<WorkflowRun> {
                let (id, follower) = (id.to_owned(), follower.map(str::to_owned));
                self.write(move |conn| {
                    Box::pin(async move {
                        let run = active_run(conn, &id).await?;
                        check_follower(conn, &id, follower.as_deref()).await?;
                        if run.status == RunStatus::Running {
                            return Ok((run, Vec::new()));
                        }
                        sqlx::query("UPDATE workflow_runs SET status = 'running' WHERE id = $1")
                            .bind(&id)
                            .execute(&mut *conn)
                            .await?;
                        let (started, event) = run_event(conn, &id).await?;
                        Ok((started, vec![event]))
                    })
                })
                .await
            }

            async fn append_state(&self, id: &str, state: NodeStateData) -> Result<NodeState> {
                let id = id.to_owned();
                let text = serde_json::to_string(&state).map_err(|e| StoreError::Unprocessable(e.to_string()))?;
                self.write(move |conn| {
                    Box::pin(async move {
                        let run = active_run(conn, &id).await?;
                        // Totals grow as nodes report, so a running run shows what it has spent so far.
                        let tokens = limits::add_tokens("the run's total_tokens", run.total_tokens, state.tokens())?;
                        let cost = limits::add_cost("the run's total_cost_usd", run.total_cost_usd, state.cost_usd)?;
                        let row: StateRow = sqlx::query_as(
                            "INSERT INTO execution_states (run_id, node_id, state_data, created_at) \
                             VALUES ($1, $2, $3, $4) RETURNING id, run_id, node_id, state_data, created_at",
                        )
                        .bind(&id)
                        .bind(&state.node_id)
                        .bind(text)
                        .bind(Ts::now())
                        .fetch_one(&mut *conn)
                        .await?;
                        sqlx::query(
                            "UPDATE workflow_runs SET status = 'running', total_tokens = $2, total_cost_usd = $3 \
                             WHERE id = $1",
                        )
                        .bind(&id)
                        .bind(tokens)
                        .bind(cost)
                        .execute(&mut *conn)
                        .await?;
                        let stored = NodeState::from(row);
                        let node_event = emit(conn, Event::NodeState(stored.clone())).await?;
                        let (_, run_event) = run_event(conn, &id).await?;
                        Ok((stored, vec![node_event, run_event]))
                    })
                })
                .await
            }

            async fn append_logs(&self, id: &str, lines: Vec<NewLogLine>) -> Result<Vec<LogLine>> {
                let id = id.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        active_run(conn, &id).await?;
                        insert_logs(conn, &id, lines).await
                    })
                })
                .await
            }

            async fn finish_run(
                &self,
                id: &str,
                outcome: Outcome,
                report: FinishRun,
                follower: Option<&str>,
            ) -> Result<WorkflowRun> {
                let (id, follower) = (id.to_owned(), follower.map(str::to_owned));
                self.write(move |conn| {
                    Box::pin(async move {
                        let run = active_run(conn, &id).await?;
                        check_follower(conn, &id, follower.as_deref()).await?;
                        let now = Ts::now();
                        let status = match outcome {
                            Outcome::Completed => RunStatus::Completed,
                            Outcome::Failed => RunStatus::Failed,
                        };
                        let duration =
                            report.duration_seconds.unwrap_or_else(|| now.seconds_since(Ts::from(run.started_at)));
                        sqlx::query(&format!(
                            "UPDATE workflow_runs SET status = $2, completed_at = $3, duration_seconds = $4, \
                             outputs = COALESCE($5, outputs), error_message = COALESCE($6, error_message), \
                             total_tokens = COALESCE($7, total_tokens), \
                             total_cost_usd = COALESCE($8, total_cost_usd), \
                             bottleneck_info = COALESCE($9, bottleneck_info), \
                             mlflow_experiment_id = COALESCE($10, mlflow_experiment_id), \
                             mlflow_run_id = COALESCE($11, mlflow_run_id) WHERE id = $1 AND {ACTIVE}"
                        ))
                        .bind(&id)
                        .bind(status.as_str())
                        .bind(now)
                        .bind(duration)
                        .bind(json_text(&report.outputs))
                        .bind(report.error_message)
                        .bind(report.total_tokens)
                        .bind(report.total_cost_usd)
                        .bind(json_text(&report.bottleneck_info))
                        .bind(report.mlflow.as_ref().and_then(|m| m.experiment_id.clone()))
                        .bind(report.mlflow.as_ref().and_then(|m| m.run_id.clone()))
                        .execute(&mut *conn)
                        .await?;
                        let (finished, event) = run_event(conn, &id).await?;
                        Ok((finished, vec![event]))
                    })
                })
                .await
            }

            async fn cancel_run(&self, id: &str, by: &Actor) -> Result<WorkflowRun> {
                let (id, by) = (id.to_owned(), by.clone());
                self.write(move |conn| {
                    Box::pin(async move {
                        let run = run_in(conn, &id).await?.ok_or_else(|| not_found(&id))?;
                        if !run.status.is_active() {
                            return Err(StoreError::Conflict(format!(
                                "run {id} is {}; only pending or running runs can be cancelled",
                                run.status
                            )));
                        }
                        let now = Ts::now();
                        sqlx::query(&format!(
                            "UPDATE workflow_runs SET status = 'cancelled', completed_at = $2, duration_seconds = $3 \
                             WHERE id = $1 AND {ACTIVE}"
                        ))
                        .bind(&id)
                        .bind(now)
                        .bind(now.seconds_since(Ts::from(run.started_at)))
                        .execute(&mut *conn)
                        .await?;
                        let note = NewLogLine {
                            level: LogLevel::Warning,
                            message: format!("Run cancelled from the dashboard by {}", by.name),
                            node_id: None,
                        };
                        let (_, mut events) = insert_logs(conn, &id, vec![note]).await?;
                        let audit = Audit { actor: by, action: "run.cancel", target: id.clone(), detail: None };
                        access_sql::record(conn, audit).await?;
                        let (cancelled, event) = run_event(conn, &id).await?;
                        events.push(event);
                        Ok((cancelled, events))
                    })
                })
                .await
            }

            async fn set_job(&self, id: &str, job_id: &str, follower: &str) -> Result<()> {
                let (id, job_id, follower) = (id.to_owned(), job_id.to_owned(), follower.to_owned());
                self.write(move |conn| {
                    Box::pin(async move {
                        check_follower(conn, &id, Some(&follower)).await?;
                        sqlx::query("UPDATE workflow_runs SET agent_job_id = $2 WHERE id = $1")
                            .bind(&id)
                            .bind(&job_id)
                            .execute(&mut *conn)
                            .await?;
                        Ok(((), Vec::new()))
                    })
                })
                .await
            }

            async fn redispatch(&self, id: &str, dispatch: &shared::Dispatch, follower: &str) -> Result<()> {
                let (id, dispatch, follower) = (id.to_owned(), dispatch.clone(), follower.to_owned());
                self.write(move |conn| {
                    Box::pin(async move {
                        active_run(conn, &id).await?;
                        check_follower(conn, &id, Some(&follower)).await?;
                        sqlx::query(
                            "UPDATE workflow_runs SET agent_id = $2, agent_url = $3, agent_job_id = $4 WHERE id = $1",
                        )
                        .bind(&id)
                        .bind(&dispatch.agent_id)
                        .bind(&dispatch.agent_url)
                        .bind(&dispatch.job_id)
                        .execute(&mut *conn)
                        .await?;
                        Ok(((), Vec::new()))
                    })
                })
                .await
            }

            async fn note(&self, id: &str, line: NewLogLine) -> Result<()> {
                let id = id.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let (_, events) = insert_logs(conn, &id, vec![line]).await?;
                        Ok(((), events))
                    })
                })
                .await
            }

            async fn agent_loads(&self) -> Result<std::collections::HashMap<String, i64>> {
                let loads: Vec<(String, i64)> = sqlx::query_as(&format!(
                    "SELECT agent_id, COUNT(*) FROM workflow_runs WHERE {ACTIVE} AND agent_id IS NOT NULL \
                     GROUP BY agent_id"
                ))
                .fetch_all(&self.reader)
                .await?;
                Ok(loads.into_iter().collect())
            }

            async fn release_lease(&self, dispatcher: &str) -> Result<()> {
                let dispatcher = dispatcher.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        sqlx::query("DELETE FROM dashboard_dispatchers WHERE id = $1")
                            .bind(&dispatcher)
                            .execute(&mut *conn)
                            .await?;
                        Ok(((), Vec::new()))
                    })
                })
                .await
            }

            async fn renew_and_claim(&self, dispatcher: &str, lease: std::time::Duration) -> Result<Vec<InFlight>> {
                let dispatcher = dispatcher.to_owned();
                let lease = chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
                self.write(move |conn| {
                    Box::pin(async move {
                        // The database's clock, so that replicas whose clocks differ agree.
                        let now: Ts = sqlx::query_scalar(concat!("SELECT ", $now)).fetch_one(&mut *conn).await?;
                        let since = Ts(now.0.checked_sub_signed(lease).unwrap_or(chrono::NaiveDateTime::MIN));
                        sqlx::query(
                            "INSERT INTO dashboard_dispatchers (id, renewed_at) VALUES ($1, $2) \
                             ON CONFLICT (id) DO UPDATE SET renewed_at = excluded.renewed_at",
                        )
                        .bind(&dispatcher)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                        sqlx::query("DELETE FROM dashboard_dispatchers WHERE renewed_at < $1")
                            .bind(since)
                            .execute(&mut *conn)
                            .await?;
                        let claimed: Vec<InFlightRow> = sqlx::query_as(&format!(
                            "UPDATE workflow_runs SET dispatcher_id = $1 \
                             WHERE {ACTIVE} AND agent_id IS NOT NULL \
                             AND (dispatcher_id IS NULL \
                                  OR dispatcher_id NOT IN (SELECT id FROM dashboard_dispatchers)) \
                             RETURNING id, workflow_name, status, started_at, inputs, agent_id, agent_url, agent_job_id"
                        ))
                        .bind(&dispatcher)
                        .fetch_all(&mut *conn)
                        .await?;
                        let claimed = claimed.into_iter().map(InFlight::try_from).collect::<Result<_>>()?;
                        Ok((claimed, Vec::new()))
                    })
                })
                .await
            }

            async fn register_agent(&self, agent: NewAgent, audit: Audit) -> Result<AgentInfo> {
                self.write(move |conn| {
                    Box::pin(async move {
                        let now = Ts::now();
                        let row: AgentRow = sqlx::query_as(&format!(
                            "INSERT INTO agents ({AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $5) \
                             ON CONFLICT (agent_id) DO UPDATE SET agent_name = excluded.agent_name, \
                             host = excluded.host, port = excluded.port, last_heartbeat = excluded.last_heartbeat, \
                             ttl_seconds = excluded.ttl_seconds, agent_metadata = excluded.agent_metadata \
                             RETURNING {AGENT_COLUMNS}"
                        ))
                        .bind(&agent.agent_id)
                        .bind(&agent.agent_name)
                        .bind(&agent.host)
                        .bind(i32::from(agent.port))
                        .bind(now)
                        .bind(agent.ttl_seconds as i32)
                        .bind(&agent.metadata)
                        .fetch_one(&mut *conn)
                        .await?;
                        agent_event(conn, row, AgentChange::Registered, Some(audit)).await
                    })
                })
                .await
            }

            async fn heartbeat(&self, id: &str) -> Result<AgentInfo> {
                let id = id.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let row: Option<AgentRow> = sqlx::query_as(&format!(
                            "UPDATE agents SET last_heartbeat = $2 WHERE agent_id = $1 RETURNING {AGENT_COLUMNS}"
                        ))
                        .bind(&id)
                        .bind(Ts::now())
                        .fetch_optional(&mut *conn)
                        .await?;
                        let row = row.ok_or_else(|| StoreError::NotFound(format!("no agent with id {id}")))?;
                        agent_event(conn, row, AgentChange::Heartbeat, None).await
                    })
                })
                .await
            }

            async fn list_agents(&self) -> Result<Vec<AgentInfo>> {
                let found: Vec<AgentRow> =
                    sqlx::query_as(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY agent_name, agent_id"))
                        .fetch_all(&self.reader)
                        .await?;
                let now = Ts::now();
                Ok(found.into_iter().map(|row| row.info(now)).collect())
            }

            async fn get_agent(&self, id: &str) -> Result<Option<AgentInfo>> {
                let found: Option<AgentRow> =
                    sqlx::query_as(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE agent_id = $1"))
                        .bind(id)
                        .fetch_optional(&self.reader)
                        .await?;
                Ok(found.map(|row| row.info(Ts::now())))
            }

            async fn delete_agent(
                &self,
                id: &str,
                if_heartbeat: Option<Ts>,
                audit: Option<Audit>,
            ) -> Result<Option<AgentInfo>> {
                let id = id.to_owned();
                self.write(move |conn| {
                    Box::pin(async move {
                        let mut query = QueryBuilder::<$db>::new("DELETE FROM agents WHERE agent_id = ");
                        query.push_bind(id);
                        if let Some(heartbeat) = if_heartbeat {
                            query.push(" AND last_heartbeat = ").push_bind(heartbeat);
                        }
                        query.push(format!(" RETURNING {AGENT_COLUMNS}"));
                        let row: Option<AgentRow> = query.build_query_as().fetch_optional(&mut *conn).await?;
                        match row {
                            Some(row) => {
                                let (agent, events) = agent_event(conn, row, AgentChange::Removed, audit).await?;
                                Ok((Some(agent), events))
                            }
                            None => Ok((None, Vec::new())),
                        }
                    })
                })
                .await
            }

            async fn record_event(&self, event: Event) -> Result<()> {
                self.write(move |conn| Box::pin(async move { Ok(((), vec![emit(conn, event).await?])) })).await
            }

            async fn run_totals(&self) -> Result<Summary> {
                // Read as floating point: a sum that another writer pushed past the integer
                // range (SQLite turns it into a REAL) still reads, and saturates below.
                let groups: Vec<(String, i64, Option<f64>, Option<f64>)> = sqlx::query_as(
                    "SELECT status, runs, CAST(cost_usd AS DOUBLE PRECISION), CAST(tokens AS DOUBLE PRECISION) \
                     FROM dashboard_run_totals",
                )
                .fetch_all(&self.reader)
                .await?;
                let mut summary = Summary::default();
                for (status, count, cost, tokens) in groups {
                    summary.total_workflows = summary.total_workflows.saturating_add(count);
                    summary.total_cost_usd += cost.filter(|c| c.is_finite()).unwrap_or_default();
                    summary.total_tokens = summary.total_tokens.saturating_add(tokens.unwrap_or_default() as i64);
                    match status.parse::<RunStatus>() {
                        Ok(RunStatus::Pending) => summary.pending = count,
                        Ok(RunStatus::Running) => summary.running = count,
                        Ok(RunStatus::Completed) => summary.completed = count,
                        Ok(RunStatus::Failed) => summary.failed = count,
                        Ok(RunStatus::Cancelled) => summary.cancelled = count,
                        Err(_) => {}
                    }
                }
                Ok(summary)
            }

            async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<(i64, Event)>> {
                let found: Vec<EventRow> =
                    sqlx::query_as("SELECT id, kind, payload FROM dashboard_events WHERE id > $1 ORDER BY id LIMIT $2")
                        .bind(after)
                        .bind(limit)
                        .fetch_all(&self.reader)
                        .await?;
                Ok(rows::events(found))
            }

            async fn event_bounds(&self) -> Result<(i64, i64)> {
                Ok(sqlx::query_as(
                    "SELECT CAST(COALESCE(MIN(id), 0) AS BIGINT), CAST(COALESCE(MAX(id), 0) AS BIGINT) \
                     FROM dashboard_events",
                )
                .fetch_one(&self.reader)
                .await?)
            }

            async fn analyze(&self) -> Result<()> {
                // One statement at a time: VACUUM refuses to run inside a transaction.
                for statement in Self::AFTER_BULK_LOAD {
                    sqlx::query(statement).execute(&self.write_pool()).await?;
                }
                Ok(())
            }

            async fn relay_events(&self) {
                Self::relay(self).await
            }

            async fn prune_events(&self, before: Ts) -> Result<u64> {
                self.write(move |conn| {
                    Box::pin(async move {
                        let done = sqlx::query(
                            "DELETE FROM dashboard_events WHERE created_at < $1 \
                             AND id < (SELECT MAX(id) FROM dashboard_events)",
                        )
                        .bind(before)
                        .execute(&mut *conn)
                        .await?;
                        Ok((done.rows_affected(), Vec::new()))
                    })
                })
                .await
            }

            async fn seed(&self, runs: Vec<SeedRun>, agents: Vec<(NewAgent, Ts)>) -> Result<()> {
                self.write(move |conn| {
                    Box::pin(async move {
                        // Chunks keep each statement under both databases' bind-parameter limits.
                        const CHUNK: usize = 1000;
                        for chunk in runs.chunks(CHUNK) {
                            let mut query = QueryBuilder::<$db>::new(
                                "INSERT INTO workflow_runs (id, workflow_name, status, config_snapshot, inputs, outputs, \
                                 error_message, started_at, completed_at, duration_seconds, total_tokens, total_cost_usd, \
                                 bottleneck_info, restarted_from) ",
                            );
                            query.push_values(chunk, |mut row, seed| {
                                let (run, record) = (&seed.record.run, &seed.record);
                                row.push_bind(run.id.clone())
                                    .push_bind(run.workflow_name.clone())
                                    .push_bind(run.status.as_str())
                                    .push_bind(record.config_snapshot.clone())
                                    .push_bind(record.inputs.clone())
                                    .push_bind(record.outputs.clone())
                                    .push_bind(run.error_message.clone())
                                    .push_bind(Ts::from(run.started_at))
                                    .push_bind(run.completed_at.map(Ts::from))
                                    .push_bind(run.duration_seconds)
                                    .push_bind(run.total_tokens)
                                    .push_bind(run.total_cost_usd)
                                    .push_bind(record.bottleneck_info.clone())
                                    .push_bind(run.restarted_from.clone());
                            });
                            query.build().execute(&mut *conn).await?;
                        }
                        let states: Vec<_> = runs
                            .iter()
                            .flat_map(|seed| seed.states.iter().map(move |(ts, data)| (&seed.record.run.id, ts, data)))
                            .collect();
                        for chunk in states.chunks(CHUNK) {
                            let mut query = QueryBuilder::<$db>::new(
                                "INSERT INTO execution_states (run_id, node_id, state_data, created_at) ",
                            );
                            query.push_values(chunk, |mut row, (run_id, ts, data)| {
                                row.push_bind((*run_id).clone())
                                    .push_bind(data.node_id.clone())
                                    .push_bind(serde_json::to_string(data).unwrap_or_default())
                                    .push_bind(**ts);
                            });
                            query.build().execute(&mut *conn).await?;
                        }
                        let logs: Vec<_> = runs
                            .iter()
                            .flat_map(|seed| seed.logs.iter().map(move |(ts, line)| (&seed.record.run.id, ts, line)))
                            .collect();
                        for chunk in logs.chunks(CHUNK) {
                            let mut query =
                                QueryBuilder::<$db>::new("INSERT INTO run_logs (run_id, ts, level, node_id, message) ");
                            query.push_values(chunk, |mut row, (run_id, ts, line)| {
                                row.push_bind((*run_id).clone())
                                    .push_bind(**ts)
                                    .push_bind(line.level.as_str())
                                    .push_bind(line.node_id.clone())
                                    .push_bind(line.message.clone());
                            });
                            query.build().execute(&mut *conn).await?;
                        }
                        for (agent, heartbeat) in agents {
                            sqlx::query(&format!(
                                "INSERT INTO agents ({AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $5) \
                                 ON CONFLICT (agent_id) DO NOTHING"
                            ))
                            .bind(agent.agent_id)
                            .bind(agent.agent_name)
                            .bind(agent.host)
                            .bind(i32::from(agent.port))
                            .bind(heartbeat)
                            .bind(agent.ttl_seconds as i32)
                            .bind(agent.metadata)
                            .execute(&mut *conn)
                            .await?;
                        }
                        Ok(((), Vec::new()))
                    })
                })
                .await
            }
        }
    };
}

pub(super) use sql_store;

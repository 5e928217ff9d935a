//! Bulk loads (`seed`).

use super::common::{Backend, Db, NewAgent, QueryBuilder, Result, SeedRun, Ts, AGENT_COLUMNS};

#[async_trait::async_trait]
impl crate::store::SeedStore for super::Target {
    async fn seed(&self, runs: Vec<SeedRun>, agents: Vec<(NewAgent, Ts)>) -> Result<()> {
        self.write(move |conn| {
            Box::pin(async move {
                // Chunks keep each statement under both databases' bind-parameter limits.
                const CHUNK: usize = 1000;
                for chunk in runs.chunks(CHUNK) {
                    let mut query = QueryBuilder::<Db>::new(
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
                    let mut query = QueryBuilder::<Db>::new(
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
                        QueryBuilder::<Db>::new("INSERT INTO run_logs (run_id, ts, level, node_id, message) ");
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

    async fn analyze(&self) -> Result<()> {
        // One statement at a time: VACUUM refuses to run inside a transaction.
        for statement in <Self as Backend>::AFTER_BULK_LOAD {
            sqlx::query(statement).execute(self.write_pool()).await?;
        }
        Ok(())
    }
}

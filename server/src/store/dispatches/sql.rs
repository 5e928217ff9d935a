//! Runs on agents: job ids, the agent a run goes to, and the dashboard processes
//! that follow them (leases).

use super::common::{active_run, check_follower, Backend, InFlight, InFlightRow, Result, Ts, ACTIVE};

#[async_trait::async_trait]
impl crate::store::DispatchStore for super::Target {
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
                sqlx::query("UPDATE workflow_runs SET agent_id = $2, agent_url = $3, agent_job_id = $4 WHERE id = $1")
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

    async fn agent_loads(&self) -> Result<std::collections::HashMap<String, i64>> {
        let loads: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT agent_id, COUNT(*) FROM workflow_runs WHERE {ACTIVE} AND agent_id IS NOT NULL \
             GROUP BY agent_id"
        ))
        .fetch_all(self.reader())
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
                let now: Ts =
                    sqlx::query_scalar(&format!("SELECT {}", <Self as Backend>::NOW)).fetch_one(&mut *conn).await?;
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
}

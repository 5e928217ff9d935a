//! The agent registry.

use super::common::{
    agent_event, claim_agent, AgentChange, AgentInfo, AgentRow, Audit, Backend, Claim, Db, NewAgent, QueryBuilder,
    Result, StoreError, Ts, AGENT_COLUMNS,
};

#[async_trait::async_trait]
impl crate::store::AgentStore for super::Target {
    async fn register_agent(&self, agent: NewAgent, claim: Claim, audit: Audit) -> Result<AgentInfo> {
        self.write(move |conn| {
            Box::pin(async move {
                let owner: Option<String> =
                    sqlx::query_scalar("SELECT owner FROM dashboard_agent_owners WHERE agent_id = $1")
                        .bind(&agent.agent_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                let registered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents WHERE agent_id = $1")
                    .bind(&agent.agent_id)
                    .fetch_one(&mut *conn)
                    .await?;
                if let Some(owner) = claim.settle(owner.as_deref(), registered > 0)? {
                    claim_agent(conn, &agent.agent_id, &owner).await?;
                }
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
                let now = Ts::now();
                // Usually the agent is alive: one statement, and an event that
                // is not kept. Else it comes back, which the event log keeps.
                let alive = format!(" AND {}", <Self as Backend>::ALIVE_AT);
                for (condition, change) in [(alive.as_str(), AgentChange::Heartbeat), ("", AgentChange::Revived)] {
                    let row: Option<AgentRow> = sqlx::query_as(&format!(
                        "UPDATE agents SET last_heartbeat = $2 WHERE agent_id = $1{condition} \
                         RETURNING {AGENT_COLUMNS}"
                    ))
                    .bind(&id)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await?;
                    if let Some(row) = row {
                        return agent_event(conn, row, change, None).await;
                    }
                }
                Err(StoreError::NotFound(format!("no agent with id {id}")))
            })
        })
        .await
    }

    async fn list_agents(&self) -> Result<Vec<AgentInfo>> {
        let found: Vec<AgentRow> =
            sqlx::query_as(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY agent_name, agent_id"))
                .fetch_all(self.reader())
                .await?;
        let now = Ts::now();
        Ok(found.into_iter().map(|row| row.info(now)).collect())
    }

    async fn get_agent(&self, id: &str) -> Result<Option<AgentInfo>> {
        let found: Option<AgentRow> =
            sqlx::query_as(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE agent_id = $1"))
                .bind(id)
                .fetch_optional(self.reader())
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
                let mut query = QueryBuilder::<Db>::new("DELETE FROM agents WHERE agent_id = ");
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
}

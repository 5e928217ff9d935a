//! Tokens, sessions, agent ownership and the audit log.

use shared::{AuditEntry, TokenInfo};

use super::common::{Backend, Conn};
use crate::store::access::{
    AccessStore, Audit, NewSession, NewToken, OwnerRecord, RunOwners, SessionRecord, TokenRecord,
};
use crate::store::{Result, StoreError, Ts};

/// Live browser sessions one token may have.
const SESSIONS_PER_TOKEN: usize = 20;

const TOKEN_COLUMNS: &str = "t.id, t.name, t.role, t.secret_hash, t.agent_ids, t.workflows, \
     t.created_at, t.created_by, t.last_used_at, t.expires_at";

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    name: String,
    role: String,
    secret_hash: String,
    agent_ids: String,
    workflows: Option<String>,
    created_at: Ts,
    created_by: Option<String>,
    last_used_at: Option<Ts>,
    expires_at: Option<Ts>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;
    fn try_from(row: TokenRow) -> Result<TokenRecord> {
        Ok(TokenRecord {
            id: row.id,
            secret_hash: row.secret_hash,
            info: TokenInfo {
                role: row.role.parse().map_err(StoreError::Corrupt)?,
                agent_ids: serde_json::from_str(&row.agent_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                workflows: row
                    .workflows
                    .map(|list| serde_json::from_str(&list))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?
                    .unwrap_or_default(),
                name: row.name,
                created_at: row.created_at.utc(),
                created_by: row.created_by,
                last_used_at: row.last_used_at.map(Ts::utc),
                expires_at: row.expires_at.map(Ts::utc),
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    token: TokenRow,
    csrf: String,
    session_expires_at: Ts,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: Ts,
    actor: String,
    action: String,
    target: String,
    detail: Option<String>,
}

/// Records `audit` in the write's transaction.
pub(super) async fn record(conn: &mut Conn, audit: Audit) -> Result<()> {
    sqlx::query("INSERT INTO dashboard_audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(Ts::now())
        .bind(audit.actor.name)
        .bind(audit.action)
        .bind(audit.target)
        .bind(audit.detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Makes `owner` the owner of `agent_id`, from now.
pub(super) async fn claim_agent(conn: &mut Conn, agent_id: &str, owner: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO dashboard_agent_owners (agent_id, owner, claimed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (agent_id) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at",
    )
    .bind(agent_id)
    .bind(owner)
    .bind(Ts::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn token_named(conn: &mut Conn, name: &str) -> Result<Option<TokenRecord>> {
    let row: Option<TokenRow> =
        sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM dashboard_tokens t WHERE t.name = $1"))
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(TokenRecord::try_from).transpose()
}

#[async_trait::async_trait]
impl AccessStore for super::Target {
    async fn create_token(&self, token: NewToken, audit: Audit) -> Result<TokenRecord> {
        self.write(move |conn| {
            Box::pin(async move {
                if token_named(conn, &token.name).await?.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "a token named `{}` exists; revoke it first or choose another name",
                        token.name
                    )));
                }
                let agent_ids =
                    serde_json::to_string(&token.agent_ids).map_err(|e| StoreError::Internal(e.to_string()))?;
                let workflows =
                    serde_json::to_string(&token.workflows).map_err(|e| StoreError::Internal(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO dashboard_tokens (id, name, role, secret_hash, agent_ids, created_at, \
                     created_by, expires_at, workflows) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(&token.name)
                .bind(token.role.as_str())
                .bind(&token.secret_hash)
                .bind(agent_ids)
                .bind(Ts::now())
                .bind(&token.created_by)
                .bind(token.expires_at)
                .bind(workflows)
                .execute(&mut *conn)
                .await?;
                record(conn, audit).await?;
                let created = token_named(conn, &token.name).await?;
                let created = created.ok_or_else(|| StoreError::Internal("token not stored".into()))?;
                Ok((created, Vec::new()))
            })
        })
        .await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows: Vec<TokenRow> =
            sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM dashboard_tokens t ORDER BY t.name"))
                .fetch_all(self.reader())
                .await?;
        rows.into_iter().map(|row| TokenRecord::try_from(row).map(|t| t.info)).collect()
    }

    async fn revoke_token(&self, name: &str, audit: Audit) -> Result<TokenRecord> {
        let name = name.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let token = token_named(conn, &name)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("no token named `{name}`")))?;
                for (table, column) in [("dashboard_sessions", "token_id"), ("dashboard_agent_owners", "owner")] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
                        .bind(&token.id)
                        .execute(&mut *conn)
                        .await?;
                }
                sqlx::query("DELETE FROM dashboard_tokens WHERE id = $1").bind(&token.id).execute(&mut *conn).await?;
                record(conn, audit).await?;
                Ok((token, Vec::new()))
            })
        })
        .await
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>> {
        let row: Option<TokenRow> =
            sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM dashboard_tokens t WHERE t.secret_hash = $1"))
                .bind(secret_hash)
                .fetch_optional(self.reader())
                .await?;
        row.map(TokenRecord::try_from).transpose()
    }

    async fn token_exists(&self, id: &str) -> Result<bool> {
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dashboard_tokens WHERE id = $1")
            .bind(id)
            .fetch_one(self.reader())
            .await?;
        Ok(found > 0)
    }

    async fn touch_token(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query("UPDATE dashboard_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(&id)
                    .bind(Ts::now())
                    .execute(&mut *conn)
                    .await?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }

    async fn admin_tokens(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM dashboard_tokens WHERE role = 'admin' \
             AND (expires_at IS NULL OR expires_at > $1)",
        )
        .bind(Ts::now())
        .fetch_one(self.reader())
        .await?)
    }

    async fn create_session(&self, session: NewSession, audit: Audit) -> Result<()> {
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO dashboard_sessions (id_hash, token_id, csrf, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&session.id_hash)
                .bind(&session.token_id)
                .bind(&session.csrf)
                .bind(Ts::now())
                .bind(session.expires_at)
                .execute(&mut *conn)
                .await?;
                // A token's oldest sessions end beyond the newest few: signing
                // in again and again leaves no trail of live sessions.
                sqlx::query(&format!(
                    "DELETE FROM dashboard_sessions WHERE token_id = $1 AND id_hash NOT IN \
                     (SELECT id_hash FROM dashboard_sessions WHERE token_id = $1 \
                     ORDER BY created_at DESC, id_hash LIMIT {SESSIONS_PER_TOKEN})"
                ))
                .bind(&session.token_id)
                .execute(&mut *conn)
                .await?;
                record(conn, audit).await?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }

    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS}, s.csrf, s.expires_at AS session_expires_at \
             FROM dashboard_sessions s JOIN dashboard_tokens t ON t.id = s.token_id \
             WHERE s.id_hash = $1"
        ))
        .bind(id_hash)
        .fetch_optional(self.reader())
        .await?;
        row.map(|row| {
            Ok(SessionRecord { token: row.token.try_into()?, csrf: row.csrf, expires_at: row.session_expires_at })
        })
        .transpose()
    }

    async fn delete_session(&self, id_hash: &str, audit: Audit) -> Result<()> {
        let id_hash = id_hash.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = $1")
                    .bind(&id_hash)
                    .execute(&mut *conn)
                    .await?;
                record(conn, audit).await?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }

    async fn prune_sessions(&self, now: Ts) -> Result<u64> {
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at < $1")
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                Ok((done.rows_affected(), Vec::new()))
            })
        })
        .await
    }

    async fn agent_owner(&self, agent_id: &str) -> Result<Option<OwnerRecord>> {
        let row: Option<(String, Option<String>, Option<Ts>)> = sqlx::query_as(
            "SELECT o.owner, t.name, o.claimed_at FROM dashboard_agent_owners o \
             LEFT JOIN dashboard_tokens t ON t.id = o.owner WHERE o.agent_id = $1",
        )
        .bind(agent_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|(owner, token_name, claimed_at)| OwnerRecord { owner, token_name, claimed_at }))
    }

    async fn set_agent_owner(&self, agent_id: &str, token: Option<String>, audit: Audit) -> Result<()> {
        let agent_id = agent_id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                match &token {
                    Some(name) => {
                        let token = token_named(conn, name)
                            .await?
                            .ok_or_else(|| StoreError::NotFound(format!("no token named `{name}`")))?;
                        claim_agent(conn, &agent_id, &token.id).await?
                    }
                    None => {
                        sqlx::query("DELETE FROM dashboard_agent_owners WHERE agent_id = $1")
                            .bind(&agent_id)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                record(conn, audit).await?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }

    async fn owned_agents(&self, owner: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT agent_id FROM dashboard_agent_owners WHERE owner = $1")
            .bind(owner)
            .fetch_all(self.reader())
            .await?)
    }

    async fn record_audit(&self, audit: Audit) -> Result<()> {
        self.write(move |conn| {
            Box::pin(async move {
                record(conn, audit).await?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }

    async fn run_owners(&self, run_id: &str) -> Result<Option<RunOwners>> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT agent_id, created_by_token FROM workflow_runs WHERE id = $1")
                .bind(run_id)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.map(|(agent_id, created_by_token)| RunOwners { agent_id, created_by_token }))
    }

    async fn audit_page(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, actor, action, target, detail FROM dashboard_audit \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| AuditEntry {
                id: row.id,
                at: row.at.utc(),
                actor: row.actor,
                action: row.action,
                target: row.target,
                detail: row.detail,
            })
            .collect())
    }
}

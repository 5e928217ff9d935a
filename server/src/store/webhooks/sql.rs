//! Outgoing webhooks, and how their deliveries went.

use super::common::{delete_audited, record_audit, Audit, Backend, Result, StoreError, Ts};
use crate::store::StoredWebhook;
use shared::{Alert, Webhook};

const COLUMNS: &str = "id, url, events, secret, created_at, created_by, last_attempt_at, last_status, \
     last_error, delivered, failed";

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    url: String,
    events: String,
    secret: String,
    created_at: Ts,
    created_by: String,
    last_attempt_at: Option<Ts>,
    last_status: Option<i32>,
    last_error: Option<String>,
    delivered: i64,
    failed: i64,
}

impl TryFrom<WebhookRow> for StoredWebhook {
    type Error = StoreError;
    fn try_from(row: WebhookRow) -> Result<StoredWebhook> {
        let events: Vec<Alert> = serde_json::from_str(&row.events).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(StoredWebhook {
            webhook: Webhook {
                id: row.id,
                url: row.url,
                events,
                created_at: row.created_at.utc(),
                created_by: row.created_by,
                last_attempt_at: row.last_attempt_at.map(Ts::utc),
                last_status: row.last_status.and_then(|s| u16::try_from(s).ok()),
                last_error: row.last_error,
                delivered: row.delivered,
                failed: row.failed,
            },
            secret: row.secret,
        })
    }
}

#[async_trait::async_trait]
impl crate::store::WebhookStore for super::Target {
    async fn list_webhooks(&self) -> Result<Vec<StoredWebhook>> {
        let rows: Vec<WebhookRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM dashboard_webhooks ORDER BY created_at, id"))
                .fetch_all(self.reader())
                .await?;
        rows.into_iter().map(StoredWebhook::try_from).collect()
    }

    async fn create_webhook(&self, hook: StoredWebhook, audit: Audit) -> Result<StoredWebhook> {
        self.write(move |conn| {
            Box::pin(async move {
                let events = serde_json::to_string(&hook.webhook.events)
                    .map_err(|e| StoreError::Unprocessable(e.to_string()))?;
                let row: WebhookRow = sqlx::query_as(&format!(
                    "INSERT INTO dashboard_webhooks (id, url, events, secret, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
                ))
                .bind(&hook.webhook.id)
                .bind(&hook.webhook.url)
                .bind(events)
                .bind(&hook.secret)
                .bind(Ts::from(hook.webhook.created_at))
                .bind(&hook.webhook.created_by)
                .fetch_one(&mut *conn)
                .await?;
                record_audit(conn, audit).await?;
                Ok((StoredWebhook::try_from(row)?, Vec::new()))
            })
        })
        .await
    }

    async fn delete_webhook(&self, id: &str, audit: Audit) -> Result<()> {
        let id = id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let missing = format!("no webhook with id {id}");
                delete_audited(conn, "dashboard_webhooks", "id", &id, missing, audit).await?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }

    async fn record_delivery(
        &self,
        id: &str,
        status: Option<u16>,
        error: Option<String>,
        outcome: Option<bool>,
    ) -> Result<()> {
        let id = id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE dashboard_webhooks SET last_attempt_at = $2, last_status = $3, last_error = $4, \
                     delivered = delivered + $5, failed = failed + $6 WHERE id = $1",
                )
                .bind(&id)
                .bind(Ts::now())
                .bind(status.map(i32::from))
                .bind(&error)
                .bind(i64::from(outcome == Some(true)))
                .bind(i64::from(outcome == Some(false)))
                .execute(&mut *conn)
                .await?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }

    async fn claim_alert(&self, alert: &str, about: &str) -> Result<bool> {
        let (alert, about) = (alert.to_owned(), about.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                let now = Ts::now();
                sqlx::query("DELETE FROM dashboard_alerts_sent WHERE sent_at < $1")
                    .bind(now.plus_seconds(-30 * 86_400))
                    .execute(&mut *conn)
                    .await?;
                let claimed = sqlx::query(
                    "INSERT INTO dashboard_alerts_sent (alert, about, sent_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (alert, about) DO NOTHING",
                )
                .bind(&alert)
                .bind(&about)
                .bind(now)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                Ok((claimed == 1, Vec::new()))
            })
        })
        .await
    }
}

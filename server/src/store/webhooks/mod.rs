//! Outgoing webhooks, with the secrets that sign their deliveries. Its SQL, `sql.rs`,
//! is compiled once per backend (`store/sql/`).

use async_trait::async_trait;

use super::access::Audit;
use super::Result;

/// A webhook with the secret that signs its deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWebhook {
    pub webhook: shared::Webhook,
    pub secret: String,
}

/// Outgoing webhooks.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn list_webhooks(&self) -> Result<Vec<StoredWebhook>>;
    async fn create_webhook(&self, hook: StoredWebhook, audit: Audit) -> Result<StoredWebhook>;
    async fn delete_webhook(&self, id: &str, audit: Audit) -> Result<()>;
    /// Records an attempt: its status or error; `outcome` when it settles the alert
    /// (delivered, or given up on), `None` for an attempt to be retried.
    async fn record_delivery(
        &self,
        id: &str,
        status: Option<u16>,
        error: Option<String>,
        outcome: Option<bool>,
    ) -> Result<()>;
    /// Claims the sending of an alert: true for the first claim of `(alert, about)`
    /// in 30 days, by any process.
    async fn claim_alert(&self, alert: &str, about: &str) -> Result<bool>;
}

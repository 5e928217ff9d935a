//! Outgoing webhooks: `GET/POST /api/webhooks`, `DELETE /api/webhooks/{id}`,
//! `POST /api/webhooks/{id}/test`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a webhook is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Alert {
    #[serde(rename = "run.failed")]
    RunFailed,
    /// A run a budget cancelled.
    #[serde(rename = "run.budget_cancelled")]
    RunBudgetCancelled,
    /// A workflow reached 80 % of a period cap.
    #[serde(rename = "budget.warning")]
    BudgetWarning,
    #[serde(rename = "agent.expired")]
    AgentExpired,
    /// Sent by `POST /api/webhooks/{id}/test` only.
    #[serde(rename = "test")]
    Test,
}

impl Alert {
    /// The alerts a webhook may ask for.
    pub const CHOSEN: [Alert; 4] =
        [Alert::RunFailed, Alert::RunBudgetCancelled, Alert::BudgetWarning, Alert::AgentExpired];

    pub fn as_str(self) -> &'static str {
        match self {
            Alert::RunFailed => "run.failed",
            Alert::RunBudgetCancelled => "run.budget_cancelled",
            Alert::BudgetWarning => "budget.warning",
            Alert::AgentExpired => "agent.expired",
            Alert::Test => "test",
        }
    }
}

/// Body of `POST /api/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `http` or `https`; receives a JSON `POST` per alert.
    pub url: String,
    /// Default: every alert.
    #[serde(default)]
    pub events: Option<Vec<Alert>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<Alert>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt, if one came back.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// Alerts delivered, and alerts given up on after every retry.
    pub delivered: i64,
    pub failed: i64,
}

/// The answer to `POST /api/webhooks`: the only time the signing secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// Deliveries carry `X-Dashboard-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    pub secret: String,
}

/// The answer to `POST /api/webhooks/{id}/test`: one attempt, made at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookTest {
    pub delivered: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
}

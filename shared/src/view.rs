//! Saved views of the runs list: `GET/POST /api/views`, `PUT/DELETE /api/views/{id}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Body of `POST /api/views` and `PUT /api/views/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewView {
    pub name: String,
    /// The runs list's query string: its filters and sort (`status=failed&range=week`).
    pub query: String,
    /// Listed for everyone, not only its owner.
    #[serde(default)]
    pub shared: bool,
    /// Opened when its owner opens the runs list without a query; one per owner.
    #[serde(default)]
    pub default: bool,
    /// The runs table's columns it hides, of `OPTIONAL_COLUMNS`.
    #[serde(default)]
    pub hidden_columns: Vec<String>,
}

/// The runs table's columns a view or the column chooser may hide, with their labels
/// (the run's id, its pick box and its actions always show).
pub const OPTIONAL_COLUMNS: [(&str, &str); 6] = [
    ("workflow", "Workflow"),
    ("status", "Status"),
    ("started_at", "Started"),
    ("duration_seconds", "Duration"),
    ("total_tokens", "Tokens"),
    ("total_cost_usd", "Cost"),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavedView {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub query: String,
    pub shared: bool,
    pub default: bool,
    pub hidden_columns: Vec<String>,
    /// Whether the caller owns it (and may change or delete it).
    pub mine: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

//! Bulk actions on many runs: `POST /api/workflows/bulk`, `GET /api/bulk`,
//! `GET /api/bulk/{id}`, `POST /api/bulk/{id}/stop`; progress as `bulk_job` events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{RunQuery, RunStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Cancels pending and running runs.
    Cancel,
    /// Starts ended runs again, each as a new run on an alive agent.
    Restart,
    /// Deletes ended runs with their states and logs.
    Delete,
}

impl BulkAction {
    pub const ALL: [BulkAction; 3] = [BulkAction::Cancel, BulkAction::Restart, BulkAction::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Cancel => "cancel",
            BulkAction::Restart => "restart",
            BulkAction::Delete => "delete",
        }
    }

    /// Whether a run in `status` can take the action.
    pub fn applies_to(self, status: RunStatus) -> bool {
        match self {
            BulkAction::Cancel => status.is_active(),
            BulkAction::Restart | BulkAction::Delete => !status.is_active(),
        }
    }

    /// Why a run in `status` is skipped (it cannot take the action).
    pub fn skip_reason(self, status: RunStatus) -> String {
        match self {
            BulkAction::Cancel => format!("already {status}"),
            BulkAction::Restart | BulkAction::Delete => format!("still {status}"),
        }
    }
}

impl std::str::FromStr for BulkAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BulkAction::ALL
            .into_iter()
            .find(|action| action.as_str() == s)
            .ok_or_else(|| format!("unknown bulk action `{s}` (expected cancel, restart or delete)"))
    }
}

/// Body of `POST /api/workflows/bulk`: an action on the runs of `ids` or of `filter`
/// (the runs list's filters; sort, limit and cursor do not apply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub action: BulkAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<RunQuery>,
    /// Only count what the action would touch; nothing changes.
    #[serde(default)]
    pub dry_run: bool,
}

/// How many of the selected runs are in one status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCount {
    pub status: RunStatus,
    pub count: i64,
}

/// The answer to a dry run: what the action would touch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkPreview {
    pub action: BulkAction,
    /// Runs selected (ids that name no run are not counted).
    pub matched: i64,
    /// Those the action applies to; the rest would be skipped.
    pub eligible: i64,
    pub by_status: Vec<StatusCount>,
    /// Restart: what the eligible runs cost the last time, summed.
    pub expected_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BulkStatus {
    Running,
    /// Stopped on request before every run was reached.
    Stopped,
    Completed,
}

impl BulkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkStatus::Running => "running",
            BulkStatus::Stopped => "stopped",
            BulkStatus::Completed => "completed",
        }
    }
}

impl std::str::FromStr for BulkStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [BulkStatus::Running, BulkStatus::Stopped, BulkStatus::Completed]
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown bulk job status `{s}`"))
    }
}

/// Runs skipped for one reason, and how many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReasonCount {
    pub reason: String,
    pub count: i64,
}

/// A run the action failed on, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkFailure {
    pub run_id: String,
    pub reason: String,
}

/// A bulk job and its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkJob {
    pub id: String,
    pub action: BulkAction,
    pub status: BulkStatus,
    /// The filter it acts on (with `range` fixed to times), or none for a list of ids.
    pub filter: Option<RunQuery>,
    /// How many ids it was given, for a list of ids.
    pub selected: Option<i64>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// What its dry run counted when it was created.
    pub matched: i64,
    pub eligible: i64,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    pub skip_reasons: Vec<ReasonCount>,
    /// The most recent failures (at most `BulkJob::FAILURES_KEPT`).
    pub failures: Vec<BulkFailure>,
}

impl BulkJob {
    pub const FAILURES_KEPT: usize = 100;

    /// Runs it has reached so far.
    pub fn reached(&self) -> i64 {
        self.done + self.skipped + self.failed
    }
}

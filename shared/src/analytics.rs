//! Analytics: what runs did and cost over time (`GET /api/analytics/series`) and per
//! workflow, agent, model or node (`GET /api/analytics/breakdown`).

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::query::{keyword_enum, text, Range};

/// Query of both analytics endpoints; every field is optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// What a series counts (series only); default `runs`.
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// Default `none` for series, `workflow` for the breakdown.
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    pub group_by: Option<GroupBy>,
    /// By default `hour` up to two days, else `day`.
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Bucket>,
    /// Back from now (default `7d`; `all` has no start to chart from), or
    /// `since`/`until`.
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Only this workflow's runs; needed for `group_by=node`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
}

impl AnalyticsQuery {
    pub fn metric(&self) -> Metric {
        self.metric.unwrap_or(Metric::Runs)
    }

    pub fn group_by(&self, default: GroupBy) -> GroupBy {
        self.group_by.unwrap_or(default)
    }

    /// The window asked for at `now`, `since` inclusive and `until` exclusive.
    pub fn window(&self, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
        let (since, until) = match (self.range, self.since, self.until) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err("use either `range` or `since`/`until`, not both".to_owned())
            }
            (Some(range), ..) => match range.since(now) {
                Some(since) => (since, now),
                None => return Err("`range=all` has no start to chart from; choose 30d, or `since`".to_owned()),
            },
            (None, since, until) => {
                let until = until.unwrap_or(now);
                // At the calendar's start a week back does not exist: the year check below
                // refuses it rather than the subtraction panicking.
                let week_back = until.checked_sub_signed(chrono::Duration::days(7)).unwrap_or(DateTime::<Utc>::MIN_UTC);
                (since.unwrap_or(week_back), until)
            }
        };
        if since >= until {
            return Err("`since` must be before `until`".to_owned());
        }
        let years = 1970..=9999;
        if !years.contains(&since.year()) || !years.contains(&until.year()) {
            return Err("`since` and `until` must fall in the years 1970 to 9999".to_owned());
        }
        Ok((since, until))
    }

    /// The bucket asked for, else the one that suits a window this long.
    pub fn bucket(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Bucket {
        match self.bucket {
            Some(bucket) => bucket,
            None if until - since <= chrono::Duration::days(2) => Bucket::Hour,
            None => Bucket::Day,
        }
    }
}

keyword_enum!(
    /// What a series counts, per bucket.
    Metric, "metric" {
        Runs = "runs",
        Completed = "completed",
        Failures = "failures",
        Cancelled = "cancelled",
        Cost = "cost",
        Tokens = "tokens",
        DurationP50 = "duration_p50",
        DurationP95 = "duration_p95",
    }
);

keyword_enum!(
    /// What series and breakdown rows are split by.
    GroupBy, "group_by" {
        None = "none",
        Workflow = "workflow",
        Agent = "agent",
        Model = "model",
        Node = "node",
    }
);

keyword_enum!(
    /// The width of a series' buckets (UTC hours or days).
    Bucket, "bucket" {
        Hour = "hour",
        Day = "day",
    }
);

impl Metric {
    /// Whether node reports carry it, so that it can be split by model or node.
    pub fn per_node(self) -> bool {
        matches!(self, Metric::Cost | Metric::Tokens)
    }
}

/// `GET /api/analytics/series`: one line per group, a value per bucket. Runs count in
/// the bucket they started in, node reports in the one they were made in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    pub metric: Metric,
    pub group_by: GroupBy,
    pub bucket: Bucket,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Each bucket's start.
    pub buckets: Vec<DateTime<Utc>>,
    /// The largest groups first; past the eighth, the rest are summed as `other`.
    pub lines: Vec<SeriesLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesLine {
    /// The group's workflow, agent id, model or node id; `""` for runs no agent of the
    /// dashboard ran, or reports that named no model; `other` for the rest; `all`
    /// without grouping.
    pub key: String,
    /// One per bucket; `null` for a percentile of a bucket without finished runs.
    pub values: Vec<Option<f64>>,
    /// Over the whole window.
    pub total: Option<f64>,
}

/// `GET /api/analytics/breakdown`: a row per group over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Breakdown {
    pub group_by: GroupBy,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// By cost, the highest first.
    pub rows: Vec<BreakdownRow>,
}

/// Run counts and durations are those of runs (by workflow or agent); by model or
/// node they are absent, and node reports give the cost, tokens and time instead.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BreakdownRow {
    pub key: String,
    pub cost_usd: f64,
    pub tokens: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<i64>,
    /// Failed over finished (completed, failed or cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_run: Option<f64>,
    /// Of finished runs, in seconds, from a histogram (within 7 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_p50: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_p95: Option<f64>,
    /// Node reports (by model or node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<i64>,
    /// Seconds the reported nodes took, in all and on average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_node_seconds: Option<f64>,
}

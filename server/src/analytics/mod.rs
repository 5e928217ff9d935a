//! Analytics over the trigger-kept rollups: a series per group and bucket, and a
//! breakdown per group, for `GET /api/analytics/*`. Nothing here reads runs one by one:
//! a month is a few thousand rollup rows whatever the number of runs.

mod cache;
mod histogram;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use shared::{AnalyticsQuery, Breakdown, BreakdownRow, Bucket, GroupBy, Metric, Series, SeriesLine};
use std::collections::HashMap;
use std::sync::Arc;

use crate::store::{Result, RollupQuery, Store, Ts};
use histogram::Histogram;

/// Whole days of hourly detail kept before today; older hours are kept as days.
const HOURLY_DAYS: i64 = 2;

/// Where hourly detail starts: midnight UTC, `HOURLY_DAYS` before today. Hours before
/// it are moved into days (`compact`), so windows that reach back past it start at a
/// day's start, and hourly buckets do not reach back past it.
pub fn hourly_since(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc() - TimeDelta::days(HOURLY_DAYS)
}

/// Moves hourly rollups older than the hourly detail into days, now and every ten
/// minutes, until the process ends.
pub async fn compact(store: std::sync::Arc<dyn Store>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(error) = store.compact_rollups(Ts::from(hourly_since(Utc::now()))).await {
            tracing::warn!(%error, "could not move old hourly rollups into days");
        }
    }
}

/// Lines a series shows before the rest are summed as `other`.
const MAX_LINES: usize = 8;
/// Buckets one series may have (hourly over 83 days).
const MAX_BUCKETS: i64 = 2000;

/// A validated analytics query.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub metric: Metric,
    pub group_by: GroupBy,
    pub bucket: Bucket,
    /// Summed over the whole window rather than per bucket.
    pub whole: bool,
    /// The window's start, down to its bucket's start.
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub workflow: Option<String>,
}

impl Plan {
    /// A series' query at `now`, checked.
    pub fn series(query: &AnalyticsQuery, now: DateTime<Utc>) -> Result<Plan, String> {
        let plan = Plan::new(query, now, GroupBy::None)?;
        if plan.bucket == Bucket::Hour && plan.since < hourly_since(now) {
            return Err(format!(
                "hourly buckets reach back to {} (older hours are kept by the day): use bucket=day",
                hourly_since(now).format("%Y-%m-%dT%H:%M:%SZ")
            ));
        }
        if (plan.until - plan.since).num_seconds() / step(plan.bucket).num_seconds() >= MAX_BUCKETS {
            return Err(format!(
                "more than {MAX_BUCKETS} {} buckets: choose a shorter window or bucket=day",
                plan.bucket.as_str()
            ));
        }
        if plan.by_reports() && !plan.metric.per_node() {
            return Err(format!(
                "`{}` is counted per run, and a run has no single {}: group by workflow, agent or none",
                plan.metric.as_str(),
                plan.group_by.as_str()
            ));
        }
        Ok(plan)
    }

    /// A breakdown's query at `now`, checked (`metric` and `bucket` play no part: the
    /// window starts at its first whole hour).
    pub fn breakdown(query: &AnalyticsQuery, now: DateTime<Utc>) -> Result<Plan, String> {
        let query = AnalyticsQuery { metric: None, bucket: Some(Bucket::Hour), ..query.clone() };
        Ok(Plan { whole: true, ..Plan::new(&query, now, GroupBy::Workflow)? })
    }

    fn new(query: &AnalyticsQuery, now: DateTime<Utc>, default_group: GroupBy) -> Result<Plan, String> {
        let metric = query.metric();
        let group_by = query.group_by(default_group);
        let (since, until) = query.window(now)?;
        let bucket = query.bucket(since, until);
        // Before the hourly detail, rollups are whole days.
        let grain = if since < hourly_since(now) { Bucket::Day } else { bucket };
        let since = since.duration_trunc(step(grain)).map_err(|e| e.to_string())?;
        let workflow = shared::given(&query.workflow).map(str::to_owned);
        if group_by == GroupBy::Node && workflow.is_none() {
            return Err("group_by=node needs `workflow`: nodes are a workflow's own".to_owned());
        }
        Ok(Plan { metric, group_by, bucket, whole: false, since, until, workflow })
    }

    fn rollups(&self) -> RollupQuery {
        RollupQuery {
            since: Ts::from(self.since),
            until: Ts::from(self.until),
            bucket: (!self.whole).then_some(self.bucket),
            workflow: self.workflow.clone(),
        }
    }

    /// Whether the grouping is over node reports (which know models and nodes) rather
    /// than runs (which know agents, outcomes and durations).
    fn by_reports(&self) -> bool {
        matches!(self.group_by, GroupBy::Model | GroupBy::Node)
    }
}

fn step(bucket: Bucket) -> TimeDelta {
    match bucket {
        Bucket::Hour => TimeDelta::hours(1),
        Bucket::Day => TimeDelta::days(1),
    }
}

/// What one group did in one bucket (or over the window).
#[derive(Debug, Clone, Default)]
struct Tally {
    runs: i64,
    completed: i64,
    failed: i64,
    cancelled: i64,
    cost_usd: f64,
    tokens: i64,
    reports: i64,
    timed: i64,
    node_seconds: f64,
    durations: Histogram,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.runs += other.runs;
        self.completed += other.completed;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.cost_usd += other.cost_usd;
        self.tokens = self.tokens.saturating_add(other.tokens);
        self.reports += other.reports;
        self.timed += other.timed;
        self.node_seconds += other.node_seconds;
        self.durations.merge(&other.durations);
    }

    fn value(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Runs => Some(self.runs as f64),
            Metric::Completed => Some(self.completed as f64),
            Metric::Failures => Some(self.failed as f64),
            Metric::Cancelled => Some(self.cancelled as f64),
            Metric::Cost => Some(self.cost_usd),
            Metric::Tokens => Some(self.tokens as f64),
            Metric::DurationP50 => self.durations.percentile(0.50),
            Metric::DurationP95 => self.durations.percentile(0.95),
        }
    }
}

/// Every group's tally per bucket start.
type Tallies = HashMap<String, HashMap<DateTime<Utc>, Tally>>;

/// Analytics answers, over a store, kept while the data stays the same.
pub struct Analytics {
    store: Arc<dyn Store>,
    cache: cache::Cache,
}

impl Analytics {
    pub fn new(store: Arc<dyn Store>) -> Analytics {
        Analytics { store, cache: cache::Cache::default() }
    }

    /// `tallies`, from the cache when current. The window's end is part of the key by
    /// its hour: rollup rows start on the hour, so any end within one hour reads the
    /// same rows.
    async fn tallies(&self, plan: &Plan, durations: bool) -> Result<Arc<Tallies>> {
        let hour = plan.until.duration_trunc(TimeDelta::hours(1)).unwrap_or(plan.until);
        let key = format!("{:?}", (&Plan { until: hour, ..plan.clone() }, durations));
        self.cache.get(self.store.as_ref(), key, tallies(self.store.as_ref(), plan, durations)).await
    }
}

/// With `durations`, the runs' duration histograms too.
async fn tallies(store: &dyn Store, plan: &Plan, durations: bool) -> Result<Tallies> {
    let query = plan.rollups();
    let mut tallies = Tallies::new();
    fn slot<'a>(tallies: &'a mut Tallies, key: &str, at: Ts) -> &'a mut Tally {
        tallies.entry(key.to_owned()).or_default().entry(at.utc()).or_default()
    }
    if plan.by_reports() {
        for row in store.node_rollups(&query).await? {
            let key = if plan.group_by == GroupBy::Model { &row.model } else { &row.node };
            slot(&mut tallies, key, row.at).add(&Tally {
                reports: row.reports,
                timed: row.timed,
                cost_usd: row.cost_usd,
                tokens: row.tokens,
                node_seconds: row.duration_seconds,
                ..Tally::default()
            });
        }
        return Ok(tallies);
    }
    let key = |workflow: &str, agent: &str| -> String {
        match plan.group_by {
            GroupBy::Workflow => workflow.to_owned(),
            GroupBy::Agent => agent.to_owned(),
            _ => "all".to_owned(),
        }
    };
    for row in store.run_rollups(&query).await? {
        slot(&mut tallies, &key(&row.workflow, &row.agent), row.at).add(&Tally {
            runs: row.runs,
            completed: row.completed,
            failed: row.failed,
            cancelled: row.cancelled,
            cost_usd: row.cost_usd,
            tokens: row.tokens,
            ..Tally::default()
        });
    }
    if durations {
        for row in store.duration_rollups(&query).await? {
            slot(&mut tallies, &key(&row.workflow, &row.agent), row.at).durations.add(
                row.lower_seconds,
                row.upper_seconds,
                row.runs,
            );
        }
    }
    Ok(tallies)
}

impl Analytics {
    /// `GET /api/analytics/series`.
    pub async fn series(&self, plan: &Plan) -> Result<Series> {
        let mut buckets = Vec::new();
        let mut at = plan.since;
        while at < plan.until {
            buckets.push(at);
            at += step(plan.bucket);
        }
        let percentile = matches!(plan.metric, Metric::DurationP50 | Metric::DurationP95);
        let mut groups: Vec<(String, Tally, HashMap<DateTime<Utc>, Tally>)> = self
            .tallies(plan, percentile)
            .await?
            .iter()
            .map(|(key, per_bucket)| {
                let mut whole = Tally::default();
                per_bucket.values().for_each(|t| whole.add(t));
                (key.clone(), whole, per_bucket.clone())
            })
            .collect();
        // The largest first: by the metric, or by runs for a percentile.
        let size = |t: &Tally| if percentile { t.runs as f64 } else { t.value(plan.metric).unwrap_or(0.0) };
        groups.sort_by(|a, b| size(&b.1).total_cmp(&size(&a.1)).then_with(|| a.0.cmp(&b.0)));
        if groups.len() > MAX_LINES {
            let rest = groups.split_off(MAX_LINES - 1);
            let mut whole = Tally::default();
            let mut per_bucket: HashMap<DateTime<Utc>, Tally> = HashMap::new();
            for (_, total, buckets) in &rest {
                whole.add(total);
                for (at, tally) in buckets {
                    per_bucket.entry(*at).or_default().add(tally);
                }
            }
            groups.push(("other".to_owned(), whole, per_bucket));
        }
        // A bucket without rows: zero, or no percentile.
        let empty = Tally::default().value(plan.metric);
        let lines = groups
            .into_iter()
            .map(|(key, whole, per_bucket)| SeriesLine {
                values: buckets.iter().map(|at| per_bucket.get(at).map_or(empty, |t| t.value(plan.metric))).collect(),
                total: whole.value(plan.metric),
                key,
            })
            .collect();
        Ok(Series {
            metric: plan.metric,
            group_by: plan.group_by,
            bucket: plan.bucket,
            since: plan.since,
            until: plan.until,
            buckets,
            lines,
        })
    }

    /// `GET /api/analytics/breakdown`.
    pub async fn breakdown(&self, plan: &Plan) -> Result<Breakdown> {
        let mut rows: Vec<BreakdownRow> = self
            .tallies(plan, !plan.by_reports())
            .await?
            .iter()
            .map(|(key, per_bucket)| {
                let mut t = Tally::default();
                per_bucket.values().for_each(|b| t.add(b));
                row(key.clone(), &t, plan.by_reports())
            })
            .collect();
        rows.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd).then_with(|| a.key.cmp(&b.key)));
        Ok(Breakdown { group_by: plan.group_by, since: plan.since, until: plan.until, rows })
    }
}

fn row(key: String, t: &Tally, by_reports: bool) -> BreakdownRow {
    let ratio = |a: f64, b: i64| (b > 0).then(|| a / b as f64);
    if by_reports {
        return BreakdownRow {
            key,
            cost_usd: t.cost_usd,
            tokens: t.tokens,
            reports: Some(t.reports),
            node_seconds: Some(t.node_seconds),
            mean_node_seconds: ratio(t.node_seconds, t.timed),
            ..BreakdownRow::default()
        };
    }
    BreakdownRow {
        key,
        cost_usd: t.cost_usd,
        tokens: t.tokens,
        runs: Some(t.runs),
        completed: Some(t.completed),
        failed: Some(t.failed),
        cancelled: Some(t.cancelled),
        failure_rate: ratio(t.failed as f64, t.completed + t.failed + t.cancelled),
        cost_per_run: ratio(t.cost_usd, t.runs),
        duration_p50: t.durations.percentile(0.50),
        duration_p95: t.durations.percentile(0.95),
        ..BreakdownRow::default()
    }
}

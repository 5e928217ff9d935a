//! Analytics read trigger-kept rollups; these tests check them against SQL over the
//! very rows they summarise, rows other writers store included, as rows change and
//! go, and with reports no writer should have stored.

use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};
use serde_json::json;
use shared::{Breakdown, BreakdownRow, Series};
use std::collections::BTreeMap;

use crate::helpers::TestApp;

crate::on_both_databases!(
    analytics_agree_with_sql_over_the_same_rows,
    analytics_agree_after_old_hours_become_days,
    rollups_follow_changes_by_any_writer,
    reports_no_writer_should_store_count_as_nothing,
    analytics_queries_are_checked
);

const TS: &str = "%Y-%m-%d %H:%M:%S%.6f";
const WORKFLOWS: [&str; 3] = ["alpha", "beta", "gamma"];
const STATUSES: [&str; 5] = ["completed", "failed", "cancelled", "running", "completed"];

/// The window the tests ask about: from midnight UTC three days ago to the end of
/// the current hour.
fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    let hour = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap();
    (hour.duration_trunc(TimeDelta::days(1)).unwrap() - TimeDelta::days(3), hour + TimeDelta::hours(1))
}

fn query(since: DateTime<Utc>, until: DateTime<Utc>) -> String {
    format!("since={}&until={}", since.format("%Y-%m-%dT%H:%M:%SZ"), until.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// Sixty runs over the window's first three days, as the original runtime writes them,
/// spread over workflows, agents (some none), outcomes, durations and costs; and one
/// just before the window, which no answer may count.
async fn write_runs(app: &TestApp) {
    let (since, _) = window();
    let mut sql = String::new();
    for i in 0..61i64 {
        let started = if i == 60 { since - TimeDelta::minutes(1) } else { since + TimeDelta::minutes(13 + i * 71) };
        let status = STATUSES[i as usize % 5];
        let agent = match i % 4 {
            0 => "NULL".to_owned(),
            k => format!("'agent-{k}'"),
        };
        let duration = if matches!(status, "running") {
            "NULL".to_owned()
        } else {
            format!("{}", 0.5 * 1.3f64.powi((i % 17) as i32))
        };
        sql += &format!(
            "INSERT INTO workflow_runs (id, workflow_name, status, started_at, duration_seconds, total_tokens, \
             total_cost_usd, agent_id) VALUES ('{}', '{}', '{status}', '{}', {duration}, {}, {}, {agent});\n",
            run(i),
            WORKFLOWS[i as usize % 3],
            started.format(TS),
            100 * i,
            0.01 * i as f64,
        );
    }
    app.db.execute_as_another_writer(&sql).await;
}

/// The id of the `i`th run `write_runs` writes.
fn run(i: i64) -> String {
    format!("00000000-0000-4000-8000-000000000{i:03}")
}

/// `(key, number)` rows of `sql` over the window's runs, `{where}` replaced.
async fn by_sql(app: &TestApp, select: &str) -> BTreeMap<String, f64> {
    let (since, until) = window();
    let sql = select
        .replace("{where}", &format!("started_at >= '{}' AND started_at < '{}'", since.format(TS), until.format(TS)));
    app.db.numbers(&sql).await.into_iter().collect()
}

fn column(rows: &[BreakdownRow], value: impl Fn(&BreakdownRow) -> f64) -> BTreeMap<String, f64> {
    rows.iter().map(|row| (row.key.clone(), value(row))).collect()
}

fn assert_close(actual: &BTreeMap<String, f64>, expected: &BTreeMap<String, f64>, what: &str) {
    assert_eq!(actual.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{what}: groups");
    for (key, want) in expected {
        assert!((actual[key] - want).abs() < 1e-9, "{what} of {key}: {} against {want}", actual[key]);
    }
}

async fn analytics_agree_with_sql_over_the_same_rows(app: TestApp) {
    write_runs(&app).await;
    agree(&app).await;
}

/// Hours before the hourly detail are moved into days; answers stay those of SQL over
/// the runs, also when another writer changes a run whose hour was moved (its outcome,
/// or its amounts alone).
async fn analytics_agree_after_old_hours_become_days(app: TestApp) {
    write_runs(&app).await;
    let store = server::store::connect(&app.db.url(), server::events::EventBus::default()).await.unwrap();
    let cutoff = server::analytics::hourly_since(Utc::now());
    store.compact_rollups(server::store::Ts::from(cutoff)).await.unwrap();
    let left = format!(
        "SELECT 'hours', CAST(COUNT(*) AS DOUBLE PRECISION) FROM dashboard_rollup_runs WHERE hour < '{}'",
        cutoff.format(TS)
    );
    assert_eq!(app.db.numbers(&left).await, vec![("hours".to_owned(), 0.0)]);
    app.db
        .execute_as_another_writer(&format!(
            "UPDATE workflow_runs SET status = 'completed', total_cost_usd = 9.5 WHERE id = '{}'; \
             UPDATE workflow_runs SET total_cost_usd = 4.25, total_tokens = 77 WHERE id = '{}'",
            run(1),
            run(3)
        ))
        .await;
    agree(&app).await;
    // Moving again adds the late change to its day.
    store.compact_rollups(server::store::Ts::from(cutoff)).await.unwrap();
    agree(&app).await;
}

async fn agree(app: &TestApp) {
    let (since, until) = window();
    let breakdown: Breakdown = app.fetch(&format!("/api/analytics/breakdown?{}", query(since, until))).await;
    let count = |status: &str| {
        format!(
            "SELECT workflow_name, CAST(COUNT(*) AS DOUBLE PRECISION) FROM workflow_runs \
             WHERE {{where}} AND status = '{status}' GROUP BY workflow_name"
        )
    };
    let rows = &breakdown.rows;
    let runs = "SELECT workflow_name, CAST(COUNT(*) AS DOUBLE PRECISION) FROM workflow_runs WHERE {where} GROUP BY 1";
    assert_close(&column(rows, |r| r.runs.unwrap() as f64), &by_sql(app, runs).await, "runs");
    for (status, value) in [
        ("completed", (|r: &BreakdownRow| r.completed.unwrap() as f64) as fn(&BreakdownRow) -> f64),
        ("failed", |r| r.failed.unwrap() as f64),
        ("cancelled", |r| r.cancelled.unwrap() as f64),
    ] {
        assert_close(&column(rows, value), &by_sql(app, &count(status)).await, status);
    }
    let cost = "SELECT workflow_name, CAST(SUM(total_cost_usd) AS DOUBLE PRECISION) FROM workflow_runs \
                WHERE {where} GROUP BY 1";
    assert_close(&column(rows, |r| r.cost_usd), &by_sql(app, cost).await, "cost");
    let tokens = "SELECT workflow_name, CAST(SUM(total_tokens) AS DOUBLE PRECISION) FROM workflow_runs \
                  WHERE {where} GROUP BY 1";
    assert_close(&column(rows, |r| r.tokens as f64), &by_sql(app, tokens).await, "tokens");

    // Percentiles from the histograms are within 7 % of the exact ones.
    let durations = "SELECT workflow_name, duration_seconds FROM workflow_runs \
                     WHERE {where} AND status IN ('completed', 'failed', 'cancelled') ORDER BY 1, 2";
    let (since_text, until_text) = (since.format(TS), until.format(TS));
    let all = app
        .db
        .numbers(
            &durations.replace("{where}", &format!("started_at >= '{since_text}' AND started_at < '{until_text}'")),
        )
        .await;
    for row in rows {
        let mine: Vec<f64> = all.iter().filter(|(w, _)| *w == row.key).map(|(_, d)| *d).collect();
        for (p, estimate) in [(0.5, row.duration_p50), (0.95, row.duration_p95)] {
            let exact = mine[((p * mine.len() as f64).ceil() as usize).max(1) - 1];
            let estimate = estimate.expect("finished runs have a percentile");
            assert!((estimate / exact - 1.0).abs() <= 0.072, "p{p} of {}: {estimate} against {exact}", row.key);
        }
    }

    let by_agent: Breakdown =
        app.fetch(&format!("/api/analytics/breakdown?group_by=agent&{}", query(since, until))).await;
    let agents = "SELECT COALESCE(agent_id, ''), CAST(COUNT(*) AS DOUBLE PRECISION) FROM workflow_runs \
                  WHERE {where} GROUP BY 1";
    assert_close(&column(&by_agent.rows, |r| r.runs.unwrap() as f64), &by_sql(app, agents).await, "runs by agent");

    // Hourly cost over the last two days: each bucket holds what started in its hour.
    let hourly = (until - TimeDelta::hours(48), until);
    let series: Series =
        app.fetch(&format!("/api/analytics/series?metric=cost&bucket=hour&{}", query(hourly.0, hourly.1))).await;
    assert_eq!(series.buckets.len(), 48);
    assert_eq!(series.lines.len(), 1);
    let started = format!(
        "SELECT CAST(started_at AS TEXT), total_cost_usd FROM workflow_runs WHERE started_at >= '{}'",
        hourly.0.format(TS)
    );
    let mut per_hour: BTreeMap<DateTime<Utc>, f64> = BTreeMap::new();
    for (at, cost) in app.db.numbers(&started).await {
        let at = NaiveDateTime::parse_from_str(&at, "%Y-%m-%d %H:%M:%S%.f").unwrap().and_utc();
        *per_hour.entry(at.duration_trunc(TimeDelta::hours(1)).unwrap()).or_default() += cost;
    }
    for (at, value) in series.buckets.iter().zip(&series.lines[0].values) {
        let want = per_hour.get(at).copied().unwrap_or(0.0);
        assert!((value.unwrap() - want).abs() < 1e-9, "cost at {at}: {value:?} against {want}");
    }
    // Daily buckets sum the same runs.
    let daily: Series = app
        .fetch(&format!("/api/analytics/series?metric=runs&group_by=workflow&bucket=day&{}", query(since, until)))
        .await;
    let total: f64 = daily.lines.iter().map(|line| line.total.unwrap()).sum();
    let all = "SELECT 'all', CAST(COUNT(*) AS DOUBLE PRECISION) FROM workflow_runs WHERE {where}";
    assert_eq!(total, by_sql(app, all).await["all"]);
    let summed: f64 = daily.lines.iter().flat_map(|line| line.values.iter().map(|v| v.unwrap())).sum();
    assert_eq!(summed, total);
}

async fn rollups_follow_changes_by_any_writer(app: TestApp) {
    write_runs(&app).await;
    let (since, until) = window();
    let path = format!("/api/analytics/breakdown?{}", query(since, until));
    let alpha = |b: &Breakdown| b.rows.iter().find(|r| r.key == "alpha").cloned().unwrap();
    let before = alpha(&app.fetch(&path).await);

    // Own writes: a run started, reported on and cancelled through the API.
    let id = app.create_run(json!({ "workflow_name": "alpha", "status": "running" })).await;
    app.posted(&format!("/api/workflows/{id}/states"), json!({ "node_id": "n", "cost_usd": 0.5, "total_tokens": 7 }))
        .await;
    app.posted_empty(&format!("/api/workflows/{id}/cancel")).await;
    // Another writer's: a running run completes with a new cost; a run is deleted.
    app.db
        .execute_as_another_writer(
            "UPDATE workflow_runs SET status = 'completed', total_cost_usd = 2.0, duration_seconds = 3 \
             WHERE id = '00000000-0000-4000-8000-000000000003'; DELETE FROM workflow_runs WHERE id = '00000000-0000-4000-8000-000000000000';",
        )
        .await;
    let after = alpha(&app.fetch(&path).await);
    // Run 3 was alpha and running (0.03), run 0 alpha and completed (0.0).
    assert_eq!(after.runs.unwrap(), before.runs.unwrap() + 1 - 1);
    assert_eq!(after.cancelled.unwrap(), before.cancelled.unwrap() + 1);
    assert_eq!(after.completed.unwrap(), before.completed.unwrap() + 1 - 1);
    assert!((after.cost_usd - (before.cost_usd + 0.5 + 2.0 - 0.03)).abs() < 1e-9, "{after:?} after {before:?}");
    assert_eq!(after.tokens, before.tokens + 7);

    // By model and node: the API's reports and another writer's count alike.
    app.db
        .execute_as_another_writer(
            "INSERT INTO execution_states (run_id, node_id, state_data, created_at) VALUES \
             ('00000000-0000-4000-8000-000000000003', 'write', '{\"model\": \"gpt-4o\", \"cost_usd\": 0.25, \"input_tokens\": 10, \
               \"output_tokens\": 5, \"duration_seconds\": 4}', CURRENT_TIMESTAMP)",
        )
        .await;
    let models: Breakdown =
        app.fetch(&format!("/api/analytics/breakdown?group_by=model&{}", query(since, until))).await;
    let found: BTreeMap<String, (f64, i64)> =
        models.rows.iter().map(|r| (r.key.clone(), (r.cost_usd, r.tokens))).collect();
    assert_eq!(found, BTreeMap::from([("".to_owned(), (0.5, 7)), ("gpt-4o".to_owned(), (0.25, 15))]));
    let nodes: Breakdown =
        app.fetch(&format!("/api/analytics/breakdown?group_by=node&workflow=alpha&{}", query(since, until))).await;
    let write = nodes.rows.iter().find(|r| r.key == "write").unwrap();
    assert_eq!((write.reports, write.mean_node_seconds), (Some(1), Some(4.0)));
}

async fn reports_no_writer_should_store_count_as_nothing(app: TestApp) {
    write_runs(&app).await;
    let huge = "1".to_owned() + &"0".repeat(400);
    app.db
        .execute_as_another_writer(&format!(
            "INSERT INTO execution_states (run_id, node_id, state_data, created_at) VALUES \
             ('00000000-0000-4000-8000-000000000003', 'a', 'not json at all', CURRENT_TIMESTAMP), \
             ('00000000-0000-4000-8000-000000000003', 'b', '[1, 2]', CURRENT_TIMESTAMP), \
             ('00000000-0000-4000-8000-000000000003', 'c', '{{\"cost_usd\": \"lots\", \"total_tokens\": -5, \"model\": \"m\"}}', CURRENT_TIMESTAMP), \
             ('00000000-0000-4000-8000-000000000003', 'd', '{{\"cost_usd\": {huge}, \"total_tokens\": {huge}, \"duration_seconds\": {huge}}}', \
              CURRENT_TIMESTAMP); \
             UPDATE workflow_runs SET status = 'running', total_cost_usd = 1e300, total_tokens = 9000000000000000000 \
             WHERE id = '00000000-0000-4000-8000-000000000006';"
        ))
        .await;
    let (since, until) = window();
    let models: Breakdown =
        app.fetch(&format!("/api/analytics/breakdown?group_by=model&{}", query(since, until))).await;
    assert!(models.rows.iter().all(|r| r.cost_usd == 0.0 && r.tokens == 0), "{models:?}");
    assert_eq!(models.rows.iter().map(|r| r.reports.unwrap()).sum::<i64>(), 2, "the two JSON objects");
    let workflows: Breakdown = app.fetch(&format!("/api/analytics/breakdown?{}", query(since, until))).await;
    let alpha = workflows.rows.iter().find(|r| r.key == "alpha").unwrap();
    // Run 6 is alpha: its amounts left the bounds, so they count as zero, and the
    // row stays writable.
    let expected: f64 = (0..60).filter(|i| i % 3 == 0 && *i != 6).map(|i| 0.01 * i as f64).sum();
    assert!((alpha.cost_usd - expected).abs() < 1e-9, "{} against {expected}", alpha.cost_usd);
    app.posted_empty(&format!("/api/workflows/{}/cancel", run(6))).await;
    app.db
        .execute_as_another_writer("DELETE FROM execution_states WHERE run_id = '00000000-0000-4000-8000-000000000003'")
        .await;
}

async fn analytics_queries_are_checked(app: TestApp) {
    for (path, says) in [
        ("/api/analytics/series?metric=profit", "unknown metric"),
        ("/api/analytics/series?group_by=colour", "unknown group_by"),
        ("/api/analytics/series?bucket=week", "unknown bucket"),
        ("/api/analytics/series?range=1y", "unknown range"),
        ("/api/analytics/series?metric=runs&group_by=model", "counted per run"),
        ("/api/analytics/breakdown?group_by=node", "needs `workflow`"),
        ("/api/analytics/series?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "before `until`"),
        ("/api/analytics/series?bucket=hour&since=2020-01-01T00:00:00Z", "buckets"),
        ("/api/analytics/series?range=7d&since=2026-01-01T00:00:00Z", "either"),
        ("/api/analytics/series?workflow=a%00b", "NUL"),
        ("/api/analytics/series?since=yesterday", "since"),
        ("/api/analytics/breakdown?since=-200000-01-01T00:00:00Z", "1970 to 9999"),
        // A week before the calendar's first days (the subtraction panicked).
        ("/api/analytics/series?until=-262143-01-03T00:00:00Z", "1970 to 9999"),
        ("/api/analytics/breakdown?until=-262143-01-01T00:00:00Z", "before `until`"),
        ("/api/analytics/series?bucket=day&since=1969-12-31T00:00:00Z", "1970 to 9999"),
        ("/api/analytics/series?colour=red", "colour"),
    ] {
        let (status, body) = app.get(path).await;
        assert!(status.is_client_error(), "{path}: {status} {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{path}: {body}");
    }
    // Empty, and over a long window by day, both answer.
    let empty: Series = app.fetch("/api/analytics/series?range=30d&metric=duration_p95").await;
    assert_eq!((empty.buckets.len(), empty.lines.len()), (31, 0));
    let (status, _) = app.get("/api/analytics/breakdown?since=2000-01-01T00:00:00Z").await;
    assert!(status.is_success());
}

//! Counts and amounts: anything outside the bounds is refused and changes nothing,
//! and no stored value, whoever wrote it, can break the summary or the runs list.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};

crate::on_both_databases!(totals_written_by_others_cannot_poison_the_summary);

/// Tests that start their own dashboard.
mod configured {
    use super::*;
    crate::on_both_databases!(backend: out_of_range_numbers_are_refused);
}

const MAX_TOKENS: i64 = 1_000_000_000_000;

/// A dashboard whose runs may report up to the stored bounds (the operator's bound
/// per run, `--max-run-tokens`, is lower by default; `budgets.rs` tests it).
pub async fn up_to_the_stored_bounds(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.max_run_tokens = MAX_TOKENS;
        config.max_run_cost_usd = 1e9;
    })
    .await
}

async fn out_of_range_numbers_are_refused(backend: Backend) {
    let app = up_to_the_stored_bounds(backend).await;
    let run = app.create_run(json!({"workflow_name": "big", "status": "running"})).await;
    let states = format!("/api/workflows/{run}/states");
    let complete = format!("/api/workflows/{run}/complete");
    let fail = format!("/api/workflows/{run}/fail");
    for (path, body) in [
        (&complete, json!({"total_tokens": i64::MAX})),
        (&complete, json!({"total_tokens": MAX_TOKENS + 1})),
        (&complete, json!({"total_tokens": -1})),
        (&complete, json!({"total_cost_usd": 1e300})),
        (&complete, json!({"duration_seconds": 1e300})),
        (&complete, json!({"duration_seconds": -0.5})),
        (&fail, json!({"error_message": "x", "total_cost_usd": 2e9})),
        (&states, json!({"node_id": "n", "input_tokens": i64::MAX - 1})),
        (&states, json!({"node_id": "n", "input_tokens": MAX_TOKENS, "output_tokens": MAX_TOKENS})),
        (&states, json!({"node_id": "n", "total_tokens": MAX_TOKENS + 1})),
        (&states, json!({"node_id": "n", "cost_usd": -1})),
        (&states, json!({"node_id": "n", "duration_seconds": 1e10})),
    ] {
        let (status, error) = app.post(path, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {error}");
        assert_eq!(error["error"]["code"], "invalid_request", "{error}");
    }
    // A run's running total is bounded too: within bounds one state at a time, the
    // second would take it past the limit.
    let (status, _) = app.post(&states, json!({"node_id": "a", "total_tokens": MAX_TOKENS})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, error) = app.post(&states, json!({"node_id": "b", "total_tokens": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let detail: Value = app.fetch(&format!("/api/workflows/{run}")).await;
    assert_eq!(detail["states"].as_array().unwrap().len(), 1, "the refused state was not stored");
    assert_eq!((detail["status"].as_str(), detail["total_tokens"].as_i64()), (Some("running"), Some(MAX_TOKENS)));
    let summary: Value = app.fetch("/api/summary").await;
    assert_eq!(summary["total_tokens"].as_i64(), Some(MAX_TOKENS), "{summary}");
}

async fn totals_written_by_others_cannot_poison_the_summary(app: TestApp) {
    // Two runs whose token counts sum past the 64-bit range: SQLite's totals trigger
    // turns the sum into a REAL; PostgreSQL's NUMERIC total holds it.
    app.db
        .execute_as_another_writer(
            "INSERT INTO workflow_runs (id, workflow_name, status, started_at, total_tokens, total_cost_usd) VALUES \
             ('11111111-1111-4111-8111-111111111111', 'py', 'completed', '2026-03-01 10:00:00', 9000000000000000000, 1.5), \
             ('22222222-2222-4222-8222-222222222222', 'py', 'completed', '2026-03-01 10:00:01', 9000000000000000000, 0.5)",
        )
        .await;
    let mut events = app.events("/api/events?topics=summary", None).await;
    // A new stream's first summary is the newest computed; the one after another
    // writer's change follows as soon as the change is seen.
    let mut summary = events.expect(&["summary"]).await.data;
    while summary["total_workflows"] != 2 {
        summary = events.expect(&["summary"]).await.data;
    }
    assert_eq!(summary["total_tokens"].as_i64(), Some(i64::MAX), "saturates: {summary}");
    assert_eq!(summary["total_workflows"].as_i64(), Some(2), "{summary}");
    let fetched: Value = app.fetch("/api/summary").await;
    assert_eq!(fetched, summary);
    let page: Value = app.fetch("/api/workflows?sort=-total_tokens").await;
    assert_eq!(page["runs"][0]["total_tokens"].as_i64(), Some(9_000_000_000_000_000_000));
    // Our own writes keep working, and keep the totals current.
    let run = app.create_run(json!({"workflow_name": "after", "status": "running"})).await;
    let (status, _) = app.post(&format!("/api/workflows/{run}/complete"), json!({"total_cost_usd": 1.0})).await;
    assert_eq!(status, StatusCode::OK);
    let summary: Value = app.fetch("/api/summary").await;
    assert_eq!((summary["total_workflows"].as_i64(), summary["total_cost_usd"].as_f64()), (Some(3), Some(3.0)));
}

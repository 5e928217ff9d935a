//! Budgets: a run over its cap is cancelled at the report that crossed it, on the same
//! path as an operator's cancel (its agent is told to stop); a workflow at its period
//! cap starts no run; rows other writers store count and are enforced too.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use shared::{Budget, BudgetState, RunDetail, RunStatus};
use std::time::Duration;

use crate::helpers::{holds_for, TestApp};
use crate::test_agents::{Answer, DemoAgent, OriginalAgent};

crate::on_both_databases!(
    a_run_over_its_cap_is_cancelled_and_its_agent_told,
    a_workflow_at_its_period_cap_starts_no_run,
    other_writers_runs_are_held_to_budgets,
    budgets_are_checked_listed_and_removed,
    final_reports_are_held_to_the_run_caps,
    no_report_passes_the_bound_of_one_run,
    runs_over_their_cap_inside_a_flood_are_cancelled
);

const TS: &str = "%Y-%m-%d %H:%M:%S%.6f";

async fn a_run_over_its_cap_is_cancelled_and_its_agent_told(app: TestApp) {
    let agent = DemoAgent::start(&app, |args| {
        args.workflow = "market_research".into();
        args.node_seconds = 0.3;
        args.sync_timeout = Duration::ZERO;
    })
    .await;
    let mut stream = app.events("/api/events?topics=workflows", None).await;
    app.put("/api/budgets/market_research", json!({ "run_max_tokens": 1 })).await;
    let id = app.start_run("market_research", json!({ "market": "e-bikes" })).await;

    let detail = app
        .run_when(&id, "the agent confirms it stopped", |d| {
            d.logs.lines.iter().any(|l| l.message.contains("stopped the run"))
        })
        .await;
    assert_eq!(agent.job(&id).await["status"], "cancelled");
    assert_eq!(detail.run.status, RunStatus::Cancelled);
    let reason = detail.run.error_message.clone().expect("the reason is the run's error");
    assert!(reason.starts_with("budget exceeded: ") && reason.ends_with(" > 1 tokens per run"), "{reason}");
    // Cancelled at the first report: the node that crossed, then the budget's state.
    let nodes: Vec<&str> = detail.states.iter().map(|s| s.node_id.as_str()).collect();
    assert_eq!(nodes.last(), Some(&"budget"), "{nodes:?}");
    let spent = detail.states.iter().filter(|s| s.state_data.tokens().is_some()).count();
    assert_eq!(spent, 1, "the first report with tokens crossed the cap: {nodes:?}");
    assert_eq!(detail.states.last().unwrap().state_data.error.as_deref(), Some(reason.as_str()));
    assert!(detail.logs.lines.iter().any(|l| l.message == format!("Run cancelled by budget: {reason}")));
    // The event says so too.
    loop {
        let message = stream.expect(&["workflow_update"]).await;
        if message.data["id"] == id.as_str() && message.data["status"] == "cancelled" {
            assert_eq!(message.data["error_message"], reason.as_str());
            break;
        }
    }
    // Nothing more is taken from the run, through the time of a few more nodes.
    holds_for("the run takes no state after its cancel", Duration::from_millis(1200), || async {
        app.fetch::<RunDetail>(&format!("/api/workflows/{id}")).await.states.len() == detail.states.len()
    })
    .await;
}

async fn a_workflow_at_its_period_cap_starts_no_run(app: TestApp) {
    let _agent = OriginalAgent::start(&app, "support_triage", Answer::Sync(Duration::from_millis(10))).await;
    app.put("/api/budgets/support_triage", json!({ "daily_usd": 0.5 })).await;
    // Spent today by the original runtime: 0.45, so a start is still allowed.
    let now = Utc::now().naive_utc().format(TS).to_string();
    app.db
        .execute_as_another_writer(&format!(
            "INSERT INTO workflow_runs (id, workflow_name, status, started_at, total_cost_usd) VALUES \
             ('10000000-0000-4000-8000-000000000001', 'support_triage', 'completed', '{now}', 0.45)"
        ))
        .await;
    let budgets: Vec<Budget> = app.fetch("/api/budgets").await;
    assert_eq!((budgets[0].spent_today_usd, budgets[0].state), (0.45, BudgetState::Warning));
    let (status, body) = app.post("/api/workflows/run", json!({ "workflow_name": "support_triage" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let first = body["id"].as_str().unwrap().to_owned();
    app.run_when(&first, "the run finishes", |d| !d.run.status.is_active()).await;

    app.db
        .execute_as_another_writer(
            "UPDATE workflow_runs SET total_cost_usd = 0.6 WHERE id = '10000000-0000-4000-8000-000000000001'",
        )
        .await;
    let (status, body) = app.post("/api/workflows/run", json!({ "workflow_name": "support_triage" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("budget exceeded: $0.6"), "{message}");
    assert!(message.contains("> $0.50 per day"), "{message}");
    // Restarting is starting too.
    let (status, _) = app.post_empty(&format!("/api/workflows/{first}/restart")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let budgets: Vec<Budget> = app.fetch("/api/budgets").await;
    assert_eq!(budgets[0].state, BudgetState::Exceeded);
}

async fn other_writers_runs_are_held_to_budgets(app: TestApp) {
    app.put("/api/budgets/article_writer", json!({ "run_max_usd": 0.5 })).await;
    let now = Utc::now().naive_utc().format(TS).to_string();
    let id = "20000000-0000-4000-8000-000000000002";
    app.db
        .execute_as_another_writer(&format!(
            "INSERT INTO workflow_runs (id, workflow_name, status, started_at, total_cost_usd) VALUES \
             ('{id}', 'article_writer', 'running', '{now}', 0.25)"
        ))
        .await;
    holds_for("a run under its cap runs on", Duration::from_millis(300), || async {
        app.fetch::<RunDetail>(&format!("/api/workflows/{id}")).await.run.status == RunStatus::Running
    })
    .await;

    app.db
        .execute_as_another_writer(&format!("UPDATE workflow_runs SET total_cost_usd = 0.75 WHERE id = '{id}'"))
        .await;
    let detail = app.run_when(id, "the budget cancels it", |d| d.run.status == RunStatus::Cancelled).await;
    assert_eq!(detail.run.error_message.as_deref(), Some("budget exceeded: $0.75 > $0.50 per run"));
}

async fn budgets_are_checked_listed_and_removed(app: TestApp) {
    for (body, says) in [
        (json!({}), "at least one"),
        (json!({ "daily_usd": 0 }), "daily_usd"),
        (json!({ "monthly_usd": -1 }), "monthly_usd"),
        (json!({ "run_max_usd": 1e300 }), "run_max_usd"),
        (json!({ "run_max_tokens": 0 }), "run_max_tokens"),
        (json!({ "daily_usd": "5" }), "daily_usd"),
        (json!({ "weekly_usd": 5 }), "weekly_usd"),
    ] {
        let (status, answer) = app.request(reqwest::Method::PUT, "/api/budgets/w", Some(body.clone())).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(says), "{body}: {answer}");
    }
    let (status, _) = app.request(reqwest::Method::PUT, "/api/budgets/a%00b", Some(json!({ "daily_usd": 1 }))).await;
    assert!(status.is_client_error());
    let budgets: Vec<Budget> = app.fetch("/api/budgets").await;
    assert!(budgets.is_empty(), "refused requests change nothing");

    app.put("/api/budgets/w", json!({ "daily_usd": 2, "run_max_tokens": 100 })).await;
    app.put("/api/budgets/w", json!({ "monthly_usd": 30 })).await;
    let budgets: Vec<Budget> = app.fetch("/api/budgets").await;
    assert_eq!(budgets.len(), 1);
    let b = &budgets[0];
    assert_eq!((b.limits.daily_usd, b.limits.monthly_usd, b.limits.run_max_tokens), (None, Some(30.0), None));
    assert_eq!((b.spent_today_usd, b.state, b.updated_by.as_str()), (0.0, BudgetState::Ok, "local"));

    let (status, _) = app.request(reqwest::Method::DELETE, "/api/budgets/w", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.request(reqwest::Method::DELETE, "/api/budgets/w", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let audit: serde_json::Value = app.fetch("/api/audit").await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| a.starts_with("budget.")).count(), 3, "{actions:?}");
}

async fn final_reports_are_held_to_the_run_caps(app: TestApp) {
    app.put("/api/budgets/capped", json!({ "run_max_usd": 1.0, "run_max_tokens": 1000 })).await;
    let run = |body: serde_json::Value| {
        let app = &app;
        async move {
            let id = app.create_run(json!({ "workflow_name": "capped", "status": "running" })).await;
            let (outcome, body) = (body["outcome"].as_str().unwrap().to_owned(), body["report"].clone());
            let (status, answer) = app.post(&format!("/api/workflows/{id}/{outcome}"), body).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            app.fetch::<RunDetail>(&format!("/api/workflows/{id}")).await.run
        }
    };
    // Reported whole at the end, a run over its cap ends cancelled by the budget.
    let over = run(json!({"outcome": "complete", "report": {"total_cost_usd": 100.0}})).await;
    assert_eq!(over.status, RunStatus::Cancelled);
    assert_eq!(over.total_cost_usd, Some(100.0), "the spend reported is kept");
    assert!(over.error_message.as_deref().unwrap().starts_with("budget exceeded: $100.00 > $1.00 per run"));
    let failed = run(json!({"outcome": "fail", "report": {"error_message": "boom", "total_tokens": 5000}})).await;
    assert_eq!(failed.status, RunStatus::Cancelled);
    assert!(failed.error_message.as_deref().unwrap().contains("the run reported it failed: boom"), "{failed:?}");
    let within = run(json!({"outcome": "complete", "report": {"total_cost_usd": 0.5}})).await;
    assert_eq!(within.status, RunStatus::Completed);
}

async fn no_report_passes_the_bound_of_one_run(app: TestApp) {
    let id = app.create_run(json!({ "workflow_name": "bounded", "status": "running" })).await;
    // Within the stored bounds, beyond what one run may report (--max-run-cost-usd).
    for (path, body) in [
        ("complete", json!({"total_cost_usd": 1e9})),
        ("fail", json!({"error_message": "x", "total_tokens": 2_000_000_000i64})),
    ] {
        let (status, error) = app.post(&format!("/api/workflows/{id}/{path}"), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert!(error["error"]["message"].as_str().unwrap().contains("--max-run-"), "{error}");
    }
    let states = format!("/api/workflows/{id}/states");
    assert_eq!(app.post(&states, json!({"node_id": "a", "cost_usd": 6000.0})).await.0, StatusCode::CREATED);
    let (status, error) = app.post(&states, json!({"node_id": "b", "cost_usd": 6000.0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let detail: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(
        (detail.run.status, detail.states.len(), detail.run.total_cost_usd),
        (RunStatus::Running, 1, Some(6000.0))
    );
    // The budget page says who reported the day's spend.
    app.put("/api/budgets/bounded", json!({ "daily_usd": 100000.0 })).await;
    let budgets: Vec<Budget> = app.fetch("/api/budgets").await;
    let reporters = &budgets.iter().find(|b| b.workflow_name == "bounded").unwrap().reporters_today;
    assert_eq!((reporters[0].reporter.as_str(), reporters[0].runs, reporters[0].cost_usd), ("local", 1, 6000.0));
}

/// Thousands of log lines at once run the event bus ahead of the budget watcher: runs
/// whose reports crossed a cap meanwhile are still cancelled.
async fn runs_over_their_cap_inside_a_flood_are_cancelled(app: TestApp) {
    app.put("/api/budgets/capped", json!({ "run_max_tokens": 10 })).await;
    let chatty = app.create_run(json!({ "workflow_name": "chatty", "status": "running" })).await;
    let mut over = Vec::new();
    for _ in 0..3 {
        let run = app.create_run(json!({ "workflow_name": "capped", "status": "running" })).await;
        let states = format!("/api/workflows/{run}/states");
        let report = app.post(&states, json!({ "node_id": "big", "total_tokens": 50 }));
        let (status, _) = app.amid_a_flood(&chatty, report).await;
        assert_eq!(status, StatusCode::CREATED);
        over.push(run);
    }
    for run in &over {
        app.run_when(run, "the budget cancels it", |d| d.run.status == RunStatus::Cancelled).await;
    }
}

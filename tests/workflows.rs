use reqwest::StatusCode;
use serde_json::json;
use shared::{RunDetail, RunPage, RunStatus, WorkflowRun};

use crate::helpers::TestApp;

crate::on_both_databases!(
    runner_reports_a_run_from_start_to_finish,
    logs_page_with_an_after_cursor,
    filters_narrow_the_list,
    text_search_is_case_insensitive_and_literal,
    text_search_finds_rare_runs_among_many,
    time_range_filters,
    keyset_pages_are_complete_and_stable_under_inserts,
    sorting_by_cost_pages_in_order,
    cancel_conflicts_and_finality,
    restart_conflicts_and_lineage,
    failing_needs_an_error_message,
    runner_chosen_ids_are_kept_and_unique,
    mlflow_ids_reported_by_the_runner_are_kept,
);

fn config() -> serde_json::Value {
    json!({ "flow": { "name": "article_writer" }, "nodes": [{ "id": "research" }, { "id": "write" }] })
}

async fn runner_reports_a_run_from_start_to_finish(app: TestApp) {
    let id = app
        .create_run(
            json!({ "workflow_name": "article_writer", "inputs": { "topic": "rust" }, "config_snapshot": config() }),
        )
        .await;
    let detail: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(detail.run.status, RunStatus::Pending);
    assert_eq!(detail.inputs, Some(json!({ "topic": "rust" })));

    let (status, _) = app.post_empty(&format!("/api/workflows/{id}/start")).await;
    assert_eq!(status, StatusCode::OK);
    for (node, tokens, cost) in [("research", 120, 0.01), ("write", 300, 0.02)] {
        let state = json!({ "node_id": node, "status": "completed", "duration_seconds": 1.5, "input_tokens": tokens - 20,
            "output_tokens": 20, "total_tokens": tokens, "model": "gpt-4o-mini", "cost_usd": cost, "outputs": { "notes": "n" } });
        let (status, body) = app.post(&format!("/api/workflows/{id}/states"), state).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let running: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(running.run.status, RunStatus::Running);
    assert_eq!(running.run.total_tokens, Some(420), "totals accumulate while running");
    assert_eq!(running.states.iter().map(|s| s.node_id.as_str()).collect::<Vec<_>>(), ["research", "write"]);
    assert_eq!(running.states[0].state_data.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(running.states[1].state_data.outputs, Some(json!({ "notes": "n" })));

    let (status, done) =
        app.post(&format!("/api/workflows/{id}/complete"), json!({ "outputs": { "article": "done" } })).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let done: WorkflowRun = serde_json::from_value(done).unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert!(done.completed_at.is_some() && done.duration_seconds.is_some());
    assert!((done.total_cost_usd.unwrap() - 0.03).abs() < 1e-9);
    let detail: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(detail.outputs, Some(json!({ "article": "done" })));
    assert_eq!(detail.config_snapshot, Some(config()));
}

async fn logs_page_with_an_after_cursor(app: TestApp) {
    let id = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
    let lines: Vec<_> =
        (0..7).map(|i| json!({ "message": format!("line {i}"), "level": "info", "node_id": "n" })).collect();
    let (status, stored) = app.post(&format!("/api/workflows/{id}/logs"), json!({ "lines": lines })).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let (status, _) =
        app.post(&format!("/api/workflows/{id}/logs"), json!({ "message": "single", "level": "error" })).await;
    assert_eq!(status, StatusCode::CREATED);

    let first: shared::LogPage = app.fetch(&format!("/api/workflows/{id}/logs?limit=5")).await;
    assert_eq!(first.lines.len(), 5);
    let after = first.next_after.expect("a full page has a next cursor");
    let rest: shared::LogPage = app.fetch(&format!("/api/workflows/{id}/logs?after={after}&limit=5")).await;
    let messages: Vec<_> = first.lines.iter().chain(&rest.lines).map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "single"]);
    assert_eq!(rest.lines.last().unwrap().level, shared::LogLevel::Error);
    assert_eq!(rest.next_after, None);
    let (status, _) = app.get("/api/workflows/00000000-0000-4000-8000-000000000000/logs").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn list(app: &TestApp, query: &str) -> Vec<WorkflowRun> {
    app.fetch::<RunPage>(&format!("/api/workflows?{query}")).await.runs
}

fn names(runs: &[WorkflowRun]) -> Vec<&str> {
    runs.iter().map(|r| r.workflow_name.as_str()).collect()
}

async fn filters_narrow_the_list(app: TestApp) {
    let a = app.create_run(json!({ "workflow_name": "alpha" })).await;
    let b = app.create_run(json!({ "workflow_name": "beta", "status": "running" })).await;
    app.create_run(json!({ "workflow_name": "alpha", "status": "running" })).await;
    app.posted(&format!("/api/workflows/{b}/fail"), json!({ "error_message": "boom" })).await;
    app.posted_empty(&format!("/api/workflows/{a}/cancel")).await;

    assert_eq!(names(&list(&app, "").await), ["alpha", "beta", "alpha"]);
    assert_eq!(names(&list(&app, "status=failed").await), ["beta"]);
    assert_eq!(list(&app, "status=running,cancelled").await.len(), 2);
    assert_eq!(list(&app, "workflow=alpha").await.len(), 2);
    assert_eq!(list(&app, "workflow=alpha&status=cancelled").await[0].id, a);
    assert!(list(&app, "workflow=gamma").await.is_empty());
    assert_eq!(list(&app, "status=&workflow=").await.len(), 3, "empty form fields mean no filter");
}

async fn text_search_is_case_insensitive_and_literal(app: TestApp) {
    let id = app.create_run(json!({ "workflow_name": "Article_Writer" })).await;
    app.create_run(json!({ "workflow_name": "support 100%" })).await;
    app.create_run(json!({ "workflow_name": "articleXwriter" })).await;
    assert_eq!(names(&list(&app, "q=article_w").await), ["Article_Writer"], "`_` is literal, case ignored");
    assert_eq!(names(&list(&app, "q=100%25").await), ["support 100%"]);
    assert_eq!(list(&app, &format!("q={}", &id[..8])).await[0].id, id, "ids are searched too");
}

/// Runs another writer made: 1,500 of them, a minute apart, every 500th a "Needle".
fn many_runs(sqlite: bool) -> String {
    let (numbers, id, started) = match sqlite {
        true => (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) SELECT i FROM n",
            "printf('run-%05d', i)",
            "datetime('2026-01-01', '+' || i || ' minutes')",
        ),
        false => (
            "SELECT i FROM generate_series(1, 1500) AS i",
            "'run-' || lpad(i::text, 5, '0')",
            "TIMESTAMP '2026-01-01' + i * INTERVAL '1 minute'",
        ),
    };
    format!(
        "INSERT INTO workflow_runs (id, workflow_name, status, started_at) \
         SELECT {id}, CASE WHEN i % 500 = 0 THEN 'Needle Finder' ELSE 'haystack' END, 'completed', {started} \
         FROM ({numbers}) AS numbers"
    )
}

/// Matches far below the newest runs are found (through the search index), pages
/// stay complete, and renamed or deleted runs are found as they are now.
async fn text_search_finds_rare_runs_among_many(app: TestApp) {
    let sqlite = app.db.url().starts_with("sqlite:");
    app.db.execute_as_another_writer(&many_runs(sqlite)).await;
    let ids = |runs: Vec<WorkflowRun>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(list(&app, "q=needle").await), ["run-01500", "run-01000", "run-00500"]);
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: RunPage = app.fetch(&format!("/api/workflows?q=NEEDLE&limit=1{cursor}")).await;
        paged.extend(ids(page.runs));
        match page.next_cursor {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(paged, ["run-01500", "run-01000", "run-00500"], "one run a page");
    let found = ids(list(&app, "q=run-0004").await);
    assert_eq!(found, (40..50).rev().map(|i| format!("run-{i:05}")).collect::<Vec<_>>(), "ids, far down");
    assert_eq!(ids(list(&app, "q=needle&status=failed").await), Vec::<String>::new());
    assert_eq!(list(&app, "q=ha").await.len(), 50, "two characters: a page of the newest");
    // A common term: a page straight from the newest runs, either way round.
    assert_eq!(
        ids(list(&app, "q=haystack&limit=5").await),
        ["run-01499", "run-01498", "run-01497", "run-01496", "run-01495"]
    );
    assert_eq!(ids(list(&app, "q=haystack&sort=started_at&limit=3").await), ["run-00001", "run-00002", "run-00003"]);

    app.db
        .execute_as_another_writer(
            "UPDATE workflow_runs SET workflow_name = 'plain' WHERE id = 'run-01000'; \
             DELETE FROM workflow_runs WHERE id = 'run-00500'",
        )
        .await;
    assert_eq!(ids(list(&app, "q=needle").await), ["run-01500"]);
    assert_eq!(ids(list(&app, "q=plain").await), ["run-01000"]);
}

async fn time_range_filters(app: TestApp) {
    app.create_run(json!({ "workflow_name": "now" })).await;
    assert_eq!(list(&app, "range=today").await.len(), 1);
    assert_eq!(list(&app, "range=week").await.len(), 1);
    assert_eq!(list(&app, "range=all").await.len(), 1);
    assert!(list(&app, "since=2099-01-01T00:00:00Z").await.is_empty());
    assert_eq!(list(&app, "since=2000-01-01T00:00:00Z&until=2099-01-01T00:00:00Z").await.len(), 1);
    assert!(list(&app, "until=2000-01-01T00:00:00Z").await.is_empty());
}

async fn keyset_pages_are_complete_and_stable_under_inserts(app: TestApp) {
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_run(json!({ "workflow_name": format!("run{i}") })).await);
    }
    let first: RunPage = app.fetch("/api/workflows?limit=3").await;
    // New runs arriving between pages must not shift what the next pages show.
    app.create_run(json!({ "workflow_name": "late" })).await;
    let mut seen: Vec<String> = first.runs.iter().map(|r| r.id.clone()).collect();
    let mut cursor = first.next_cursor;
    while let Some(next) = cursor {
        let page: RunPage = app.fetch(&format!("/api/workflows?limit=3&cursor={next}")).await;
        seen.extend(page.runs.iter().map(|r| r.id.clone()));
        cursor = page.next_cursor;
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each run exactly once");
}

async fn sorting_by_cost_pages_in_order(app: TestApp) {
    for cost in [0.5, 0.1, 0.9, 0.3] {
        let id = app.create_run(json!({ "workflow_name": format!("cost {cost}"), "status": "running" })).await;
        app.posted(&format!("/api/workflows/{id}/complete"), json!({ "total_cost_usd": cost })).await;
    }
    app.create_run(json!({ "workflow_name": "no cost yet" })).await;
    let mut costs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page: RunPage = app.fetch(&format!("/api/workflows?sort=-total_cost_usd&limit=2{query}")).await;
        costs.extend(page.runs.iter().map(|r| r.total_cost_usd));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(costs, [Some(0.9), Some(0.5), Some(0.3), Some(0.1), None]);
    let ascending = list(&app, "sort=total_cost_usd").await;
    assert_eq!(ascending.first().unwrap().total_cost_usd, None, "runs without a cost sort lowest");
    let (status, _) = app.get("/api/workflows?sort=-total_cost_usd&cursor=bm9wZQ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn cancel_conflicts_and_finality(app: TestApp) {
    let (status, body) = app.post_empty("/api/workflows/00000000-0000-4000-8000-000000000000/cancel").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    let id = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
    let (status, cancelled) = app.post_empty(&format!("/api/workflows/{id}/cancel")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["completed_at"].is_string());

    let (status, body) = app.post_empty(&format!("/api/workflows/{id}/cancel")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A runner that keeps reporting is told to stop, and nothing flips the run back.
    for (path, body) in [
        ("states", json!({ "node_id": "n", "status": "completed" })),
        ("logs", json!({ "message": "still going" })),
        ("complete", json!({})),
        ("fail", json!({ "error_message": "x" })),
    ] {
        let (status, _) = app.post(&format!("/api/workflows/{id}/{path}"), body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}");
    }
    let (status, _) = app.post_empty(&format!("/api/workflows/{id}/start")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let detail: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(detail.run.status, RunStatus::Cancelled);
    assert!(detail.states.is_empty());
    assert_eq!(detail.logs.lines.len(), 1, "the cancellation itself is logged");

    let done = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
    app.posted(&format!("/api/workflows/{done}/complete"), json!({})).await;
    let (status, _) = app.post_empty(&format!("/api/workflows/{done}/cancel")).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn restart_conflicts_and_lineage(app: TestApp) {
    let (status, _) = app.post_empty("/api/workflows/00000000-0000-4000-8000-000000000000/restart").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let id = app
        .create_run(json!({ "workflow_name": "article_writer", "status": "running", "inputs": { "topic": "x" }, "config_snapshot": config() }))
        .await;
    let (status, body) = app.post_empty(&format!("/api/workflows/{id}/restart")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Restarting executes: without an alive agent for the workflow it is a conflict
    // (tests/dispatch.rs restarts on real agents).
    app.posted(&format!("/api/workflows/{id}/fail"), json!({ "error_message": "LLM timeout" })).await;
    let (status, body) = app.post_empty(&format!("/api/workflows/{id}/restart")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let old: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert!(old.restarted_into.is_empty());
}

async fn failing_needs_an_error_message(app: TestApp) {
    let id = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
    let (status, _) = app.post(&format!("/api/workflows/{id}/fail"), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, failed) = app
        .post(
            &format!("/api/workflows/{id}/fail"),
            json!({ "error_message": "node write failed", "duration_seconds": 2.5 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (failed["status"].as_str(), failed["error_message"].as_str()),
        (Some("failed"), Some("node write failed"))
    );
    assert_eq!(failed["duration_seconds"], 2.5);
}

async fn runner_chosen_ids_are_kept_and_unique(app: TestApp) {
    let chosen = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";
    let id = app.create_run(json!({ "id": chosen, "workflow_name": "w" })).await;
    assert_eq!(id, chosen.to_lowercase());
    let (status, _) = app.post("/api/workflows", json!({ "id": chosen, "workflow_name": "w" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let detail: RunDetail = app.fetch(&format!("/api/workflows/{chosen}")).await;
    assert_eq!(detail.run.id, id);
}

async fn mlflow_ids_reported_by_the_runner_are_kept(app: TestApp) {
    let id =
        app.create_run(json!({ "workflow_name": "w", "status": "running", "mlflow": { "experiment_id": "7" } })).await;
    let (status, _) =
        app.post(&format!("/api/workflows/{id}/complete"), json!({ "mlflow": { "run_id": "../../evil" } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "ids end up in links");
    app.posted(&format!("/api/workflows/{id}/complete"), json!({ "mlflow": { "run_id": "a1b2c3" } })).await;
    let detail: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(detail.mlflow, shared::MlflowIds { experiment_id: Some("7".into()), run_id: Some("a1b2c3".into()) });
}

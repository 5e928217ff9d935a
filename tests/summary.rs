use serde_json::json;
use shared::{Health, Summary};

use crate::helpers::TestApp;

crate::on_both_databases!(summary_totals_cover_every_run, health_reports_agents_and_database);

async fn summary_totals_cover_every_run(app: TestApp) {
    let empty: Summary = app.fetch("/api/summary").await;
    assert_eq!(empty, Summary::default());
    for (cost, tokens) in [(0.25, 100), (0.5, 200)] {
        let id = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
        app.post(&format!("/api/workflows/{id}/complete"), json!({ "total_cost_usd": cost, "total_tokens": tokens }))
            .await;
    }
    let failed = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
    app.posted(
        &format!("/api/workflows/{failed}/states"),
        json!({ "node_id": "n", "cost_usd": 0.125, "total_tokens": 50 }),
    )
    .await;
    app.posted(&format!("/api/workflows/{failed}/fail"), json!({ "error_message": "x" })).await;
    app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
    app.create_run(json!({ "workflow_name": "w" })).await;
    app.post("/api/agents/register", json!({ "agent_id": "a", "agent_name": "A", "host": "127.0.0.1", "port": 1 }))
        .await;

    let summary: Summary = app.fetch("/api/summary").await;
    assert_eq!(
        summary,
        Summary {
            total_workflows: 5,
            pending: 1,
            running: 1,
            completed: 2,
            failed: 1,
            cancelled: 0,
            total_cost_usd: 0.875,
            total_tokens: 350,
            registered_agents: 1,
            alive_agents: 1,
        }
    );
}

async fn health_reports_agents_and_database(app: TestApp) {
    app.post("/api/agents/register", json!({ "agent_id": "a", "agent_name": "A", "host": "127.0.0.1", "port": 1 }))
        .await;
    let health: Health = app.fetch("/api/health").await;
    assert_eq!((health.status.as_str(), health.registered_agents, health.active_agents), ("healthy", 1, 1));
    let expected = match app.backend {
        crate::helpers::Backend::Sqlite => "sqlite",
        crate::helpers::Backend::Postgres => "postgres",
    };
    assert_eq!(health.database, expected);
}

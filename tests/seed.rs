//! `configurable-agents seed` writes realistic data the API then serves, on both databases.

use server::config::{DatabaseArgs, SeedArgs};
use shared::{AgentInfo, RunDetail, RunPage, Summary};

use crate::helpers::{config, Backend, TestApp, TestDb};

crate::on_both_databases!(backend: seeded_data_is_served_like_any_other);

async fn seeded_data_is_served_like_any_other(backend: Backend) {
    let db = TestDb::create(backend).await;
    let url = db.url();
    let args = SeedArgs {
        database: DatabaseArgs { database_url: url.clone() },
        runs: 120,
        agents: 4,
        logs_per_run: 3,
        days: 2,
        random_seed: 3,
    };
    server::seed::run(args).await.expect("seed");
    let app = TestApp::start(db, config(url)).await;

    let summary: Summary = app.fetch("/api/summary").await;
    assert_eq!((summary.total_workflows, summary.registered_agents), (120, 4));
    assert_eq!(summary.completed + summary.failed + summary.cancelled + summary.running + summary.pending, 120);
    assert!(summary.total_tokens > 0 && summary.total_cost_usd > 0.0);
    let agents: Vec<AgentInfo> = app.fetch("/api/agents?include_dead=true").await;
    assert_eq!(agents.iter().filter(|a| a.is_alive).count(), 2, "half the agents are alive");
    assert!(agents.iter().all(|a| !a.capabilities.is_empty()));

    let page: RunPage = app.fetch("/api/workflows?status=completed&limit=1").await;
    let detail: RunDetail = app.fetch(&format!("/api/workflows/{}", page.runs[0].id)).await;
    assert!(!detail.states.is_empty() && detail.states.iter().all(|s| s.state_data.model.is_some()));
    assert_eq!(detail.logs.lines.len(), 3);
    assert!(detail.config_snapshot.is_some() && detail.inputs.is_some());
}

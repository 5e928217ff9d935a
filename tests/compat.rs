//! A SQLite file written by the original Python system (SQLAlchemy's DDL and value
//! formats, no migration table) opens as it is, shows its data, and stays usable by
//! the original code afterwards.

use serde_json::json;
use shared::{AgentInfo, RunDetail, RunPage, RunStatus};
use sqlx::{Connection, SqliteConnection};

use crate::helpers::{config, TestApp, TestDb};
use crate::test_agents::{Answer, OriginalAgent};
use std::time::Duration;

/// The tables as SQLAlchemy creates them for the original models.
const ORIGINAL_SCHEMA: &str = r#"
CREATE TABLE workflow_runs (
	id VARCHAR(36) NOT NULL,
	workflow_name VARCHAR(256) NOT NULL,
	status VARCHAR(32) NOT NULL,
	config_snapshot TEXT,
	inputs TEXT,
	outputs TEXT,
	error_message TEXT,
	started_at DATETIME NOT NULL,
	completed_at DATETIME,
	duration_seconds FLOAT,
	total_tokens INTEGER,
	total_cost_usd FLOAT,
	bottleneck_info TEXT,
	PRIMARY KEY (id)
);
CREATE TABLE execution_states (
	id INTEGER NOT NULL,
	run_id VARCHAR(36) NOT NULL,
	node_id VARCHAR(128) NOT NULL,
	state_data TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES workflow_runs (id)
);
CREATE TABLE agents (
	agent_id VARCHAR(255) NOT NULL,
	agent_name VARCHAR(256) NOT NULL,
	host VARCHAR(256) NOT NULL,
	port INTEGER NOT NULL,
	last_heartbeat DATETIME NOT NULL,
	ttl_seconds INTEGER NOT NULL,
	agent_metadata VARCHAR(4000),
	registered_at DATETIME NOT NULL,
	PRIMARY KEY (agent_id)
);
CREATE INDEX ix_agents_last_heartbeat ON agents (last_heartbeat);
"#;

const RUN: &str = "6f1c2b1e-8d4a-4b7e-9a43-2f0c5d6e7a81";
const OLDER_RUN: &str = "0a9b8c7d-6e5f-4a3b-8c1d-0e9f8a7b6c5d";

async fn write_original_database(url: &str) {
    let mut db = SqliteConnection::connect(&format!("{url}?mode=rwc")).await.unwrap();
    sqlx::raw_sql(ORIGINAL_SCHEMA).execute(&mut db).await.unwrap();
    let now = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    sqlx::raw_sql(&format!(
        r#"
        INSERT INTO workflow_runs VALUES ('{RUN}', 'article_writer', 'completed',
            '{{"schema_version": "1.0", "flow": {{"name": "article_writer"}}}}', '{{"topic": "AI"}}',
            '{{"article": "text", "score": 0.9}}', NULL, '2026-02-03 12:34:56.123456', '2026-02-03 12:35:10.654321',
            14.530865, 1234, 0.00321, NULL);
        INSERT INTO workflow_runs VALUES ('{OLDER_RUN}', 'article_writer', 'failed', NULL, '{{"topic": "B"}}', NULL,
            'Node write failed: timeout', '2026-02-01 08:00:00.000000', '2026-02-01 08:00:05.000000', 5.0, NULL, NULL, NULL);
        INSERT INTO execution_states (run_id, node_id, state_data, created_at) VALUES
            ('{RUN}', 'research', '{{"node_id": "research", "duration_seconds": 6.1, "input_tokens": 400, "output_tokens": 200, "total_tokens": 600, "model": "gpt-4o-mini", "status": "completed", "cost_usd": 0.0012, "outputs": {{"notes": "facts"}}}}', '2026-02-03 12:35:02.000001'),
            ('{RUN}', 'write', '{{"node_id": "write", "duration_seconds": 8.4, "status": "completed", "total_tokens": 634, "cost_usd": 0.002}}', '2026-02-03 12:35:10.500000'),
            ('{OLDER_RUN}', 'write', '{{"node_id": "write", "duration_seconds": 5.0, "status": "failed", "error": "timeout"}}', '2026-02-01 08:00:05.000000');
        INSERT INTO agents VALUES ('agent-1', 'Writer', 'localhost', 8001, '{now}', 60,
            '{{"nodes": ["research", "write"], "version": "1.0"}}', '2026-02-01 00:00:00.000000');
        "#
    ))
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_a_database_written_by_the_original() {
    let db = TestDb::create(crate::helpers::Backend::Sqlite).await;
    let url = db.url();
    write_original_database(&url).await;
    let mut app = TestApp::start(db, config(url.clone())).await;

    let page: RunPage = app.fetch("/api/workflows").await;
    assert_eq!(page.runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [RUN, OLDER_RUN]);
    let run = &page.runs[0];
    assert_eq!((run.status, run.total_tokens, run.total_cost_usd), (RunStatus::Completed, Some(1234), Some(0.00321)));
    assert_eq!(run.started_at.to_rfc3339(), "2026-02-03T12:34:56.123456+00:00");

    let detail: RunDetail = app.fetch(&format!("/api/workflows/{RUN}")).await;
    assert_eq!(detail.inputs, Some(json!({ "topic": "AI" })));
    assert_eq!(detail.outputs, Some(json!({ "article": "text", "score": 0.9 })));
    assert_eq!(detail.states.len(), 2);
    assert_eq!(detail.states[0].state_data.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(detail.states[0].state_data.outputs, Some(json!({ "notes": "facts" })));
    let failed: RunDetail = app.fetch(&format!("/api/workflows/{OLDER_RUN}")).await;
    assert_eq!(failed.states[0].state_data.error.as_deref(), Some("timeout"));
    assert_eq!(failed.run.error_message.as_deref(), Some("Node write failed: timeout"));

    let agents: Vec<AgentInfo> = app.fetch("/api/agents").await;
    assert_eq!(agents.len(), 1);
    assert!(agents[0].is_alive);
    assert_eq!(agents[0].capabilities, ["research", "write"]);

    let summary: shared::Summary = app.fetch("/api/summary").await;
    assert_eq!((summary.total_workflows, summary.completed, summary.failed), (2, 1, 1));
    let page: RunPage = app.fetch("/api/workflows?since=2026-02-02T00:00:00Z").await;
    assert_eq!(page.runs.len(), 1, "SQLAlchemy's datetime text compares as time");

    // Restart the original run on an agent of the original kind: the new row is one the
    // original reads too.
    let _agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::ZERO)).await;
    let (status, restarted) = app.post_empty(&format!("/api/workflows/{RUN}/restart")).await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    let restarted_id = restarted["id"].as_str().unwrap();
    let done =
        app.run_when(restarted_id, "the restarted run completes", |d| d.run.status == RunStatus::Completed).await;
    assert_eq!(done.inputs, Some(json!({ "topic": "AI" })));
    app.shutdown().await;

    // The original code keeps working: its inserts (without the new columns) and reads succeed.
    let mut original = SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO workflow_runs (id, workflow_name, status, started_at) VALUES ('11111111-1111-4111-8111-111111111111', 'py', 'running', '2026-03-01 10:00:00.000000')")
        .execute(&mut original)
        .await
        .unwrap();
    sqlx::query("INSERT INTO agents (agent_id, agent_name, host, port, last_heartbeat, ttl_seconds, registered_at) VALUES ('py-agent', 'p', 'h', 1, '2026-03-01 10:00:00.000000', 60, '2026-03-01 10:00:00.000000')")
        .execute(&mut original)
        .await
        .unwrap();
    let (started_at,): (String,) = sqlx::query_as("SELECT started_at FROM workflow_runs WHERE id = ?")
        .bind(restarted_id)
        .fetch_one(&mut original)
        .await
        .unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(&started_at, "%Y-%m-%d %H:%M:%S%.6f").is_ok(),
        "written in SQLAlchemy's format: {started_at}"
    );
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM workflow_runs").fetch_one(&mut original).await.unwrap();
    assert_eq!(count, 4);
    sqlx::query("UPDATE workflow_runs SET status = 'completed', total_cost_usd = 1.5 WHERE id = '11111111-1111-4111-8111-111111111111'")
        .execute(&mut original)
        .await
        .unwrap();
    original.close().await.unwrap();

    // Totals include what the original wrote while the dashboard was down.
    let app = app.restart().await;
    let summary: shared::Summary = app.fetch("/api/summary").await;
    assert_eq!((summary.total_workflows, summary.completed, summary.pending, summary.running), (4, 3, 0, 0));
    assert!((summary.total_cost_usd - (0.00321 + 1.5)).abs() < 1e-9, "{}", summary.total_cost_usd);
}

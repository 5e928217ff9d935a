//! Runs written by others show up live: the original runtime and registry write the
//! database directly (plain SQL here, in their layout and value formats, from a
//! connection of its own), and open event streams get the same events the dashboard's
//! own writes produce, once each, in order, resumable with `Last-Event-ID`.

use serde_json::{json, Value};
use std::time::Duration;

use crate::helpers::{SseMessage, TestApp};

crate::on_both_databases!(other_writers_changes_reach_open_streams, own_writes_are_announced_once);

const RUN: &str = "7d3f5a2c-1b4e-4c8a-9f6d-2e8b7a1c0d3f";

/// The original runtime's writes for one run, and the registry's for one agent.
fn original_writes(now: &str) -> Vec<String> {
    vec![
        format!(
            "INSERT INTO workflow_runs (id, workflow_name, status, config_snapshot, inputs, started_at) \
             VALUES ('{RUN}', 'article_writer', 'running', '{{\"flow\": {{\"name\": \"article_writer\"}}}}', \
             '{{\"topic\": \"AI\"}}', '{now}')"
        ),
        format!(
            "INSERT INTO execution_states (run_id, node_id, state_data, created_at) VALUES ('{RUN}', 'research', \
             '{{\"node_id\": \"research\", \"duration_seconds\": 6.1, \"input_tokens\": 400, \"output_tokens\": 200, \
             \"total_tokens\": 600, \"model\": \"gpt-4o-mini\", \"status\": \"completed\", \"cost_usd\": 0.0012, \
             \"outputs\": {{\"notes\": \"facts\"}}}}', '{now}')"
        ),
        format!(
            "UPDATE workflow_runs SET status = 'completed', completed_at = '{now}', duration_seconds = 14.5, \
             total_tokens = 600, total_cost_usd = 0.0012, outputs = '{{\"article\": \"text\"}}' WHERE id = '{RUN}'"
        ),
        format!(
            "INSERT INTO agents (agent_id, agent_name, host, port, last_heartbeat, ttl_seconds, agent_metadata, \
             registered_at) VALUES ('py-agent', 'Writer', 'localhost', 8001, '{now}', 60, \
             '{{\"capabilities\": [\"article_writer\"]}}', '{now}')"
        ),
        format!("UPDATE agents SET last_heartbeat = '{now}' WHERE agent_id = 'py-agent'"),
    ]
}

/// The events of interest, skipping summaries and comments, until `count` are seen.
async fn collect(stream: &mut crate::helpers::EventStream, count: usize) -> Vec<SseMessage> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let message = stream.expect(&["workflow_update", "node_state", "agent_update"]).await;
        seen.push(message);
    }
    seen
}

fn shape(message: &SseMessage) -> (String, Value) {
    let detail = match message.event.as_str() {
        "workflow_update" => json!([message.data["id"], message.data["status"]]),
        "node_state" => {
            json!([message.data["run_id"], message.data["node_id"], message.data["state_data"]["total_tokens"]])
        }
        _ => json!([message.data["change"], message.data["agent"]["agent_id"], message.data["agent"]["capabilities"]]),
    };
    (message.event.clone(), detail)
}

async fn other_writers_changes_reach_open_streams(app: TestApp) {
    let mut stream = app.events("/api/events?topics=workflows,agents", None).await;
    let ready = stream.expect(&["ready"]).await;
    let now = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let writes = original_writes(&now);
    for write in &writes {
        app.db.execute_as_another_writer(write).await;
    }
    let seen = collect(&mut stream, writes.len()).await;
    let expected = vec![
        ("workflow_update".to_owned(), json!([RUN, "running"])),
        ("node_state".to_owned(), json!([RUN, "research", 600])),
        ("workflow_update".to_owned(), json!([RUN, "completed"])),
        ("agent_update".to_owned(), json!(["registered", "py-agent", ["article_writer"]])),
        ("agent_update".to_owned(), json!(["heartbeat", "py-agent", ["article_writer"]])),
    ];
    assert_eq!(seen.iter().map(shape).collect::<Vec<_>>(), expected);
    let ids: Vec<i64> = seen.iter().map(|m| m.id.expect("persisted, with an id")).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "in order: {ids:?}");
    assert_eq!(seen[2].data["total_tokens"], 600);
    assert_eq!(seen[2].data["started_at"], format!("{}Z", now.replace(' ', "T")));
    assert!(
        stream.drain(Duration::from_millis(700)).await.iter().all(|m| m.event == "summary" || m.event == ":comment"),
        "once each"
    );
    let summary: Value = app.fetch("/api/summary").await;
    assert_eq!((summary["completed"].as_i64(), summary["alive_agents"].as_i64()), (Some(1), Some(1)));

    // A client that saw the first event resumes after it, across a restart.
    let app = app.restart().await;
    let mut resumed = app.events("/api/events?topics=workflows,agents", Some(ids[0])).await;
    let replayed = collect(&mut resumed, writes.len() - 1).await;
    assert_eq!(replayed.iter().map(shape).collect::<Vec<_>>(), expected[1..]);
    assert_eq!(replayed.iter().map(|m| m.id.unwrap()).collect::<Vec<_>>(), ids[1..]);
    assert!(ready.id.unwrap() < ids[0]);
    // A run the runtime marks running and never finishes stays running.
    let stuck = "11111111-2222-4333-8444-555555555555";
    app.db
        .execute_as_another_writer(&format!(
            "INSERT INTO workflow_runs (id, workflow_name, status, started_at) VALUES ('{stuck}', 'w', 'running', '{now}')"
        ))
        .await;
    let message = resumed.expect(&["workflow_update"]).await;
    assert_eq!((message.data["id"].as_str(), message.data["status"].as_str()), (Some(stuck), Some("running")));
}

async fn own_writes_are_announced_once(app: TestApp) {
    let mut stream = app.events("/api/events?topics=workflows,agents", None).await;
    stream.expect(&["ready"]).await;
    let run = app.create_run(json!({"workflow_name": "ours", "status": "running"})).await;
    app.posted(&format!("/api/workflows/{run}/states"), json!({"node_id": "n", "total_tokens": 5})).await;
    app.post("/api/agents/register", json!({"agent_id": "ours", "agent_name": "o", "host": "127.0.0.1", "port": 9}))
        .await;
    let messages: Vec<SseMessage> = stream
        .drain(Duration::from_millis(700))
        .await
        .into_iter()
        .filter(|m| ["workflow_update", "node_state", "agent_update"].contains(&m.event.as_str()))
        .collect();
    let kinds: Vec<&str> = messages.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(kinds, ["workflow_update", "node_state", "workflow_update", "agent_update"], "{messages:?}");
}

use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::AgentInfo;
use std::time::Duration;

use crate::helpers::{eventually, Backend, TestApp};

crate::on_both_databases!(
    registry_protocol_round_trip,
    reregistering_keeps_registered_at,
    registration_is_validated_and_changes_nothing_when_refused,
    capabilities_come_from_metadata,
    docs_redirects_to_the_agent,
    unknown_agents_are_404,
);

fn agent(id: &str, ttl: i64) -> Value {
    json!({ "agent_id": id, "agent_name": format!("{id} name"), "host": "127.0.0.1", "port": 9100, "ttl_seconds": ttl,
            "metadata": "{\"capabilities\": [\"article_writer\"]}" })
}

async fn registry_protocol_round_trip(app: TestApp) {
    let (status, info) = app.post("/api/agents/register", agent("writer-1", 60)).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    for field in [
        "agent_id",
        "agent_name",
        "host",
        "port",
        "is_alive",
        "last_heartbeat",
        "registered_at",
        "ttl_seconds",
        "metadata",
    ] {
        assert!(info.get(field).is_some(), "AgentInfo has the original field {field}");
    }
    assert_eq!(info["is_alive"], true);
    assert_eq!(info["metadata"], "{\"capabilities\": [\"article_writer\"]}");

    let (status, ack) = app.post_empty("/api/agents/writer-1/heartbeat").await;
    assert_eq!((status, ack["status"].as_str()), (StatusCode::OK, Some("ok")));
    let fetched: AgentInfo = app.fetch("/api/agents/writer-1").await;
    assert_eq!(
        fetched.last_heartbeat.to_rfc3339(),
        chrono::DateTime::parse_from_rfc3339(ack["last_heartbeat"].as_str().unwrap()).unwrap().to_rfc3339()
    );

    let listed: Vec<AgentInfo> = app.fetch("/api/agents").await;
    assert_eq!(listed.len(), 1);
    let (status, deleted) = app.request(reqwest::Method::DELETE, "/api/agents/writer-1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted, json!({ "status": "deleted", "agent_id": "writer-1" }));
    let listed: Vec<AgentInfo> = app.fetch("/api/agents?include_dead=true").await;
    assert!(listed.is_empty());
}

async fn reregistering_keeps_registered_at(app: TestApp) {
    let (_, first) = app.post("/api/agents/register", agent("a", 60)).await;
    let first_at: chrono::DateTime<chrono::Utc> = serde_json::from_value(first["last_heartbeat"].clone()).unwrap();
    eventually("the clock passes the first registration", || async { chrono::Utc::now() > first_at }).await;
    let mut changed = agent("a", 120);
    changed["port"] = json!(9200);
    changed["agent_name"] = json!("renamed");
    let (status, second) = app.post("/api/agents/register", changed).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["registered_at"], first["registered_at"]);
    assert_ne!(second["last_heartbeat"], first["last_heartbeat"]);
    assert_eq!((second["port"].as_i64(), second["ttl_seconds"].as_i64()), (Some(9200), Some(120)));
    assert_eq!(second["agent_name"], "renamed");
}

async fn registration_is_validated_and_changes_nothing_when_refused(app: TestApp) {
    let cases = [
        ("port", json!(0)),
        ("port", json!(65536)),
        ("port", json!(-1)),
        ("ttl_seconds", json!(0)),
        ("ttl_seconds", json!(3601)),
        ("metadata", json!(42)),
        ("metadata", json!("x".repeat(4001))),
        ("host", json!("evil.example/\r\nSet-Cookie: a=b")),
        ("host", json!("javascript:alert(1)//")),
        ("agent_id", json!("")),
        ("agent_id", json!("a".repeat(256))),
        ("agent_name", json!("n\u{0}ul")),
    ];
    for (field, value) in cases {
        let mut body = agent("bad", 60);
        body[field] = value.clone();
        let (status, error) = app.post("/api/agents/register", body).await;
        assert!(status.is_client_error(), "{field}={value} gave {status}");
        assert!(error["error"]["message"].is_string(), "{error}");
    }
    let (status, _) = app.post("/api/agents/register", json!({ "agent_id": "x", "port": "80" })).await;
    assert!(status.is_client_error());
    let listed: Vec<AgentInfo> = app.fetch("/api/agents?include_dead=true").await;
    assert!(listed.is_empty());
    let (status, _) = app.post("/api/agents/register", agent("ok", 3600)).await;
    assert_eq!(status, StatusCode::OK, "the limits themselves are allowed");
}

async fn capabilities_come_from_metadata(app: TestApp) {
    let mut as_object = agent("object", 60);
    as_object["metadata"] = json!({ "nodes": ["research", "write"], "version": "1" });
    let (_, info) = app.post("/api/agents/register", as_object).await;
    assert_eq!(info["capabilities"], json!(["research", "write"]));
    assert!(info["metadata"].as_str().unwrap().contains("\"nodes\""), "stored as a JSON string like the original");

    let (_, info) = app.post("/api/agents/register", agent("string", 60)).await;
    assert_eq!(info["capabilities"], json!(["article_writer"]));

    let mut none = agent("none", 60);
    none["metadata"] = Value::Null;
    let (_, info) = app.post("/api/agents/register", none).await;
    assert_eq!(info["capabilities"], json!([]));
}

async fn docs_redirects_to_the_agent(app: TestApp) {
    app.posted("/api/agents/register", agent("docs", 60)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client.get(app.url("/api/agents/docs/docs")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], "http://127.0.0.1:9100/docs");
}

async fn unknown_agents_are_404(app: TestApp) {
    for (method, path) in [
        (reqwest::Method::GET, "/api/agents/ghost"),
        (reqwest::Method::POST, "/api/agents/ghost/heartbeat"),
        (reqwest::Method::DELETE, "/api/agents/ghost"),
        (reqwest::Method::GET, "/api/agents/ghost/docs"),
    ] {
        let (status, body) = app.request(method.clone(), path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
}

/// TTL expiry needs its own server settings (a short grace period).
mod expiry {
    use super::*;

    crate::on_both_databases!(
        backend: expires_then_is_removed,
        heartbeat_revives_before_removal,
        heartbeats_are_sent_live_but_not_kept
    );

    async fn expires_then_is_removed(backend: Backend) {
        let app = TestApp::spawn_with(backend, |config| config.agent_grace = Duration::from_secs(1)).await;
        let mut events = app.events("/api/events?topics=agents", None).await;
        events.expect(&["ready"]).await;
        app.posted("/api/agents/register", agent("short", 1)).await;
        let registered = events.expect(&["agent_update"]).await;
        assert_eq!(
            (registered.data["change"].as_str(), registered.data["agent"]["is_alive"].as_bool()),
            (Some("registered"), Some(true))
        );

        // No request arrives from here on: the server notices the expiry by itself.
        let expired = events.expect(&["agent_update"]).await;
        assert_eq!(expired.data["change"], "expired");
        assert_eq!(expired.data["agent"]["is_alive"], false);
        let alive: Vec<AgentInfo> = app.fetch("/api/agents").await;
        assert!(alive.is_empty(), "expired agents are not alive");
        let all: Vec<AgentInfo> = app.fetch("/api/agents?include_dead=true").await;
        assert_eq!((all.len(), all[0].is_alive), (1, false), "kept visible during the grace period");

        let removed = events.expect(&["agent_update"]).await;
        assert_eq!(removed.data["change"], "removed");
        let all: Vec<AgentInfo> = app.fetch("/api/agents?include_dead=true").await;
        assert!(all.is_empty());
    }

    async fn heartbeat_revives_before_removal(backend: Backend) {
        let app = TestApp::spawn_with(backend, |config| config.agent_grace = Duration::from_secs(30)).await;
        let mut events = app.events("/api/events?topics=agents", None).await;
        events.expect(&["ready"]).await;
        app.posted("/api/agents/register", agent("flaky", 1)).await;
        events.expect(&["agent_update"]).await;
        // Waits for the expiry to be announced, so the next change seen is the heartbeat's.
        let expired = events.expect(&["agent_update"]).await;
        assert_eq!(expired.data["change"], "expired");
        app.posted_empty("/api/agents/flaky/heartbeat").await;
        let info: AgentInfo = app.fetch("/api/agents/flaky").await;
        assert!(info.is_alive);
        // Coming back is a change of state: the event log keeps it for clients that resume.
        let revived = events.expect(&["agent_update"]).await;
        assert_eq!(
            (revived.data["change"].as_str(), revived.data["agent"]["is_alive"].as_bool()),
            (Some("revived"), Some(true))
        );
        assert!(revived.id.is_some(), "{revived:?}");
    }

    /// A live agent's heartbeat reaches the clients connected then (on PostgreSQL, on
    /// every replica) and is not kept: a client resuming from before sees the
    /// registration only.
    async fn heartbeats_are_sent_live_but_not_kept(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut streams = vec![app.events("/api/events?topics=agents", None).await];
        let replica = match backend {
            Backend::Postgres => Some(app.replica().await),
            Backend::Sqlite => None,
        };
        if let Some(replica) = &replica {
            streams.push(replica.events("/api/events?topics=agents", None).await);
        }
        let mut before = 0;
        for stream in &mut streams {
            before = stream.expect(&["ready"]).await.data["last_event_id"].as_i64().unwrap();
        }
        app.posted("/api/agents/register", agent("steady", 60)).await;
        for _ in 0..3 {
            app.posted_empty("/api/agents/steady/heartbeat").await;
        }
        for stream in &mut streams {
            let registered = stream.expect(&["agent_update"]).await;
            assert_eq!(registered.data["change"], "registered");
            assert!(registered.id.is_some());
            for _ in 0..3 {
                let beat = stream.expect(&["agent_update"]).await;
                assert_eq!((beat.data["change"].as_str(), beat.id), (Some("heartbeat"), None), "{beat:?}");
                assert_eq!(beat.data["agent"]["is_alive"], true);
            }
        }
        let mut resumed = app.events("/api/events?topics=agents", Some(before)).await;
        let replayed = resumed.resumed(&["agent_update"], 1).await;
        let changes: Vec<_> = replayed.iter().map(|m| m.data["change"].clone()).collect();
        assert_eq!(changes, vec![json!("registered")], "{replayed:?}");
    }
}

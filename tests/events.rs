use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{raw_stream, Backend, SseMessage, TestApp, COMMENT};

crate::on_both_databases!(
    every_write_is_published_at_once,
    resume_replays_exactly_what_was_missed,
    resume_survives_a_server_restart,
    unknown_or_pruned_ids_ask_for_a_resync,
    run_streams_carry_only_that_run,
    seed_metric_streams,
    bad_stream_requests_are_refused,
);
/// Replicas share one PostgreSQL database; each learns of the others' writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_deliver_each_others_writes() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.replica().await;
    let mut on_second = second.events("/api/events", None).await;
    on_second.expect(&["ready"]).await;
    let id = first.create_run(json!({ "workflow_name": "written on the first" })).await;
    let update = on_second.expect(&["workflow_update"]).await;
    assert_eq!(update.data["id"], id.as_str());
    let summary = on_second.expect(&["summary"]).await;
    assert_eq!(summary.data["total_workflows"], 1);

    let mut on_first = first.events("/api/events?topics=agents", None).await;
    on_first.expect(&["ready"]).await;
    second
        .post("/api/agents/register", json!({ "agent_id": "a", "agent_name": "A", "host": "127.0.0.1", "port": 1 }))
        .await;
    assert_eq!(on_first.expect(&["agent_update"]).await.data["agent"]["agent_id"], "a");
}

/// Tests that start their own server with other settings.
mod own_settings {
    use super::*;
    crate::on_both_databases!(
        backend: idle_streams_get_keep_alive_comments,
        shutdown_ends_open_streams,
        a_reconnect_storm_resumes_from_memory_while_pages_read,
    );
}

async fn every_write_is_published_at_once(app: TestApp) {
    let mut events = app.events("/api/events", None).await;
    assert_eq!(events.headers["content-type"], "text/event-stream");
    assert_eq!(events.headers["x-accel-buffering"], "no");
    let ready = events.expect(&["ready"]).await;
    assert_eq!(ready.data["last_event_id"], 0);
    let first_summary = events.expect(&["summary"]).await;
    assert_eq!(first_summary.data["total_workflows"], 0);

    let id = app.create_run(json!({ "workflow_name": "live" })).await;
    let update = events.expect(&["workflow_update"]).await;
    assert_eq!((update.data["id"].as_str(), update.data["status"].as_str()), (Some(id.as_str()), Some("pending")));
    assert!(update.id.is_some(), "persisted events carry an id");
    let summary = events.expect(&["summary"]).await;
    assert_eq!(summary.data["total_workflows"], 1);
    assert_eq!(summary.id, None, "summaries are derived, not resumable");

    app.posted(
        &format!("/api/workflows/{id}/states"),
        json!({ "node_id": "research", "status": "completed", "total_tokens": 10 }),
    )
    .await;
    let state = events.expect(&["node_state"]).await;
    assert_eq!(state.data["state_data"]["node_id"], "research");
    let update = events.expect(&["workflow_update"]).await;
    assert_eq!((update.data["status"].as_str(), update.data["total_tokens"].as_i64()), (Some("running"), Some(10)));

    app.post("/api/agents/register", json!({ "agent_id": "a1", "agent_name": "A", "host": "localhost", "port": 8000 }))
        .await;
    let agent = events.expect(&["agent_update"]).await;
    assert_eq!(agent.data["agent"]["agent_id"], "a1");
    let summary = events.expect(&["summary"]).await;
    assert_eq!(summary.data["alive_agents"], 1);
}

fn ids(messages: &[SseMessage]) -> Vec<i64> {
    messages.iter().filter_map(|m| m.id).collect()
}

async fn resume_replays_exactly_what_was_missed(app: TestApp) {
    let mut events = app.events("/api/events?topics=workflows", None).await;
    events.expect(&["ready"]).await;
    let id = app.create_run(json!({ "workflow_name": "resume" })).await;
    let seen = events.expect(&["workflow_update"]).await.id.unwrap();
    drop(events);

    // While disconnected: three more changes.
    app.posted_empty(&format!("/api/workflows/{id}/start")).await;
    let other = app.create_run(json!({ "workflow_name": "other" })).await;
    app.posted_empty(&format!("/api/workflows/{id}/cancel")).await;

    let mut events = app.events("/api/events?topics=workflows", Some(seen)).await;
    let replayed = events.resumed(&["workflow_update"], 3).await;
    let statuses: Vec<_> = replayed
        .iter()
        .map(|m| (m.data["id"].as_str().unwrap().to_owned(), m.data["status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(statuses, [(id.clone(), "running".into()), (other, "pending".into()), (id, "cancelled".into())]);
    let replayed_ids = ids(&replayed);
    assert!(
        replayed_ids.windows(2).all(|w| w[0] < w[1]) && replayed_ids[0] > seen,
        "in order, after {seen}: {replayed_ids:?}"
    );

    // Then live, without duplicates.
    app.create_run(json!({ "workflow_name": "after" })).await;
    let live = events.expect(&["workflow_update"]).await;
    assert_eq!(live.data["workflow_name"], "after");
    assert!(live.id.unwrap() > *replayed_ids.last().unwrap());
}

async fn resume_survives_a_server_restart(app: TestApp) {
    let mut events = app.events("/api/events?topics=workflows", None).await;
    events.expect(&["ready"]).await;
    app.create_run(json!({ "workflow_name": "before restart" })).await;
    let seen = events.expect(&["workflow_update"]).await.id.unwrap();
    drop(events);

    let app = app.restart().await;
    app.create_run(json!({ "workflow_name": "after restart" })).await;
    let mut events = app.events("/api/events?topics=workflows", Some(seen)).await;
    let replayed = events.resumed(&["workflow_update"], 1).await;
    let names: Vec<_> = replayed.iter().map(|m| m.data["workflow_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["after restart"]);
    assert!(replayed[0].id.unwrap() > seen);
}

async fn unknown_or_pruned_ids_ask_for_a_resync(app: TestApp) {
    let mut events = app.events("/api/events", Some(999_999)).await;
    let first = events.next_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(first.event, "resync", "an id from the future (another database?) cannot be resumed");
    drop(events);

    // Events older than the retention are pruned on start-up; an id before them cannot be replayed.
    for i in 0..3 {
        app.create_run(json!({ "workflow_name": format!("old {i}") })).await;
    }
    let app = app.restart_with(|config| config.event_retention = Duration::ZERO).await;
    let mut events = app.events("/api/events", None).await;
    let newest = events.expect(&["ready"]).await.data["last_event_id"].as_i64().unwrap();
    drop(events);
    // Pruning runs at start-up in the background; wait until only the newest event is left.
    let mut resync = None;
    for _ in 0..50 {
        let mut events = app.events("/api/events", Some(1)).await;
        let first = events.next_within(Duration::from_secs(5)).await.unwrap();
        if first.event == "resync" {
            resync = Some(first);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(resync.is_some(), "events after 1 were pruned, so resuming from 1 asks for a resync");
    let mut events = app.events("/api/events", Some(newest)).await;
    assert_eq!(events.next_within(Duration::from_secs(5)).await.unwrap().event, "ready", "the newest is always kept");
}

async fn run_streams_carry_only_that_run(app: TestApp) {
    let mine = app.create_run(json!({ "workflow_name": "mine", "status": "running" })).await;
    let other = app.create_run(json!({ "workflow_name": "other", "status": "running" })).await;
    let mut events = app.events(&format!("/api/events?topics=workflows,logs&run={mine}"), None).await;
    events.expect(&["ready"]).await;
    app.posted(&format!("/api/workflows/{other}/logs"), json!({ "message": "not mine" })).await;
    app.posted(&format!("/api/workflows/{mine}/logs"), json!({ "message": "hello", "node_id": "write" })).await;
    let line = events.expect(&["run_log", "workflow_update"]).await;
    assert_eq!((line.event.as_str(), line.data["message"].as_str()), ("run_log", Some("hello")));
    app.posted(&format!("/api/workflows/{other}/complete"), json!({})).await;
    app.posted(&format!("/api/workflows/{mine}/complete"), json!({})).await;
    let update = events.expect(&["run_log", "workflow_update"]).await;
    assert_eq!(update.data["id"], mine.as_str());
    let rest = events.drain(Duration::from_millis(300)).await;
    assert!(
        rest.iter().all(|m| m.event == COMMENT || m.data["run_id"] == mine.as_str() || m.data["id"] == mine.as_str()),
        "{rest:?}"
    );
}

async fn seed_metric_streams(app: TestApp) {
    let mut workflows = app.events("/api/metrics/workflows/stream", None).await;
    let mut agents = app.events("/api/metrics/agents/stream", None).await;
    workflows.expect(&["ready"]).await;
    agents.expect(&["ready"]).await;
    app.posted("/api/agents/register", json!({ "agent_id": "a", "agent_name": "A", "host": "127.0.0.1", "port": 1 }))
        .await;
    app.create_run(json!({ "workflow_name": "w" })).await;
    assert_eq!(workflows.expect(&["workflow_update", "agent_update", "summary"]).await.event, "workflow_update");
    assert_eq!(agents.expect(&["workflow_update", "agent_update", "summary"]).await.event, "agent_update");
}

async fn bad_stream_requests_are_refused(app: TestApp) {
    for path in [
        "/api/events?topics=everything",
        "/api/metrics/agents/stream?topics=workflows",
        "/api/events?run=not-a-uuid",
        "/api/events?bogus=1",
        "/api/events?last_event_id=x",
    ] {
        let (status, body) = app.get(path).await;
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(body["error"]["message"].is_string());
    }
    let response = app.client.get(app.url("/api/events")).header("last-event-id", "nope").send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
}

async fn idle_streams_get_keep_alive_comments(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.sse_keep_alive = Duration::from_millis(200)).await;
    let mut events = app.events("/api/events?topics=agents", None).await;
    events.expect(&["ready"]).await;
    let next = events.next_within(Duration::from_secs(2)).await.unwrap();
    assert_eq!(next.event, COMMENT);
}

async fn shutdown_ends_open_streams(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    // (Without the summary topic, which sends a first summary right after `ready`.)
    let mut events = app.events("/api/events?topics=workflows", None).await;
    events.expect(&["ready"]).await;
    // Graceful shutdown must not wait for the stream's client to go away.
    app.shutdown().await;
    let rest = events.drain(Duration::from_secs(2)).await;
    assert!(rest.iter().all(|m| m.event == COMMENT), "nothing but keep-alives: {rest:?}");
    assert_eq!(events.next_within(Duration::from_millis(100)).await, Err("stream ended".to_owned()));
}

/// After a deploy every open browser reconnects at once with its `Last-Event-ID`. The
/// restarted server resumes them all from the events it loaded into memory: no stream
/// reads the database, and page reads keep their pace meanwhile. (The load bench
/// measures 10,000; the bounds here are loose on purpose: what fails is reconnects
/// that take the database again.)
async fn a_reconnect_storm_resumes_from_memory_while_pages_read(backend: Backend) {
    const STREAMS: usize = 1000;
    let app = TestApp::spawn_with(backend, |config| {
        config.max_streams = 2 * STREAMS;
        config.max_streams_per_caller = 2 * STREAMS;
        config.max_connections_per_client = 0;
    })
    .await;
    for n in 0..60 {
        app.create_run(json!({ "workflow_name": format!("storm-{n}") })).await;
    }
    let app = app.restart().await;
    let resume_after = app.fetch::<serde_json::Value>("/api/session").await["event_id"].as_i64().unwrap() - 50;

    let reading = Arc::new(AtomicBool::new(true));
    let reads = tokio::spawn({
        let (api, reading) = (app.api.clone(), reading.clone());
        async move {
            let mut slowest = Duration::ZERO;
            while reading.load(Ordering::Relaxed) {
                let started = Instant::now();
                assert_eq!(api.get("/api/workflows?limit=50").await.0, 200);
                slowest = slowest.max(started.elapsed());
            }
            slowest
        }
    });
    let address = app.address.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let streams = futures_util::future::join_all(
        (0..STREAMS).map(|_| raw_stream(&address, "/api/events?topics=workflows", Some(resume_after))),
    )
    .await;
    let all_ready = started.elapsed();
    reading.store(false, Ordering::Relaxed);
    let slowest_read = reads.await.unwrap();

    let replayed = String::from_utf8_lossy(&streams[STREAMS - 1].1).matches("event: workflow_update").count();
    assert_eq!(replayed, 50, "each stream gets what it missed");
    let health: shared::Health = app.fetch("/api/health").await;
    assert_eq!(health.streams.open as usize, STREAMS);
    assert_eq!(health.streams.resumed_from_memory as usize, STREAMS);
    assert_eq!(health.streams.resumed_from_database, 0, "no reconnect read the database");
    assert!(all_ready < Duration::from_secs(60), "{STREAMS} streams took {all_ready:?} to resume");
    assert!(slowest_read < Duration::from_secs(2), "a list read took {slowest_read:?} during the storm");
}

//! Bulk actions: dry runs count what a filter or a list of ids selects; jobs cancel,
//! restart or delete in batches, report progress as events, can be stopped, and
//! resume where they stood when their dashboard process dies.

use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::{BulkJob, BulkPreview, BulkStatus, RunDetail, RunStatus};
use std::time::Duration;

use crate::helpers::{eventually, holds_for, Backend, TestApp};
use crate::test_agents::{Answer, OriginalAgent};

crate::on_both_databases!(
    backend: bulk_requests_are_checked_and_dry_runs_change_nothing,
    jobs_cancel_and_delete_what_they_select,
    a_job_resumes_after_its_process_dies,
    a_stopped_job_touches_nothing_more,
    restarts_start_ended_runs_again_on_agents,
    ended_jobs_go_with_old_events,
    a_restart_batch_done_again_restarts_nothing_twice,
    a_run_the_database_refuses_fails_alone,
    jobs_running_at_once_are_bounded,
);

async fn insert_runs(app: &TestApp, workflow: &str, status: &str, offset: i64, count: i64) {
    app.db.insert_runs(workflow, status, offset, count).await;
}

fn run_id(n: i64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

async fn count(app: &TestApp, query: &str) -> usize {
    let mut total = 0;
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page: Value = app.fetch(&format!("/api/workflows?limit=500&{query}{after}")).await;
        total += page["runs"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return total,
        }
    }
}

async fn job(app: &TestApp, id: &str) -> BulkJob {
    app.fetch(&format!("/api/bulk/{id}")).await
}

/// The job once it has ended; it may take as long as it keeps making progress (a
/// debug build on PostgreSQL cancels a few hundred runs a second), but never stalls
/// for 20 s.
async fn finished(app: &TestApp, id: &str) -> BulkJob {
    let (mut handled, mut stalls_at) = (-1, tokio::time::Instant::now());
    loop {
        let seen = job(app, id).await;
        if seen.status != BulkStatus::Running {
            return seen;
        }
        if seen.done + seen.skipped + seen.failed > handled {
            handled = seen.done + seen.skipped + seen.failed;
            stalls_at = tokio::time::Instant::now() + Duration::from_secs(20);
        }
        assert!(tokio::time::Instant::now() < stalls_at, "the bulk job stalled: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_job(app: &TestApp, body: Value) -> BulkJob {
    let (status, created) = app.post("/api/workflows/bulk", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    serde_json::from_value(created).unwrap()
}

async fn bulk_requests_are_checked_and_dry_runs_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_runs(&app, "w", "pending", 0, 45).await;
    insert_runs(&app, "w", "completed", 100, 5).await;
    insert_runs(&app, "other", "running", 200, 10).await;
    let too_many: Vec<String> = (0..10_001).map(run_id).collect();
    for (body, says) in [
        (json!({ "action": "cancel" }), "either `ids` or `filter`"),
        (json!({ "action": "cancel", "ids": [run_id(1)], "filter": {} }), "either `ids` or `filter`"),
        (json!({ "action": "cancel", "ids": [] }), "between 1 and 10000"),
        (json!({ "action": "cancel", "ids": too_many }), "between 1 and 10000"),
        (json!({ "action": "cancel", "ids": ["nope"] }), "not a valid run id"),
        (json!({ "action": "cancel", "ids": ["a\u{0}b"] }), "not a valid run id"),
        (json!({ "action": "explode", "ids": [run_id(1)] }), "unknown variant"),
        (json!({ "action": "cancel", "filter": { "status": "exploded" } }), "unknown status"),
        (json!({ "action": "cancel", "filter": { "limit": 5 } }), "not `limit`"),
        (json!({ "action": "cancel", "filter": { "colour": "red" } }), "colour"),
        (json!({ "action": "cancel", "filter": { "q": "a\u{0}b" } }), "NUL"),
        (json!({ "action": "cancel", "ids": [run_id(1)], "dry_run": "yes" }), "dry_run"),
    ] {
        let (status, answer) = app.post("/api/workflows/bulk", body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(answer.to_string().contains(says), "{body}: {answer}");
    }

    let preview: BulkPreview = serde_json::from_value(
        app.posted(
            "/api/workflows/bulk",
            json!({ "action": "cancel", "filter": { "workflow": "w" }, "dry_run": true }),
        )
        .await,
    )
    .unwrap();
    assert_eq!((preview.matched, preview.eligible, preview.expected_cost_usd), (50, 45, None));
    let statuses: Vec<(RunStatus, i64)> = preview.by_status.iter().map(|s| (s.status, s.count)).collect();
    assert_eq!(statuses, [(RunStatus::Pending, 45), (RunStatus::Completed, 5)]);
    let restart: BulkPreview = serde_json::from_value(
        app.posted(
            "/api/workflows/bulk",
            json!({ "action": "restart", "filter": { "workflow": "w", "range": "all" }, "dry_run": true }),
        )
        .await,
    )
    .unwrap();
    assert_eq!((restart.eligible, restart.expected_cost_usd), (5, Some(1.25)), "the ended runs' past cost");
    let by_ids: BulkPreview = serde_json::from_value(
        app.posted(
            "/api/workflows/bulk",
            json!({ "action": "delete", "ids": [run_id(1), run_id(101), run_id(101), run_id(9999)], "dry_run": true }),
        )
        .await,
    )
    .unwrap();
    assert_eq!((by_ids.matched, by_ids.eligible), (2, 1), "each id once; unknown ids are not counted");
    let later: BulkPreview = serde_json::from_value(
        app.posted(
            "/api/workflows/bulk",
            json!({ "action": "cancel", "filter": { "since": "2999-01-01T00:00:00Z" }, "dry_run": true }),
        )
        .await,
    )
    .unwrap();
    assert_eq!(later.matched, 0, "a window that starts after now selects nothing");

    assert_eq!(count(&app, "status=pending").await, 45, "dry runs change nothing");
    let jobs: Vec<BulkJob> = app.fetch("/api/bulk").await;
    assert!(jobs.is_empty(), "{jobs:?}");
    for path in ["/api/bulk/nope", "/api/bulk/00000000-0000-4000-8000-000000000000"] {
        assert_eq!(app.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(app.get("/api/bulk?limit=0").await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn jobs_cancel_and_delete_what_they_select(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_runs(&app, "w", "pending", 0, 450).await;
    insert_runs(&app, "w", "completed", 1000, 50).await;
    insert_runs(&app, "other", "running", 2000, 20).await;
    let mut events = app.events("/api/events?topics=workflows", None).await;
    events.expect(&["ready"]).await;

    let cancel = start_job(&app, json!({ "action": "cancel", "filter": { "workflow": "w" } })).await;
    assert_eq!((cancel.matched, cancel.eligible, cancel.status), (500, 450, BulkStatus::Running));
    let done = finished(&app, &cancel.id).await;
    assert_eq!((done.status, done.done, done.skipped, done.failed), (BulkStatus::Completed, 450, 50, 0), "{done:?}");
    assert_eq!(done.skip_reasons.len(), 1);
    assert_eq!((done.skip_reasons[0].reason.as_str(), done.skip_reasons[0].count), ("already completed", 50));
    assert_eq!(count(&app, "workflow=w&status=cancelled").await, 450);
    assert_eq!(count(&app, "workflow=other&status=running").await, 20, "other runs are not touched");
    let detail: RunDetail = app.fetch(&format!("/api/workflows/{}", run_id(7))).await;
    let said = format!("Run cancelled by local in bulk job {}", cancel.id);
    assert!(detail.logs.lines.iter().any(|line| line.message == said), "{:?}", detail.logs.lines);
    // Progress came over the stream, batch by batch, to the end.
    let mut seen = Vec::new();
    while seen.last().is_none_or(|job: &BulkJob| job.status == BulkStatus::Running) {
        let message = events.expect(&["bulk_job"]).await;
        seen.push(serde_json::from_value(message.data).unwrap());
    }
    assert!(seen.len() >= 3, "created, batches, completed: {}", seen.len());
    assert!(seen.windows(2).all(|w| w[0].reached() <= w[1].reached()), "progress only grows");

    // By ids: each id once, unknown ones skipped.
    let ids = json!([run_id(2001), run_id(2002), run_id(2001), run_id(9999)]);
    let by_ids = finished(&app, &start_job(&app, json!({ "action": "cancel", "ids": ids })).await.id).await;
    assert_eq!((by_ids.selected, by_ids.done, by_ids.skipped), (Some(3), 2, 1));
    assert_eq!(by_ids.skip_reasons[0].reason, "no such run");

    // Deleting takes ended runs with their states and logs; running ones stay.
    let delete =
        start_job(&app, json!({ "action": "delete", "filter": { "workflow": "w", "status": "cancelled" } })).await;
    assert_eq!(finished(&app, &delete.id).await.done, 450);
    assert_eq!(count(&app, "workflow=w").await, 50);
    assert_eq!(app.get(&format!("/api/workflows/{}", run_id(7))).await.0, StatusCode::NOT_FOUND);
    let left = app
        .db
        .numbers(&format!(
            "SELECT 'logs', CAST(COUNT(*) AS DOUBLE PRECISION) FROM run_logs WHERE run_id = '{}'",
            run_id(7)
        ))
        .await;
    assert_eq!(left[0].1, 0.0, "its log went with it");
    let active = json!([run_id(2003), run_id(2004)]);
    let kept = finished(&app, &start_job(&app, json!({ "action": "delete", "ids": active })).await.id).await;
    assert_eq!((kept.done, kept.skipped), (0, 2));
    assert_eq!(kept.skip_reasons[0].reason, "still running");

    let jobs: Vec<BulkJob> = app.fetch("/api/bulk").await;
    assert_eq!(jobs.len(), 4, "newest first");
    assert_eq!(jobs[0].id, kept.id);
    let (status, answer) = app.post_empty(&format!("/api/bulk/{}/stop", kept.id)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
}

/// Enough pending runs that a job takes many batches.
const MANY: i64 = 6000;

async fn a_job_resumes_after_its_process_dies(backend: Backend) {
    let app = TestApp::spawn_crashable(backend, |c| c.dispatch_lease = Duration::from_secs(1)).await;
    let config = app.config.clone();
    insert_runs(&app, "w", "pending", 0, MANY).await;
    let id = start_job(&app, json!({ "action": "cancel", "filter": { "status": "pending" } })).await.id;
    eventually("a first batch is done", || async { job(&app, &id).await.done > 0 }).await;
    let before = job(&app, &id).await;
    assert!(before.done < MANY, "the job must still be running when its process dies");
    let successor = TestApp::start(app.crash(), config).await;
    let done = finished(&successor, &id).await;
    assert_eq!((done.status, done.done, done.skipped), (BulkStatus::Completed, MANY, 0), "{done:?}");
    assert_eq!(count(&successor, "status=cancelled").await as i64, MANY);
    // Each run was cancelled once: one note each, none twice.
    let notes = successor
        .db
        .numbers(&format!(
            "SELECT 'notes', CAST(COUNT(*) AS DOUBLE PRECISION) FROM run_logs WHERE message LIKE '%bulk job {id}'"
        ))
        .await;
    assert_eq!(notes[0].1 as i64, MANY);
}

async fn a_stopped_job_touches_nothing_more(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_runs(&app, "w", "pending", 0, MANY).await;
    let id = start_job(&app, json!({ "action": "cancel", "ids": (1..=MANY).map(run_id).collect::<Vec<_>>() })).await.id;
    eventually("a first batch is done", || async { job(&app, &id).await.done > 0 }).await;
    let stopped: BulkJob = serde_json::from_value(app.posted_empty(&format!("/api/bulk/{id}/stop")).await).unwrap();
    assert_eq!(stopped.status, BulkStatus::Stopped);
    assert!(stopped.done < MANY, "stopped before the end: {}", stopped.done);
    let cancelled = count(&app, "status=cancelled").await as i64;
    assert_eq!(cancelled, stopped.done, "what it says it did is what was done");
    holds_for("no run is cancelled after the stop", Duration::from_millis(1500), || async {
        count(&app, "status=cancelled").await as i64 == cancelled
    })
    .await;
    assert_eq!(job(&app, &id).await, stopped);
    assert_eq!(app.post_empty(&format!("/api/bulk/{id}/stop")).await.0, StatusCode::CONFLICT);
}

async fn restarts_start_ended_runs_again_on_agents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::from_millis(10))).await;
    let mut ended = Vec::new();
    for topic in ["tides", "moons", "comets"] {
        let id = app.create_run(json!({ "workflow_name": "article_writer", "inputs": { "topic": topic } })).await;
        app.posted(&format!("/api/workflows/{id}/complete"), json!({ "total_cost_usd": 0.5 })).await;
        ended.push(id);
    }
    let running = app.create_run(json!({ "workflow_name": "article_writer", "status": "running" })).await;
    let filter = json!({ "workflow": "article_writer" });
    let preview: BulkPreview = serde_json::from_value(
        app.posted("/api/workflows/bulk", json!({ "action": "restart", "filter": filter, "dry_run": true })).await,
    )
    .unwrap();
    assert_eq!((preview.matched, preview.eligible, preview.expected_cost_usd), (4, 3, Some(1.5)));
    let job = finished(&app, &start_job(&app, json!({ "action": "restart", "filter": filter })).await.id).await;
    assert_eq!((job.done, job.skipped, job.failed), (3, 1, 0), "{job:?}");
    assert_eq!(job.skip_reasons[0].reason, "still running");
    eventually("the agent has the three restarts", || async { agent.received().len() == 3 }).await;
    let topics: Vec<Value> = agent.received().iter().map(|(body, _)| body["topic"].clone()).collect();
    for topic in ["tides", "moons", "comets"] {
        assert!(topics.contains(&json!(topic)), "{topics:?}");
    }
    for id in &ended {
        let detail: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
        assert_eq!(detail.restarted_into.len(), 1, "restarted once");
        let said = format!("Restarted as {} by local in bulk job {}", detail.restarted_into[0], job.id);
        assert!(detail.logs.lines.iter().any(|line| line.message == said), "{:?}", detail.logs.lines);
    }
    let untouched: RunDetail = app.fetch(&format!("/api/workflows/{running}")).await;
    assert!(untouched.restarted_into.is_empty());
    // The restarts started after the job was made, so it did not reach them.
    assert_eq!(count(&app, "workflow=article_writer").await, 7);
}

/// Ended jobs are kept as long as live events are, running ones however long they run.
async fn ended_jobs_go_with_old_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_runs(&app, "w", "pending", 0, 3).await;
    let ended = finished(&app, &start_job(&app, json!({ "action": "cancel", "filter": {} })).await.id).await;
    let kept = finished(&app, &start_job(&app, json!({ "action": "cancel", "filter": {} })).await.id).await;
    app.db
        .execute_as_another_writer(&format!(
            "UPDATE dashboard_bulk_jobs SET finished_at = '2020-01-01 00:00:00' WHERE id = '{}'",
            ended.id
        ))
        .await;
    // Pruning runs when the dashboard starts, then hourly.
    let app = app.restart().await;
    let path = format!("/api/bulk/{}", ended.id);
    eventually("the old job is pruned", || async { app.get(&path).await.0 == StatusCode::NOT_FOUND }).await;
    assert_eq!(job(&app, &kept.id).await.status, BulkStatus::Completed);
}

/// A restart batch whose process died before recording it is done again by the next
/// process: the runs it had restarted are not restarted a second time.
async fn a_restart_batch_done_again_restarts_nothing_twice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::from_millis(10))).await;
    let mut ended = Vec::new();
    for topic in ["tides", "moons"] {
        let id = app.create_run(json!({ "workflow_name": "article_writer", "inputs": { "topic": topic } })).await;
        app.posted(&format!("/api/workflows/{id}/complete"), json!({})).await;
        ended.push(id);
    }
    let job = finished(&app, &start_job(&app, json!({ "action": "restart", "ids": ended })).await.id).await;
    assert_eq!(job.done, 2);
    eventually("the agent has both restarts", || async { agent.received().len() == 2 }).await;
    // As if the process had died after the restarts and before recording them.
    app.db
        .execute_as_another_writer(&format!(
            "UPDATE dashboard_bulk_jobs SET status = 'running', position = NULL, done_count = 0, \
             finished_at = NULL, worker = NULL WHERE id = '{}'",
            job.id
        ))
        .await;
    let app = app.restart().await;
    let again = finished(&app, &job.id).await;
    assert_eq!((again.done, again.skipped), (0, 2), "{again:?}");
    assert_eq!(again.skip_reasons[0].reason, "already restarted since the job began");
    holds_for("nothing is restarted twice", Duration::from_millis(300), || async { agent.received().len() == 2 }).await;
}

/// A run the database refuses to change (here another writer's trigger; also a row
/// another writer left unreadable) fails alone: the job records why and goes on to
/// the end, instead of retrying its batch for ever.
async fn a_run_the_database_refuses_fails_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_runs(&app, "w", "pending", 0, 5).await;
    let poisoned = run_id(3);
    let trigger = match backend {
        Backend::Sqlite => format!(
            "CREATE TRIGGER poison BEFORE UPDATE ON workflow_runs WHEN OLD.id = '{poisoned}' \
             BEGIN SELECT RAISE(ABORT, 'this run is not to be changed'); END;"
        ),
        Backend::Postgres => format!(
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
               IF OLD.id = '{poisoned}' THEN RAISE EXCEPTION 'this run is not to be changed'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE UPDATE ON workflow_runs FOR EACH ROW EXECUTE FUNCTION poison();"
        ),
    };
    app.db.execute_as_another_writer(&trigger).await;
    let ids: Vec<String> = (1..=5).map(run_id).collect();
    let job = finished(&app, &start_job(&app, json!({ "action": "cancel", "ids": ids })).await.id).await;
    assert_eq!((job.status, job.done, job.failed), (BulkStatus::Completed, 4, 1), "{job:?}");
    assert_eq!(job.failures[0].run_id, poisoned);
    assert!(job.failures[0].reason.contains("server log"), "{:?}", job.failures);
    assert_eq!(count(&app, "status=cancelled").await, 4);
    let untouched: RunDetail = app.fetch(&format!("/api/workflows/{poisoned}")).await;
    assert_eq!(untouched.run.status, RunStatus::Pending);
}

/// A client that floods the dashboard with jobs is told to wait (409) once ten are
/// running, and may start another when one ends.
async fn jobs_running_at_once_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_runs(&app, "w", "pending", 0, 1).await;
    // Ten jobs another live process is working on (its lease renewed far ahead).
    let mut sql =
        "INSERT INTO dashboard_dispatchers (id, renewed_at) VALUES ('elsewhere', '2999-01-01 00:00:00');".to_owned();
    for n in 1..=10 {
        sql += &format!(
            "INSERT INTO dashboard_bulk_jobs (id, action, status, selection, worker, created_by, created_at, \
             updated_at, matched, eligible, detail) VALUES ('{}', 'cancel', 'running', '{{\"ids\": []}}', \
             'elsewhere', 'flood', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0, 0, \
             '{{\"skip_reasons\": {{}}, \"failures\": []}}');",
            run_id(900 + n)
        );
    }
    app.db.execute_as_another_writer(&sql).await;
    let body = json!({ "action": "cancel", "ids": [run_id(1)] });
    let (status, refused) = app.post("/api/workflows/bulk", body.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused.to_string().contains("10 bulk jobs are running"), "{refused}");
    assert_eq!(count(&app, "status=pending").await, 1, "nothing done");
    app.posted_empty(&format!("/api/bulk/{}/stop", run_id(901))).await;
    assert_eq!(finished(&app, &start_job(&app, body).await.id).await.done, 1);
}

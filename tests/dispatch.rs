//! Starting runs on agents over real HTTP: the original kind of agent (sync and async
//! answers, no cancel endpoint) and our demo agent (reports states and logs, cancels),
//! with agents dying and the dashboard restarting mid-run.

use reqwest::StatusCode;
use serde_json::json;
use shared::{CatalogEntry, RunDetail, RunPage, RunStatus};
use std::time::Duration;

use crate::helpers::{eventually, holds_for, Backend, TestApp};
use crate::test_agents::{Answer, DemoAgent, OriginalAgent};

crate::on_both_databases!(
    no_alive_agent_is_a_conflict_and_stores_nothing,
    start_requests_are_validated,
    original_agent_answering_at_once_completes_the_run,
    original_agent_answering_async_is_followed_to_the_end,
    demo_agent_reports_node_states_and_logs_into_the_run,
    agent_refusing_the_inputs_fails_the_run_with_its_reason,
    catalog_lists_served_workflows_with_their_inputs,
    cancel_mid_run_stops_the_demo_agent,
    cancel_on_an_agent_without_cancel_endpoint_says_so_and_ignores_the_result,
    restart_runs_the_same_inputs_again_as_a_linked_run,
    runs_spread_over_the_agents_of_a_workflow,
    runs_go_to_the_agent_with_the_fewest_in_flight,
);

/// Tests that start their own dashboard (non-default settings, or restarts).
mod lifecycle {
    use super::*;
    crate::on_both_databases!(
        backend: agent_dying_mid_job_fails_the_run_in_bounded_time,
        agent_dropping_a_synchronous_run_fails_it_at_once,
        dashboard_restart_resumes_async_runs_in_flight,
        dashboard_restart_recovers_what_it_can_of_synchronous_runs,
        a_replica_starting_leaves_the_runs_of_a_live_one_alone,
        runs_of_a_crashed_dashboard_are_taken_over_when_its_lease_lapses,
        a_process_that_lost_a_run_does_not_record_its_outcome,
    );
}

fn ended(detail: &RunDetail) -> bool {
    !detail.run.status.is_active()
}

async fn runs(app: &TestApp) -> RunPage {
    app.fetch("/api/workflows").await
}

async fn no_alive_agent_is_a_conflict_and_stores_nothing(app: TestApp) {
    let (status, body) = app.post("/api/workflows/run", json!({ "workflow_name": "article_writer" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert!(body["error"]["message"].as_str().unwrap().contains("no alive agent serves workflow `article_writer`"));

    // An agent whose heartbeat lapsed serves nothing.
    app.posted(
        "/api/agents/register",
        json!({ "agent_id": "gone", "agent_name": "article_writer", "host": "127.0.0.1", "port": 9, "ttl_seconds": 1 }),
    )
    .await;
    eventually("the agent's heartbeat lapses", || async {
        !app.fetch::<shared::AgentInfo>("/api/agents/gone").await.is_alive
    })
    .await;
    let (status, _) = app.post("/api/workflows/run", json!({ "workflow_name": "article_writer" })).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A named agent that does not serve the workflow.
    let agent = OriginalAgent::start(&app, "support_triage", Answer::Sync(Duration::ZERO)).await;
    let (status, body) =
        app.post("/api/workflows/run", json!({ "workflow_name": "article_writer", "agent_id": agent.agent_id })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(runs(&app).await.runs.is_empty());
}

async fn start_requests_are_validated(app: TestApp) {
    let _agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::ZERO)).await;
    for (body, expected) in [
        (json!({ "workflow_name": "article_writer", "inputs": ["topic"] }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "workflow_name": "article_writer", "inputs": "topic" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "workflow_name": "" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "workflow_name": "a\u{0}b" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "workflow_name": "x".repeat(300) }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "workflow_name": "article_writer", "priority": 1 }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "inputs": {} }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "workflow_name": "article_writer", "agent_id": 7 }), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, error) = app.post("/api/workflows/run", body.clone()).await;
        assert_eq!(status, expected, "{body} -> {error}");
        assert!(error["error"]["message"].is_string(), "{error}");
    }
    let response = app
        .client
        .post(app.url("/api/workflows/run"))
        .header("content-type", "application/json")
        .body("{\"workflow_name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(runs(&app).await.runs.is_empty());
}

async fn original_agent_answering_at_once_completes_the_run(app: TestApp) {
    let agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::from_millis(200))).await;
    let (status, run) = app
        .post("/api/workflows/run", json!({ "workflow_name": "article_writer", "inputs": { "topic": "tides" } }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["status"], "pending");
    let id = run["id"].as_str().unwrap();

    let done = app.run_when(id, "the run completes", ended).await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);
    assert_eq!(done.outputs, Some(json!({ "echo": { "topic": "tides" } })));
    assert!(done.run.duration_seconds.unwrap() >= 0.2);
    let dispatch = done.dispatch.expect("the run records its agent");
    assert_eq!((dispatch.agent_id.as_str(), dispatch.job_id), (agent.agent_id.as_str(), None));
    // The original kind gets exactly the inputs as its body; the run id rides in a header.
    assert_eq!(agent.received(), [(json!({ "topic": "tides" }), Some(id.to_owned()))]);
}

async fn original_agent_answering_async_is_followed_to_the_end(app: TestApp) {
    let _agent = OriginalAgent::start(&app, "article_writer", Answer::Async(Duration::from_millis(1200))).await;
    let id = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    let running = app
        .run_when(&id, "the agent's job id is recorded", |d| d.dispatch.as_ref().is_some_and(|d| d.job_id.is_some()))
        .await;
    assert_eq!(running.run.status, RunStatus::Running);
    let done = app.run_when(&id, "the job completes", ended).await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);
    assert_eq!(done.outputs, Some(json!({ "answer": 42 })));

    let _failing = OriginalAgent::start(&app, "code_review", Answer::AsyncFailing(Duration::from_millis(300))).await;
    let id = app.start_run("code_review", json!({})).await;
    let failed = app.run_when(&id, "the job fails", ended).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    assert_eq!(failed.run.error_message.as_deref(), Some("Node 'write' failed: context too long"));
}

async fn demo_agent_reports_node_states_and_logs_into_the_run(app: TestApp) {
    let agent = DemoAgent::start(&app, |args| args.workflow = "support_triage".into()).await;
    let id = app.start_run("support_triage", json!({ "ticket": "printer on fire" })).await;
    let done = app.run_when(&id, "the demo run completes", ended).await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);
    let nodes: Vec<_> = done.states.iter().map(|s| s.node_id.as_str()).collect();
    assert_eq!(nodes, ["classify", "draft_reply", "review"]);
    let node_tokens: i64 = done.states.iter().map(|s| s.state_data.total_tokens.unwrap()).sum();
    assert_eq!(done.run.total_tokens, Some(node_tokens));
    assert!(done.run.total_cost_usd.unwrap() > 0.0);
    assert!(done
        .states
        .iter()
        .all(|s| s.state_data.model.is_some() && s.state_data.status.as_deref() == Some("completed")));
    assert_eq!(done.outputs.as_ref().unwrap()["result"], "Report on printer on fire");
    let messages: Vec<_> = done.logs.lines.iter().map(|l| l.message.as_str()).collect();
    assert!(messages[0].starts_with("Started by local on agent demo-"), "{messages:?}");
    assert!(messages[1].starts_with("Starting support_triage on \"printer on fire\""), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("finished")), "{messages:?}");
    assert_eq!(agent.job(&id).await["status"], "completed", "our agents know the job by the run id");
}

async fn agent_refusing_the_inputs_fails_the_run_with_its_reason(app: TestApp) {
    let _agent = DemoAgent::start(&app, |_| {}).await;
    let id = app.start_run("article_writer", json!({ "subject": "typo" })).await;
    let failed = app.run_when(&id, "the run fails", ended).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    let error = failed.run.error_message.unwrap();
    assert!(error.contains("refused the run (422 Unprocessable Entity): input `topic` is required"), "{error}");

    // A node failing on the agent fails the run with the node's error.
    let _flaky = DemoAgent::start(&app, |args| {
        args.workflow = "code_review".into();
        args.failure_rate = 1.0;
    })
    .await;
    let id = app.start_run("code_review", json!({ "pull_request": "#12" })).await;
    let failed = app.run_when(&id, "the flaky run fails", ended).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    assert!(failed.run.error_message.unwrap().contains("LLM call failed"));
    assert_eq!(failed.states.last().unwrap().state_data.status.as_deref(), Some("failed"));
}

async fn catalog_lists_served_workflows_with_their_inputs(app: TestApp) {
    let demo = DemoAgent::start(&app, |_| {}).await;
    let original = OriginalAgent::start(&app, "support_triage", Answer::Sync(Duration::ZERO)).await;
    let catalog: Vec<CatalogEntry> = app.fetch("/api/workflows/catalog").await;
    let names: Vec<_> = catalog.iter().map(|e| e.workflow_name.as_str()).collect();
    assert_eq!(names, ["article_writer", "support_triage"]);
    assert_eq!(catalog[0].agents[0].agent_id, demo.agent_id);
    assert_eq!(catalog[0].inputs.as_ref().unwrap()["topic"]["required"], true);
    assert!(catalog[0].description.as_deref().unwrap().contains("article"));
    // The test's original-kind agent has no /schema: listed, without inputs.
    assert_eq!((catalog[1].agents[0].agent_id.as_str(), &catalog[1].inputs), (original.agent_id.as_str(), &None));

    demo.stop().await;
    let catalog: Vec<CatalogEntry> = app.fetch("/api/workflows/catalog").await;
    assert_eq!(catalog.len(), 1, "a deregistered agent serves nothing");
}

async fn cancel_mid_run_stops_the_demo_agent(app: TestApp) {
    let agent = DemoAgent::start(&app, |args| {
        args.workflow = "market_research".into();
        args.node_seconds = 0.6;
        args.sync_timeout = Duration::ZERO;
    })
    .await;
    let id = app.start_run("market_research", json!({ "market": "e-bikes" })).await;
    app.run_when(&id, "the first node reports", |d| !d.states.is_empty()).await;
    let (status, cancelled) = app.post_empty(&format!("/api/workflows/{id}/cancel")).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");

    let detail = app
        .run_when(&id, "the agent confirms it stopped", |d| {
            d.logs.lines.iter().any(|l| l.message.contains("stopped the run"))
        })
        .await;
    assert_eq!(agent.job(&id).await["status"], "cancelled");
    let states_at_cancel = detail.states.len();
    assert!(states_at_cancel < 4);
    // Well past when the remaining nodes would have finished: nothing more arrives.
    holds_for("the cancelled run takes nothing more", Duration::from_millis(2500), || async {
        let later: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
        later.run.status == RunStatus::Cancelled && later.states.len() == states_at_cancel && later.outputs.is_none()
    })
    .await;
}

async fn cancel_on_an_agent_without_cancel_endpoint_says_so_and_ignores_the_result(app: TestApp) {
    let agent = OriginalAgent::start(&app, "article_writer", Answer::Async(Duration::from_millis(1500))).await;
    let id = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    app.run_when(&id, "the job id is recorded", |d| d.dispatch.as_ref().is_some_and(|d| d.job_id.is_some())).await;
    let (status, _) = app.post_empty(&format!("/api/workflows/{id}/cancel")).await;
    assert_eq!(status, StatusCode::OK);
    let detail = app
        .run_when(&id, "the log says the agent cannot cancel", |d| {
            d.logs.lines.iter().any(|l| l.message.contains("has no cancel endpoint"))
        })
        .await;
    assert_eq!(detail.run.status, RunStatus::Cancelled);
    // The job completes on the agent meanwhile; the run stays cancelled.
    eventually("the job completes on the agent", || async { agent.finished() == 1 }).await;
    let later: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!((later.run.status, later.outputs), (RunStatus::Cancelled, None));
}

async fn restart_runs_the_same_inputs_again_as_a_linked_run(app: TestApp) {
    let agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::from_millis(50))).await;
    let first = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    app.run_when(&first, "the first run completes", ended).await;

    let (status, restarted) = app.post_empty(&format!("/api/workflows/{first}/restart")).await;
    assert_eq!(status, StatusCode::CREATED, "{restarted}");
    assert_eq!(restarted["restarted_from"], first.as_str());
    let second = restarted["id"].as_str().unwrap();
    let done = app.run_when(second, "the restarted run completes", ended).await;
    assert_eq!(done.run.status, RunStatus::Completed);
    assert_eq!(done.inputs, Some(json!({ "topic": "tides" })));
    let original: RunDetail = app.fetch(&format!("/api/workflows/{first}")).await;
    assert_eq!(original.restarted_into, [second]);
    let bodies: Vec<_> = agent.received().into_iter().map(|(body, _)| body).collect();
    assert_eq!(bodies, [json!({ "topic": "tides" }), json!({ "topic": "tides" })]);

    // A run reported by another runner restarts on an agent too.
    let reported = app.create_run(json!({ "workflow_name": "article_writer", "inputs": { "topic": "waves" } })).await;
    app.posted_empty(&format!("/api/workflows/{reported}/start")).await;
    app.posted(&format!("/api/workflows/{reported}/fail"), json!({ "error_message": "boom" })).await;
    let (status, again) = app.post_empty(&format!("/api/workflows/{reported}/restart")).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    app.run_when(again["id"].as_str().unwrap(), "it completes", |d| d.run.status == RunStatus::Completed).await;

    // Nobody serves it: a clear conflict, and no new run.
    let orphan = app.create_run(json!({ "workflow_name": "unserved", "status": "running" })).await;
    app.posted(&format!("/api/workflows/{orphan}/complete"), json!({})).await;
    let before = runs(&app).await.runs.len();
    let (status, body) = app.post_empty(&format!("/api/workflows/{orphan}/restart")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(runs(&app).await.runs.len(), before);
}

async fn runs_spread_over_the_agents_of_a_workflow(app: TestApp) {
    let one = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::ZERO)).await;
    let two = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::ZERO)).await;
    let mut ids = Vec::new();
    for n in 0..16 {
        ids.push(app.start_run("article_writer", json!({ "topic": format!("t{n}") })).await);
    }
    for id in &ids {
        app.run_when(id, "every run completes", |d| d.run.status == RunStatus::Completed).await;
    }
    let (a, b) = (one.received().len(), two.received().len());
    assert_eq!(a + b, 16);
    assert!(a > 0 && b > 0, "both agents got work: {a} and {b}");
    // Each agent's page lists the runs sent to it, and only those.
    for agent in [&one, &two] {
        let path = format!("/api/workflows?agent={}&limit=500", agent.agent_id);
        let mut listed: Vec<String> = app.fetch::<RunPage>(&path).await.runs.into_iter().map(|r| r.id).collect();
        let mut sent: Vec<String> = agent.received().into_iter().filter_map(|(_, id)| id).collect();
        listed.sort();
        sent.sort();
        assert_eq!(listed, sent);
    }
    let (status, body) = app.get(&format!("/api/workflows?agent={}", "a".repeat(300))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

async fn runs_go_to_the_agent_with_the_fewest_in_flight(app: TestApp) {
    let one = OriginalAgent::start(&app, "article_writer", Answer::Async(Duration::from_secs(30))).await;
    let two = OriginalAgent::start(&app, "article_writer", Answer::Async(Duration::from_secs(30))).await;
    for n in 0..4 {
        app.start_run("article_writer", json!({ "topic": format!("t{n}") })).await;
    }
    eventually("every run reaches its agent", || async { one.received().len() + two.received().len() == 4 }).await;
    // A tie is broken at random, and the next run evens it out: two each, whatever the draws.
    assert_eq!((one.received().len(), two.received().len()), (2, 2));
}

async fn agent_dying_mid_job_fails_the_run_in_bounded_time(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.agent_unreachable_timeout = Duration::from_secs(1)).await;
    let mut agent = DemoAgent::start(&app, |args| {
        args.node_seconds = 5.0;
        args.sync_timeout = Duration::ZERO;
    })
    .await;
    let id = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    app.run_when(&id, "the job id is recorded", |d| d.dispatch.as_ref().is_some_and(|d| d.job_id.is_some())).await;
    agent.kill();
    let failed = app.run_when(&id, "the run fails", ended).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    let error = failed.run.error_message.unwrap();
    assert!(error.contains(&format!("agent {} at {} stopped answering for 1 s", agent.agent_id, agent.url)), "{error}");
}

async fn agent_dropping_a_synchronous_run_fails_it_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut agent = DemoAgent::start(&app, |args| args.node_seconds = 5.0).await;
    let id = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    app.run_when(&id, "the agent is working", |d| d.run.status == RunStatus::Running && !d.logs.lines.is_empty()).await;
    agent.kill();
    let failed = app.run_when(&id, "the run fails", ended).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    let error = failed.run.error_message.unwrap();
    assert!(error.starts_with(&format!("agent {} at {}", agent.agent_id, agent.url)), "{error}");
    assert!(failed.run.duration_seconds.unwrap() < 5.0, "failed before the node would have finished");
}

async fn dashboard_restart_resumes_async_runs_in_flight(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let _agent = OriginalAgent::start(&app, "article_writer", Answer::Async(Duration::from_millis(2000))).await;
    let id = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    app.run_when(&id, "the job id is recorded", |d| d.dispatch.as_ref().is_some_and(|d| d.job_id.is_some())).await;
    // A lease longer than the test waits: only the lease given up on shutdown lets the
    // next start take the run over in time.
    let app = app.restart_with(|c| c.dispatch_lease = Duration::from_secs(60)).await;
    let done = app.run_when(&id, "the resumed run completes", ended).await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);
    assert_eq!(done.outputs, Some(json!({ "answer": 42 })));
}

async fn dashboard_restart_recovers_what_it_can_of_synchronous_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Our agent is asked about the run by its id, and the run completes.
    let _demo = DemoAgent::start(&app, |args| args.node_seconds = 0.8).await;
    let ours = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    // The original kind cannot be asked: the answer is lost, and the run says so.
    let _original = OriginalAgent::start(&app, "support_triage", Answer::Sync(Duration::from_secs(3))).await;
    let theirs = app.start_run("support_triage", json!({ "ticket": "t" })).await;
    for id in [&ours, &theirs] {
        app.run_when(id, "the run is running", |d| d.run.status == RunStatus::Running).await;
    }
    let app = app.restart().await;

    let done = app.run_when(&ours, "our agent's run completes", ended).await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);
    assert_eq!(done.states.len(), 2);
    let lost = app.run_when(&theirs, "the original agent's run fails", ended).await;
    assert_eq!(lost.run.status, RunStatus::Failed);
    assert!(lost.run.error_message.unwrap().contains("the dashboard restarted while agent"));
}

async fn a_replica_starting_leaves_the_runs_of_a_live_one_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::from_millis(1500))).await;
    let id = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    app.run_when(&id, "the agent is working on it", |d| d.run.status == RunStatus::Running).await;
    // Taking the run over would lose the synchronous answer the first one awaits.
    let replica = app.replica().await;
    let done = replica.run_when(&id, "the run completes", ended).await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);
    assert_eq!(agent.received().len(), 1, "sent once");
}

async fn runs_of_a_crashed_dashboard_are_taken_over_when_its_lease_lapses(backend: Backend) {
    let app = TestApp::spawn_crashable(backend, |c| c.dispatch_lease = Duration::from_secs(1)).await;
    let config = app.config.clone();
    let _agent = OriginalAgent::start(&app, "article_writer", Answer::Async(Duration::from_millis(2500))).await;
    let id = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    app.run_when(&id, "the job id is recorded", |d| d.dispatch.as_ref().is_some_and(|d| d.job_id.is_some())).await;
    let successor = TestApp::start(app.crash(), config).await;
    let done = successor.run_when(&id, "the successor completes the run", ended).await;
    assert_eq!(done.run.status, RunStatus::Completed, "{:?}", done.run.error_message);
    assert_eq!(done.outputs, Some(json!({ "answer": 42 })));
}

async fn a_process_that_lost_a_run_does_not_record_its_outcome(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = OriginalAgent::start(&app, "article_writer", Answer::Sync(Duration::from_millis(1500))).await;
    let id = app.start_run("article_writer", json!({ "topic": "tides" })).await;
    app.run_when(&id, "the agent is working on it", |d| d.run.status == RunStatus::Running).await;
    // Another process takes the run over (as after a lease that lapsed while this one
    // was stalled), and holds a fresh lease of its own.
    let now = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S%.6f");
    app.db
        .execute_as_another_writer(&format!(
            "INSERT INTO dashboard_dispatchers (id, renewed_at) VALUES ('another-process', '{now}'); \
             UPDATE workflow_runs SET dispatcher_id = 'another-process' WHERE id = '{id}'"
        ))
        .await;
    eventually("the agent answers", || async { agent.finished() == 1 }).await;
    // What the dashboard does with the answer, it does within moments of getting it.
    holds_for("the outcome stays the new follower's to record", Duration::from_millis(300), || async {
        let detail: RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
        agent.received().len() == 1 && detail.run.status == RunStatus::Running
    })
    .await;
}

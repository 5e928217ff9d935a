//! Outgoing webhooks against a real HTTP receiver: signed alerts for failed runs,
//! budget cancellations and warnings and expired agents, retried until delivered; a
//! receiver that hangs delays no request; only admins manage them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shared::{CreatedWebhook, Webhook, WebhookTest};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::{eventually, holds_for, TestApp};

crate::on_both_databases!(
    alerts_arrive_signed_and_are_retried_until_delivered,
    a_receiver_that_hangs_delays_no_request,
    replicas_send_each_alert_once,
    failures_inside_a_flood_are_alerted,
    webhooks_are_checked_tested_and_removed
);

/// What the receiver was sent: the headers it checks and the body.
#[derive(Clone, Debug)]
struct Received {
    event: String,
    signature: String,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answers to give, in turn, before answering 204 to everything.
    failures_left: Arc<Mutex<u32>>,
    hang: bool,
}

impl Receiver {
    /// Serves on a free loopback port; returns the URL to post to.
    async fn start(self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new().route("/hook", post(receive)).with_state(self);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn of(&self, event: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.event == event).cloned().collect()
    }

    /// Waits until `run.failed` arrived for each of `failed`, then checks through
    /// `window` that no second copy of any arrives.
    async fn each_failure_alerted_once(&self, mut failed: Vec<String>, window: Duration) {
        let count = failed.len();
        eventually("each failure is alerted", || async { self.of("run.failed").len() >= count }).await;
        holds_for("each failure is alerted once", window, || async { self.of("run.failed").len() == count }).await;
        let mut alerted: Vec<String> = self
            .of("run.failed")
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["run"]["id"].as_str().unwrap().to_owned())
            .collect();
        alerted.sort();
        failed.sort();
        assert_eq!(alerted, failed);
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    receiver.received.lock().unwrap().push(Received {
        event: header("x-dashboard-event"),
        signature: header("x-dashboard-signature"),
        body,
    });
    if receiver.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut left = receiver.failures_left.lock().unwrap();
    if *left > 0 {
        *left -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::NO_CONTENT
}

fn signature_of(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

async fn webhook_for(app: &TestApp, url: &str) -> CreatedWebhook {
    serde_json::from_value(app.posted("/api/webhooks", json!({ "url": url })).await).unwrap()
}

async fn alerts_arrive_signed_and_are_retried_until_delivered(app: TestApp) {
    let receiver = Receiver { failures_left: Arc::new(Mutex::new(1)), ..Default::default() };
    let created = webhook_for(&app, &receiver.clone().start().await).await;

    // A failed run: the first attempt is answered 503, the retry is delivered.
    let id = app.create_run(json!({ "workflow_name": "support_triage", "status": "running" })).await;
    app.posted(&format!("/api/workflows/{id}/fail"), json!({ "error_message": "rate limited" })).await;
    eventually("the failed run's alert is retried and delivered", || async {
        let hooks: Vec<Webhook> = app.fetch("/api/webhooks").await;
        hooks[0].delivered == 1
    })
    .await;
    let sent = receiver.of("run.failed");
    assert_eq!(sent.len(), 2, "one failed attempt and one retry");
    let alert: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(sent[1].signature, signature_of(&created.secret, &sent[1].body));
    assert_ne!(sent[0].signature, signature_of("another secret", &sent[0].body));
    assert_eq!(alert["run"]["id"], id.as_str());
    assert_eq!(alert["link"], app.api.url(&format!("/workflows/{id}")));
    let text = alert["text"].as_str().unwrap();
    assert!(text.contains("support_triage") && text.contains("failed: rate limited"), "{text}");
    let hooks: Vec<Webhook> = app.fetch("/api/webhooks").await;
    assert_eq!((hooks[0].last_status, hooks[0].last_error.as_deref(), hooks[0].failed), (Some(204), None, 0));

    // A budget cancels a run, and warns at 80 % of a daily cap.
    app.put("/api/budgets/article_writer", json!({ "run_max_usd": 0.5, "daily_usd": 1.0 })).await;
    let over = app.create_run(json!({ "workflow_name": "article_writer", "status": "running" })).await;
    app.posted(&format!("/api/workflows/{over}/states"), json!({ "node_id": "n", "cost_usd": 0.85 })).await;
    eventually("the budget alerts arrive", || async {
        !receiver.of("run.budget_cancelled").is_empty() && !receiver.of("budget.warning").is_empty()
    })
    .await;
    let cancelled: Value = serde_json::from_slice(&receiver.of("run.budget_cancelled")[0].body).unwrap();
    assert_eq!(cancelled["run"]["error_message"], "budget exceeded: $0.85 > $0.50 per run");
    let warning: Value = serde_json::from_slice(&receiver.of("budget.warning")[0].body).unwrap();
    assert_eq!(warning["budget"]["workflow_name"], "article_writer");

    // An agent expires.
    app.post(
        "/api/agents/register",
        json!({ "agent_id": "brief", "agent_name": "Brief", "host": "127.0.0.1", "port": 9, "ttl_seconds": 1 }),
    )
    .await;
    eventually("the expiry alert arrives", || async { !receiver.of("agent.expired").is_empty() }).await;
    let expired: Value = serde_json::from_slice(&receiver.of("agent.expired")[0].body).unwrap();
    assert_eq!(expired["agent"]["agent_id"], "brief");
    // Each alert once, however often its run changes afterwards.
    holds_for("each alert comes once", Duration::from_millis(300), || async {
        receiver.of("run.failed").len() == 2 && receiver.of("run.budget_cancelled").len() == 1
    })
    .await;
}

/// Thousands of log lines at once run the event bus ahead of the alerts: failures among
/// them are read back from the event log and alerted, each once.
async fn failures_inside_a_flood_are_alerted(app: TestApp) {
    let receiver = Receiver::default();
    webhook_for(&app, &receiver.clone().start().await).await;
    let chatty = app.create_run(json!({ "workflow_name": "chatty", "status": "running" })).await;
    let mut failed = Vec::new();
    for round in 0..3 {
        let doomed = app.create_run(json!({ "workflow_name": format!("doomed-{round}"), "status": "running" })).await;
        let fail_path = format!("/api/workflows/{doomed}/fail");
        let fail = app.post(&fail_path, json!({ "error_message": "lost in the flood" }));
        assert_eq!(app.amid_a_flood(&chatty, fail).await.0, StatusCode::OK);
        failed.push(doomed);
    }
    receiver.each_failure_alerted_once(failed, Duration::from_millis(500)).await;
}

async fn replicas_send_each_alert_once(app: TestApp) {
    let replica = app.replica().await;
    let receiver = Receiver::default();
    webhook_for(&app, &receiver.clone().start().await).await;
    let mut failed = Vec::new();
    for (i, server) in [&app, &replica, &app].into_iter().enumerate() {
        let id = server.create_run(json!({ "workflow_name": format!("w{i}"), "status": "running" })).await;
        server.posted(&format!("/api/workflows/{id}/fail"), json!({ "error_message": "x" })).await;
        failed.push(id);
    }
    // Both processes saw every failure; a second copy would arrive within this wait.
    receiver.each_failure_alerted_once(failed, Duration::from_millis(1500)).await;
}

async fn a_receiver_that_hangs_delays_no_request(app: TestApp) {
    let receiver = Receiver { hang: true, ..Default::default() };
    webhook_for(&app, &receiver.clone().start().await).await;
    // Far more alerts than could be delivered at once, each held by the receiver.
    for _ in 0..40 {
        let id = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
        app.posted(&format!("/api/workflows/{id}/fail"), json!({ "error_message": "x" })).await;
    }
    eventually("the receiver holds the deliveries", || async { receiver.of("run.failed").len() >= 40 }).await;
    // Every request still answers at once (each of these waits on nothing webhooks do).
    let summary: shared::Summary = app.fetch("/api/summary").await;
    assert_eq!(summary.failed, 40);
    app.create_run(json!({ "workflow_name": "w" })).await;
    // And the attempts end with the reason.
    eventually("an attempt times out and says so", || async {
        let hooks: Vec<Webhook> = app.fetch("/api/webhooks").await;
        hooks[0].last_error.as_deref().is_some_and(|e| e.contains("no answer within"))
    })
    .await;
}

async fn webhooks_are_checked_tested_and_removed(app: TestApp) {
    for (body, says) in [
        (json!({ "url": "ftp://example.com/x" }), "http or https"),
        (json!({ "url": "not a url" }), "not a URL"),
        (json!({ "url": "http://example.com/\u{0}" }), "control"),
        (json!({ "url": "http://example.com", "events": [] }), "one or more"),
        (json!({ "url": "http://example.com", "events": ["test"] }), "one or more"),
        (json!({ "url": "http://example.com", "events": ["run.exploded"] }), "unknown variant"),
        (json!({ "url": "http://example.com", "colour": "red" }), "colour"),
    ] {
        let (status, answer) = app.post("/api/webhooks", body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(answer.to_string().contains(says), "{body}: {answer}");
    }
    let hooks: Vec<Webhook> = app.fetch("/api/webhooks").await;
    assert!(hooks.is_empty(), "refused requests change nothing");

    let receiver = Receiver::default();
    let created = webhook_for(&app, &receiver.clone().start().await).await;
    let listed: Value = app.fetch("/api/webhooks").await;
    assert!(!listed.to_string().contains(&created.secret), "the secret is shown once only");
    let tested: WebhookTest =
        serde_json::from_value(app.posted_empty(&format!("/api/webhooks/{}/test", created.webhook.id)).await).unwrap();
    assert_eq!((tested.delivered, tested.status), (true, Some(204)));
    assert_eq!(receiver.of("test").len(), 1);

    // A test of a target that does not listen says why.
    let gone = webhook_for(&app, "http://127.0.0.1:9/hook").await;
    let tested: WebhookTest =
        serde_json::from_value(app.posted_empty(&format!("/api/webhooks/{}/test", gone.webhook.id)).await).unwrap();
    assert!(!tested.delivered && tested.error.as_deref().is_some_and(|e| e.contains("refused")), "{tested:?}");

    let (status, _) = app.request(reqwest::Method::DELETE, &format!("/api/webhooks/{}", gone.webhook.id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.request(reqwest::Method::DELETE, &format!("/api/webhooks/{}", gone.webhook.id), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let hooks: Vec<Webhook> = app.fetch("/api/webhooks").await;
    assert_eq!(hooks.len(), 1);
}

/// Tests that start their own dashboard.
mod configured {
    use super::*;
    crate::on_both_databases!(backend: webhooks_go_only_where_the_outbound_policy_allows);
}

async fn webhooks_go_only_where_the_outbound_policy_allows(backend: crate::helpers::Backend) {
    // The default: public addresses only (the tests' own config allows loopback).
    let app = TestApp::spawn_with(backend, |config| config.webhook_networks = Vec::new()).await;
    let own_api = format!("{}/api/workflows", app.address);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0:7861/api/workflows",
        own_api.as_str(),
        "http://localhost:9/hook",
        "http://127.1/hook",
        "http://10.0.0.1/hook",
        "http://[::1]:9/hook",
        "http://[64:ff9b::a9fe:a9fe]/",
    ] {
        let (status, answer) = app.post("/api/webhooks", json!({ "url": url })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("--webhook-networks"), "{url}: {answer}");
    }
    let hooks: Vec<Webhook> = app.fetch("/api/webhooks").await;
    assert!(hooks.is_empty());

    // Allowed here, a receiver on this machine is tested: once per ten seconds, audited.
    let app = app.restart_with(|config| config.webhook_networks = vec!["127.0.0.0/8".parse().unwrap()]).await;
    let receiver = Receiver::default();
    let created = webhook_for(&app, &receiver.clone().start().await).await;
    let test = format!("/api/webhooks/{}/test", created.webhook.id);
    assert_eq!(app.post_empty(&test).await.0, StatusCode::OK);
    let again = app.client.post(app.url(&test)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(again.headers().contains_key("retry-after"));
    let audit: Value = app.fetch("/api/audit").await;
    let tested = &audit["entries"][0];
    assert_eq!(
        (tested["action"].as_str(), tested["target"].as_str()),
        (Some("webhook.test"), Some(created.webhook.id.as_str()))
    );
    assert_eq!(tested["detail"], "delivered: 204");

    // Where the policy changes after a webhook was made, deliveries follow the policy.
    let app = app.restart_with(|config| config.webhook_networks = Vec::new()).await;
    let tested: WebhookTest = serde_json::from_value(app.posted_empty(&test).await).unwrap();
    assert!(
        !tested.delivered && tested.error.as_deref().is_some_and(|e| e.contains("--webhook-networks")),
        "{tested:?}"
    );
    assert_eq!(receiver.of("test").len(), 1, "nothing was sent");
}

//! Outgoing webhooks: alerts (a run failed, a budget cancelled a run or reached 80 %,
//! an agent expired) posted as signed JSON to every webhook that asks for them. Off
//! every request's path: alerts go through a queue, and each delivery is a task of its
//! own, retried with backoff, so a target that hangs or fails delays nothing but its
//! own deliveries.

use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shared::{AgentChange, Alert, Event, RunStatus, WebhookTest, WorkflowRun};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, Semaphore};

use crate::events::EventBus;
use crate::outbound::Outbound;
use crate::store::{Result, Store, StoredWebhook};

/// Alerts waiting for delivery; past this, new ones are dropped (and logged).
const QUEUE: usize = 1024;
/// Deliveries in flight at once, over all webhooks.
const IN_FLIGHT: usize = 256;
/// One attempt's limit, connecting and answering.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Waits before each retry: an alert is tried four times over about 20 s.
const BACKOFF: [Duration; 3] = [Duration::from_secs(1), Duration::from_secs(4), Duration::from_secs(15)];
/// Alerts remembered, so that a run's repeated updates alert once.
const REMEMBERED: usize = 10_000;
/// A webhook may be tested once in this long: tests are not a way to probe hosts.
const TEST_EVERY: Duration = Duration::from_secs(10);

/// An alert as it is sent: what happened, a line for people (Slack's `text`), a link
/// to its page, and the run, agent or budget it is about.
#[derive(Debug, Clone)]
pub struct Notice {
    pub alert: Alert,
    /// What the alert is about, for telling repeats apart (a run id, an agent id).
    pub about: String,
    pub text: String,
    /// Path of the page, joined to the dashboard's public URL.
    pub path: String,
    pub subject: (&'static str, Value),
}

pub struct Webhooks {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    /// Where deliveries may go (`--webhook-networks`).
    policy: Outbound,
    /// The dashboard's URL as the receivers reach it, for links.
    public_url: String,
    queue: mpsc::Sender<Notice>,
    waiting: Mutex<Option<mpsc::Receiver<Notice>>>,
    in_flight: Arc<Semaphore>,
    alerted: Mutex<HashSet<(Alert, String)>>,
    /// When each webhook was last tested.
    tested: Mutex<HashMap<String, Instant>>,
}

impl Webhooks {
    pub fn new(store: Arc<dyn Store>, public_url: &str, policy: Outbound) -> anyhow::Result<Arc<Webhooks>> {
        let client = policy.client(
            reqwest::Client::builder()
                .timeout(ATTEMPT_TIMEOUT)
                .user_agent(concat!("configurable-agents-dashboard/", env!("CARGO_PKG_VERSION"))),
        )?;
        let (queue, waiting) = mpsc::channel(QUEUE);
        Ok(Arc::new(Webhooks {
            store,
            client,
            policy,
            public_url: public_url.trim_end_matches('/').to_owned(),
            queue,
            waiting: Mutex::new(Some(waiting)),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            alerted: Mutex::default(),
            tested: Mutex::default(),
        }))
    }

    /// Queues an alert, once per alert and subject in this process (the database
    /// settles it across processes); never waits.
    pub fn notify(&self, notice: Notice) {
        {
            let mut alerted = self.alerted.lock().unwrap_or_else(|e| e.into_inner());
            if alerted.len() >= REMEMBERED {
                alerted.clear();
            }
            if !alerted.insert((notice.alert, notice.about.clone())) {
                return;
            }
        }
        if self.queue.try_send(notice).is_err() {
            tracing::warn!("webhook alerts are arriving faster than they are delivered; one was dropped");
        }
    }

    /// The body and signature of a delivery.
    fn signed(&self, notice: &Notice, secret: &str) -> (String, String) {
        let link = format!("{}{}", self.public_url, notice.path);
        let mut body = json!({
            "event": notice.alert.as_str(),
            "text": format!("{} {link}", notice.text),
            "link": link,
            "sent_at": Utc::now(),
        });
        body[notice.subject.0] = notice.subject.1.clone();
        let body = body.to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
        mac.update(body.as_bytes());
        (body, format!("sha256={}", crate::callers::hex(&mac.finalize().into_bytes())))
    }

    /// Where webhooks may point, checked when one is made.
    pub fn policy(&self) -> &Outbound {
        &self.policy
    }

    /// One attempt: the status that came back, or why none did.
    async fn attempt(&self, hook: &StoredWebhook, notice: &Notice) -> (Option<u16>, Option<String>) {
        let url = match self.policy.url(&hook.webhook.url) {
            Ok(url) => url,
            Err(refused) => return (None, Some(refused)),
        };
        let (body, signature) = self.signed(notice, &hook.secret);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-dashboard-event", notice.alert.as_str())
            .header("x-dashboard-delivery", uuid::Uuid::new_v4().to_string())
            .header("x-dashboard-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => (Some(answer.status().as_u16()), None),
            Ok(answer) => (Some(answer.status().as_u16()), Some(format!("answered {}", answer.status()))),
            Err(error) if error.is_timeout() => (None, Some(format!("no answer within {ATTEMPT_TIMEOUT:?}"))),
            Err(error) => (None, Some(crate::cause::root_cause(&error))),
        }
    }

    /// Delivers with retries, recording each attempt.
    async fn deliver(self: Arc<Self>, hook: StoredWebhook, notice: Notice) {
        // No wait before the first attempt; the backoff before each retry.
        let mut waits = std::iter::once(Duration::ZERO).chain(BACKOFF).peekable();
        while let Some(wait) = waits.next() {
            tokio::time::sleep(wait).await;
            let (status, error) = self.attempt(&hook, &notice).await;
            let outcome = match error {
                None => Some(true),
                Some(_) if waits.peek().is_none() => Some(false),
                Some(_) => None,
            };
            if let Err(error) = self.store.record_delivery(&hook.webhook.id, status, error, outcome).await {
                tracing::warn!(%error, webhook = %hook.webhook.id, "could not record a delivery");
            }
            if outcome.is_some() {
                return;
            }
        }
    }

    /// Whether webhook `id` may be tested now (and then it counts as tested), or how
    /// long until it may.
    pub fn may_test(&self, id: &str) -> std::result::Result<(), Duration> {
        let mut tested = self.tested.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        tested.retain(|_, at| now.duration_since(*at) < TEST_EVERY);
        match tested.get(id) {
            Some(at) => Err(TEST_EVERY.saturating_sub(now.duration_since(*at))),
            None => {
                tested.insert(id.to_owned(), now);
                Ok(())
            }
        }
    }

    /// `POST /api/webhooks/{id}/test`: one attempt now, recorded like any other.
    pub async fn test(&self, hook: &StoredWebhook, by: &str) -> Result<WebhookTest> {
        let notice = Notice {
            alert: Alert::Test,
            about: String::new(),
            text: format!("Test alert from the configurable-agents dashboard, sent by {by}."),
            path: "/analytics".to_owned(),
            subject: ("webhook", json!({ "id": hook.webhook.id })),
        };
        let (status, error) = self.attempt(hook, &notice).await;
        self.store.record_delivery(&hook.webhook.id, status, error.clone(), None).await?;
        Ok(WebhookTest { delivered: error.is_none(), status, error })
    }

    /// The alert an event raises, if any.
    fn notice_of(event: &Event) -> Option<Notice> {
        let run_notice = |alert, run: &WorkflowRun, what: String| Notice {
            alert,
            about: run.id.clone(),
            text: format!("Run {} of {} {what}.", run.id.get(..8).unwrap_or(&run.id), run.workflow_name),
            path: format!("/workflows/{}", run.id),
            subject: ("run", serde_json::to_value(run).unwrap_or_default()),
        };
        match event {
            Event::WorkflowUpdate(run) if run.status == RunStatus::Failed => {
                let why = run.error_message.as_deref().unwrap_or("no error given");
                Some(run_notice(Alert::RunFailed, run, format!("failed: {why}")))
            }
            Event::WorkflowUpdate(run)
                if run.status == RunStatus::Cancelled
                    && run.error_message.as_deref().is_some_and(|e| e.starts_with("budget ")) =>
            {
                let why = run.error_message.clone().unwrap_or_default();
                Some(run_notice(Alert::RunBudgetCancelled, run, format!("was cancelled: {why}")))
            }
            Event::AgentUpdate(update) if update.change == AgentChange::Expired => Some(Notice {
                alert: Alert::AgentExpired,
                about: format!("{}@{}", update.agent.agent_id, update.agent.last_heartbeat.timestamp()),
                text: format!(
                    "Agent {} ({}) expired: no heartbeat since {}.",
                    update.agent.agent_name,
                    update.agent.agent_id,
                    update.agent.last_heartbeat.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                path: "/agents?expired=1".to_owned(),
                subject: ("agent", serde_json::to_value(&update.agent).unwrap_or_default()),
            }),
            _ => None,
        }
    }

    /// The alerts of logged events after `seen`, read from the event log; `seen`
    /// moves to the newest read.
    async fn catch_up(&self, seen: &mut i64) {
        const PAGE: i64 = 1000;
        loop {
            let events = match self.store.events_after(*seen, PAGE).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "could not read back the events the alerts missed");
                    return;
                }
            };
            for (id, event) in &events {
                *seen = *id;
                if let Some(notice) = Self::notice_of(event) {
                    self.notify(notice);
                }
            }
            if (events.len() as i64) < PAGE {
                return;
            }
        }
    }

    /// Turns the bus's events into alerts and delivers queued alerts, until the
    /// process ends.
    pub fn run(self: Arc<Self>, bus: &EventBus) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut events = bus.subscribe();
        let waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner()).take();
        async move {
            let Some(mut waiting) = waiting else { return };
            // The newest logged event handled: what went by unseen while the bus ran
            // ahead (a flood of writes) is read back from the event log after it, so no
            // alert is lost; what the bus still holds of that is then skipped.
            // Unknown while the database is away at start (reading back from the log's
            // beginning would alert old failures again); the next logged event sets it.
            let mut seen = self.store.event_bounds().await.ok().map(|(_, newest)| newest);
            let mut read_back = 0;
            loop {
                tokio::select! {
                    received = events.recv() => match received {
                        Ok(published) => {
                            if let Some(id) = published.id {
                                if id <= read_back {
                                    continue;
                                }
                                seen = Some(seen.map_or(id, |seen| seen.max(id)));
                            }
                            if let Some(notice) = Self::notice_of(&published.event) {
                                self.notify(notice);
                            }
                        }
                        Err(RecvError::Lagged(missed)) => match seen.as_mut() {
                            Some(seen) => {
                                self.catch_up(seen).await;
                                read_back = *seen;
                            }
                            None => tracing::warn!(missed, "events went by before the alerts knew where the event log stood; their alerts were not sent"),
                        },
                        Err(RecvError::Closed) => return,
                    },
                    // Off this loop: reading webhooks and claiming the alert wait on the
                    // database, and the bus must keep being read meanwhile.
                    Some(notice) = waiting.recv() => drop(tokio::spawn(self.clone().fan_out(notice))),
                }
            }
        }
    }

    async fn fan_out(self: Arc<Self>, notice: Notice) {
        let hooks = match self.store.list_webhooks().await {
            Ok(hooks) => hooks,
            Err(error) => return tracing::warn!(%error, "could not read webhooks; an alert was not sent"),
        };
        if !hooks.iter().any(|h| h.webhook.events.contains(&notice.alert)) {
            return;
        }
        // Another replica (or this process before a restart) may have sent it.
        let about: String = notice.about.chars().take(512).collect();
        match self.store.claim_alert(notice.alert.as_str(), &about).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => return tracing::warn!(%error, "could not claim an alert; it was not sent"),
        }
        for hook in hooks.into_iter().filter(|h| h.webhook.events.contains(&notice.alert)) {
            let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                let error = Some(format!("more than {IN_FLIGHT} deliveries in flight; alert dropped"));
                let _ = self.store.record_delivery(&hook.webhook.id, None, error, Some(false)).await;
                continue;
            };
            let (webhooks, notice) = (self.clone(), notice.clone());
            tokio::spawn(async move {
                webhooks.deliver(hook, notice).await;
                drop(permit);
            });
        }
    }
}

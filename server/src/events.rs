//! The in-process event bus: every committed write is published here, and every SSE
//! connection subscribes. Persisted events carry their `dashboard_events` id.

use shared::{AgentChange, Event};
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};

/// An event as it travels to subscribers; `id` is `None` for events not kept in the
/// event log (the summary, live agents' heartbeats), which never affect resume.
#[derive(Debug, Clone)]
pub struct Published {
    pub id: Option<i64>,
    pub event: Arc<Event>,
}

/// Access that ended: the event streams it opened end too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// A token was revoked (by its id): every stream opened with it ends.
    Token(String),
    /// A browser session ended (by its id's hash).
    Session(String),
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Published>,
    revocations: broadcast::Sender<Revocation>,
    /// Poked by run and agent writes; the summary task recomputes once per burst.
    totals_changed: Arc<Notify>,
    /// Poked by agent writes so the expiry task re-plans its next wake-up.
    agents_changed: Arc<Notify>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(1024).0,
            revocations: broadcast::channel(64).0,
            totals_changed: Arc::new(Notify::new()),
            agents_changed: Arc::new(Notify::new()),
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.sender.subscribe()
    }

    pub fn publish(&self, id: Option<i64>, event: Event) {
        match &event {
            Event::WorkflowUpdate(_) => self.totals_changed.notify_one(),
            // A live agent's heartbeat changes neither the count of agents alive nor
            // when the next one expires before it is due.
            Event::AgentUpdate(update) if update.change != AgentChange::Heartbeat => {
                self.totals_changed.notify_one();
                self.agents_changed.notify_one();
            }
            _ => {}
        }
        // No subscribers is not an error: events are persisted for later readers.
        let _ = self.sender.send(Published { id, event: Arc::new(event) });
    }

    pub fn revoke(&self, revocation: Revocation) {
        let _ = self.revocations.send(revocation);
    }

    pub fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.revocations.subscribe()
    }

    pub fn totals_changed(&self) -> &Notify {
        &self.totals_changed
    }

    pub fn agents_changed(&self) -> &Notify {
        &self.agents_changed
    }
}

//! The in-process event bus: every committed write is published here, and every SSE
//! connection subscribes. Persisted events carry their `dashboard_events` id.

use shared::Event;
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};

/// An event as it travels to subscribers; `id` is `None` for derived, unpersisted
/// events (the summary), which never affect resume.
#[derive(Debug, Clone)]
pub struct Published {
    pub id: Option<i64>,
    pub event: Arc<Event>,
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Published>,
    /// Poked by run writes; the summary task recomputes run totals once per burst.
    runs_changed: Arc<Notify>,
    /// Poked by agent writes, for the summary task and the expiry task.
    agents_changed: Arc<Notify>,
    agents_changed_for_summary: Arc<Notify>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(1024).0,
            runs_changed: Arc::new(Notify::new()),
            agents_changed: Arc::new(Notify::new()),
            agents_changed_for_summary: Arc::new(Notify::new()),
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.sender.subscribe()
    }

    pub fn publish(&self, id: Option<i64>, event: Event) {
        match &event {
            Event::WorkflowUpdate(_) => self.runs_changed.notify_one(),
            Event::AgentUpdate(_) => {
                self.agents_changed.notify_one();
                self.agents_changed_for_summary.notify_one();
            }
            _ => {}
        }
        // No subscribers is not an error: events are persisted for later readers.
        let _ = self.sender.send(Published { id, event: Arc::new(event) });
    }

    pub fn runs_changed(&self) -> &Notify {
        &self.runs_changed
    }

    /// For the expiry task; the summary task has its own, so neither steals the other's wake-up.
    pub fn agents_changed(&self) -> &Notify {
        &self.agents_changed
    }

    pub fn agents_changed_for_summary(&self) -> &Notify {
        &self.agents_changed_for_summary
    }
}

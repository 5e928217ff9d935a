use serde::{Deserialize, Serialize};

use crate::{AgentChange, AgentUpdate, BulkJob, LogLine, NodeState, Summary, WorkflowRun};

/// A live event. On the SSE wire the variant name is the `event:` field and the
/// content is `data:`; persisted events also carry an increasing `id:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    WorkflowUpdate(WorkflowRun),
    NodeState(NodeState),
    RunLog(LogLine),
    AgentUpdate(AgentUpdate),
    Summary(Summary),
    /// A bulk job's progress, after each batch and when it ends.
    BulkJob(BulkJob),
    /// The client may have missed events (too far behind, or resumed from an id that
    /// is no longer kept): it should reload what it shows.
    Resync {
        reason: String,
    },
    /// Sent first on every connection: the newest event id at that moment.
    Ready {
        last_event_id: i64,
    },
}

impl Event {
    /// Every event's name, as `name` gives it.
    pub const NAMES: [&'static str; 8] =
        ["workflow_update", "node_state", "run_log", "agent_update", "summary", "bulk_job", "resync", "ready"];

    pub fn name(&self) -> &'static str {
        match self {
            Event::WorkflowUpdate(_) => "workflow_update",
            Event::NodeState(_) => "node_state",
            Event::RunLog(_) => "run_log",
            Event::AgentUpdate(_) => "agent_update",
            Event::Summary(_) => "summary",
            Event::BulkJob(_) => "bulk_job",
            Event::Resync { .. } => "resync",
            Event::Ready { .. } => "ready",
        }
    }

    /// The event named `name` with `data` as its content (the SSE wire's two halves).
    pub fn from_parts(name: &str, data: serde_json::Value) -> serde_json::Result<Event> {
        serde_json::from_value(serde_json::json!({ "type": name, "data": data }))
    }

    /// The `data:` half of the event: its content without the type tag.
    pub fn data(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => map.remove("data").unwrap_or_default(),
            _ => serde_json::Value::Null,
        }
    }

    /// The run an event belongs to, for per-run streams.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Event::WorkflowUpdate(run) => Some(&run.id),
            Event::NodeState(state) => Some(&state.run_id),
            Event::RunLog(line) => Some(&line.run_id),
            _ => None,
        }
    }

    /// Whether the event log keeps it for clients that resume. A live agent's
    /// heartbeat is sent only to the clients connected then: it is the most frequent
    /// write, and a client that missed one learns as much from the next.
    pub fn is_kept(&self) -> bool {
        !matches!(self, Event::AgentUpdate(AgentUpdate { change: AgentChange::Heartbeat, .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parts_round_trip() {
        let event = Event::Resync { reason: "gone".into() };
        assert_eq!(Event::from_parts(event.name(), event.data()).unwrap(), event);
        assert!(Event::NAMES.contains(&Event::Ready { last_event_id: 1 }.name()));
        assert!(Event::from_parts("nope", serde_json::Value::Null).is_err());
    }
}

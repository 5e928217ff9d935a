//! Which events a stream asked for.

use shared::Event;

use crate::validate::{self, Invalid};

#[derive(Debug, Clone, Default)]
pub struct Topics {
    workflows: bool,
    logs: bool,
    agents: bool,
    pub summary: bool,
    pub run: Option<String>,
}

impl Topics {
    /// Streams of one kind (and one run) want the same events.
    pub fn kind(&self) -> u8 {
        u8::from(self.workflows) | u8::from(self.logs) << 1 | u8::from(self.agents) << 2 | u8::from(self.summary) << 3
    }

    /// `list` is comma-separated; `run` narrows run events to one run.
    pub fn parse(list: &str, run: Option<&str>) -> Result<Topics, Invalid> {
        let mut topics = Topics::default();
        for topic in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match topic {
                "workflows" => topics.workflows = true,
                "logs" => topics.logs = true,
                "agents" => topics.agents = true,
                "summary" => topics.summary = true,
                other => {
                    return Err(Invalid::value(format!(
                        "unknown topic `{other}` (expected workflows, logs, agents or summary)"
                    )))
                }
            }
        }
        topics.run = run.map(validate::run_id).transpose()?;
        Ok(topics)
    }

    pub fn wants(&self, event: &Event) -> bool {
        let topic = match event {
            Event::WorkflowUpdate(_) | Event::NodeState(_) | Event::BulkJob(_) => self.workflows,
            Event::RunLog(_) => self.logs,
            Event::AgentUpdate(_) => self.agents,
            Event::Summary(_) => self.summary,
            Event::Resync { .. } | Event::Ready { .. } => true,
        };
        topic
            && match (&self.run, event.run_id()) {
                (Some(wanted), Some(run)) => wanted == run,
                _ => true,
            }
    }
}

//! One simulated workflow execution: each node "calls an LLM" (waits, spends tokens and
//! money by its model's price, sometimes fails) and, when the dashboard gave a run id,
//! reports its state and log lines into that run as it goes.

use serde_json::{json, Map, Value};
use shared::LogLevel;
use std::time::Duration;

use super::reporter::{ReportError, Reporter};
use crate::samples::{self, Workflow};

/// How the simulated calls behave.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Mean seconds per node (each takes 0.5x to 1.5x of it).
    pub node_seconds: f64,
    /// Chance that a run fails, spread over its nodes.
    pub failure_rate: f64,
}

pub struct Job {
    pub workflow: &'static Workflow,
    pub inputs: Map<String, Value>,
    /// The dashboard's run to report into, when there is one.
    pub run_id: Option<String>,
    pub reporter: Reporter,
    pub behaviour: Behaviour,
}

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Failed(String),
    /// The dashboard refused a report because the run ended there (cancelled).
    #[error("the run was cancelled on the dashboard")]
    Cancelled,
}

impl Job {
    pub async fn execute(self) -> Result<Value, JobError> {
        let mut rng = fastrand::Rng::new();
        let model = samples::MODELS[rng.usize(..samples::MODELS.len())].name;
        let topic = self.inputs.get(self.workflow.topic_field).and_then(Value::as_str).unwrap_or_default().to_owned();
        let nodes = self.workflow.nodes;
        let fail_at = (rng.f64() < self.behaviour.failure_rate).then(|| rng.usize(..nodes.len()));
        self.log(LogLevel::Info, None, format!("Starting {} on \"{topic}\" with {model}", self.workflow.name)).await?;
        let mut results = Map::new();
        for (index, node) in nodes.iter().enumerate() {
            self.log(LogLevel::Info, Some(node), format!("Prompt sent to {model}")).await?;
            let seconds = self.behaviour.node_seconds * (0.5 + rng.f64());
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            if fail_at == Some(index) {
                self.report(samples::failed_node(node, model, seconds)).await?;
                let error = samples::failure(model);
                self.log(LogLevel::Error, Some(node), error.clone()).await?;
                return Err(JobError::Failed(format!("node {node}: {error}")));
            }
            let state = samples::completed_node(&mut rng, node, model, &topic, seconds);
            let tokens = state.total_tokens.unwrap_or_default();
            if let Some(Value::Object(outputs)) = &state.outputs {
                results.extend(outputs.clone());
            }
            self.report(state).await?;
            self.log(LogLevel::Info, Some(node), format!("Done in {seconds:.1} s, {tokens} tokens")).await?;
        }
        self.log(LogLevel::Info, None, format!("{} finished", self.workflow.name)).await?;
        results.insert("result".into(), json!(format!("Report on {topic}")));
        results.insert("score".into(), json!((rng.f64() * 100.0).round() / 100.0));
        Ok(Value::Object(results))
    }

    async fn log(&self, level: LogLevel, node: Option<&str>, message: String) -> Result<(), JobError> {
        let Some(run_id) = &self.run_id else { return Ok(()) };
        self.reporter.log(run_id, level, node, message).await.or_else(keep_going)
    }

    async fn report(&self, state: shared::NodeStateData) -> Result<(), JobError> {
        let Some(run_id) = &self.run_id else { return Ok(()) };
        self.reporter.state(run_id, &state).await.or_else(keep_going)
    }
}

/// A run that ended on the dashboard stops the work; other report failures only lose
/// the report (the dashboard may be restarting), never the job.
fn keep_going(error: ReportError) -> Result<(), JobError> {
    match error {
        ReportError::RunEnded => Err(JobError::Cancelled),
        error => {
            tracing::warn!(%error, "could not report to the dashboard");
            Ok(())
        }
    }
}

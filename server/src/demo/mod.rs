//! The demo: agents that run sample workflows with simulated LLM calls, and for
//! `dashboard --demo`, a few of them in the dashboard's process with a steady trickle
//! of runs, so a new user sees a live system with one command.

pub mod agent;
mod job;
mod reporter;

use clap::Args;
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::config::parse_seconds;
use crate::samples::TOPICS;

/// The demo's agents: one workflow twice, so runs spread over agents.
const AGENTS: &[&str] = &["article_writer", "article_writer", "support_triage", "code_review", "market_research"];
/// Longer runs outlast this and go async, so the demo shows both kinds of answer.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Also run demo agents in this process, and start runs on them steadily.
    #[arg(long, env = "DASHBOARD_DEMO")]
    pub demo: bool,

    /// With --demo: seconds between two new runs (0: agents only, no runs).
    #[arg(long, env = "DASHBOARD_DEMO_INTERVAL", default_value = "4", value_parser = parse_seconds)]
    pub demo_interval: Duration,
}

/// Starts the demo agents, registering with the dashboard at `dashboard_url`, and the
/// trickle of runs. They live as long as the returned set.
pub async fn start(dashboard_url: &str, args: &DemoArgs) -> anyhow::Result<JoinSet<()>> {
    let mut tasks = JoinSet::new();
    let mut counts = std::collections::HashMap::new();
    for workflow in AGENTS {
        let n = counts.entry(*workflow).and_modify(|n| *n += 1).or_insert(1);
        let args = agent::AgentArgs {
            dashboard_url: dashboard_url.to_owned(),
            workflow: (*workflow).to_owned(),
            // Stable ids, so a restarted demo takes its agents' places again.
            agent_id: Some(format!("demo-{workflow}-{n}")),
            host: "127.0.0.1".to_owned(),
            port: 0,
            ttl_seconds: 30,
            sync_timeout: SYNC_TIMEOUT,
            node_seconds: 2.0,
            failure_rate: 0.1,
        };
        let listener = TcpListener::bind((args.host.as_str(), 0)).await?;
        tasks.spawn(async move {
            if let Err(error) = agent::serve(args, listener, std::future::pending()).await {
                tracing::error!("demo agent stopped: {error:#}");
            }
        });
    }
    if !args.demo_interval.is_zero() {
        tasks.spawn(trickle(dashboard_url.to_owned(), args.demo_interval));
    }
    tracing::info!(agents = AGENTS.len(), "demo agents started");
    Ok(tasks)
}

/// Starts a run of a random demo workflow every `every`, through the public API.
async fn trickle(dashboard_url: String, every: Duration) {
    let http = reqwest::Client::new();
    let url = format!("{}/api/workflows/run", dashboard_url.trim_end_matches('/'));
    loop {
        // The first run waits too, so the agents have registered.
        tokio::time::sleep(every).await;
        let workflow = crate::samples::workflow(AGENTS[fastrand::usize(..AGENTS.len())]).expect("demo workflows exist");
        let body = json!({
            "workflow_name": workflow.name,
            "inputs": { workflow.topic_field: TOPICS[fastrand::usize(..TOPICS.len())] },
        });
        match http.post(&url).json(&body).send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => tracing::warn!(status = %response.status(), "the demo could not start a run"),
            Err(error) => tracing::warn!(%error, "the demo could not start a run"),
        }
    }
}

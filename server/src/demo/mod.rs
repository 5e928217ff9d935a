//! The demo: agents that run sample workflows with simulated LLM calls, and for
//! `dashboard --demo`, a few of them in the dashboard's process with a steady trickle
//! of runs, so a new user sees a live system with one command.

pub mod agent;
mod job;
mod reporter;

use serde_json::json;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use shared::{CreateToken, Role};

use crate::callers;
use crate::config::DemoArgs;
use crate::samples::TOPICS;
use crate::store::access::Actor;
use crate::store::Store;

/// The demo's agents: one workflow twice, so runs spread over agents.
const AGENTS: &[&str] = &["article_writer", "article_writer", "support_triage", "code_review", "market_research"];
/// Longer runs outlast this and go async, so the demo shows both kinds of answer.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts the demo agents, registering with the dashboard at `dashboard_url`, and the
/// trickle of runs. They live as long as the returned set. With `tokens`, each agent
/// gets an agent token of its own and the trickle an operator token, made anew on
/// every start (their secrets live only in this process).
pub async fn start(
    dashboard_url: &str,
    args: &DemoArgs,
    store: &dyn Store,
    tokens: bool,
) -> anyhow::Result<JoinSet<()>> {
    let token = |name: String, role: Role, agent_ids: Vec<String>, workflows: Vec<String>| async move {
        let request = CreateToken { name, role, agent_ids, workflows, expires_in_days: None };
        match tokens {
            true => callers::reissue(store, request, &Actor::system()).await.map(|created| Some(created.secret)),
            false => Ok(None),
        }
    };
    let mut tasks = JoinSet::new();
    let mut counts = std::collections::HashMap::new();
    for workflow in AGENTS {
        let n = counts.entry(*workflow).and_modify(|n| *n += 1).or_insert(1);
        // Stable ids, so a restarted demo takes its agents' places again.
        let agent_id = format!("demo-{workflow}-{n}");
        let args = agent::AgentArgs {
            dashboard_url: dashboard_url.to_owned(),
            workflow: (*workflow).to_owned(),
            token: token(
                format!("demo agent {agent_id}"),
                Role::Agent,
                vec![agent_id.clone()],
                vec![(*workflow).to_owned()],
            )
            .await?,
            agent_id: Some(agent_id),
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
        let operator = token("demo runs".to_owned(), Role::Operator, Vec::new(), Vec::new()).await?;
        tasks.spawn(trickle(dashboard_url.to_owned(), args.demo_interval, operator));
    }
    tracing::info!(agents = AGENTS.len(), "demo agents started");
    Ok(tasks)
}

/// Starts a run of a random demo workflow every `every`, through the public API.
async fn trickle(dashboard_url: String, every: Duration, token: Option<String>) {
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
        let mut request = http.post(&url).json(&body);
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => tracing::warn!(status = %response.status(), "the demo could not start a run"),
            Err(error) => tracing::warn!(%error, "the demo could not start a run"),
        }
    }
}

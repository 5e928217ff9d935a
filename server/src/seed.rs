//! `configurable-agents seed`: realistic sample data in bulk, for demos and benchmarks.
//! Runs of a few multi-node workflows with per-node models, tokens, costs and logs,
//! spread over past days; the newest few are still running.

use chrono::{Duration, Utc};
use serde_json::json;
use shared::{LogLevel, NewLogLine, RunStatus, WorkflowRun};
use std::time::Instant;

use crate::config::SeedArgs;
use crate::events::EventBus;
use crate::samples::{self, TOPICS, WORKFLOWS};
use crate::store::{self, NewAgent, RunRecord, SeedRun, Ts};

const BATCH: u64 = 5000;

pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let store = store::connect(&args.database.database_url, EventBus::default()).await?;
    let mut rng = fastrand::Rng::with_seed(args.random_seed);
    let started = Instant::now();
    let now = Utc::now();
    let span_seconds = (args.days.max(1) * 86_400) as i64;
    let mut agents = sample_agents(&mut rng, args.agents);
    let mut done = 0;
    while done < args.runs {
        let count = BATCH.min(args.runs - done);
        let runs = (0..count)
            .map(|i| {
                // Spread evenly from oldest to newest, with jitter; the last runs are live.
                let position = (done + i) as f64 / args.runs.max(1) as f64;
                let age = ((1.0 - position) * span_seconds as f64) as i64 + rng.i64(0..60);
                let live = args.runs - (done + i) <= 3;
                sample_run(&mut rng, now - Duration::seconds(age), live, args.logs_per_run)
            })
            .collect();
        store.seed(runs, std::mem::take(&mut agents)).await?;
        done += count;
        tracing::info!(runs = done, elapsed_s = started.elapsed().as_secs_f64(), "seeded");
    }
    store.analyze().await?;
    Ok(())
}

fn uuid(rng: &mut fastrand::Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

fn sample_run(rng: &mut fastrand::Rng, started_at: chrono::DateTime<Utc>, live: bool, logs_per_run: u64) -> SeedRun {
    let workflow = &WORKFLOWS[rng.usize(..WORKFLOWS.len())];
    let model = samples::MODELS[rng.usize(..samples::MODELS.len())].name;
    let topic = TOPICS[rng.usize(..TOPICS.len())];
    let roll = rng.f64();
    let status = match (live, roll) {
        (true, r) if r < 0.3 => RunStatus::Pending,
        (true, _) => RunStatus::Running,
        (false, r) if r < 0.85 => RunStatus::Completed,
        (false, r) if r < 0.95 => RunStatus::Failed,
        (false, _) => RunStatus::Cancelled,
    };
    let executed = match status {
        RunStatus::Pending => 0,
        RunStatus::Completed => workflow.nodes.len(),
        _ => rng.usize(1..=workflow.nodes.len()),
    };
    let (mut clock, mut tokens, mut cost) = (Ts::from(started_at), 0i64, 0.0f64);
    let mut states = Vec::new();
    let mut logs = Vec::new();
    for (index, node) in workflow.nodes.iter().take(executed).enumerate() {
        let duration = rng.f64() * 8.0 + 0.4;
        clock = clock.plus_seconds(duration.ceil() as i64);
        let failed_here = status == RunStatus::Failed && index + 1 == executed;
        let state = if failed_here {
            samples::failed_node(node, model, duration)
        } else {
            let state = samples::completed_node(rng, node, model, topic, duration);
            tokens += state.total_tokens.unwrap_or(0);
            cost += state.cost_usd.unwrap_or(0.0);
            state
        };
        states.push((clock, state));
    }
    for line in 0..logs_per_run {
        let node = workflow.nodes[line as usize % workflow.nodes.len()];
        let (level, message) = match (status, line + 1 == logs_per_run) {
            (RunStatus::Failed, true) => (LogLevel::Error, format!("node {node} failed: rate limit exceeded")),
            _ if line == 0 => (LogLevel::Info, format!("starting {} on \"{topic}\"", workflow.name)),
            _ => (LogLevel::Info, format!("node {node}: prompt sent to {model}")),
        };
        logs.push((
            Ts::from(started_at).plus_seconds(line as i64),
            NewLogLine { level, message, node_id: Some(node.to_owned()) },
        ));
    }
    let finished = !status.is_active();
    let duration = clock.seconds_since(Ts::from(started_at)).max(0.5);
    let run = WorkflowRun {
        id: uuid(rng),
        workflow_name: workflow.name.to_owned(),
        status,
        started_at,
        completed_at: finished.then(|| clock.utc()),
        duration_seconds: finished.then_some(duration),
        total_tokens: (executed > 0).then_some(tokens),
        total_cost_usd: (executed > 0).then_some(cost),
        error_message: (status == RunStatus::Failed).then(|| format!("rate limit exceeded for {model}")),
        restarted_from: None,
    };
    let record = RunRecord {
        inputs: Some(json!({ workflow.topic_field: topic }).to_string()),
        outputs: (status == RunStatus::Completed)
            .then(|| json!({ "result": format!("Report on {topic}"), "score": rng.f64() }).to_string()),
        config_snapshot: Some(samples::config_snapshot(workflow, model).to_string()),
        bottleneck_info: None,
        mlflow: Default::default(),
        dispatch: None,
        run,
    };
    SeedRun { record, states, logs }
}

fn sample_agents(rng: &mut fastrand::Rng, count: u64) -> Vec<(NewAgent, Ts)> {
    (0..count)
        .map(|i| {
            let workflow = &WORKFLOWS[i as usize % WORKFLOWS.len()];
            // Half the agents sent a heartbeat just now, half went quiet a while ago.
            let heartbeat = if i % 2 == 0 { Ts::now() } else { Ts::now().plus_seconds(-rng.i64(120..500)) };
            let agent = NewAgent {
                agent_id: format!("{}-{}", workflow.name, i + 1),
                agent_name: format!("{} agent {}", workflow.name.replace('_', " "), i + 1),
                host: "127.0.0.1".to_owned(),
                port: 9000 + i as u16,
                ttl_seconds: 60,
                metadata: Some(
                    json!({ "capabilities": [workflow.name], "nodes": workflow.nodes, "version": "1.0.0" }).to_string(),
                ),
            };
            (agent, heartbeat)
        })
        .collect()
}

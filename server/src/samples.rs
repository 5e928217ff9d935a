//! Sample workflows, models and topics, shared by `seed` (history in bulk) and the demo
//! agent (runs simulated live), so both tell the same story.

use serde_json::{json, Value};
use shared::NodeStateData;

pub struct Workflow {
    pub name: &'static str,
    pub description: &'static str,
    pub nodes: &'static [&'static str],
    /// The one required input field.
    pub topic_field: &'static str,
}

pub const WORKFLOWS: &[Workflow] = &[
    Workflow {
        name: "article_writer",
        description: "Research a topic and write an article about it",
        nodes: &["research", "write"],
        topic_field: "topic",
    },
    Workflow {
        name: "support_triage",
        description: "Classify a support ticket and draft a reviewed reply",
        nodes: &["classify", "draft_reply", "review"],
        topic_field: "ticket",
    },
    Workflow {
        name: "code_review",
        description: "Review a pull request and summarise the findings",
        nodes: &["fetch_diff", "analyze", "summarize"],
        topic_field: "pull_request",
    },
    Workflow {
        name: "invoice_extractor",
        description: "Extract and validate the fields of an invoice",
        nodes: &["parse", "extract", "validate"],
        topic_field: "document",
    },
    Workflow {
        name: "market_research",
        description: "Compare the players of a market and write a scored report",
        nodes: &["search", "compare", "score", "report"],
        topic_field: "market",
    },
];

pub struct Model {
    pub name: &'static str,
    /// USD per million input / output tokens.
    pub price_in: f64,
    pub price_out: f64,
}

pub const MODELS: &[Model] = &[
    Model { name: "gpt-4o-mini", price_in: 0.15, price_out: 0.60 },
    Model { name: "gpt-4o", price_in: 2.50, price_out: 10.0 },
    Model { name: "claude-3-5-haiku", price_in: 0.80, price_out: 4.0 },
    Model { name: "gemini-1.5-flash", price_in: 0.075, price_out: 0.30 },
];

pub const TOPICS: &[&str] = &[
    "solar storage",
    "rust async runtimes",
    "EU AI act",
    "coffee supply chains",
    "quantum sensors",
    "urban cycling",
    "battery recycling",
];

pub fn workflow(name: &str) -> Option<&'static Workflow> {
    WORKFLOWS.iter().find(|w| w.name == name)
}

fn model(name: &str) -> &'static Model {
    MODELS.iter().find(|m| m.name == name).unwrap_or(&MODELS[0])
}

/// A workflow config (schema 1.0) as the original runtime snapshots it.
pub fn config_snapshot(workflow: &Workflow, model: &str) -> Value {
    let nodes: Vec<Value> = workflow
        .nodes
        .iter()
        .map(|node| json!({ "id": node, "prompt": format!("{node} for {{state.{}}}", workflow.topic_field), "outputs": [format!("{node}_result")] }))
        .collect();
    let mut edges = vec![json!({ "from": "START", "to": workflow.nodes[0] })];
    edges.extend(workflow.nodes.windows(2).map(|pair| json!({ "from": pair[0], "to": pair[1] })));
    edges.push(json!({ "from": workflow.nodes[workflow.nodes.len() - 1], "to": "END" }));
    json!({
        "schema_version": "1.0",
        "flow": { "name": workflow.name, "description": workflow.description, "version": "1.0.0" },
        "state": { "fields": { workflow.topic_field: { "type": "str", "required": true } } },
        "nodes": nodes,
        "edges": edges,
        "config": {
            "llm": { "provider": "openai", "model": model, "temperature": 0.7 },
            "observability": { "mlflow": { "enabled": true, "experiment_name": "configurable_agents" } }
        }
    })
}

/// A node that ran: random token counts, priced by its model, in the original's shape.
pub fn completed_node(
    rng: &mut fastrand::Rng,
    node: &str,
    model_name: &str,
    topic: &str,
    duration: f64,
) -> NodeStateData {
    let model = model(model_name);
    let (input, output) = (rng.i64(200..4000), rng.i64(50..1500));
    NodeStateData {
        node_id: node.to_owned(),
        status: Some("completed".into()),
        duration_seconds: Some(duration),
        input_tokens: Some(input),
        output_tokens: Some(output),
        total_tokens: Some(input + output),
        model: Some(model.name.to_owned()),
        cost_usd: Some((input as f64 * model.price_in + output as f64 * model.price_out) / 1e6),
        outputs: Some(json!({ format!("{node}_result"): format!("{node} notes on {topic}") })),
        ..Default::default()
    }
}

/// A node whose LLM call failed, in the original's shape.
pub fn failed_node(node: &str, model: &str, duration: f64) -> NodeStateData {
    NodeStateData {
        node_id: node.to_owned(),
        status: Some("failed".into()),
        duration_seconds: Some(duration),
        // Beyond the original's failure report, which names no model: ours may.
        model: Some(model.to_owned()),
        error: Some(failure(model)),
        ..Default::default()
    }
}

pub fn failure(model: &str) -> String {
    format!("LLM call failed: rate limit exceeded for {model} (429)")
}

//! One body, one answer, on either database. PostgreSQL's `text` and `jsonb` refuse
//! the NUL character that SQLite stores, so a NUL in any string of any write's body
//! must be stored by both or refused by both with a 4xx; never a 5xx. Every operation
//! of the OpenAPI document that takes a JSON body is tried, with a NUL in each of its
//! strings in turn, on both databases side by side.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_any_string_of_any_write_gets_one_answer_on_both_databases() {
    let apps = [TestApp::spawn(Backend::Sqlite).await, TestApp::spawn(Backend::Postgres).await];
    for app in &apps {
        app.posted(
            "/api/agents/register",
            json!({"agent_id": "nul", "agent_name": "nul", "host": "127.0.0.1", "port": 9}),
        )
        .await;
    }
    let doc: Value = apps[0].fetch("/api/openapi.json").await;
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            if schema.is_null() {
                continue;
            }
            let body = example(&doc, schema, 0);
            for leaf in strings(&body) {
                let hostile = with_nul(&body, &leaf);
                let mut answers = Vec::new();
                for app in &apps {
                    // A running run and an agent that exist; other ids are unknown (404 on both).
                    let run = app.create_run(json!({ "workflow_name": "nul", "status": "running" })).await;
                    let id = if path.starts_with("/api/agents/") { "nul" } else { run.as_str() };
                    let path = path.replace("{id}", id).replace("{agent_id}", "nul");
                    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                    let response = app.client.request(method, app.url(&path)).json(&hostile).send().await.unwrap();
                    answers.push((response.status(), response.text().await.unwrap_or_default()));
                }
                let what = format!("{method} {path} with a NUL at {leaf:?}");
                assert!(answers.iter().all(|(status, _)| !status.is_server_error()), "{what}: {answers:?}");
                assert_eq!(answers[0].0, answers[1].0, "{what}: {answers:?}");
                tried += 1;
            }
        }
    }
    assert!(tried >= 50, "only {tried} strings were tried");
}

/// A body the schema describes, every property given but a new resource's own `id` and
/// the ids that are the alternative to a filter: strings are `"text"`, enums their
/// first value, free JSON an object holding a string.
fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return example(doc, &doc["components"]["schemas"][name], depth + 1);
    }
    for choice in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema[choice].as_array().and_then(|all| all.iter().find(|s| s["type"] != "null")) {
            return example(doc, first, depth + 1);
        }
    }
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned().unwrap_or_default(),
        kind => kind.clone(),
    };
    match kind.as_str() {
        Some("string") if schema["format"] == "date-time" => json!("2026-01-01T00:00:00Z"),
        Some("string") => json!("text"),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("array") if depth < 6 => json!([example(doc, &schema["items"], depth + 1)]),
        Some("object") | None if depth < 6 => match schema["properties"].as_object() {
            Some(properties) => properties
                .iter()
                .filter(|(name, _)| *name != "id" && !(*name == "ids" && properties.contains_key("filter")))
                .map(|(name, property)| (name.clone(), example(doc, property, depth + 1)))
                .collect(),
            None => json!({ "free": "text" }),
        },
        _ => Value::Null,
    }
}

/// Where the strings of `value` are, as JSON pointers.
fn strings(value: &Value) -> Vec<String> {
    fn walk(value: &Value, at: String, found: &mut Vec<String>) {
        match value {
            Value::String(_) => found.push(at),
            Value::Array(items) => {
                items.iter().enumerate().for_each(|(i, item)| walk(item, format!("{at}/{i}"), found))
            }
            Value::Object(fields) => fields.iter().for_each(|(key, item)| walk(item, format!("{at}/{key}"), found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(value, String::new(), &mut found);
    found
}

fn with_nul(body: &Value, at: &str) -> Value {
    let mut hostile = body.clone();
    if let Some(Value::String(text)) = hostile.pointer_mut(at) {
        text.insert(1, '\0');
    }
    hostile
}

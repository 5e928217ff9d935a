//! The workflows that alive agents serve, with their input fields where an agent's
//! `/schema` describes them, for the "start a run" form.

use futures_util::stream::{self, StreamExt};
use serde_json::{Map, Value};
use shared::{AgentInfo, CatalogAgent, CatalogEntry};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::agent_api::AgentClient;

/// Schemas asked of agents are kept this long; a failed question only briefly, so a
/// slow start or a blip is not remembered.
const SCHEMA_FRESH: Duration = Duration::from_secs(30);
const SCHEMA_MISSING: Duration = Duration::from_secs(5);
/// At most this many agents are asked at once, however many workflows there are.
const SCHEMA_QUESTIONS: usize = 8;

/// An agent's schema (`None`: no usable answer) and when it was asked.
type Asked = (Instant, Option<Value>);

/// Agents' schemas by agent URL.
#[derive(Clone, Default)]
pub struct Schemas(Arc<Mutex<HashMap<String, Asked>>>);

impl Schemas {
    async fn of(&self, client: &AgentClient, agent: &AgentInfo) -> Option<Value> {
        let url = agent.base_url();
        let cached = self.lock().get(&url).filter(|(asked, schema)| fresh(*asked, schema)).map(|(_, s)| s.clone());
        if let Some(schema) = cached {
            return schema;
        }
        let schema = client.schema(&url).await.ok();
        let mut cache = self.lock();
        cache.retain(|_, (asked, schema)| fresh(*asked, schema));
        cache.insert(url, (Instant::now(), schema.clone()));
        schema
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Asked>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn fresh(asked: Instant, schema: &Option<Value>) -> bool {
    asked.elapsed() < if schema.is_some() { SCHEMA_FRESH } else { SCHEMA_MISSING }
}

/// One entry per offered workflow, sorted by name. Each workflow's schema is asked of
/// one of its agents (a few at a time, answers kept a while); an agent
/// without a usable `/schema` leaves it blank.
pub async fn build(client: &AgentClient, schemas: &Schemas, agents: &[AgentInfo]) -> Vec<CatalogEntry> {
    let mut offered: BTreeMap<&str, Vec<&AgentInfo>> = BTreeMap::new();
    for agent in agents.iter().filter(|agent| agent.is_alive) {
        for workflow in agent.offers() {
            offered.entry(workflow).or_default().push(agent);
        }
    }
    let asked: Vec<AgentInfo> = offered.values().map(|serving| serving[0].clone()).collect();
    let schemas: Vec<Option<Value>> = stream::iter(asked)
        .map(|agent| async move { schemas.of(client, &agent).await })
        .buffered(SCHEMA_QUESTIONS)
        .collect()
        .await;
    offered
        .into_iter()
        .zip(schemas)
        .map(|((workflow, serving), schema)| {
            let schema = schema.as_ref().and_then(|s| described(s, workflow));
            CatalogEntry {
                workflow_name: workflow.to_owned(),
                agents: serving
                    .iter()
                    .map(|a| CatalogAgent { agent_id: a.agent_id.clone(), agent_name: a.agent_name.clone() })
                    .collect(),
                description: schema.and_then(|s| s.get("description")).and_then(Value::as_str).map(str::to_owned),
                inputs: schema.and_then(input_fields),
            }
        })
        .collect()
}

/// The part of a schema about `workflow`: the schema itself, or its entry in a
/// `workflows` list when one agent describes several.
fn described<'a>(schema: &'a Value, workflow: &str) -> Option<&'a Map<String, Value>> {
    let map = schema.as_object()?;
    match map.get("workflows").and_then(Value::as_array) {
        Some(list) => list.iter().filter_map(Value::as_object).find(|entry| {
            entry.get("name").or_else(|| entry.get("workflow")).and_then(Value::as_str) == Some(workflow)
        }),
        None => Some(map),
    }
}

/// Input fields by name: `inputs` as an object of fields, or a JSON-schema `properties`
/// (with `required` marking fields), or `inputs` as a plain list of names.
fn input_fields(schema: &Map<String, Value>) -> Option<Map<String, Value>> {
    match schema.get("inputs") {
        Some(Value::Object(fields)) => return Some(fields.clone()),
        Some(Value::Array(names)) => {
            return Some(
                names.iter().filter_map(Value::as_str).map(|n| (n.to_owned(), Value::Object(Map::new()))).collect(),
            )
        }
        _ => {}
    }
    let properties = schema.get("properties")?.as_object()?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Some(
        properties
            .iter()
            .map(|(name, field)| {
                let mut field = field.as_object().cloned().unwrap_or_default();
                field.insert("required".into(), Value::Bool(required.contains(&name.as_str())));
                (name.clone(), Value::Object(field))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_of_several_shapes_give_input_fields() {
        let ours = json!({"workflow": "w", "inputs": {"topic": {"type": "str", "required": true}}});
        let fields = input_fields(described(&ours, "w").unwrap()).unwrap();
        assert_eq!(fields["topic"]["required"], json!(true));

        let several = json!({"workflows": [{"name": "a", "inputs": ["x"]}, {"name": "b", "inputs": ["y"]}]});
        assert!(input_fields(described(&several, "b").unwrap()).unwrap().contains_key("y"));
        assert!(described(&several, "c").is_none());

        let json_schema = json!({"properties": {"q": {"type": "string"}, "n": {}}, "required": ["q"]});
        let fields = input_fields(described(&json_schema, "w").unwrap()).unwrap();
        assert_eq!((fields["q"]["required"].clone(), fields["n"]["required"].clone()), (json!(true), json!(false)));

        assert!(input_fields(described(&json!({"outputs": []}), "w").unwrap()).is_none());
    }
}

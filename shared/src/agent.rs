use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The registry's view of an agent, with the original registry's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentInfo {
    pub agent_id: String,
    pub agent_name: String,
    pub host: String,
    pub port: u16,
    pub is_alive: bool,
    pub last_heartbeat: DateTime<Utc>,
    pub registered_at: DateTime<Utc>,
    pub ttl_seconds: i64,
    /// The raw metadata JSON string, as the original stored it.
    pub metadata: Option<String>,
    /// Parsed from metadata the way the original did.
    pub capabilities: Vec<String>,
    /// `last_heartbeat + ttl_seconds`: alive strictly before this instant.
    pub expires_at: DateTime<Utc>,
}

impl AgentInfo {
    /// The workflows this agent offers: its capabilities, or its own name when it
    /// lists none (an agent of the original kind serves the one workflow it is named for).
    pub fn offers(&self) -> Vec<&str> {
        offered(&self.agent_name, &self.capabilities)
    }

    /// Whether a run of `workflow` may be sent here: named for it, or listing it.
    pub fn serves(&self, workflow: &str) -> bool {
        self.agent_name == workflow || self.capabilities.iter().any(|c| c == workflow)
    }

    /// The agent's base URL, e.g. `http://127.0.0.1:9000` (IPv6 hosts bracketed).
    pub fn base_url(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }
}

/// What an agent named `name` with these capabilities offers: its capabilities, or
/// the one workflow it is named for.
pub fn offered<'a>(name: &'a str, capabilities: &'a [String]) -> Vec<&'a str> {
    match capabilities.is_empty() {
        true => vec![name],
        false => capabilities.iter().map(String::as_str).collect(),
    }
}

/// `POST /api/agents/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    pub agent_id: String,
    pub agent_name: String,
    pub host: String,
    pub port: i64,
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    /// A JSON string as the original sent it, or a JSON object.
    #[serde(default)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatAck {
    pub status: String,
    pub last_heartbeat: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentDeleted {
    pub status: String,
    pub agent_id: String,
}

/// `GET /api/agents/{id}/owner`: who registered the id first and so may act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentOwner {
    pub agent_id: String,
    /// The owning token's name, or `user:NAME` for a caller without a token (an SSO
    /// user, `user:local` without sign-in); none: the next registration claims it.
    pub owner: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
}

/// `PUT /api/agents/{id}/owner`: gives the id to a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetAgentOwner {
    /// The name of the token that owns it from now on.
    pub token: String,
}

/// Why an `agent_update` event was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AgentChange {
    Registered,
    /// A heartbeat of an agent that was alive (not kept in the event log).
    Heartbeat,
    /// A heartbeat of an agent that had expired: it is alive again.
    Revived,
    Expired,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentUpdate {
    pub change: AgentChange,
    pub agent: AgentInfo,
    /// Who registered or deregistered it, for changes someone made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// Capabilities as the original read them from `agent_metadata`: a JSON object's
/// `capabilities` list, else its `nodes` list, else a JSON list's items, else none.
pub fn capabilities_from_metadata(metadata: Option<&str>) -> Vec<String> {
    let Some(parsed) = metadata.and_then(|text| serde_json::from_str::<Value>(text).ok()) else {
        return Vec::new();
    };
    let items = match &parsed {
        Value::Object(map) => {
            map.get("capabilities").filter(|v| v.is_array()).or_else(|| map.get("nodes").filter(|v| v.is_array()))
        }
        Value::Array(_) => Some(&parsed),
        _ => None,
    };
    items
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|item| match item {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::capabilities_from_metadata as caps;

    #[test]
    fn capabilities_follow_the_original_precedence() {
        assert_eq!(caps(Some(r#"{"capabilities":["a","b"],"nodes":["x"]}"#)), ["a", "b"]);
        assert_eq!(caps(Some(r#"{"nodes":["research", 2]}"#)), ["research", "2"]);
        assert_eq!(caps(Some(r#"["x","y"]"#)), ["x", "y"]);
        assert!(caps(Some(r#"{"capabilities":"nope"}"#)).is_empty());
        assert!(caps(Some("not json")).is_empty());
        assert!(caps(None).is_empty());
    }
}

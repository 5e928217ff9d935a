//! The agent registry, with the original registry's protocol under /api.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;
use shared::{AgentDeleted, AgentInfo, AgentOwner, HeartbeatAck, RegisterAgent, SetAgentOwner};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path, Query};
use super::AppState;
use crate::callers::Caller;
use crate::store::NewAgent;
use crate::validate;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(register))
        .routes(routes!(detail, remove))
        .routes(routes!(heartbeat))
        .routes(routes!(docs))
        .routes(routes!(owner, transfer, free))
}

const METADATA_LIMIT: usize = 4000;

/// Registers an agent, or updates its registration (the original registry's protocol).
#[utoipa::path(post, path = "/agents/register", tag = "agents", security(("token" = ["register"])), request_body = RegisterAgent,
    responses((status = OK, body = AgentInfo)))]
async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<RegisterAgent>,
) -> Result<axum::Json<AgentInfo>, ApiError> {
    let agent = validated(body)?;
    let capabilities = shared::capabilities_from_metadata(agent.metadata.as_deref());
    let claim = caller.claim(&agent.agent_id, &shared::offered(&agent.agent_name, &capabilities))?;
    state.services.dispatcher.policy().resolve(&agent.host).await.map_err(ApiError::Invalid)?;
    let audit = caller.audit("agent.register", &agent.agent_id, Some(format!("{}:{}", agent.host, agent.port)));
    Ok(axum::Json(state.services.store.register_agent(agent, claim, audit).await?))
}

fn validated(body: RegisterAgent) -> Result<NewAgent, ApiError> {
    validate::name("agent_id", &body.agent_id, 255)?;
    // The id is a path segment of the registry's routes, which hold no separators.
    if body.agent_id.contains(['/', '\\']) {
        return Err(ApiError::invalid("`agent_id` must not contain / or \\"));
    }
    validate::name("agent_name", &body.agent_name, 256)?;
    validate::name("host", &body.host, 256)?;
    // The host ends up in a redirect URL: only hostname and IP address characters.
    if !body.host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c)) {
        return Err(ApiError::invalid("`host` must be a hostname or an IP address"));
    }
    let port = u16::try_from(body.port)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| ApiError::invalid("`port` must be between 1 and 65535"))?;
    let ttl_seconds = body.ttl_seconds.unwrap_or(60);
    if !(1..=3600).contains(&ttl_seconds) {
        return Err(ApiError::invalid("`ttl_seconds` must be between 1 and 3600"));
    }
    // The original sent metadata as a JSON string; an object or list is stored as its text.
    let metadata = match body.metadata {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text),
        Some(value @ (Value::Object(_) | Value::Array(_))) => Some(value.to_string()),
        Some(_) => return Err(ApiError::invalid("`metadata` must be a JSON string, object or list")),
    };
    if let Some(text) = &metadata {
        validate::text("metadata", text, METADATA_LIMIT)?;
    }
    Ok(NewAgent { agent_id: body.agent_id, agent_name: body.agent_name, host: body.host, port, ttl_seconds, metadata })
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Also agents whose registration expired (kept for a grace period).
    #[serde(default)]
    include_dead: bool,
}

/// The registered agents, alive ones only unless asked.
#[utoipa::path(get, path = "/agents", operation_id = "list_agents", tag = "agents", security(("token" = ["read"])), params(ListQuery), responses((status = OK, body = Vec<AgentInfo>)))]
async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Vec<AgentInfo>>, ApiError> {
    let mut agents = state.services.store.list_agents().await?;
    if !query.include_dead {
        agents.retain(|agent| agent.is_alive);
    }
    Ok(axum::Json(agents))
}

async fn find(state: &AppState, id: &str) -> Result<AgentInfo, ApiError> {
    state.services.store.get_agent(id).await?.ok_or_else(|| unknown_agent(id))
}

fn unknown_agent(id: &str) -> ApiError {
    ApiError::NotFound(format!("no agent with id {id}"))
}

#[utoipa::path(get, path = "/agents/{id}", operation_id = "get_agent", tag = "agents", security(("token" = ["read"])), params(("id" = String, Path)),
    responses((status = OK, body = AgentInfo)))]
async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> Result<axum::Json<AgentInfo>, ApiError> {
    Ok(axum::Json(find(&state, &id).await?))
}

/// Keeps the agent's registration alive for its `ttl_seconds`.
#[utoipa::path(post, path = "/agents/{id}/heartbeat", tag = "agents", security(("token" = ["register"])), params(("id" = String, Path)),
    responses((status = OK, body = HeartbeatAck)))]
async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<HeartbeatAck>, ApiError> {
    caller.may_manage_agent(state.services.store.as_ref(), &id).await?;
    let agent = state.services.store.heartbeat(&id).await?;
    Ok(axum::Json(HeartbeatAck { status: "ok".to_owned(), last_heartbeat: agent.last_heartbeat }))
}

/// Deregisters the agent.
#[utoipa::path(delete, path = "/agents/{id}", operation_id = "deregister_agent", tag = "agents", security(("token" = ["deregister"])), params(("id" = String, Path)),
    responses((status = OK, body = AgentDeleted)))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<AgentDeleted>, ApiError> {
    caller.may_manage_agent(state.services.store.as_ref(), &id).await?;
    let audit = caller.audit("agent.deregister", &id, None);
    state.services.store.delete_agent(&id, None, Some(audit)).await?.ok_or_else(|| unknown_agent(&id))?;
    Ok(axum::Json(AgentDeleted { status: "deleted".to_owned(), agent_id: id }))
}

/// Redirects to the agent's own OpenAPI page.
#[utoipa::path(get, path = "/agents/{id}/docs", tag = "agents", security(("token" = ["read"])), params(("id" = String, Path)),
    responses((status = TEMPORARY_REDIRECT, description = "to the agent's /docs")))]
async fn docs(State(state): State<AppState>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let agent = find(&state, &id).await?;
    Ok((StatusCode::TEMPORARY_REDIRECT, [(LOCATION, format!("{}/docs", agent.base_url()))]))
}

/// Who owns the agent id: registering, heartbeating and deregistering it are theirs.
#[utoipa::path(get, path = "/agents/{id}/owner", operation_id = "get_agent_owner", tag = "agents", security(("token" = ["administer"])),
    params(("id" = String, Path)), responses((status = OK, body = AgentOwner)))]
async fn owner(State(state): State<AppState>, Path(id): Path<String>) -> Result<axum::Json<AgentOwner>, ApiError> {
    validate::name("id", &id, 255)?;
    let found = state.services.store.agent_owner(&id).await?;
    let owner = found.as_ref().map(|record| record.token_name.clone().unwrap_or_else(|| record.owner.clone()));
    let claimed_at = found.and_then(|record| record.claimed_at).map(|at| at.utc());
    Ok(axum::Json(AgentOwner { agent_id: id, owner, claimed_at }))
}

/// Gives the agent id to a token (which may then register and heartbeat it).
#[utoipa::path(put, path = "/agents/{id}/owner", operation_id = "transfer_agent", tag = "agents", security(("token" = ["administer"])),
    params(("id" = String, Path)), request_body = SetAgentOwner, responses((status = OK, body = AgentOwner)))]
async fn transfer(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<SetAgentOwner>,
) -> Result<axum::Json<AgentOwner>, ApiError> {
    validate::name("id", &id, 255)?;
    validate::name("token", &body.token, 128)?;
    let audit = caller.audit("agent.transfer", &id, Some(body.token.clone()));
    state.services.store.set_agent_owner(&id, Some(body.token), audit).await?;
    owner(state, Path(id)).await
}

/// Frees the agent id: the next registration claims it.
#[utoipa::path(delete, path = "/agents/{id}/owner", operation_id = "free_agent", tag = "agents", security(("token" = ["administer"])),
    params(("id" = String, Path)), responses((status = OK, body = AgentOwner)))]
async fn free(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<AgentOwner>, ApiError> {
    validate::name("id", &id, 255)?;
    state.services.store.set_agent_owner(&id, None, caller.audit("agent.free", &id, None)).await?;
    owner(state, Path(id)).await
}

//! Agent identity: which agent ids and runs a caller may act on. Every registration
//! records who owns the id, whatever the caller (`Claim`); an agent token then acts
//! only on the ids it owns, reports only into runs created with it or dispatched to
//! one of its agents, and creates runs only of workflows its agents declare. An agent
//! token bound to workflows (by an admin) declares and records no others: what an
//! agent says it serves is otherwise its own word. Other roles are limited by their
//! role alone.

use shared::Role;

use super::error::ApiError;
use crate::callers::Caller;
use crate::store::access::{Claim, ClaimKind};
use crate::store::Store;

fn not_yours(agent_id: &str) -> ApiError {
    ApiError::Forbidden(format!(
        "agent id `{agent_id}` belongs to another caller; an admin can transfer it (PUT /api/agents/{agent_id}/owner)"
    ))
}

impl Caller {
    /// How this caller's registration of `agent_id`, declaring the workflows `serves`,
    /// claims it.
    pub fn claim(&self, agent_id: &str, serves: &[&str]) -> Result<Claim, ApiError> {
        if let Some(other) = serves.iter().find(|workflow| !self.bound_to(workflow)) {
            return Err(ApiError::Forbidden(format!(
                "this token's agents may serve only {}; the agent declares `{other}`",
                self.workflows.join(", ")
            )));
        }
        let kind = match (self.role, self.agent_ids.is_empty()) {
            (Role::Agent, true) => ClaimKind::Own,
            (Role::Agent, false) if self.agent_ids.iter().any(|id| id == agent_id) => ClaimKind::Bound,
            (Role::Agent, false) => {
                return Err(ApiError::Forbidden(format!("this token is bound to other agent ids than `{agent_id}`")))
            }
            _ => ClaimKind::Any,
        };
        Ok(Claim { owner: self.owner_key(), kind })
    }

    /// Whether the caller may heartbeat or deregister `agent_id`. An agent token: only
    /// its own; an id nobody registered is left to the handler's 404 (on which the
    /// original registry client registers again).
    pub async fn may_manage_agent(&self, store: &dyn Store, agent_id: &str) -> Result<(), ApiError> {
        if self.role != Role::Agent || self.owns(store, agent_id).await? {
            return Ok(());
        }
        let owned = store.agent_owner(agent_id).await?.is_some();
        match owned || store.get_agent(agent_id).await?.is_some() {
            true => Err(not_yours(agent_id)),
            false => Ok(()),
        }
    }

    async fn owns(&self, store: &dyn Store, agent_id: &str) -> Result<bool, ApiError> {
        Ok(store.agent_owner(agent_id).await?.is_some_and(|found| found.owner == self.owner_key()))
    }

    /// Whether the caller may report into the run: an agent token only into runs
    /// created with it or dispatched to an agent it owns.
    pub async fn may_report(&self, store: &dyn Store, run_id: &str) -> Result<(), ApiError> {
        if self.role != Role::Agent {
            return Ok(());
        }
        let owners = store
            .run_owners(run_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no workflow run with id {run_id}")))?;
        if owners.created_by_token.is_some() && owners.created_by_token == self.token_id {
            return Ok(());
        }
        if let Some(agent_id) = owners.agent_id {
            if self.owns(store, &agent_id).await? {
                return Ok(());
            }
        }
        Err(ApiError::Forbidden(format!(
            "run {run_id} was neither dispatched to one of your agents nor created with your token"
        )))
    }

    /// Whether an agent token's binding (if any) allows `workflow`.
    fn bound_to(&self, workflow: &str) -> bool {
        self.role != Role::Agent || self.workflows.is_empty() || self.workflows.iter().any(|w| w == workflow)
    }

    /// Whether the caller may record a run of `workflow`: an agent token only of a
    /// workflow one of its registered agents declares (and it is bound to, if bound).
    pub async fn may_create_run(&self, store: &dyn Store, workflow: &str) -> Result<(), ApiError> {
        if self.role != Role::Agent {
            return Ok(());
        }
        if !self.bound_to(workflow) {
            return Err(ApiError::Forbidden(format!(
                "this token records runs only of {}, not of `{workflow}`",
                self.workflows.join(", ")
            )));
        }
        let owned = store.owned_agents(&self.owner_key()).await?;
        let agents = store.list_agents().await?;
        if agents.iter().any(|agent| owned.contains(&agent.agent_id) && agent.serves(workflow)) {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "none of this token's agents declares the workflow `{workflow}`; register an agent that serves it \
             (its name, or a capability in its metadata) first"
        )))
    }
}

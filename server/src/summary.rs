//! The summary: run totals over every run (kept by database triggers) and agent
//! counts, as the overview cards, the summary stream and `GET /api/summary` show them.

use shared::{AgentInfo, Summary};

use crate::store::{Result, Store};

pub async fn compute(store: &dyn Store) -> Result<Summary> {
    let totals = store.run_totals().await?;
    Ok(with_agents(totals, &store.list_agents().await?))
}

/// Fills the agent counts of a summary.
fn with_agents(mut summary: Summary, agents: &[AgentInfo]) -> Summary {
    summary.registered_agents = agents.len() as i64;
    summary.alive_agents = agents.iter().filter(|a| a.is_alive).count() as i64;
    summary
}

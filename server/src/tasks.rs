//! Background work that no request triggers: summary events, agent expiry, pruning
//! of the event log and of ended sessions, stopping cancelled runs on their agents, keeping the dispatch
//! lease, bulk jobs, and (on PostgreSQL) relaying other replicas' events.

use chrono::Utc;
use shared::{AgentChange, AgentUpdate, Event, Summary};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

use crate::services::Services;
use crate::store::Ts;
use crate::summary;

/// Summaries are recomputed at once on a change, then at most this often under load.
const SUMMARY_MIN_INTERVAL: Duration = Duration::from_millis(250);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const RETRY_AFTER: Duration = Duration::from_secs(5);

pub fn spawn(state: &Arc<Services>) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    tasks.spawn(publish_summaries(state.clone()));
    tasks.spawn(expire_agents(state.clone()));
    tasks.spawn(prune(state.clone()));
    tasks.spawn(state.dispatcher.clone().watch_cancellations(&state.bus));
    tasks.spawn(state.budgets.clone().watch(&state.bus));
    tasks.spawn(state.webhooks.clone().run(&state.bus));
    tasks.spawn(crate::analytics::compact(state.store.clone()));
    tasks.spawn(state.dispatcher.clone().keep_lease());
    tasks.spawn(state.bulk.clone().run());
    let store = state.store.clone();
    tasks.spawn(async move { store.relay_events().await });
    tasks
}

/// Publishes a `summary` event when the totals change: recomputed at once after a
/// write (two small reads), at most every `SUMMARY_MIN_INTERVAL` under load, and sent
/// only when different from the last one (most heartbeats change nothing).
async fn publish_summaries(state: Arc<Services>) {
    let mut last_sent: Option<Summary> = None;
    loop {
        state.bus.totals_changed().notified().await;
        match summary::compute(state.store.as_ref()).await {
            Ok(current) if last_sent.as_ref() != Some(&current) => {
                state.bus.publish(None, Event::Summary(current.clone()));
                last_sent = Some(current);
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "could not compute the summary");
                tokio::time::sleep(RETRY_AFTER).await;
                state.bus.totals_changed().notify_one();
            }
        }
        tokio::time::sleep(SUMMARY_MIN_INTERVAL).await;
    }
}

/// Sleeps until the next agent expires (or an agent changes), then announces each
/// newly expired agent once and removes agents expired longer than the grace period.
async fn expire_agents(state: Arc<Services>) {
    let grace = chrono::Duration::from_std(state.config.agent_grace).unwrap_or(chrono::Duration::MAX);
    let mut announced: HashSet<(String, chrono::DateTime<Utc>)> = HashSet::new();
    loop {
        let agents = match state.store.list_agents().await {
            Ok(agents) => agents,
            Err(error) => {
                tracing::warn!(%error, "could not list agents for expiry");
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
        };
        let now = Utc::now();
        let mut next_wake = now + chrono::Duration::hours(1);
        let mut expired_now = HashSet::new();
        for agent in agents {
            if agent.is_alive {
                next_wake = next_wake.min(agent.expires_at);
                continue;
            }
            let remove_at = agent.expires_at.checked_add_signed(grace).unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
            if now >= remove_at {
                // Only if it has not come back in the meantime.
                let removed =
                    state.store.delete_agent(&agent.agent_id, Some(Ts::from(agent.last_heartbeat)), None).await;
                if let Err(error) = removed {
                    tracing::warn!(%error, agent = %agent.agent_id, "could not remove an expired agent");
                }
                continue;
            }
            next_wake = next_wake.min(remove_at);
            let key = (agent.agent_id.clone(), agent.last_heartbeat);
            if !announced.contains(&key) {
                let event = Event::AgentUpdate(AgentUpdate { change: AgentChange::Expired, agent, by: None });
                if let Err(error) = state.store.record_event(event).await {
                    tracing::warn!(%error, "could not record an agent expiry");
                    continue;
                }
            }
            expired_now.insert(key);
        }
        announced = expired_now;
        // A few milliseconds late, so the agent is past its strict expiry when checked.
        let sleep = (next_wake - now).to_std().unwrap_or_default() + Duration::from_millis(5);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = state.bus.agents_changed().notified() => {}
        }
    }
}

/// Deletes live events past their retention, bulk jobs that ended as long ago, and
/// browser sessions past their end.
async fn prune(state: Arc<Services>) {
    let retention = chrono::Duration::from_std(state.config.event_retention).unwrap_or(chrono::Duration::MAX);
    loop {
        let cutoff = Utc::now().checked_sub_signed(retention).unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        match state.store.prune_events(Ts::from(cutoff)).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned old live events"),
            Err(error) => tracing::warn!(%error, "could not prune live events"),
        }
        // Pruned here or by another replica: streams no longer resume from them.
        if let Ok((oldest, _)) = state.store.event_bounds().await {
            state.hub.forget_before(oldest);
        }
        if let Err(error) = state.store.prune_bulk_jobs(Ts::from(cutoff)).await {
            tracing::warn!(%error, "could not prune ended bulk jobs");
        }
        if let Err(error) = state.store.prune_sessions(Ts::now()).await {
            tracing::warn!(%error, "could not prune ended sessions");
        }
        tokio::time::sleep(PRUNE_EVERY).await;
    }
}

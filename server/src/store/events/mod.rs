//! The event log: every change numbered, for live streams and their resume. Its SQL,
//! `sql.rs`, is compiled once per backend (`store/sql/`).

use async_trait::async_trait;
use shared::Event;

use super::{Result, Ts};

/// The event log: every change numbered, for live streams and their resume.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Records and publishes an event that no row change carries (an agent expiring).
    async fn record_event(&self, event: Event) -> Result<()>;
    /// Persisted events with `id > after`, oldest first.
    async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<(i64, Event)>>;
    /// Oldest and newest kept event ids (0, 0 when there are none).
    async fn event_bounds(&self) -> Result<(i64, i64)>;
    /// Feeds events committed by other processes to this one's bus, until the process
    /// ends: other replicas' (PostgreSQL), other writers' (both).
    async fn relay_events(&self);
    /// Deletes events older than `before`, always keeping the newest.
    async fn prune_events(&self, before: Ts) -> Result<u64>;
}

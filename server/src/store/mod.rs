//! Storage, by resource: each folder holds a resource's types, its trait and its SQL
//! (`<resource>/sql.rs`), written once for SQLite and PostgreSQL and compiled per
//! backend by `sql/` on what each database provides (`Backend`). `Store`
//! (`contract.rs`) is all of them; every write goes through one writer task
//! (`writer.rs`).

pub mod access;
mod agents;
mod analytics;
mod backend;
mod budgets;
mod bulk_jobs;
mod contract;
mod dispatches;
mod error;
mod events;
pub mod limits;
mod postgres;
mod rows;
mod runs;
mod seeding;
mod sqlite;
pub mod time;
mod views;
mod webhooks;
mod writer;

use std::sync::Arc;

use crate::events::EventBus;
pub use agents::{AgentStore, NewAgent};
pub use analytics::{AnalyticsStore, DurationRollup, NodeRollup, RollupQuery, RunRollup};
pub use budgets::{BudgetStore, StoredBudget};
pub use bulk_jobs::{
    BulkJobStore, BulkSelection, BulkStep, BulkTally, BulkWork, ClaimedBulkJob, NewBulkJob, StatusTally,
};
pub use contract::Store;
pub use dispatches::{DispatchStore, InFlight};
pub use error::{Result, StoreError};
pub use events::EventStore;
pub use runs::{NewRun, Outcome, RunFilter, RunRecord, RunSnapshot, RunStore, SortKey};
pub use seeding::{SeedRun, SeedStore};
pub use time::Ts;
pub use views::ViewStore;
pub use webhooks::{StoredWebhook, WebhookStore};

/// Opens (creating a SQLite file if needed) and migrates the database named by `url`.
pub async fn connect(url: &str, bus: EventBus) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, bus).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::connect(url, bus).await?))
    } else {
        Err(anyhow::Error::msg(format!(
            "unsupported database URL `{}`: use sqlite://FILE or postgres://...",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

//! Storage: traits by concern (`contract.rs`), implemented once in SQL shared by
//! SQLite and PostgreSQL (`sql/`), on what each database provides (`Backend`); every
//! write goes through one writer task (`writer.rs`).

pub mod access;
mod backend;
mod contract;
mod error;
pub mod limits;
mod model;
mod postgres;
mod rows;
mod sql;
mod sqlite;
pub mod time;
mod writer;

use std::sync::Arc;

use crate::events::EventBus;
pub use contract::{
    AgentStore, AnalyticsStore, BudgetStore, BulkJobStore, BulkStore, DispatchStore, EventStore, RunStore, Store,
    ViewStore, WebhookStore,
};
pub use error::{Result, StoreError};
pub use model::*;
pub use time::Ts;

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

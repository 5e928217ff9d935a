//! PostgreSQL: for teams and several replicas. Writers take one transaction-scoped
//! advisory lock so that event ids commit in the order they were drawn, which is what
//! lets a resuming client trust that nothing below its last id can still appear.
//!
//! Every replica learns of every write, its own included, the same way: a committing
//! writer sends `NOTIFY dashboard_events`, and each replica's relay LISTENs and
//! publishes the new rows of `dashboard_events` to its bus, in id order.

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{Pool, Postgres};
use std::time::Duration;

use crate::events::EventBus;

const CHANNEL: &str = "dashboard_events";
const RELAY_BATCH: i64 = 500;

/// Arbitrary, fixed key of the advisory lock that orders event writers.
const EVENT_WRITE_LOCK: i64 = 0x0c0f_a9e7_5d45_7861;

pub struct PgStore {
    reader: Pool<Postgres>,
    bus: EventBus,
    /// The newest event when this process started: the relay publishes what follows.
    relay_start: i64,
}

impl PgStore {
    const BACKEND: &'static str = "postgres";
    /// A bulk load updates the five totals rows in long transactions, leaving their old
    /// versions spread over thousands of pages that plain VACUUM frees but cannot
    /// return; FULL rewrites that tiny table. (Normal writes, one run a transaction,
    /// keep it at one page through HOT pruning.)
    const AFTER_BULK_LOAD: &'static [&'static str] = &["VACUUM FULL dashboard_run_totals", "VACUUM ANALYZE"];

    /// One pool serves reads and writes.
    fn write_pool(&self) -> Pool<Postgres> {
        self.reader.clone()
    }

    pub async fn connect(url: &str, bus: EventBus) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new().max_connections(10).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        // Taken before any request is served, so no write falls between it and the relay.
        let (relay_start,): (i64,) =
            sqlx::query_as("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM dashboard_events")
                .fetch_one(&pool)
                .await?;
        Ok(PgStore { reader: pool, bus, relay_start })
    }

    /// Events reach this replica's bus through the relay, like everyone else's.
    fn deliver(&self, _events: Vec<(i64, shared::Event)>) {}

    async fn announce(tx: &mut sqlx::Transaction<'static, Postgres>) -> sqlx::Result<()> {
        sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&mut **tx).await?;
        Ok(())
    }

    /// Publishes every event committed from now on, by any replica. A lost connection
    /// is re-established and the events committed meanwhile are caught up.
    async fn relay(&self) {
        let mut cursor = self.relay_start;
        loop {
            if let Err(error) = self.relay_from(&mut cursor).await {
                tracing::warn!(%error, "event relay interrupted; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn relay_from(&self, cursor: &mut i64) -> Result<(), StoreError> {
        let mut listener = PgListener::connect_with(&self.reader).await?;
        listener.listen(CHANNEL).await?;
        loop {
            // Listening first, then reading, so nothing committed in between is missed.
            loop {
                let batch = self.events_after(*cursor, RELAY_BATCH).await?;
                let full = batch.len() as i64 == RELAY_BATCH;
                for (id, event) in batch {
                    self.bus.publish(Some(id), event);
                    *cursor = id;
                }
                if !full {
                    break;
                }
            }
            listener.recv().await?;
        }
    }

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Postgres>> {
        let mut tx = self.reader.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(EVENT_WRITE_LOCK).execute(&mut *tx).await?;
        Ok(tx)
    }
}

super::sql::sql_store!(PgStore, Postgres, like = "ILIKE");

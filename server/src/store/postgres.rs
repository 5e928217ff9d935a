//! PostgreSQL: for teams and several replicas. Writers take one transaction-scoped
//! advisory lock so that event ids commit in the order they were drawn, which is what
//! lets a resuming client trust that nothing below its last id can still appear.
//!
//! Every replica learns of every write, its own included, the same way: a committing
//! writer sends `NOTIFY dashboard_events`, and each replica's relay LISTENs and
//! publishes the new rows of `dashboard_events` to its bus, in id order.

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnection, PgListener, PgPoolOptions};
use sqlx::{Connection, Pool, Postgres, Transaction};
use std::time::Duration;

use super::backend::Backend;
use super::writer::{self, Numbered, Writer};
use super::{EventStore, StoreError};
use crate::events::EventBus;

const CHANNEL: &str = "dashboard_events";
const RELAY_BATCH: i64 = 500;

/// Arbitrary, fixed key of the advisory lock that orders event writers (migration
/// 0007's trigger takes it too, as 869100064273168481).
const EVENT_WRITE_LOCK: i64 = 0x0c0f_a9e7_5d45_7861;

pub struct PgStore {
    reader: Pool<Postgres>,
    writer: Writer<Postgres>,
    /// The writer's connection, for statements that cannot run in a transaction.
    write_pool: Pool<Postgres>,
    /// The relay's own connection, so that it never waits for, or takes, a reader's.
    listen_pool: Pool<Postgres>,
    bus: EventBus,
    /// The newest event when this process started: the relay publishes what follows.
    relay_start: i64,
}

/// While the database is away, requests wait this long for a connection, then get 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

impl PgStore {
    /// Three pools, so that writers waiting for the write lock and the relay's
    /// listening connection never hold up reads and event streams.
    pub async fn connect(url: &str, bus: EventBus) -> anyhow::Result<Self> {
        let pool = |size| PgPoolOptions::new().max_connections(size).acquire_timeout(ACQUIRE_TIMEOUT);
        let reader = pool(10).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&reader).await?;
        let write_pool = pool(1).connect(url).await?;
        let listen_pool = pool(1).connect_lazy(url)?;
        // Taken before any request is served, so no write falls between it and the relay.
        let (relay_start,): (i64,) =
            sqlx::query_as("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM dashboard_events")
                .fetch_one(&reader)
                .await?;
        let writer = Writer::start(write_pool.clone(), Writes);
        Ok(PgStore { reader, writer, write_pool, listen_pool, bus, relay_start })
    }

    async fn relay_from(&self, cursor: &mut i64) -> Result<(), StoreError> {
        let mut listener = PgListener::connect_with(&self.listen_pool).await?;
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
}

impl Backend for PgStore {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const LIKE: &'static str = "ILIKE";
    const NOW: &'static str = "CAST(clock_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP)";
    /// A bulk load updates the five totals rows in long transactions, leaving their old
    /// versions spread over thousands of pages that plain VACUUM frees but cannot
    /// return; FULL rewrites that tiny table. (Normal writes, one run a transaction,
    /// keep it at one page through HOT pruning.)
    const AFTER_BULK_LOAD: &'static [&'static str] = &["VACUUM FULL dashboard_run_totals", "VACUUM ANALYZE"];

    fn reader(&self) -> &Pool<Postgres> {
        &self.reader
    }

    fn writer(&self) -> &Writer<Postgres> {
        &self.writer
    }

    fn write_pool(&self) -> &Pool<Postgres> {
        &self.write_pool
    }

    /// Publishes every event committed from now on, by any replica or other writer. A
    /// lost connection is re-established and the events committed meanwhile caught up.
    async fn relay(&self) {
        let mut cursor = self.relay_start;
        loop {
            if let Err(error) = self.relay_from(&mut cursor).await {
                tracing::warn!(%error, "event relay interrupted; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Every replica learns of every write, its own included, through the relay.
struct Writes;

impl writer::Hooks for Writes {
    type Db = Postgres;

    fn begin<'c>(&self, conn: &'c mut PgConnection) -> BoxFuture<'c, sqlx::Result<Transaction<'c, Postgres>>> {
        Box::pin(async move {
            let mut tx = conn.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(EVENT_WRITE_LOCK).execute(&mut *tx).await?;
            // Keeps the external-changes triggers quiet for the dashboard's own writes.
            sqlx::query("SET LOCAL dashboard.writer = 'on'").execute(&mut *tx).await?;
            Ok(tx)
        })
    }

    fn record<'c>(
        &self,
        conn: &'c mut PgConnection,
        events: &'c [shared::Event],
    ) -> BoxFuture<'c, sqlx::Result<Vec<i64>>> {
        Box::pin(sql_common::record_events(conn, events))
    }

    fn before_commit<'c>(&self, conn: &'c mut PgConnection, recorded: bool) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            if recorded {
                sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&mut *conn).await?;
            }
            Ok(())
        })
    }

    fn deliver(&self, _events: Numbered) {}
}

super::sql::sql_store!(PgStore);

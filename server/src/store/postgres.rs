//! PostgreSQL: for teams and several replicas. Writers take one transaction-scoped
//! advisory lock so that event ids commit in the order they were drawn, which is what
//! lets a resuming client trust that nothing below its last id can still appear.
//!
//! Every replica learns of every write, its own included, the same way: a committing
//! writer sends `NOTIFY dashboard_events`, and each replica's relay LISTENs and
//! publishes the new rows of `dashboard_events` to its bus, in id order. Events the
//! log does not keep (heartbeats) travel whole on `dashboard_live`.

use futures_util::future::BoxFuture;
use futures_util::TryFutureExt;
use sqlx::postgres::{PgConnection, PgListener, PgPoolOptions};
use sqlx::{Connection, Pool, Postgres, Transaction};
use std::time::Duration;

use super::backend::Backend;
use super::writer::{self, Numbered, Writer};
use super::{EventStore, StoreError};
use crate::events::EventBus;

const CHANNEL: &str = "dashboard_events";
/// Events not kept in the log travel whole, as JSON, in notifications on this channel.
const LIVE_CHANNEL: &str = "dashboard_live";
/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7999;

/// An unkept event as a notification's payload, if it fits in one.
fn live_payload(event: &shared::Event) -> Option<String> {
    serde_json::to_string(event).ok().filter(|payload| payload.len() <= MAX_PAYLOAD)
}
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
        listener.listen_all([CHANNEL, LIVE_CHANNEL]).await?;
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
            loop {
                let notification = listener.recv().await?;
                if notification.channel() != LIVE_CHANNEL {
                    break;
                }
                match serde_json::from_str(notification.payload()) {
                    Ok(event) => self.bus.publish(None, event),
                    Err(error) => tracing::warn!(%error, "an unreadable live event was skipped"),
                }
            }
        }
    }
}

impl Backend for PgStore {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const LIKE: &'static str = "ILIKE";
    const SEARCH_MATCH: Option<&'static str> = None;
    const ALIVE_AT: &'static str = "last_heartbeat + ttl_seconds * INTERVAL '1 second' > $2";
    const NOW: &'static str = "CAST(clock_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP)";
    const DAY_OF_T: &'static str = "date_trunc('day', t)";
    /// A bulk load updates the totals and rollup rows in long transactions, leaving
    /// their old versions spread over thousands of pages that plain VACUUM frees but
    /// cannot return; FULL rewrites those small tables. (Normal writes, one run a
    /// transaction, keep them compact through HOT pruning.)
    const AFTER_BULK_LOAD: &'static [&'static str] = &[
        "VACUUM FULL dashboard_run_totals",
        "VACUUM FULL dashboard_rollup_runs",
        "VACUUM FULL dashboard_rollup_durations",
        "VACUUM FULL dashboard_rollup_nodes",
        "VACUUM ANALYZE",
    ];

    const SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

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
        // One round trip. The setting keeps the external-changes triggers quiet for
        // the dashboard's own writes.
        conn.begin_with(format!(
            "BEGIN; SELECT pg_advisory_xact_lock({EVENT_WRITE_LOCK}); SET LOCAL dashboard.writer = 'on'"
        ))
    }

    fn execute<'c>(&self, conn: &'c mut PgConnection, sql: &'static str) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(sqlx::Executor::execute(conn, sqlx::raw_sql(sql)).map_ok(drop))
    }

    fn record<'c>(
        &self,
        conn: &'c mut PgConnection,
        events: &'c [&'c shared::Event],
    ) -> BoxFuture<'c, sqlx::Result<Vec<i64>>> {
        Box::pin(sql::record_events(conn, events))
    }

    /// A heartbeat too large for a notification's payload is kept in the log instead.
    fn keeps(&self, event: &shared::Event) -> bool {
        event.is_kept() || live_payload(event).is_none()
    }

    fn before_commit<'c>(&self, conn: &'c mut PgConnection, events: &'c Numbered) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            if events.iter().any(|(id, _)| id.is_some()) {
                sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&mut *conn).await?;
            }
            let live: Vec<String> =
                events.iter().filter(|(id, _)| id.is_none()).filter_map(|(_, event)| live_payload(event)).collect();
            if !live.is_empty() {
                sqlx::query("SELECT pg_notify($1, payload) FROM UNNEST($2::TEXT[]) AS payload")
                    .bind(LIVE_CHANNEL)
                    .bind(live)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        })
    }

    fn deliver(&self, _events: Numbered) {}
}

/// The store every resource's SQL (`<resource>/sql.rs`, listed in `sql/mod.rs`)
/// implements its trait for, compiled here.
type Target = PgStore;
// Deliberately compiled once per backend: sqlx queries need a concrete database.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

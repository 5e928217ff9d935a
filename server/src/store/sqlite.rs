//! SQLite: the embedded default. WAL so readers never wait for the writer, synchronous
//! FULL so an acknowledged write survives a crash, and one write connection, owned by
//! the writer task, so writes queue instead of failing with SQLITE_BUSY. Other
//! processes writing the same file (the original runtime) are noticed by a watcher.

use futures_util::future::BoxFuture;
use futures_util::TryFutureExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::backend::Backend;
use super::rows::{self, EventRow, EXTERNAL_KINDS};
use super::StoreError;
use sqlx::{Connection, Pool, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

use super::writer::{self, Numbered, Writer};
use crate::events::EventBus;

pub struct SqliteStore {
    reader: Pool<Sqlite>,
    writer: Writer<Sqlite>,
    /// The writer's connection, for statements that cannot run in a transaction.
    write_pool: Pool<Sqlite>,
    /// For the watcher's connection of its own.
    options: SqliteConnectOptions,
    bus: EventBus,
    /// The newest event when this process started: the watcher publishes what other
    /// processes record after it.
    watch_start: i64,
}

/// How often the watcher asks whether another process wrote: one cheap pragma.
const WATCH_EVERY: Duration = Duration::from_millis(100);
const WATCH_BATCH: i64 = 500;

impl SqliteStore {
    pub async fn connect(url: &str, bus: EventBus) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Another process (the Python runtime) may hold the write lock for a while.
            .busy_timeout(Duration::from_secs(10));
        let write_pool = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&write_pool).await?;
        let options = options.read_only(true);
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.clone()).await?;
        let watch_start: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM dashboard_events").fetch_one(&reader).await?;
        let writer = Writer::start(write_pool.clone(), Writes { bus: bus.clone() });
        Ok(SqliteStore { reader, writer, write_pool, options, bus, watch_start })
    }

    /// `PRAGMA data_version` changes, on a connection of its own, exactly when another
    /// connection has committed: only then is the event log read.
    async fn watch(&self, cursor: &mut i64) -> Result<(), StoreError> {
        let mut conn = SqliteConnection::connect_with(&self.options).await?;
        let mut seen = None;
        let mut tick = tokio::time::interval(WATCH_EVERY);
        loop {
            tick.tick().await;
            let version: i64 = sqlx::query_scalar("PRAGMA data_version").fetch_one(&mut conn).await?;
            if seen == Some(version) {
                continue;
            }
            seen = Some(version);
            let newest: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM dashboard_events").fetch_one(&mut conn).await?;
            while *cursor < newest {
                let found: Vec<EventRow> = sqlx::query_as(&format!(
                    "SELECT id, kind, payload FROM dashboard_events \
                     WHERE id > $1 AND id <= $2 AND kind IN ({EXTERNAL_KINDS}) ORDER BY id LIMIT $3"
                ))
                .bind(*cursor)
                .bind(newest)
                .bind(WATCH_BATCH)
                .fetch_all(&mut conn)
                .await?;
                *cursor = match found.last() {
                    Some(last) if found.len() as i64 == WATCH_BATCH => last.id,
                    _ => newest,
                };
                for (id, event) in rows::events(found) {
                    self.bus.publish(Some(id), event);
                }
            }
        }
    }
}

impl Backend for SqliteStore {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";
    const LIKE: &'static str = "LIKE";
    const SEARCH_MATCH: Option<&'static str> = Some("id IN (SELECT id FROM run_search WHERE run_search MATCH ");
    /// Unreadable timestamps (another writer's format) count as expired.
    const ALIVE_AT: &'static str = "julianday(last_heartbeat) + ttl_seconds / 86400.0 > julianday($2)";
    const NOW: &'static str = "strftime('%Y-%m-%d %H:%M:%f', 'now')";
    const DAY_OF_T: &'static str = "substr(t, 1, 10) || ' 00:00:00.000000'";
    const AFTER_BULK_LOAD: &'static [&'static str] = &["ANALYZE"];

    // In WAL mode a read transaction sees the database as of its first read.
    const SNAPSHOT: &'static str = "BEGIN DEFERRED";

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }

    fn writer(&self) -> &Writer<Sqlite> {
        &self.writer
    }

    fn write_pool(&self) -> &Pool<Sqlite> {
        &self.write_pool
    }

    /// Publishes the changes other processes commit to the file (the original runtime
    /// and registry), which the external-changes triggers record as events. This
    /// process's own events reach the bus from the writer at once.
    async fn relay(&self) {
        let mut cursor = self.watch_start;
        loop {
            if let Err(error) = self.watch(&mut cursor).await {
                tracing::warn!(%error, "watching for other writers' changes was interrupted; resuming");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

struct Writes {
    bus: EventBus,
}

impl writer::Hooks for Writes {
    type Db = Sqlite;

    /// IMMEDIATE takes the write lock up front: a transaction that reads before it
    /// writes can then never fail on upgrading its lock when another process wrote.
    /// The mark keeps the external-changes triggers quiet for the dashboard's writes.
    fn begin<'c>(&self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<Transaction<'c, Sqlite>>> {
        // One round trip, as SQLite runs every statement of a `BEGIN`.
        conn.begin_with("BEGIN IMMEDIATE; UPDATE dashboard_writer SET active = 1")
    }

    fn execute<'c>(&self, conn: &'c mut SqliteConnection, sql: &'static str) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(sqlx::Executor::execute(conn, sqlx::raw_sql(sql)).map_ok(drop))
    }

    fn record<'c>(
        &self,
        conn: &'c mut SqliteConnection,
        events: &'c [&'c shared::Event],
    ) -> BoxFuture<'c, sqlx::Result<Vec<i64>>> {
        Box::pin(sql::record_events(conn, events))
    }

    fn before_commit<'c>(
        &self,
        conn: &'c mut SqliteConnection,
        _events: &'c Numbered,
    ) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            sqlx::query("UPDATE dashboard_writer SET active = 0").execute(&mut *conn).await?;
            Ok(())
        })
    }

    /// One process serves a SQLite file, so its own bus is every subscriber's.
    fn deliver(&self, events: Numbered) {
        for (id, event) in events {
            self.bus.publish(id, event);
        }
    }
}

/// The store every resource's SQL (`<resource>/sql.rs`, listed in `sql/mod.rs`)
/// implements its trait for, compiled here.
type Target = SqliteStore;
// Deliberately compiled once per backend: sqlx queries need a concrete database.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

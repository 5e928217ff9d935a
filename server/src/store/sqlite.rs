//! SQLite: the embedded default. WAL so readers never wait for the writer, synchronous
//! FULL so an acknowledged write survives a crash, and one writer connection so writes
//! queue in the pool instead of failing with SQLITE_BUSY.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};
use std::str::FromStr;
use std::time::Duration;

use crate::events::EventBus;

pub struct SqliteStore {
    reader: Pool<Sqlite>,
    writer: Pool<Sqlite>,
    bus: EventBus,
}

impl SqliteStore {
    const BACKEND: &'static str = "sqlite";
    const AFTER_BULK_LOAD: &'static [&'static str] = &["ANALYZE"];

    /// Statements that write outside a transaction go through the writer.
    fn write_pool(&self) -> Pool<Sqlite> {
        self.writer.clone()
    }

    pub async fn connect(url: &str, bus: EventBus) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Another process (the Python runtime) may hold the write lock for a while.
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(SqliteStore { reader, writer, bus })
    }

    /// One process serves a SQLite file, so its own bus is every subscriber's.
    fn deliver(&self, events: Vec<(i64, shared::Event)>) {
        for (id, event) in events {
            self.bus.publish(Some(id), event);
        }
    }

    async fn announce(_tx: &mut sqlx::Transaction<'static, Sqlite>) -> sqlx::Result<()> {
        Ok(())
    }

    async fn relay(&self) {}

    /// IMMEDIATE takes the write lock up front: a transaction that reads before it
    /// writes can then never fail on upgrading its lock when another process wrote.
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }
}

super::sql::sql_store!(SqliteStore, Sqlite, like = "LIKE");

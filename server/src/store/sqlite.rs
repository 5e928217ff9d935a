//! SQLite: the embedded default. WAL so readers never wait for the writer, synchronous
//! FULL so an acknowledged write survives a crash, and one write connection, owned by
//! the writer task, so writes queue instead of failing with SQLITE_BUSY.

use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Pool, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

use super::writer::{self, Recorded, Writer};
use crate::events::EventBus;

pub struct SqliteStore {
    reader: Pool<Sqlite>,
    writer: Writer<Sqlite>,
    /// The writer's connection, for statements that cannot run in a transaction.
    write_pool: Pool<Sqlite>,
}

impl SqliteStore {
    const BACKEND: &'static str = "sqlite";
    const AFTER_BULK_LOAD: &'static [&'static str] = &["ANALYZE"];

    fn write_pool(&self) -> Pool<Sqlite> {
        self.write_pool.clone()
    }

    pub async fn connect(url: &str, bus: EventBus) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Another process (the Python runtime) may hold the write lock for a while.
            .busy_timeout(Duration::from_secs(10));
        let write_pool = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&write_pool).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        let writer = Writer::start(write_pool.clone(), Writes { bus });
        Ok(SqliteStore { reader, writer, write_pool })
    }

    async fn relay(&self) {}
}

struct Writes {
    bus: EventBus,
}

impl writer::Backend for Writes {
    type Db = Sqlite;

    /// IMMEDIATE takes the write lock up front: a transaction that reads before it
    /// writes can then never fail on upgrading its lock when another process wrote.
    fn begin<'c>(&self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<Transaction<'c, Sqlite>>> {
        conn.begin_with("BEGIN IMMEDIATE")
    }

    fn announce<'c>(&self, _conn: &'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// One process serves a SQLite file, so its own bus is every subscriber's.
    fn deliver(&self, events: Recorded) {
        for (id, event) in events {
            self.bus.publish(Some(id), event);
        }
    }
}

super::sql::sql_store!(SqliteStore, Sqlite, like = "LIKE", now = "strftime('%Y-%m-%d %H:%M:%f', 'now')");
super::sql_access::sql_access!(SqliteStore);

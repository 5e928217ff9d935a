//! PostgreSQL: for teams and several replicas. Writers take one transaction-scoped
//! advisory lock so that event ids commit in the order they were drawn, which is what
//! lets a resuming client trust that nothing below its last id can still appear.

use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Postgres};

use crate::events::EventBus;

/// Arbitrary, fixed key of the advisory lock that orders event writers.
const EVENT_WRITE_LOCK: i64 = 0x0c0f_a9e7_5d45_7861;

pub struct PgStore {
    reader: Pool<Postgres>,
    bus: EventBus,
}

impl PgStore {
    const BACKEND: &'static str = "postgres";

    pub async fn connect(url: &str, bus: EventBus) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new().max_connections(10).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { reader: pool, bus })
    }

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Postgres>> {
        let mut tx = self.reader.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(EVENT_WRITE_LOCK).execute(&mut *tx).await?;
        Ok(tx)
    }
}

super::sql::sql_store!(PgStore, Postgres, like = "ILIKE");

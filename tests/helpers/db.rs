//! A fresh database per test: a temporary SQLite file, or a new PostgreSQL database
//! dropped afterwards.

use super::Backend;

/// The database server the PostgreSQL tests create their databases in.
fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres(String),
    /// Another server's database, by URL; that server's `TestDb` owns it.
    Shared(String),
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::Sqlite(tempfile::tempdir().expect("temp dir")),
            Backend::Postgres => {
                let name = format!("dashboard_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&postgres_admin_url())
                    .await
                    .expect("PostgreSQL must run on 127.0.0.1:5432 (see README)");
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create database");
                admin.close().await;
                TestDb::Postgres(name)
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => format!("sqlite://{}", dir.path().join("dashboard.db").display()),
            TestDb::Postgres(name) => {
                let admin = postgres_admin_url();
                let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin);
                format!("{base}/{name}")
            }
            TestDb::Shared(url) => url.clone(),
        }
    }
}

impl TestDb {
    /// Runs `sql` straight on the database, as another writer (the Python runtime, a
    /// SQL shell) would.
    /// Makes a token straight in the database, as `configurable-agents token create`
    /// does; returns its secret.
    pub async fn token(&self, name: &str, role: shared::Role, agent_ids: &[&str]) -> String {
        let store = server::store::connect(&self.url(), server::events::EventBus::default()).await.unwrap();
        let request = shared::CreateToken {
            name: name.to_owned(),
            role,
            agent_ids: agent_ids.iter().map(|id| id.to_string()).collect(),
            workflows: Vec::new(),
            expires_in_days: None,
        };
        let by = server::store::access::Actor { name: "test".to_owned(), token_id: None };
        server::callers::issue(store.as_ref(), request, &by).await.unwrap().secret
    }

    /// An agent alive for ten minutes, registered by another writer (the original
    /// runtime writes the table itself), so no check of the dashboard's saw it.
    pub async fn insert_agent_as_another_writer(&self, id: &str, host: &str, port: u16) {
        let now = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S%.6f");
        self.execute_as_another_writer(&format!(
            "INSERT INTO agents (agent_id, agent_name, host, port, last_heartbeat, ttl_seconds, registered_at) \
             VALUES ('{id}', '{id}', '{host}', {port}, '{now}', 600, '{now}')"
        ))
        .await;
    }

    pub async fn execute_as_another_writer(&self, sql: &str) {
        use sqlx::Connection;
        let url = self.url();
        if url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
            db.close().await.unwrap();
        } else {
            let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
            db.close().await.unwrap();
        }
    }
}

impl TestDb {
    /// `count` runs of `workflow` in `status` costing $0.25 each, written by another
    /// writer, with ids `00000000-0000-4000-8000-{offset + i}` (i from 1) and start
    /// times a second apart from 2026-01-01.
    pub async fn insert_runs(&self, workflow: &str, status: &str, offset: i64, count: i64) {
        let (numbers, id, started) = match self.url().starts_with("sqlite:") {
            true => (
                format!(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) SELECT i FROM n"
                ),
                format!("printf('00000000-0000-4000-8000-%012d', i + {offset})"),
                "datetime('2026-01-01', '+' || i || ' seconds')",
            ),
            false => (
                format!("SELECT i FROM generate_series(1, {count}) AS i"),
                format!("'00000000-0000-4000-8000-' || lpad((i + {offset})::text, 12, '0')"),
                "TIMESTAMP '2026-01-01' + i * INTERVAL '1 second'",
            ),
        };
        self.execute_as_another_writer(&format!(
            "INSERT INTO workflow_runs (id, workflow_name, status, started_at, total_cost_usd) \
             SELECT {id}, '{workflow}', '{status}', {started}, 0.25 FROM ({numbers}) AS numbers"
        ))
        .await;
    }

    /// Rows of `sql`, which selects a text key and a number (`CAST(... AS DOUBLE
    /// PRECISION)`), read straight from the database.
    pub async fn numbers(&self, sql: &str) -> Vec<(String, f64)> {
        use sqlx::Connection;
        let url = self.url();
        if url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut db).await.unwrap()
        } else {
            let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut db).await.unwrap()
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres(name) = self {
            let name = name.clone();
            // Drop runs outside any async context we can borrow; use a thread of our own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(async {
                    let admin = sqlx::PgPool::connect(&postgres_admin_url()).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.ok()
                })
            })
            .join();
        }
    }
}

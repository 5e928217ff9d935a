//! What the tests share, by job: `db` (a fresh database per test), `app` (the server
//! and its API), `sse` (event streams as a client reads them), and the macro that runs
//! each test on both databases.

mod app;
mod db;
mod sse;

pub use app::{config, Api, TestApp};
pub use db::TestDb;
pub use sse::{raw_stream, EventStream, SseMessage, COMMENT};

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per database for each listed test function, in
/// modules `sqlite` and `postgres`. Plain tests are `async fn name(app: TestApp)`;
/// after `backend:` they are `async fn name(backend: Backend)` and start their own
/// server (for non-default settings).
#[macro_export]
macro_rules! on_both_databases {
    (backend: $($test:ident),* $(,)?) => {
        $crate::on_both_databases!(@each sqlite, Sqlite, |backend| backend, $($test),*);
        $crate::on_both_databases!(@each postgres, Postgres, |backend| backend, $($test),*);
    };
    ($($test:ident),* $(,)?) => {
        $crate::on_both_databases!(@each sqlite, Sqlite, |backend| $crate::helpers::TestApp::spawn(backend).await, $($test),*);
        $crate::on_both_databases!(@each postgres, Postgres, |backend| $crate::helpers::TestApp::spawn(backend).await, $($test),*);
    };
    (@each $module:ident, $backend:ident, |$arg:ident| $setup:expr, $($test:ident),*) => {
        mod $module {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let $arg = $crate::helpers::Backend::$backend;
                super::$test($setup).await
            })*
        }
    };
}

/// Polls `check` until it holds; panics naming `what` after 20 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks `check` through `window` and fails as soon as it stops holding: for "nothing
/// more happens" (no second delivery, no write after a stop), which only waiting shows.
pub async fn holds_for<F, Fut>(what: &str, window: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + window;
    loop {
        assert!(check().await, "{what} no longer holds");
        if tokio::time::Instant::now() >= end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the browser app's build put `file` in `dist/`: the test server (a debug
/// build) serves the app's files from there as they are now.
pub fn built(file: &str) -> bool {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist").join(file).exists()
}

//! The stores' SQL, written once for both databases: the common subset of SQLite and
//! PostgreSQL (`$N` parameters, `RETURNING`, `ON CONFLICT`, row values), with the few
//! differences the `Backend` names. sqlx needs a concrete database type for a query,
//! so this module is compiled once inside each backend's (`sqlite.rs`, `postgres.rs`
//! include it with `#[path]`), where `Target` names that backend's store. Each
//! resource's SQL lives beside its types and trait, in `<resource>/sql.rs`, as
//! ordinary functions and trait impls.
//!
//! Every write runs on the writer task (`writer.rs`), in a transaction the backend
//! begins so that writers are serialised and event ids commit in order, and records
//! its events in `dashboard_events` in that same transaction.

use super::Target;

mod common;
pub(super) use common::record_events;
#[path = "../access/sql.rs"]
mod access;
#[path = "../agents/sql.rs"]
mod agents;
#[path = "../analytics/sql.rs"]
mod analytics;
#[path = "../budgets/sql.rs"]
mod budgets;
#[path = "../bulk_jobs/sql.rs"]
mod bulk_jobs;
#[path = "../dispatches/sql.rs"]
mod dispatches;
#[path = "../events/sql.rs"]
mod events;
#[path = "../runs/sql.rs"]
mod runs;
#[path = "../seeding/sql.rs"]
mod seeding;
#[path = "../views/sql.rs"]
mod views;
#[path = "../webhooks/sql.rs"]
mod webhooks;

impl crate::store::Store for Target {
    fn backend(&self) -> &'static str {
        <Self as crate::store::backend::Backend>::NAME
    }
}

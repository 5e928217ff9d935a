//! The stores' SQL, written once for both databases: the common subset of SQLite and
//! PostgreSQL (`$N` parameters, `RETURNING`, `ON CONFLICT`, row values), with the few
//! differences the `Backend` names. sqlx needs a concrete database type for a query,
//! so each resource's SQL is a macro expanded into each backend's module, in a module
//! of its own (`sql_store!(SqliteStore)`); the macros stay private to this folder.
//!
//! Every write runs on the writer task (`writer.rs`), in a transaction the backend
//! begins so that writers are serialised and event ids commit in order, and records
//! its events in `dashboard_events` in that same transaction.

mod access;
mod agents;
mod analytics;
mod budgets;
mod bulk;
mod bulk_jobs;
mod common;
mod dispatches;
mod events;
mod runs;
mod views;
mod webhooks;

pub(super) use access::sql_access;
pub(super) use agents::sql_agents;
pub(super) use analytics::sql_analytics;
pub(super) use budgets::sql_budgets;
pub(super) use bulk::sql_bulk;
pub(super) use bulk_jobs::sql_bulk_jobs;
pub(super) use common::sql_common;
pub(super) use dispatches::sql_dispatches;
pub(super) use events::sql_events;
pub(super) use runs::sql_runs;
pub(super) use views::sql_views;
pub(super) use webhooks::sql_webhooks;

/// Every store trait for `$store`, a backend's store.
macro_rules! sql_store {
    ($store:ident) => {
        crate::store::sql::sql_common!($store);
        crate::store::sql::sql_runs!($store);
        crate::store::sql::sql_dispatches!($store);
        crate::store::sql::sql_agents!($store);
        crate::store::sql::sql_events!($store);
        crate::store::sql::sql_bulk!($store);
        crate::store::sql::sql_bulk_jobs!($store);
        crate::store::sql::sql_access!($store);
        crate::store::sql::sql_analytics!($store);
        crate::store::sql::sql_budgets!($store);
        crate::store::sql::sql_webhooks!($store);
        crate::store::sql::sql_views!($store);

        impl crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                <Self as crate::store::backend::Backend>::NAME
            }
        }
    };
}

pub(super) use sql_store;

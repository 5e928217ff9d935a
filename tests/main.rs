//! One test binary for the whole HTTP API; every test runs on SQLite and on PostgreSQL.

mod helpers;

mod agents;
mod bad_input;
mod compat;
mod dispatch;
mod events;
mod mlflow;
mod seed;
mod summary;
mod test_agents;
mod workflows;

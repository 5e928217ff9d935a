//! One test binary for the whole HTTP API; every test runs on SQLite and on PostgreSQL.

mod helpers;
mod process;

mod access;
mod agent_identity;
mod agents;
mod analytics;
mod bad_input;
mod budgets;
mod bulk;
mod compat;
mod dispatch;
mod durability;
mod events;
mod export;
mod external;
mod faults;
mod gate;
mod hostile;
mod limits;
mod mlflow;
mod nul;
mod openapi;
mod seed;
mod sign_in;
mod summary;
mod test_agents;
mod views;
mod webhooks;
mod workflows;

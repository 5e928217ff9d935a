//! Sample data (the `seed` command), written in bulk. Its SQL, `sql.rs`, is compiled
//! once per backend (`store/sql/`).

use async_trait::async_trait;
use shared::{NewLogLine, NodeStateData};

use super::agents::NewAgent;
use super::runs::RunRecord;
use super::{Result, Ts};

/// Sample data for one run, written in bulk by `seed`.
#[derive(Debug, Clone)]
pub struct SeedRun {
    pub record: RunRecord,
    pub states: Vec<(Ts, NodeStateData)>,
    pub logs: Vec<(Ts, NewLogLine)>,
}

/// Sample data, written in bulk by `seed`.
#[async_trait]
pub trait SeedStore: Send + Sync {
    async fn seed(&self, runs: Vec<SeedRun>, agents: Vec<(NewAgent, Ts)>) -> Result<()>;
    /// After a bulk load: fresh planner statistics and, on PostgreSQL, the dead row
    /// versions the totals triggers left behind cleared away.
    async fn analyze(&self) -> Result<()>;
}

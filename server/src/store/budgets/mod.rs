//! Budgets per workflow, as stored. Its SQL, `sql.rs`, is compiled once per backend
//! (`store/sql/`).

use async_trait::async_trait;

use super::access::Audit;
use super::{Result, Ts};

/// A workflow's budget as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBudget {
    pub workflow_name: String,
    pub limits: shared::BudgetLimits,
    pub updated_at: Ts,
    pub updated_by: String,
}

/// Budgets per workflow.
#[async_trait]
pub trait BudgetStore: Send + Sync {
    async fn list_budgets(&self) -> Result<Vec<StoredBudget>>;
    /// Sets (or replaces) a workflow's budget.
    async fn set_budget(&self, workflow: &str, limits: shared::BudgetLimits, audit: Audit) -> Result<StoredBudget>;
    async fn delete_budget(&self, workflow: &str, audit: Audit) -> Result<()>;
    /// The cost of the workflow's runs that started since `day` and since `month`
    /// (each the start of an hour, `month` the earlier).
    async fn spent(&self, workflow: &str, day: Ts, month: Ts) -> Result<(f64, f64)>;
    /// What the runs of `workflow` started since `since` cost, by who reported them.
    async fn spent_by_reporter(&self, workflow: &str, since: Ts) -> Result<Vec<shared::BudgetReporter>>;
}

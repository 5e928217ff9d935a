//! Budgets per workflow, and what a workflow has spent since a time (from the rollups).

use super::common::{delete_audited, record_audit, Audit, Backend, Result, Ts};
use crate::store::StoredBudget;
use shared::BudgetLimits;

const COLUMNS: &str = "workflow_name, daily_usd, monthly_usd, run_max_usd, run_max_tokens, updated_at, updated_by";

#[derive(sqlx::FromRow)]
struct BudgetRow {
    workflow_name: String,
    daily_usd: Option<f64>,
    monthly_usd: Option<f64>,
    run_max_usd: Option<f64>,
    run_max_tokens: Option<i64>,
    updated_at: Ts,
    updated_by: String,
}

impl From<BudgetRow> for StoredBudget {
    fn from(row: BudgetRow) -> StoredBudget {
        StoredBudget {
            workflow_name: row.workflow_name,
            limits: BudgetLimits {
                daily_usd: row.daily_usd,
                monthly_usd: row.monthly_usd,
                run_max_usd: row.run_max_usd,
                run_max_tokens: row.run_max_tokens,
            },
            updated_at: row.updated_at,
            updated_by: row.updated_by,
        }
    }
}

#[async_trait::async_trait]
impl crate::store::BudgetStore for super::Target {
    async fn list_budgets(&self) -> Result<Vec<StoredBudget>> {
        let rows: Vec<BudgetRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM dashboard_budgets ORDER BY workflow_name"))
                .fetch_all(self.reader())
                .await?;
        Ok(rows.into_iter().map(StoredBudget::from).collect())
    }

    async fn set_budget(&self, workflow: &str, limits: BudgetLimits, audit: Audit) -> Result<StoredBudget> {
        let workflow = workflow.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let row: BudgetRow = sqlx::query_as(&format!(
                    "INSERT INTO dashboard_budgets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (workflow_name) DO UPDATE SET daily_usd = EXCLUDED.daily_usd, \
                     monthly_usd = EXCLUDED.monthly_usd, run_max_usd = EXCLUDED.run_max_usd, \
                     run_max_tokens = EXCLUDED.run_max_tokens, updated_at = EXCLUDED.updated_at, \
                     updated_by = EXCLUDED.updated_by RETURNING {COLUMNS}"
                ))
                .bind(&workflow)
                .bind(limits.daily_usd)
                .bind(limits.monthly_usd)
                .bind(limits.run_max_usd)
                .bind(limits.run_max_tokens)
                .bind(Ts::now())
                .bind(&audit.actor.name)
                .fetch_one(&mut *conn)
                .await?;
                record_audit(conn, audit).await?;
                Ok((StoredBudget::from(row), Vec::new()))
            })
        })
        .await
    }

    async fn delete_budget(&self, workflow: &str, audit: Audit) -> Result<()> {
        let workflow = workflow.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let missing = format!("workflow {workflow} has no budget");
                delete_audited(conn, "dashboard_budgets", "workflow_name", &workflow, missing, audit).await?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }

    async fn spent(&self, workflow: &str, day: Ts, month: Ts) -> Result<(f64, f64)> {
        let (today, month): (Option<f64>, Option<f64>) = sqlx::query_as(
            "SELECT SUM(CASE WHEN t >= $2 THEN cost_usd ELSE 0 END), SUM(cost_usd) FROM ( \
             SELECT hour AS t, cost_usd FROM dashboard_rollup_runs WHERE workflow_name = $1 AND hour >= $3 \
             UNION ALL \
             SELECT day AS t, cost_usd FROM dashboard_rollup_runs_daily \
             WHERE workflow_name = $1 AND day >= $3) u",
        )
        .bind(workflow)
        .bind(day)
        .bind(month)
        .fetch_one(self.reader())
        .await?;
        Ok((today.unwrap_or(0.0), month.unwrap_or(0.0)))
    }

    async fn spent_by_reporter(&self, workflow: &str, since: Ts) -> Result<Vec<shared::BudgetReporter>> {
        // Reports into a dispatched run come from its agent; other runs from
        // whoever recorded them; runs with neither from writers of the database.
        let rows: Vec<(String, i64, Option<f64>)> = sqlx::query_as(
            "SELECT COALESCE('agent ' || agent_id, created_by, 'other writers') AS reporter, COUNT(*), \
             CAST(SUM(total_cost_usd) AS DOUBLE PRECISION) FROM workflow_runs \
             WHERE workflow_name = $1 AND started_at >= $2 GROUP BY 1 \
             ORDER BY 3 DESC, 1 LIMIT 10",
        )
        .bind(workflow)
        .bind(since)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(reporter, runs, cost)| shared::BudgetReporter { reporter, runs, cost_usd: cost.unwrap_or(0.0) })
            .collect())
    }
}

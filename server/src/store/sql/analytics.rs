//! Reads of the trigger-kept rollups (migration 0011), summed per bucket.

macro_rules! sql_analytics {
    ($store:ident) => {
        mod sql_analytics {
            #[allow(unused_imports)]
            use super::sql_common::*;
            use crate::store::{DurationRollup, NodeRollup, RollupQuery, RunRollup};

            /// `SELECT <bucket> AS at, <columns> FROM <table>` over the query's window,
            /// grouped by the bucket (if any) and `keys`.
            fn rollup_sql(query: &RollupQuery, columns: &str, table: &str, keys: &str) -> String {
                let (at, group) = match query.bucket {
                    Some(shared::Bucket::Hour) => ("hour", "hour, ".to_owned()),
                    Some(shared::Bucket::Day) => {
                        let day = <super::$store as Backend>::DAY_OF_HOUR;
                        (day, format!("{day}, "))
                    }
                    None => ("MIN(hour)", String::new()),
                };
                format!(
                    "SELECT {at} AS at, {columns} FROM {table} \
                     WHERE hour >= $1 AND hour < $2 AND (CAST($3 AS TEXT) IS NULL OR workflow_name = $3) \
                     GROUP BY {group}{keys}"
                )
            }

            async fn rollups<T>(reader: &sqlx::Pool<Db>, sql: &str, query: &RollupQuery) -> Result<Vec<T>>
            where
                T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
            {
                Ok(sqlx::query_as(sql)
                    .bind(query.since)
                    .bind(query.until)
                    .bind(&query.workflow)
                    .fetch_all(reader)
                    .await?)
            }

            #[async_trait::async_trait]
            impl crate::store::AnalyticsStore for super::$store {
                async fn run_rollups(&self, query: &RollupQuery) -> Result<Vec<RunRollup>> {
                    let sql = rollup_sql(
                        query,
                        "workflow_name AS workflow, agent_id AS agent, CAST(SUM(runs) AS BIGINT) AS runs, \
                         CAST(SUM(completed) AS BIGINT) AS completed, CAST(SUM(failed) AS BIGINT) AS failed, \
                         CAST(SUM(cancelled) AS BIGINT) AS cancelled, SUM(cost_usd) AS cost_usd, \
                         CAST(SUM(tokens) AS BIGINT) AS tokens",
                        "dashboard_rollup_runs",
                        "workflow_name, agent_id HAVING SUM(runs) > 0",
                    );
                    rollups(self.reader(), &sql, query).await
                }

                async fn duration_rollups(&self, query: &RollupQuery) -> Result<Vec<DurationRollup>> {
                    let sql = rollup_sql(
                        query,
                        "workflow_name AS workflow, agent_id AS agent, MIN(b.lower_seconds) AS lower_seconds, \
                         MIN(b.upper_seconds) AS upper_seconds, CAST(SUM(runs) AS BIGINT) AS runs",
                        "dashboard_rollup_durations d JOIN dashboard_duration_bins b ON b.bin = d.bin",
                        "workflow_name, agent_id, d.bin HAVING SUM(runs) > 0",
                    );
                    rollups(self.reader(), &sql, query).await
                }

                async fn node_rollups(&self, query: &RollupQuery) -> Result<Vec<NodeRollup>> {
                    let sql = rollup_sql(
                        query,
                        "workflow_name AS workflow, node_id AS node, model, CAST(SUM(reports) AS BIGINT) AS reports, \
                         CAST(SUM(timed) AS BIGINT) AS timed, SUM(cost_usd) AS cost_usd, \
                         CAST(SUM(tokens) AS BIGINT) AS tokens, SUM(duration_seconds) AS duration_seconds",
                        "dashboard_rollup_nodes",
                        "workflow_name, node_id, model HAVING SUM(reports) > 0",
                    );
                    rollups(self.reader(), &sql, query).await
                }
            }
        }
    };
}

pub(in crate::store) use sql_analytics;

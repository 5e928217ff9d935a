//! Reads of the trigger-kept rollups (migration 0011) and their daily form (0014),
//! summed per bucket; and the move of old hours into days.

use super::common::{Backend, Conn, Db, Result, Ts};
use crate::store::{DurationRollup, NodeRollup, RollupQuery, RunRollup};

/// A rollup: its hourly table, and the columns both forms share.
struct Rollup {
    table: &'static str,
    columns: &'static str,
    keys: &'static str,
}

const RUNS: Rollup = Rollup {
    table: "dashboard_rollup_runs",
    columns: "workflow_name, agent_id, runs, completed, failed, cancelled, cost_usd, tokens",
    keys: "workflow_name, agent_id",
};
const DURATIONS: Rollup = Rollup {
    table: "dashboard_rollup_durations",
    columns: "workflow_name, agent_id, bin, runs",
    keys: "workflow_name, agent_id, bin",
};
const NODES: Rollup = Rollup {
    table: "dashboard_rollup_nodes",
    columns: "workflow_name, node_id, model, reports, timed, cost_usd, tokens, duration_seconds",
    keys: "workflow_name, node_id, model",
};

/// The start of `t`'s UTC day.
fn day_of_t() -> &'static str {
    <super::Target as Backend>::DAY_OF_T
}

/// `SELECT <bucket> AS at, <sums> FROM` the hourly and daily rows of the
/// query's window (as `u`, with `t` their hour or day), grouped by the bucket
/// (if any) and `group`.
fn rollup_sql(query: &RollupQuery, rollup: &Rollup, sums: &str, join: &str, group: &str) -> String {
    let (at, by) = match query.bucket {
        Some(shared::Bucket::Hour) => ("t".to_owned(), "t, ".to_owned()),
        Some(shared::Bucket::Day) => (day_of_t().to_owned(), format!("{}, ", day_of_t())),
        None => ("MIN(t)".to_owned(), String::new()),
    };
    let Rollup { table, columns, .. } = rollup;
    let only = "(CAST($3 AS TEXT) IS NULL OR workflow_name = $3)";
    format!(
        "SELECT {at} AS at, {sums} FROM ( \
         SELECT hour AS t, {columns} FROM {table} WHERE hour >= $1 AND hour < $2 AND {only} \
         UNION ALL \
         SELECT day AS t, {columns} FROM {table}_daily WHERE day >= $1 AND day < $2 AND {only} \
         ) u {join} GROUP BY {by}{group}"
    )
}

async fn rollups<T>(reader: &sqlx::Pool<Db>, sql: &str, query: &RollupQuery) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
{
    Ok(sqlx::query_as(sql).bind(query.since).bind(query.until).bind(&query.workflow).fetch_all(reader).await?)
}

/// Moves the hourly rows before `before` into their days, adding to what
/// the days hold.
async fn compact(conn: &mut Conn, rollup: &Rollup, before: Ts) -> Result<()> {
    let Rollup { table, columns, keys } = rollup;
    let summed: Vec<&str> = columns.split(", ").filter(|c| !keys.split(", ").any(|k| k == *c)).collect();
    let sums = summed.iter().map(|c| format!("SUM({c})")).collect::<Vec<_>>().join(", ");
    let added = summed.iter().map(|c| format!("{c} = {table}_daily.{c} + EXCLUDED.{c}")).collect::<Vec<_>>().join(", ");
    let day = day_of_t();
    let insert_from = |source: &str| {
        format!(
            "INSERT INTO {table}_daily (day, {columns}) \
             SELECT {day}, {keys}, {sums} FROM {source} WHERE true GROUP BY {day}, {keys} \
             ON CONFLICT (day, {keys}) DO UPDATE SET {added}"
        )
    };
    if <super::Target as Backend>::NAME == "postgres" {
        // One statement deletes the rows and adds exactly those: a row another
        // writer changes meanwhile is either moved with its change or kept.
        sqlx::query(&format!(
            "WITH moved AS (DELETE FROM {table} WHERE hour < $1 RETURNING hour AS t, {columns}) {}",
            insert_from("moved")
        ))
        .bind(before)
        .execute(&mut *conn)
        .await?;
    } else {
        // SQLite has one writer at a time: the rows read are the rows deleted.
        let source = format!("(SELECT hour AS t, {columns} FROM {table} WHERE hour < $1)");
        sqlx::query(&insert_from(&source)).bind(before).execute(&mut *conn).await?;
        sqlx::query(&format!("DELETE FROM {table} WHERE hour < $1")).bind(before).execute(&mut *conn).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl crate::store::AnalyticsStore for super::Target {
    async fn run_rollups(&self, query: &RollupQuery) -> Result<Vec<RunRollup>> {
        let sql = rollup_sql(
            query,
            &RUNS,
            "workflow_name AS workflow, agent_id AS agent, CAST(SUM(runs) AS BIGINT) AS runs, \
             CAST(SUM(completed) AS BIGINT) AS completed, CAST(SUM(failed) AS BIGINT) AS failed, \
             CAST(SUM(cancelled) AS BIGINT) AS cancelled, SUM(cost_usd) AS cost_usd, \
             CAST(SUM(tokens) AS BIGINT) AS tokens",
            "",
            "workflow_name, agent_id HAVING SUM(runs) > 0",
        );
        rollups(self.reader(), &sql, query).await
    }

    async fn duration_rollups(&self, query: &RollupQuery) -> Result<Vec<DurationRollup>> {
        let sql = rollup_sql(
            query,
            &DURATIONS,
            "workflow_name AS workflow, agent_id AS agent, MIN(b.lower_seconds) AS lower_seconds, \
             MIN(b.upper_seconds) AS upper_seconds, CAST(SUM(runs) AS BIGINT) AS runs",
            "JOIN dashboard_duration_bins b ON b.bin = u.bin",
            "workflow_name, agent_id, u.bin HAVING SUM(runs) > 0",
        );
        rollups(self.reader(), &sql, query).await
    }

    async fn node_rollups(&self, query: &RollupQuery) -> Result<Vec<NodeRollup>> {
        let sql = rollup_sql(
            query,
            &NODES,
            "workflow_name AS workflow, node_id AS node, model, CAST(SUM(reports) AS BIGINT) AS reports, \
             CAST(SUM(timed) AS BIGINT) AS timed, SUM(cost_usd) AS cost_usd, \
             CAST(SUM(tokens) AS BIGINT) AS tokens, SUM(duration_seconds) AS duration_seconds",
            "",
            "workflow_name, node_id, model HAVING SUM(reports) > 0",
        );
        rollups(self.reader(), &sql, query).await
    }

    async fn compact_rollups(&self, before: Ts) -> Result<()> {
        self.write(move |conn| {
            Box::pin(async move {
                for rollup in [&RUNS, &DURATIONS, &NODES] {
                    compact(conn, rollup, before).await?;
                }
                Ok(((), Vec::new()))
            })
        })
        .await
    }
}

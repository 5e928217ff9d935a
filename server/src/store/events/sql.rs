//! The event log.

use super::common::{rows, Backend, Event, EventRow, Result, Ts};

#[async_trait::async_trait]
impl crate::store::EventStore for super::Target {
    async fn record_event(&self, event: Event) -> Result<()> {
        self.write(move |_| Box::pin(async move { Ok(((), vec![event])) })).await
    }

    async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<(i64, Event)>> {
        let found: Vec<EventRow> =
            sqlx::query_as("SELECT id, kind, payload FROM dashboard_events WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
        Ok(rows::events(found))
    }

    async fn event_bounds(&self) -> Result<(i64, i64)> {
        // One subquery per end: SQLite reads MIN and MAX from the index
        // only when each is alone in its query (together, it scans).
        Ok(sqlx::query_as(
            "SELECT CAST(COALESCE((SELECT MIN(id) FROM dashboard_events), 0) AS BIGINT), \
             CAST(COALESCE((SELECT MAX(id) FROM dashboard_events), 0) AS BIGINT)",
        )
        .fetch_one(self.reader())
        .await?)
    }

    async fn relay_events(&self) {
        Backend::relay(self).await
    }

    async fn prune_events(&self, before: Ts) -> Result<u64> {
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM dashboard_events WHERE created_at < $1 \
                     AND id < (SELECT MAX(id) FROM dashboard_events)",
                )
                .bind(before)
                .execute(&mut *conn)
                .await?;
                Ok((done.rows_affected(), Vec::new()))
            })
        })
        .await
    }
}

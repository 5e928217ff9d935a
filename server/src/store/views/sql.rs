//! Saved views of the runs list.

use super::common::{Backend, Conn, Result, StoreError, Ts};
use shared::{NewView, SavedView};

const COLUMNS: &str = "id, name, owner, query, shared, is_default, hidden_columns, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ViewRow {
    id: String,
    name: String,
    owner: String,
    query: String,
    shared: bool,
    is_default: bool,
    /// Comma-separated.
    hidden_columns: Option<String>,
    created_at: Ts,
    updated_at: Ts,
}

fn view(row: ViewRow, caller: &str) -> SavedView {
    SavedView {
        mine: row.owner == caller,
        id: row.id,
        name: row.name,
        owner: row.owner,
        query: row.query,
        shared: row.shared,
        default: row.is_default,
        hidden_columns: row
            .hidden_columns
            .as_deref()
            .map(|list| list.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default(),
        created_at: row.created_at.utc(),
        updated_at: row.updated_at.utc(),
    }
}

/// Writes `new` as view `id` of `owner` (a new one with `created`), keeping
/// one default per owner.
async fn save(conn: &mut Conn, id: &str, owner: &str, new: &NewView, created: bool) -> Result<SavedView> {
    if new.default {
        sqlx::query("UPDATE dashboard_views SET is_default = $2 WHERE owner = $1")
            .bind(owner)
            .bind(false)
            .execute(&mut *conn)
            .await?;
    }
    let now = Ts::now();
    let sql = if created {
        format!(
            "INSERT INTO dashboard_views ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $8, $7, $7) \
             RETURNING {COLUMNS}"
        )
    } else {
        format!(
            "UPDATE dashboard_views SET name = $2, query = $4, shared = $5, is_default = $6, \
             hidden_columns = $8, updated_at = $7 WHERE id = $1 AND owner = $3 RETURNING {COLUMNS}"
        )
    };
    let row: Option<ViewRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(&new.name)
        .bind(owner)
        .bind(&new.query)
        .bind(new.shared)
        .bind(new.default)
        .bind(now)
        .bind(new.hidden_columns.join(","))
        .fetch_optional(&mut *conn)
        .await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("you have no view with id {id}")))?;
    Ok(view(row, owner))
}

#[async_trait::async_trait]
impl crate::store::ViewStore for super::Target {
    async fn list_views(&self, caller: &str) -> Result<Vec<SavedView>> {
        let rows: Vec<ViewRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM dashboard_views WHERE owner = $1 OR shared = $2 ORDER BY name, id"
        ))
        .bind(caller)
        .bind(true)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(|row| view(row, caller)).collect())
    }

    async fn save_view(&self, id: Option<&str>, owner: &str, new: NewView) -> Result<SavedView> {
        let (created, id) = match id {
            Some(id) => (false, id.to_owned()),
            None => (true, uuid::Uuid::new_v4().to_string()),
        };
        let owner = owner.to_owned();
        self.write(move |conn| Box::pin(async move { Ok((save(conn, &id, &owner, &new, created).await?, Vec::new())) }))
            .await
    }

    async fn delete_view(&self, id: &str, owner: &str) -> Result<()> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                let deleted = sqlx::query("DELETE FROM dashboard_views WHERE id = $1 AND owner = $2")
                    .bind(&id)
                    .bind(&owner)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                match deleted {
                    0 => Err(StoreError::NotFound(format!("you have no view with id {id}"))),
                    _ => Ok(((), Vec::new())),
                }
            })
        })
        .await
    }
}

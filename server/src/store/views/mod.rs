//! Saved views of the runs list. Its SQL, `sql.rs`, is compiled once per backend
//! (`store/sql/`).

use async_trait::async_trait;

use super::Result;

/// Saved views of the runs list, each its owner's.
#[async_trait]
pub trait ViewStore: Send + Sync {
    /// The caller's views and everyone's shared ones.
    async fn list_views(&self, caller: &str) -> Result<Vec<shared::SavedView>>;
    /// Creates a view (`id` none) or changes one of the owner's (NotFound otherwise).
    async fn save_view(&self, id: Option<&str>, owner: &str, view: shared::NewView) -> Result<shared::SavedView>;
    async fn delete_view(&self, id: &str, owner: &str) -> Result<()>;
}

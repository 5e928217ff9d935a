//! What storage answers when it cannot do what was asked.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    /// The caller may not change this (another agent token's agent id).
    #[error("{0}")]
    Forbidden(String),
    /// The database is away, full, read-only or locked: the write was not recorded
    /// and may be tried again.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Internal(String),
}

impl StoreError {
    /// What a write is answered when its batch failed as a whole: it was not
    /// recorded, whatever its own part, so it may be tried again.
    pub(super) fn retry_later(&self) -> StoreError {
        match self {
            StoreError::Unavailable(reason) => StoreError::Unavailable(reason.clone()),
            other => StoreError::Unavailable(format!("the write was rolled back ({other})")),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_transient(&error) {
            StoreError::Unavailable(error.to_string())
        } else {
            StoreError::Database(error)
        }
    }
}

/// Errors that say the database cannot serve now, rather than that a request is wrong.
fn is_transient(error: &sqlx::Error) -> bool {
    use sqlx::Error::*;
    match error {
        Io(_) | Tls(_) | PoolTimedOut | PoolClosed | WorkerCrashed | Protocol(_) => true,
        Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.parse::<i64>() {
                // SQLite (primary codes): BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
                Ok(extended) => matches!(extended & 0xff, 5 | 6 | 8 | 10 | 13 | 14),
                // PostgreSQL classes: connection exception, insufficient resources,
                // operator intervention (shutdown), read-only transaction.
                Err(_) => ["08", "53", "57"].iter().any(|class| code.starts_with(class)) || code == "25006",
            }
        }
        _ => false,
    }
}
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

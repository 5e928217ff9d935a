//! What access control stores: tokens (by the hash of their secret), browser
//! sessions, which agent ids an agent token owns, and the audit log.

use async_trait::async_trait;
use shared::{AuditEntry, Role, TokenInfo};

use super::{Result, Ts};

/// Who made a change: a token's name (or an SSO user's), or `local` without sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    /// The token behind it, when there is one.
    pub token_id: Option<String>,
}

impl Actor {
    /// Changes made by the dashboard itself (agent expiry, the dispatcher).
    pub fn system() -> Actor {
        Actor { name: "dashboard".to_owned(), token_id: None }
    }
}

/// A change to record in the audit log, in the transaction that makes it.
#[derive(Debug, Clone)]
pub struct Audit {
    pub actor: Actor,
    pub action: &'static str,
    pub target: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub agent_ids: Vec<String>,
    pub secret_hash: String,
    pub expires_at: Option<Ts>,
    pub created_by: Option<String>,
}

/// A stored token, with what checking a request against it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub secret_hash: String,
    pub info: TokenInfo,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub token_id: String,
    pub csrf: String,
    pub expires_at: Ts,
}

/// A browser session and the token it was signed in with.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub token: TokenRecord,
    pub csrf: String,
    pub expires_at: Ts,
}

/// Who may report into a run: the agent it was dispatched to, the token that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOwners {
    pub agent_id: Option<String>,
    pub created_by_token: Option<String>,
}

#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Conflict if the name is taken.
    async fn create_token(&self, token: NewToken, audit: Audit) -> Result<TokenRecord>;
    async fn list_tokens(&self) -> Result<Vec<TokenInfo>>;
    /// Deletes the token with its sessions; NotFound if there is none of that name.
    async fn revoke_token(&self, name: &str, audit: Audit) -> Result<TokenRecord>;
    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>>;
    async fn token_exists(&self, id: &str) -> Result<bool>;
    /// Records that the token was used (callers throttle this).
    async fn touch_token(&self, id: &str) -> Result<()>;
    /// Tokens of the admin role that have not expired.
    async fn admin_tokens(&self) -> Result<i64>;

    async fn create_session(&self, session: NewSession) -> Result<()>;
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    /// Deletes sessions that have expired; returns how many.
    async fn prune_sessions(&self, now: Ts) -> Result<u64>;

    /// Whether `token_id` owns `agent_id`; when `claim`, an agent id no token owns
    /// becomes this token's (the first registration claims it).
    async fn owns_agent(&self, token_id: &str, agent_id: &str, claim: bool) -> Result<bool>;
    async fn run_owners(&self, run_id: &str) -> Result<Option<RunOwners>>;

    /// Newest first, entries with `id < before`.
    async fn audit_page(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>>;
}

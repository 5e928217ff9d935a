//! What access control stores: tokens (by the hash of their secret), browser
//! sessions, which agent ids an agent token owns, and the audit log. Its SQL, `sql.rs`,
//! is compiled once per backend (`store/sql/`).

use async_trait::async_trait;
use shared::{AuditEntry, Role, TokenInfo};

use super::{Result, StoreError, Ts};

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
    pub workflows: Vec<String>,
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

/// Who is registering an agent id, and what that may do to the id's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `Caller::owner_key`: a token id, or `user:NAME`.
    pub owner: String,
    pub kind: ClaimKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// Admins and the open default: any id; one nobody owns becomes theirs.
    Any,
    /// An agent token: ids it owns, or that nobody owns (they are its own from now on).
    Own,
    /// An agent token an admin bound to the id: the id is its own, whoever had it.
    Bound,
}

impl Claim {
    /// The owner to record (`None`: leave it), given the id's owner now and whether an
    /// agent of that id is registered; or why not. An agent token claims only an id
    /// nobody owns and no agent holds: a registered agent whose owner is gone (its
    /// token revoked, its id freed, or registered before owners were kept) is given to
    /// a token by an admin, not taken by the first token to ask.
    pub fn settle(&self, current: Option<&str>, registered: bool) -> Result<Option<String>> {
        let refused = |why: &str| {
            Err(StoreError::Forbidden(format!(
                "this agent id {why}; an admin can give it to a token (PUT /api/agents/{{id}}/owner)"
            )))
        };
        match (self.kind, current) {
            (_, Some(owner)) if owner == self.owner => Ok(None),
            (ClaimKind::Own, Some(_)) => refused("belongs to another caller"),
            (ClaimKind::Own, None) if registered => refused("is registered and owned by no one"),
            (ClaimKind::Bound, _) | (_, None) => Ok(Some(self.owner.clone())),
            (ClaimKind::Any, Some(_)) => Ok(None),
        }
    }
}

/// Who owns an agent id, as admins see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnerRecord {
    pub owner: String,
    /// The owning token's name (gone if the token was revoked and its claims with it).
    pub token_name: Option<String>,
    pub claimed_at: Option<Ts>,
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

    async fn create_session(&self, session: NewSession, audit: Audit) -> Result<()>;
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>>;
    async fn delete_session(&self, id_hash: &str, audit: Audit) -> Result<()>;
    /// Deletes sessions that have expired; returns how many.
    async fn prune_sessions(&self, now: Ts) -> Result<u64>;

    /// Who owns `agent_id` (registering claims it: `AgentStore::register_agent`).
    async fn agent_owner(&self, agent_id: &str) -> Result<Option<OwnerRecord>>;
    /// Gives the id to the token named `token`, or frees it (`None`) for the next
    /// registration to claim; NotFound for an unknown token.
    async fn set_agent_owner(&self, agent_id: &str, token: Option<String>, audit: Audit) -> Result<()>;
    /// The agent ids `owner` owns.
    async fn owned_agents(&self, owner: &str) -> Result<Vec<String>>;
    async fn run_owners(&self, run_id: &str) -> Result<Option<RunOwners>>;

    /// Records what happened outside any other write (a failed sign-in).
    async fn record_audit(&self, audit: Audit) -> Result<()>;
    /// Newest first, entries with `id < before`.
    async fn audit_page(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_id_is_its_first_owners() {
        let claim = |kind| Claim { owner: "me".to_owned(), kind };
        let settled = |kind, current: Option<&str>, registered| {
            claim(kind).settle(current, registered).map_err(|e| e.to_string())
        };
        for kind in [ClaimKind::Any, ClaimKind::Own, ClaimKind::Bound] {
            assert_eq!(settled(kind, None, false), Ok(Some("me".to_owned())), "{kind:?}: nobody's becomes mine");
            assert_eq!(settled(kind, Some("me"), true), Ok(None), "{kind:?}: mine stays mine");
        }
        assert_eq!(settled(ClaimKind::Any, Some("other"), true), Ok(None), "an admin leaves the owner be");
        assert!(settled(ClaimKind::Own, Some("other"), true).is_err(), "another agent token's is refused");
        assert!(settled(ClaimKind::Own, None, true).is_err(), "a registered agent nobody owns is not taken");
        assert_eq!(settled(ClaimKind::Any, None, true), Ok(Some("me".to_owned())), "an admin's registration claims it");
        assert_eq!(settled(ClaimKind::Bound, Some("other"), true), Ok(Some("me".to_owned())), "a binding wins");
    }
}

//! Who may do what: roles, what each allows, and the sign-in, token and audit types.
//! The server enforces these rules and the browser app hides what a role cannot do,
//! from this one definition.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every page and event stream; changes nothing.
    Viewer,
    /// A viewer who also starts, cancels and restarts runs and deregisters agents.
    Operator,
    /// An agent service: registers and heartbeats its own agent ids, and reports into
    /// the runs dispatched to them or created with its token.
    Agent,
    /// Everything, tokens and the audit log included.
    Admin,
}

/// What a request does, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read runs, agents, the summary, the event streams, MLflow.
    Read,
    /// Start, cancel, restart runs; deregister agents; change things in MLflow.
    Operate,
    /// Create runs and report into them (the ingest API).
    Report,
    /// Register and heartbeat agents.
    Register,
    /// Deregister an agent: operators any, agents their own.
    Deregister,
    /// Tokens and the audit log.
    Administer,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::Read,
        Permission::Operate,
        Permission::Report,
        Permission::Register,
        Permission::Deregister,
        Permission::Administer,
    ];

    /// The name routes declare it by (an OpenAPI security scope).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Operate => "operate",
            Permission::Report => "report",
            Permission::Register => "register",
            Permission::Deregister => "deregister",
            Permission::Administer => "administer",
        }
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|permission| permission.as_str() == s)
            .ok_or_else(|| format!("unknown permission `{s}`"))
    }
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Agent, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    /// Whether the role may take `action` at all; an agent's actions are further
    /// limited to its own agents and runs.
    pub fn allows(self, action: Permission) -> bool {
        matches!(
            (self, action),
            (Role::Admin, _)
                | (Role::Viewer, Permission::Read)
                | (Role::Operator, Permission::Read | Permission::Operate | Permission::Deregister)
                | (Role::Agent, Permission::Report | Permission::Register | Permission::Deregister)
        )
    }

    /// The least role that allows `action`, for messages.
    pub fn needed_for(action: Permission) -> &'static str {
        match action {
            Permission::Read => "viewer, operator or admin",
            Permission::Operate => "operator or admin",
            Permission::Report | Permission::Register => "agent or admin",
            Permission::Deregister => "operator, admin, or the agent's own agent token",
            Permission::Administer => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (expected viewer, operator, agent or admin)"))
    }
}

/// `GET /api/session`: who the caller is. Without sign-in (`auth` false) every local
/// caller is `local`, an admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub name: String,
    pub role: Role,
    /// Whether the dashboard requires sign-in (`--auth tokens`).
    pub auth: bool,
    /// For a browser session: the value to send as `X-CSRF-Token` on every change.
    pub csrf: Option<String>,
    /// The newest event when this answer was read: an event stream resumed from it
    /// (`last_event_id`) misses nothing that reads made after this answer do not show.
    /// `null` when the event log could not be read (the app then reads again at `ready`).
    pub event_id: Option<i64>,
}

/// `POST /api/session`: sign in with a token; the answer sets the session cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub token: String,
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    /// For agent tokens: the agent ids it may register (empty: those it registers first).
    pub agent_ids: Vec<String>,
    /// For agent tokens: the workflows its agents may serve and it may record runs of
    /// (empty: those its agents declare).
    #[serde(default)]
    pub workflows: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub agent_ids: Vec<String>,
    /// For agent tokens: the only workflows its agents may declare and it may record
    /// runs of.
    #[serde(default)]
    pub workflows: Vec<String>,
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A new token with its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub token: TokenInfo,
    pub secret: String,
}

/// One state change and who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `run.start`, `run.cancel`, `run.restart`, `agent.register`, `agent.deregister`,
    /// `token.create`, `token.revoke`, ...
    pub action: String,
    /// The run id, agent id or token name acted on.
    pub target: String,
    pub detail: Option<String>,
}

/// `GET /api/audit`: newest first; `next_before` pages on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_allows_what_it_says() {
        let allowed =
            |role: Role| Permission::ALL.into_iter().filter(|action| role.allows(*action)).collect::<Vec<_>>();
        assert_eq!(allowed(Role::Viewer), [Permission::Read]);
        assert_eq!(allowed(Role::Operator), [Permission::Read, Permission::Operate, Permission::Deregister]);
        assert_eq!(allowed(Role::Agent), [Permission::Report, Permission::Register, Permission::Deregister]);
        assert_eq!(allowed(Role::Admin).len(), 6);
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
        for permission in Permission::ALL {
            assert_eq!(permission.as_str().parse::<Permission>(), Ok(permission));
        }
    }
}

//! Tokens and callers. A token's secret is 32 random bytes from the operating system,
//! shown once and stored only as its SHA-256 (a fast hash suits a secret with this
//! much entropy); a request's secret is hashed, found by that hash and compared in
//! constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use shared::{CreateToken, CreatedToken, Role};
use subtle::ConstantTimeEq;

use crate::store::access::{Actor, Audit, NewToken, TokenRecord};
use crate::store::{Result, Store, StoreError, Ts};

/// Secrets start with this, so that one pasted in the wrong place is recognisable
/// (and secret scanners can be taught to find them).
const SECRET_PREFIX: &str = "cat_";

/// 32 random bytes from the operating system, URL-safe.
pub fn random_value() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", random_value())
}

/// The stored form of a secret: its SHA-256, hex.
pub fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Who is asking, once authenticated.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub token_id: Option<String>,
    /// For agent tokens bound to agent ids.
    pub agent_ids: Vec<String>,
    /// For agent tokens bound to workflows.
    pub workflows: Vec<String>,
    /// When signed in through the browser.
    pub session: Option<BrowserSession>,
    /// When its token or session ends (event streams opened with it end then).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BrowserSession {
    /// The hash of the session id the cookie holds.
    pub id_hash: String,
    /// What changes must carry in `X-CSRF-Token`.
    pub csrf: String,
}

impl Caller {
    /// The caller a token makes: through a browser `session`, until the sooner of the
    /// token's end and the session's.
    pub fn of_token(token: TokenRecord, session: Option<(BrowserSession, chrono::DateTime<chrono::Utc>)>) -> Caller {
        let (session, expires_at) = match session {
            None => (None, token.info.expires_at),
            Some((session, ends)) => (Some(session), Some(token.info.expires_at.map_or(ends, |token| token.min(ends)))),
        };
        Caller {
            name: token.info.name,
            role: token.info.role,
            token_id: Some(token.id),
            agent_ids: token.info.agent_ids,
            workflows: token.info.workflows,
            session,
            expires_at,
        }
    }

    /// Without `--auth`: every caller that can reach the dashboard may do everything.
    pub fn local() -> Caller {
        Caller {
            name: "local".to_owned(),
            role: Role::Admin,
            token_id: None,
            agent_ids: Vec::new(),
            workflows: Vec::new(),
            session: None,
            expires_at: None,
        }
    }

    /// Who owns what this caller registers: its token, or else its name (an SSO user,
    /// or `local` without sign-in). Token ids are uuids, so the two never meet.
    pub fn owner_key(&self) -> String {
        match &self.token_id {
            Some(token) => token.clone(),
            None => format!("user:{}", self.name),
        }
    }

    pub fn actor(&self) -> Actor {
        Actor { name: self.name.clone(), token_id: self.token_id.clone() }
    }

    pub fn audit(&self, action: &'static str, target: impl Into<String>, detail: Option<String>) -> Audit {
        Audit { actor: self.actor(), action, target: target.into(), detail }
    }
}

/// The longest a token may be made to last: a century (beyond it dates overflow; a
/// token that should not expire is made without `expires_in_days`).
const MAX_TOKEN_DAYS: u32 = 36_500;

/// Checks a token request and stores the new token; the secret is in the answer only.
pub async fn issue(store: &dyn Store, request: CreateToken, by: &Actor) -> Result<CreatedToken> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(StoreError::Unprocessable("a token's name is 1 to 128 printable characters".to_owned()));
    }
    if request.role != Role::Agent && !(request.agent_ids.is_empty() && request.workflows.is_empty()) {
        return Err(StoreError::Unprocessable("only agent tokens are bound to agent ids or workflows".to_owned()));
    }
    if request.agent_ids.iter().any(|id| id.is_empty() || id.len() > 255 || id.chars().any(char::is_control)) {
        return Err(StoreError::Unprocessable("agent ids are 1 to 255 printable characters".to_owned()));
    }
    if request.workflows.len() > 100
        || request
            .workflows
            .iter()
            .any(|w| w.trim().is_empty() || w.chars().count() > 256 || w.chars().any(char::is_control))
    {
        return Err(StoreError::Unprocessable(
            "workflows are up to 100 names of 1 to 256 printable characters".to_owned(),
        ));
    }
    let expires_at = match request.expires_in_days {
        Some(days @ 1..=MAX_TOKEN_DAYS) => Some(Ts::now().plus_seconds(i64::from(days) * 86_400)),
        Some(_) => {
            return Err(StoreError::Unprocessable(format!("`expires_in_days` is 1 to {MAX_TOKEN_DAYS} (or none)")))
        }
        None => None,
    };
    let secret = new_secret();
    let token = NewToken {
        name: name.to_owned(),
        role: request.role,
        agent_ids: request.agent_ids,
        workflows: request.workflows,
        secret_hash: hash(&secret),
        expires_at,
        created_by: Some(by.name.clone()),
    };
    let audit = Audit {
        actor: by.clone(),
        action: "token.create",
        target: name.to_owned(),
        detail: Some(request.role.to_string()),
    };
    let stored = store.create_token(token, audit).await?;
    Ok(CreatedToken { token: stored.info, secret })
}

/// Replaces the token of that name with a new one (for tokens the dashboard makes for
/// itself, such as the demo's, whose old secrets are unknown to it).
pub async fn reissue(store: &dyn Store, request: CreateToken, by: &Actor) -> Result<CreatedToken> {
    let revoke = Audit { actor: by.clone(), action: "token.revoke", target: request.name.clone(), detail: None };
    match store.revoke_token(&request.name, revoke).await {
        Ok(_) | Err(StoreError::NotFound(_)) => issue(store, request, by).await,
        Err(error) => Err(error),
    }
}

/// With tokens on and no admin token that works, makes one (named `admin`, or
/// `admin-2`, ... if that name is taken) and returns its secret.
pub async fn first_admin(store: &dyn Store) -> Result<Option<String>> {
    if store.admin_tokens().await? > 0 {
        return Ok(None);
    }
    let mut n = 1;
    loop {
        let name = if n == 1 { "admin".to_owned() } else { format!("admin-{n}") };
        let request = CreateToken {
            name,
            role: Role::Admin,
            agent_ids: Vec::new(),
            workflows: Vec::new(),
            expires_in_days: None,
        };
        match issue(store, request, &Actor::system()).await {
            Ok(created) => return Ok(Some(created.secret)),
            Err(StoreError::Conflict(_)) => n += 1,
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_stored_hashed() {
        let (one, two) = (new_secret(), new_secret());
        assert_ne!(one, two);
        assert!(one.starts_with(SECRET_PREFIX) && one.len() == SECRET_PREFIX.len() + 43);
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(same(&hash(&one), &hash(&one)) && !same(&hash(&one), &hash(&two)));
    }
}

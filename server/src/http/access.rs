//! Who is asking, and whether they may. Every request is classified by what it does
//! (read, operate, report, register, deregister, administer); with `--auth tokens`
//! its caller comes from a token (Bearer, or the password of HTTP Basic), a browser
//! session cookie (with a CSRF header on changes), or a trusted SSO proxy's header,
//! and the caller's role must allow the action. Agents are further limited to their
//! own agent ids and runs, which the handlers check with `Caller::may_*`.

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ipnet::IpNet;
use shared::{Permission, Role};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::{error_response, ApiError};
use super::guard::is_safe;
use super::AppState;
use crate::access::{hash, same, BrowserSession, Caller};
use crate::config::{AccessArgs, AuthMode};
use crate::store::{Store, Ts};

/// The browser session cookie: `__Host-` (which needs `Secure`) under https.
pub const SESSION_COOKIE: &str = "ca_session";
pub const SECURE_SESSION_COOKIE: &str = "__Host-ca_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A token's last use is written at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

pub struct Access {
    pub tokens: bool,
    trusted_header: Option<HeaderName>,
    trusted_proxies: Vec<IpNet>,
    default_role: Role,
    user_roles: HashMap<String, Role>,
    pub session_lifetime: Duration,
    touched: Mutex<HashMap<String, Instant>>,
}

impl Access {
    /// Refuses a configuration that would expose the dashboard: a non-loopback address
    /// without tokens (unless insisted on), or a trusted header trusted from anywhere.
    pub fn new(args: &AccessArgs, bound: SocketAddr) -> anyhow::Result<Access> {
        let tokens = args.auth == AuthMode::Tokens;
        if !tokens && !bound.ip().is_loopback() {
            if !args.insecure_no_auth {
                anyhow::bail!(
                    "refusing to serve {bound} without authentication: anyone who can reach it could start, \
                     cancel and read every run. Start it with --auth tokens (or bind 127.0.0.1); \
                     --insecure-no-auth serves it open anyway"
                );
            }
            tracing::warn!(
                "serving {bound} without authentication (--insecure-no-auth): anyone who can reach it controls it"
            );
        }
        let trusted_header = match &args.trusted_user_header {
            None => None,
            Some(_) if !tokens => anyhow::bail!("--trusted-user-header needs --auth tokens"),
            Some(_) if args.trusted_proxies.is_empty() => {
                anyhow::bail!("--trusted-user-header needs --trusted-proxy: the addresses the SSO proxy connects from")
            }
            Some(name) => Some(HeaderName::try_from(name.as_str())?),
        };
        Ok(Access {
            tokens,
            trusted_header,
            trusted_proxies: args.trusted_proxies.clone(),
            default_role: args.default_role,
            user_roles: args.user_roles.iter().cloned().collect(),
            session_lifetime: Duration::from_secs(u64::from(args.session_hours) * 3600),
            touched: Mutex::default(),
        })
    }

    /// Whether the token's last use should be written now.
    fn due_for_touch(&self, token_id: &str) -> bool {
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match touched.get(token_id) {
            Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
            _ => {
                touched.insert(token_id.to_owned(), now);
                true
            }
        }
    }
}

/// What the request does; `None` for what anyone may reach (the app's files, the
/// health check, signing in and out).
pub fn action(method: &Method, path: &str) -> Option<Permission> {
    let normalised = super::frontend::normalise(path);
    let segments: Vec<&str> = normalised.split('/').collect();
    let safe = is_safe(method);
    let post = *method == Method::POST;
    match segments.as_slice() {
        // The contract and its docs are public, as FastAPI's /docs and /openapi.json are.
        ["api", "health" | "session" | "openapi.json" | "docs"] => None,
        // Webhooks send the dashboard's data where they point: an admin's choice.
        ["api", "tokens" | "audit" | "webhooks", ..] => Some(Permission::Administer),
        ["api", ..] if safe => Some(Permission::Read),
        // Saved views are their caller's own (a viewer keeps views too).
        ["api", "views", ..] => Some(Permission::Read),
        ["api", "workflows", "run"] if post => Some(Permission::Operate),
        ["api", "workflows", _, "cancel" | "restart"] if post => Some(Permission::Operate),
        ["api", "workflows"] if post => Some(Permission::Report),
        ["api", "workflows", _, "start" | "states" | "logs" | "complete" | "fail"] if post => Some(Permission::Report),
        ["api", "agents", "register"] if post => Some(Permission::Register),
        ["api", "agents", _, "heartbeat"] if post => Some(Permission::Register),
        ["api", "agents", _] if *method == Method::DELETE => Some(Permission::Deregister),
        ["api", ..] => Some(Permission::Operate),
        // MLflow searches with POST (`runs/search`, `experiments/search`): reads.
        ["mlflow", ..] if safe => Some(Permission::Read),
        ["mlflow", .., last] if post && last.starts_with("search") => Some(Permission::Read),
        ["mlflow", ..] => Some(Permission::Operate),
        _ => None,
    }
}

/// Resolves the caller and checks the role; the caller rides in the request's
/// extensions for the handlers.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let action = action(request.method(), request.uri().path());
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let caller = match identify(&state, request.method(), request.uri().path(), request.headers(), peer).await {
        Ok(caller) => caller,
        // What anyone may reach stays reachable with stale credentials: the app's
        // pages must load to offer signing in again.
        Err(_) if action.is_none() => None,
        Err(refusal) => return refusal.into_response(),
    };
    match (caller, action) {
        (Some(caller), Some(action)) if !caller.role.allows(action) => {
            return error_response(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the {} role; {} is {}", Role::needed_for(action), caller.name, caller.role),
            );
        }
        (None, Some(_)) => return unauthorized("sign in, or send a token (Authorization: Bearer ...)").into_response(),
        (Some(caller), _) => {
            request.extensions_mut().insert(caller);
        }
        (None, None) => {}
    }
    next.run(request).await
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(message.to_owned())
}

/// The caller the request proves it is, `None` if it proves nothing, or the answer
/// to credentials that do not hold.
async fn identify(
    state: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<Option<Caller>, ApiError> {
    let access = &state.access;
    if !access.tokens {
        return Ok(Some(Caller::local()));
    }
    if let Some(secret) = presented_secret(headers)? {
        return token_caller(state, &secret).await.map(Some);
    }
    if let Some(session) = session_cookie(headers) {
        return session_caller(state, &session, method, path, headers).await.map(Some);
    }
    if let Some(header) = &access.trusted_header {
        let trusted = peer.is_some_and(|ip| access.trusted_proxies.iter().any(|net| net.contains(&ip)));
        if let (true, Some(user)) = (trusted, headers.get(header).and_then(|v| v.to_str().ok())) {
            let user = user.trim();
            if user.is_empty() || user.len() > 128 || user.chars().any(char::is_control) {
                return Err(unauthorized("the SSO proxy sent an unusable user name"));
            }
            let role = access.user_roles.get(user).copied().unwrap_or(access.default_role);
            return Ok(Some(Caller {
                name: user.to_owned(),
                role,
                token_id: None,
                agent_ids: Vec::new(),
                session: None,
            }));
        }
    }
    Ok(None)
}

/// The secret of `Authorization: Bearer SECRET` or of HTTP Basic's password (any
/// user name), which is how URL credentials (`http://agent:SECRET@host/api`) arrive.
fn presented_secret(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| unauthorized("unreadable Authorization header"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(rest.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest).ok().and_then(|bytes| String::from_utf8(bytes).ok());
        let password =
            decoded.as_deref().and_then(|pair| pair.split_once(':')).map(|(_, password)| password.to_owned());
        return password.map(Some).ok_or_else(|| unauthorized("unreadable Basic credentials"));
    }
    Err(unauthorized("use Authorization: Bearer TOKEN, or Basic with the token as the password"))
}

async fn token_caller(state: &AppState, secret: &str) -> Result<Caller, ApiError> {
    let presented = hash(secret);
    let found = state.store.token_by_hash(&presented).await?;
    let token = found
        .filter(|token| same(&token.secret_hash, &presented))
        .ok_or_else(|| unauthorized("unknown or revoked token"))?;
    if token.info.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        return Err(unauthorized("this token has expired"));
    }
    if state.access.due_for_touch(&token.id) {
        let (store, id) = (state.store.clone(), token.id.clone());
        tokio::spawn(async move {
            if let Err(error) = store.touch_token(&id).await {
                tracing::warn!(%error, "could not record a token's use");
            }
        });
    }
    Ok(Caller {
        name: token.info.name,
        role: token.info.role,
        token_id: Some(token.id),
        agent_ids: token.info.agent_ids,
        session: None,
    })
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE || *name == SECURE_SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

async fn session_caller(
    state: &AppState,
    session: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let id_hash = hash(session);
    let found = state.store.session(&id_hash).await?;
    let record = found.ok_or_else(|| unauthorized("your session has ended; sign in again"))?;
    let now = Ts::now();
    if record.expires_at <= now || record.token.info.expires_at.is_some_and(|at| at <= now.utc()) {
        return Err(unauthorized("your session has expired; sign in again"));
    }
    if !is_safe(method) && !same_origin_mlflow(path, headers) {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !same(sent, &record.csrf) {
            return Err(ApiError::Forbidden(
                "a change from a browser session must carry its X-CSRF-Token header".to_owned(),
            ));
        }
    }
    let token = record.token;
    Ok(Caller {
        name: token.info.name,
        role: token.info.role,
        token_id: Some(token.id),
        agent_ids: token.info.agent_ids,
        session: Some(BrowserSession { id_hash, csrf: record.csrf }),
    })
}

/// MLflow's own UI, framed by the dashboard, cannot add our CSRF header to its POSTs;
/// for it the browser's own word that the request comes from this origin stands in
/// (`Sec-Fetch-Site: same-origin`, which no page can forge; the Origin check applies too).
fn same_origin_mlflow(path: &str, headers: &HeaderMap) -> bool {
    super::frontend::normalise(path).starts_with("mlflow/")
        && headers.get("sec-fetch-site").is_some_and(|site| site.as_bytes() == b"same-origin")
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::Unauthorized("sign in first".to_owned()))
    }
}

impl Caller {
    /// Whether the caller may register, heartbeat or deregister `agent_id`: anyone
    /// whose role allows it, except that an agent token only its own agent ids
    /// (those bound to it, or else those it registered first, which `claim` records).
    pub async fn may_manage_agent(&self, store: &dyn Store, agent_id: &str, claim: bool) -> Result<(), ApiError> {
        if self.role != Role::Agent {
            return Ok(());
        }
        let owns = match (&self.token_id, self.agent_ids.is_empty()) {
            (_, false) => self.agent_ids.iter().any(|id| id == agent_id),
            (Some(token), true) => store.owns_agent(token, agent_id, claim).await?,
            (None, true) => false,
        };
        match owns {
            true => Ok(()),
            false => Err(ApiError::Forbidden(format!("agent id `{agent_id}` belongs to another token"))),
        }
    }

    /// Whether the caller may report into the run: an agent token only into runs
    /// dispatched to one of its agents or created with it.
    pub async fn may_report(&self, store: &dyn Store, run_id: &str) -> Result<(), ApiError> {
        if self.role != Role::Agent {
            return Ok(());
        }
        let owners = store
            .run_owners(run_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no workflow run with id {run_id}")))?;
        if owners.created_by_token.is_some() && owners.created_by_token == self.token_id {
            return Ok(());
        }
        if let Some(agent_id) = owners.agent_id {
            if self.may_manage_agent(store, &agent_id, false).await.is_ok() {
                return Ok(());
            }
        }
        Err(ApiError::Forbidden(format!(
            "run {run_id} was neither dispatched to one of your agents nor created with your token"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_by_what_they_do() {
        let run = "/api/workflows/5b0c8b9e-0000-4000-8000-000000000000";
        for (method, path, expected) in [
            (Method::GET, "/", None),
            (Method::GET, "/workflows", None),
            (Method::GET, "/api/health", None),
            (Method::POST, "/api/session", None),
            (Method::GET, "/api/workflows", Some(Permission::Read)),
            (Method::GET, "/api/events", Some(Permission::Read)),
            (Method::GET, "/API/workflows", Some(Permission::Read)),
            (Method::POST, "/api/workflows/run", Some(Permission::Operate)),
            (Method::GET, "/api/webhooks", Some(Permission::Administer)),
            (Method::POST, "/api/views", Some(Permission::Read)),
            (Method::PUT, "/api/budgets/w", Some(Permission::Operate)),
            (Method::GET, "/api/analytics/series", Some(Permission::Read)),
            (Method::POST, &format!("{run}/cancel"), Some(Permission::Operate)),
            (Method::POST, &format!("{run}/restart"), Some(Permission::Operate)),
            (Method::POST, "/api/workflows", Some(Permission::Report)),
            (Method::POST, &format!("{run}/states"), Some(Permission::Report)),
            (Method::POST, "//api/workflows", Some(Permission::Report)),
            (Method::POST, "/api/agents/register", Some(Permission::Register)),
            (Method::POST, "/api/agents/a/heartbeat", Some(Permission::Register)),
            (Method::DELETE, "/api/agents/a", Some(Permission::Deregister)),
            (Method::GET, "/api/tokens", Some(Permission::Administer)),
            (Method::GET, "/api/audit", Some(Permission::Administer)),
            (Method::PUT, "/api/anything", Some(Permission::Operate)),
            (Method::GET, "/mlflow/", Some(Permission::Read)),
            (Method::POST, "/mlflow/ajax-api/2.0/mlflow/runs/delete", Some(Permission::Operate)),
            (Method::POST, "/mlflow/ajax-api/2.0/mlflow/runs/search", Some(Permission::Read)),
            (Method::POST, "/mlflow/ajax-api/2.0/mlflow/experiments/search", Some(Permission::Read)),
        ] {
            assert_eq!(action(&method, path), expected, "{method} {path}");
        }
    }
}

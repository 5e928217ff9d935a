//! Who is asking, and whether they may. Each route declares what it needs where it is
//! registered (`rules`); the router matches the request, and this layer checks the
//! caller against that route's rule before any handler runs. With `--auth tokens` the
//! caller comes from a token (Bearer, or the password of HTTP Basic), a browser
//! session cookie (with a CSRF header on changes), or a trusted SSO proxy's header.
//! Agents are further limited to their own agent ids and runs (`ownership`).

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, OptionalFromRequestParts, Request, State};
use axum::http::header::{ALLOW, AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ipnet::IpNet;
use shared::Role;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::auth_failures::AuthFailures;
use super::error::{error_response, ApiError};
use super::guard::is_safe;
use super::rules::{Lookup, Rule, Rules};
use super::AppState;
use crate::callers::{hash, same, BrowserSession, Caller};
use crate::config::{AccessArgs, AuthMode};
use crate::store::Ts;

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
    pub failures: AuthFailures,
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
            failures: AuthFailures::new(args.auth_failure_limit),
        })
    }

    /// The SSO proxy's user header, when one is trusted.
    pub fn trusted_header(&self) -> Option<&HeaderName> {
        self.trusted_header.as_ref()
    }

    /// Whether `ip` is one of the `--trusted-proxy` addresses.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
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

/// The gate's own state: the app's, and the rules the routes declared.
#[derive(Clone)]
pub struct Gate {
    pub state: AppState,
    pub rules: Arc<Rules>,
}

/// Resolves the caller and checks it against the rule the matched route declared
/// (the app's files and unknown paths, which no route matches, are public). The
/// caller rides in the request's extensions for the handlers.
pub async fn authenticate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    let rule = match request.extensions().get::<MatchedPath>() {
        None => Rule::Public,
        Some(route) => match gate.rules.find(request.method(), route.as_str()) {
            Lookup::Declared(rule) => *rule,
            Lookup::NoSuchMethod(allowed) => return method_not_allowed(request.method(), &allowed),
        },
    };
    let needs = rule.needs(request.method(), request.uri().path());
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let client = client_address(&gate.state.access, peer, request.headers());
    request.extensions_mut().insert(ClientAddress(client));
    let framed = matches!(rule, Rule::Framed(_));
    let caller = match identify(&gate.state, request.method(), request.headers(), peer, framed).await {
        Ok(caller) => caller,
        // What anyone may reach stays reachable with stale credentials: the app's
        // pages must load to offer signing in again. A malformed request (an SSO
        // header sent twice) is refused everywhere.
        Err(refusal) if needs.is_none() && refusal.status() != StatusCode::BAD_REQUEST => None,
        Err(ApiError::Unauthorized(why)) => {
            let counted = gate.state.access.failures.refuse(&gate.state.services.store, client, &why);
            return counted.err().unwrap_or(ApiError::Unauthorized(why)).into_response();
        }
        Err(refusal) => return refusal.into_response(),
    };
    match (caller, needs) {
        (Some(caller), Some(needed)) if !caller.role.allows(needed) => {
            return error_response(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the {} role; {} is {}", Role::needed_for(needed), caller.name, caller.role),
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

/// Whom a client is, for per-client caps: its address, an IPv6 one by its /64 (one
/// host is given a whole /64 and may speak from any address in it).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (!0u128 << 64)).into()),
        v4 => v4,
    }
}

/// Where the request comes from (`client_address`), for the handlers.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

fn method_not_allowed(method: &Method, allowed: &[Method]) -> Response {
    let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let mut response = error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed here; this route takes {}", names.join(", ")),
    );
    if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(message.to_owned())
}

/// The address a request comes from: the peer's, or, from a trusted proxy, the last
/// address its `X-Forwarded-For` names (the one the proxy itself saw).
fn client_address(access: &Access, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = peer?;
    if !access.trusts(peer) {
        return Some(peer);
    }
    // The proxy appends the address it saw: the last entry is the one it vouches for.
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back();
    let last = forwarded.and_then(|list| list.rsplit(',').next()).and_then(|ip| ip.trim().parse().ok());
    Some(last.unwrap_or(peer))
}

/// The caller the request proves it is, `None` if it proves nothing, or the answer
/// to credentials that do not hold.
async fn identify(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    framed: bool,
) -> Result<Option<Caller>, ApiError> {
    let access = &state.access;
    if !access.tokens {
        return Ok(Some(Caller::local()));
    }
    let secret = presented_secret(headers);
    let session = session_cookie(headers);
    if matches!(secret, Ok(None)) && matches!(session, Ok(None)) {
        return sso_caller(access, headers, peer);
    }
    let found = match (secret, session) {
        (Ok(Some(secret)), _) => token_caller(state, &secret).await,
        (Ok(None), Ok(Some(session))) => session_caller(state, &session, method, headers, framed).await,
        (Err(error), _) | (Ok(None), Err(error)) => Err(error),
        (Ok(None), Ok(None)) => unreachable!("answered above"),
    };
    found.map(Some)
}

/// A user named by the trusted SSO proxy's header, from a trusted address only.
fn sso_caller(access: &Access, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<Option<Caller>, ApiError> {
    let Some(header) = &access.trusted_header else { return Ok(None) };
    if !peer.is_some_and(|ip| access.trusts(ip)) {
        return Ok(None);
    }
    let mut named = headers.get_all(header).iter();
    let (Some(user), None) = (named.next(), named.next()) else {
        return match headers.contains_key(header) {
            true => Err(ApiError::Rejected(StatusCode::BAD_REQUEST, format!("`{header}` must be sent once"))),
            false => Ok(None),
        };
    };
    let user = user.to_str().unwrap_or_default().trim();
    if user.is_empty() || user.len() > 128 || user.chars().any(char::is_control) {
        return Err(unauthorized("the SSO proxy sent an unusable user name"));
    }
    let role = access.user_roles.get(user).copied().unwrap_or(access.default_role);
    Ok(Some(Caller { name: user.to_owned(), role, ..Caller::local() }))
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
    let found = state.services.store.token_by_hash(&presented).await?;
    let token = found
        .filter(|token| same(&token.secret_hash, &presented))
        .ok_or_else(|| unauthorized("unknown or revoked token"))?;
    if token.info.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        return Err(unauthorized("this token has expired"));
    }
    if state.access.due_for_touch(&token.id) {
        let (store, id) = (state.services.store.clone(), token.id.clone());
        tokio::spawn(async move {
            if let Err(error) = store.touch_token(&id).await {
                tracing::warn!(%error, "could not record a token's use");
            }
        });
    }
    Ok(Caller::of_token(token, None))
}

/// The session the request's cookies name: the `__Host-` one where there is one (a
/// plain one beside it may have been planted by a sibling site); two of one name are
/// refused, as is a session cookie in a header that is not text.
pub fn session_cookie(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut found: [Vec<&str>; 2] = Default::default();
    for value in headers.get_all(COOKIE) {
        let text = value.to_str().map_err(|_| unauthorized("unreadable Cookie header"))?;
        for (name, value) in text.split(';').filter_map(|pair| pair.trim().split_once('=')) {
            match name.trim() {
                SECURE_SESSION_COOKIE => found[0].push(value),
                SESSION_COOKIE => found[1].push(value),
                _ => {}
            }
        }
    }
    match found.iter().find(|values| !values.is_empty()).map(Vec::as_slice) {
        None => Ok(None),
        Some([one]) => Ok(Some((*one).to_owned())),
        Some(_) => Err(unauthorized("the request carries two session cookies; sign in again")),
    }
}

async fn session_caller(
    state: &AppState,
    session: &str,
    method: &Method,
    headers: &HeaderMap,
    framed: bool,
) -> Result<Caller, ApiError> {
    let id_hash = hash(session);
    let found = state.services.store.session(&id_hash).await?;
    let record = found.ok_or_else(|| unauthorized("your session has ended; sign in again"))?;
    let now = Ts::now();
    if record.expires_at <= now || record.token.info.expires_at.is_some_and(|at| at <= now.utc()) {
        return Err(unauthorized("your session has expired; sign in again"));
    }
    let exempt = is_safe(method) || (framed && same_origin(headers));
    if !exempt {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !same(sent, &record.csrf) {
            return Err(ApiError::Forbidden(
                "a change from a browser session must carry its X-CSRF-Token header".to_owned(),
            ));
        }
    }
    let session = BrowserSession { id_hash, csrf: record.csrf };
    Ok(Caller::of_token(record.token, Some((session, record.expires_at.utc()))))
}

/// A framed UI (MLflow's) cannot add our CSRF header to its POSTs; on its routes the
/// browser's own word that the request comes from this origin stands in
/// (`Sec-Fetch-Site: same-origin`, which no page can forge; the Origin check applies too).
fn same_origin(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|site| site.as_bytes() == b"same-origin")
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

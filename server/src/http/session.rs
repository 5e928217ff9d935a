//! Signing in from the browser: a token is exchanged for a server-side session held in
//! an `HttpOnly`, `SameSite=Strict` cookie, and changes carry its CSRF value as a
//! header. `GET /api/session` says who the caller is (and whether sign-in is on).

use axum::extract::State;
use axum::http::header::{ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use shared::{Session, SignIn};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{session_cookie, ClientAddress, CSRF_HEADER, SECURE_SESSION_COOKIE, SESSION_COOKIE};
use super::error::{ApiError, Json};
use super::AppState;
use crate::callers::{hash, random_value, same, Caller};
use crate::events::Revocation;
use crate::store::access::{Audit, NewSession};
use crate::store::{StoreError, Ts};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(current, sign_in, sign_out))
}

async fn session_of(state: &AppState, caller: &Caller) -> Session {
    let event_id = newest_event(state).await;
    Session {
        name: caller.name.clone(),
        role: caller.role,
        auth: state.access.tokens,
        csrf: caller.session.as_ref().map(|session| session.csrf.clone()),
        event_id,
    }
}

/// The newest event, for the app's stream to resume from: the hub's, read from the
/// database only while the hub loads. Who the caller is does not depend on it, so an
/// unreadable event log only costs the app a second read.
async fn newest_event(state: &AppState) -> Option<i64> {
    if let Some(newest) = state.services.hub.newest() {
        return Some(newest);
    }
    match state.services.store.event_bounds().await {
        Ok((_, newest)) => Some(newest),
        Err(error) => {
            tracing::warn!(%error, "could not read the newest event for a session answer");
            None
        }
    }
}

/// Who the caller is, and whether sign-in is on.
#[utoipa::path(get, path = "/session", tag = "access", security(()), responses((status = OK, body = Session)))]
async fn current(State(state): State<AppState>, caller: Option<Caller>) -> Result<axum::Json<Session>, ApiError> {
    let caller = caller.ok_or_else(|| ApiError::Unauthorized("sign in with a token".to_owned()))?;
    Ok(axum::Json(session_of(&state, &caller).await))
}

/// Exchanges a token for a browser session (an `HttpOnly` cookie) and its CSRF value.
#[utoipa::path(post, path = "/session", tag = "access", security(()), request_body = SignIn, responses((status = OK, body = Session)))]
async fn sign_in(
    State(state): State<AppState>,
    Extension(ClientAddress(client)): Extension<ClientAddress>,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    if !state.access.tokens {
        return Ok(axum::Json(session_of(&state, &Caller::local()).await).into_response());
    }
    let presented = hash(body.token.trim());
    let found =
        state.services.store.token_by_hash(&presented).await?.filter(|token| same(&token.secret_hash, &presented));
    let refusal = match &found {
        None => Some("unknown or revoked token"),
        Some(token) if token.info.expires_at.is_some_and(|at| at <= chrono::Utc::now()) => {
            Some("this token has expired")
        }
        Some(_) => None,
    };
    let (Some(token), None) = (found, refusal) else {
        let why = refusal.unwrap_or_default();
        state.access.failures.refuse(&state.services.store, client, &format!("sign-in: {why}"))?;
        return Err(ApiError::Unauthorized(why.to_owned()));
    };
    let event_id = newest_event(&state).await;
    let (id, csrf) = (random_value(), random_value());
    let lifetime = state.access.session_lifetime;
    let session = NewSession {
        id_hash: hash(&id),
        token_id: token.id.clone(),
        csrf: csrf.clone(),
        expires_at: Ts::now().plus_seconds(lifetime.as_secs() as i64),
    };
    let caller = Caller { name: token.info.name.clone(), token_id: Some(token.id.clone()), ..Caller::local() };
    let from = client.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
    state.services.store.create_session(session, caller.audit("session.sign_in", &token.info.name, Some(from))).await?;
    // `Secure` (and with it the `__Host-` prefix) where the page came over https.
    let https = headers.get(ORIGIN).is_some_and(|origin| origin.as_bytes().starts_with(b"https://"));
    let (name, secure) = if https { (SECURE_SESSION_COOKIE, "; Secure") } else { (SESSION_COOKIE, "") };
    let cookie = format!("{name}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", lifetime.as_secs());
    let session = Session { name: token.info.name, role: token.info.role, auth: true, csrf: Some(csrf), event_id };
    let mut response = axum::Json(session).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| StoreError::Internal(e.to_string()))?);
    Ok(response)
}

/// Ends the browser session its cookie names (and its event streams) and clears the
/// cookie. A session that still holds is only ended by a request that carries its CSRF
/// header (403 otherwise, and the session stays: no other page can sign its user out);
/// whatever else the request carries (a stale token) does not stand in the way.
#[utoipa::path(delete, path = "/session", tag = "access", security(()), responses((status = NO_CONTENT, description = "signed out")))]
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = match state.access.tokens {
        true => session_cookie(&headers)?,
        false => None,
    };
    if let Some(session) = session {
        let id_hash = hash(&session);
        if let Some(record) = state.services.store.session(&id_hash).await? {
            let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if !same(sent, &record.csrf) {
                return Err(ApiError::Forbidden(
                    "signing out needs the session's X-CSRF-Token header; the session was not ended".to_owned(),
                ));
            }
            let token = record.token;
            let caller = Caller { name: token.info.name.clone(), token_id: Some(token.id), ..Caller::local() };
            let audit: Audit = caller.audit("session.sign_out", &token.info.name, None);
            state.services.store.delete_session(&id_hash, audit).await?;
            state.services.bus.revoke(Revocation::Session(id_hash));
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for name in [SESSION_COOKIE, SECURE_SESSION_COOKIE] {
        let secure = if name == SECURE_SESSION_COOKIE { "; Secure" } else { "" };
        let cookie = format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    Ok(response)
}

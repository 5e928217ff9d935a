//! Signing in from the browser: a token is exchanged for a server-side session held in
//! an `HttpOnly`, `SameSite=Strict` cookie, and changes carry its CSRF value as a
//! header. `GET /api/session` says who the caller is (and whether sign-in is on).

use axum::extract::State;
use axum::http::header::{ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use shared::{Session, SignIn};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::{SECURE_SESSION_COOKIE, SESSION_COOKIE};
use super::error::{ApiError, Json};
use super::AppState;
use crate::access::{hash, random_value, same, Caller};
use crate::events::Revocation;
use crate::store::access::NewSession;
use crate::store::{StoreError, Ts};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(current, sign_in, sign_out))
}

fn session_of(state: &AppState, caller: &Caller) -> Session {
    Session {
        name: caller.name.clone(),
        role: caller.role,
        auth: state.access.tokens,
        csrf: caller.session.as_ref().map(|session| session.csrf.clone()),
    }
}

/// Who the caller is, and whether sign-in is on.
#[utoipa::path(get, path = "/session", tag = "access", responses((status = OK, body = Session)))]
async fn current(State(state): State<AppState>, caller: Option<Caller>) -> Result<axum::Json<Session>, ApiError> {
    let caller = caller.ok_or_else(|| ApiError::Unauthorized("sign in with a token".to_owned()))?;
    Ok(axum::Json(session_of(&state, &caller)))
}

/// Exchanges a token for a browser session (an `HttpOnly` cookie) and its CSRF value.
#[utoipa::path(post, path = "/session", tag = "access", request_body = SignIn, responses((status = OK, body = Session)))]
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    if !state.access.tokens {
        return Ok(axum::Json(session_of(&state, &Caller::local())).into_response());
    }
    let presented = hash(body.token.trim());
    let token = state
        .store
        .token_by_hash(&presented)
        .await?
        .filter(|token| same(&token.secret_hash, &presented))
        .ok_or_else(|| ApiError::Unauthorized("unknown or revoked token".to_owned()))?;
    if token.info.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        return Err(ApiError::Unauthorized("this token has expired".to_owned()));
    }
    let (id, csrf) = (random_value(), random_value());
    let lifetime = state.access.session_lifetime;
    let session = NewSession {
        id_hash: hash(&id),
        token_id: token.id.clone(),
        csrf: csrf.clone(),
        expires_at: Ts::now().plus_seconds(lifetime.as_secs() as i64),
    };
    state.store.create_session(session).await?;
    // `Secure` (and with it the `__Host-` prefix) where the page came over https.
    let https = headers.get(ORIGIN).is_some_and(|origin| origin.as_bytes().starts_with(b"https://"));
    let (name, secure) = if https { (SECURE_SESSION_COOKIE, "; Secure") } else { (SESSION_COOKIE, "") };
    let cookie = format!("{name}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", lifetime.as_secs());
    let session = Session { name: token.info.name, role: token.info.role, auth: true, csrf: Some(csrf) };
    let mut response = axum::Json(session).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| StoreError::Internal(e.to_string()))?);
    Ok(response)
}

/// Ends the browser session (and its event streams) and clears the cookie.
#[utoipa::path(delete, path = "/session", tag = "access", responses((status = NO_CONTENT, description = "signed out")))]
async fn sign_out(State(state): State<AppState>, caller: Option<Caller>) -> Result<Response, ApiError> {
    if let Some(session) = caller.and_then(|caller| caller.session) {
        state.store.delete_session(&session.id_hash).await?;
        state.bus.revoke(Revocation::Session(session.id_hash));
    }
    let mut response = axum::http::StatusCode::NO_CONTENT.into_response();
    for name in [SESSION_COOKIE, SECURE_SESSION_COOKIE] {
        let secure = if name == SECURE_SESSION_COOKIE { "; Secure" } else { "" };
        let cookie = format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    Ok(response)
}

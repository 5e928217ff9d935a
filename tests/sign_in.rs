//! Credentials under pressure: failed sign-ins and bad tokens are counted, audited and
//! slowed per client address; sign-out ends the session or says why not; an SSO
//! header sent twice is refused; event streams end with their token or session and
//! one caller cannot take every stream.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::time::Duration;

use crate::helpers::{config, Api, Backend, EventStream, TestApp, TestDb};

crate::on_both_databases!(
    backend: failed_authentication_is_counted_audited_and_slowed,
    signing_out_ends_the_session_or_says_why_not,
    an_sso_header_sent_twice_is_refused,
    streams_end_with_their_credentials_and_are_shared_fairly
);

/// A dashboard with `--auth tokens` behind a trusted proxy on this machine (so that
/// `X-Forwarded-For` tells clients apart), adjusted; and the named tokens.
async fn behind_a_proxy(
    backend: Backend,
    tokens: &[(&str, Role)],
    adjust: impl FnOnce(&mut server::config::DashboardArgs),
) -> (TestApp, Vec<String>) {
    let db = TestDb::create(backend).await;
    let mut secrets = Vec::new();
    for (name, role) in tokens {
        secrets.push(db.token(name, *role, &[]).await);
    }
    let mut config = config(db.url());
    config.access.auth = server::config::AuthMode::Tokens;
    config.access.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    adjust(&mut config);
    (TestApp::start(db, config).await, secrets)
}

/// The API as seen from `client` through the proxy, with `secret`.
fn from(app: &TestApp, client: &str, secret: &str) -> Api {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", client.parse().unwrap());
    headers.insert("authorization", format!("Bearer {secret}").parse().unwrap());
    Api { address: app.address.clone(), client: reqwest::Client::builder().default_headers(headers).build().unwrap() }
}

async fn failed_authentication_is_counted_audited_and_slowed(backend: Backend) {
    let (app, secrets) = behind_a_proxy(backend, &[("root", Role::Admin)], |_| {}).await;
    let root = from(&app, "10.0.0.1", &secrets[0]);
    for attempt in 0..10 {
        let (status, error) = from(&app, "10.0.0.66", &format!("cat_guess{attempt}")).get("/api/summary").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    }
    // The eleventh failure from that address waits, sign-ins included; a token that
    // holds is served from there as from anywhere (a guesser locks nobody out).
    let guesser = from(&app, "10.0.0.66", "cat_guess");
    let response = guesser.client.get(app.url("/api/summary")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let (status, _) = guesser.post("/api/session", json!({"token": "cat_guess"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(from(&app, "10.0.0.66", &secrets[0]).get("/api/summary").await.0, StatusCode::OK);
    assert_eq!(root.get("/api/summary").await.0, StatusCode::OK);
    let health: Value = root.fetch("/api/health").await;
    assert_eq!(health["refused"]["auth_failures"], 12, "{health}");
    assert_eq!(health["refused"]["auth_throttled"], 2, "{health}");
    // Failures and sign-ins are in the audit log, with the address they came from.
    let sign_in = root.post("/api/session", json!({"token": secrets[0]})).await;
    assert_eq!(sign_in.0, StatusCode::OK);
    let audit: Value = root.fetch("/api/audit?limit=1000").await;
    let entries = audit["entries"].as_array().unwrap();
    // The first failure of the minute, and the one after which the address waits.
    let failed: Vec<&Value> =
        entries.iter().filter(|e| e["action"] == "auth.failed" && e["target"] == "10.0.0.66").collect();
    assert_eq!(failed.len(), 2, "{audit}");
    assert!(failed[0]["detail"].as_str().unwrap().contains("10 failures this minute"), "{audit}");
    assert!(entries.iter().any(|e| e["action"] == "session.sign_in" && e["detail"] == "10.0.0.1"), "{audit}");
}

async fn sign_in(app: &TestApp, secret: &str) -> (String, String) {
    let response = app.client.post(app.url("/api/session")).json(&json!({"token": secret})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let session: Value = response.json().await.unwrap();
    (cookie, session["csrf"].as_str().unwrap().to_owned())
}

async fn session_status(app: &TestApp, headers: &[(&str, &str)], method: Method, path: &str) -> StatusCode {
    let mut request = app.client.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status()
}

async fn signing_out_ends_the_session_or_says_why_not(backend: Backend) {
    let (app, secrets) = behind_a_proxy(backend, &[("operator", Role::Operator)], |_| {}).await;
    let (cookie, csrf) = sign_in(&app, &secrets[0]).await;
    let with_cookie = [(COOKIE.as_str(), cookie.as_str())];
    // Without its CSRF header, another page could sign the user out: refused, and said.
    assert_eq!(session_status(&app, &with_cookie, Method::DELETE, "/api/session").await, StatusCode::FORBIDDEN);
    assert_eq!(session_status(&app, &with_cookie, Method::GET, "/api/session").await, StatusCode::OK, "still valid");
    let with_csrf = [(COOKIE.as_str(), cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    assert_eq!(session_status(&app, &with_csrf, Method::DELETE, "/api/session").await, StatusCode::NO_CONTENT);
    assert_eq!(session_status(&app, &with_cookie, Method::GET, "/api/session").await, StatusCode::UNAUTHORIZED);
    // A cookie that holds nothing any more is simply cleared.
    assert_eq!(session_status(&app, &with_cookie, Method::DELETE, "/api/session").await, StatusCode::NO_CONTENT);
}

async fn an_sso_header_sent_twice_is_refused(backend: Backend) {
    let (app, _) = behind_a_proxy(backend, &[], |config| {
        config.access.trusted_user_header = Some("X-Forwarded-User".to_owned());
        config.access.user_roles = vec![("alice".to_owned(), Role::Admin)];
    })
    .await;
    let named = |users: &[&str]| {
        let mut request = app.client.get(app.url("/api/session"));
        for user in users {
            request = request.header("x-forwarded-user", *user);
        }
        request.send()
    };
    let (status, session) = {
        let response = named(&["alice"]).await.unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!((status, session["role"].as_str()), (StatusCode::OK, Some("admin")));
    let twice = named(&["bob", "alice"]).await.unwrap();
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST, "which of the two is the user is not for us to guess");
}

async fn streams_end_with_their_credentials_and_are_shared_fairly(backend: Backend) {
    let (app, secrets) = behind_a_proxy(backend, &[("short", Role::Viewer), ("other", Role::Viewer)], |config| {
        config.max_streams_per_caller = 2;
    })
    .await;
    let (short, other) = (app.with_token(&secrets[0]), app.with_token(&secrets[1]));
    let mut first = short.events("/api/events", None).await;
    let mut second = short.events("/api/events", None).await;
    first.expect(&["ready"]).await;
    second.expect(&["ready"]).await;
    let third = short.client.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.text().await.unwrap().contains("--max-streams-per-caller"));
    let mut others = other.events("/api/events", None).await;
    others.expect(&["ready"]).await;
    drop(others);

    // A token that expires in a moment: its streams end then, not only on revocation.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).naive_utc().format("%Y-%m-%d %H:%M:%S%.6f");
    app.db
        .execute_as_another_writer(&format!("UPDATE dashboard_tokens SET expires_at = '{soon}' WHERE name = 'other'"))
        .await;
    let mut expiring: EventStream = other.events("/api/events", None).await;
    expiring.expect(&["ready"]).await;
    let ended = expiring.ends_within(Duration::from_secs(10)).await;
    assert_eq!(ended, Ok(()), "the stream ended at the expiry");
    assert_eq!(other.get("/api/summary").await.0, StatusCode::UNAUTHORIZED);
}

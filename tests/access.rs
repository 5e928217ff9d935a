//! Who may do what: the Host and Origin checks that keep web pages out, tokens and
//! roles, agent tokens limited to their own agents and runs, browser sessions with
//! CSRF, the audit log, and agents of the original kind signing in with a token in
//! their registry URL.

use reqwest::header::{COOKIE, HOST, ORIGIN, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::{Permission, Role};
use std::time::Duration;

use crate::helpers::{config, Api, Backend, TestApp, TestDb};
use crate::process::Process;

crate::on_both_databases!(
    foreign_hosts_are_refused,
    changes_from_other_sites_are_refused,
    without_auth_local_callers_do_everything
);

/// Tests that start their own dashboard (with `--auth tokens`, or other settings).
mod configured {
    use super::*;
    crate::on_both_databases!(
        backend: every_route_checks_every_role,
        tokens_work_as_bearer_or_basic_and_fail_clearly,
        agent_tokens_reach_only_their_own_agents_and_runs,
        browser_sessions_use_a_cookie_and_a_csrf_header,
        revoking_a_token_ends_its_sessions_and_streams,
        the_audit_log_says_who_did_what,
        an_sso_proxy_names_the_user_only_from_trusted_addresses,
        configured_hosts_and_origins_are_served
    );
}

/// A dashboard with `--auth tokens` and one token per role (named after the role).
async fn with_tokens(backend: Backend) -> (TestApp, Tokens) {
    with_tokens_and(backend, |_| {}).await
}

async fn with_tokens_and(
    backend: Backend,
    adjust: impl FnOnce(&mut server::config::DashboardArgs),
) -> (TestApp, Tokens) {
    let db = TestDb::create(backend).await;
    let mut tokens = Tokens::default();
    for role in Role::ALL {
        let agent_ids: &[&str] = if role == Role::Agent { &["bound-agent"] } else { &[] };
        tokens.secrets.push((role, db.token(role.as_str(), role, agent_ids).await));
    }
    let mut config = config(db.url());
    config.access.auth = server::config::AuthMode::Tokens;
    adjust(&mut config);
    (TestApp::start(db, config).await, tokens)
}

/// Registers the agent token's bound agent, serving workflow `w`: agent tokens create
/// runs only of workflows their agents declare.
async fn serving_w(agent: &Api) {
    let register = json!({"agent_id": "bound-agent", "agent_name": "w", "host": "127.0.0.1", "port": 9});
    let (status, answer) = agent.post("/api/agents/register", register).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[derive(Default)]
struct Tokens {
    secrets: Vec<(Role, String)>,
}

impl Tokens {
    fn of(&self, role: Role) -> &str {
        &self.secrets.iter().find(|(r, _)| *r == role).unwrap().1
    }
}

fn json_error(body: &Value) -> bool {
    body["error"]["code"].is_string() && body["error"]["message"].is_string()
}

async fn send(
    api: &Api,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = api.client.request(method, api.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn foreign_hosts_are_refused(app: TestApp) {
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    for host in ["attacker.example", "localhost.attacker.example", "127.0.0.1.nip.io", "[fe80::1]", "10.1.2.3"] {
        let host = format!("{host}:{port}");
        let (status, error) = send(&app, Method::GET, "/api/workflows", &[("host", &host)], None).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host}");
        assert_eq!(error["error"]["code"], "host_not_allowed", "{error}");
        assert!(error["error"]["message"].as_str().unwrap().contains("--allowed-host"), "{error}");
        // The app's pages too: a rebinding page cannot even load them.
        assert_eq!(send(&app, Method::GET, "/", &[("host", &host)], None).await.0, StatusCode::MISDIRECTED_REQUEST);
    }
    for host in ["localhost", "LOCALHOST:1", "127.0.0.1", "[::1]", "localhost."] {
        let host =
            if host.contains(':') && !host.starts_with('[') { host.to_owned() } else { format!("{host}:{port}") };
        assert_eq!(
            send(&app, Method::GET, "/api/workflows", &[("host", &host)], None).await.0,
            StatusCode::OK,
            "{host}"
        );
    }
}

async fn changes_from_other_sites_are_refused(app: TestApp) {
    let run = app.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    app.posted("/api/agents/register", json!({"agent_id": "a", "agent_name": "a", "host": "127.0.0.1", "port": 9}))
        .await;
    let form = ("content-type", "application/x-www-form-urlencoded");
    for path in [
        format!("/api/workflows/{run}/restart"),
        format!("/api/workflows/{run}/cancel"),
        "/api/workflows/run".to_owned(),
        "/api/agents/a/heartbeat".to_owned(),
    ] {
        let attacker = [("origin", "http://attacker.example"), form];
        let (status, error) = send(&app, Method::POST, &path, &attacker, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(error["error"]["code"], "cross_site_request", "{error}");
        let fetched = [("sec-fetch-site", "cross-site"), form];
        assert_eq!(send(&app, Method::POST, &path, &fetched, None).await.0, StatusCode::FORBIDDEN, "{path}");
        let sandboxed = [("origin", "null"), form];
        let (status, error) = send(&app, Method::POST, &path, &sandboxed, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            !error["error"]["message"].as_str().unwrap().contains("--allowed-origin"),
            "no flag allows it: {error}"
        );
    }
    let detail: Value = app.fetch(&format!("/api/workflows/{run}")).await;
    assert_eq!(detail["status"], "running", "nothing changed");
    // Reading is not a change; the dashboard's own page, `trunk serve`'s and curl's
    // (no Origin) changes go through.
    let read = [("origin", "http://attacker.example")];
    assert_eq!(send(&app, Method::GET, "/api/workflows", &read, None).await.0, StatusCode::OK);
    let host = app.address.trim_start_matches("http://").to_owned();
    let own = format!("http://{host}");
    let heartbeat = "/api/agents/a/heartbeat";
    assert_eq!(
        send(&app, Method::POST, heartbeat, &[("origin", &own), ("sec-fetch-site", "same-origin")], None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, Method::POST, heartbeat, &[("origin", "http://127.0.0.1:8080")], None).await.0,
        StatusCode::OK
    );
    assert_eq!(send(&app, Method::POST, heartbeat, &[], None).await.0, StatusCode::OK);
    let (status, _) =
        send(&app, Method::POST, &format!("/api/workflows/{run}/cancel"), &[("origin", &own)], None).await;
    assert_eq!(status, StatusCode::OK);
}

async fn without_auth_local_callers_do_everything(app: TestApp) {
    let session: Value = app.fetch("/api/session").await;
    // With the newest event, from which the app's stream resumes.
    let newest = session["event_id"].as_i64().expect("the session names the newest event");
    assert!(newest >= 0);
    assert_eq!(session, json!({"name": "local", "role": "admin", "auth": false, "csrf": null, "event_id": newest}));
    let (status, created) = app.post("/api/tokens", json!({"name": "ci", "role": "viewer"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("cat_"));
    // Found by schemathesis: a far expiry overflowed the date and the request panicked.
    for days in [0, 36_501, 268_435_455, u32::MAX] {
        let body = json!({"name": format!("far-{days}"), "role": "agent", "expires_in_days": days});
        let (status, refused) = app.post("/api/tokens", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{days}: {refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains("1 to 36500"), "{refused}");
    }
    let (status, century) =
        app.post("/api/tokens", json!({"name": "century", "role": "viewer", "expires_in_days": 36_500})).await;
    assert_eq!(status, StatusCode::CREATED, "{century}");
    let tokens: Value = app.fetch("/api/tokens").await;
    assert_eq!(tokens.as_array().unwrap().len(), 2, "the refused ones were not made: {tokens}");
    let run = app.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    app.posted_empty(&format!("/api/workflows/{run}/cancel")).await;
    let detail: Value = app.fetch(&format!("/api/workflows/{run}")).await;
    let said = detail["logs"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|line| line["message"] == "Run cancelled from the dashboard by local");
    assert!(said, "{detail}");
}

/// What the gate should answer for each operation: every one the OpenAPI document
/// lists, with the permission its security scope declares (`None`: public), and the
/// MLflow proxy's reads and writes, which it declares outside the document.
async fn declared_operations(app: &TestApp) -> Vec<(Method, String, Option<Permission>)> {
    let doc: Value = app.fetch("/api/openapi.json").await;
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else { continue };
            let scope = operation["security"][0]["token"][0].as_str();
            operations.push((method, path.clone(), scope.map(|s| s.parse::<Permission>().unwrap())));
        }
    }
    let api = "/mlflow/ajax-api/2.0/mlflow";
    for (method, path, needs) in [
        (Method::GET, "/mlflow/".to_owned(), Permission::Read),
        (Method::GET, "/mlflow".to_owned(), Permission::Read),
        (Method::POST, format!("{api}/runs/search"), Permission::Read),
        (Method::POST, format!("{api}/runs/delete"), Permission::Operate),
        (
            Method::PUT,
            "/mlflow/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x.html".to_owned(),
            Permission::Operate,
        ),
        (Method::DELETE, format!("{api}/experiments/delete"), Permission::Operate),
    ] {
        operations.push((method, path, Some(needs)));
    }
    operations
}

/// A path of the document with its parameters filled: the agent token's own run and
/// agent, and for the rest ids that name nothing (so allowed callers change nothing).
fn filled(path: &str, run: &str) -> String {
    let parameter = if path.starts_with("/api/workflows/") {
        run
    } else if path.starts_with("/api/agents/") {
        "bound-agent"
    } else if path.starts_with("/api/budgets/") {
        "w"
    } else {
        "00000000-0000-4000-8000-000000000000"
    };
    let mut filled = String::new();
    let mut rest = path;
    while let Some((before, after)) = rest.split_once('{') {
        filled.push_str(before);
        filled.push_str(parameter);
        rest = after.split_once('}').map_or("", |(_, tail)| tail);
    }
    filled + rest
}

/// What a refused request must not have changed.
async fn snapshot(admin: &Api) -> (Value, Value, Value) {
    let audit: Value = admin.fetch("/api/audit?limit=1000").await;
    let changes: Vec<&Value> =
        audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] != "auth.failed").collect();
    (admin.fetch("/api/summary").await, admin.fetch("/api/agents?include_dead=true").await, json!(changes))
}

/// The answer's status, and its body unless it is an event stream (which never ends).
async fn answer(api: &Api, method: &Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = api.client.request(method.clone(), api.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").and_then(|t| t.to_str().ok()).unwrap_or_default();
    match content_type.starts_with("text/event-stream") {
        true => (status, Value::Null),
        false => (status, response.json().await.unwrap_or(Value::Null)),
    }
}

async fn every_route_checks_every_role(backend: Backend) {
    let (app, tokens) = with_tokens_and(backend, |config| config.access.auth_failure_limit = 100_000).await;
    let admin = app.with_token(tokens.of(Role::Admin));
    let agent = app.with_token(tokens.of(Role::Agent));
    // The agent token's own agent and run, so that the check met is the role's.
    serving_w(&agent).await;
    let run = agent.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    let (status, expired) = admin.post("/api/tokens", json!({"name": "expired", "role": "admin"})).await;
    assert_eq!(status, StatusCode::CREATED);
    app.db
        .execute_as_another_writer(
            "UPDATE dashboard_tokens SET expires_at = '2020-01-01 00:00:00' WHERE name = 'expired'",
        )
        .await;
    let (_, revoked) = admin.post("/api/tokens", json!({"name": "revoked", "role": "admin"})).await;
    assert_eq!(admin.request(Method::DELETE, "/api/tokens/revoked", None).await.0, StatusCode::OK);
    let operations = declared_operations(&app).await;
    assert!(operations.len() >= 60, "{} operations", operations.len());
    let body = |method: &Method| (![Method::GET, Method::DELETE].contains(method)).then(|| json!({}));

    let refused_callers = [
        ("no token", app.api.clone()),
        ("a garbage token", app.with_token("cat_not-a-token")),
        ("an expired token", app.with_token(expired["secret"].as_str().unwrap())),
        ("a revoked token", app.with_token(revoked["secret"].as_str().unwrap())),
    ];
    let before = snapshot(&admin).await;
    for (method, template, needs) in &operations {
        let path = filled(template, &run);
        for (who, api) in &refused_callers {
            let (status, error) = answer(api, method, &path, body(method)).await;
            match needs {
                // Public: answered by its handler (`GET /api/session` says 401 itself).
                None => assert!(
                    status != StatusCode::FORBIDDEN && !status.is_server_error(),
                    "{method} {path} by {who}: {status}"
                ),
                Some(_) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} by {who}: {error}");
                    assert!(json_error(&error), "{error}");
                }
            }
        }
        for role in Role::ALL {
            let Some(needed) = needs.filter(|needed| !role.allows(*needed)) else { continue };
            let (status, error) = answer(&app.with_token(tokens.of(role)), method, &path, body(method)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} by {role}");
            assert!(error["error"]["message"].as_str().unwrap().contains(Role::needed_for(needed)), "{error}");
        }
    }
    // Methods a route does not declare are refused before anyone is asked who they are.
    let paths: std::collections::BTreeSet<&String> = operations.iter().map(|(_, path, _)| path).collect();
    for template in paths {
        for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            if operations.iter().any(|(m, p, _)| *m == method && p == template) || template.starts_with("/mlflow") {
                continue;
            }
            let path = filled(template, &run);
            let (status, error) = answer(&app.api, &method, &path, body(&method)).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {error}");
        }
    }
    assert_eq!(snapshot(&admin).await, before, "refused requests changed nothing");
    let unauthorized = app.client.get(app.url("/api/workflows")).send().await.unwrap();
    assert_eq!(unauthorized.headers()[WWW_AUTHENTICATE], "Bearer realm=\"configurable-agents\"");

    // Each role may do what it allows: answers other than 401 and 403 (a 422 for an
    // empty body, a 404 for an id that names nothing, MLflow's 404 where it is not
    // configured: the handler was reached).
    for (method, template, needs) in &operations {
        let Some(needed) = needs else { continue };
        let path = filled(template, &run);
        for role in Role::ALL.into_iter().filter(|role| role.allows(*needed)) {
            let (status, said) = answer(&app.with_token(tokens.of(role)), method, &path, body(method)).await;
            assert!(
                ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&status),
                "{method} {path} by {role}: {said}"
            );
        }
    }
}

async fn tokens_work_as_bearer_or_basic_and_fail_clearly(backend: Backend) {
    let (app, tokens) = with_tokens(backend).await;
    let viewer = tokens.of(Role::Viewer);
    let basic = |user: &str, password: &str| {
        use base64::Engine;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    };
    for authorization in
        [format!("Bearer {viewer}"), format!("bearer {viewer}"), basic("anyone", viewer), basic("", viewer)]
    {
        let (status, _) = send(&app, Method::GET, "/api/summary", &[("authorization", &authorization)], None).await;
        assert_eq!(status, StatusCode::OK, "{authorization}");
    }
    for authorization in
        [basic("viewer", "wrong"), "Basic !!!".to_owned(), "Token abc".to_owned(), format!("Bearer {viewer}x")]
    {
        let (status, error) = send(&app, Method::GET, "/api/summary", &[("authorization", &authorization)], None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization}");
        assert!(json_error(&error));
    }
    // A viewer's session says who it is; the secret is in no list.
    let session: Value = app.with_token(viewer).fetch("/api/session").await;
    assert_eq!(
        (session["name"].as_str(), session["role"].as_str(), session["auth"].as_bool()),
        (Some("viewer"), Some("viewer"), Some(true))
    );
    let listed: Value = app.with_token(tokens.of(Role::Admin)).fetch("/api/tokens").await;
    assert_eq!(listed.as_array().unwrap().len(), 4);
    assert!(!listed.to_string().contains(viewer) && !listed.to_string().contains("secret"), "{listed}");
}

async fn agent_tokens_reach_only_their_own_agents_and_runs(backend: Backend) {
    let (app, tokens) = with_tokens(backend).await;
    let admin = app.with_token(tokens.of(Role::Admin));
    let bound = app.with_token(tokens.of(Role::Agent));
    let secret = |name: &str| {
        let admin = admin.clone();
        let name = name.to_owned();
        async move {
            let (status, created) = admin.post("/api/tokens", json!({"name": name, "role": "agent"})).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            admin.with_token(created["secret"].as_str().unwrap())
        }
    };
    let (first, second) = (secret("first").await, secret("second").await);
    let register = |id: &str| json!({"agent_id": id, "agent_name": "w", "host": "127.0.0.1", "port": 9});

    // An unbound token owns the agent ids it registers first.
    assert_eq!(first.post("/api/agents/register", register("x")).await.0, StatusCode::OK);
    assert_eq!(first.post_empty("/api/agents/x/heartbeat").await.0, StatusCode::OK);
    for (method, path, body) in [
        (Method::POST, "/api/agents/register", Some(register("x"))),
        (Method::POST, "/api/agents/x/heartbeat", None),
        (Method::DELETE, "/api/agents/x", None),
    ] {
        let (status, error) = second.request(method.clone(), path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {error}");
    }
    // A bound token registers its ids and no other.
    assert_eq!(bound.post("/api/agents/register", register("bound-agent")).await.0, StatusCode::OK);
    assert_eq!(bound.post("/api/agents/register", register("y")).await.0, StatusCode::FORBIDDEN);

    // Runs: the token that created one may report into it; another may not.
    let run = first.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    assert_eq!(
        first.post(&format!("/api/workflows/{run}/states"), json!({"node_id": "n"})).await.0,
        StatusCode::CREATED
    );
    for path in ["states", "logs", "complete", "fail", "start"] {
        let body = match path {
            "states" => json!({"node_id": "n"}),
            "logs" => json!({"message": "m"}),
            "fail" => json!({"error_message": "e"}),
            _ => json!({}),
        };
        let (status, error) = second.post(&format!("/api/workflows/{run}/{path}"), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {error}");
    }
    // A run dispatched to an agent the token owns (recorded as the dispatcher does).
    let dispatched = admin.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    app.db
        .execute_as_another_writer(&format!(
            "UPDATE workflow_runs SET agent_id = 'x', agent_url = 'http://127.0.0.1:9' WHERE id = '{dispatched}'"
        ))
        .await;
    assert_eq!(
        first.post(&format!("/api/workflows/{dispatched}/logs"), json!({"message": "m"})).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        second.post(&format!("/api/workflows/{dispatched}/logs"), json!({"message": "m"})).await.0,
        StatusCode::FORBIDDEN
    );
    let detail: Value = admin.fetch(&format!("/api/workflows/{run}")).await;
    assert_eq!(detail["status"], "running", "refused reports changed nothing");
    assert_eq!(detail["states"].as_array().unwrap().len(), 1);
}

/// The value of the session cookie an answer sets.
fn session_cookie(response: &reqwest::Response) -> String {
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
    assert!(!set.contains("Secure"), "plain http: no Secure flag: {set}");
    set.split(';').next().unwrap().to_owned()
}

async fn sign_in(app: &TestApp, secret: &str) -> (String, String) {
    let response = app.client.post(app.url("/api/session")).json(&json!({"token": secret})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response);
    let session: Value = response.json().await.unwrap();
    (cookie, session["csrf"].as_str().unwrap().to_owned())
}

async fn browser_sessions_use_a_cookie_and_a_csrf_header(backend: Backend) {
    let (app, tokens) = with_tokens(backend).await;
    let (status, error) = app.post("/api/session", json!({"token": "cat_wrong"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    let (cookie, csrf) = sign_in(&app, tokens.of(Role::Operator)).await;
    let (status, session) = send(&app, Method::GET, "/api/session", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((session["name"].as_str(), session["csrf"].as_str()), (Some("operator"), Some(csrf.as_str())));

    let agent = app.with_token(tokens.of(Role::Agent));
    serving_w(&agent).await;
    let run = agent.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    let cancel = format!("/api/workflows/{run}/cancel");
    let (status, error) = send(&app, Method::POST, &cancel, &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a change without the CSRF header: {error}");
    let (status, _) = send(&app, Method::POST, &cancel, &[("cookie", &cookie), ("x-csrf-token", "forged")], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // MLflow's framed UI cannot send the CSRF header: for it, the browser's
    // `Sec-Fetch-Site: same-origin` stands in. (MLflow is not configured here: 404.)
    let mlflow = "/mlflow/ajax-api/2.0/mlflow/runs/delete";
    let (status, _) = send(&app, Method::POST, mlflow, &[("cookie", &cookie)], Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let same_origin = [("cookie", cookie.as_str()), ("sec-fetch-site", "same-origin")];
    assert_eq!(send(&app, Method::POST, mlflow, &same_origin, Some(json!({}))).await.0, StatusCode::NOT_FOUND);
    let viewer = app.with_token(tokens.of(Role::Viewer));
    let (status, _) = viewer.post("/mlflow/ajax-api/2.0/mlflow/runs/search", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a search is a read, also as a POST");
    assert_eq!(viewer.post(mlflow, json!({})).await.0, StatusCode::FORBIDDEN);
    // An event stream opens with the cookie, and the change it sees is the cancel.
    let mut stream = crate::helpers::EventStream::connect_with(
        &app.client,
        &app.url("/api/events?topics=workflows"),
        &[(COOKIE.as_str(), &cookie)],
    )
    .await;
    stream.expect(&["ready"]).await;
    let (status, _) = send(&app, Method::POST, &cancel, &[("cookie", &cookie), ("x-csrf-token", &csrf)], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stream.expect(&["workflow_update"]).await.data["status"], "cancelled");

    // Signing out clears the cookie, ends the session and its stream.
    let response = app
        .client
        .delete(app.url("/api/session"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().get_all(SET_COOKIE).iter().any(|v| v.to_str().unwrap().contains("Max-Age=0")));
    assert!(stream.drain(Duration::from_secs(2)).await.iter().all(|m| m.event != "workflow_update"));
    assert!(stream.next_within(Duration::from_secs(1)).await.is_err(), "the stream ended");
    let (status, _) = send(&app, Method::GET, "/api/summary", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A session over https (as its Origin says) gets the Secure, __Host- cookie.
    let host = app.address.trim_start_matches("http://").to_owned();
    let response = app
        .client
        .post(app.url("/api/session"))
        .header(ORIGIN, format!("https://{host}"))
        .header(HOST, host.as_str())
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"token": tokens.of(Role::Viewer)}))
        .send()
        .await
        .unwrap();
    let set = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("__Host-ca_session=") && set.contains("; Secure"), "{set}");
}

async fn revoking_a_token_ends_its_sessions_and_streams(backend: Backend) {
    let (app, tokens) = with_tokens(backend).await;
    let admin = app.with_token(tokens.of(Role::Admin));
    let (_, created) = admin.post("/api/tokens", json!({"name": "alice", "role": "viewer"})).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let (cookie, _) = sign_in(&app, &secret).await;
    let alice = app.with_token(&secret);
    let mut by_token = alice.events("/api/events", None).await;
    let mut by_cookie =
        crate::helpers::EventStream::connect_with(&app.client, &app.url("/api/events"), &[(COOKIE.as_str(), &cookie)])
            .await;
    by_token.expect(&["ready"]).await;
    by_cookie.expect(&["ready"]).await;

    assert_eq!(admin.request(Method::DELETE, "/api/tokens/alice", None).await.0, StatusCode::OK);
    for stream in [&mut by_token, &mut by_cookie] {
        stream.drain(Duration::from_millis(500)).await;
        assert!(stream.next_within(Duration::from_secs(1)).await.is_err(), "the stream ended");
    }
    assert_eq!(alice.get("/api/summary").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&app, Method::GET, "/api/summary", &[("cookie", &cookie)], None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(admin.request(Method::DELETE, "/api/tokens/alice", None).await.0, StatusCode::NOT_FOUND);
}

async fn the_audit_log_says_who_did_what(backend: Backend) {
    let (app, tokens) = with_tokens(backend).await;
    let admin = app.with_token(tokens.of(Role::Admin));
    let operator = app.with_token(tokens.of(Role::Operator));
    let agent = app.with_token(tokens.of(Role::Agent));
    serving_w(&agent).await;
    let run = agent.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    let mut stream = admin.events("/api/events?topics=workflows,logs,agents", None).await;
    stream.expect(&["ready"]).await;
    assert_eq!(operator.post_empty(&format!("/api/workflows/{run}/cancel")).await.0, StatusCode::OK);
    let line = stream.expect(&["run_log"]).await;
    assert_eq!(line.data["message"], "Run cancelled from the dashboard by operator");
    assert_eq!(operator.request(Method::DELETE, "/api/agents/bound-agent", None).await.0, StatusCode::OK);
    let removed = stream.expect(&["agent_update"]).await;
    assert_eq!((removed.data["change"].as_str(), removed.data["by"].as_str()), (Some("removed"), Some("operator")));

    let page: Value = admin.fetch("/api/audit").await;
    let entries: Vec<(String, String, String)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
                e["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        entries[..4],
        [
            ("operator".into(), "agent.deregister".into(), "bound-agent".into()),
            ("operator".into(), "run.cancel".into(), run.clone()),
            ("agent".into(), "run.create".into(), run.clone()),
            ("agent".into(), "agent.register".into(), "bound-agent".into()),
        ]
    );
    // Paged with a cursor, newest first.
    let first: Value = admin.fetch("/api/audit?limit=2").await;
    let before = first["next_before"].as_i64().unwrap();
    let rest: Value = admin.fetch(&format!("/api/audit?limit=2&before={before}")).await;
    assert_eq!(rest["entries"][0]["action"], "run.create");
    assert_eq!(operator.get("/api/audit").await.0, StatusCode::FORBIDDEN);
}

async fn an_sso_proxy_names_the_user_only_from_trusted_addresses(backend: Backend) {
    let start = |proxy: &'static str| async move {
        let db = TestDb::create(backend).await;
        let mut config = config(db.url());
        config.access.auth = server::config::AuthMode::Tokens;
        config.access.trusted_user_header = Some("X-Forwarded-User".to_owned());
        config.access.trusted_proxies = vec![proxy.parse().unwrap()];
        config.access.user_roles = vec![("alice".to_owned(), Role::Operator)];
        TestApp::start(db, config).await
    };
    let trusted = start("127.0.0.1/32").await;
    let session: Value = send(&trusted, Method::GET, "/api/session", &[("x-forwarded-user", "alice")], None).await.1;
    assert_eq!((session["name"].as_str(), session["role"].as_str()), (Some("alice"), Some("operator")));
    let bob: Value = send(&trusted, Method::GET, "/api/session", &[("x-forwarded-user", "bob")], None).await.1;
    assert_eq!(bob["role"], "viewer", "the default role");
    let (status, _) = send(
        &trusted,
        Method::POST,
        "/api/workflows/run",
        &[("x-forwarded-user", "bob")],
        Some(json!({"workflow_name": "w"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let untrusted = start("10.0.0.0/8").await;
    let (status, _) = send(&untrusted, Method::GET, "/api/summary", &[("x-forwarded-user", "alice")], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the header counts only from the proxy's addresses");
}

async fn configured_hosts_and_origins_are_served(backend: Backend) {
    let db = TestDb::create(backend).await;
    let mut config = config(db.url());
    config.access.allowed_hosts = vec!["dash.example.com".to_owned()];
    config.access.allowed_origins = vec!["https://ui.example.com".to_owned()];
    let app = TestApp::start(db, config).await;
    assert_eq!(send(&app, Method::GET, "/api/summary", &[("host", "dash.example.com")], None).await.0, StatusCode::OK);
    let register = json!({"agent_id": "a", "agent_name": "a", "host": "127.0.0.1", "port": 9});
    for (origin, expected) in [
        ("https://ui.example.com", StatusCode::OK),
        ("http://dash.example.com", StatusCode::OK),
        ("http://127.0.0.1:8080", StatusCode::FORBIDDEN),
    ] {
        let headers = [("host", "dash.example.com"), ("origin", origin)];
        let (status, _) = send(&app, Method::POST, "/api/agents/register", &headers, Some(register.clone())).await;
        assert_eq!(status, expected, "{origin}");
    }
}

/// Reads the process's stdout until a line holds `needle`.
fn line_with(reader: &mut impl std::io::BufRead, needle: &str) -> String {
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        if line.contains(needle) {
            return line;
        }
        line.clear();
    }
    panic!("no line with `{needle}`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_with_tokens_prints_a_login_link_once() {
    let db = TestDb::create(Backend::Sqlite).await;
    let mut process = Process::start_piped(&db.url(), &["--auth", "tokens"]).await;
    let line = line_with(&mut process.stdout(), "/login#token=");
    let secret = line.trim().rsplit("#token=").next().unwrap().to_owned();
    assert!(line.contains(&format!("{}/login#token=", process.address)), "{line}");
    let admin = process.with_token(&secret);
    let session: Value = admin.fetch("/api/session").await;
    assert_eq!((session["name"].as_str(), session["role"].as_str()), (Some("admin"), Some("admin")));
    process.kill();
    let mut again = Process::start_piped(&db.url(), &["--auth", "tokens"]).await;
    again.kill();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut again.stdout(), &mut rest).unwrap();
    assert!(!rest.contains("#token="), "an admin token exists: no new one: {rest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_bind_needs_auth() {
    let db = TestDb::create(Backend::Sqlite).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dashboard-under-test"))
        .args(["dashboard", "--host", "0.0.0.0", "--port", "0", "--database-url", &db.url()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--auth tokens") && said.contains("--insecure-no-auth"), "{said}");
    for extra in [&["--auth", "tokens"][..], &["--insecure-no-auth"][..]] {
        let mut process = Process::start_on("0.0.0.0", &db.url(), extra).await;
        assert_eq!(process.get("/api/health").await.0, StatusCode::OK, "{extra:?}");
        process.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_command_creates_lists_and_revokes() {
    let db = TestDb::create(Backend::Sqlite).await;
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_dashboard-under-test"))
            .arg("token")
            .args(args)
            .args(["--database-url", &db.url()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let created =
        run(&["create", "--role", "agent", "--name", "writer", "--agent-id", "w-1", "--expires-in-days", "30"]);
    let secret = created.lines().find(|line| line.starts_with("cat_")).expect("the secret is printed").to_owned();
    assert!(created.contains("registry_url=\"http://agent:"), "{created}");
    let listed = run(&["list"]);
    assert!(listed.contains("writer") && listed.contains("agent") && listed.contains("w-1"), "{listed}");
    assert!(!listed.contains(&secret), "never the secret: {listed}");
    let mut config = config(db.url());
    config.access.auth = server::config::AuthMode::Tokens;
    let app = TestApp::start(TestDb::Shared(db.url()), config).await;
    let writer = app.with_token(&secret);
    assert_eq!(
        writer
            .post("/api/agents/register", json!({"agent_id": "w-1", "agent_name": "w", "host": "127.0.0.1", "port": 9}))
            .await
            .0,
        StatusCode::OK
    );
    run(&["revoke", "writer"]);
    assert_eq!(writer.post_empty("/api/agents/w-1/heartbeat").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_registry_client_signs_in_with_its_url() {
    let python = std::env::var("PYTHON_CLIENTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-clients/bin/python"));
    assert!(
        python.exists(),
        "Python with httpx is needed at {} (bash .ci/run installs it) or in PYTHON_CLIENTS",
        python.display()
    );
    let (app, tokens) = with_tokens(Backend::Sqlite).await;
    let admin = app.with_token(tokens.of(Role::Admin));
    let (_, created) = admin.post("/api/tokens", json!({"name": "original", "role": "agent"})).await;
    let secret = created["secret"].as_str().unwrap();
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/original_registry_client.py");
    let host = app.address.trim_start_matches("http://");
    let client =
        |url: String| std::process::Command::new(&python).arg(&script).arg(url).arg("original-agent").output().unwrap();
    let signed_in = client(format!("http://agent:{secret}@{host}/api"));
    let said = String::from_utf8_lossy(&signed_in.stdout);
    assert!(signed_in.status.success(), "{said}{}", String::from_utf8_lossy(&signed_in.stderr));
    assert_eq!(said, "register 200\nheartbeat 200\nderegister 200\n");
    let page: Value = admin.fetch("/api/audit").await;
    assert_eq!(
        (page["entries"][0]["actor"].as_str(), page["entries"][0]["action"].as_str()),
        (Some("original"), Some("agent.deregister"))
    );
    let refused = client(format!("http://agent:cat_wrong@{host}/api"));
    assert!(!refused.status.success());
    assert_eq!(String::from_utf8_lossy(&refused.stdout), "register 401\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_with_tokens_of_its_own() {
    let db = TestDb::create(Backend::Sqlite).await;
    let admin = db.token("admin", Role::Admin, &[]).await;
    let process = Process::start(&db.url(), &["--auth", "tokens", "--demo", "--demo-interval", "1"]).await;
    let admin = process.with_token(&admin);
    crate::helpers::eventually("a demo run completes", || async {
        let page: Value = admin.fetch("/api/workflows?status=completed").await;
        !page["runs"].as_array().unwrap().is_empty()
    })
    .await;
    let tokens: Value = admin.fetch("/api/tokens").await;
    let names: Vec<&str> = tokens.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"demo runs") && names.contains(&"demo agent demo-article_writer-1"), "{names:?}");
    let audit: Value = admin.fetch("/api/audit?limit=1000").await;
    let started =
        audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "run.start" && e["actor"] == "demo runs");
    assert!(started, "the demo's runs are started by its own operator token");
}

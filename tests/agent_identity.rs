//! Agent identity: an agent id belongs to whoever registered it first, whatever kind of
//! caller; another agent token cannot register, heartbeat, deregister or report into
//! it; an admin can transfer or free it; and agent tokens record runs only of the
//! workflows their agents declare.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;

use crate::helpers::{config, Api, Backend, TestApp, TestDb};

crate::on_both_databases!(
    backend: an_agent_id_belongs_to_its_first_registrant,
    agent_tokens_record_runs_only_of_their_workflows
);

/// A dashboard with `--auth tokens`, an admin `root` and the agent tokens named.
async fn with_agents(backend: Backend, agents: &[&str]) -> (TestApp, Api, Vec<Api>) {
    let db = TestDb::create(backend).await;
    let root = db.token("root", Role::Admin, &[]).await;
    let mut secrets = Vec::new();
    for name in agents {
        secrets.push(db.token(name, Role::Agent, &[]).await);
    }
    let mut config = config(db.url());
    config.access.auth = server::config::AuthMode::Tokens;
    let app = TestApp::start(db, config).await;
    let root = app.with_token(&root);
    let agents = secrets.iter().map(|secret| app.with_token(secret)).collect();
    (app, root, agents)
}

fn registration(id: &str, port: u16) -> Value {
    json!({"agent_id": id, "agent_name": "w", "host": "127.0.0.1", "port": port})
}

async fn owner(root: &Api, id: &str) -> Value {
    let found: Value = root.fetch(&format!("/api/agents/{id}/owner")).await;
    found["owner"].clone()
}

async fn an_agent_id_belongs_to_its_first_registrant(backend: Backend) {
    let (app, root, agents) = with_agents(backend, &["mallory", "alice"]).await;
    let [mallory, alice] = [&agents[0], &agents[1]];
    // An admin's registration claims the id as any other does.
    assert_eq!(root.post("/api/agents/register", registration("ops-1", 9)).await.0, StatusCode::OK);
    assert_eq!(owner(&root, "ops-1").await, "root");
    let dispatched = root.create_run(json!({"workflow_name": "w", "status": "running"})).await;
    // Dispatched to ops-1, as the dispatcher records it.
    app.db
        .execute_as_another_writer(&format!(
            "UPDATE workflow_runs SET agent_id = 'ops-1', agent_url = 'http://127.0.0.1:9' WHERE id = '{dispatched}'"
        ))
        .await;

    // Another agent token can neither take it over nor act on it, nor on its runs.
    for (method, path, body) in [
        (Method::POST, "/api/agents/register".to_owned(), Some(registration("ops-1", 9999))),
        (Method::POST, "/api/agents/ops-1/heartbeat".to_owned(), None),
        (Method::DELETE, "/api/agents/ops-1".to_owned(), None),
        (Method::POST, format!("/api/workflows/{dispatched}/states"), Some(json!({"node_id": "n", "cost_usd": 1}))),
        (Method::POST, format!("/api/workflows/{dispatched}/complete"), Some(json!({}))),
    ] {
        let (status, error) = mallory.request(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {error}");
    }
    let agent: Value = root.fetch("/api/agents/ops-1").await;
    assert_eq!(agent["port"], 9, "the registration is the admin's still");
    let run: Value = root.fetch(&format!("/api/workflows/{dispatched}")).await;
    assert_eq!((run["status"].as_str(), run["states"].as_array().unwrap().len()), (Some("running"), 0));

    // An agent token's ids are its own, against other agent tokens too.
    assert_eq!(mallory.post("/api/agents/register", registration("m-1", 9)).await.0, StatusCode::OK);
    assert_eq!(owner(&root, "m-1").await, "mallory");
    assert_eq!(alice.post("/api/agents/register", registration("m-1", 9)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(alice.get("/api/agents/m-1/owner").await.0, StatusCode::FORBIDDEN, "owners are for admins");

    // An admin transfers an id (its dispatched runs come with it) or frees one.
    let (status, moved) = root.request(Method::PUT, "/api/agents/ops-1/owner", Some(json!({"token": "alice"}))).await;
    assert_eq!((status, moved["owner"].as_str()), (StatusCode::OK, Some("alice")), "{moved}");
    assert_eq!(alice.post_empty("/api/agents/ops-1/heartbeat").await.0, StatusCode::OK);
    let report = format!("/api/workflows/{dispatched}/states");
    assert_eq!(alice.post(&report, json!({"node_id": "n"})).await.0, StatusCode::CREATED);
    assert_eq!(mallory.post_empty("/api/agents/ops-1/heartbeat").await.0, StatusCode::FORBIDDEN);
    let (status, _) = root.request(Method::PUT, "/api/agents/ops-1/owner", Some(json!({"token": "nobody"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, freed) = root.request(Method::DELETE, "/api/agents/m-1/owner", None).await;
    assert_eq!((status, &freed["owner"]), (StatusCode::OK, &Value::Null));
    // Freed while its agent is registered, the id is an admin's to give, not the first
    // asker's; once the agent is gone, the next registration claims it.
    assert_eq!(alice.post("/api/agents/register", registration("m-1", 9)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(root.request(Method::DELETE, "/api/agents/m-1", None).await.0, StatusCode::OK);
    assert_eq!(alice.post("/api/agents/register", registration("m-1", 9)).await.0, StatusCode::OK);
    assert_eq!(owner(&root, "m-1").await, "alice", "a freed id is claimed by the next registration");

    // An id is a path segment of the registry's routes: no separators in it.
    for id in ["a/b", "a\\b"] {
        assert_eq!(alice.post("/api/agents/register", registration(id, 9)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    }

    // Revoking a token frees its ids, but its registered agents are not the next
    // asker's; nor is an agent another writer put in the database. An id nobody
    // registered is the handler's 404 (on which the original registry client
    // registers again).
    assert_eq!(mallory.post("/api/agents/register", registration("m-2", 9)).await.0, StatusCode::OK);
    assert_eq!(root.request(Method::DELETE, "/api/tokens/mallory", None).await.0, StatusCode::OK);
    assert_eq!(owner(&root, "m-2").await, Value::Null);
    assert_eq!(alice.post("/api/agents/register", registration("m-2", 9)).await.0, StatusCode::FORBIDDEN);
    app.db.insert_agent_as_another_writer("written", "127.0.0.1", 9).await;
    for (method, path, body) in [
        (Method::POST, "/api/agents/register", Some(registration("written", 9999))),
        (Method::POST, "/api/agents/written/heartbeat", None),
    ] {
        assert_eq!(alice.request(method, path, body).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(alice.post_empty("/api/agents/never-registered/heartbeat").await.0, StatusCode::NOT_FOUND);
    let audit: Value = root.fetch("/api/audit?limit=1000").await;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"agent.transfer") && actions.contains(&"agent.free"), "{actions:?}");
}

async fn agent_tokens_record_runs_only_of_their_workflows(backend: Backend) {
    let (_app, root, agents) = with_agents(backend, &["runner", "other"]).await;
    let [runner, other] = [&agents[0], &agents[1]];
    let create = |workflow: &str| json!({"workflow_name": workflow, "status": "running"});
    let (status, error) = runner.post("/api/workflows", create("article_writer")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no agent of its declares it: {error}");
    let declared = json!({"agent_id": "r-1", "agent_name": "writer-service", "host": "127.0.0.1", "port": 9,
        "metadata": {"capabilities": ["article_writer"]}});
    assert_eq!(runner.post("/api/agents/register", declared).await.0, StatusCode::OK);
    let serving = json!({"agent_id": "o-1", "agent_name": "support_triage", "host": "127.0.0.1", "port": 9});
    assert_eq!(other.post("/api/agents/register", serving).await.0, StatusCode::OK);
    for (workflow, expected) in [
        ("article_writer", StatusCode::CREATED),
        ("writer-service", StatusCode::CREATED),
        ("support_triage", StatusCode::FORBIDDEN),
    ] {
        assert_eq!(runner.post("/api/workflows", create(workflow)).await.0, expected, "{workflow}");
    }
    assert_eq!(root.post("/api/workflows", create("anything")).await.0, StatusCode::CREATED, "admins record any");

    // What an agent declares is its own word, unless an admin binds its token to
    // workflows: then it declares and records no others (and so is sent no others).
    let (status, made) =
        root.post("/api/tokens", json!({"name": "writer", "role": "agent", "workflows": ["article_writer"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["token"]["workflows"], json!(["article_writer"]));
    let writer = root.with_token(made["secret"].as_str().unwrap());
    let claims = |id: &str, capabilities: Value| json!({"agent_id": id, "agent_name": "svc", "host": "127.0.0.1", "port": 9, "metadata": {"capabilities": capabilities}});
    let (status, error) =
        writer.post("/api/agents/register", claims("w-1", json!(["article_writer", "payroll"]))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("payroll"), "{error}");
    assert_eq!(writer.post("/api/agents/register", claims("w-1", json!(["article_writer"]))).await.0, StatusCode::OK);
    assert_eq!(writer.post("/api/workflows", create("article_writer")).await.0, StatusCode::CREATED);
    let named = json!({"agent_id": "w-2", "agent_name": "payroll", "host": "127.0.0.1", "port": 9});
    assert_eq!(writer.post("/api/agents/register", named).await.0, StatusCode::FORBIDDEN, "named for another workflow");
    assert_eq!(writer.post("/api/workflows", create("payroll")).await.0, StatusCode::FORBIDDEN);
    let (status, _) = root.post("/api/tokens", json!({"name": "bad", "role": "viewer", "workflows": ["x"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "only agent tokens are bound to workflows");
}

//! Hostile and malformed requests: each gets a 4xx JSON error and changes nothing.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{built, TestApp};

crate::on_both_databases!(
    malformed_requests_get_json_errors_and_change_nothing,
    oversized_bodies_are_refused,
    hostile_strings_are_stored_verbatim,
    nul_inside_a_node_report_is_stored_and_counted,
    nul_bytes_in_urls_are_refused,
    paths_that_look_like_the_api_answer_like_it,
    unusual_methods_never_reach_the_mlflow_proxy
);

async fn assert_nothing_changed(app: &TestApp) {
    let summary: Value = app.fetch("/api/summary").await;
    assert_eq!(
        (summary["total_workflows"].as_i64(), summary["registered_agents"].as_i64()),
        (Some(0), Some(0)),
        "{summary}"
    );
}

async fn raw(app: &TestApp, method: Method, path: &str, content_type: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path)).body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn malformed_requests_get_json_errors_and_change_nothing(app: TestApp) {
    let json_type = Some("application/json");
    let run = "00000000-0000-4000-8000-000000000000";
    let cases: Vec<(Method, String, Option<&str>, &str)> = vec![
        (Method::POST, "/api/workflows".into(), json_type, "{not json"),
        (Method::POST, "/api/workflows".into(), json_type, ""),
        (Method::POST, "/api/workflows".into(), None, r#"{"workflow_name":"w"}"#),
        (Method::POST, "/api/workflows".into(), json_type, r#"{"workflow_name":42}"#),
        (Method::POST, "/api/workflows".into(), json_type, r#"{"workflow_name":"w","unexpected":1}"#),
        (Method::POST, "/api/workflows".into(), json_type, r#"{"workflow_name":"w","status":"completed"}"#),
        (Method::POST, "/api/workflows".into(), json_type, r#"{"workflow_name":"w","status":"exploded"}"#),
        (Method::POST, "/api/workflows".into(), json_type, r#"{"workflow_name":"w","inputs":[1,2]}"#),
        (Method::POST, "/api/workflows".into(), json_type, r#"{"workflow_name":"w","id":"not-a-uuid"}"#),
        (Method::POST, "/api/workflows".into(), json_type, r#"{"workflow_name":"   "}"#),
        (Method::POST, "/api/workflows".into(), json_type, r#"[]"#),
        (Method::POST, "/api/agents/register".into(), json_type, r#"{"agent_id":"a"}"#),
        (
            Method::POST,
            "/api/agents/register".into(),
            json_type,
            r#"{"agent_id":"a","agent_name":"a","host":"h","port":1e99}"#,
        ),
        (Method::GET, "/api/workflows/not-a-uuid".into(), None, ""),
        (Method::GET, "/api/workflows/'%20OR%201=1--".into(), None, ""),
        (Method::GET, format!("/api/workflows/{run}"), None, ""),
        (Method::POST, format!("/api/workflows/{run}/states"), json_type, r#"{"node_id":"n"}"#),
        (Method::POST, format!("/api/workflows/{run}/states"), json_type, r#"{"status":"completed"}"#),
        (Method::POST, format!("/api/workflows/{run}/logs"), json_type, r#"{"lines":[]}"#),
        (Method::GET, "/api/workflows?limit=-5".into(), None, ""),
        (Method::GET, "/api/workflows?limit=abc".into(), None, ""),
        (Method::GET, "/api/workflows?status=done".into(), None, ""),
        (Method::GET, "/api/workflows?colour=red".into(), None, ""),
        (Method::GET, "/api/workflows?since=yesterday".into(), None, ""),
        (Method::GET, "/api/workflows?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z".into(), None, ""),
        (Method::GET, "/api/workflows?cursor=%00%01".into(), None, ""),
        (Method::GET, "/api/agents?include_dead=maybe".into(), None, ""),
        (Method::GET, "/api/nowhere".into(), None, ""),
        (Method::DELETE, "/api/workflows".into(), None, ""),
        (Method::PUT, "/api/agents/register".into(), json_type, "{}"),
    ];
    for (method, path, content_type, body) in cases {
        let (status, error) = raw(&app, method.clone(), &path, content_type, body).await;
        assert!(status.is_client_error(), "{method} {path} {body}: {status}");
        assert!(
            error["error"]["code"].is_string() && error["error"]["message"].is_string(),
            "{method} {path}: {error}"
        );
    }
    assert_nothing_changed(&app).await;
    let (_, body) = app.get("/api/nowhere").await;
    assert_eq!(body["error"]["message"], "no route for /api/nowhere");

    // A refused report into a real run leaves it as it was.
    let id = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
    for body in [
        json!({ "node_id": "n", "cost_usd": -1 }),
        json!({ "node_id": "n", "total_tokens": -3 }),
        json!({ "node_id": "x".repeat(129) }),
    ] {
        let (status, _) = app.post(&format!("/api/workflows/{id}/states"), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, _) = app
        .post(&format!("/api/workflows/{id}/complete"), json!({ "total_cost_usd": f64::MAX, "duration_seconds": -1 }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let detail: shared::RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert!(detail.states.is_empty());
    assert_eq!(detail.run.status, shared::RunStatus::Running);
}

async fn oversized_bodies_are_refused(app: TestApp) {
    // Past the 1 MiB limit, yet small enough that the client has sent it all before
    // the server's early 413 closes the connection.
    let huge = "x".repeat(1024 * 1024 + 64 * 1024);
    let (status, error) = app.post("/api/workflows", json!({ "workflow_name": "w", "inputs": { "blob": huge } })).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
    assert_eq!(error["error"]["code"], "payload_too_large");
    let (status, _) = app.post("/api/workflows", json!({ "workflow_name": "n".repeat(10_000) })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.get(&format!("/api/workflows?q={}", "q".repeat(1000))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_nothing_changed(&app).await;
}

async fn hostile_strings_are_stored_verbatim(app: TestApp) {
    let name = "<script>alert('x')</script> '; DROP TABLE workflow_runs; -- ✓ 🚀";
    let id =
        app.create_run(json!({ "workflow_name": name, "inputs": { "sql": "' OR 1=1 --", "nul": "a\u{0}b" } })).await;
    let detail: shared::RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(detail.run.workflow_name, name);
    assert_eq!(detail.inputs.unwrap()["nul"], "a\u{0}b", "NUL inside JSON survives as an escape");
    let page: shared::RunPage = app.fetch("/api/workflows?q=DROP%20TABLE").await;
    assert_eq!(page.runs.len(), 1);
    let (status, _) = app.post("/api/workflows", json!({ "workflow_name": "nul\u{0}name" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The same report gets the same answer on both databases: PostgreSQL's jsonb refuses
/// `\u0000`, which once made it answer 500 where SQLite stored the report.
async fn nul_inside_a_node_report_is_stored_and_counted(app: TestApp) {
    let id = app.create_run(json!({ "workflow_name": "nul_reports", "status": "running" })).await;
    let report = json!({ "node_id": "write", "status": "completed", "model": "gpt-4o", "input_tokens": 7,
        "output_tokens": 5, "cost_usd": 0.25, "duration_seconds": 2, "outputs": { "text": "a\u{0}b" } });
    let (status, body) = app.post(&format!("/api/workflows/{id}/states"), report).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let detail: shared::RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(detail.states[0].state_data.outputs, Some(json!({ "text": "a\u{0}b" })));
    assert_eq!(detail.run.total_tokens, Some(12));
    // Counted in the rollups as any report.
    let models: Value = app.fetch("/api/analytics/breakdown?group_by=model&range=24h").await;
    let gpt = models["rows"].as_array().unwrap().iter().find(|r| r["key"] == "gpt-4o").cloned();
    assert_eq!(gpt.map(|r| (r["cost_usd"].clone(), r["tokens"].clone())), Some((json!(0.25), json!(12))));
}

async fn nul_bytes_in_urls_are_refused(app: TestApp) {
    // A cursor as the server encodes them (URL-safe base64 of JSON), whose id holds a NUL.
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"sort":"started_at","desc":true,"key":"2026-01-01T00:00:00Z","id":"a\u0000b"}"#);
    for (method, path) in [
        (Method::GET, "/api/agents/a%00b".to_owned()),
        (Method::GET, "/api/agents/a%00b/docs".to_owned()),
        (Method::POST, "/api/agents/a%00b/heartbeat".to_owned()),
        (Method::DELETE, "/api/agents/a%00b".to_owned()),
        (Method::GET, "/api/workflows?workflow=%00".to_owned()),
        (Method::GET, "/api/workflows?q=a%00".to_owned()),
        (Method::GET, format!("/api/workflows?cursor={cursor}")),
        (Method::GET, "/api/events?topics=%00".to_owned()),
    ] {
        let (status, error) = raw(&app, method.clone(), &path, None, "").await;
        assert!(status.is_client_error(), "{method} {path}: {status}");
        assert!(error["error"]["message"].is_string(), "{method} {path}: {error}");
    }
    assert_nothing_changed(&app).await;
}

async fn paths_that_look_like_the_api_answer_like_it(app: TestApp) {
    let id = app.create_run(json!({ "workflow_name": "w", "status": "running" })).await;
    // A path with another spelling of an API path is refused as such (400); one that
    // only resembles the API is no route (404, or 405 for a page of the app).
    for (method, path, expected) in [
        (Method::GET, "/api/".to_owned(), StatusCode::NOT_FOUND),
        (Method::GET, "/api".to_owned(), StatusCode::NOT_FOUND),
        (Method::GET, "//api/workflows".to_owned(), StatusCode::BAD_REQUEST),
        (Method::GET, "/API/workflows".to_owned(), StatusCode::NOT_FOUND),
        (Method::GET, "/api%2Fworkflows".to_owned(), StatusCode::BAD_REQUEST),
        (Method::POST, format!("//api/workflows/{id}/complete"), StatusCode::BAD_REQUEST),
        (Method::POST, format!("/Api/workflows/{id}/cancel"), StatusCode::NOT_FOUND),
        (Method::POST, format!("/api%2fworkflows/{id}/fail"), StatusCode::BAD_REQUEST),
        (Method::POST, "/workflows".to_owned(), StatusCode::METHOD_NOT_ALLOWED),
        (Method::DELETE, "/agents".to_owned(), StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let response = app.client.request(method.clone(), app.url(&path)).json(&json!({})).send().await.unwrap();
        assert_eq!(response.status(), expected, "{method} {path}");
        let error: Value = response.json().await.unwrap_or(Value::Null);
        assert!(error["error"]["code"].is_string(), "{method} {path}: {error}");
    }
    let detail: shared::RunDetail = app.fetch(&format!("/api/workflows/{id}")).await;
    assert_eq!(detail.run.status, shared::RunStatus::Running, "no look-alike path changed the run");
    // The app's own pages are still served.
    let page = app.client.get(app.url("/workflows")).send().await.unwrap();
    let expected = if built("index.html") { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    assert_eq!(page.status(), expected);
}

async fn unusual_methods_never_reach_the_mlflow_proxy(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://").to_owned();
    for method in ["CONNECT", "TRACE"] {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let request = format!(
            "{method} /mlflow/api/2.0/mlflow/experiments/search HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 405") || answer.starts_with("HTTP/1.1 400"), "{method}: {answer}");
        assert!(answer.contains(r#""error""#), "{method} answers JSON: {answer}");
    }
}

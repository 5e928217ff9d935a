//! The OpenAPI document: generated from the handlers, public, complete in what it
//! promises (every operation's error shape, every event), and right about the
//! answers schemathesis found it wrong about.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{built, config, Backend, TestApp, TestDb};

crate::on_both_databases!(backend: the_contract_is_public_and_complete, answers_match_the_contract);

async fn contract(app: &TestApp) -> Value {
    app.fetch("/api/openapi.json").await
}

async fn the_contract_is_public_and_complete(backend: Backend) {
    let db = TestDb::create(backend).await;
    let mut settings = config(db.url());
    settings.access.auth = server::config::AuthMode::Tokens;
    let app = TestApp::start(db, settings).await;
    // Public, as FastAPI's are, even where everything else needs a token.
    let doc = contract(&app).await;
    assert_eq!(app.get("/api/workflows").await.0, StatusCode::UNAUTHORIZED);
    let (status, docs) = app.get("/api/docs").await;
    // Without the docs' files (built by scripts/build.sh into dist/) the page says so.
    match built("api-docs/swagger-ui-bundle.js") {
        true => assert_eq!(status, StatusCode::OK, "{docs}"),
        false => assert_eq!((status, &docs["error"]["code"]), (StatusCode::SERVICE_UNAVAILABLE, &json!("not_built"))),
    }

    assert_eq!(doc["openapi"], "3.1.0");
    // The query words are documented as they are written.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Range"]["enum"], json!(["today", "24h", "7d", "30d", "all"]), "{}", schemas["Range"]);
    assert!(schemas["Metric"]["enum"].as_array().unwrap().contains(&json!("duration_p95")), "{}", schemas["Metric"]);
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/api/workflows", "/api/workflows/bulk", "/api/bulk/{id}/stop", "/api/events", "/api/views/{id}"] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    let mut operations = 0;
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        assert!(path.starts_with("/api/"), "{path}");
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(ids.insert(id.clone()), "{method} {path}: operationId `{id}` is used twice");
            let error = &operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(error, "#/components/schemas/ErrorBody", "{method} {path} documents its errors");
            // Every `{name}` in the path is a documented parameter.
            for name in path.split('{').skip(1).filter_map(|rest| rest.split('}').next()) {
                let documented = operation["parameters"]
                    .as_array()
                    .is_some_and(|all| all.iter().any(|p| p["name"] == name && p["in"] == "path"));
                assert!(documented, "{method} {path} documents `{name}`");
            }
        }
    }
    assert!(operations >= 51, "{operations} operations");
    // Links from what creates a resource to what takes it, each to an operation that exists.
    let mut links = 0;
    for item in paths.values() {
        for operation in item.as_object().unwrap().values() {
            for answer in operation["responses"].as_object().into_iter().flat_map(|answers| answers.values()) {
                for (name, link) in answer["links"].as_object().into_iter().flatten() {
                    links += 1;
                    let target = link["operationId"].as_str().unwrap();
                    assert!(ids.contains(target), "link {name} leads to no operation `{target}`");
                }
            }
        }
    }
    assert!(links >= 25, "{links} links");
    // Every live event, by the name it has on the wire.
    let events: Vec<&str> = doc["components"]["schemas"]["Event"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|variant| variant["properties"]["type"]["enum"][0].as_str())
        .collect();
    for name in shared::Event::NAMES {
        assert!(events.contains(&name), "{name} in {events:?}");
    }
}

/// What schemathesis found the document wrong about, checked against real answers.
async fn answers_match_the_contract(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = contract(&app).await;
    let schemas = &doc["components"]["schemas"];
    // The keywords of analytics' queries and answers are the wire's, not the variants'.
    let series: Value = app.fetch("/api/analytics/series?metric=duration_p95&group_by=workflow&bucket=day").await;
    for (field, schema) in [("metric", "Metric"), ("group_by", "GroupBy"), ("bucket", "Bucket")] {
        let allowed = schemas[schema]["enum"].as_array().unwrap();
        assert!(allowed.contains(&series[field]), "{field} {} is one of {allowed:?}", series[field]);
    }
    // A budget's answer flattens its limits, which as a request refuse other fields;
    // the answer's schema must not refuse the budget's own fields.
    let budget = app.put("/api/budgets/nightly", json!({ "daily_usd": 5.0 })).await;
    assert!(budget["spent_today_usd"].is_number(), "{budget}");
    assert_eq!(schemas["BudgetLimits"]["additionalProperties"], false, "a request with other fields is refused");
    for part in schemas["Budget"]["allOf"].as_array().unwrap() {
        assert!(part.get("additionalProperties").is_none_or(|v| v != false), "{part}");
    }
    let (status, refused) =
        app.request(reqwest::Method::PUT, "/api/budgets/nightly", Some(json!({ "daily": 5 }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
}

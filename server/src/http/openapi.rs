//! The API's contract: an OpenAPI 3.1 document generated from the handlers'
//! `#[utoipa::path]` annotations and the `shared` types' schemas (utoipa), served at
//! `/api/openapi.json`, and Swagger UI over it at `/api/docs` (FastAPI's `/docs`, which
//! the original dashboard had), its files embedded from npm's `swagger-ui-dist`.

use axum::body::Bytes;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::OpenApi;

use super::error::error_response;
use super::rules::{Rule, Rules};
use super::AppState;

const CONTRACT: &str = "/api/openapi.json";
const DOCS: &str = "/api/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "configurable-agents dashboard",
        description = "Runs of LLM-agent workflows, the agents that run them, their cost, and live events. \
            Every error is a JSON `ErrorBody` with a stable `code`. With `--auth tokens`, send \
            `Authorization: Bearer <token>`; a browser session's changes also carry `X-CSRF-Token`. \
            Each operation's security scope names the permission it needs (read, operate, report, \
            register, deregister, administer; none for public ones), which roles grant: viewer reads; \
            operator reads, operates and deregisters; agent reports, registers and deregisters its own \
            agents; admin does everything. Without `--auth tokens` every local caller is an admin. \
            The MLflow UI is proxied under `/mlflow/`, outside this API (reads need read, changes operate)."
    ),
    components(schemas(shared::ErrorBody, shared::Event)),
    tags(
        (name = "runs", description = "Runs for people: list, detail, start, cancel, restart, export"),
        (name = "ingest", description = "Runs reported by the runners that execute them"),
        (name = "bulk", description = "Actions on many runs at once"),
        (name = "events", description = "Live events (Server-Sent Events)"),
        (name = "agents", description = "The agent registry"),
        (name = "analytics", description = "What runs did and cost over time"),
        (name = "budgets", description = "Spending caps per workflow"),
        (name = "webhooks", description = "Alerts sent out"),
        (name = "views", description = "Saved views of the runs list"),
        (name = "access", description = "Tokens, sessions and the audit log"),
        (name = "server", description = "Health and MLflow"),
    )
)]
struct ApiDoc;

/// The document, to which the routes' paths are added under `/api`.
pub fn base() -> Document {
    ApiDoc::openapi()
}

/// Completes the document of the routes collected under `/api`: their full paths,
/// the error answer every operation may give, and how callers authenticate.
pub fn finish(mut doc: Document) -> Document {
    doc.paths.paths =
        std::mem::take(&mut doc.paths.paths).into_iter().map(|(path, item)| (format!("/api{path}"), item)).collect();
    let error = ResponseBuilder::new()
        .description("An error: 4xx for the request, 5xx for the server")
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            operation.responses.responses.insert("default".to_owned(), error.clone().into());
            with_session_alternative(operation);
        }
    }
    link(&mut doc);
    let components = doc.components.get_or_insert_with(Default::default);
    open_flattened(components);
    components.add_security_scheme(
        "token",
        SecurityScheme::Http(
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An API token")).build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::auth::SESSION_COOKIE))),
    );
    doc
}

/// An operation declares the permission it needs as its token scope
/// (`security(("token" = ["operate"]))`); a browser session's role grants the same.
fn with_session_alternative(operation: &mut utoipa::openapi::path::Operation) {
    let Some(requirements) = operation.security.as_mut() else { return };
    let scopes = serde_json::to_value(&*requirements).ok().and_then(|all| all.get(0)?.get("token").cloned());
    if let Some(scopes) = scopes.and_then(|s| serde_json::from_value::<Vec<String>>(s).ok()) {
        requirements.push(SecurityRequirement::new("session", scopes));
    }
}

/// What a created resource's answer leads to: (operation, status, parameter, where its
/// value is in the answer, the operations it is the parameter of). For readers and
/// for stateful testing (schemathesis follows them).
const LINKS: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "create_run",
        "201",
        "id",
        "$response.body#/id",
        &["get_run", "logs", "append_logs", "append_state", "start", "complete", "fail", "cancel", "restart"],
    ),
    ("restart", "201", "id", "$response.body#/id", &["get_run", "cancel"]),
    ("start_on_agent", "201", "id", "$response.body#/id", &["get_run", "cancel"]),
    ("register", "200", "id", "$response.body#/agent_id", &["get_agent", "heartbeat", "docs", "deregister_agent"]),
    ("bulk", "202", "id", "$response.body#/id", &["one", "stop"]),
    ("create_view", "201", "id", "$response.body#/id", &["change", "delete_view"]),
    ("create_webhook", "201", "id", "$response.body#/id", &["test", "delete_webhook"]),
    ("set", "200", "workflow", "$response.body#/workflow_name", &["delete_budget"]),
    ("create_token", "201", "name", "$response.body#/name", &["revoke"]),
];

fn link(doc: &mut Document) {
    use utoipa::openapi::link::LinkBuilder;
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let id = operation.operation_id.clone().unwrap_or_default();
            for (_, status, parameter, value, targets) in LINKS.iter().filter(|(from, ..)| *from == id) {
                let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status) else { continue };
                for target in *targets {
                    let link = LinkBuilder::new().operation_id(*target).parameter(*parameter, *value).build();
                    response.links.insert((*target).to_owned(), RefOr::T(link));
                }
            }
        }
    }
}

/// utoipa 5 writes a link's fields as they are named in Rust (`operation_id`); OpenAPI
/// names them `operationId`, `operationRef` and `requestBody`.
fn camel_case_links(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|paths| paths.as_object_mut()) else { return };
    let operations = paths.values_mut().filter_map(|item| item.as_object_mut()).flat_map(|item| item.values_mut());
    let answers = operations.filter_map(|op| op.get_mut("responses")?.as_object_mut()).flat_map(|all| all.values_mut());
    let links = answers.filter_map(|answer| answer.get_mut("links")?.as_object_mut()).flat_map(|all| all.values_mut());
    for link in links.filter_map(|link| link.as_object_mut()) {
        for (from, to) in
            [("operation_id", "operationId"), ("operation_ref", "operationRef"), ("request_body", "requestBody")]
        {
            if let Some(value) = link.remove(from) {
                link.insert(to.to_owned(), value);
            }
        }
    }
}

/// A struct flattened into another (`allOf` with a reference) keeps its fields there,
/// but not its refusal of other fields: `deny_unknown_fields` on a request body (a
/// budget's limits) would otherwise make the answer embedding it (the budget) fail
/// its own schema. The flattened copy is inlined, open.
fn open_flattened(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::{RefOr, Schema};
    let closed: std::collections::HashMap<String, utoipa::openapi::schema::Object> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(object)) if object.additional_properties.is_some() => {
                Some((format!("#/components/schemas/{name}"), object.clone()))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::AllOf(all)) = schema else { continue };
        for item in &mut all.items {
            if let RefOr::Ref(reference) = item {
                if let Some(object) = closed.get(&reference.ref_location) {
                    let mut open = object.clone();
                    open.additional_properties = None;
                    *item = RefOr::T(Schema::Object(open));
                }
            }
        }
    }
}

/// `GET /api/openapi.json` and `GET /api/docs`: public, as FastAPI's are.
pub fn routes(doc: Document, rules: &mut Rules) -> Router<AppState> {
    let mut json = serde_json::to_value(&doc).unwrap_or_default();
    camel_case_links(&mut json);
    let json = Bytes::from(serde_json::to_vec_pretty(&json).unwrap_or_default());
    let contract = move || {
        let json = json.clone();
        async move { ([(CONTENT_TYPE, "application/json")], json) }
    };
    for path in [CONTRACT, DOCS] {
        rules.declare(path, Some(Method::GET), Rule::Public);
    }
    Router::new().route(CONTRACT, get(contract)).route(DOCS, get(docs))
}

async fn docs() -> Response {
    if !super::frontend::has("api-docs/swagger-ui-bundle.js") {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_built",
            "this binary was built without the API docs' files (scripts/build.sh adds them); \
             the contract itself is at /api/openapi.json"
                .to_owned(),
        );
    }
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let policy = POLICY.get_or_init(|| super::security_headers::page_policy(DOCS_PAGE));
    ([(CONTENT_SECURITY_POLICY, policy.clone())], Html(DOCS_PAGE)).into_response()
}

const DOCS_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API · configurable-agents dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/api-docs/swagger-ui.css">
</head>
<body>
<div id="docs"></div>
<script src="/api-docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#docs", deepLinking: true });</script>
</body>
</html>
"##;

//! `GET/POST /api/webhooks`, `DELETE /api/webhooks/{id}`, `POST /api/webhooks/{id}/test`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use shared::{Alert, CreatedWebhook, NewWebhook, Webhook, WebhookTest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path};
use super::AppState;
use crate::callers::Caller;
use crate::store::StoredWebhook;
use crate::validate;

/// Enough for any team's alerting; each is a delivery per alert.
const MAX_WEBHOOKS: usize = 50;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(remove)).routes(routes!(test))
}

/// Outgoing webhooks and their delivery state (admin).
#[utoipa::path(get, path = "/webhooks", operation_id = "list_webhooks", tag = "webhooks", security(("token" = ["administer"])), responses((status = OK, body = Vec<Webhook>)))]
async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<Webhook>>, ApiError> {
    Ok(axum::Json(state.services.store.list_webhooks().await?.into_iter().map(|h| h.webhook).collect()))
}

/// An http(s) URL whose host is somewhere webhooks may go (the outbound policy,
/// checked again at every delivery, when its name is resolved).
async fn checked_url(state: &AppState, text: &str) -> Result<(), ApiError> {
    let url = url::Url::parse(text).map_err(|e| ApiError::invalid(format!("`url` is not a URL: {e}")))?;
    let Some(host) = url.host_str().filter(|_| matches!(url.scheme(), "http" | "https")) else {
        return Err(ApiError::invalid("`url` must be an http or https URL with a host"));
    };
    state.services.webhooks.policy().resolve(host).await.map_err(|why| ApiError::invalid(format!("`url`: {why}")))?;
    Ok(())
}

/// Adds a webhook; the answer holds the secret that signs its deliveries, shown once.
#[utoipa::path(post, path = "/webhooks", operation_id = "create_webhook", tag = "webhooks", security(("token" = ["administer"])), request_body = NewWebhook,
    responses((status = CREATED, body = CreatedWebhook)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewWebhook>,
) -> Result<(StatusCode, axum::Json<CreatedWebhook>), ApiError> {
    validate::name("url", &body.url, 2048)?;
    let mut events = body.events.unwrap_or_else(|| Alert::CHOSEN.to_vec());
    let mut seen = Vec::new();
    events.retain(|alert| {
        !seen.contains(alert) && {
            seen.push(*alert);
            true
        }
    });
    if events.is_empty() || events.contains(&Alert::Test) {
        return Err(ApiError::invalid(
            "`events` must name one or more of run.failed, run.budget_cancelled, budget.warning, agent.expired",
        ));
    }
    checked_url(&state, &body.url).await?;
    if state.services.store.list_webhooks().await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::Conflict(format!("there are {MAX_WEBHOOKS} webhooks already; remove one first")));
    }
    let hook = StoredWebhook {
        webhook: Webhook {
            id: uuid::Uuid::new_v4().to_string(),
            url: body.url.clone(),
            events,
            created_at: Utc::now(),
            created_by: caller.actor().name,
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            delivered: 0,
            failed: 0,
        },
        secret: crate::callers::random_value(),
    };
    let audit = caller.audit("webhook.create", &hook.webhook.id, Some(body.url));
    let stored = state.services.store.create_webhook(hook, audit).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedWebhook { webhook: stored.webhook, secret: stored.secret })))
}

#[utoipa::path(delete, path = "/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks", security(("token" = ["administer"])), params(("id" = String, Path)),
    responses((status = NO_CONTENT, description = "removed")))]
async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    validate::name("id", &id, 36)?;
    state.services.store.delete_webhook(&id, caller.audit("webhook.delete", &id, None)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test alert now and says how it went (at most one per webhook every
/// `TEST_EVERY`; each audited).
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks", security(("token" = ["administer"])), params(("id" = String, Path)),
    responses((status = OK, body = WebhookTest)))]
async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<WebhookTest>, ApiError> {
    let hook = state
        .services
        .store
        .list_webhooks()
        .await?
        .into_iter()
        .find(|h| h.webhook.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no webhook with id {id}")))?;
    if let Err(wait) = state.services.webhooks.may_test(&id) {
        return Err(ApiError::TooMany {
            message: format!("this webhook was tested moments ago; test it again in {} s", wait.as_secs().max(1)),
            retry_after: wait.as_secs().max(1),
        });
    }
    let tested = state.services.webhooks.test(&hook, &caller.actor().name).await?;
    let outcome = match (&tested.status, &tested.error) {
        (_, Some(error)) => format!("not delivered: {error}"),
        (Some(status), None) => format!("delivered: {status}"),
        (None, None) => "delivered".to_owned(),
    };
    state.services.store.record_audit(caller.audit("webhook.test", &id, Some(outcome))).await?;
    Ok(axum::Json(tested))
}

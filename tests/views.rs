//! Saved views of the runs list: each caller's own, shared ones for everyone, one
//! default per owner, and queries checked as the runs list checks them.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::{Role, SavedView};

use crate::helpers::{config, Backend, TestApp, TestDb};

crate::on_both_databases!(backend: views_are_saved_checked_and_removed, views_are_their_owners);

async fn views_are_saved_checked_and_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (body, says) in [
        (json!({ "name": "", "query": "" }), "`name`"),
        (json!({ "name": "x".repeat(129), "query": "" }), "`name`"),
        (json!({ "name": "a", "query": "status=exploded" }), "unknown status"),
        (json!({ "name": "a", "query": "colour=red" }), "colour"),
        (json!({ "name": "a", "query": "limit=5" }), "not `limit`"),
        (json!({ "name": "a", "query": "q=a%00b" }), "NUL"),
        (json!({ "name": "a", "query": "sort=-price" }), "unknown sort"),
        (json!({ "name": "a", "query": "", "pinned": true }), "pinned"),
        (json!({ "name": "a", "query": "", "hidden_columns": ["price"] }), "unknown column `price`"),
        (json!({ "name": "a", "query": "", "hidden_columns": "status" }), "hidden_columns"),
    ] {
        let (status, answer) = app.post("/api/views", body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(answer.to_string().contains(says), "{body}: {answer}");
    }
    let views: Vec<SavedView> = app.fetch("/api/views").await;
    assert!(views.is_empty(), "refused requests change nothing");

    let failed: SavedView = serde_json::from_value(
        app.posted(
            "/api/views",
            json!({ "name": "Failed this week", "query": "?range=week&status=failed", "default": true }),
        )
        .await,
    )
    .unwrap();
    assert_eq!((failed.query.as_str(), failed.default, failed.mine), ("status=failed&range=7d", true, true));
    let costly: SavedView = serde_json::from_value(
        app.posted("/api/views", json!({ "name": "Costly", "query": "sort=-total_cost_usd", "default": true })).await,
    )
    .unwrap();
    // One default per owner: the new one took it.
    let views: Vec<SavedView> = app.fetch("/api/views").await;
    let defaults: Vec<&str> = views.iter().filter(|v| v.default).map(|v| v.name.as_str()).collect();
    assert_eq!(defaults, ["Costly"]);
    // The columns a view hides, each once.
    let narrow: SavedView = serde_json::from_value(
        app.posted(
            "/api/views",
            json!({ "name": "Narrow", "query": "", "hidden_columns": ["total_tokens", "status", "total_tokens"] }),
        )
        .await,
    )
    .unwrap();
    assert_eq!(narrow.hidden_columns, ["status", "total_tokens"]);
    assert_eq!(costly.hidden_columns, Vec::<String>::new());
    let (status, _) = app.request(Method::DELETE, &format!("/api/views/{}", narrow.id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let renamed: SavedView = serde_json::from_value(
        app.put(&format!("/api/views/{}", failed.id), json!({ "name": "Failures", "query": "status=failed" })).await,
    )
    .unwrap();
    assert_eq!((renamed.name.as_str(), renamed.query.as_str()), ("Failures", "status=failed"));
    let (status, _) = app.request(Method::DELETE, &format!("/api/views/{}", costly.id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.request(Method::DELETE, &format!("/api/views/{}", costly.id), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let names: Vec<String> = app.fetch::<Vec<SavedView>>("/api/views").await.into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["Failures"]);

    // A caller keeps at most 200.
    for i in 1..200 {
        app.posted("/api/views", json!({ "name": format!("v{i}"), "query": "" })).await;
    }
    let (status, answer) = app.post("/api/views", json!({ "name": "one more", "query": "" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer.to_string().contains("200 views"), "{answer}");
}

async fn views_are_their_owners(backend: Backend) {
    let db = TestDb::create(backend).await;
    let (alice, bob) = (db.token("alice", Role::Viewer, &[]).await, db.token("bob", Role::Operator, &[]).await);
    let mut config = config(db.url());
    config.access.auth = server::config::AuthMode::Tokens;
    let app = TestApp::start(db, config).await;
    let (alice, bob) = (app.with_token(&alice), app.with_token(&bob));

    // A viewer keeps views of its own.
    let private: SavedView =
        serde_json::from_value(alice.posted("/api/views", json!({ "name": "mine", "query": "status=running" })).await)
            .unwrap();
    let shared: SavedView = serde_json::from_value(
        alice.posted("/api/views", json!({ "name": "team", "query": "range=today", "shared": true })).await,
    )
    .unwrap();
    let seen: Vec<SavedView> = bob.fetch("/api/views").await;
    assert_eq!(seen.iter().map(|v| (v.name.as_str(), v.mine)).collect::<Vec<_>>(), [("team", false)]);
    assert_eq!(seen[0].owner, "alice");
    // Another's view can be neither changed nor removed.
    let change = json!({ "name": "taken", "query": "" });
    let (status, _) = bob.request(Method::PUT, &format!("/api/views/{}", shared.id), Some(change)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = bob.request(Method::DELETE, &format!("/api/views/{}", private.id), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/views").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(alice.fetch::<Vec<SavedView>>("/api/views").await.len(), 2);
}

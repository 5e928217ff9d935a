//! The MLflow page: the MLflow UI in a frame, served by the dashboard's own proxy at
//! /mlflow/ (same origin, so MLflow allows the framing). When MLflow is not configured
//! or not answering, the page says so instead of showing a broken frame.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use shared::MlflowStatus;

use crate::api;
use crate::components::{Failure, Loading};

#[component]
pub fn Observability() -> impl IntoView {
    let status: RwSignal<Option<Result<MlflowStatus, String>>> = RwSignal::new(None);
    let check = move || {
        status.set(None);
        leptos::task::spawn_local(async move { status.set(Some(api::mlflow_status().await.map_err(|e| e.message))) })
    };
    check();
    view! {
        <section class="page">
            <h1>"MLflow"</h1>
            {move || match status.get() {
                None => view! { <Loading text="Asking MLflow…" /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry=check /> }.into_any(),
                Some(Ok(s)) if !s.configured => view! { <Setup /> }.into_any(),
                Some(Ok(s)) if !s.reachable => view! {
                    <div class="panel explain" role="alert" data-testid="mlflow-unreachable">
                        <h2>"MLflow is unreachable"</h2>
                        <p>{s.message} ". Runs and agents are unaffected; traces show up here again once MLflow answers."</p>
                        <button on:click=move |_| check()>"Try again"</button>
                    </div>
                }.into_any(),
                Some(Ok(_)) => view! { <Frame /> }.into_any(),
            }}
        </section>
    }
}

/// The MLflow UI, opened at `?view=` (a path of MLflow's own router) or at the
/// experiment named by `?experiment=`.
#[component]
fn Frame() -> impl IntoView {
    let query = use_query_map();
    let target: RwSignal<Option<String>> = RwSignal::new(None);
    let note: RwSignal<Option<String>> = RwSignal::new(None);
    Effect::new(move |_| {
        let (view, experiment) = query.with(|q| (q.get("view"), q.get("experiment")));
        match (view, experiment) {
            (Some(view), _) => target.set(Some(frame_url(&view))),
            (None, Some(name)) => leptos::task::spawn_local(async move {
                match api::mlflow_experiment_id(&name).await {
                    Ok(id) => target.set(Some(frame_url(&format!("/experiments/{id}/runs")))),
                    Err(_) => {
                        note.set(Some(format!(
                            "MLflow has no experiment named “{name}” yet; showing all experiments."
                        )));
                        target.set(Some(api::MLFLOW.to_owned()));
                    }
                }
            }),
            (None, None) => target.set(Some(api::MLFLOW.to_owned())),
        }
    });
    view! {
        {move || note.get().map(|n| view! { <p class="muted">{n}</p> })}
        <p class="frame-bar">
            <a href=api::MLFLOW target="_blank" rel="noopener">"Open MLflow in a new tab ↗"</a>
        </p>
        {move || target.get().map(|src| view! {
            <iframe class="mlflow-frame" title="MLflow" src=src data-testid="mlflow-frame"></iframe>
        })}
    }
}

/// Only a path of MLflow's client-side router goes after the `#`.
fn frame_url(view: &str) -> String {
    let safe = view.starts_with('/') && view.chars().all(|c| c.is_ascii_alphanumeric() || "/-_".contains(c));
    if safe {
        format!("{}#{view}", api::MLFLOW)
    } else {
        api::MLFLOW.to_owned()
    }
}

#[component]
fn Setup() -> impl IntoView {
    view! {
        <div class="panel explain" data-testid="mlflow-setup">
            <h2>"MLflow is not connected"</h2>
            <p>
                "Workflow traces, prompts and token metrics are recorded by MLflow. The dashboard shows the MLflow UI "
                "here, through its own address, once it knows where your tracking server runs."
            </p>
            <ol>
                <li>"Start MLflow, for example: " <code>"mlflow server --host 127.0.0.1 --port 5000"</code></li>
                <li>"Start the dashboard with " <code>"--mlflow-uri http://127.0.0.1:5000"</code> " (or the " <code>"MLFLOW_TRACKING_URI"</code> " environment variable)."</li>
                <li>"Reload this page."</li>
            </ol>
        </div>
    }
}

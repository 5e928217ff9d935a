//! One run: status, timing, totals, inputs and outputs, the node timeline, live logs,
//! and where it was restarted from or into.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use shared::{Event, LogLine, NodeState, RunDetail};

use super::run_actions::RunActions;
use crate::components::{Failure, Loading, StatusBadge, Time};
use crate::live::Stream;
use crate::{api, format, live, merge};

#[component]
pub fn WorkflowDetail() -> impl IntoView {
    let params = use_params_map();
    view! {
        {move || {
            let id = params.with(|p| p.get("id")).unwrap_or_default();
            view! { <RunPage id /> }
        }}
    }
}

#[component]
fn RunPage(id: String) -> impl IntoView {
    let detail: RwSignal<Option<Result<RunDetail, String>>> = RwSignal::new(None);
    let generation = StoredValue::new(0u64);
    let load = {
        let id = id.clone();
        move || {
            let id = id.clone();
            generation.update_value(|g| *g += 1);
            let mine = generation.get_value();
            leptos::task::spawn_local(async move {
                let result = api::run(&id).await.map_err(|e| e.message);
                if generation.get_value() == mine {
                    detail.set(Some(result));
                }
            });
        }
    };
    load();

    // This run's own stream carries its node states and log lines. Each `ready` (first
    // connect, or a reconnect the server could not replay) reloads the snapshot; events
    // that cross it are merged without duplicates.
    let stream = Stream::open("workflows,logs", Some(id.clone()));
    on_cleanup(move || stream.close());
    {
        let load = load.clone();
        let mut first = true;
        let reloads = StoredValue::new_local(move |event: &Event| match event {
            Event::Ready { .. } if first => first = false,
            Event::Ready { .. } | Event::Resync { .. } => load(),
            _ => {}
        });
        stream.on_event(move |event| {
            reloads.update_value(|f| f(event));
            detail.update(|loaded| {
                if let Some(Ok(detail)) = loaded {
                    apply(detail, event);
                }
            });
        });
    }
    // Restarts of this run arrive on the app-wide stream.
    let this = id.clone();
    live::global().on_event(move |event| {
        if let Event::WorkflowUpdate(run) = event {
            if run.restarted_from.as_deref() == Some(this.as_str()) {
                detail.update(|loaded| {
                    if let Some(Ok(detail)) = loaded {
                        if !detail.restarted_into.contains(&run.id) {
                            detail.restarted_into.push(run.id.clone());
                        }
                    }
                });
            }
        }
    });

    view! {
        <section class="page">
            {move || match detail.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! {
                    <h1>"Run " <span class="mono">{format::short_id(&id).to_owned()}</span></h1>
                    <Failure message retry=load.clone() />
                }.into_any(),
                Some(Ok(_)) => view! { <Loaded detail /> }.into_any(),
            }}
        </section>
    }
}

fn apply(detail: &mut RunDetail, event: &Event) {
    match event {
        Event::WorkflowUpdate(run) if run.id == detail.run.id && merge::supersedes(run, &detail.run) => {
            detail.run = run.clone();
        }
        Event::NodeState(state) if state.run_id == detail.run.id && !detail.states.iter().any(|s| s.id == state.id) => {
            detail.states.push(state.clone());
            detail.states.sort_by_key(|s| s.id);
        }
        Event::RunLog(line) if line.run_id == detail.run.id => {
            let newest = detail.logs.lines.last().map_or(0, |l| l.id);
            if line.id > newest && detail.logs.next_after.is_none() {
                detail.logs.lines.push(line.clone());
            }
        }
        _ => {}
    }
}

#[component]
fn Loaded(detail: RwSignal<Option<Result<RunDetail, String>>>) -> impl IntoView {
    let get = move || detail.with(|d| d.as_ref().and_then(|r| r.as_ref().ok()).cloned());
    let run = Signal::derive(move || get().map(|d| d.run).unwrap_or_else(|| unreachable_run()));
    let id = run.with_untracked(|r| r.id.clone());
    view! {
        <header class="detail-head">
            <div>
                <p class="crumbs"><a href=api::pages::WORKFLOWS>"Workflow runs"</a> " / " <span class="mono">{id.clone()}</span></p>
                <h1>{move || run.with(|r| r.workflow_name.clone())} " " <StatusBadge status=Signal::derive(move || run.with(|r| r.status)) /></h1>
            </div>
            <RunActions run />
        </header>
        <dl class="facts" data-testid="run-facts">
            <div><dt>"Started"</dt><dd><Time at=Signal::derive(move || run.with(|r| r.started_at)) /></dd></div>
            <div><dt>"Finished"</dt><dd>{move || match run.with(|r| r.completed_at) {
                Some(at) => view! { <Time at /> }.into_any(),
                None => view! { <span class="muted">"not yet"</span> }.into_any(),
            }}</dd></div>
            <div><dt>"Duration"</dt><dd>{move || run.with(|r| format::duration(r.duration_seconds))}</dd></div>
            <div><dt>"Tokens"</dt><dd data-testid="run-tokens">{move || run.with(|r| format::tokens(r.total_tokens))}</dd></div>
            <div><dt>"Cost"</dt><dd>{move || run.with(|r| format::cost(r.total_cost_usd))}</dd></div>
        </dl>
        <Lineage detail />
        {move || run.with(|r| r.error_message.clone()).map(|message| view! {
            <div class="error-box" role="alert"><strong>"Error: "</strong>{message}</div>
        })}
        <h2>"Node timeline"</h2>
        <Timeline states=Signal::derive(move || get().map(|d| d.states).unwrap_or_default()) />
        <div class="columns">
            <Json title="Inputs" value=Signal::derive(move || get().and_then(|d| d.inputs)) />
            <Json title="Outputs" value=Signal::derive(move || get().and_then(|d| d.outputs)) />
        </div>
        <Logs detail />
    }
}

fn unreachable_run() -> shared::WorkflowRun {
    // `Loaded` is only shown while the detail is loaded; this keeps the signal total.
    shared::WorkflowRun {
        id: String::new(),
        workflow_name: String::new(),
        status: shared::RunStatus::Pending,
        started_at: chrono::Utc::now(),
        completed_at: None,
        duration_seconds: None,
        total_tokens: None,
        total_cost_usd: None,
        error_message: None,
        restarted_from: None,
    }
}

#[component]
fn Lineage(detail: RwSignal<Option<Result<RunDetail, String>>>) -> impl IntoView {
    let links = move || {
        detail.with(|d| match d {
            Some(Ok(d)) => (d.run.restarted_from.clone(), d.restarted_into.clone()),
            _ => (None, Vec::new()),
        })
    };
    view! {
        {move || {
            let (from, into) = links();
            (from.is_some() || !into.is_empty()).then(|| view! {
                <p class="lineage" data-testid="lineage">
                    {from.map(|from| view! { "Restarted from " <a class="mono" href=api::pages::workflow(&from)>{format::short_id(&from).to_owned()}</a> ". " })}
                    {(!into.is_empty()).then(|| view! {
                        "Restarted into "
                        {into.iter().map(|id| view! { <a class="mono" href=api::pages::workflow(id)>{format::short_id(id).to_owned()}</a> " " }).collect_view()}
                    })}
                </p>
            })
        }}
    }
}

#[component]
fn Timeline(states: Signal<Vec<NodeState>>) -> impl IntoView {
    let longest = move || {
        states.with(|s| s.iter().filter_map(|s| s.state_data.duration_seconds).fold(0.0f64, f64::max).max(0.001))
    };
    view! {
        {move || if states.with(Vec::is_empty) {
            view! { <p class="muted">"No node has reported yet."</p> }.into_any()
        } else {
            view! {
                <ol class="timeline" data-testid="timeline">
                    {move || states.get().into_iter().map(|state| {
                        let data = state.state_data.clone();
                        let failed = data.status.as_deref() == Some("failed");
                        let width = format!("width: {:.1}%", data.duration_seconds.unwrap_or(0.0) / longest() * 100.0);
                        view! {
                            <li class=if failed { "node failed" } else { "node" }>
                                <div class="node-head">
                                    <strong>{state.node_id.clone()}</strong>
                                    <span class=if failed { "badge status-failed" } else { "badge status-completed" }>
                                        {if failed { "✕ failed" } else { "✓ completed" }}
                                    </span>
                                    <span class="muted"><Time at=state.created_at /></span>
                                </div>
                                <div class="bar" aria-hidden="true"><span style=width></span></div>
                                <dl class="node-facts">
                                    <div><dt>"Duration"</dt><dd>{format::duration(data.duration_seconds)}</dd></div>
                                    <div><dt>"Model"</dt><dd>{data.model.clone().unwrap_or_else(|| "—".into())}</dd></div>
                                    <div><dt>"Tokens in / out"</dt><dd>{format!("{} / {}", format::tokens(data.input_tokens), format::tokens(data.output_tokens))}</dd></div>
                                    <div><dt>"Total tokens"</dt><dd>{format::tokens(data.tokens())}</dd></div>
                                    <div><dt>"Cost"</dt><dd>{format::cost(data.cost_usd)}</dd></div>
                                </dl>
                                {data.error.clone().map(|error| view! { <p class="error-box">{error}</p> })}
                                {data.outputs.clone().map(|outputs| view! {
                                    <details><summary>"Outputs"</summary><pre>{pretty(&outputs)}</pre></details>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[component]
fn Json(title: &'static str, value: Signal<Option<serde_json::Value>>) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>{title}</h2>
            {move || match value.get() {
                Some(v) => view! { <pre class="json">{pretty(&v)}</pre> }.into_any(),
                None => view! { <p class="muted">"None recorded."</p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Logs(detail: RwSignal<Option<Result<RunDetail, String>>>) -> impl IntoView {
    let lines = move || {
        detail.with(|d| d.as_ref().and_then(|r| r.as_ref().ok()).map(|d| d.logs.lines.clone()).unwrap_or_default())
    };
    let more = move || detail.with(|d| d.as_ref().and_then(|r| r.as_ref().ok()).and_then(|d| d.logs.next_after));
    let load_more = move |_| {
        let Some(after) = more() else { return };
        let id = detail.with_untracked(|d| d.as_ref().and_then(|r| r.as_ref().ok()).map(|d| d.run.id.clone()));
        let Some(id) = id else { return };
        leptos::task::spawn_local(async move {
            if let Ok(page) = api::run_logs(&id, after).await {
                detail.update(|d| {
                    if let Some(Ok(d)) = d {
                        d.logs.lines.extend(page.lines.into_iter().filter(|l: &LogLine| l.id > after));
                        d.logs.next_after = page.next_after;
                    }
                });
            }
        });
    };
    view! {
        <section class="panel">
            <h2>"Logs"</h2>
            {move || if lines().is_empty() {
                view! { <p class="muted">"No log lines yet; new ones appear here as the run writes them."</p> }.into_any()
            } else {
                view! {
                    <ol class="logs" data-testid="logs" aria-live="polite">
                        {move || lines().into_iter().map(|line| view! {
                            <li class=format!("log {}", line.level.as_str())>
                                <span class="muted"><Time at=line.ts /></span>
                                <span class="level">{line.level.as_str()}</span>
                                {line.node_id.clone().map(|n| view! { <span class="node-tag">{n}</span> })}
                                <span class="message">{line.message.clone()}</span>
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
            <Show when=move || more().is_some()>
                <button class="secondary" on:click=load_more>"Load more"</button>
            </Show>
        </section>
    }
}

//! One run: status, timing, totals, inputs and outputs, the node timeline, live logs,
//! and where it was restarted from or into.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::Value;
use shared::{Dispatch, Event, LogLine, LogPage, NodeState, RunDetail, WorkflowRun};

use super::node_progress::{working, Working};
use crate::components::clock::Clock;
use crate::components::{use_notices, Failure, Loading, Missing, RunActions, StatusBadge, Time, Tone};
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

/// A loaded run, one signal per part, so an event redraws only what it changes.
#[derive(Debug, Clone, Copy)]
struct RunView {
    run: RwSignal<WorkflowRun>,
    states: RwSignal<Vec<NodeState>>,
    logs: RwSignal<LogPage>,
    restarted_into: RwSignal<Vec<String>>,
    inputs: RwSignal<Option<Value>>,
    outputs: RwSignal<Option<Value>>,
    mlflow: RwSignal<Option<String>>,
    dispatch: RwSignal<Option<Dispatch>>,
}

/// Where this run is in the embedded MLflow: its run or experiment as the runner
/// reported them, else the experiment its config names.
fn mlflow_link(detail: &RunDetail) -> Option<String> {
    let ids = &detail.mlflow;
    match (&ids.experiment_id, &ids.run_id) {
        (Some(experiment), Some(run)) => {
            Some(api::pages::mlflow_view(&format!("/experiments/{experiment}/runs/{run}")))
        }
        (Some(experiment), None) => Some(api::pages::mlflow_view(&format!("/experiments/{experiment}/runs"))),
        _ => detail
            .config_snapshot
            .as_ref()
            .and_then(|config| config.pointer("/config/observability/mlflow/experiment_name"))
            .and_then(Value::as_str)
            .map(api::pages::mlflow_experiment),
    }
}

impl RunView {
    fn new(detail: RunDetail) -> RunView {
        RunView {
            mlflow: RwSignal::new(mlflow_link(&detail)),
            dispatch: RwSignal::new(detail.dispatch.clone()),
            run: RwSignal::new(detail.run),
            states: RwSignal::new(detail.states),
            logs: RwSignal::new(detail.logs),
            restarted_into: RwSignal::new(detail.restarted_into),
            inputs: RwSignal::new(detail.inputs),
            outputs: RwSignal::new(detail.outputs),
        }
    }

    fn replace(self, detail: RunDetail) {
        self.mlflow.set(mlflow_link(&detail));
        self.dispatch.set(detail.dispatch.clone());
        self.run.set(detail.run);
        self.states.set(detail.states);
        self.logs.set(detail.logs);
        self.restarted_into.set(detail.restarted_into);
        self.inputs.set(detail.inputs);
        self.outputs.set(detail.outputs);
    }

    /// Merges a live event; events that cross a reload are neither lost nor doubled.
    fn apply(self, event: &Event) {
        let id = self.run.with_untracked(|r| r.id.clone());
        match event {
            Event::WorkflowUpdate(run)
                if run.id == id && self.run.with_untracked(|current| merge::supersedes(run, current)) =>
            {
                self.run.set(run.clone());
            }
            Event::WorkflowUpdate(run)
                if run.restarted_from.as_deref() == Some(id.as_str())
                    && !self.restarted_into.with_untracked(|into| into.contains(&run.id)) =>
            {
                self.restarted_into.update(|into| into.push(run.id.clone()));
            }
            Event::NodeState(state)
                if state.run_id == id
                    && !self.states.with_untracked(|states| states.iter().any(|s| s.id == state.id)) =>
            {
                self.states.update(|states| {
                    states.push(state.clone());
                    states.sort_by_key(|s| s.id);
                });
            }
            Event::RunLog(line) if line.run_id == id => {
                // Tail only when every earlier line is shown; otherwise "Load more" gets it.
                let (newest, complete) =
                    self.logs.with_untracked(|l| (l.lines.last().map_or(0, |l| l.id), l.next_after.is_none()));
                if line.id > newest && complete {
                    self.logs.update(|l| l.lines.push(line.clone()));
                }
            }
            _ => {}
        }
    }
}

#[component]
fn RunPage(id: String) -> impl IntoView {
    let loaded: RwSignal<Option<RunView>> = RwSignal::new(None);
    let notices = use_notices();
    let failure: RwSignal<Option<api::ApiError>> = RwSignal::new(None);
    // This run's own stream carries its node states and log lines. A `ready` after the
    // first (a reconnect) or a `resync` reloads the snapshot; events merge into it.
    let stream = Stream::open("workflows,logs", Some(id.clone()), live::global().last_event_id());
    let readies = StoredValue::new(0u32);
    let fetch = id.clone();
    let reload = merge::follow(
        stream,
        move || {
            let id = fetch.clone();
            async move { api::run(&id).await }
        },
        move |result| match (result, loaded.get_untracked()) {
            (Ok(detail), Some(view)) => view.replace(detail),
            (Ok(detail), None) => loaded.set(Some(RunView::new(detail))),
            (Err(error), Some(_)) => notices.say(Tone::Error, format!("Could not refresh this run: {error}")),
            (Err(error), None) => failure.set(Some(error)),
        },
        move |event, reload| {
            if let Event::Ready { .. } = event {
                readies.update_value(|n| *n += 1);
                if readies.get_value() > 1 {
                    reload.run();
                }
            }
            if let Some(view) = loaded.get_untracked() {
                view.apply(event);
            }
        },
    );
    let load = move || reload.run();
    // Its outputs, agent job and MLflow ids come with its end, not in the event: read
    // again when the run ends while shown, whichever stream said so first.
    Effect::new(move |before: Option<Option<bool>>| {
        let active = loaded.get().map(|view| view.run.with(|r| r.status.is_active()));
        if before.flatten() == Some(true) && active == Some(false) {
            reload.run();
        }
        active
    });
    // Restarts of this run arrive on the app-wide stream.
    live::global().on_event(move |event| {
        if let Some(view) = loaded.get_untracked() {
            view.apply(event);
        }
    });

    view! {
        <section class="page">
            {move || match (loaded.get(), failure.get()) {
                (Some(view), _) => view! { <Loaded view /> }.into_any(),
                // Trying again cannot find a run that is not there: say so, and lead back.
                (None, Some(error)) if error.status == Some(404) => view! {
                    <Missing what="run" id=id.clone() gone="deleted" back=api::pages::WORKFLOWS back_text="All runs" />
                }.into_any(),
                (None, Some(error)) => view! {
                    <h1>"Run " <span class="mono">{format::short_id(&id).to_owned()}</span></h1>
                    <Failure message=error.message retry=load />
                }.into_any(),
                (None, None) => view! { <Loading /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Loaded(view: RunView) -> impl IntoView {
    let run = view.run;
    let id = run.with_untracked(|r| r.id.clone());
    let at_work = Memo::new(move |_| view.states.with(|states| view.logs.with(|logs| working(states, &logs.lines))));
    view! {
        <header class="detail-head">
            <div>
                <p class="crumbs"><a href=api::pages::WORKFLOWS>"Workflow runs"</a> " / " <span class="mono">{id.clone()}</span></p>
                <h1>{move || run.with(|r| r.workflow_name.clone())} " " <StatusBadge status=Signal::derive(move || run.with(|r| r.status)) /></h1>
            </div>
            <div class="actions">
                {move || view.mlflow.get().map(|href| view! {
                    <a class="button small secondary" href=href data-testid="mlflow-link">"Open in MLflow"</a>
                })}
                <PreviousRun run />
                <RunActions run />
            </div>
        </header>
        <dl class="facts" data-testid="run-facts">
            <div><dt>"Started"</dt><dd><Time exact=true at=Signal::derive(move || run.with(|r| r.started_at)) /></dd></div>
            <div><dt>"Finished"</dt><dd>{move || match run.with(|r| r.completed_at) {
                Some(at) => view! { <Time exact=true at /> }.into_any(),
                None => view! { <span class="muted">"not yet"</span> }.into_any(),
            }}</dd></div>
            <div><dt>"Duration"</dt><dd data-testid="run-duration"><Elapsed run /></dd></div>
            <div><dt>"Tokens"</dt><dd data-testid="run-tokens">{move || run.with(|r| format::tokens(r.total_tokens))}</dd></div>
            <div><dt>"Cost"</dt><dd>{move || run.with(|r| format::cost(r.total_cost_usd))}</dd></div>
            {move || view.dispatch.get().map(|d| view! {
                <div><dt>"Agent"</dt><dd data-testid="run-agent">
                    <a class="mono" href=api::agent_docs(&d.agent_id) title=format!("{} · API docs", d.agent_url)>{d.agent_id.clone()}</a>
                    {d.job_id.filter(|job| *job != d.agent_id).map(|job| view! { <span class="muted" title="the agent's job id">" · job " {format::short_id(&job).to_owned()}</span> })}
                </dd></div>
            })}
        </dl>
        <Lineage from=Signal::derive(move || run.with(|r| r.restarted_from.clone())) into=view.restarted_into />
        {move || run.with(|r| r.error_message.clone()).map(|message| view! {
            <div class="error-box" role="alert"><strong>"Error: "</strong>{message}</div>
        })}
        <h2>"Node timeline"</h2>
        <Waterfall run states=view.states at_work />
        <Timeline run states=view.states at_work />
        <div class="columns">
            <Json title="Inputs" value=view.inputs />
            <Json title="Outputs" value=view.outputs />
        </div>
        <Logs run_id=id logs=view.logs />
    }
}

/// The run's duration; while it runs, the time since it started, ticking.
#[component]
fn Elapsed(run: RwSignal<WorkflowRun>) -> impl IntoView {
    let clock = expect_context::<Clock>();
    move || {
        let (active, started, duration) = run.with(|r| (r.status.is_active(), r.started_at, r.duration_seconds));
        match (active, duration) {
            (true, _) => format!("{} so far", format::duration(Some(seconds_between(started, clock.now.get())))),
            (false, duration) => format::duration(duration),
        }
    }
}

fn seconds_between(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> f64 {
    ((to - from).num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// How long a node at work has been at it: until now, or until its run ended.
fn at_work_for(node: &Working, run: &WorkflowRun, now: chrono::DateTime<chrono::Utc>) -> f64 {
    seconds_between(node.since, run.completed_at.unwrap_or(now))
}

/// Opens the comparison with the run of the same workflow that started just before.
#[component]
fn PreviousRun(run: RwSignal<WorkflowRun>) -> impl IntoView {
    let notices = use_notices();
    let navigate = leptos_router::hooks::use_navigate();
    let find = Action::new_local(move |_: &()| {
        let (id, workflow, started) = run.with_untracked(|r| (r.id.clone(), r.workflow_name.clone(), r.started_at));
        let navigate = navigate.clone();
        async move {
            let query = shared::RunQuery {
                workflow: Some(workflow),
                until: Some(started),
                limit: Some(1),
                ..Default::default()
            };
            match api::runs(&query).await.map(|page| page.runs.into_iter().next()) {
                Ok(Some(previous)) => navigate(&api::pages::compare(&previous.id, &id), Default::default()),
                Ok(None) => notices.say(Tone::Error, "No earlier run of this workflow to compare with".to_owned()),
                Err(error) => notices.say(Tone::Error, format!("Could not find the previous run: {error}")),
            }
        }
    });
    view! {
        <button class="small secondary" data-testid="compare-previous" disabled=find.pending() on:click=move |_| { find.dispatch(()); }>
            "Compare with previous"
        </button>
    }
}

#[component]
fn Lineage(from: Signal<Option<String>>, into: RwSignal<Vec<String>>) -> impl IntoView {
    let link =
        |id: &String| view! { <a class="mono" href=api::pages::workflow(id)>{format::short_id(id).to_owned()}</a> " " };
    view! {
        <Show when=move || from.with(Option::is_some) || !into.with(Vec::is_empty)>
            <p class="lineage" data-testid="lineage">
                {move || from.get().map(|from| view! { "Restarted from " {link(&from)} ". " })}
                {move || (!into.with(Vec::is_empty)).then(|| view! {
                    "Restarted into " {into.get().iter().map(link).collect_view()}
                })}
            </p>
        </Show>
    }
}

/// Each node's bar placed at its start after the run's start, as long as it took, as
/// trace views draw spans: nodes that ran in parallel overlap. A report is made when
/// its node ends, so a node started `duration_seconds` before it.
#[component]
fn Waterfall(
    run: RwSignal<WorkflowRun>,
    states: RwSignal<Vec<NodeState>>,
    at_work: Memo<Vec<Working>>,
) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let bars = move || {
        let (started, finished) = run.with(|r| (r.started_at, r.completed_at));
        let seconds_since = |at: chrono::DateTime<chrono::Utc>| (at - started).num_milliseconds() as f64 / 1000.0;
        let spans: Vec<(NodeState, f64, f64)> = states.with(|all| {
            all.iter()
                .filter_map(|state| {
                    let length = state.state_data.duration_seconds?.max(0.0);
                    let end = seconds_since(state.created_at);
                    Some((state.clone(), (end - length).max(0.0), length))
                })
                .collect()
        });
        let until = finished.unwrap_or_else(|| clock.now.get());
        let working: Vec<(String, f64, f64)> = at_work.with(|all| {
            all.iter()
                .map(|w| (w.node_id.clone(), seconds_since(w.since).max(0.0), seconds_between(w.since, until)))
                .collect()
        });
        let span =
            spans.iter().map(|(_, start, length)| start + length).fold(seconds_since(until), f64::max).max(0.001);
        (spans, working, span)
    };
    view! {
        {move || {
            let (spans, working, span) = bars();
            (!spans.is_empty() || !working.is_empty()).then(|| view! {
                <div class="waterfall" data-testid="waterfall">
                    {spans.into_iter().map(|(state, start, length)| {
                        let data = &state.state_data;
                        let failed = data.status.as_deref() == Some("failed");
                        let style = format!("left: {:.2}%; width: {:.2}%", start / span * 100.0, (length / span * 100.0).max(0.4));
                        let label = format!("{} · {} tokens · {}", format::duration(Some(length)), format::tokens(data.tokens()), format::cost(data.cost_usd));
                        let title = format!("{}: from {} to {} ({label})", state.node_id, format::duration(Some(start)), format::duration(Some(start + length)));
                        view! {
                            <div class="span-row">
                                <span class="span-name mono">{state.node_id.clone()}</span>
                                <div class="span-track">
                                    <span class=if failed { "span failed" } else { "span" } style=style title=title></span>
                                </div>
                                <span class="span-label muted">{label}</span>
                            </div>
                        }
                    }).collect_view()}
                    {working.into_iter().map(|(node, start, length)| {
                        let style = format!("left: {:.2}%; width: {:.2}%", start / span * 100.0, (length / span * 100.0).max(0.4));
                        let label = format!("{} so far", format::duration(Some(length)));
                        view! {
                            <div class="span-row" data-testid="span-at-work">
                                <span class="span-name mono">{node.clone()}</span>
                                <div class="span-track"><span class="span at-work" style=style title=format!("{node}: at work, {label}")></span></div>
                                <span class="span-label muted">{label}</span>
                            </div>
                        }
                    }).collect_view()}
                    <div class="span-row axis">
                        <span></span>
                        <div class="span-track"><span>"0 s"</span><span>{format::duration(Some(span))}</span></div>
                        <span class="span-label muted">{move || run.with(|r| format!("run: {} tokens · {}", format::tokens(r.total_tokens), format::cost(r.total_cost_usd)))}</span>
                    </div>
                </div>
            })
        }}
    }
}

#[component]
fn Timeline(
    run: RwSignal<WorkflowRun>,
    states: RwSignal<Vec<NodeState>>,
    at_work: Memo<Vec<Working>>,
) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let longest = move || {
        states.with(|s| s.iter().filter_map(|s| s.state_data.duration_seconds).fold(0.0f64, f64::max).max(0.001))
    };
    view! {
        {move || if states.with(Vec::is_empty) && at_work.with(Vec::is_empty) {
            view! { <p class="muted">"No node has reported or logged yet."</p> }.into_any()
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
                                    <span class="muted"><Time exact=true at=state.created_at /></span>
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
                    {move || at_work.get().into_iter().map(|node| {
                        let (active, status) = run.with(|r| (r.status.is_active(), r.status));
                        let (badge, text) = match active {
                            true => ("badge status-running", "▶ at work".to_owned()),
                            false => ("badge status-cancelled", format!("■ stopped ({status})")),
                        };
                        let (name, since) = (node.node_id.clone(), node.since);
                        let elapsed = move || run.with(|r| format::duration(Some(at_work_for(&node, r, clock.now.get()))));
                        view! {
                            <li class="node at-work" data-testid="node-at-work">
                                <div class="node-head">
                                    <strong>{name}</strong>
                                    <span class=badge>{text}</span>
                                    <span class="muted">"since " <Time at=since /></span>
                                </div>
                                <div class="bar at-work" aria-hidden="true"><span style="width: 100%"></span></div>
                                <dl class="node-facts">
                                    <div><dt>{if active { "At work for" } else { "Worked for" }}</dt><dd>{elapsed}</dd></div>
                                    <div><dt>"Reported"</dt><dd class="muted">"not yet: a node reports when it ends"</dd></div>
                                </dl>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[component]
fn Json(title: &'static str, value: RwSignal<Option<Value>>) -> impl IntoView {
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
fn Logs(run_id: String, logs: RwSignal<LogPage>) -> impl IntoView {
    let notices = use_notices();
    let more = Action::new_local(move |after: &i64| {
        let (id, after) = (run_id.clone(), *after);
        async move {
            match api::run_logs(&id, after).await {
                Ok(page) => logs.update(|l| {
                    l.lines.extend(page.lines.into_iter().filter(|line: &LogLine| line.id > after));
                    l.next_after = page.next_after;
                }),
                Err(error) => notices.say(Tone::Error, format!("Could not load more log lines: {error}")),
            }
        }
    });
    let load_more = move |_| {
        if let Some(after) = logs.with_untracked(|l| l.next_after) {
            more.dispatch(after);
        }
    };
    view! {
        <section class="panel">
            <h2>"Logs"</h2>
            <Show
                when=move || !logs.with(|l| l.lines.is_empty())
                fallback=|| view! { <p class="muted">"No log lines yet; new ones appear here as the run writes them."</p> }
            >
                <ol class="logs" data-testid="logs" aria-live="polite">
                    <For each=move || logs.get().lines key=|line| line.id let:line>
                        <li class=format!("log {}", line.level.as_str())>
                            <span class="muted"><Time time_of_day=true at=line.ts /></span>
                            <span class="level">{line.level.as_str()}</span>
                            {line.node_id.clone().map(|n| view! { <span class="node-tag">{n}</span> })}
                            <span class="message">{line.message.clone()}</span>
                        </li>
                    </For>
                </ol>
            </Show>
            <Show when=move || logs.with(|l| l.next_after.is_some())>
                <button class="secondary" on:click=load_more disabled=more.pending()>"Load more"</button>
            </Show>
        </section>
    }
}

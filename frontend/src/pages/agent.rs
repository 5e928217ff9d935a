//! One agent: its health and heartbeats (live), what it can do with the workflows'
//! descriptions and input fields from its `/schema`, the runs sent to it, and a way
//! to start one on it.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use shared::{AgentChange, AgentInfo, CatalogEntry, Event, RunQuery, WorkflowRun};
use std::time::Duration;

use super::agents::apply_agent_update;
use crate::components::clock::Clock;
use crate::components::{AliveDot, Empty, Failure, Loading, Missing, RunList, StartRunButton, Time};
use crate::merge::{self, Live};
use crate::{api, format, live};

/// The latest runs listed here.
const RUNS: i64 = 10;
/// Heartbeats kept while the page is open.
const BEATS: usize = 8;

#[component]
pub fn Agent() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    // Another agent's address builds the page anew.
    move || view! { <AgentPage id=id.get() /> }
}

#[component]
fn AgentPage(id: String) -> impl IntoView {
    let agents = Live::new(live::global(), || api::agents(true), apply_agent_update);
    let wanted = id.clone();
    let found = Memo::new(move |_| {
        agents.data.with(|loaded| match loaded {
            None => None,
            Some(Err(message)) => Some(Err(message.clone())),
            Some(Ok(all)) => Some(Ok(all.iter().find(|a| a.agent_id == wanted).cloned())),
        })
    });
    // What decides the page's parts (whether the agent is there, and alive): a
    // heartbeat changes none of it, so an open dialog or a typed input stays.
    let shape = Memo::new(move |_| {
        found.with(|f| f.as_ref().map(|r| r.as_ref().map(|a| a.as_ref().map(|a| a.is_alive)).map_err(Clone::clone)))
    });
    let current = Signal::derive(move || found.with(|f| f.as_ref().and_then(|r| r.as_ref().ok()).cloned().flatten()));
    // Heartbeats are not kept in the event log: those seen while the page is open.
    let beats = RwSignal::new(Vec::<DateTime<Utc>>::new());
    let heard = id.clone();
    live::global().on_event(move |event| {
        if let Event::AgentUpdate(update) = event {
            if update.agent.agent_id == heard && matches!(update.change, AgentChange::Heartbeat | AgentChange::Revived)
            {
                beats.update(|all| {
                    all.insert(0, update.agent.last_heartbeat);
                    all.truncate(BEATS);
                });
            }
        }
    });
    let retry = move || agents.reload.run();
    let missing = id.clone();
    view! {
        <section class="page agent-page">
            {move || match shape.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry /> }.into_any(),
                Some(Ok(None)) => view! {
                    <Missing what="agent" id=missing.clone() gone="deregistered" back=api::pages::AGENTS back_text="All agents" />
                }.into_any(),
                Some(Ok(Some(_))) => match current.get_untracked() {
                    Some(agent) => view! { <Profile agent current beats /> }.into_any(),
                    None => ().into_any(),
                },
            }}
            <AgentRuns id=id.clone() />
        </section>
    }
}

#[component]
fn Profile(
    /// As the page was built: what a heartbeat does not change.
    agent: AgentInfo,
    /// As it is now: the heartbeat and expiry.
    current: Signal<Option<AgentInfo>>,
    beats: RwSignal<Vec<DateTime<Utc>>>,
) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let (registered, heartbeat) = (agent.registered_at, agent.last_heartbeat);
    let beat = Signal::derive(move || current.with(|a| a.as_ref().map_or(heartbeat, |a| a.last_heartbeat)));
    let expires = move || current.with(|a| a.as_ref().map(|a| a.expires_at));
    let left = move || {
        let Some(expires) = expires() else { return String::new() };
        let seconds = (expires - clock.now.get()).num_seconds();
        match seconds > 0 {
            true => format!("expires in {} unless it beats again", format::duration(Some(seconds as f64))),
            false => "expired: no heartbeat within its time to live".to_owned(),
        }
    };
    let offers: Vec<String> = agent.offers().into_iter().map(str::to_owned).collect();
    view! {
        <div class="page-head">
            <h1>
                {agent.agent_name.clone()} " "
                <AliveDot alive=agent.is_alive />
            </h1>
            <div class="row-actions">
                <a class="button secondary" href=api::agent_docs(&agent.agent_id) target="_blank" rel="noopener noreferrer">"Its own API page ↗"</a>
                {agent.is_alive.then(|| view! { <StartRunButton agent=agent.agent_id.clone() /> })}
            </div>
        </div>
        <dl class="facts" data-testid="agent-facts">
            <div><dt>"Id"</dt><dd class="mono">{agent.agent_id.clone()}</dd></div>
            <div><dt>"Address"</dt><dd class="mono">{agent.base_url()}</dd></div>
            <div><dt>"Registered"</dt><dd><Time exact=true at=registered /></dd></div>
            <div><dt>"Last heartbeat"</dt><dd><Time at=beat />" · time to live " {agent.ttl_seconds} " s"</dd></div>
            <div><dt>"Health"</dt><dd data-testid="agent-expiry">{left}</dd></div>
        </dl>
        <section class="panel" data-testid="heartbeats">
            <h2>"Heartbeats"</h2>
            {move || match beats.get() {
                seen if seen.is_empty() => view! { <p class="muted">"None yet since this page opened; they appear here as they arrive."</p> }.into_any(),
                seen => view! {
                    <ol class="beats">
                        {seen.windows(2).map(|pair| (pair[0], Some(pair[0] - pair[1]))).chain(seen.last().map(|l| (*l, None))).map(|(at, gap)| view! {
                            <li><Time time_of_day=true at />{gap.map(|g| format!(" · {}s after the one before", g.num_seconds()))}</li>
                        }).collect_view()}
                    </ol>
                }.into_any(),
            }}
        </section>
        <Serves offers capabilities=agent.capabilities.clone() id=agent.agent_id.clone() alive=agent.is_alive />
    }
}

/// What the agent serves, with each workflow's description and input fields as an
/// alive agent's `/schema` gives them (the catalog the start form uses).
#[component]
fn Serves(offers: Vec<String>, capabilities: Vec<String>, id: String, alive: bool) -> impl IntoView {
    let catalog = LocalResource::new(api::catalog);
    let described = move |name: &str| -> Option<CatalogEntry> {
        catalog.get().and_then(|answer| answer.ok()).and_then(|all| all.into_iter().find(|e| e.workflow_name == name))
    };
    view! {
        <section class="panel" data-testid="agent-serves">
            <h2>"What it can do"</h2>
            {(!capabilities.is_empty()).then(|| view! {
                <p>{capabilities.iter().map(|c| view! { <span class="chip">{c.clone()}</span> }).collect_view()}</p>
            })}
            {(!alive).then(|| view! { <p class="muted">"Expired agents are not asked for their schema."</p> })}
            {offers.into_iter().map(|name| {
                let title = name.clone();
                let mine = id.clone();
                view! {
                    <article class="workflow-doc">
                        <h3>{title}</h3>
                        {move || match (alive, described(&name)) {
                            (true, Some(entry)) if entry.agents.iter().any(|a| a.agent_id == mine) => view! { <Fields entry /> }.into_any(),
                            (true, None) if catalog.get().is_none() => view! { <Loading text="Asking the agent…" /> }.into_any(),
                            _ => view! { <p class="muted">"Its input fields are not described (no usable " <code>"/schema"</code> ")."</p> }.into_any(),
                        }}
                    </article>
                }
            }).collect_view()}
            <p class="muted small">"Agents answer " <code>"POST /run"</code> ", " <code>"GET /status/{job}"</code> ", "
                <code>"POST /cancel/{job}"</code> ", " <code>"GET /health"</code> " and " <code>"GET /schema"</code> "."</p>
        </section>
    }
}

#[component]
fn Fields(entry: CatalogEntry) -> impl IntoView {
    let fields = entry.inputs.unwrap_or_default();
    view! {
        {entry.description.map(|d| view! { <p>{d}</p> })}
        {(!fields.is_empty()).then(|| view! {
            <div class="table-wrap"><table class="stack" data-testid="agent-inputs">
                <thead><tr><th>"Input"</th><th>"Type"</th><th>"Required"</th><th>"About"</th></tr></thead>
                <tbody>
                    {fields.into_iter().map(|(name, about)| {
                        let text = |key: &str| about.get(key).and_then(|v| v.as_str()).unwrap_or("—").to_owned();
                        let required = about.get("required").and_then(|v| v.as_bool()).unwrap_or(false);
                        view! {
                            <tr>
                                <td class="mono" data-label="Input">{name}</td>
                                <td data-label="Type">{text("type")}</td>
                                <td data-label="Required">{if required { "yes" } else { "no" }}</td>
                                <td data-label="About">{text("description")}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        })}
    }
}

/// The latest runs sent to the agent, read again (at most every two seconds) as runs
/// change: a row does not name its agent, so events cannot be placed without a read.
#[component]
fn AgentRuns(id: String) -> impl IntoView {
    let runs = RwSignal::new(None::<Result<Vec<WorkflowRun>, String>>);
    let query = RunQuery { agent: Some(id), limit: Some(RUNS), ..Default::default() };
    let later = merge::throttled(Duration::from_secs(2));
    let reload = merge::follow(
        live::global(),
        move || {
            let query = query.clone();
            async move { api::runs(&query).await }
        },
        move |answer| runs.set(Some(answer.map(|page| page.runs).map_err(|e| e.message))),
        move |event, reload| {
            if matches!(event, Event::WorkflowUpdate(_)) {
                later(reload);
            }
        },
    );
    view! {
        <section class="panel" data-testid="agent-runs">
            <h2>"Latest runs sent to it"</h2>
            {move || match runs.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry=move || reload.run() /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <Empty text="No run has been sent to this agent." /> }.into_any(),
                Some(Ok(list)) => view! { <RunList runs=list testid="agent-run-list" /> }.into_any(),
            }}
        </section>
    }
}

//! Registered agents: health, capabilities, heartbeat age (ticking), docs, deregister.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::{AgentChange, AgentInfo, Event, Permission};

use crate::components::{confirmed, use_notices, AliveDot, Empty, Failure, Loading, Time, Tone};
use crate::merge::Live;
use crate::{api, live};

#[component]
pub fn Agents() -> impl IntoView {
    let params = use_query_map();
    let include_dead = Memo::new(move |_| params.with(|p| p.get("expired").as_deref() == Some("1")));
    let navigate = use_navigate();
    let toggle = move |_| {
        let next = if include_dead.get_untracked() {
            api::pages::AGENTS.to_owned()
        } else {
            format!("{}?expired=1", api::pages::AGENTS)
        };
        navigate(&next, Default::default());
    };

    // All agents are kept; the toggle only filters, so an agent that expires while
    // expired ones are hidden can reappear without a reload.
    let agents = Live::new(live::global(), || api::agents(true), apply_agent_update);
    let visible = move || {
        let all = agents.data.with(|loaded| loaded.as_ref().and_then(|l| l.as_ref().ok()).cloned()).unwrap_or_default();
        all.into_iter().filter(|a| include_dead.get() || a.is_alive).collect::<Vec<_>>()
    };
    let retry = move || agents.reload.run();

    view! {
        <section class="page">
            <div class="title-row">
                <h1>"Agents"</h1>
                <label class="switch">
                    <input type="checkbox" data-testid="include-expired" prop:checked=include_dead on:change=toggle />
                    "Show expired agents"
                </label>
            </div>
            {move || match agents.data.with(|loaded| loaded.as_ref().map(|l| l.as_ref().map(|_| ()).map_err(Clone::clone))) {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry /> }.into_any(),
                Some(Ok(())) => view! {
                    <Show when=move || !visible().is_empty() fallback=move || view! {
                        <Empty text=if include_dead.get() { "No agents registered." } else { "No alive agents." }>
                            <p class="muted">"Agents register with " <code>"POST /api/agents/register"</code> " and stay listed while they send heartbeats."</p>
                        </Empty>
                    }>
                        <div class="table-wrap">
                            <table class="agents stack" data-testid="agents-table">
                                <thead>
                                    <tr>
                                        <th>"Health"</th>
                                        <th>"Agent"</th>
                                        <th>"Address"</th>
                                        <th>"Capabilities"</th>
                                        <th>"Last heartbeat"</th>
                                        <th><span class="visually-hidden">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    // Keyed by what can change, so a heartbeat redraws only its row.
                                    <For each=visible key=|a| (a.agent_id.clone(), a.last_heartbeat, a.is_alive, a.registered_at) let:agent>
                                        <AgentRow agent />
                                    </For>
                                </tbody>
                            </table>
                        </div>
                    </Show>
                }.into_any(),
            }}
        </section>
    }
}

/// An agent's change, applied to the list of agents (kept sorted by name).
pub fn apply_agent_update(list: &mut Vec<AgentInfo>, event: &Event) -> bool {
    let Event::AgentUpdate(update) = event else { return false };
    list.retain(|a| a.agent_id != update.agent.agent_id);
    if update.change != AgentChange::Removed {
        list.push(update.agent.clone());
        list.sort_by(|a, b| (&a.agent_name, &a.agent_id).cmp(&(&b.agent_name, &b.agent_id)));
    }
    true
}

#[component]
fn AgentRow(agent: AgentInfo) -> impl IntoView {
    let id = agent.agent_id.clone();
    let notices = use_notices();
    let deregister = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            match api::deregister(&id).await {
                Ok(_) => notices.say(Tone::Success, format!("Agent {id} deregistered.")),
                Err(error) => notices.say(Tone::Error, format!("Could not deregister {id}: {error}")),
            }
        }
    });
    let ask = {
        let id = id.clone();
        move |_| {
            if confirmed(&format!("Deregister agent {id}? It is removed until it registers again.")) {
                deregister.dispatch(id.clone());
            }
        }
    };
    view! {
        <tr data-agent-id=id.clone()>
            <td data-label="Health"><AliveDot alive=agent.is_alive /></td>
            <td data-label="Agent">
                <a href=api::pages::agent(&id)><strong>{agent.agent_name.clone()}</strong></a>
                <div class="muted mono">{id.clone()}</div>
            </td>
            <td class="mono" data-label="Address">{format!("{}:{}", agent.host, agent.port)}</td>
            <td data-label="Capabilities">
                {if agent.capabilities.is_empty() {
                    view! { <span class="muted">"none declared"</span> }.into_any()
                } else {
                    agent.capabilities.iter().map(|c| view! { <span class="chip">{c.clone()}</span> }).collect_view().into_any()
                }}
            </td>
            <td data-label="Last heartbeat"><Time at=agent.last_heartbeat /> <span class="muted">{format!(" · ttl {}s", agent.ttl_seconds)}</span></td>
            <td class="row-actions">
                <a class="button small secondary" href=api::agent_docs(&id) target="_blank" rel="noopener noreferrer">"API docs ↗"</a>
                {crate::can(Permission::Deregister).then(|| view! {
                    <button class="small danger" disabled=deregister.pending() on:click=ask.clone()>"Deregister"</button>
                })}
            </td>
        </tr>
    }
}

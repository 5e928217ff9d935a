//! The overview: live totals, the latest runs, and agents that need attention.

use leptos::prelude::*;
use shared::{AnalyticsQuery, Bucket, Event, Metric, Range, RunQuery, Summary, WorkflowRun};

use crate::components::chart::Sparkline;
use crate::components::{AliveDot, Empty, Failure, Loading, RunList, StartRunButton, Time};
use crate::merge::Live;
use crate::{api, format, live, merge, LiveSummary};

const LATEST: usize = 8;

/// Runs started and their cost per hour over the last day, for the cards.
#[derive(Debug, Clone, Default, PartialEq)]
struct Trends {
    runs: Vec<f64>,
    cost: Vec<f64>,
}

async fn trends() -> api::ApiResult<Trends> {
    let hourly = |metric: Metric| AnalyticsQuery {
        metric: Some(metric),
        range: Some(Range::Day),
        bucket: Some(Bucket::Hour),
        ..Default::default()
    };
    let values = |series: shared::Series| {
        let line = series.lines.into_iter().next();
        series.buckets.iter().enumerate().map(|(i, _)| line.as_ref().and_then(|l| l.values[i]).unwrap_or(0.0)).collect()
    };
    Ok(Trends {
        runs: values(api::series(&hourly(Metric::Runs)).await?),
        cost: values(api::series(&hourly(Metric::Cost)).await?),
    })
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let LiveSummary(summary) = expect_context::<LiveSummary>();
    let trends_now = RwSignal::new(Trends::default());
    merge::follow(
        live::global(),
        trends,
        move |answer| {
            if let Ok(answer) = answer {
                trends_now.set(answer);
            }
        },
        merge::reload_when_runs_finish(std::time::Duration::from_secs(2)),
    );
    view! {
        <section class="page">
            <div class="page-head">
                <h1>"Overview"</h1>
                <StartRunButton />
            </div>
            {move || match summary.get() {
                None => view! { <Loading text="Waiting for live totals…" /> }.into_any(),
                Some(totals) => view! { <Cards totals trends=trends_now /> }.into_any(),
            }}
            <div class="columns">
                <LatestRuns />
                <AgentProblems />
            </div>
        </section>
    }
}

#[component]
fn Cards(totals: Summary, trends: RwSignal<Trends>) -> impl IntoView {
    let finished = (totals.completed + totals.failed + totals.cancelled).max(1) as f64;
    let share = |n: i64| format!("width: {:.2}%", n as f64 * 100.0 / finished);
    view! {
        <div class="cards" data-testid="summary">
            <a class="card" href=api::pages::WORKFLOWS>
                <span class="card-label">"Workflow runs"</span>
                <span class="card-value" data-testid="total-workflows">{format::compact(totals.total_workflows)}</span>
                <span class="card-note">{format!("{} completed · {} failed · {} cancelled", totals.completed, totals.failed, totals.cancelled)}</span>
                {move || view! { <Sparkline values=trends.with(|t| t.runs.clone()) label="runs started per hour, last 24 hours" /> }}
            </a>
            <a class="card" href=format!("{}?status=running,pending", api::pages::WORKFLOWS)>
                <span class="card-label">"Running now"</span>
                <span class="card-value" data-testid="running">{totals.running}</span>
                <span class="card-note">{format!("{} pending", totals.pending)}</span>
            </a>
            <a class="card" href=api::pages::AGENTS>
                <span class="card-label">"Alive agents"</span>
                <span class="card-value" data-testid="alive-agents">{totals.alive_agents}</span>
                <span class="card-note">{format!("of {} registered", totals.registered_agents)}</span>
            </a>
            <a class="card" href=api::pages::ANALYTICS>
                <span class="card-label">"Total cost"</span>
                <span class="card-value" data-testid="total-cost">{format::cost(Some(totals.total_cost_usd))}</span>
                <span class="card-note">{format!("{} tokens", format::compact(totals.total_tokens))}</span>
                {move || view! { <Sparkline values=trends.with(|t| t.cost.clone()) label="cost per hour, last 24 hours" /> }}
            </a>
        </div>
        <div class="outcomes" role="img" aria-label=format!("{} completed, {} failed, {} cancelled", totals.completed, totals.failed, totals.cancelled)>
            <span class="status-completed" style=share(totals.completed)></span>
            <span class="status-failed" style=share(totals.failed)></span>
            <span class="status-cancelled" style=share(totals.cancelled)></span>
        </div>
    }
}

#[component]
fn LatestRuns() -> impl IntoView {
    let latest_runs = || async {
        let query = RunQuery { limit: Some(LATEST as i64), ..Default::default() };
        api::runs(&query).await.map(|page| page.runs)
    };
    let Live { data: runs, reload } = Live::new(live::global(), latest_runs, |list: &mut Vec<WorkflowRun>, event| {
        let Event::WorkflowUpdate(run) = event else { return false };
        match list.iter_mut().find(|r| r.id == run.id) {
            Some(current) if merge::supersedes(run, current) => *current = run.clone(),
            Some(_) => return false,
            None => {
                list.insert(0, run.clone());
                list.sort_by_key(|run| std::cmp::Reverse(run.started_at));
                list.truncate(LATEST);
            }
        }
        true
    });
    let load = move || reload.run();
    view! {
        <section class="panel" aria-labelledby="latest-runs">
            <h2 id="latest-runs">"Latest runs" <a class="more" href=api::pages::WORKFLOWS>"All runs →"</a></h2>
            {move || match runs.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry=load /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <Empty text="No runs yet. Runs appear here the moment a runner reports one." />
                }.into_any(),
                Some(Ok(list)) => view! { <RunList runs=list testid="latest-runs" /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn AgentProblems() -> impl IntoView {
    let Live { data: agents, reload } =
        Live::new(live::global(), || api::agents(true), super::agents::apply_agent_update);
    let load = move || reload.run();
    view! {
        <section class="panel" aria-labelledby="agent-problems">
            <h2 id="agent-problems">"Agents needing attention" <a class="more" href=api::pages::AGENTS>"All agents →"</a></h2>
            {move || match agents.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry=load /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <Empty text="No agents registered." /> }.into_any(),
                Some(Ok(list)) => {
                    let total = list.len();
                    let expired: Vec<_> = list.into_iter().filter(|a| !a.is_alive).collect();
                    if expired.is_empty() {
                        view! { <p class="all-good">"✓ All " {total} " agents are alive."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="run-list" data-testid="agent-problems">
                                {expired.into_iter().map(|agent| view! {
                                    <li>
                                        <AliveDot alive=false />
                                        <span>{agent.agent_name.clone()}</span>
                                        <span class="muted">"last heartbeat " <Time at=agent.last_heartbeat /></span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                }
            }}
        </section>
    }
}

//! What runs did and cost over time: charts by workflow, agent or model, a sortable
//! breakdown, one workflow's nodes, and budgets. Live: finished runs reload the charts,
//! at most once per `RELOAD_EVERY`.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::{AnalyticsQuery, Breakdown, BreakdownRow, Budget, BudgetLimits, BudgetState, GroupBy, Permission, Series};
use std::time::Duration;

use crate::components::chart::{key_label, Chart, Shape};
use crate::components::{confirmed, use_notices, Empty, Failure, Loading, Tone};
use crate::{api, can, format, live, merge};

const RELOAD_EVERY: Duration = Duration::from_secs(2);
const RANGES: [(&str, &str); 3] = [("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days")];

/// Everything the page shows, loaded together.
#[derive(Debug, Clone)]
struct Board {
    runs: Series,
    failures: Series,
    cost: Series,
    tokens: Series,
    p50: Series,
    p95: Series,
    breakdown: Breakdown,
    budgets: Vec<Budget>,
}

async fn load(range: String, group: GroupBy) -> api::ApiResult<Board> {
    let query = |metric: &str, group: GroupBy| AnalyticsQuery {
        metric: Some(metric.to_owned()),
        group_by: Some(group.as_str().to_owned()),
        range: Some(range.clone()),
        ..Default::default()
    };
    // Run counts and durations belong to runs, which have no model.
    let by_runs = if group == GroupBy::Model { GroupBy::None } else { group };
    Ok(Board {
        runs: api::series(&query("runs", by_runs)).await?,
        failures: api::series(&query("failures", by_runs)).await?,
        cost: api::series(&query("cost", group)).await?,
        tokens: api::series(&query("tokens", group)).await?,
        p50: api::series(&query("duration_p50", GroupBy::None)).await?,
        p95: api::series(&query("duration_p95", GroupBy::None)).await?,
        breakdown: api::breakdown(&query("runs", group)).await?,
        budgets: api::budgets().await?,
    })
}

/// p50 and p95 as two lines of one chart.
fn percentiles(p50: &Series, p95: &Series) -> Series {
    let mut both = p50.clone();
    both.lines = [("p50", p50), ("p95", p95)]
        .into_iter()
        .filter_map(|(key, s)| s.lines.first().map(|line| shared::SeriesLine { key: key.to_owned(), ..line.clone() }))
        .collect();
    both
}

fn money(v: f64) -> String {
    format::cost(Some(v))
}

fn count(v: f64) -> String {
    format::compact(v.round() as i64)
}

fn seconds(v: f64) -> String {
    format::duration(Some(v))
}

#[component]
pub fn Analytics() -> impl IntoView {
    let params = use_query_map();
    let range = Memo::new(move |_| params.with(|p| p.get("range")).unwrap_or_else(|| "7d".to_owned()));
    let group = Memo::new(move |_| {
        params.with(|p| p.get("group_by")).and_then(|g| g.parse().ok()).unwrap_or(GroupBy::Workflow)
    });
    let navigate = use_navigate();
    let choose = move |range: String, group: GroupBy| {
        navigate(&format!("{}?range={range}&group_by={}", api::pages::ANALYTICS, group.as_str()), Default::default());
    };
    let board = RwSignal::new(None::<Result<Board, String>>);
    let reload = merge::follow(
        live::global(),
        move || load(range.get_untracked(), group.get_untracked()),
        move |answer| board.set(Some(answer.map_err(|e| e.message))),
        merge::reload_when_runs_finish(RELOAD_EVERY),
    );
    Effect::watch(move || (range.get(), group.get()), move |_, _, _| reload.run(), false);
    let retry = move || reload.run();
    let choose_range = choose.clone();
    view! {
        <section class="page">
            <div class="page-head">
                <h1>"Analytics"</h1>
                <div class="filters" role="group" aria-label="Window and grouping">
                    <div class="segmented" role="group" aria-label="Window">
                        {RANGES.into_iter().map(|(value, text)| {
                            let choose = choose_range.clone();
                            view! {
                                <button class="toggle" aria-pressed=move || (range.get() == value).to_string()
                                    on:click=move |_| choose(value.to_owned(), group.get_untracked())>{text}</button>
                            }
                        }).collect_view()}
                    </div>
                    <label>"Group by"
                        <select data-testid="group-by" prop:value=move || group.get().as_str()
                            on:change=move |ev| {
                                let group = event_target_value(&ev).parse().unwrap_or(GroupBy::Workflow);
                                choose(range.get_untracked(), group);
                            }>
                            <option value="workflow">"Workflow"</option>
                            <option value="agent">"Agent"</option>
                            <option value="model">"Model (cost, tokens)"</option>
                        </select>
                    </label>
                </div>
            </div>
            {move || match board.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry /> }.into_any(),
                Some(Ok(board)) => view! { <Loaded board group=group.get_untracked() reload /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Loaded(board: Board, group: GroupBy, reload: merge::Reload) -> impl IntoView {
    let durations = percentiles(&board.p50, &board.p95);
    let workflows: Vec<String> = match group {
        GroupBy::Workflow => board.breakdown.rows.iter().map(|r| r.key.clone()).collect(),
        _ => Vec::new(),
    };
    let budgets = board.budgets.clone();
    view! {
        <BudgetWarnings budgets=budgets.clone() />
        <div class="charts" data-testid="charts">
            <section class="panel"><h2>"Runs started"</h2>
                <Chart series=board.runs shape=Shape::Bars value=count label="runs per bucket" /></section>
            <section class="panel"><h2>"Failures"</h2>
                <Chart series=board.failures shape=Shape::Bars value=count label="failed runs per bucket" /></section>
            <section class="panel"><h2>"Cost"</h2>
                <Chart series=board.cost shape=Shape::Bars value=money label="USD per bucket" /></section>
            <section class="panel"><h2>"Tokens"</h2>
                <Chart series=board.tokens shape=Shape::Bars value=count label="tokens per bucket" /></section>
            <section class="panel"><h2>"Duration"</h2>
                <Chart series=durations shape=Shape::Lines value=seconds label="p50 and p95 of finished runs" /></section>
        </div>
        <BreakdownTable breakdown=board.breakdown />
        <Nodes workflows />
        <Budgets budgets reload />
    }
}

/// Budgets at 80 % or more, above everything else.
#[component]
fn BudgetWarnings(budgets: Vec<Budget>) -> impl IntoView {
    budgets
        .into_iter()
        .filter(|b| b.state != BudgetState::Ok)
        .map(|b| {
            let exceeded = b.state == BudgetState::Exceeded;
            view! {
                <p class=if exceeded { "banner bad" } else { "banner warn" } role="status" data-testid="budget-warning">
                    <strong>{b.workflow_name.clone()}</strong>
                    {if exceeded { " is at its budget: new runs are refused. " } else { " has used 80 % or more of its budget. " }}
                    {format!("Today {} · this month {}", format::cost(Some(b.spent_today_usd)), format::cost(Some(b.spent_month_usd)))}
                </p>
            }
        })
        .collect_view()
}

/// The columns a breakdown sorts by.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Column {
    Key,
    Runs,
    FailureRate,
    Cost,
    Tokens,
    P50,
    P95,
    CostPerRun,
}

impl Column {
    fn value(self, row: &BreakdownRow) -> f64 {
        let or_none = |v: Option<f64>| v.unwrap_or(-1.0);
        match self {
            Column::Key => 0.0,
            Column::Runs => or_none(row.runs.map(|n| n as f64)),
            Column::FailureRate => or_none(row.failure_rate),
            Column::Cost => row.cost_usd,
            Column::Tokens => row.tokens as f64,
            Column::P50 => or_none(row.duration_p50),
            Column::P95 => or_none(row.duration_p95),
            Column::CostPerRun => or_none(row.cost_per_run),
        }
    }
}

#[component]
fn BreakdownTable(breakdown: Breakdown) -> impl IntoView {
    let sort = RwSignal::new((Column::Cost, true));
    let by_runs = !matches!(breakdown.group_by, GroupBy::Model | GroupBy::Node);
    let group_by = breakdown.group_by;
    let rows = move || {
        let (column, descending) = sort.get();
        let mut rows = breakdown.rows.clone();
        rows.sort_by(|a, b| {
            let order = match column {
                Column::Key => a.key.cmp(&b.key),
                column => column.value(a).total_cmp(&column.value(b)),
            };
            if descending {
                order.reverse()
            } else {
                order
            }
        });
        rows
    };
    let header = move |column: Column, text: &'static str| {
        let class = if column == Column::Key { "" } else { "num" };
        view! {
            <th class=class aria-sort=move || match sort.get() {
                (c, true) if c == column => "descending",
                (c, false) if c == column => "ascending",
                _ => "none",
            }>
                <button class="link" on:click=move |_| sort.update(|(c, d)| {
                    *d = if *c == column { !*d } else { true };
                    *c = column;
                })>{text}</button>
            </th>
        }
    };
    let heading = match group_by {
        GroupBy::Agent => "Agent",
        GroupBy::Model => "Model",
        _ => "Workflow",
    };
    view! {
        <section class="panel">
            <h2>"Breakdown by " {heading.to_lowercase()}</h2>
            <div class="table-wrap">
                <table data-testid="breakdown">
                    <thead><tr>
                        {header(Column::Key, heading)}
                        {by_runs.then(|| view! { {header(Column::Runs, "Runs")} {header(Column::FailureRate, "Failure rate")} })}
                        {header(Column::Cost, "Cost")}
                        {header(Column::Tokens, "Tokens")}
                        {by_runs.then(|| view! { {header(Column::P50, "p50")} {header(Column::P95, "p95")} {header(Column::CostPerRun, "Cost / run")} })}
                    </tr></thead>
                    <tbody>
                        {move || rows().into_iter().map(|row| view! {
                            <tr>
                                <td>{match group_by {
                                    GroupBy::Workflow => view! { <a href=api::pages::runs_of(&row.key)>{row.key.clone()}</a> }.into_any(),
                                    _ => view! { <span class="mono">{key_label(&row.key)}</span> }.into_any(),
                                }}</td>
                                {by_runs.then(|| view! {
                                    <td class="num">{format::tokens(row.runs)}</td>
                                    <td class="num">{row.failure_rate.map_or("—".to_owned(), |r| format!("{:.1} %", r * 100.0))}</td>
                                })}
                                <td class="num">{format::cost(Some(row.cost_usd))}</td>
                                <td class="num">{format::tokens(Some(row.tokens))}</td>
                                {by_runs.then(|| view! {
                                    <td class="num">{format::duration(row.duration_p50)}</td>
                                    <td class="num">{format::duration(row.duration_p95)}</td>
                                    <td class="num">{format::cost(row.cost_per_run)}</td>
                                })}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <p class="muted small">"Percentiles are read from duration histograms: within 7 % of the exact value. Runs count in the hour they started (UTC)."</p>
        </section>
    }
}

/// One workflow's nodes: which takes the time and the money.
#[component]
fn Nodes(workflows: Vec<String>) -> impl IntoView {
    let chosen = RwSignal::new(workflows.first().cloned());
    let nodes = LocalResource::new(move || {
        let workflow = chosen.get();
        async move {
            match workflow {
                None => Ok(None),
                Some(workflow) => {
                    let query = AnalyticsQuery {
                        group_by: Some("node".to_owned()),
                        workflow: Some(workflow),
                        range: Some("30d".to_owned()),
                        ..Default::default()
                    };
                    api::breakdown(&query).await.map(Some).map_err(|e| e.message)
                }
            }
        }
    });
    if workflows.is_empty() {
        return ().into_any();
    }
    view! {
            <section class="panel">
                <h2><span>"Nodes of "
                    <select data-testid="node-workflow" on:change=move |ev| chosen.set(Some(event_target_value(&ev)))>
                        {workflows.clone().into_iter().map(|w| view! { <option value=w.clone()>{w.clone()}</option> }).collect_view()}
                    </select></span>
                    <span class="muted small">"last 30 days"</span>
                </h2>
                {move || match nodes.get() {
                    None => view! { <Loading /> }.into_any(),
                    Some(Err(message)) => view! { <p class="error-box">{message}</p> }.into_any(),
                    Some(Ok(None)) => ().into_any(),
                    Some(Ok(Some(found))) if found.rows.is_empty() => view! { <Empty text="No node has reported in this window." /> }.into_any(),
                    Some(Ok(Some(found))) => view! { <NodeShares rows=found.rows /> }.into_any(),
                }}
            </section>
    }
    .into_any()
}

#[component]
fn NodeShares(rows: Vec<BreakdownRow>) -> impl IntoView {
    let total_cost = rows.iter().map(|r| r.cost_usd).sum::<f64>().max(f64::MIN_POSITIVE);
    let total_time = rows.iter().filter_map(|r| r.node_seconds).sum::<f64>().max(f64::MIN_POSITIVE);
    let share = |part: f64, whole: f64| format!("width: {:.1}%", part / whole * 100.0);
    view! {
        <table class="shares" data-testid="nodes">
            <thead><tr><th>"Node"</th><th>"Share of time"</th><th class="num">"Mean"</th><th>"Share of cost"</th><th class="num">"Cost"</th><th class="num">"Tokens"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|row| view! {
                    <tr>
                        <td class="mono">{row.key.clone()}</td>
                        <td><div class="bar"><span style=share(row.node_seconds.unwrap_or(0.0), total_time)></span></div></td>
                        <td class="num">{format::duration(row.mean_node_seconds)}</td>
                        <td><div class="bar cost"><span style=share(row.cost_usd, total_cost)></span></div></td>
                        <td class="num">{format::cost(Some(row.cost_usd))}</td>
                        <td class="num">{format::tokens(Some(row.tokens))}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// A number field's value: `None` when empty, an error when not a number. (Read as
/// JSON: the app already carries serde_json's number parser, not core's.)
fn parsed<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|_| format!("{field} must be a number"))
}

#[component]
fn Budgets(budgets: Vec<Budget>, reload: merge::Reload) -> impl IntoView {
    let notices = use_notices();
    let operate = can(Permission::Operate);
    let fields: [RwSignal<String>; 5] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let [workflow, daily, monthly, run_usd, run_tokens] = fields;
    let save = Action::new_local(move |_: &()| async move {
        let limits = (|| {
            Ok::<_, String>(BudgetLimits {
                daily_usd: parsed("Per day", &daily.get_untracked())?,
                monthly_usd: parsed("Per month", &monthly.get_untracked())?,
                run_max_usd: parsed("Per run", &run_usd.get_untracked())?,
                run_max_tokens: parsed("Tokens per run", &run_tokens.get_untracked())?,
            })
        })();
        let name = workflow.get_untracked().trim().to_owned();
        let result = match limits {
            Ok(limits) => api::set_budget(&name, &limits).await.map_err(|e| e.message),
            Err(message) => Err(message),
        };
        match result {
            Ok(_) => {
                notices.say(Tone::Success, format!("Budget of {name} saved"));
                reload.run();
            }
            Err(message) => notices.say(Tone::Error, format!("Could not save the budget: {message}")),
        }
    });
    let remove = Action::new_local(move |name: &String| {
        let name = name.clone();
        async move {
            match api::delete_budget(&name).await {
                Ok(()) => reload.run(),
                Err(error) => notices.say(Tone::Error, format!("Could not remove the budget: {error}")),
            }
        }
    });
    let edit = move |b: &Budget| {
        let text = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        workflow.set(b.workflow_name.clone());
        daily.set(text(b.limits.daily_usd));
        monthly.set(text(b.limits.monthly_usd));
        run_usd.set(text(b.limits.run_max_usd));
        run_tokens.set(b.limits.run_max_tokens.map(|v| v.to_string()).unwrap_or_default());
    };
    let cap = |v: Option<f64>| v.map_or("—".to_owned(), |v| format::cost(Some(v)));
    view! {
        <section class="panel" aria-labelledby="budgets">
            <h2 id="budgets">"Budgets"</h2>
            <p class="muted small">"A run over its cap, or a workflow over its daily or monthly cap, is cancelled at its next node report; a workflow at its cap starts no new run. Days and months are UTC."</p>
            {if budgets.is_empty() {
                view! { <Empty text="No budgets yet." /> }.into_any()
            } else {
                view! {
                    <div class="table-wrap"><table data-testid="budgets">
                        <thead><tr><th>"Workflow"</th><th class="num">"Today"</th><th class="num">"Per day"</th><th class="num">"This month"</th>
                            <th class="num">"Per month"</th><th class="num">"Per run"</th><th class="num">"Tokens / run"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {budgets.into_iter().map(|b| {
                                let (name, shown) = (b.workflow_name.clone(), b.clone());
                                let state = match b.state { BudgetState::Ok => "ok", BudgetState::Warning => "warning", BudgetState::Exceeded => "exceeded" };
                                view! {
                                    <tr>
                                        <td><a href=api::pages::runs_of(&b.workflow_name)>{b.workflow_name.clone()}</a></td>
                                        <td class="num">{format::cost(Some(b.spent_today_usd))}</td>
                                        <td class="num">{cap(b.limits.daily_usd)}</td>
                                        <td class="num">{format::cost(Some(b.spent_month_usd))}</td>
                                        <td class="num">{cap(b.limits.monthly_usd)}</td>
                                        <td class="num">{cap(b.limits.run_max_usd)}</td>
                                        <td class="num">{format::tokens(b.limits.run_max_tokens)}</td>
                                        <td><span class=format!("badge budget-{state}")>{state}</span></td>
                                        <td class="row-actions">{operate.then(|| view! {
                                            <button class="small secondary" on:click=move |_| edit(&shown)>"Edit"</button>
                                            <button class="small danger" on:click=move |_| {
                                                if confirmed(&format!("Remove the budget of {name}?")) { remove.dispatch(name.clone()); }
                                            }>"Remove"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
            {operate.then(|| view! {
                <form class="filters budget-form" data-testid="budget-form" on:submit=move |ev| { ev.prevent_default(); save.dispatch(()); }>
                    <label class="grow">"Workflow"<input required bind:value=workflow placeholder="exact name" /></label>
                    <label>"Per day ($)"<input inputmode="decimal" bind:value=daily /></label>
                    <label>"Per month ($)"<input inputmode="decimal" bind:value=monthly /></label>
                    <label>"Per run ($)"<input inputmode="decimal" bind:value=run_usd /></label>
                    <label>"Tokens per run"<input inputmode="numeric" bind:value=run_tokens /></label>
                    <button type="submit" disabled=save.pending()>"Save budget"</button>
                </form>
            })}
        </section>
    }
}

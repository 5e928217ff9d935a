//! What runs did and cost over time: charts by workflow, agent or model, a sortable
//! breakdown, one workflow's nodes, and budgets. Live: finished runs reload the charts,
//! at most once per `RELOAD_EVERY`.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::{AnalyticsQuery, Breakdown, BreakdownRow, Budget, GroupBy, Metric, Permission, Range, Series};
use std::time::Duration;

mod budgets;
mod webhooks;

use crate::components::chart::{key_label, Chart, Shape};
use crate::components::{Empty, Failure, Loading};
use crate::format::{self, value};
use crate::{api, can, live, merge};
use budgets::{BudgetWarnings, Budgets};
use webhooks::Webhooks;

const RELOAD_EVERY: Duration = Duration::from_secs(2);
const RANGES: [(Range, &str); 3] = [(Range::Day, "24 hours"), (Range::Week, "7 days"), (Range::Month, "30 days")];

/// Everything the page shows, loaded together.
#[derive(Debug, Clone)]
struct Board {
    runs: Series,
    outcomes: Series,
    cost: Series,
    tokens: Series,
    p50: Series,
    p95: Series,
    breakdown: Breakdown,
    budgets: Vec<Budget>,
}

/// The window the page shows: a preset back from now, or whole UTC days.
#[derive(Debug, Clone, PartialEq)]
enum Window {
    Last(Range),
    Days { from: String, to: String },
}

impl Window {
    /// `from` and `to` are `YYYY-MM-DD`; `to` is included.
    fn bounds(from: &str, to: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let day = |d: &str| DateTime::parse_from_rfc3339(&format!("{d}T00:00:00Z")).ok().map(|t| t.to_utc());
        Some((day(from)?, day(to)? + chrono::TimeDelta::days(1)))
    }

    fn query(&self, metric: Metric, group: GroupBy) -> AnalyticsQuery {
        let mut query = AnalyticsQuery { metric: Some(metric), group_by: Some(group), ..Default::default() };
        match self {
            Window::Last(range) => query.range = Some(*range),
            Window::Days { from, to } => {
                let bounds = Window::bounds(from, to);
                query.since = bounds.map(|b| b.0);
                query.until = bounds.map(|b| b.1);
            }
        }
        query
    }
}

/// The board's parts, asked for at once.
async fn load(window: Window, group: GroupBy) -> api::ApiResult<Board> {
    use futures_util::future::{try_join3, try_join_all};
    // Run counts and durations belong to runs, which have no model.
    let by_runs = if group == GroupBy::Model { GroupBy::None } else { group };
    let none = GroupBy::None;
    let asked: Vec<_> = [
        (Metric::Runs, by_runs),
        (Metric::Completed, none),
        (Metric::Failures, none),
        (Metric::Cancelled, none),
        (Metric::Cost, group),
        (Metric::Tokens, group),
        (Metric::DurationP50, none),
        (Metric::DurationP95, none),
    ]
    .into_iter()
    .map(|(metric, group)| window.query(metric, group))
    .collect();
    let breakdown = window.query(Metric::Runs, group);
    let (series, breakdown, budgets) =
        try_join3(try_join_all(asked.iter().map(api::series)), api::breakdown(&breakdown), api::budgets()).await?;
    let [runs, completed, failed, cancelled, cost, tokens, p50, p95]: [Series; 8] = series
        .try_into()
        .map_err(|_| api::ApiError { status: None, message: "the server sent too few series".to_owned() })?;
    Ok(Board {
        runs,
        outcomes: merged(&[("completed", completed), ("failed", failed), ("cancelled", cancelled)]),
        cost,
        tokens,
        p50,
        p95,
        breakdown,
        budgets,
    })
}

/// Ungrouped series of one window as the lines of one chart, named.
fn merged(parts: &[(&str, Series)]) -> Series {
    let mut all = parts[0].1.clone();
    all.lines = parts
        .iter()
        .filter_map(|(key, s)| {
            s.lines.first().map(|line| shared::SeriesLine { key: (*key).to_owned(), ..line.clone() })
        })
        .collect();
    all
}

#[component]
pub fn Analytics() -> impl IntoView {
    let params = use_query_map();
    let window = Memo::new(move |_| {
        params.with(|p| match (p.get("from"), p.get("to")) {
            (Some(from), Some(to)) if Window::bounds(&from, &to).is_some() => Window::Days { from, to },
            // A range the charts cannot draw (`all`) or do not know opens on 7 days.
            _ => Window::Last(
                p.get("range").and_then(|r| r.parse().ok()).filter(|r| *r != Range::All).unwrap_or(Range::Week),
            ),
        })
    });
    let group = Memo::new(move |_| {
        params.with(|p| p.get("group_by")).and_then(|g| g.parse().ok()).unwrap_or(GroupBy::Workflow)
    });
    let navigate = use_navigate();
    // The window and grouping live in the URL: links and reloads keep them.
    let choose = move |window: Window, group: GroupBy| {
        let window = match window {
            Window::Last(range) => format!("range={range}"),
            Window::Days { from, to } => format!("from={from}&to={to}"),
        };
        navigate(&format!("{}?{window}&group_by={}", api::pages::ANALYTICS, group.as_str()), Default::default());
    };
    let board = RwSignal::new(None::<Result<Board, String>>);
    let reload = merge::follow(
        live::global(),
        move || load(window.get_untracked(), group.get_untracked()),
        move |answer| board.set(Some(answer.map_err(|e| e.message))),
        merge::reload_when_runs_finish(RELOAD_EVERY),
    );
    Effect::watch(move || (window.get(), group.get()), move |_, _, _| reload.run(), false);
    let retry = move || reload.run();
    let (from, to) = match window.get_untracked() {
        Window::Days { from, to } => (RwSignal::new(from), RwSignal::new(to)),
        Window::Last(_) => (RwSignal::new(String::new()), RwSignal::new(String::new())),
    };
    let (choose_range, choose_days) = (choose.clone(), choose.clone());
    view! {
        <section class="page">
            <div class="page-head">
                <h1>"Analytics"</h1>
                <div class="filters" role="group" aria-label="Window and grouping">
                    <div class="segmented" role="group" aria-label="Window">
                        {RANGES.into_iter().map(|(value, text)| {
                            let choose = choose_range.clone();
                            view! {
                                <button class="toggle" aria-pressed=move || (window.get() == Window::Last(value)).to_string()
                                    on:click=move |_| choose(Window::Last(value), group.get_untracked())>{text}</button>
                            }
                        }).collect_view()}
                    </div>
                    <form class="days" on:submit=move |ev| {
                        ev.prevent_default();
                        choose_days(Window::Days { from: from.get_untracked(), to: to.get_untracked() }, group.get_untracked());
                    }>
                        <label>"From (UTC)"<input type="date" data-testid="from" required bind:value=from /></label>
                        <label>"To"<input type="date" data-testid="to" required bind:value=to /></label>
                        <button class="toggle" type="submit">"Show"</button>
                    </form>
                    <label>"Group by"
                        <select data-testid="group-by" prop:value=move || group.get().as_str()
                            on:change=move |ev| {
                                let group = event_target_value(&ev).parse().unwrap_or(GroupBy::Workflow);
                                choose(window.get_untracked(), group);
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
    let durations = merged(&[("p50", board.p50), ("p95", board.p95)]);
    let workflows: Vec<String> = match group {
        GroupBy::Workflow => board.breakdown.rows.iter().map(|r| r.key.clone()).collect(),
        _ => Vec::new(),
    };
    let budgets = board.budgets.clone();
    view! {
        <BudgetWarnings budgets=budgets.clone() />
        <div class="charts" data-testid="charts">
            <section class="panel"><h2>"Runs started"</h2>
                <Chart series=board.runs shape=Shape::Bars value=value::compact label="runs per bucket" /></section>
            <section class="panel"><h2>"Outcomes"</h2>
                <Chart series=board.outcomes shape=Shape::Bars value=value::compact label="finished runs per bucket" /></section>
            <section class="panel"><h2>"Cost"</h2>
                <Chart series=board.cost shape=Shape::Bars value=value::usd label="USD per bucket" /></section>
            <section class="panel"><h2>"Tokens"</h2>
                <Chart series=board.tokens shape=Shape::Bars value=value::compact label="tokens per bucket" /></section>
            <section class="panel"><h2>"Duration"</h2>
                <Chart series=durations shape=Shape::Lines value=value::seconds label="p50 and p95 of finished runs" /></section>
        </div>
        <BreakdownTable breakdown=board.breakdown />
        <Nodes workflows />
        <Budgets budgets reload />
        {can(Permission::Administer).then(|| view! { <Webhooks /> })}
    }
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
                <table class="stack" data-testid="breakdown">
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
                                <td data-label=heading>{match group_by {
                                    GroupBy::Workflow => view! { <a href=api::pages::runs_of(&row.key)>{row.key.clone()}</a> }.into_any(),
                                    _ => view! { <span class="mono">{key_label(&row.key)}</span> }.into_any(),
                                }}</td>
                                {by_runs.then(|| view! {
                                    <td class="num" data-label="Runs">{format::tokens(row.runs)}</td>
                                    <td class="num" data-label="Failure rate">{row.failure_rate.map_or("—".to_owned(), |r| format!("{:.1} %", r * 100.0))}</td>
                                })}
                                <td class="num" data-label="Cost">{format::cost(Some(row.cost_usd))}</td>
                                <td class="num" data-label="Tokens">{format::tokens(Some(row.tokens))}</td>
                                {by_runs.then(|| view! {
                                    <td class="num" data-label="p50">{format::duration(row.duration_p50)}</td>
                                    <td class="num" data-label="p95">{format::duration(row.duration_p95)}</td>
                                    <td class="num" data-label="Cost / run">{format::cost(row.cost_per_run)}</td>
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
                        group_by: Some(GroupBy::Node),
                        workflow: Some(workflow),
                        range: Some(Range::Month),
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
        <div class="table-wrap"><table class="shares stack" data-testid="nodes">
            <thead><tr><th>"Node"</th><th>"Share of time"</th><th class="num">"Mean"</th><th>"Share of cost"</th><th class="num">"Cost"</th><th class="num">"Tokens"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|row| view! {
                    <tr>
                        <td class="mono" data-label="Node">{row.key.clone()}</td>
                        <td data-label="Share of time"><div class="bar"><span style=share(row.node_seconds.unwrap_or(0.0), total_time)></span></div></td>
                        <td class="num" data-label="Mean">{format::duration(row.mean_node_seconds)}</td>
                        <td data-label="Share of cost"><div class="bar cost"><span style=share(row.cost_usd, total_cost)></span></div></td>
                        <td class="num" data-label="Cost">{format::cost(Some(row.cost_usd))}</td>
                        <td class="num" data-label="Tokens">{format::tokens(Some(row.tokens))}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

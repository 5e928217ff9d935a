//! Two runs side by side (`/workflows/compare?a=ID&b=ID`): their totals with the
//! change from A to B, their nodes aligned in run order, and their inputs and outputs
//! field by field, differences marked. Without two runs to compare, a picker.

use futures_util::future::try_join;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use serde_json::Value;
use shared::{Event, NodeStateData, RunDetail, RunQuery};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::components::{Loading, StatusBadge, Time};
use crate::format::{self, value};
use crate::{api, live, merge};

/// Both runs, or why not (`None`: not two ids to look up).
async fn load(a: String, b: String) -> Option<Result<(RunDetail, RunDetail), String>> {
    if a.trim().is_empty() || b.trim().is_empty() {
        return None;
    }
    let answer = try_join(async { api::run(&a).await.map_err(|e| format!("Run A: {e}")) }, async {
        api::run(&b).await.map_err(|e| format!("Run B: {e}"))
    });
    Some(answer.await)
}

#[component]
pub fn Compare() -> impl IntoView {
    let params = use_query_map();
    let ids = Memo::new(move |_| params.with(|p| (p.get("a").unwrap_or_default(), p.get("b").unwrap_or_default())));
    // Either run still going changes as it goes: both are read again, at most once a second.
    let runs = RwSignal::new(None);
    let later = merge::throttled(Duration::from_secs(1));
    let reload = merge::follow(
        live::global(),
        move || {
            let (a, b) = ids.get_untracked();
            load(a, b)
        },
        move |answer| runs.set(Some(answer)),
        move |event, reload| {
            if let Event::WorkflowUpdate(run) = event {
                if ids.with_untracked(|(a, b)| run.id.eq_ignore_ascii_case(a) || run.id.eq_ignore_ascii_case(b)) {
                    later(reload);
                }
            }
        },
    );
    Effect::watch(move || ids.get(), move |_, _, _| reload.run(), false);
    view! {
        <section class="page">
            <h1>"Compare runs"</h1>
            {move || {
                let (a, b) = ids.get();
                match runs.get() {
                    None => view! { <Loading /> }.into_any(),
                    Some(None) => view! { <Pick a b /> }.into_any(),
                    Some(Some(Err(message))) => view! {
                        <p class="error-box" role="alert" data-testid="compare-error">{message}</p>
                        <Pick a b />
                    }.into_any(),
                    Some(Some(Ok((a, b)))) => view! { <Compared a b /> }.into_any(),
                }
            }}
        </section>
    }
}

/// Two run ids to compare: typed, or taken from the newest runs.
#[component]
fn Pick(a: String, b: String) -> impl IntoView {
    let (a, b) = (RwSignal::new(a), RwSignal::new(b));
    let recent = LocalResource::new(|| async { api::runs(&RunQuery { limit: Some(20), ..Default::default() }).await });
    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let target = api::pages::compare(a.get_untracked().trim(), b.get_untracked().trim());
        navigate(&target, NavigateOptions::default());
    };
    let uuid = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    view! {
        <p class="muted">"Pick two runs: paste their ids, or take them from the newest runs below. "
            "On the runs page, tick two runs and press Compare."</p>
        <form class="filters" data-testid="compare-pick" on:submit=submit>
            <label class="grow">"Run A"<input required pattern=uuid placeholder="run id" data-testid="compare-a" bind:value=a /></label>
            <label class="grow">"Run B"<input required pattern=uuid placeholder="run id" data-testid="compare-b" bind:value=b /></label>
            <button type="submit">"Compare"</button>
        </form>
        {move || match recent.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(error)) => view! { <p class="error-box">{error.message}</p> }.into_any(),
            Some(Ok(page)) => view! {
                <div class="table-wrap"><table class="stack" data-testid="compare-recent">
                    <thead><tr><th>"Run"</th><th>"Workflow"</th><th>"Status"</th><th>"Started"</th><th><span class="visually-hidden">"Take"</span></th></tr></thead>
                    <tbody>{page.runs.into_iter().map(|run| {
                        let (as_a, as_b) = (run.id.clone(), run.id.clone());
                        view! {
                            <tr data-run-id=run.id.clone()>
                                <td class="mono" data-label="Run" title=run.id.clone()>{format::short_id(&run.id).to_owned()}</td>
                                <td data-label="Workflow">{run.workflow_name.clone()}</td>
                                <td data-label="Status"><StatusBadge status=run.status /></td>
                                <td data-label="Started"><Time at=run.started_at /></td>
                                <td class="row-actions">
                                    <button type="button" class="small secondary" on:click=move |_| a.set(as_a.clone())>"As A"</button>
                                    <button type="button" class="small secondary" on:click=move |_| b.set(as_b.clone())>"As B"</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table></div>
            }.into_any(),
        }}
    }
}

/// `b - a`, signed, as `show` writes amounts; empty when either is missing.
fn delta<T: Into<f64> + Copy>(a: Option<T>, b: Option<T>, show: impl Fn(f64) -> String) -> String {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d = b.into() - a.into();
            match d {
                d if d > 0.0 => format!("+{}", show(d)),
                d if d < 0.0 => format!("−{}", show(-d)),
                _ => "=".to_owned(),
            }
        }
        _ => String::new(),
    }
}

/// `tokens` as f64, for deltas.
fn tokens(t: Option<i64>) -> Option<f64> {
    t.map(|t| t as f64)
}

#[component]
fn Compared(a: RunDetail, b: RunDetail) -> impl IntoView {
    let link = |r: &RunDetail| {
        view! { <a class="mono" href=api::pages::workflow(&r.run.id)>{format::short_id(&r.run.id).to_owned()}</a> }
    };
    let (ra, rb) = (&a.run, &b.run);
    let rows = vec![
        (
            "Duration",
            format::duration(ra.duration_seconds),
            format::duration(rb.duration_seconds),
            delta(ra.duration_seconds, rb.duration_seconds, value::seconds),
        ),
        (
            "Tokens",
            format::tokens(ra.total_tokens),
            format::tokens(rb.total_tokens),
            delta(tokens(ra.total_tokens), tokens(rb.total_tokens), value::count),
        ),
        (
            "Cost",
            format::cost(ra.total_cost_usd),
            format::cost(rb.total_cost_usd),
            delta(ra.total_cost_usd, rb.total_cost_usd, value::usd),
        ),
    ];
    view! {
        <div class="table-wrap"><table class="compare" data-testid="compare-totals">
            <thead><tr><th></th><th>"A " {link(&a)}</th><th>"B " {link(&b)}</th><th class="num">"B − A"</th></tr></thead>
            <tbody>
                <tr><td>"Workflow"</td><td>{ra.workflow_name.clone()}</td><td>{rb.workflow_name.clone()}</td><td></td></tr>
                <tr><td>"Status"</td><td><StatusBadge status=ra.status /></td><td><StatusBadge status=rb.status /></td><td></td></tr>
                {rows.into_iter().map(|(what, x, y, d)| view! {
                    <tr><td>{what}</td><td class="num">{x}</td><td class="num">{y}</td><td class="num delta">{d}</td></tr>
                }).collect_view()}
            </tbody>
        </table></div>
        <Nodes a=last_reports(&a) b=last_reports(&b) />
        <Fields title="Inputs" a=a.inputs b=b.inputs />
        <Fields title="Outputs" a=a.outputs b=b.outputs />
    }
}

/// Each node's last report, in the order the nodes first reported.
fn last_reports(run: &RunDetail) -> Vec<(String, NodeStateData)> {
    let mut reports: Vec<(String, NodeStateData)> = Vec::new();
    for state in &run.states {
        match reports.iter_mut().find(|(id, _)| *id == state.node_id) {
            Some((_, last)) => *last = state.state_data.clone(),
            None => reports.push((state.node_id.clone(), state.state_data.clone())),
        }
    }
    reports
}

/// The nodes of both runs, aligned by id, in A's order (B's other nodes after).
#[component]
fn Nodes(a: Vec<(String, NodeStateData)>, b: Vec<(String, NodeStateData)>) -> impl IntoView {
    let mut ids: Vec<&String> = a.iter().map(|(id, _)| id).collect();
    ids.extend(b.iter().map(|(id, _)| id).filter(|id| !a.iter().any(|(known, _)| known == *id)));
    let find = |all: &[(String, NodeStateData)], id: &str| all.iter().find(|(n, _)| n == id).map(|(_, s)| s.clone());
    let rows: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (x, y) = (find(&a, id), find(&b, id));
            let (x, y) = (x.as_ref(), y.as_ref());
            let status = |s: Option<&NodeStateData>| s.and_then(|s| s.status.clone()).unwrap_or_else(|| "—".to_owned());
            let model = |s: Option<&NodeStateData>| s.and_then(|s| s.model.clone()).unwrap_or_else(|| "—".to_owned());
            let duration = |s: Option<&NodeStateData>| s.and_then(|s| s.duration_seconds);
            let spent = |s: Option<&NodeStateData>| s.and_then(|s| s.cost_usd);
            let used = |s: Option<&NodeStateData>| tokens(s.and_then(NodeStateData::tokens));
            let differs = status(x) != status(y) || model(x) != model(y);
            view! {
                <tr class:differs=differs>
                    <td class="mono" data-label="Node">{id.clone()}</td>
                    <td data-label="Status">{status(x)} " → " {status(y)}</td>
                    <td data-label="Model">{model(x)} " → " {model(y)}</td>
                    <td class="num" data-label="Duration">{format::duration(duration(x))} " → " {format::duration(duration(y))}</td>
                    <td class="num delta" data-label="Δ duration">{delta(duration(x), duration(y), value::seconds)}</td>
                    <td class="num" data-label="Tokens">{format::tokens(x.and_then(NodeStateData::tokens))} " → " {format::tokens(y.and_then(NodeStateData::tokens))}</td>
                    <td class="num delta" data-label="Δ tokens">{delta(used(x), used(y), value::count)}</td>
                    <td class="num" data-label="Cost">{format::cost(spent(x))} " → " {format::cost(spent(y))}</td>
                    <td class="num delta" data-label="Δ cost">{delta(spent(x), spent(y), value::usd)}</td>
                </tr>
            }
        })
        .collect();
    view! {
        <section class="panel">
            <h2>"Nodes"</h2>
            <div class="table-wrap"><table class="compare stack" data-testid="compare-nodes">
                <thead><tr><th>"Node"</th><th>"Status"</th><th>"Model"</th><th class="num">"Duration"</th><th class="num">"Δ"</th>
                    <th class="num">"Tokens"</th><th class="num">"Δ"</th><th class="num">"Cost"</th><th class="num">"Δ"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        </section>
    }
}

/// A JSON value's leaves by path (`outputs.article`, `items[0]`), as text.
fn leaves(value: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                leaves(v, if path.is_empty() { key.clone() } else { format!("{path}.{key}") }, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{path}[{i}]"), out);
            }
        }
        leaf => {
            out.insert(path, leaf.to_string());
        }
    }
}

#[component]
fn Fields(title: &'static str, a: Option<Value>, b: Option<Value>) -> impl IntoView {
    let flat = |v: &Option<Value>| {
        let mut out = BTreeMap::new();
        if let Some(v) = v {
            leaves(v, String::new(), &mut out);
        }
        out
    };
    let (a, b) = (flat(&a), flat(&b));
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    let changed = paths.iter().filter(|p| a.get(**p) != b.get(**p)).count();
    let rows: Vec<_> = paths
        .into_iter()
        .map(|path| {
            let (x, y) = (a.get(path).cloned(), b.get(path).cloned());
            let differs = x != y;
            view! {
                <tr class:differs=differs>
                    <td class="mono">{if path.is_empty() { "(value)".to_owned() } else { path.clone() }}</td>
                    <td class="mono">{x.unwrap_or_else(|| "—".to_owned())}</td>
                    <td class="mono">{y.unwrap_or_else(|| "—".to_owned())}</td>
                </tr>
            }
        })
        .collect();
    view! {
        <section class="panel">
            <h2>{title} <span class="muted small">{format!("{changed} differ")}</span></h2>
            <div class="table-wrap"><table class="compare" data-testid=format!("compare-{}", title.to_lowercase())>
                <thead><tr><th>"Field"</th><th>"A"</th><th>"B"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        </section>
    }
}

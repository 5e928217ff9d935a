//! Two runs side by side (`/workflows/compare?a=ID&b=ID`): their totals with the
//! change from A to B, their nodes aligned by id, and their inputs and outputs field by
//! field, differences marked.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::Value;
use shared::{NodeStateData, RunDetail};
use std::collections::BTreeMap;

use crate::components::{Failure, Loading, StatusBadge};
use crate::{api, format};

async fn load(a: String, b: String) -> Result<(RunDetail, RunDetail), String> {
    let a = api::run(&a).await.map_err(|e| format!("run A: {e}"))?;
    let b = api::run(&b).await.map_err(|e| format!("run B: {e}"))?;
    Ok((a, b))
}

#[component]
pub fn Compare() -> impl IntoView {
    let params = use_query_map();
    let ids = move || params.with(|p| (p.get("a").unwrap_or_default(), p.get("b").unwrap_or_default()));
    let runs = LocalResource::new(move || {
        let (a, b) = ids();
        load(a, b)
    });
    view! {
        <section class="page">
            <h1>"Compare runs"</h1>
            {move || match runs.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry=move || runs.refetch() /> }.into_any(),
                Some(Ok((a, b))) => view! { <Compared a b /> }.into_any(),
            }}
        </section>
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

fn money(v: f64) -> String {
    format::cost(Some(v))
}

fn seconds(v: f64) -> String {
    format::duration(Some(v))
}

fn count(v: f64) -> String {
    format::tokens(Some(v.round() as i64))
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
            delta(ra.duration_seconds, rb.duration_seconds, seconds),
        ),
        (
            "Tokens",
            format::tokens(ra.total_tokens),
            format::tokens(rb.total_tokens),
            delta(tokens(ra.total_tokens), tokens(rb.total_tokens), count),
        ),
        (
            "Cost",
            format::cost(ra.total_cost_usd),
            format::cost(rb.total_cost_usd),
            delta(ra.total_cost_usd, rb.total_cost_usd, money),
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
        <Nodes a=a.states.iter().map(|s| (s.node_id.clone(), s.state_data.clone())).collect()
            b=b.states.iter().map(|s| (s.node_id.clone(), s.state_data.clone())).collect() />
        <Fields title="Inputs" a=a.inputs b=b.inputs />
        <Fields title="Outputs" a=a.outputs b=b.outputs />
    }
}

/// Each node's last report, aligned by node id.
#[component]
fn Nodes(a: BTreeMap<String, NodeStateData>, b: BTreeMap<String, NodeStateData>) -> impl IntoView {
    let mut ids: Vec<&String> = a.keys().chain(b.keys()).collect();
    ids.sort();
    ids.dedup();
    let rows: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (x, y) = (a.get(id), b.get(id));
            let status = |s: Option<&NodeStateData>| s.and_then(|s| s.status.clone()).unwrap_or_else(|| "—".to_owned());
            let model = |s: Option<&NodeStateData>| s.and_then(|s| s.model.clone()).unwrap_or_else(|| "—".to_owned());
            let duration = |s: Option<&NodeStateData>| s.and_then(|s| s.duration_seconds);
            let spent = |s: Option<&NodeStateData>| s.and_then(|s| s.cost_usd);
            let used = |s: Option<&NodeStateData>| tokens(s.and_then(NodeStateData::tokens));
            let differs = status(x) != status(y) || model(x) != model(y);
            view! {
                <tr class:differs=differs>
                    <td class="mono">{id.clone()}</td>
                    <td>{status(x)} " → " {status(y)}</td>
                    <td>{model(x)} " → " {model(y)}</td>
                    <td class="num">{format::duration(duration(x))} " → " {format::duration(duration(y))}</td>
                    <td class="num delta">{delta(duration(x), duration(y), seconds)}</td>
                    <td class="num">{format::tokens(x.and_then(NodeStateData::tokens))} " → " {format::tokens(y.and_then(NodeStateData::tokens))}</td>
                    <td class="num delta">{delta(used(x), used(y), count)}</td>
                    <td class="num">{format::cost(spent(x))} " → " {format::cost(spent(y))}</td>
                    <td class="num delta">{delta(spent(x), spent(y), money)}</td>
                </tr>
            }
        })
        .collect();
    view! {
        <section class="panel">
            <h2>"Nodes"</h2>
            <div class="table-wrap"><table class="compare" data-testid="compare-nodes">
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

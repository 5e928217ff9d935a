//! Small SVG charts of analytics series, drawn here rather than by a chart crate: the
//! few shapes the dashboard needs (stacked bars, lines, a sparkline) cost a few KB,
//! where the crates measured bring their own rendering stack. Hovering a bucket shows
//! its exact values behind the marks (which stay in sight); the legend hides and shows
//! lines. A series keeps one colour wherever it is drawn (its name picks it), and a
//! series of a status has the status's colour.

use chrono::{DateTime, Local, Utc};
use leptos::prelude::*;
use shared::{Bucket, Series};

use super::clock::Clock;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
/// Series colours are this many CSS classes (`s0`…).
const COLOURS: usize = 8;

/// The colour class of each of `keys`, in order: a status's own (`st-failed`), else one
/// its name picks (the same in every chart), the next free one where two names of one
/// chart pick the same.
pub fn colour_classes<'k>(keys: impl Iterator<Item = &'k str>) -> Vec<String> {
    let mut taken = [false; COLOURS];
    keys.map(|key| {
        if shared::RunStatus::ALL.iter().any(|status| status.as_str() == key) {
            return format!("st-{key}");
        }
        // FNV-1a: a stable hash, the same in every build and browser.
        let hash = key.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        let preferred = hash as usize % COLOURS;
        let free = (0..COLOURS).map(|step| (preferred + step) % COLOURS).find(|n| !taken[*n]).unwrap_or(preferred);
        taken[free] = true;
        format!("s{free}")
    })
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A stack per bucket, a segment per line.
    Bars,
    Lines,
}

/// What one bucket reads: its time, in UTC or local time.
fn bucket_label(at: DateTime<Utc>, bucket: Bucket, utc: bool) -> String {
    let pattern = match bucket {
        Bucket::Hour => "%b %d %H:%M",
        Bucket::Day => "%b %d",
    };
    if utc {
        at.format(pattern).to_string()
    } else {
        at.with_timezone(&Local).format(pattern).to_string()
    }
}

/// The key as people read it: `""` is what no agent or model was named for.
pub fn key_label(key: &str) -> String {
    if key.is_empty() {
        "(none)".to_owned()
    } else {
        key.to_owned()
    }
}

#[component]
pub fn Chart(
    #[prop(into)] series: Signal<Series>,
    shape: Shape,
    /// How a value reads (`$0.12`, `1.2k`, `3.4 s`).
    value: fn(f64) -> String,
    #[prop(into)] label: String,
) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let hidden = RwSignal::new(Vec::<String>::new());
    let hovered = RwSignal::new(None::<usize>);
    let shown = move |key: &str| !hidden.with(|h| h.iter().any(|k| k == key));
    // The highest point drawn: the tallest stack, or the highest value.
    let top = move || {
        series.with(|s| {
            let visible = || s.lines.iter().filter(|l| shown(&l.key));
            let top = (0..s.buckets.len())
                .map(|i| {
                    let at = visible().map(move |l| l.values[i].unwrap_or(0.0));
                    match shape {
                        Shape::Bars => at.sum::<f64>(),
                        Shape::Lines => at.fold(0.0, f64::max),
                    }
                })
                .fold(0.0, f64::max);
            if top > 0.0 {
                top
            } else {
                1.0
            }
        })
    };
    let colours = Memo::new(move |_| series.with(|s| colour_classes(s.lines.iter().map(|l| l.key.as_str()))));
    let marks = move || {
        let top = top();
        let colours = colours.get();
        series.with(|s| {
            let step = WIDTH / s.buckets.len().max(1) as f64;
            let y = |v: f64| HEIGHT - v / top * HEIGHT;
            let mut base = vec![0.0; s.buckets.len()];
            s.lines
                .iter()
                .enumerate()
                .filter(|(_, line)| shown(&line.key))
                .map(|(n, line)| {
                    let class = colours[n].clone();
                    match shape {
                        Shape::Bars => {
                            let bars = line.values.iter().enumerate().filter_map(|(i, v)| {
                                let v = v.filter(|v| *v > 0.0)?;
                                let (from, to) = (base[i], base[i] + v);
                                base[i] = to;
                                Some(view! {
                                    <rect x=format!("{:.2}", i as f64 * step + step * 0.1) width=format!("{:.2}", step * 0.8)
                                        y=format!("{:.2}", y(to)) height=format!("{:.2}", y(from) - y(to)) />
                                })
                            }).collect_view();
                            view! { <g class=class>{bars}</g> }.into_any()
                        }
                        Shape::Lines => {
                            let points: Vec<String> = line
                                .values
                                .iter()
                                .enumerate()
                                .filter_map(|(i, v)| v.map(|v| format!("{:.2},{:.2}", i as f64 * step + step / 2.0, y(v))))
                                .collect();
                            // Each value a dot too (a zero-length line with round caps stays
                            // round however the chart is stretched): one value is no line.
                            let dots = points
                                .iter()
                                .map(|point| view! { <polyline class="dot" points=format!("{point} {point}") /> })
                                .collect_view();
                            view! { <g class=class><polyline points=points.join(" ") />{dots}</g> }.into_any()
                        }
                    }
                })
                .collect_view()
        })
    };
    // One invisible column per bucket takes the pointer.
    let columns = move || {
        series.with(|s| {
            let step = WIDTH / s.buckets.len().max(1) as f64;
            (0..s.buckets.len())
                .map(|i| view! {
                    <rect class="column" x=format!("{:.2}", i as f64 * step) width=format!("{:.2}", step) y="0" height=HEIGHT
                        on:mouseenter=move |_| hovered.set(Some(i)) />
                })
                .collect_view()
        })
    };
    let readout = move || {
        let utc = clock.utc.get();
        series.with(|s| {
            let Some(i) = hovered.get().filter(|i| *i < s.buckets.len()) else {
                let totals = s.lines.iter().filter(|l| shown(&l.key)).filter_map(|l| l.total).collect::<Vec<_>>();
                return match shape {
                    Shape::Bars => format!("{} in all; hover a bar for its values", value(totals.iter().sum())),
                    Shape::Lines => "Hover the chart for its values".to_owned(),
                };
            };
            let values = s
                .lines
                .iter()
                .filter(|l| shown(&l.key))
                .map(|l| format!("{}: {}", key_label(&l.key), l.values[i].map_or("—".to_owned(), value)))
                .collect::<Vec<_>>()
                .join(" · ");
            format!("{} — {values}", bucket_label(s.buckets[i], s.bucket, utc))
        })
    };
    let ends = move || {
        let utc = clock.utc.get();
        series.with(|s| {
            let label = |at: Option<&DateTime<Utc>>| at.map(|at| bucket_label(*at, s.bucket, utc)).unwrap_or_default();
            (label(s.buckets.first()), label(s.buckets.last()))
        })
    };
    let legend = move || {
        let colours = colours.get();
        series.with(|s| {
            s.lines
                .iter()
                .enumerate()
                .map(|(n, line)| {
                    let key = line.key.clone();
                    let toggled = key.clone();
                    view! {
                        <button class="legend-item" aria-pressed=move || shown(&key).to_string()
                            on:click=move |_| hidden.update(|h| match h.iter().position(|k| *k == toggled) {
                                Some(at) => { h.remove(at); }
                                None => h.push(toggled.clone()),
                            })>
                            <span class=format!("swatch {}", colours[n])></span>{key_label(&line.key)}
                        </button>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <figure class="chart">
            <div class="chart-top muted"><span>{move || value(top())}</span><span>{label.clone()}</span></div>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=label.clone()
                on:mouseleave=move |_| hovered.set(None)>
                <line class="axis" x1="0" x2=WIDTH y1=HEIGHT y2=HEIGHT />
                {move || hovered.get().map(|i| {
                    let step = WIDTH / series.with(|s| s.buckets.len().max(1)) as f64;
                    view! { <rect class="hover" x=format!("{:.2}", i as f64 * step) width=format!("{:.2}", step) y="0" height=HEIGHT /> }
                })}
                {marks}
                {columns}
            </svg>
            <div class="chart-ends muted"><span>{move || ends().0}</span><span>{move || ends().1}</span></div>
            <figcaption class="readout" aria-live="polite">{readout}</figcaption>
            <div class="legend">{legend}</div>
        </figure>
    }
}

/// A tiny line of values, for summary cards.
#[component]
pub fn Sparkline(values: Vec<f64>, #[prop(into)] label: String) -> impl IntoView {
    let top = values.iter().copied().fold(0.0, f64::max);
    let top = if top > 0.0 { top } else { 1.0 };
    let step = 100.0 / (values.len().max(2) - 1) as f64;
    let points = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.2},{:.2}", i as f64 * step, 24.0 - v / top * 22.0))
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <svg class="sparkline" viewBox="0 0 100 25" preserveAspectRatio="none" role="img" aria-label=label>
            <polyline points=points />
        </svg>
    }
}

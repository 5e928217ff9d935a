//! Every run: a live table with filters (kept in the URL), sorting and keyset pages.

mod address;
mod bulk;
mod columns;
mod live_rows;
mod views;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use shared::{Budget, BudgetState, Event, Range, RunQuery, RunStatus, Statuses, WorkflowRun};

use crate::components::{
    hold, keys, use_notices, Empty, Failure, Loading, RunActions, StartRunButton, StatusBadge, Time, Tone,
};
use crate::{api, format, live, merge};
use address::{PAGE, PAGE_SIZES};
use bulk::{BulkBar, BulkJobs, Picked};
use columns::{Columns, ColumnsMenu};
use live_rows::{LiveRows, Row};
use views::ViewsMenu;

/// Where loading stands; the rows themselves live in their own signal, so a live
/// change or a reload never rebuilds the table, only the rows that differ.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Loading,
    Failed(String),
    Ready,
}

#[component]
pub fn Workflows() -> impl IntoView {
    let params = use_query_map();
    let address = Memo::new(move |_| params.with(address::read));
    let query = Memo::new(move |_| address.with(|(query, _)| query.clone()));
    let navigate = use_navigate();
    let href = |next: &RunQuery| {
        let next = RunQuery { limit: next.limit.filter(|limit| *limit != PAGE), ..next.clone() };
        format!("{}?{}", api::pages::WORKFLOWS, api::query_string(&api::run_query_pairs(&next)))
    };
    // An address with parts that cannot mean anything opens without them, and says so.
    let notices = use_notices();
    let replace = navigate.clone();
    Effect::new(move |_| {
        let ignored = address.with(|(_, ignored)| ignored.clone());
        if !ignored.is_empty() {
            notices.say(Tone::Info, format!("Ignored in the address: {}", ignored.join(", ")));
            replace(&href(&query.get_untracked()), NavigateOptions { replace: true, ..Default::default() });
        }
    });
    let go = move |change: &dyn Fn(&mut RunQuery)| {
        let mut next = query.get_untracked();
        change(&mut next);
        navigate(&href(&next), NavigateOptions::default());
    };
    let go = StoredValue::new_local(go);
    let set_filter = move |change: &dyn Fn(&mut RunQuery)| {
        go.with_value(|go| {
            go(&|q: &mut RunQuery| {
                change(q);
                q.cursor = None;
            })
        })
    };

    let phase = RwSignal::new(Phase::Loading);
    let picked = Picked::new();
    // The page holds still while the operator is at it: the pointer over the table, a
    // run picked, a menu or dialog open, the page scrolled.
    let pointer_over = RwSignal::new(false);
    let scrolled = RwSignal::new(false);
    let scrolling = window_event_listener(leptos::ev::scroll, move |_| {
        let down = window().scroll_y().unwrap_or_default() > 0.0;
        if scrolled.get_untracked() != down {
            scrolled.set(down);
        }
    });
    on_cleanup(move || scrolling.remove());
    let menus = hold::held();
    let held = Signal::derive(move || pointer_over.get() || picked.any() || menus.get() || scrolled.get());
    let limit = Memo::new(move |_| query.with(|q| q.limit.unwrap_or(PAGE) as usize));
    let live_rows = LiveRows::new(held, limit);
    let rows = live_rows.rows;
    let next: RwSignal<Option<String>> = RwSignal::new(None);
    let reload = merge::follow(
        live::global(),
        move || {
            let query = query.get_untracked();
            async move { api::runs(&query).await }
        },
        move |result| match result {
            Ok(page) => {
                live_rows.replace(page.runs);
                next.set(page.next_cursor);
                set_phase(phase, Phase::Ready);
            }
            Err(error) => set_phase(phase, Phase::Failed(error.message)),
        },
        move |event, _| {
            if let Event::WorkflowUpdate(run) = event {
                live_rows.apply(&query.get_untracked(), run);
            }
        },
    );
    let load = move || reload.run();
    // A changed filter loads again (the first run of the effect is the load above),
    // and what was picked under the old one is let go.
    Effect::new(move |first: Option<()>| {
        query.track();
        if first.is_some() {
            picked.clear();
            load();
        }
    });
    let jobs = RwSignal::new(Vec::new());
    bulk::follow_jobs(jobs, reload);
    let page_full = Signal::derive(move || {
        next.with(Option::is_some)
            && rows.with(|rows| picked.ids.with(|ids| !rows.is_empty() && rows.iter().all(|r| ids.contains(&r.id))))
    });
    let columns = Columns::load();

    // Workflows at 80 % of a budget or more are marked on their rows.
    let budgets = RwSignal::new(Vec::<Budget>::new());
    merge::follow(
        live::global(),
        api::budgets,
        move |answer| {
            if let Ok(found) = answer {
                budgets.set(found.into_iter().filter(|b| b.state != BudgetState::Ok).collect());
            }
        },
        merge::reload_when_runs_finish(std::time::Duration::from_secs(5)),
    );
    provide_context(BudgetAlerts(budgets));

    let search = NodeRef::<leptos::html::Input>::new();
    let selected = RwSignal::new(None::<String>);
    provide_context(Selected(selected));
    provide_context(picked);
    keyboard(rows, selected, search);

    let sort = Signal::derive(move || query.with(|q| q.sort.unwrap_or_default().to_string()));
    // The text fields show what the URL filters by, whatever changed it (a view, Back).
    let text = RwSignal::new(String::new());
    let workflow = RwSignal::new(String::new());
    Effect::new(move |_| {
        let (q, name) = query.with(|q| (q.q.clone().unwrap_or_default(), q.workflow.clone().unwrap_or_default()));
        text.set(q);
        workflow.set(name);
    });

    // Rows before each page reached from the first, by its cursor: Back and Forward
    // find theirs; a page opened by its address alone has none.
    let offsets = StoredValue::new(std::collections::HashMap::<String, usize>::new());
    let skipped = Memo::new(move |_| {
        query.with(|q| match &q.cursor {
            None => Some(0),
            Some(cursor) => offsets.with_value(|known| known.get(cursor).copied()),
        })
    });
    let filters_open = RwSignal::new(false);
    let filtering = move || {
        query.with(|q| {
            [q.status.is_some(), q.range.is_some(), q.q.is_some(), q.workflow.is_some()]
                .into_iter()
                .filter(|on| *on)
                .count()
        })
    };

    view! {
        <section class="page runs-page">
            <div class="page-head">
                <h1>"Workflow runs"</h1>
                <ViewsMenu query columns />
                <ColumnsMenu columns />
                <StartRunButton />
            </div>
            // At phone width the filters wait behind this button, so runs come first.
            <button type="button" class="secondary filters-toggle" data-testid="filters-toggle"
                aria-expanded=move || filters_open.get().to_string() on:click=move |_| filters_open.update(|o| *o = !*o)>
                {move || match filtering() { 0 => "Filters".to_owned(), n => format!("Filters ({n})") }}
            </button>
            <form class="filters collapsible" class:open=filters_open role="search" on:submit=move |ev| {
                ev.prevent_default();
                let (t, w) = (text.get_untracked(), workflow.get_untracked());
                set_filter(&|q| { q.q = Some(t.clone()); q.workflow = Some(w.clone()); });
            }>
                <label>"Status"
                    <select data-testid="filter-status" on:change=move |ev| {
                        let value = event_target_value(&ev);
                        set_filter(&|q| q.status = value.parse().ok().filter(|s: &Statuses| !s.0.is_empty()));
                    } prop:value=move || query.with(|q| q.status.as_ref().map(ToString::to_string).unwrap_or_default())>
                        <option value="">"All"</option>
                        {RunStatus::ALL.map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                        <option value="pending,running">"active"</option>
                    </select>
                </label>
                <label>"Time"
                    <select data-testid="filter-range" on:change=move |ev| {
                        let value = event_target_value(&ev);
                        set_filter(&|q| q.range = value.parse().ok());
                    } prop:value=move || query.with(|q| q.range.filter(|r| *r != Range::All).map(Range::as_str).unwrap_or_default())>
                        <option value="">"All time"</option>
                        {Range::ALL.iter().filter(|r| **r != Range::All).map(|r| view! { <option value=r.as_str()>{r.label()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Workflow"
                    <input data-testid="filter-workflow" placeholder="exact name" maxlength=address::TEXT_MAX bind:value=workflow />
                </label>
                <label class="grow">"Search"
                    <input type="search" data-testid="filter-q" placeholder="name or run id  ( / )" maxlength=address::TEXT_MAX node_ref=search bind:value=text />
                </label>
                <button type="submit">"Apply"</button>
                <Show when=move || { filtering() != 0 }>
                    <a class="button secondary" href=api::pages::WORKFLOWS>"Clear"</a>
                </Show>
                <span class="exports" title="Every run these filters select, in this order">
                    "Export: "
                    <a data-testid="export-csv" download href=move || query.with(|q| api::export(q, "csv"))>"CSV"</a>
                    " · "
                    <a data-testid="export-jsonl" download href=move || query.with(|q| api::export(q, "jsonl"))>"JSON lines"</a>
                </span>
            </form>
            <BulkJobs jobs />
            <BulkBar picked query page_full jobs />
            {move || match phase.get() {
                Phase::Loading => view! { <Loading /> }.into_any(),
                Phase::Failed(message) => view! { <Failure message retry=load /> }.into_any(),
                Phase::Ready => view! {
                    <Waiting live_rows reload />
                    <Show when=move || !rows.with(Vec::is_empty) fallback=|| view! { <Empty text="No runs match these filters." /> }>
                        <RunTable rows sort columns pointer_over on_sort=move |key: String| go.with_value(|go| go(&|q| { q.sort = key.parse().ok(); q.cursor = None; })) />
                    </Show>
                    <nav class="pager" aria-label="Pages">
                        <label class="page-size">"Rows"
                            <select data-testid="page-size" prop:value=move || query.with(|q| q.limit.unwrap_or(PAGE).to_string())
                                on:change=move |ev| {
                                    let size = event_target_value(&ev).parse().ok();
                                    go.with_value(|go| go(&|q| { q.limit = size; q.cursor = None; }))
                                }>
                                {PAGE_SIZES.map(|size| view! { <option value=size.to_string()>{size}</option> }).collect_view()}
                            </select>
                        </label>
                        <span class="muted small" data-testid="pager-position">{move || {
                            let (order, _, _) = order_words(&sort.get());
                            let shown = rows.with(Vec::len);
                            match (query.with(|q| q.cursor.is_some()), skipped.get()) {
                                (false, _) if next.with(Option::is_none) => format!("{order} · all {shown}"),
                                (false, _) => format!("{order} · first {shown}"),
                                (true, Some(before)) => format!("{order} · rows {}–{}", before + 1, before + shown),
                                // Opened at a later page: how many came before is not known.
                                (true, None) => format!("{order} · a later page"),
                            }
                        }}</span>
                        <Show when=move || query.with(|q| q.cursor.is_some())>
                            <button class="secondary" on:click=move |_| go.with_value(|go| go(&|q| q.cursor = None))>{move || format!("⇤ {}", order_words(&sort.get()).1)}</button>
                        </Show>
                        <Show when=move || next.with(Option::is_some)>
                            <button class="secondary" data-testid="next-page" on:click=move |_| {
                                let cursor = next.get_untracked();
                                if let (Some(at), Some(before)) = (&cursor, skipped.get_untracked()) {
                                    let before = before + rows.with_untracked(Vec::len);
                                    offsets.update_value(|known| { known.insert(at.clone(), before); });
                                }
                                go.with_value(|go| go(&|q| q.cursor = cursor.clone()))
                            }>{move || format!("{} →", order_words(&sort.get()).2)}</button>
                        </Show>
                    </nav>
                }.into_any(),
            }}
        </section>
    }
}

/// The run the keyboard selected, by id (rows come and go as runs arrive).
#[derive(Clone, Copy)]
struct Selected(RwSignal<Option<String>>);

/// `/` focuses the search, `j`/`k` select the next or previous run, Enter opens it,
/// `?` shows the keys. Keys typed into a field are the field's.
fn keyboard(rows: RwSignal<Vec<Row>>, selected: RwSignal<Option<String>>, search: NodeRef<leptos::html::Input>) {
    keys::page_keys(&[("/", "search"), ("j k", "next / previous run"), ("Enter", "open the selected run")]);
    let navigate = use_navigate();
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if keys::not_for_us(&ev) {
            return;
        }
        let step = |by: isize| {
            let ids: Vec<String> = rows.with_untracked(|rows| rows.iter().map(|r| r.id.clone()).collect());
            let at = selected.with_untracked(|s| s.as_ref().and_then(|id| ids.iter().position(|i| i == id)));
            let next = match at {
                Some(at) => (at as isize + by).clamp(0, ids.len() as isize - 1) as usize,
                None => 0,
            };
            if let Some(id) = ids.get(next) {
                selected.set(Some(id.clone()));
                let row = document().query_selector(&format!("tr[data-run-id=\"{id}\"]")).ok().flatten();
                if let Some(row) = row {
                    row.scroll_into_view_with_bool(false);
                }
            }
        };
        match ev.key().as_str() {
            "/" => {
                ev.prevent_default();
                if let Some(input) = search.get_untracked() {
                    let _ = input.focus();
                }
            }
            "j" => step(1),
            "k" => step(-1),
            "Enter" => {
                if let Some(id) = selected.get_untracked() {
                    navigate(&api::pages::workflow(&id), NavigateOptions::default());
                }
            }
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
}

fn set_phase(phase: RwSignal<Phase>, next: Phase) {
    if phase.with_untracked(|current| *current != next) {
        phase.set(next);
    }
}

/// What waits to change the page: new runs held while the page holds still, and runs
/// that entered the filters where this order cannot place them without a reload.
#[component]
fn Waiting(live_rows: LiveRows, reload: merge::Reload) -> impl IntoView {
    let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let waiting = move || live_rows.waiting.with(Vec::len);
    let elsewhere = move || live_rows.elsewhere.with(|ids| ids.len());
    let (any_waiting, any_elsewhere) = (move || waiting() > 0, move || elsewhere() > 0);
    view! {
        <div class="waiting-anchor" aria-live="polite">
            <Show when=any_waiting>
                <button class="waiting" data-testid="new-runs" on:click=move |_| live_rows.show_now()>
                    {move || format!("↑ {} · show", plural(waiting(), "new run", "new runs"))}
                </button>
            </Show>
            <Show when=any_elsewhere>
                <button class="waiting secondary" data-testid="changed-runs" on:click=move |_| reload.run()>
                    {move || match elsewhere() {
                        1 => "1 run now matches · reload to see it in order".to_owned(),
                        n => format!("{n} runs now match · reload to see them in order"),
                    }}
                </button>
            </Show>
        </div>
    }
}

#[component]
fn RunTable(
    rows: RwSignal<Vec<Row>>,
    sort: Signal<String>,
    columns: Columns,
    pointer_over: RwSignal<bool>,
    on_sort: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let Picked { ids: picked, all_matching } = expect_context::<Picked>();
    let whole_page =
        move || rows.with(|rows| picked.with(|ids| !rows.is_empty() && rows.iter().all(|r| ids.contains(&r.id))));
    let pick_page = move |on: bool| {
        let page: Vec<String> = rows.with_untracked(|rows| rows.iter().map(|r| r.id.clone()).collect());
        picked.update(|ids| match on {
            true => ids.extend(page),
            false => page.iter().for_each(|id| {
                ids.remove(id);
            }),
        });
        // Leaving out a run leaves out "every run matching".
        if !on {
            all_matching.set(false);
        }
    };
    let header = move |key: &'static str, label: &'static str| {
        let state = move || match sort.get() {
            s if s == key => "ascending",
            s if s.strip_prefix('-') == Some(key) => "descending",
            _ => "none",
        };
        view! {
            <th aria-sort=state class=format!("sortable num col-{key}")>
                <button class="link" on:click=move |_| on_sort(if sort.get_untracked() == format!("-{key}") { key.to_owned() } else { format!("-{key}") })>
                    {label}
                    <span aria-hidden="true">{move || match state() { "ascending" => " ▲", "descending" => " ▼", _ => "" }}</span>
                </button>
            </th>
        }
    };
    view! {
        <div class="table-wrap" on:pointerenter=move |_| pointer_over.set(true) on:pointerleave=move |_| pointer_over.set(false)>
            <table class=move || columns.classes() data-testid="runs-table">
                <thead>
                    <tr>
                        <th class="col-pick">
                            <input type="checkbox" aria-label="Pick every run on this page" data-testid="pick-page"
                                prop:checked=whole_page on:change=move |ev| pick_page(event_target_checked(&ev)) />
                        </th>
                        <th class="col-run">"Run"</th>
                        <th class="col-workflow">"Workflow"</th>
                        <th class="col-status">"Status"</th>
                        {header("started_at", "Started")}
                        {header("duration_seconds", "Duration")}
                        {header("total_tokens", "Tokens")}
                        {header("total_cost_usd", "Cost")}
                        <th class="col-actions"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get() key=|row| row.id.clone() let:row>
                        <RunRow run=row.run leaving=row.leaving />
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// Budgets at 80 % or more, for the rows of their workflows.
#[derive(Clone, Copy)]
struct BudgetAlerts(RwSignal<Vec<Budget>>);

#[component]
fn RunRow(run: RwSignal<WorkflowRun>, leaving: RwSignal<bool>) -> impl IntoView {
    let id = run.with_untracked(|r| r.id.clone());
    let BudgetAlerts(budgets) = expect_context::<BudgetAlerts>();
    let Selected(selected) = expect_context::<Selected>();
    let mine = id.clone();
    let is_selected = Signal::derive(move || selected.with(|s| s.as_deref() == Some(mine.as_str())));
    let Picked { ids: picked, all_matching } = expect_context::<Picked>();
    let (this, toggled) = (id.clone(), id.clone());
    let is_picked = move || picked.with(|ids| ids.contains(&this));
    let budget = move || {
        let workflow = run.with(|r| r.workflow_name.clone());
        budgets.with(|all| all.iter().find(|b| b.workflow_name == workflow).map(|b| b.state)).map(|state| {
            let (class, text) = match state {
                BudgetState::Exceeded => ("badge budget-exceeded", "over budget"),
                _ => ("badge budget-warning", "budget ≥ 80 %"),
            };
            view! { <a class=class href=api::pages::ANALYTICS title="See the budget">{text}</a> }
        })
    };
    view! {
        <tr data-run-id=id.clone() class:selected=is_selected aria-selected=move || is_selected.get().to_string()
            class:leaving=move || leaving.get() title=move || leaving.get().then_some("No longer matches these filters")>
            <td class="col-pick">
                <input type="checkbox" aria-label="Pick this run" prop:checked=is_picked on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    picked.update(|ids| { if on { ids.insert(toggled.clone()); } else { ids.remove(&toggled); } });
                    if !on { all_matching.set(false); }
                } />
            </td>
            <td class="mono col-run"><a href=api::pages::workflow(&id) title=id.clone()>{format::short_id(&id).to_owned()}</a></td>
            <td class="col-workflow">{move || run.with(|r| r.workflow_name.clone())} " " {budget}</td>
            <td class="col-status">
                <StatusBadge status=Signal::derive(move || run.with(|r| r.status)) />
                // Why it ended, at a glance: the error's first line (all of it on hover).
                {move || run.with(|r| r.error_message.as_deref().and_then(|m| m.lines().next()).map(str::to_owned)).map(|why| view! {
                    <div class="row-why" data-testid="row-error" title=why.clone()>{why.clone()}</div>
                })}
            </td>
            <td class="col-started_at"><Time at=Signal::derive(move || run.with(|r| r.started_at)) /></td>
            <td class="num col-duration_seconds">{move || run.with(|r| format::duration(r.duration_seconds))}</td>
            <td class="num col-total_tokens">{move || run.with(|r| format::tokens(r.total_tokens))}</td>
            <td class="num col-total_cost_usd">{move || run.with(|r| format::cost(r.total_cost_usd))}</td>
            <td class="row-actions col-actions">
                <a class="button small secondary" href=api::pages::workflow(&id)>"View"</a>
                <RunActions run=run />
            </td>
        </tr>
    }
}

/// The list's order in words: how it is sorted, its first page, and the way on.
fn order_words(sort: &str) -> (&'static str, &'static str, &'static str) {
    match sort {
        "started_at" => ("Oldest first", "Oldest", "Newer"),
        "-duration_seconds" => ("Longest first", "Longest", "Shorter"),
        "duration_seconds" => ("Shortest first", "Shortest", "Longer"),
        "-total_tokens" => ("Most tokens first", "Most tokens", "Fewer tokens"),
        "total_tokens" => ("Fewest tokens first", "Fewest tokens", "More tokens"),
        "-total_cost_usd" => ("Costliest first", "Costliest", "Cheaper"),
        "total_cost_usd" => ("Cheapest first", "Cheapest", "Costlier"),
        _ => ("Newest first", "Newest", "Older"),
    }
}

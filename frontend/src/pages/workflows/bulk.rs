//! Acting on many runs: rows picked on the page (or every run the filters select),
//! then compare two, or cancel, restart or delete them as a bulk job: a dry run says
//! what would be touched, a confirmation starts the job, and its progress streams in
//! and stays until dismissed.

use leptos::prelude::*;
use shared::{BulkAction, BulkJob, BulkPreview, BulkRequest, BulkStatus, Event, Permission, RunQuery};
use std::collections::BTreeSet;

use crate::components::{use_notices, Dialog, Tone};
use crate::{api, format, live, merge};

/// The rows picked, by id; or every run the filters select.
#[derive(Clone, Copy)]
pub struct Picked {
    pub ids: RwSignal<BTreeSet<String>>,
    pub all_matching: RwSignal<bool>,
}

impl Picked {
    pub fn new() -> Picked {
        Picked { ids: RwSignal::new(BTreeSet::new()), all_matching: RwSignal::new(false) }
    }

    pub fn clear(self) {
        self.ids.set(BTreeSet::new());
        self.all_matching.set(false);
    }

    pub fn any(self) -> bool {
        self.all_matching.get() || self.ids.with(|ids| !ids.is_empty())
    }
}

/// What the bar asks of the server: the picked ids, or the filters.
fn request(picked: Picked, query: &RunQuery, action: BulkAction) -> BulkRequest {
    let (ids, filter) = match picked.all_matching.get_untracked() {
        true => (None, Some(RunQuery { sort: None, limit: None, cursor: None, ..query.clone() })),
        false => (Some(picked.ids.get_untracked().into_iter().collect()), None),
    };
    BulkRequest { action, ids, filter, dry_run: true }
}

fn verb(action: BulkAction) -> &'static str {
    match action {
        BulkAction::Cancel => "Cancel",
        BulkAction::Restart => "Restart",
        BulkAction::Delete => "Delete",
    }
}

/// The bar over the table while rows are picked; `page_full` says every row of the
/// page is picked and more pages follow (offering every matching run).
#[component]
pub fn BulkBar(
    picked: Picked,
    query: Memo<RunQuery>,
    page_full: Signal<bool>,
    jobs: RwSignal<Vec<BulkJob>>,
) -> impl IntoView {
    let notices = use_notices();
    let preview = RwSignal::new(None::<(BulkRequest, BulkPreview)>);
    // The dry run's answer opens the confirmation; closing it (Back, Escape) drops it.
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        let shown = preview.with(Option::is_some);
        if confirming.get_untracked() != shown {
            confirming.set(shown);
        }
    });
    Effect::new(move |_| {
        if !confirming.get() && preview.with_untracked(Option::is_some) {
            preview.set(None);
        }
    });
    let ask = Action::new_local(move |action: &BulkAction| {
        let request = request(picked, &query.get_untracked(), *action);
        async move {
            match api::bulk_preview(&request).await {
                Ok(answer) => preview.set(Some((request, answer))),
                Err(error) => notices.say(Tone::Error, format!("Could not count the runs: {error}")),
            }
        }
    });
    let confirm = Action::new_local(move |request: &BulkRequest| {
        let request = request.clone();
        async move {
            match api::bulk_start(&request).await {
                Ok(job) => {
                    upsert(jobs, job);
                    preview.set(None);
                    picked.clear();
                }
                Err(error) => notices.say(Tone::Error, format!("Could not start: {error}")),
            }
        }
    });
    let compare = move || {
        picked.ids.with(|ids| match ids.iter().collect::<Vec<_>>().as_slice() {
            [a, b] if !picked.all_matching.get() => Some(api::pages::compare(a, b)),
            _ => None,
        })
    };
    let operator = crate::can(Permission::Operate);
    let action_button = move |action: BulkAction| {
        operator.then(|| {
            let class = if action == BulkAction::Restart { "small" } else { "small danger" };
            view! {
                <button class=class data-testid=format!("bulk-{}", action.as_str()) disabled=move || ask.pending().get()
                    on:click=move |_| { ask.dispatch(action); }>{verb(action)} "…"</button>
            }
        })
    };
    view! {
        <Show when=move || picked.any()>
            <div class="bulk-bar" role="toolbar" aria-label="Picked runs" data-testid="bulk-bar">
                <strong>{move || match picked.all_matching.get() {
                    true => "Every run matching these filters".to_owned(),
                    false => format!("{} picked", picked.ids.with(BTreeSet::len)),
                }}</strong>
                <Show when=move || page_full.get() && !picked.all_matching.get()>
                    <button class="link" data-testid="pick-all-matching" on:click=move |_| picked.all_matching.set(true)>
                        "Pick every run matching these filters"
                    </button>
                </Show>
                <span class="grow"></span>
                {move || compare().map(|href| view! { <a class="button small secondary" data-testid="compare-picked" href=href>"Compare"</a> })}
                {action_button(BulkAction::Cancel)}
                {action_button(BulkAction::Restart)}
                {action_button(BulkAction::Delete)}
                <button class="small secondary" on:click=move |_| { picked.clear(); preview.set(None); }>"Clear"</button>
            </div>
        </Show>
        <Dialog open=confirming id="bulk-preview">
        {move || preview.get().map(|(request, answer)| {
            let action = answer.action;
            let skipped = answer.matched - answer.eligible;
            let statuses = answer.by_status.iter().map(|s| format!("{} {}", s.count, s.status)).collect::<Vec<_>>().join(", ");
            let nothing = answer.eligible == 0;
            view! {
                <div class="bulk-preview" data-testid="bulk-preview">
                    <h2 id="bulk-preview-title">{match answer.eligible == answer.matched {
                        true => format!("{} {}", verb(action), runs(answer.matched)),
                        false => format!("{} {} of {}", verb(action), answer.eligible, runs(answer.matched)),
                    }}</h2>
                    <p>
                        {(skipped == 0).then(|| "Every run selected is eligible.".to_owned())}
                        {(skipped > 0).then(|| format!("{} will be skipped: {}.", runs(skipped), skip_note(action)))}
                    </p>
                    <p class="muted">{format!("Selected: {statuses}")}</p>
                    {answer.expected_cost_usd.map(|cost| view! {
                        <p>"Expected cost, from these runs' last cost: " <strong>{format::cost(Some(cost))}</strong></p>
                    })}
                    {(action == BulkAction::Delete).then(|| view! {
                        <p class="muted">"Deleted runs leave the list, their logs and states, and the analytics."</p>
                    })}
                    <div class="form-actions">
                        <button class=if action == BulkAction::Restart { "" } else { "danger" } data-testid="bulk-confirm"
                            disabled=move || nothing || confirm.pending().get()
                            on:click=move |_| { confirm.dispatch(request.clone()); }>
                            {format!("{} {}", verb(action), runs(answer.eligible))}
                        </button>
                        <button class="secondary" on:click=move |_| preview.set(None)>"Back"</button>
                    </div>
                </div>
            }
        })}
        </Dialog>
    }
}

/// "1 run", "3 runs".
fn runs(n: i64) -> String {
    match n {
        1 => "1 run".to_owned(),
        n => format!("{n} runs"),
    }
}

fn skip_note(action: BulkAction) -> &'static str {
    match action {
        BulkAction::Cancel => "only pending and running runs can be cancelled",
        BulkAction::Restart | BulkAction::Delete => "runs still pending or running are left alone",
    }
}

/// Puts `job` in the list, in place of its older version (if the page is still there).
fn upsert(jobs: RwSignal<Vec<BulkJob>>, job: BulkJob) {
    jobs.try_update(|jobs| match jobs.iter_mut().find(|j| j.id == job.id) {
        Some(known) => {
            if known.reached() <= job.reached() || job.status != BulkStatus::Running {
                *known = job;
            }
        }
        None => jobs.insert(0, job),
    });
}

/// Bulk jobs running, and those started here until dismissed; live. Deletions reload
/// the list through `reload`.
pub fn follow_jobs(jobs: RwSignal<Vec<BulkJob>>, runs: merge::Reload) {
    // A large deletion reports every batch: the runs reload at most once a second.
    let later = merge::throttled(std::time::Duration::from_secs(1));
    merge::follow(
        live::global(),
        api::bulk_jobs,
        move |answer| {
            // Running jobs, and the shown ones as they are now (one may have ended
            // while the stream was away).
            for job in answer.into_iter().flatten().rev() {
                let shown = jobs.with_untracked(|all| all.iter().any(|j| j.id == job.id));
                if shown || job.status == BulkStatus::Running {
                    upsert(jobs, job);
                }
            }
        },
        move |event, _| {
            if let Event::BulkJob(job) = event {
                if job.action == BulkAction::Delete && job.done > 0 {
                    later(runs);
                }
                upsert(jobs, job.clone());
            }
        },
    );
}

#[component]
pub fn BulkJobs(jobs: RwSignal<Vec<BulkJob>>) -> impl IntoView {
    let notices = use_notices();
    let stop = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            match api::stop_bulk(&id).await {
                Ok(job) => upsert(jobs, job),
                Err(error) => notices.say(Tone::Error, format!("Could not stop: {error}")),
            }
        }
    });
    view! {
        <For each=move || jobs.get() key=|job| (job.id.clone(), job.reached(), job.status) let:job>
            {
                let (stopped, dismissed) = (job.id.clone(), job.id.clone());
                view! {
                    <BulkJobPanel job on_stop=move || { stop.dispatch(stopped.clone()); }
                        on_dismiss=move || jobs.update(|all| all.retain(|j| j.id != dismissed)) />
                }
            }
        </For>
    }
}

#[component]
fn BulkJobPanel(job: BulkJob, on_stop: impl Fn() + 'static, on_dismiss: impl Fn() + 'static) -> impl IntoView {
    let total = job.eligible.max(job.reached()).max(1);
    let percent = (job.reached() * 100 / total).min(100);
    let state = match job.status {
        BulkStatus::Running => "running",
        BulkStatus::Stopped => "stopped",
        BulkStatus::Completed => "completed",
    };
    let what = match (&job.filter, job.selected) {
        (Some(_), _) => format!("{} runs matching a filter", job.matched),
        (None, Some(selected)) => format!("{selected} picked runs"),
        (None, None) => format!("{} runs", job.matched),
    };
    let reasons = job.skip_reasons.iter().map(|r| format!("{} {}", r.count, r.reason)).collect::<Vec<_>>().join(", ");
    let running = job.status == BulkStatus::Running;
    view! {
        <div class="panel bulk-job" data-testid="bulk-job" data-status=state>
            <p>
                <strong>{format!("{} of {what}", verb(job.action))}</strong>
                {format!(" · {state} · by {} · ", job.created_by)}
                <span class="mono">{format::short_id(&job.id).to_owned()}</span>
            </p>
            <progress max="100" value=percent.to_string() aria-label="Progress"></progress>
            <p data-testid="bulk-counts">
                {format!("{} done, {} skipped, {} failed of {}", job.done, job.skipped, job.failed, runs(job.matched))}
            </p>
            {(!reasons.is_empty()).then(|| view! { <p class="muted">{format!("Skipped: {reasons}")}</p> })}
            {(!job.failures.is_empty()).then(|| view! {
                <details>
                    <summary>{format!("{} failed", job.failed)}</summary>
                    <ul>{job.failures.iter().map(|f| view! {
                        <li><a class="mono" href=api::pages::workflow(&f.run_id)>{format::short_id(&f.run_id).to_owned()}</a> ": " {f.reason.clone()}</li>
                    }).collect_view()}</ul>
                </details>
            })}
            <div class="form-actions">
                {match running {
                    true => view! { <button class="small danger" data-testid="bulk-stop" on:click=move |_| on_stop()>"Stop"</button> }.into_any(),
                    false => view! { <button class="small secondary" on:click=move |_| on_dismiss()>"Dismiss"</button> }.into_any(),
                }}
            </div>
        </div>
    }
}

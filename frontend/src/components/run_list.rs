use leptos::prelude::*;
use shared::WorkflowRun;

use super::{StatusBadge, Time};
use crate::{api, format};

/// A short list of runs (the dashboard's latest, an agent's): status, workflow, id,
/// when, cost.
#[component]
pub fn RunList(runs: Vec<WorkflowRun>, testid: &'static str) -> impl IntoView {
    view! {
        <ul class="run-list" data-testid=testid>
            {runs.into_iter().map(|run| view! {
                <li>
                    <StatusBadge status=run.status />
                    <a href=api::pages::workflow(&run.id)>{run.workflow_name.clone()}</a>
                    <span class="muted mono">{format::short_id(&run.id).to_owned()}</span>
                    <span class="muted"><Time at=run.started_at /></span>
                    <span class="num">{format::cost(run.total_cost_usd)}</span>
                </li>
            }).collect_view()}
        </ul>
    }
}

//! Cancel and restart, as buttons that confirm what destroys, and say what happened.

use leptos::prelude::*;
use shared::{Permission, WorkflowRun};

use super::{confirmed, use_notices, Tone};
use crate::{api, format};

#[component]
pub fn RunActions(#[prop(into)] run: Signal<WorkflowRun>) -> impl IntoView {
    let notices = use_notices();
    let cancel = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            match api::cancel(&id).await {
                Ok(_) => notices.say(Tone::Success, format!("Run {} cancelled.", format::short_id(&id))),
                Err(error) => notices.say(Tone::Error, format!("Could not cancel: {error}")),
            }
        }
    });
    let restart = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            match api::restart(&id).await {
                Ok(new) => notices.say(Tone::Success, format!("Restarted as run {}.", format::short_id(&new.id))),
                Err(error) => notices.say(Tone::Error, format!("Could not restart: {error}")),
            }
        }
    });
    let busy = Signal::derive(move || cancel.pending().get() || restart.pending().get());
    let cancel = move |_| {
        let run = run.get_untracked();
        let question =
            format!("Cancel run {} of {}? The runner is told to stop.", format::short_id(&run.id), run.workflow_name);
        if confirmed(&question) {
            cancel.dispatch(run.id);
        }
    };
    let restart = move |_| {
        restart.dispatch(run.get_untracked().id);
    };
    // Only for those who may operate; the server refuses others anyway.
    if !crate::can(Permission::Operate) {
        return None;
    }
    Some(view! {
        <span class="actions">
            <Show
                when=move || run.get().status.is_active()
                fallback=move || view! {
                    <button class="small" disabled=busy on:click=restart title="Run again with the same inputs and config">
                        "Restart"
                    </button>
                }
            >
                <button class="small danger" disabled=busy on:click=cancel>"Cancel"</button>
            </Show>
        </span>
    })
}

//! Cancel and restart, as buttons that confirm what destroys, and say what happened.

use leptos::prelude::*;
use shared::{Action, WorkflowRun};

use crate::components::{use_notices, Tone};
use crate::{api, format};

fn confirmed(question: &str) -> bool {
    web_sys::window().and_then(|w| w.confirm_with_message(question).ok()).unwrap_or(false)
}

#[component]
pub fn RunActions(#[prop(into)] run: Signal<WorkflowRun>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let notices = use_notices();
    let cancel = move |_| {
        let run = run.get_untracked();
        let question =
            format!("Cancel run {} of {}? The runner is told to stop.", format::short_id(&run.id), run.workflow_name);
        if !confirmed(&question) {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match api::cancel(&run.id).await {
                Ok(_) => notices.say(Tone::Success, format!("Run {} cancelled.", format::short_id(&run.id))),
                Err(error) => notices.say(Tone::Error, format!("Could not cancel: {error}")),
            }
            busy.set(false);
        });
    };
    let restart = move |_| {
        let run = run.get_untracked();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match api::restart(&run.id).await {
                Ok(new) => notices.say(Tone::Success, format!("Restarted as run {}.", format::short_id(&new.id))),
                Err(error) => notices.say(Tone::Error, format!("Could not restart: {error}")),
            }
            busy.set(false);
        });
    };
    // Only for those who may operate; the server refuses others anyway.
    if !crate::can(Action::Operate) {
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

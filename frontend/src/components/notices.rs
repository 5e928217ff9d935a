use leptos::prelude::*;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    /// Worth knowing, nothing failed (an address's parts that were ignored).
    Info,
    Error,
}

/// Results of actions, shown for a few seconds in a live region.
#[derive(Debug, Clone, Copy)]
pub struct Notices(RwSignal<Vec<(u64, Tone, String)>>);

pub fn provide_notices() -> Notices {
    let notices = Notices(RwSignal::new(Vec::new()));
    provide_context(notices);
    notices
}

/// The notice area of this app; take it while a component is created (not inside an
/// async task, which has no context), then `say` from anywhere.
pub fn use_notices() -> Notices {
    expect_context::<Notices>()
}

impl Notices {
    pub fn say(self, tone: Tone, text: impl Into<String>) {
        let Notices(list) = self;
        let id = js_sys::Date::now() as u64 ^ list.with_untracked(|l| l.len() as u64);
        list.update(|l| l.push((id, tone, text.into())));
        set_timeout(move || list.update(|l| l.retain(|(n, ..)| *n != id)), Duration::from_secs(6));
    }
}

#[component]
pub fn NoticeArea() -> impl IntoView {
    let Notices(list) = expect_context::<Notices>();
    view! {
        <div class="notices" role="status" aria-live="polite">
            <For each=move || list.get() key=|(id, ..)| *id let:notice>
                <div class=match notice.1 { Tone::Success => "notice success", Tone::Info => "notice info", Tone::Error => "notice error" }>
                    {notice.2.clone()}
                    <button class="link" aria-label="Dismiss" on:click=move |_| list.update(|l| l.retain(|(n, ..)| *n != notice.0))>
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}

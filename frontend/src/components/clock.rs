use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::format;

/// The ticking "now" that relative times count from, and the UTC/local choice.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: RwSignal<DateTime<Utc>>,
    pub utc: RwSignal<bool>,
}

pub fn provide_clock() -> Clock {
    let clock = Clock { now: RwSignal::new(Utc::now()), utc: RwSignal::new(true) };
    let tick = set_interval_with_handle(move || clock.now.set(Utc::now()), std::time::Duration::from_secs(1));
    if let Ok(tick) = tick {
        on_cleanup(move || tick.clear());
    }
    provide_context(clock);
    clock
}

/// A relative time ("5m ago") with the exact time on hover, in UTC or local time.
#[component]
pub fn Time(#[prop(into)] at: Signal<DateTime<Utc>>) -> impl IntoView {
    let clock = expect_context::<Clock>();
    view! {
        <time datetime=move || at.get().to_rfc3339() title=move || format::exact(at.get(), clock.utc.get())>
            {move || format::relative(at.get(), clock.now.get())}
        </time>
    }
}

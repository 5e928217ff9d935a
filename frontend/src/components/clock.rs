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

/// A time as lists show it, relative ("5m ago"), or `exact` as a run's page and its
/// log show it (`time_of_day` only, for log lines); the other form on hover. Exact
/// times follow the UTC/local toggle.
#[component]
pub fn Time(
    #[prop(into)] at: Signal<DateTime<Utc>>,
    #[prop(optional)] exact: bool,
    #[prop(optional)] time_of_day: bool,
) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let relative = move || format::relative(at.get(), clock.now.get());
    let precise = move || format::exact(at.get(), clock.utc.get());
    let (shown, hover) = match (exact || time_of_day, time_of_day) {
        (false, _) => (Signal::derive(relative), Signal::derive(precise)),
        (true, false) => (Signal::derive(precise), Signal::derive(relative)),
        (true, true) => (
            Signal::derive(move || format::time_of_day(at.get(), clock.utc.get())),
            Signal::derive(move || format!("{} · {}", precise(), relative())),
        ),
    };
    view! {
        <time datetime=move || at.get().to_rfc3339() title=hover>{shown}</time>
    }
}

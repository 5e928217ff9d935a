//! The dashboard in the browser: a Leptos client-side app. `App` holds the layout,
//! the routes and the app-wide live stream; each page is a module of `pages`.

pub mod api;
mod components;
mod format;
mod live;
mod merge;
mod pages;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;
use leptos_use::{use_color_mode, ColorMode, UseColorModeReturn};
use shared::{Event, Summary};

use components::{provide_clock, provide_notices, NoticeArea};
use live::{Connection, GlobalStream, Stream};

/// The newest totals, kept up to date by the app-wide stream (which sends them on
/// every connect and after every change).
#[derive(Debug, Clone, Copy)]
pub struct LiveSummary(pub RwSignal<Option<Summary>>);

#[component]
pub fn App() -> impl IntoView {
    let clock = provide_clock();
    provide_notices();
    let stream = Stream::open("workflows,agents,summary", None);
    provide_context(GlobalStream(stream));
    let summary = RwSignal::new(None);
    provide_context(LiveSummary(summary));
    stream.on_event(move |event| {
        if let Event::Summary(totals) = event {
            summary.set(Some(totals.clone()));
        }
    });
    let UseColorModeReturn { mode, set_mode, .. } = use_color_mode();
    let toggle_theme =
        move |_| set_mode.set(if mode.get() == ColorMode::Dark { ColorMode::Light } else { ColorMode::Dark });

    view! {
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <header class="topbar">
                <a class="brand" href=api::pages::DASHBOARD>
                    <span class="logo" aria-hidden="true">"⬡"</span>
                    "configurable-agents"
                </a>
                <nav aria-label="Main">
                    <A href=api::pages::DASHBOARD exact=true>"Dashboard"</A>
                    <A href=api::pages::WORKFLOWS>"Workflows"</A>
                    <A href=api::pages::AGENTS>"Agents"</A>
                    <A href=api::pages::OBSERVABILITY>"MLflow"</A>
                </nav>
                <div class="tools">
                    <Indicator status=stream.status />
                    <button
                        class="toggle"
                        title="Show times in UTC or in local time"
                        aria-pressed=move || (!clock.utc.get()).to_string()
                        on:click=move |_| clock.utc.update(|utc| *utc = !*utc)
                    >
                        {move || if clock.utc.get() { "UTC" } else { "Local" }}
                    </button>
                    <button class="toggle" title="Switch between light and dark theme" on:click=toggle_theme>
                        {move || if mode.get() == ColorMode::Dark { "☾ Dark" } else { "☀ Light" }}
                    </button>
                </div>
            </header>
            <main id="main">
                <Routes fallback=|| view! { <pages::NotFound /> }>
                    <Route path=path!("/") view=pages::Dashboard />
                    <Route path=path!("/workflows") view=pages::Workflows />
                    <Route path=path!("/workflows/:id") view=pages::WorkflowDetail />
                    <Route path=path!("/agents") view=pages::Agents />
                    <Route path=path!("/observability") view=pages::Observability />
                </Routes>
            </main>
            <NoticeArea />
        </Router>
    }
}

/// Whether live data is flowing: an honest answer, with the reason on hover.
#[component]
fn Indicator(status: RwSignal<Connection>) -> impl IntoView {
    let title = move || match status.get() {
        Connection::Connecting => "Connecting to live updates…",
        Connection::Live => "Live: changes appear as they happen",
        Connection::Reconnecting => "Connection lost; reconnecting. Missed changes are replayed when it is back.",
        Connection::Offline => "Offline: the server cannot be reached. Still retrying.",
    };
    view! {
        <span class=move || format!("indicator {}", status.get().label()) role="status" title=title data-testid="connection">
            <span class="dot" aria-hidden="true"></span>
            {move || status.get().label()}
        </span>
    }
}

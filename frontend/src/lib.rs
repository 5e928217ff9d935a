//! The dashboard in the browser: a Leptos client-side app. `App` holds the layout,
//! the routes and the app-wide live stream; each page is a module of `pages`.

pub mod api;
mod components;
mod early;
mod format;
mod live;
mod merge;
mod pages;
mod theme;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{ParamSegment, StaticSegment};
use shared::{Event, Permission, Session, Summary};

use api::pages::{self as paths, segment};
use components::{provide_clock, provide_notices, Loading, NoticeArea};
use live::{Connection, GlobalStream, Stream};

/// The newest totals, kept up to date by the app-wide stream (which sends them on
/// every connect and after every change).
#[derive(Debug, Clone, Copy)]
pub struct LiveSummary(pub RwSignal<Option<Summary>>);

/// Who is signed in (`None` until known, and after signing out).
#[derive(Debug, Clone, Copy)]
pub struct SignedIn(pub RwSignal<Option<Session>>);

/// Whether the signed-in role may take `action`; the app offers only what it may.
pub fn can(action: Permission) -> bool {
    use_context::<SignedIn>().and_then(|signed| signed.0.get()).is_some_and(|session| session.role.allows(action))
}

impl SignedIn {
    /// Takes the session: the app shows its pages from now on.
    pub fn start(self, session: Session) {
        api::set_csrf(session.csrf.clone());
        self.0.set(Some(session));
    }

    /// Forgets the session: the app asks to sign in.
    pub fn end(self) {
        api::set_csrf(None);
        self.0.set(None);
    }
}

/// Asks who is signed in, then shows the app, or the sign-in page.
#[component]
pub fn App() -> impl IntoView {
    provide_notices();
    components::hold::provide_holds();
    let session = RwSignal::new(None::<Session>);
    let signed = SignedIn(session);
    provide_context(signed);
    let checked = RwSignal::new(false);
    api::on_unauthorized(move || signed.end());
    leptos::task::spawn_local(async move {
        if let Ok(current) = api::session().await {
            signed.start(current);
        }
        checked.set(true);
    });
    view! {
        <Router>
            <Show when=move || checked.get() fallback=|| view! { <Loading text="Loading…" /> }>
                <Show when=move || session.with(Option::is_some) fallback=|| view! { <pages::SignIn /> }>
                    <Shell />
                </Show>
            </Show>
        </Router>
    }
}

/// The signed-in app: the layout, the routes and the app-wide live stream, which is
/// closed when the shell goes (on signing out).
#[component]
fn Shell() -> impl IntoView {
    let clock = provide_clock();
    // From the event the session answer saw: pages read after it, so the replay fills
    // any gap and no page reads twice.
    let since = expect_context::<SignedIn>().0.with_untracked(|s| s.as_ref().and_then(|s| s.event_id));
    let stream = Stream::open("workflows,agents,summary", None, since);
    provide_context(GlobalStream(stream));
    let summary = RwSignal::new(None);
    provide_context(LiveSummary(summary));
    stream.on_event(move |event| {
        if let Event::Summary(totals) = event {
            summary.set(Some(totals.clone()));
        }
    });
    let theme = theme::Theme::new();

    let signed = expect_context::<SignedIn>();
    let session = signed.0;
    let sign_out = Action::new_local(move |_: &()| async move {
        let _ = api::sign_out().await;
        signed.end();
    });
    view! {
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
                    <A href=api::pages::ANALYTICS>"Analytics"</A>
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
                    <button class="toggle" title="Switch between light and dark theme" on:click=move |_| theme.toggle()>
                        {move || if theme.dark.get() { "☾ Dark" } else { "☀ Light" }}
                    </button>
                    {move || session.get().filter(|s| s.auth).map(|s| view! {
                        <span class="who" data-testid="who" title="Signed in">
                            {s.name}<span class="role">{s.role.as_str()}</span>
                        </span>
                        <button class="toggle" data-testid="sign-out" on:click=move |_| { sign_out.dispatch(()); }>"Sign out"</button>
                    })}
                </div>
            </header>
            <main id="main">
                <Routes fallback=|| view! { <pages::NotFound /> }>
                    <Route path=StaticSegment(segment(paths::DASHBOARD)) view=pages::Dashboard />
                    <Route path=StaticSegment(segment(paths::WORKFLOWS)) view=pages::Workflows />
                    <Route path=(StaticSegment(segment(paths::WORKFLOWS)), StaticSegment("compare")) view=pages::Compare />
                    <Route path=(StaticSegment(segment(paths::WORKFLOWS)), ParamSegment("id")) view=pages::WorkflowDetail />
                    <Route path=StaticSegment(segment(paths::AGENTS)) view=pages::Agents />
                    <Route path=(StaticSegment(segment(paths::AGENTS)), ParamSegment("id")) view=pages::Agent />
                    <Route path=StaticSegment(segment(paths::ANALYTICS)) view=pages::Analytics />
                    <Route path=StaticSegment(segment(paths::OBSERVABILITY)) view=pages::Observability />
                    <Route path=StaticSegment(segment(paths::LOGIN)) view=pages::SignedInAlready />
                </Routes>
            </main>
            <NoticeArea />
            <components::keys::Keys />
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

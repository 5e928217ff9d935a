use leptos::prelude::*;

#[component]
pub fn Loading(#[prop(default = "Loading…")] text: &'static str) -> impl IntoView {
    view! { <div class="state loading" aria-busy="true"><span class="spinner" aria-hidden="true"></span>{text}</div> }
}

#[component]
pub fn Empty(#[prop(into)] text: String, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! { <div class="state empty"><p>{text}</p>{children.map(|c| c())}</div> }
}

/// What an address names is not there: trying again cannot help, so say so and lead
/// back to the list it came from.
#[component]
pub fn Missing(
    /// "run", "agent".
    what: &'static str,
    id: String,
    /// How it may have gone: "deleted", "deregistered".
    gone: &'static str,
    back: &'static str,
    back_text: &'static str,
) -> impl IntoView {
    let title = format!("{}{} not found", what[..1].to_uppercase(), &what[1..]);
    view! {
        <h1>{title}</h1>
        <div class="state failure" role="alert" data-testid=format!("missing-{what}")>
            <p>"There is no " {what} " " <span class="mono">{id}</span> ". It may have been " {gone} ", or the address is mistyped."</p>
            <a class="button" href=back>{back_text}</a>
        </div>
    }
}

/// A failed load, with the reason and a way to try again.
#[component]
pub fn Failure(#[prop(into)] message: String, retry: impl Fn() + Send + Sync + 'static) -> impl IntoView {
    view! {
        <div class="state failure" role="alert">
            <p>"Could not load: " {message}</p>
            <button on:click=move |_| retry()>"Try again"</button>
        </div>
    }
}

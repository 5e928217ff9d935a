use leptos::prelude::*;

#[component]
pub fn Loading(#[prop(default = "Loading…")] text: &'static str) -> impl IntoView {
    view! { <div class="state loading" aria-busy="true"><span class="spinner" aria-hidden="true"></span>{text}</div> }
}

#[component]
pub fn Empty(#[prop(into)] text: String, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! { <div class="state empty"><p>{text}</p>{children.map(|c| c())}</div> }
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

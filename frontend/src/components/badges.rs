use leptos::prelude::*;
use shared::RunStatus;

/// A run's status as a symbol and a word, so it reads without colour.
#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<RunStatus>) -> impl IntoView {
    let symbol = move || match status.get() {
        RunStatus::Pending => "◷",
        RunStatus::Running => "▶",
        RunStatus::Completed => "✓",
        RunStatus::Failed => "✕",
        RunStatus::Cancelled => "⊘",
    };
    view! {
        <span class=move || format!("badge status-{}", status.get()) data-status=move || status.get().to_string()>
            <span class="badge-symbol" aria-hidden="true">{symbol}</span>
            {move || status.get().to_string()}
        </span>
    }
}

/// An agent's health: a dot for the eye and a word for everyone.
#[component]
pub fn AliveDot(#[prop(into)] alive: Signal<bool>) -> impl IntoView {
    view! {
        <span class=move || if alive.get() { "health alive" } else { "health expired" }>
            <span class="dot" aria-hidden="true"></span>
            {move || if alive.get() { "alive" } else { "expired" }}
        </span>
    }
}

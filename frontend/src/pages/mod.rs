//! One module per page.

mod agent;
mod agents;
mod analytics;
mod compare;
mod dashboard;
mod node_progress;
mod observability;
mod sign_in;
mod workflow_detail;
mod workflows;

pub use agent::Agent;
pub use agents::Agents;
pub use analytics::Analytics;
pub use compare::Compare;
pub use dashboard::Dashboard;
pub use observability::Observability;
pub use sign_in::{SignIn, SignedInAlready};
pub use workflow_detail::WorkflowDetail;
pub use workflows::Workflows;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. " <a href=crate::api::pages::DASHBOARD>"Back to the dashboard"</a></p>
        </section>
    }
}

//! What storage offers: `Store` is every resource's trait, for an `Arc<dyn Store>`; a
//! caller brings into scope the traits of the methods it calls.

use super::access::AccessStore;
use super::agents::AgentStore;
use super::analytics::AnalyticsStore;
use super::budgets::BudgetStore;
use super::bulk_jobs::BulkJobStore;
use super::dispatches::DispatchStore;
use super::events::EventStore;
use super::runs::RunStore;
use super::seeding::SeedStore;
use super::views::ViewStore;
use super::webhooks::WebhookStore;

pub trait Store:
    RunStore
    + DispatchStore
    + AgentStore
    + EventStore
    + SeedStore
    + BulkJobStore
    + AccessStore
    + AnalyticsStore
    + BudgetStore
    + WebhookStore
    + ViewStore
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

//! The dashboard's working parts below HTTP, made once at start: what the API's
//! handlers call and the background tasks run. None of them knows about HTTP.

use std::sync::Arc;

use crate::analytics::Analytics;
use crate::budgets::Budgets;
use crate::bulk::BulkJobs;
use crate::config::DashboardArgs;
use crate::dispatch::Dispatcher;
use crate::events::EventBus;
use crate::live::Hub;
use crate::starts::Starts;
use crate::store::Store;
use crate::webhooks::Webhooks;

pub struct Services {
    pub store: Arc<dyn Store>,
    pub bus: EventBus,
    pub config: Arc<DashboardArgs>,
    /// Starts runs on agents and follows them to the end.
    pub dispatcher: Dispatcher,
    /// Analytics answers, kept while the data stays the same.
    pub analytics: Analytics,
    /// Live events to every open stream, and the newest of them in memory.
    pub hub: Hub,
    /// Budgets per workflow, enforced on every run change and on starts.
    pub budgets: Arc<Budgets>,
    /// Alerts to outgoing webhooks.
    pub webhooks: Arc<Webhooks>,
    /// Bulk jobs: their selection, their cap, and their work.
    pub bulk: Arc<BulkJobs>,
    /// Runs started and restarted on agents, within budgets.
    pub starts: Arc<Starts>,
}

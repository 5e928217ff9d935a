//! The configurable-agents dashboard server. `serve` runs the very router production
//! runs on any listener, which is how the integration tests start it.

pub mod analytics;
pub mod budgets;
mod bulk;
pub mod callers;
mod cause;
pub mod cli;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod events;
pub mod http;
mod listen;
mod live;
pub mod outbound;
mod run_filter;
mod samples;
pub mod seed;
mod services;
mod starts;
pub mod store;
mod summary;
mod tasks;
mod throttled;
mod token_command;
mod validate;
pub mod webhooks;

// In the library, so every binary that runs the server (the release binary, the one
// the tests and benchmarks start) has it. Measured under concurrent API load (README,
// Benchmarks): glibc's allocator, contended by the reader threads, took a fifth of
// the CPU; with mimalloc (also under SQLite's own allocations) requests/s rose 1.5x.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

use config::DashboardArgs;
use events::EventBus;
use http::AppState;

/// Opens the database, starts the background tasks and serves HTTP on `listener`
/// until `shutdown` resolves; then ends open event streams and drains requests.
pub async fn serve(
    config: DashboardArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mlflow = config
        .mlflow_uri
        .as_deref()
        .map(|uri| http::mlflow::MlflowProxy::new(uri, config.mlflow_timeout))
        .transpose()?;
    let bound = listener.local_addr()?;
    let access = Arc::new(http::auth::Access::new(&config.access, bound)?);
    let origins = Arc::new(http::guard::Origins::new(&config.access, bound));
    let bus = EventBus::default();
    let store = store::connect(&config.database.database_url, bus.clone()).await?;
    // Reachable over loopback when the dashboard listens everywhere.
    let mut reachable = bound;
    if reachable.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    if access.tokens {
        if let Some(secret) = callers::first_admin(store.as_ref()).await? {
            // Printed, never logged: the one place this secret is shown.
            println!(
                "No admin token existed, so one was made. Sign in as admin: http://{reachable}/login#token={secret}"
            );
        }
    }
    let _demo = match config.demo.demo {
        true => Some(demo::start(&format!("http://{reachable}"), &config.demo, store.as_ref(), access.tokens).await?),
        false => None,
    };
    let (stopping, shutdown_signal) = watch::channel(false);
    let timeouts = dispatch::Timeouts {
        answer: config.agent_answer_timeout,
        unreachable: config.agent_unreachable_timeout,
        lease: config.dispatch_lease,
        run: config.run_timeout,
    };
    let dispatcher =
        dispatch::Dispatcher::new(store.clone(), timeouts, outbound::Outbound::agents(config.agent_networks.clone()))?;
    let refusals = http::Refusals::default();
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{reachable}"));
    let webhook_policy = outbound::Outbound::webhooks(config.webhook_networks.clone());
    let webhooks = webhooks::Webhooks::new(store.clone(), &public_url, webhook_policy)?;
    let budgets = budgets::Budgets::load(store.clone(), webhooks.clone()).await?;
    let starts = starts::Starts::new(store.clone(), dispatcher.clone(), budgets.clone());
    let bulk = bulk::BulkJobs::new(store.clone(), dispatcher.clone(), starts.clone());
    let hub = live::Hub::start(store.clone(), &bus);
    let services = Arc::new(services::Services {
        analytics: analytics::Analytics::new(store.clone()),
        hub,
        bulk,
        starts,
        budgets,
        webhooks,
        store,
        bus,
        config: Arc::new(config),
        dispatcher,
    });
    let resumed = services.dispatcher.take_over().await?;
    if resumed > 0 {
        tracing::info!(resumed, "following runs that were in flight on agents");
    }
    let mut background = tasks::spawn(&services);
    let config = &services.config;
    // Lives until the end: a PostgreSQL connection a stream's query opened is polled
    // by the lane, and the background tasks' last queries may use it.
    let lane = listen::Lane::start()?;
    let limits = listen::Limits {
        header_timeout: config.header_timeout,
        shutdown_grace: config.shutdown_grace,
        per_client: config.max_connections_per_client,
        uncapped: config.access.trusted_proxies.clone(),
        refused: refusals.connections_over_cap.clone(),
        event_streams: &http::stream::PATHS,
        stream_lane: lane.handle(),
    };
    let state = AppState::new(http::Shared {
        streams: http::stream::StreamSlots::new(config.max_streams, config.max_streams_per_caller),
        services: services.clone(),
        mlflow,
        shutdown: shutdown_signal,
        access,
        origins,
        refusals,
    });
    let router = http::router(state);
    listen::serve(listener, router, limits, async move {
        shutdown.await;
        // Event streams end now; other requests get the grace period.
        let _ = stopping.send(true);
    })
    .await;
    // Runs in flight stay running in the database; the next start resumes them. The
    // lease is given up last, so that no background renewal takes it again.
    background.shutdown().await;
    services.dispatcher.stop().await;
    Ok(())
}

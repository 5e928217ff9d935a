//! The configurable-agents dashboard server. `serve` runs the very router production
//! runs on any listener, which is how the integration tests start it.

pub mod cli;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod events;
pub mod http;
mod samples;
pub mod seed;
pub mod store;
mod tasks;

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
    let bus = EventBus::default();
    let store = store::connect(&config.database.database_url, bus.clone()).await?;
    let (stopping, shutdown_signal) = watch::channel(false);
    let timeouts = dispatch::Timeouts {
        answer: config.agent_answer_timeout,
        unreachable: config.agent_unreachable_timeout,
        lease: config.dispatch_lease,
    };
    let dispatcher = dispatch::Dispatcher::new(store.clone(), timeouts)?;
    let state = AppState { store, bus, config: Arc::new(config), mlflow, dispatcher, shutdown: shutdown_signal };
    let resumed = state.dispatcher.take_over().await?;
    if resumed > 0 {
        tracing::info!(resumed, "following runs that were in flight on agents");
    }
    let mut background = tasks::spawn(&state);
    let dispatcher = state.dispatcher.clone();
    let grace = state.config.shutdown_grace;
    let mut stopped = state.shutdown.clone();
    let serving = axum::serve(listener, http::router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(true);
    });
    // A client that never finishes its request (or never reads the answer) must not
    // keep the process alive: after the grace period its connection is dropped.
    let overdue = async move {
        let _ = stopped.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = serving => served?,
        _ = overdue => tracing::warn!("requests still open after the shutdown grace period were dropped"),
    }
    // Runs in flight stay running in the database; the next start resumes them. The
    // lease is given up last, so that no background renewal takes it again.
    background.shutdown().await;
    dispatcher.stop().await;
    Ok(())
}

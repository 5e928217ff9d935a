//! The configurable-agents dashboard server. `serve` runs the very router production
//! runs on any listener, which is how the integration tests start it.

pub mod access;
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
mod token_command;

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
    let access = Arc::new(http::access::Access::new(&config.access, bound)?);
    let origins = Arc::new(http::guard::Origins::new(&config.access, bound));
    let bus = EventBus::default();
    let store = store::connect(&config.database.database_url, bus.clone()).await?;
    // Reachable over loopback when the dashboard listens everywhere.
    let mut reachable = bound;
    if reachable.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    if access.tokens {
        if let Some(secret) = access::first_admin(store.as_ref()).await? {
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
    };
    let dispatcher = dispatch::Dispatcher::new(store.clone(), timeouts)?;
    let state = AppState {
        store,
        bus,
        config: Arc::new(config),
        mlflow,
        dispatcher,
        shutdown: shutdown_signal,
        access,
        origins,
    };
    let resumed = state.dispatcher.take_over().await?;
    if resumed > 0 {
        tracing::info!(resumed, "following runs that were in flight on agents");
    }
    let mut background = tasks::spawn(&state);
    let dispatcher = state.dispatcher.clone();
    let grace = state.config.shutdown_grace;
    let mut stopped = state.shutdown.clone();
    let app = http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
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

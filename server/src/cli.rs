//! What the binary does with its command line.

use clap::Parser;
use std::process::ExitCode;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{Cli, Command, DashboardCommand};

/// The whole of the binary's `main`: parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        .init();
    let result = match cli.command {
        Command::Dashboard(args) => dashboard(args).await,
        Command::DemoAgent(args) => crate::demo::agent::run(args).await,
        Command::Seed(args) => crate::seed::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dashboard(DashboardCommand { server: args, demo }: DashboardCommand) -> anyhow::Result<()> {
    let listener = TcpListener::bind((args.host.as_str(), args.port)).await?;
    let address = listener.local_addr()?;
    tracing::info!(
        "dashboard on http://{address} (database {}, MLflow {})",
        redacted(&args.database.database_url),
        args.mlflow_uri.as_deref().unwrap_or("not configured")
    );
    // The demo's agents reach the dashboard over loopback when it listens everywhere.
    let mut reachable = address;
    if reachable.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let _demo = match demo.demo {
        true => Some(crate::demo::start(&format!("http://{reachable}"), &demo).await?),
        false => None,
    };
    crate::serve(args, listener, shutdown_signal()).await
}

/// The URL without its password, for logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(super::redacted("postgres://u:secret@db/x"), "postgres://***@db/x");
        assert_eq!(super::redacted("sqlite://a.db"), "sqlite://a.db");
    }
}

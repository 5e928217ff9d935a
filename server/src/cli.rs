//! The command line: its commands, and what the binary does with them.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{DashboardArgs, SeedArgs, TokenCommand};

#[derive(Debug, Parser)]
#[command(
    name = "configurable-agents",
    version,
    about = "Control plane and live dashboard for configurable-agents workflows"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the dashboard: REST + SSE API and the web UI.
    Dashboard(Box<DashboardArgs>),
    /// Run a demo agent: serves sample workflows with simulated LLM calls and
    /// registers with a dashboard.
    DemoAgent(crate::demo::agent::AgentArgs),
    /// Fill a database with realistic sample runs, node states, logs and agents.
    Seed(SeedArgs),
    /// Manage access tokens (for `dashboard --auth tokens`).
    #[command(subcommand)]
    Token(TokenCommand),
}

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
    // Logs on stderr; stdout carries only what a command prints for people (a new
    // token's secret, the first admin's sign-in link).
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Dashboard(args) => dashboard(*args).await,
        Command::DemoAgent(args) => crate::demo::agent::run(args).await,
        Command::Seed(args) => crate::seed::run(args).await,
        Command::Token(command) => crate::token_command::run(command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dashboard(args: DashboardArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind((args.host.as_str(), args.port)).await?;
    let address = listener.local_addr()?;
    tracing::info!(
        "dashboard on http://{address} (database {}, MLflow {})",
        redacted(&args.database.database_url),
        args.mlflow_uri.as_deref().unwrap_or("not configured")
    );
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
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(super::redacted("postgres://u:secret@db/x"), "postgres://***@db/x");
        assert_eq!(super::redacted("sqlite://a.db"), "sqlite://a.db");
    }
}

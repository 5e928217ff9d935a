//! Command-line and environment configuration.

use clap::{Args, Parser, Subcommand};
use std::time::Duration;

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
    Dashboard(DashboardCommand),
    /// Run a demo agent: serves sample workflows with simulated LLM calls and
    /// registers with a dashboard.
    DemoAgent(crate::demo::agent::AgentArgs),
    /// Fill a database with realistic sample runs, node states, logs and agents.
    Seed(SeedArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DashboardCommand {
    #[command(flatten)]
    pub server: DashboardArgs,
    #[command(flatten)]
    pub demo: crate::demo::DemoArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DashboardArgs {
    /// Address to bind. The default keeps the dashboard private to this machine;
    /// use 0.0.0.0 to expose it (behind your own authentication).
    #[arg(long, env = "DASHBOARD_HOST", default_value = "127.0.0.1")]
    pub host: String,

    #[arg(long, env = "DASHBOARD_PORT", default_value_t = 7861)]
    pub port: u16,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// MLflow tracking server to embed under /mlflow/, e.g. http://127.0.0.1:5000.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub mlflow_uri: Option<String>,

    /// How long to wait for MLflow's response headers before answering 504.
    #[arg(long, env = "DASHBOARD_MLFLOW_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub mlflow_timeout: Duration,

    /// How long an expired agent stays listed (marked expired) before it is removed.
    #[arg(long, env = "DASHBOARD_AGENT_GRACE", default_value = "600", value_parser = parse_seconds)]
    pub agent_grace: Duration,

    /// How long live events are kept for `Last-Event-ID` resume.
    #[arg(long, env = "DASHBOARD_EVENT_RETENTION", default_value = "86400", value_parser = parse_seconds)]
    pub event_retention: Duration,

    /// Seconds between keep-alive comments on idle event streams.
    #[arg(long, env = "DASHBOARD_SSE_KEEP_ALIVE", default_value = "15", value_parser = parse_seconds)]
    pub sse_keep_alive: Duration,

    /// Longest wait for an agent's answer to `POST /run`. Agents of the original kind
    /// answer within their 30 s sync timeout (with a job id if still running).
    #[arg(long, env = "DASHBOARD_AGENT_ANSWER_TIMEOUT", default_value = "60", value_parser = parse_seconds)]
    pub agent_answer_timeout: Duration,

    /// How long an agent running a job may leave status questions unanswered before
    /// its run fails.
    #[arg(long, env = "DASHBOARD_AGENT_UNREACHABLE_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub agent_unreachable_timeout: Duration,

    /// How long runs this dashboard follows on agents stay its own if it stops renewing
    /// its claim (it crashed); then a replica, or its next start, takes them over.
    #[arg(long, env = "DASHBOARD_DISPATCH_LEASE", default_value = "15", value_parser = parse_lease)]
    pub dispatch_lease: Duration,

    /// On SIGINT/SIGTERM, how long requests in progress may take to finish; then the
    /// remaining connections are closed and the process ends.
    #[arg(long, env = "DASHBOARD_SHUTDOWN_GRACE", default_value = "10", value_parser = parse_seconds)]
    pub shutdown_grace: Duration,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "DASHBOARD_MAX_BODY", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://FILE` (created on first start) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://configurable_agents.db")]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Number of workflow runs to create.
    #[arg(long, default_value_t = 1000)]
    pub runs: u64,

    /// Number of agents to register (half of them alive).
    #[arg(long, default_value_t = 8)]
    pub agents: u64,

    /// Log lines per run.
    #[arg(long, default_value_t = 4)]
    pub logs_per_run: u64,

    /// Spread run start times over this many past days.
    #[arg(long, default_value_t = 30)]
    pub days: u64,

    /// Seed of the random generator, for reproducible data.
    #[arg(long, default_value_t = 7861)]
    pub random_seed: u64,
}

pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<u64>().map(Duration::from_secs).map_err(|_| format!("`{text}` is not a whole number of seconds"))
}

/// A zero lease would be renewed in a busy loop.
fn parse_lease(text: &str) -> Result<Duration, String> {
    let lease = parse_seconds(text)?;
    if lease.is_zero() {
        return Err("the lease is at least 1 second".to_owned());
    }
    Ok(lease)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}

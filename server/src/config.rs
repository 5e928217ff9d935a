//! Configuration of each command, from flags and environment variables.

use clap::{Args, ValueEnum};
use ipnet::IpNet;
use shared::Role;
use std::net::IpAddr;
use std::time::Duration;

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
    #[arg(long, env = "DASHBOARD_SSE_KEEP_ALIVE", default_value = "15", value_parser = parse_positive_seconds)]
    pub sse_keep_alive: Duration,

    /// Longest wait for an agent's answer to `POST /run`. Agents of the original kind
    /// answer within their 30 s sync timeout (with a job id if still running).
    #[arg(long, env = "DASHBOARD_AGENT_ANSWER_TIMEOUT", default_value = "60", value_parser = parse_seconds)]
    pub agent_answer_timeout: Duration,

    /// How long an agent running a job may leave status questions unanswered before
    /// its run fails.
    #[arg(long, env = "DASHBOARD_AGENT_UNREACHABLE_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub agent_unreachable_timeout: Duration,

    /// Longest a run may take on an agent; then it fails and the agent is told to stop.
    #[arg(long, env = "DASHBOARD_RUN_TIMEOUT", default_value = "86400", value_parser = parse_positive_seconds)]
    pub run_timeout: Duration,

    /// Networks (CIDR, or single addresses) agents may be on; the dashboard connects to
    /// no other address. Link-local, multicast and broadcast addresses never.
    #[arg(
        long = "agent-networks",
        env = "DASHBOARD_AGENT_NETWORKS",
        value_delimiter = ',',
        value_parser = parse_network,
        default_value = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
    )]
    pub agent_networks: Vec<IpNet>,

    /// How long runs this dashboard follows on agents stay its own if it stops renewing
    /// its claim (it crashed); then a replica, or its next start, takes them over.
    #[arg(long, env = "DASHBOARD_DISPATCH_LEASE", default_value = "15", value_parser = parse_positive_seconds)]
    pub dispatch_lease: Duration,

    /// On SIGINT/SIGTERM, how long requests in progress may take to finish; then the
    /// remaining connections are closed and the process ends.
    #[arg(long, env = "DASHBOARD_SHUTDOWN_GRACE", default_value = "10", value_parser = parse_seconds)]
    pub shutdown_grace: Duration,

    /// The dashboard's URL as webhook receivers reach it, for the links in alerts;
    /// default: the address it listens on.
    #[arg(long, env = "DASHBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Most event streams open at once; beyond it new ones get 503 with Retry-After.
    #[arg(long, env = "DASHBOARD_MAX_STREAMS", default_value_t = 10_000)]
    pub max_streams: usize,

    /// How long a client may take to send a request's headers; also how long a
    /// keep-alive connection may sit idle.
    #[arg(long, env = "DASHBOARD_HEADER_TIMEOUT", default_value = "30", value_parser = parse_positive_seconds)]
    pub header_timeout: Duration,

    /// Largest accepted request body, in bytes (the MLflow proxy's too).
    #[arg(long, env = "DASHBOARD_MAX_BODY", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// How long a request's body may take to arrive, from its first byte to its last.
    #[arg(long, env = "DASHBOARD_BODY_TIMEOUT", default_value = "60", value_parser = parse_positive_seconds)]
    pub body_timeout: Duration,

    /// Connections one client address may hold open at once (0: no cap); beyond it new
    /// ones are closed at once. `--trusted-proxy` addresses are not capped.
    #[arg(long, env = "DASHBOARD_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 256)]
    pub max_connections_per_client: usize,

    /// Event streams one caller (a token, a browser session, or without sign-in a
    /// client address) may hold open at once; beyond it 429.
    #[arg(long, env = "DASHBOARD_MAX_STREAMS_PER_CALLER", default_value_t = 64)]
    pub max_streams_per_caller: usize,

    /// Networks (CIDR, or single addresses) besides the public internet that webhooks
    /// may be sent to: loopback and private addresses are refused unless listed.
    /// Link-local (cloud metadata), multicast and broadcast addresses never.
    #[arg(long = "webhook-networks", env = "DASHBOARD_WEBHOOK_NETWORKS", value_delimiter = ',', value_parser = parse_network)]
    pub webhook_networks: Vec<IpNet>,

    /// Most US dollars one run may report (node reports and totals): a report beyond it
    /// is refused (422), so that a wrong or hostile reporter cannot exhaust a budget.
    #[arg(long, env = "DASHBOARD_MAX_RUN_COST", default_value_t = 10_000.0, value_parser = parse_amount)]
    pub max_run_cost_usd: f64,

    /// Most tokens one run may report, as `--max-run-cost-usd`.
    #[arg(long, env = "DASHBOARD_MAX_RUN_TOKENS", default_value_t = 1_000_000_000,
        value_parser = clap::value_parser!(i64).range(1..=crate::store::limits::MAX_TOKENS))]
    pub max_run_tokens: i64,

    #[command(flatten)]
    pub access: AccessArgs,

    #[command(flatten)]
    pub demo: DemoArgs,
}

/// Who may reach the dashboard, and how callers prove who they are.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// A host name (or address) to answer to besides localhost, 127.0.0.1, [::1] and
    /// the bound address (repeatable, or a comma list). Requests naming any other Host
    /// get 421, so that a web page on a name that resolves here cannot reach the API.
    #[arg(long = "allowed-host", env = "DASHBOARD_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// An origin (`scheme://host:port`) whose pages may send changes (repeatable, or a
    /// comma list). Without it, pages on loopback origins (`trunk serve`) may.
    #[arg(long = "allowed-origin", env = "DASHBOARD_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// `none`: open to the processes that can reach it (a loopback bind only);
    /// `tokens`: every request carries a token or a signed-in session, with roles.
    #[arg(long, env = "DASHBOARD_AUTH", value_enum, default_value = "none")]
    pub auth: AuthMode,

    /// Serve a non-loopback address without `--auth tokens` anyway (not recommended).
    #[arg(long, env = "DASHBOARD_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,

    /// With `--auth tokens`: the header in which an SSO proxy in front (oauth2-proxy
    /// and the like) names the signed-in user. Only trusted from `--trusted-proxy`.
    #[arg(long, env = "DASHBOARD_TRUSTED_USER_HEADER")]
    pub trusted_user_header: Option<String>,

    /// Addresses (CIDR, or single addresses) of the SSO proxy (repeatable, or a comma list).
    #[arg(long = "trusted-proxy", env = "DASHBOARD_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<IpNet>,

    /// The role of users signed in by the trusted header, unless `--user-role` names them.
    #[arg(long, env = "DASHBOARD_DEFAULT_ROLE", default_value = "viewer")]
    pub default_role: Role,

    /// `USER=ROLE` for users signed in by the trusted header (repeatable, or a comma list).
    #[arg(long = "user-role", env = "DASHBOARD_USER_ROLES", value_delimiter = ',', value_parser = parse_user_role)]
    pub user_roles: Vec<(String, Role)>,

    /// Failed sign-ins and bad tokens one client address may send within a minute;
    /// beyond it the address gets 429 until the minute is over.
    #[arg(long, env = "DASHBOARD_AUTH_FAILURE_LIMIT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failure_limit: u32,

    /// Hours a browser session lasts after sign-in.
    #[arg(long, env = "DASHBOARD_SESSION_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub session_hours: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    None,
    Tokens,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Also run demo agents in this process, and start runs on them steadily.
    #[arg(long, env = "DASHBOARD_DEMO")]
    pub demo: bool,

    /// With --demo: seconds between two new runs (0: agents only, no runs).
    #[arg(long, env = "DASHBOARD_DEMO_INTERVAL", default_value = "4", value_parser = parse_seconds)]
    pub demo_interval: Duration,
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

/// A network in CIDR notation, or one address.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not an address or a network in CIDR notation (10.0.0.0/8)"))
}

/// A positive amount of US dollars within the stored bounds.
fn parse_amount(text: &str) -> Result<f64, String> {
    let max = crate::store::limits::MAX_COST_USD;
    match text.parse::<f64>() {
        Ok(amount) if amount.is_finite() && amount > 0.0 && amount <= max => Ok(amount),
        _ => Err(format!("`{text}` is not an amount between 0 and {max}")),
    }
}

fn parse_user_role(text: &str) -> Result<(String, Role), String> {
    let (user, role) = text.split_once('=').ok_or_else(|| format!("`{text}` is not USER=ROLE"))?;
    Ok((user.trim().to_owned(), role.trim().parse()?))
}

/// For periods that zero would turn into a busy loop (a lease renewed, a keep-alive
/// sent, without pause) or into refusing everything.
fn parse_positive_seconds(text: &str) -> Result<Duration, String> {
    let seconds = parse_seconds(text)?;
    if seconds.is_zero() {
        return Err("must be at least 1 second".to_owned());
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_that_must_not_be_zero_refuse_it() {
        assert!(parse_positive_seconds("0").is_err(), "a zero keep-alive would make streams spin");
        assert_eq!(parse_positive_seconds("15").unwrap(), Duration::from_secs(15));
    }

    #[test]
    fn networks_and_user_roles_parse() {
        assert_eq!(parse_network("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_network("192.168.1.7").unwrap().to_string(), "192.168.1.7/32");
        assert_eq!(parse_network("::1").unwrap().to_string(), "::1/128");
        assert!(parse_network("example.com").is_err());
        assert_eq!(parse_user_role("alice=admin").unwrap(), ("alice".to_owned(), Role::Admin));
        assert!(parse_user_role("alice").is_err());
        assert!(parse_user_role("alice=root").is_err());
    }
}

/// `token create|list|revoke`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenCommand {
    /// Make a token and print its secret (shown this once).
    Create(CreateTokenArgs),
    /// List tokens: name, role, agent ids, created, last used, expiry (never secrets).
    List(DatabaseArgs),
    /// Delete a token; requests and browser sessions using it stop working at once.
    Revoke(RevokeTokenArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CreateTokenArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    #[arg(long)]
    pub role: Role,

    /// A name for people and the audit log (default: the role and a random suffix).
    #[arg(long)]
    pub name: Option<String>,

    /// For agent tokens: an agent id it may register (repeatable). Without any, the
    /// token owns the agent ids it registers first.
    #[arg(long = "agent-id")]
    pub agent_ids: Vec<String>,

    /// For agent tokens: a workflow its agents may serve and it may record runs of
    /// (repeatable). Without any, the workflows its agents declare.
    #[arg(long = "workflow")]
    pub workflows: Vec<String>,

    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct RevokeTokenArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    pub name: String,
}

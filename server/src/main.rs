use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::cli::run(server::config::Cli::parse()).await
}

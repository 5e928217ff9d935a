//! The data both benchmarks run on: `runs` runs over 90 days, 20 agents, two log lines
//! per run, always the same for the same count.

use server::config::{DatabaseArgs, SeedArgs};
use std::time::{Duration, Instant};

/// Seeds the database at `url`; returns how long it took.
pub async fn seed(url: &str, runs: u64) -> Duration {
    let started = Instant::now();
    server::seed::run(SeedArgs {
        database: DatabaseArgs { database_url: url.to_owned() },
        runs,
        agents: 20,
        logs_per_run: 2,
        days: 90,
        random_seed: 1,
    })
    .await
    .expect("seed");
    started.elapsed()
}

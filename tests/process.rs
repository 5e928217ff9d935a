//! The dashboard as a process of its own, for what only a real process shows: SIGKILL
//! in the middle of writes, SIGTERM with clients still connected.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::Api;

pub struct Process {
    child: Child,
    pub api: Api,
}

impl std::ops::Deref for Process {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Process {
    /// Starts `dashboard` on `database_url` and a free loopback port, with `extra`
    /// arguments, and waits until it answers.
    pub async fn start(database_url: &str, extra: &[&str]) -> Process {
        Self::spawn("127.0.0.1", database_url, extra, Stdio::null(), Stdio::inherit()).await
    }

    /// With its log (standard error) written to `log`.
    #[allow(dead_code)]
    pub async fn start_logged(database_url: &str, extra: &[&str], log: &std::path::Path) -> Process {
        let log = std::fs::File::create(log).expect("create the log file");
        Self::spawn("127.0.0.1", database_url, extra, Stdio::null(), log.into()).await
    }

    /// Bound to `host` (reached over loopback).
    pub async fn start_on(host: &str, database_url: &str, extra: &[&str]) -> Process {
        Self::spawn(host, database_url, extra, Stdio::null(), Stdio::inherit()).await
    }

    /// With its standard output kept for `stdout`.
    pub async fn start_piped(database_url: &str, extra: &[&str]) -> Process {
        Self::spawn("127.0.0.1", database_url, extra, Stdio::piped(), Stdio::inherit()).await
    }

    async fn spawn(host: &str, database_url: &str, extra: &[&str], stdout: Stdio, stderr: Stdio) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_dashboard-under-test"))
            .args(["dashboard", "--host", host, "--port", &port.to_string(), "--database-url", database_url])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start the dashboard process");
        let process = Process { child, api: Api::new(format!("http://127.0.0.1:{port}")) };
        process.api.wait_until_ready().await;
        process
    }

    /// What the process printed (started with `start_piped`), line by line.
    pub fn stdout(&mut self) -> std::io::BufReader<&mut std::process::ChildStdout> {
        std::io::BufReader::new(self.child.stdout.as_mut().expect("started with start_piped"))
    }

    /// Resident memory, in MB. Only the load bench measures it; tests assert behaviour.
    #[allow(dead_code)]
    pub fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS")).expect("VmRSS in /proc/PID/status");
        let kib: f64 = line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).unwrap();
        kib / 1024.0
    }

    /// SIGKILL: the process ends at once, mid-write, with nothing cleaned up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the process to end; returns how long it took, or
    /// `None` if it was still running after `patience` (it is killed then).
    pub async fn terminate(&mut self, patience: Duration) -> Option<Duration> {
        let sent = Instant::now();
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM failed");
        while sent.elapsed() < patience {
            if self.child.try_wait().unwrap().is_some() {
                return Some(sent.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill();
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

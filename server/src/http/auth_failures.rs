//! Failed authentication (an unknown, expired or revoked token or session, unreadable
//! credentials, a wrong token at sign-in): counted for `/api/health`, logged and
//! audited twice a minute per client at most, and slowed: after `--auth-failure-limit`
//! failures within a minute, a client's next failures are answered 429 (with when to
//! try again) until the minute is over. Credentials that hold are never refused, so a
//! guesser behind the same address as everyone else locks nobody out. Clients are
//! addresses, IPv6 ones by their /64 (one host holds a whole /64). Guessing a 256-bit
//! secret is hopeless anyway; this keeps the guessing from costing the dashboard its
//! log and its audit table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::ApiError;
use crate::store::access::{Actor, Audit};
use crate::store::Store;

const WINDOW: Duration = Duration::from_secs(60);
/// Audit entries for failures in a window, over all clients: many addresses guessing
/// at once cannot fill the audit log (they are still counted).
const AUDITED: u32 = 100;
/// Clients remembered; beyond this, windows that ended are forgotten, and if that is
/// not enough, all of them (memory stays bounded whatever the addresses).
const REMEMBERED: usize = 100_000;

pub struct AuthFailures {
    /// Failures a client may have within a window before it must wait.
    allowed: u32,
    clients: Mutex<HashMap<IpAddr, Window>>,
    audited: Mutex<Option<Window>>,
    failures: AtomicU64,
    throttled: AtomicU64,
}

/// Whom a failure counts against: the client (`auth::client_key`).
fn key(client: Option<IpAddr>) -> IpAddr {
    client.map_or(IpAddr::from([0, 0, 0, 0]), super::auth::client_key)
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

impl Window {
    fn current(window: Option<Window>, now: Instant) -> Window {
        window.filter(|w| now.duration_since(w.started) < WINDOW).unwrap_or(Window { started: now, count: 0 })
    }
}

impl AuthFailures {
    pub fn new(allowed: u32) -> AuthFailures {
        AuthFailures {
            allowed,
            clients: Mutex::default(),
            audited: Mutex::default(),
            failures: AtomicU64::default(),
            throttled: AtomicU64::default(),
        }
    }

    /// Answers a failure of `client`: 401 as it was, or 429 once the client has had
    /// its share of failures this minute. The first failure of a window and the one
    /// that starts the wait are logged and audited.
    pub fn refuse(&self, store: &Arc<dyn Store>, client: Option<IpAddr>, why: &str) -> Result<(), ApiError> {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let window = {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            if clients.len() >= REMEMBERED {
                clients.retain(|_, w| now.duration_since(w.started) < WINDOW);
                if clients.len() >= REMEMBERED {
                    clients.clear();
                }
            }
            let window = clients.entry(key(client)).or_insert(Window { started: now, count: 0 });
            *window = Window::current(Some(*window), now);
            window.count += 1;
            *window
        };
        if window.count > self.allowed {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            let wait = WINDOW.saturating_sub(now.duration_since(window.started));
            return Err(ApiError::TooMany {
                message: "too many failed sign-ins or bad tokens from this address; try again later".to_owned(),
                retry_after: wait.as_secs().max(1),
            });
        }
        if window.count == 1 || window.count == self.allowed {
            self.note(store, client, why, window.count, now);
        }
        Ok(())
    }

    fn note(&self, store: &Arc<dyn Store>, client: Option<IpAddr>, why: &str, count: u32, now: Instant) {
        let shown = client.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
        let throttled = count == self.allowed;
        tracing::warn!(client = %shown, failures = count, throttled, "failed authentication: {why}");
        if !self.may_audit(now) {
            return;
        }
        let detail = match throttled {
            true => format!("{why} ({count} failures this minute: further failures wait)"),
            false => why.to_owned(),
        };
        let audit = Audit {
            actor: Actor { name: "anonymous".to_owned(), token_id: None },
            action: "auth.failed",
            target: shown,
            detail: Some(detail),
        };
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.record_audit(audit).await {
                tracing::warn!(%error, "could not audit a failed authentication");
            }
        });
    }

    fn may_audit(&self, now: Instant) -> bool {
        let mut audited = self.audited.lock().unwrap_or_else(|e| e.into_inner());
        let mut window = Window::current(*audited, now);
        window.count += 1;
        *audited = Some(window);
        window.count <= AUDITED
    }

    /// Failures since start, and those answered 429 while their client waited.
    pub fn counts(&self) -> (u64, u64) {
        (self.failures.load(Ordering::Relaxed), self.throttled.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_host_counts_as_its_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(key(Some(one)), key(Some(other)));
        assert_ne!(key(Some(one)), key(Some("2001:db8:1:3::1".parse().unwrap())));
        assert_eq!(key(Some("::ffff:10.0.0.1".parse().unwrap())), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}

//! Failed authentication (an unknown, expired or revoked token or session, unreadable
//! credentials, a wrong token at sign-in): counted for `/api/health`, logged and
//! audited at most a few times a minute per client, and slowed: after
//! `--auth-failure-limit` failures within a minute, a client's next attempts get 429
//! until the minute is over, without a database read. Guessing a 256-bit secret is hopeless anyway; this
//! keeps the guessing from costing the dashboard its log, its audit table and its reads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::access::{Actor, Audit};
use crate::store::Store;

const WINDOW: Duration = Duration::from_secs(60);
/// Audit entries for failures in a window, over all clients: many addresses guessing
/// at once cannot fill the audit log (they are still counted).
const AUDITED: u32 = 100;
/// Clients remembered; beyond this, windows that ended are forgotten.
const REMEMBERED: usize = 100_000;

pub struct AuthFailures {
    /// Failures a client may have within a window before it must wait.
    allowed: u32,
    clients: Mutex<HashMap<IpAddr, Window>>,
    audited: Mutex<Option<Window>>,
    failures: AtomicU64,
    throttled: AtomicU64,
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

    /// How long `client` must wait before its credentials are looked at again.
    pub fn wait(&self, client: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let window = Window::current(clients.get(&client?).copied(), now);
        (window.count >= self.allowed).then(|| {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            WINDOW.saturating_sub(now.duration_since(window.started))
        })
    }

    /// Counts a failure of `client`; the first few of each window are logged and audited.
    pub fn record(&self, store: &Arc<dyn Store>, client: Option<IpAddr>, why: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let count = {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            if clients.len() >= REMEMBERED {
                clients.retain(|_, w| now.duration_since(w.started) < WINDOW);
            }
            let key = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
            let window = clients.entry(key).or_insert(Window { started: now, count: 0 });
            *window = Window::current(Some(*window), now);
            window.count += 1;
            window.count
        };
        if count > self.allowed {
            return;
        }
        let shown = client.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
        if count == 1 || count == self.allowed {
            let throttled = count == self.allowed;
            tracing::warn!(client = %shown, failures = count, throttled, "failed authentication: {why}");
        }
        if !self.may_audit(now) {
            return;
        }
        let audit = Audit {
            actor: Actor { name: "anonymous".to_owned(), token_id: None },
            action: "auth.failed",
            target: shown,
            detail: Some(why.to_owned()),
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

    /// Failures since start, and attempts refused while their client waited.
    pub fn counts(&self) -> (u64, u64) {
        (self.failures.load(Ordering::Relaxed), self.throttled.load(Ordering::Relaxed))
    }
}

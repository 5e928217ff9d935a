//! Accepting connections: hyper's HTTP/1 server with what `axum::serve` leaves out. A
//! client must send a request's headers within `--header-timeout`, which also ends
//! keep-alive connections left idle that long, and may hold at most
//! `--max-connections-per-client` connections at once (slowloris: bodies have their
//! own deadline, `body_guard`); each request carries its peer address (`ConnectInfo`);
//! shutdown lets requests finish for the grace period and then drops what is left.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower::ServiceExt;

#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Connections one address may hold; 0: no cap.
    pub per_client: usize,
    /// Addresses without a cap (the reverse proxies in front).
    pub uncapped: Vec<IpNet>,
    /// Connections closed for being over the cap.
    pub refused: Arc<AtomicU64>,
}

/// Open connections by client address.
#[derive(Clone, Default)]
struct Clients(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One admitted connection; gives its place back when dropped.
struct Admitted(Clients, IpAddr);

impl Clients {
    fn admit(&self, ip: IpAddr, max: usize) -> Option<Admitted> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Admitted(self.clone(), ip))
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.0 .0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.1) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let clients = Clients::default();
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                // Out of file descriptors or the like: let connections end, then go on.
                Err(error) => {
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let ip = peer.ip().to_canonical();
        let capped = limits.per_client > 0 && !limits.uncapped.iter().any(|net| net.contains(&ip));
        let admitted = match capped {
            true => match clients.admit(ip, limits.per_client) {
                Some(admitted) => Some(admitted),
                None => {
                    limits.refused.fetch_add(1, Ordering::Relaxed);
                    if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                        last_warning = Some(Instant::now());
                        tracing::warn!(client = %ip, "closed a connection: the client has --max-connections-per-client open");
                    }
                    continue;
                }
            },
            false => None,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _admitted = admitted;
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still open after the shutdown grace period were dropped");
        }
    }
}

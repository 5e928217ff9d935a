//! Accepting connections: hyper's HTTP/1 server with what `axum::serve` leaves out,
//! and event streams on a lighter connection of their own (`streams`), served on a
//! lower-priority thread (`lane`). A client must
//! send a request's headers within `--header-timeout`, which also ends keep-alive
//! connections left idle that long (hyper's clock for a connection's first request
//! starts when the peek for its first bytes ends, so that one may take up to twice
//! as long from connecting), may hold at most `--max-connections-per-client`
//! connections at once (an IPv6 client counts by its /64), and loses its connection
//! when it stops reading an answer (`stalling`; bodies have their own deadline,
//! `body_guard`); each request carries its peer address (`ConnectInfo`); shutdown lets
//! requests finish for the grace period and then drops what is left.

mod lane;
mod stalling;
mod streams;

pub use lane::Lane;

use crate::http::auth::client_key;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use stalling::Stalling;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use streams::Route;
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
    /// The paths of event streams, served by `streams`.
    pub event_streams: &'static [&'static str],
    /// Where event streams' connections are served (`Lane`).
    pub stream_lane: tokio::runtime::Handle,
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
    let mut over_cap = crate::throttled::Throttled::every(Duration::from_secs(60));
    // Ends the wait for a connection's first bytes (hyper closes its idle ones itself).
    let (closing, closed) = tokio::sync::watch::channel(false);
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
            true => match clients.admit(client_key(ip), limits.per_client) {
                Some(admitted) => Some(admitted),
                None => {
                    limits.refused.fetch_add(1, Ordering::Relaxed);
                    if let Some(closed) = over_cap.count(1) {
                        tracing::warn!(client = %ip, closed, "closed connections: the client has --max-connections-per-client open (closed since the last such warning)");
                    }
                    continue;
                }
            },
            false => None,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        // Held by an event stream's connection too, unwatched (streams end themselves at
        // shutdown): the drain below waits for it.
        let watcher = graceful.watcher();
        let (http, event_streams, lane) = (http.clone(), limits.event_streams, limits.stream_lane.clone());
        let head_by = tokio::time::Instant::now() + limits.header_timeout;
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let route = tokio::select! {
                route = streams::route(&stream, event_streams, head_by) => route,
                _ = closed.wait_for(|closed| *closed) => Route::Gone,
            };
            match route {
                Route::Gone => {}
                Route::Stream => {
                    let Ok(stream) = stream.into_std() else { return };
                    lane.spawn(async move {
                        let (_admitted, _draining) = (admitted, watcher);
                        match tokio::net::TcpStream::from_std(stream) {
                            Ok(stream) => streams::serve(Stalling::new(stream), peer, router, head_by).await,
                            Err(error) => tracing::debug!(%error, "could not hand a stream to its lane"),
                        }
                    });
                }
                Route::Hyper => {
                    let _admitted = admitted;
                    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        router.clone().oneshot(request.map(Body::new))
                    });
                    let io = TokioIo::new(Stalling::new(stream));
                    if let Err(error) = watcher.watch(http.serve_connection(io, service)).await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still open after the shutdown grace period were dropped");
        }
    }
}

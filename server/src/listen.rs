//! Accepting connections: hyper's HTTP/1 server with what `axum::serve` leaves out. A
//! client must send a request's headers within `--header-timeout`, which also ends
//! keep-alive connections left idle that long, may hold at most
//! `--max-connections-per-client` connections at once (an IPv6 client counts by its
//! /64), and loses its connection when it stops reading an answer for `WRITE_STALL`
//! (slowloris: bodies have their own deadline, `body_guard`); each request carries its
//! peer address (`ConnectInfo`); shutdown lets requests finish for the grace period and
//! then drops what is left.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::Sleep;
use tower::ServiceExt;

/// How long a write may wait for a client that reads nothing (an export, an event
/// stream's keep-alive): then the connection is dropped.
const WRITE_STALL: Duration = Duration::from_secs(60);

/// Whom a client is, for per-client caps: its address, an IPv6 one by its /64 (one
/// host is given a whole /64 and may speak from any address in it).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (!0u128 << 64)).into()),
        v4 => v4,
    }
}

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
    let mut over_cap = crate::throttled::Throttled::every(Duration::from_secs(60));
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
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(Body::new))
        });
        let stream = Stalling { io: stream, blocked: None };
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

/// A connection whose writes fail once one has waited `WRITE_STALL` for the client to
/// read.
struct Stalling<T> {
    io: T,
    /// Since when a write has been waiting.
    blocked: Option<Pin<Box<Sleep>>>,
}

impl<T: AsyncWrite + Unpin> Stalling<T> {
    /// `done` as it is, resetting the clock; or, while it waits, the stall's error
    /// once the clock runs out.
    fn watch<R>(&mut self, cx: &mut Context<'_>, done: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if done.is_ready() {
            self.blocked = None;
            return done;
        }
        let clock = self.blocked.get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL)));
        match clock.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stalling<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stalling<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, done)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(cx, done)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, done)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

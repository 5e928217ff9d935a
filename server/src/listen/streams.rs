//! Event-stream connections, served without hyper's connection. Hyper keeps a read
//! and a write buffer of 8 KiB for as long as a connection is open and has no setting
//! for their size; an event stream stays open for hours and is written a few hundred
//! bytes at a time, so those two buffers were two thirds of what an idle browser cost
//! (README, Thousands of browsers). A connection whose first request line asks for an
//! event stream (peeked, so nothing is consumed) is read here with `httparse` and its
//! request handed to the same router as every other request (the gate sees the same
//! thing); the answer is written chunked, frames that are ready together in one
//! write, and the connection closes after it, as an `EventSource` expects.

use crate::http::error::error_response;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use axum::Router;
use futures_util::FutureExt;
use http_body::Body as _;
use http_body_util::BodyExt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tower::ServiceExt;

/// The longest request head read here; a stream's request has a handful of headers.
const MAX_HEAD: u64 = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// Frames written together when several are ready (a replay, a burst).
const MAX_BATCH: usize = 64;

/// Where a new connection goes.
pub enum Route {
    /// Its first request asks for an event stream.
    Stream,
    /// Anything else, or a request line too long to decide from: hyper.
    Hyper,
    /// It sent nothing in time, or left.
    Gone,
}

/// Decides from the first request line, peeked: a `GET` whose path is one of `paths`.
pub async fn route(stream: &TcpStream, paths: &[&str], head_by: Instant) -> Route {
    let mut line = [0u8; 512];
    let seen = match tokio::time::timeout_at(head_by, stream.peek(&mut line)).await {
        Ok(Ok(seen)) if seen > 0 => seen,
        _ => return Route::Gone,
    };
    let target = line[..seen].strip_prefix(b"GET ").and_then(|rest| rest.split(|&b| b == b' ').next());
    let path = target.filter(|_| line[..seen].contains(&b'\n')).map(|t| t.split(|&b| b == b'?').next().unwrap_or(t));
    match path {
        Some(path) if paths.iter().any(|p| p.as_bytes() == path) => Route::Stream,
        _ => Route::Hyper,
    }
}

/// Serves one request on `io`, whose head must have come by `head_by`, then closes it.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, peer: SocketAddr, router: Router, head_by: Instant) {
    let mut request = match tokio::time::timeout_at(head_by, read_request(&mut io)).await {
        Ok(Ok(request)) => request,
        Ok(Err(Some((status, why)))) => {
            let answer = error_response(status, "bad_request", why.to_owned());
            let _ = write(&mut io, answer, Version::HTTP_11).await;
            return;
        }
        // Left, or did not finish its head in time: closed, as hyper does.
        Ok(Err(None)) | Err(_) => return,
    };
    let version = request.version();
    request.extensions_mut().insert(ConnectInfo(peer));
    let Ok(response) = router.oneshot(request).await;
    if let Err(error) = write(&mut io, response, version).await {
        tracing::debug!(%error, "event-stream connection ended with an error");
    }
}

/// Why a request head is refused.
type Refusal = (StatusCode, &'static str);

/// The request head, as hyper would have made it; a refusal for a malformed one or one
/// with a body (no stream takes one), `None` when the client left.
async fn read_request<S: AsyncRead + Unpin>(io: &mut S) -> Result<Request<Body>, Option<Refusal>> {
    let mut head = Vec::with_capacity(1024);
    loop {
        let room = MAX_HEAD - head.len() as u64;
        if room == 0 {
            return Err(Some(TOO_LARGE));
        }
        if head.len() == head.capacity() {
            head.reserve(head.len());
        }
        match (&mut *io).take(room).read_buf(&mut head).await {
            Ok(0) | Err(_) => return Err(None),
            Ok(_) => {}
        }
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut fields);
        match parsed.parse(&head) {
            Ok(httparse::Status::Complete(_)) => return request(&parsed).map_err(Some),
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(Some(TOO_LARGE)),
            Err(_) => return Err(Some(MALFORMED)),
        }
    }
}

const TOO_LARGE: Refusal = (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "the request's headers are too large");
const MALFORMED: Refusal = (StatusCode::BAD_REQUEST, "the request is malformed");

fn request(parsed: &httparse::Request) -> Result<Request<Body>, Refusal> {
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let method = parsed.method.and_then(|method| Method::from_bytes(method.as_bytes()).ok()).ok_or(MALFORMED)?;
    let uri = parsed.path.and_then(|path| Uri::try_from(path).ok()).ok_or(MALFORMED)?;
    let mut request = Request::builder().method(method).uri(uri).version(version);
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| MALFORMED)?;
        let has_body = match name.as_str() {
            "transfer-encoding" => true,
            "content-length" => field.value != b"0",
            _ => false,
        };
        if has_body {
            return Err((StatusCode::BAD_REQUEST, "an event stream's request has no body"));
        }
        request = request.header(name, HeaderValue::from_bytes(field.value).map_err(|_| MALFORMED)?);
    }
    request.body(Body::empty()).map_err(|_| MALFORMED)
}

/// Writes `response`: its head, then its body as it comes (chunked, unless its length
/// is known or the client speaks HTTP/1.0), until the body ends or the client leaves.
async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    response: Response<Body>,
    version: Version,
) -> io::Result<()> {
    let (parts, mut body) = response.into_parts();
    let length = body.size_hint().exact();
    let chunked = length.is_none() && version == Version::HTTP_11;
    let mut head = format!("HTTP/1.1 {}\r\n", parts.status).into_bytes();
    for (name, value) in parts.headers.iter() {
        if !matches!(name.as_str(), "connection" | "content-length" | "transfer-encoding" | "date") {
            for part in [name.as_str().as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
                head.extend_from_slice(part);
            }
        }
    }
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let framing = match (length, chunked) {
        (Some(length), _) => format!("content-length: {length}\r\n"),
        (None, true) => "transfer-encoding: chunked\r\n".into(),
        (None, false) => String::new(),
    };
    head.extend_from_slice(format!("date: {date}\r\nconnection: close\r\n{framing}\r\n").as_bytes());
    io.write_all(&head).await?;
    drop(head);
    let mut batch = Vec::new();
    loop {
        let mut sent = [0u8; 1];
        let first = tokio::select! {
            frame = body.frame() => frame,
            // The client left, or sent more than its one request: the end.
            _ = io.read(&mut sent) => return Ok(()),
        };
        let Some(first) = first else { break };
        batch.extend(first.map_err(io::Error::other)?.into_data().ok());
        while batch.len() < MAX_BATCH {
            match body.frame().now_or_never() {
                Some(Some(frame)) => batch.extend(frame.map_err(io::Error::other)?.into_data().ok()),
                _ => break,
            }
        }
        write_batch(io, &batch, chunked).await?;
        batch.clear();
        if body.is_end_stream() {
            break;
        }
    }
    if chunked {
        io.write_all(b"0\r\n\r\n").await?;
    }
    io.shutdown().await
}

/// Writes `data` in one vectored write where the socket takes it, as one chunk.
async fn write_batch<S: AsyncWrite + Unpin>(io: &mut S, data: &[Bytes], chunked: bool) -> io::Result<()> {
    let size: usize = data.iter().map(Bytes::len).sum();
    if size == 0 {
        return Ok(());
    }
    let chunk_head = format!("{size:x}\r\n");
    let mut slices = Vec::with_capacity(data.len() + 2);
    if chunked {
        slices.push(IoSlice::new(chunk_head.as_bytes()));
    }
    slices.extend(data.iter().map(|bytes| IoSlice::new(bytes)));
    if chunked {
        slices.push(IoSlice::new(b"\r\n"));
    }
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        let written = io.write_vectored(slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, written);
    }
    Ok(())
}

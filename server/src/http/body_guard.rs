//! Request bodies, before any handler or the MLflow proxy reads them: a declared
//! length over `--max-body-bytes` is refused at once (413), a body that grows past it
//! ends with the same error, and a body that has not fully arrived within
//! `--body-timeout` of the request's start ends with 408. A client that sends a byte
//! every few seconds holds its connection for that long at most.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use http_body_util::Limited;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

use super::error::error_response;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
    /// Bodies cut off by the deadline, for `/api/health`.
    pub timed_out: Arc<AtomicU64>,
}

/// What reading a body that missed its deadline fails with.
#[derive(Debug)]
pub struct BodyTimedOut(Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {} s", self.0.as_secs())
    }
}

impl std::error::Error for BodyTimedOut {}

pub async fn guard(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_bytes as u64) {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {} bytes (--max-body-bytes)", limits.max_bytes),
        );
    }
    let (parts, body) = request.into_parts();
    let body = Deadline {
        body: Limited::new(body, limits.max_bytes),
        sleep: Box::pin(tokio::time::sleep(limits.timeout)),
        timeout: limits.timeout,
        timed_out: limits.timed_out.clone(),
    };
    next.run(Request::from_parts(parts, Body::new(body))).await
}

/// A body that fails once its deadline has passed.
struct Deadline {
    body: Limited<Body>,
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
    timed_out: Arc<AtomicU64>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.timed_out.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.timeout)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Whether `error`, or an error it was caused by, is a body's missed deadline.
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<BodyTimedOut>(error)
}

/// Whether `error`, or an error it was caused by, is a body that passed the cap.
pub fn too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<http_body_util::LengthLimitError>(error)
}

fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<E>() {
            return true;
        }
        cause = error.source();
    }
    false
}

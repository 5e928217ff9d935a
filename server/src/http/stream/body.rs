//! The response body of an event stream: the hub's frames as they come, with a
//! keep-alive comment when nothing else is sent.

use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

use crate::live::Frames;

/// Sent when a stream has been quiet for the keep-alive interval, so proxies and
/// browsers keep the connection.
const KEEP_ALIVE: &[u8] = b":\n\n";

/// The response of an event stream: frames from `queue`, as they come.
pub fn response(queue: Frames, keep_alive: Duration) -> Response {
    let body = EventBody { queue, keep_alive: Box::pin(tokio::time::sleep(keep_alive)), every: keep_alive };
    let headers = [
        ("content-type", HeaderValue::from_static("text/event-stream")),
        ("cache-control", HeaderValue::from_static("no-cache")),
        // Proxies such as nginx must pass events through as they come.
        ("x-accel-buffering", HeaderValue::from_static("no")),
    ];
    (headers, axum::body::Body::new(body)).into_response()
}

struct EventBody {
    queue: Frames,
    keep_alive: Pin<Box<Sleep>>,
    every: Duration,
}

impl http_body::Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let sent = match self.queue.poll_next(cx) {
            Poll::Ready(Some(bytes)) => bytes,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => match self.keep_alive.as_mut().poll(cx) {
                Poll::Ready(()) => Bytes::from_static(KEEP_ALIVE),
                Poll::Pending => return Poll::Pending,
            },
        };
        let next = tokio::time::Instant::now() + self.every;
        self.keep_alive.as_mut().reset(next);
        Poll::Ready(Some(Ok(Frame::data(sent))))
    }
}

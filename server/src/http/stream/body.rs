//! The bytes of an event stream: SSE frames, made once and shared, and the response
//! body that writes them with a keep-alive comment when nothing else is sent.

use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use shared::Event;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

use super::queue::Frames;

/// One SSE frame: `id:` (persisted events), `event:` the event's name, `data:` its
/// JSON. A `Bytes` so that every stream sending it shares one copy.
pub fn frame(id: Option<i64>, event: &Event) -> Bytes {
    let data = event.data().to_string();
    let mut frame = String::with_capacity(data.len() + 48);
    if let Some(id) = id {
        frame.push_str(&format!("id: {id}\n"));
    }
    frame.push_str("event: ");
    frame.push_str(event.name());
    frame.push('\n');
    // Compact JSON has no line breaks; were one there, each line needs its own field.
    for line in data.split('\n') {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Bytes::from(frame)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_names_its_event_and_id() {
        let frame = frame(Some(7), &Event::Ready { last_event_id: 7 });
        assert_eq!(&frame[..], b"id: 7\nevent: ready\ndata: {\"last_event_id\":7}\n\n");
    }
}

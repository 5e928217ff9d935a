//! Event streams as a test reads them: a real connection, parsed as it arrives.

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One parsed SSE message.
#[derive(Debug, Clone, PartialEq)]
pub struct SseMessage {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// A live SSE connection, parsed as it arrives.
pub struct EventStream {
    pub headers: reqwest::header::HeaderMap,
    messages: mpsc::UnboundedReceiver<Result<SseMessage, String>>,
    /// Reads the connection; dropping the stream closes it.
    reader: JoinHandle<()>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

pub const COMMENT: &str = ":comment";

impl EventStream {
    pub(super) async fn connect(client: &reqwest::Client, url: &str, last_event_id: Option<i64>) -> EventStream {
        let id = last_event_id.map(|id| id.to_string());
        let headers: Vec<(&str, &str)> = id.as_deref().map(|id| ("last-event-id", id)).into_iter().collect();
        Self::connect_with(client, url, &headers).await
    }

    /// Opens the stream with these request headers (a cookie, `Last-Event-ID`).
    pub async fn connect_with(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> EventStream {
        let mut request = client.get(url).header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("connect to event stream");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        let (sender, messages) = mpsc::unbounded_channel();
        let mut body = response.bytes_stream();
        let reader = tokio::spawn(async move {
            let mut buffer = String::new();
            while let Some(chunk) = body.next().await {
                let Ok(chunk) = chunk else { break };
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if sender.send(parse_frame(&frame)).is_err() {
                        return;
                    }
                }
            }
            let _ = sender.send(Err("stream ended".to_owned()));
        });
        EventStream { headers, messages, reader }
    }

    /// The next message (comments included, as event `:comment`), or an error if the
    /// stream ended or nothing came within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Result<SseMessage, String> {
        match tokio::time::timeout(wait, self.messages.recv()).await {
            Ok(Some(message)) => message,
            Ok(None) => Err("stream ended".to_owned()),
            Err(_) => Err(format!("no event within {wait:?}")),
        }
    }

    /// The next event of one of `kinds`, skipping others; panics after 5 s.
    pub async fn expect(&mut self, kinds: &[&str]) -> SseMessage {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next_within(left).await.unwrap_or_else(|e| panic!("waiting for {kinds:?}: {e}"));
            if kinds.contains(&message.event.as_str()) {
                return message;
            }
        }
    }

    /// The events of `kinds` a resumed stream sends for what it missed: at least
    /// `count`, and any more that follow within 300 ms, skipping `ready`. They come
    /// before `ready`, or on PostgreSQL, where a write reaches the streams through the
    /// relay a moment after it commits, some just after it.
    pub async fn resumed(&mut self, kinds: &[&str], count: usize) -> Vec<SseMessage> {
        let mut resumed = Vec::new();
        while resumed.len() < count {
            resumed.push(self.expect(kinds).await);
        }
        while let Ok(message) = self.next_within(Duration::from_millis(300)).await {
            if kinds.contains(&message.event.as_str()) {
                resumed.push(message);
            }
        }
        resumed
    }

    /// Reads until the server ends the stream; an error if it is still open after `wait`.
    pub async fn ends_within(&mut self, wait: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Ok(_) => {}
                Err(why) if why == "stream ended" => return Ok(()),
                Err(why) => return Err(why),
            }
        }
    }

    /// Every message that arrives within `wait` of the previous one.
    pub async fn drain(&mut self, wait: Duration) -> Vec<SseMessage> {
        let mut all = Vec::new();
        while let Ok(message) = self.next_within(wait).await {
            all.push(message);
        }
        all
    }
}

fn parse_frame(frame: &str) -> Result<SseMessage, String> {
    let (mut id, mut event, mut data) = (None, "message".to_owned(), String::new());
    for line in frame.lines() {
        if line.starts_with(':') {
            return Ok(SseMessage { id: None, event: COMMENT.to_owned(), data: Value::Null });
        }
        let (field, value) =
            line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
        match field {
            "id" => id = Some(value.parse().map_err(|_| format!("bad id {value}"))?),
            "event" => event = value.to_owned(),
            "data" => data.push_str(value),
            _ => {}
        }
    }
    let data = serde_json::from_str(&data).map_err(|e| format!("bad data {data}: {e}"))?;
    Ok(SseMessage { id, event, data })
}

/// An event stream on a plain socket, for tests and benches that open thousands: the
/// socket once `ready` has come, with what was read until then. `address` is
/// `host:port`; `last_event_id` resumes.
pub async fn raw_stream(address: &str, path: &str, last_event_id: Option<i64>) -> (tokio::net::TcpStream, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap_or_else(|e| panic!("connecting: {e}"));
    let resume = last_event_id.map_or_else(String::new, |id| format!("Last-Event-ID: {id}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n{resume}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut chunk = vec![0u8; 65536];
    // Only the newly read bytes (and the few before them) can complete `ready`.
    while !seen[seen.len().saturating_sub(chunk.len() + 16)..].windows(12).any(|w| w == b"event: ready") {
        let read = stream.read(&mut chunk).await.unwrap_or_else(|e| panic!("reading a stream: {e}"));
        assert!(read > 0, "stream closed after {} bytes: {}", seen.len(), String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..read]);
    }
    (stream, seen)
}

//! A stream's queue of frames, bounded by bytes: a batch of live events is one item,
//! so counting items would let a client that reads nothing hold megabytes.

use axum::body::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Notify};

/// Bytes a stream may have waiting; past it, the client is behind.
pub const MAX_WAITING: usize = 1 << 20;
/// Items waiting, whatever their size.
const MAX_ITEMS: usize = 256;

#[derive(Default)]
struct Waiting {
    bytes: AtomicUsize,
    drained: Notify,
}

#[derive(Clone)]
pub struct Queue {
    sender: mpsc::Sender<Bytes>,
    waiting: Arc<Waiting>,
}

pub struct Frames {
    receiver: mpsc::Receiver<Bytes>,
    waiting: Arc<Waiting>,
}

pub fn queue() -> (Queue, Frames) {
    let (sender, receiver) = mpsc::channel(MAX_ITEMS);
    let waiting = Arc::new(Waiting::default());
    (Queue { sender, waiting: waiting.clone() }, Frames { receiver, waiting })
}

/// Why a frame was not queued.
pub enum Refused {
    /// The client is behind: more than `MAX_WAITING` bytes wait for it.
    Full,
    /// The client is gone.
    Closed,
}

impl Queue {
    /// Queues `frames` unless the client is behind. `always` queues them whatever is
    /// waiting (what a stream must send first).
    pub fn push(&self, frames: Bytes, always: bool) -> Result<(), Refused> {
        let size = frames.len();
        if !always && self.waiting.bytes.load(Ordering::Acquire) + size > MAX_WAITING {
            return Err(if self.sender.is_closed() { Refused::Closed } else { Refused::Full });
        }
        self.waiting.bytes.fetch_add(size, Ordering::AcqRel);
        self.sender.try_send(frames).map_err(|error| {
            self.waiting.bytes.fetch_sub(size, Ordering::AcqRel);
            match error {
                TrySendError::Full(_) => Refused::Full,
                TrySendError::Closed(_) => Refused::Closed,
            }
        })
    }

    /// Waits until at most half of `MAX_WAITING` waits, for up to `patience`; false if
    /// the client did not read that much in time.
    pub async fn room(&self, patience: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let drained = self.waiting.drained.notified();
            if self.waiting.bytes.load(Ordering::Acquire) <= MAX_WAITING / 2 && self.sender.capacity() > MAX_ITEMS / 2 {
                return true;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() || self.sender.is_closed() {
                return false;
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    pub async fn closed(&self) {
        self.sender.closed().await
    }
}

impl Frames {
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let next = self.receiver.poll_recv(cx);
        if let Poll::Ready(Some(frames)) = &next {
            self.waiting.bytes.fetch_sub(frames.len(), Ordering::AcqRel);
            self.waiting.drained.notify_waiters();
        }
        next
    }
}

//! One stream's way to the hub: attached, it sleeps while the hub fills its queue; it
//! wakes only to replay from the database what the ring no longer holds, or to wait
//! for a client that fell behind and attach it again where it left off.

use axum::body::Bytes;
use std::time::Duration;

use super::frame::frame;
use super::hub::{Attach, Attached, Hub};
use super::queue::Queue;
use super::topics::Topics;
use crate::store::{Store, StoreError};
use shared::Event;

/// A client that the hub let go for falling behind is dropped if it has not read half
/// of what waits for it within this.
const SLOW_CLIENT: Duration = Duration::from_secs(10);
const REPLAY_BATCH: i64 = 500;
const DATABASE_RETRY: Duration = Duration::from_secs(1);

pub enum Stop {
    /// The client went away, or the server is stopping.
    Gone,
    /// The client stopped taking events: it resumes with `Last-Event-ID` when it
    /// reconnects, instead of events piling up here.
    Behind,
    Failed(StoreError),
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Stop::Failed(error)
    }
}

pub struct Feed<'a> {
    pub hub: &'a Hub,
    pub store: &'a dyn Store,
    pub key: u64,
    pub topics: Topics,
    pub queue: Queue,
}

impl Feed<'_> {
    /// Follows the hub from `cursor` until the client leaves or falls behind for good.
    pub async fn run(&self, mut cursor: Option<i64>) -> Result<(), Stop> {
        let mut first = true;
        loop {
            let attach =
                Attach { key: self.key, cursor, topics: self.topics.clone(), queue: self.queue.clone(), first };
            match self.hub.attach(attach).await.ok_or(Stop::Gone)? {
                Attached::Live(behind) => {
                    first = false;
                    cursor = Some(behind.await.map_err(|_| Stop::Gone)?);
                    self.room().await?;
                }
                Attached::Full => self.room().await?,
                Attached::Replay { floor } => cursor = self.replay(cursor.unwrap_or(floor), floor).await?,
            }
        }
    }

    /// Waits until the client has read half of what waits for it.
    async fn room(&self) -> Result<(), Stop> {
        match self.queue.room(SLOW_CLIENT).await {
            true => Ok(()),
            false if self.queue.is_closed() => Err(Stop::Gone),
            false => Err(Stop::Behind),
        }
    }

    /// Sends the persisted events after `cursor` up to `floor`, where the ring takes
    /// over; `None` when they are no longer kept and the client was told to reload.
    async fn replay(&self, mut cursor: i64, floor: i64) -> Result<Option<i64>, Stop> {
        self.hub.stats.resumed_from_database.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (oldest, _) = self.read(|| self.store.event_bounds()).await?;
        if cursor < oldest - 1 {
            let reason = format!("events after {cursor} are no longer kept");
            self.send(frame(None, &Event::Resync { reason })).await?;
            return Ok(None);
        }
        while cursor < floor {
            let asked = REPLAY_BATCH.min(floor - cursor);
            let batch = self.read(|| self.store.events_after(cursor, asked)).await?;
            let done = batch.len() < asked as usize || batch.last().is_some_and(|(id, _)| *id >= floor);
            let due = batch.iter().take_while(|(id, _)| *id <= floor).filter(|(_, event)| self.topics.wants(event));
            let frames: Vec<Bytes> = due.map(|(id, event)| frame(Some(*id), event)).collect();
            if !frames.is_empty() {
                self.send(Bytes::from(frames.concat())).await?;
            }
            cursor = match batch.last() {
                Some((last, _)) if !done => *last,
                // Whatever the database holds beyond is the ring's.
                _ => floor,
            };
        }
        Ok(Some(cursor))
    }

    /// A read under the streams' budget; while the database is away the stream waits
    /// for it, so that its client misses nothing.
    async fn read<T, F>(&self, read: impl Fn() -> F) -> Result<T, Stop>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        loop {
            let permit = self.hub.reads.acquire().await.map_err(|_| Stop::Gone)?;
            let result = read().await;
            drop(permit);
            match result {
                Err(StoreError::Unavailable(_)) if !self.queue.is_closed() => tokio::time::sleep(DATABASE_RETRY).await,
                other => return other.map_err(Stop::from),
            }
        }
    }

    async fn send(&self, frames: Bytes) -> Result<(), Stop> {
        self.room().await?;
        self.queue.push(frames, true).map_err(|_| Stop::Gone)
    }
}

//! The fan-out of live events to every open stream, and the memory that lets streams
//! resume without the database.
//!
//! One task owns a ring of the newest persisted events, each framed once as SSE bytes
//! that every stream shares, and the queues of the open streams. It takes events from
//! the bus in id order, filling a gap in ids from the database once for all streams,
//! and sends what arrived together as one batch: one buffer per kind of stream (the
//! same topics, the same run), pushed into the queue of every stream of that kind
//! without waking a task per stream, and spaced under load so that all streams
//! together get about `STREAM_WRITES_PER_SECOND` writes. A stream attaches with the id
//! it resumes after; the ring's events after it and `ready` go out as one write, live
//! ones follow. Only a stream older than the ring reads the database (the feed, under
//! its own small budget), and one further behind than `MAX_REPLAY` is told to `resync`
//! at once.

use axum::body::Bytes;
use shared::Event;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, Semaphore};
use tokio::time::Instant;

use super::frame::frame;
use super::queue::{Queue, Refused};
use super::topics::Topics;
use crate::events::{EventBus, Published};
use crate::store::{Store, StoreError};
use crate::throttled::Throttled;

/// Persisted events kept in memory for streams that resume.
const RING: usize = 10_000;
/// A stream further behind than this many events reloads (`resync`) instead of
/// replaying them.
const MAX_REPLAY: i64 = 50_000;
/// Database reads that resuming streams may make at once (the rest queue), so that
/// page reads keep the pool.
const REPLAY_READS: usize = 2;
const FILL_BATCH: i64 = 500;
/// Live events sent to the streams as one write, at most.
const MAX_BATCH: usize = 1000;
/// Writes to streams per second, all streams together, that batching keeps to: with
/// 1,000 streams events go out at most every 10 ms, with 10,000 every 100 ms.
const STREAM_WRITES_PER_SECOND: u32 = 100_000;
const DATABASE_RETRY: Duration = Duration::from_secs(1);

/// Counts for `/api/health`.
#[derive(Default)]
pub struct Stats {
    pub resumed_from_memory: AtomicU64,
    pub resumed_from_database: AtomicU64,
    pub resynced: AtomicU64,
    pub dropped_behind: AtomicU64,
}

#[derive(Clone)]
pub struct Hub {
    commands: mpsc::UnboundedSender<Command>,
    /// The newest event sent to streams; -1 until the ring is loaded.
    newest: Arc<AtomicI64>,
    keys: Arc<AtomicU64>,
    pub stats: Arc<Stats>,
    /// Database reads on behalf of streams (replays, access rechecks) take a permit.
    pub reads: Arc<Semaphore>,
    /// Streams that ended on a database error, for a warning a minute at most.
    pub failures: Arc<Mutex<Throttled>>,
}

/// What an attaching stream is told.
pub enum Attached {
    /// Following live events; the sender fires with the id to resume after if the
    /// stream's queue overflowed and it was let go.
    Live(oneshot::Receiver<i64>),
    /// The queue had no room for what was due: wait for the client, then attach again.
    Full,
    /// The stream resumes from before the ring's first event: replay from the
    /// database up to `floor`, then attach again.
    Replay { floor: i64 },
}

pub struct Attach {
    pub key: u64,
    /// The id the stream resumes after; `None` starts from now.
    pub cursor: Option<i64>,
    pub topics: Topics,
    pub queue: Queue,
    /// Whether this is the stream's first attach: `ready` (and the summary) is sent once.
    pub first: bool,
}

enum Command {
    Attach(Attach, oneshot::Sender<Attached>),
    Detach {
        key: u64,
        run: Option<String>,
    },
    /// Events before this id were pruned from the log.
    Forget {
        before: i64,
    },
}

impl Hub {
    /// Starts the fan-out task; it ends when the last handle is dropped.
    pub fn start(store: Arc<dyn Store>, bus: &EventBus) -> Hub {
        let (commands, receiver) = mpsc::unbounded_channel();
        let hub = Hub {
            commands,
            newest: Arc::new(AtomicI64::new(-1)),
            keys: Arc::default(),
            stats: Arc::default(),
            reads: Arc::new(Semaphore::new(REPLAY_READS)),
            failures: Arc::new(Mutex::new(Throttled::every(Duration::from_secs(60)))),
        };
        // Subscribed before the ring is read, so nothing committed in between is missed.
        let live = bus.subscribe();
        let fanout = Fanout {
            store,
            ring: VecDeque::new(),
            floor: 0,
            last: 0,
            summary: None,
            general: HashMap::new(),
            by_run: HashMap::new(),
            streams: 0,
            pending: Batch::default(),
            flush_at: None,
            flushed: Instant::now(),
            newest: hub.newest.clone(),
            stats: hub.stats.clone(),
        };
        tokio::spawn(fanout.run(live, receiver));
        // New streams get the totals from memory: have them computed now.
        bus.totals_changed().notify_one();
        hub
    }

    /// The newest event id, once the ring is loaded.
    pub fn newest(&self) -> Option<i64> {
        Some(self.newest.load(Ordering::Acquire)).filter(|id| *id >= 0)
    }

    pub fn key(&self) -> u64 {
        self.keys.fetch_add(1, Ordering::Relaxed)
    }

    /// `None` when the hub has stopped (the server is going away).
    pub async fn attach(&self, attach: Attach) -> Option<Attached> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Attach(attach, reply)).ok()?;
        answer.await.ok()
    }

    pub fn detach(&self, key: u64, run: Option<String>) {
        let _ = self.commands.send(Command::Detach { key, run });
    }

    /// Drops the events before `before` from memory, as they were from the log.
    pub fn forget_before(&self, before: i64) {
        let _ = self.commands.send(Command::Forget { before });
    }
}

/// Live events taken together, for one write per stream.
#[derive(Default)]
struct Batch {
    /// The newest persisted id before the batch: where a stream that misses it resumes.
    resume_after: i64,
    events: Vec<(Arc<Event>, Bytes)>,
}

impl Batch {
    /// The frames `topics` wants, as one buffer; `None` when it wants none.
    fn wanted(&self, topics: &Topics) -> Option<Bytes> {
        let wanted: Vec<Bytes> =
            self.events.iter().filter(|(event, _)| topics.wants(event)).map(|(_, frame)| frame.clone()).collect();
        (!wanted.is_empty()).then(|| join(wanted))
    }
}

struct Entry {
    id: i64,
    event: Arc<Event>,
    frame: Bytes,
}

struct Subscriber {
    topics: Topics,
    queue: Queue,
    behind: Option<oneshot::Sender<i64>>,
}

struct Fanout {
    store: Arc<dyn Store>,
    ring: VecDeque<Entry>,
    /// Every persisted event after this id is in the ring.
    floor: i64,
    /// The newest persisted event sent.
    last: i64,
    /// The newest summary's frame, for streams that open.
    summary: Option<Bytes>,
    /// Streams of every run, and streams of one run, by run.
    general: HashMap<u64, Subscriber>,
    by_run: HashMap<String, HashMap<u64, Subscriber>>,
    /// Streams attached, in both maps.
    streams: usize,
    /// Live events not yet sent, and when they go.
    pending: Batch,
    flush_at: Option<Instant>,
    flushed: Instant,
    newest: Arc<AtomicI64>,
    stats: Arc<Stats>,
}

impl Fanout {
    async fn run(mut self, mut live: broadcast::Receiver<Published>, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.load().await;
        loop {
            let flush_at = self.flush_at;
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Attach(attach, reply)) => self.attach(attach, reply).await,
                    Some(Command::Detach { key, run }) => self.remove(key, run.as_deref()),
                    Some(Command::Forget { before }) => self.forget(before),
                    None => return,
                },
                received = live.recv() => {
                    let mut next = Some(received);
                    // What else has come meanwhile joins the batch.
                    while let Some(received) = next.take() {
                        match received {
                            Ok(published) => self.publish(published).await,
                            Err(broadcast::error::RecvError::Lagged(_)) => self.fill().await,
                            Err(broadcast::error::RecvError::Closed) => return,
                        }
                        if self.pending.events.len() < MAX_BATCH {
                            next = match live.try_recv() {
                                Ok(published) => Some(Ok(published)),
                                Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Err(broadcast::error::RecvError::Lagged(n))),
                                Err(_) => None,
                            };
                        }
                    }
                    self.schedule();
                }
                _ = tokio::time::sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() => self.flush(),
            }
        }
    }

    /// The ring's first contents: the newest `RING` events.
    async fn load(&mut self) {
        let (oldest, newest) = retrying(|| self.store.event_bounds()).await;
        self.floor = (newest - RING as i64).max(oldest - 1).max(0);
        self.last = self.floor;
        self.fill().await;
        self.last = self.last.max(newest);
        self.newest.store(self.last, Ordering::Release);
        // Nobody to send them to yet.
        self.pending = Batch { resume_after: self.last, events: Vec::new() };
    }

    /// Reads what the bus skipped (a gap in ids: it lagged, or another writer's event
    /// comes later) from the database, once for every stream.
    async fn fill(&mut self) {
        loop {
            let after = self.last;
            let read = retrying(|| self.store.events_after(after, FILL_BATCH)).await;
            let full = read.len() as i64 == FILL_BATCH;
            for (id, event) in read {
                self.deliver(id, Arc::new(event));
            }
            if !full {
                self.newest.store(self.last, Ordering::Release);
                return;
            }
        }
    }

    async fn publish(&mut self, published: Published) {
        match published.id {
            None => {
                let frame = frame(None, &published.event);
                if matches!(*published.event, Event::Summary(_)) {
                    self.summary = Some(frame.clone());
                }
                self.pending.events.push((published.event, frame));
            }
            Some(id) if id <= self.last => {}
            Some(id) if id == self.last + 1 => {
                self.deliver(id, published.event);
                self.newest.store(id, Ordering::Release);
            }
            Some(_) => self.fill().await,
        }
    }

    fn deliver(&mut self, id: i64, event: Arc<Event>) {
        let frame = frame(Some(id), &event);
        self.pending.events.push((event.clone(), frame.clone()));
        self.last = id;
        self.ring.push_back(Entry { id, event, frame });
        if self.ring.len() > RING {
            if let Some(gone) = self.ring.pop_front() {
                self.floor = gone.id;
            }
        }
    }

    /// When the pending events go out: at once after a quiet spell, else one
    /// `spacing` after the last write, so that the writes to all streams together stay
    /// within `STREAM_WRITES_PER_SECOND` however fast events come.
    fn schedule(&mut self) {
        if self.flush_at.is_none() && !self.pending.events.is_empty() {
            let spacing = Duration::from_secs(1) * self.streams as u32 / STREAM_WRITES_PER_SECOND;
            self.flush_at = Some((self.flushed + spacing).max(Instant::now()));
        }
    }

    fn flush(&mut self) {
        let batch = std::mem::replace(&mut self.pending, Batch { resume_after: self.last, events: Vec::new() });
        self.fan_out(&batch);
        self.flushed = Instant::now();
        self.flush_at = None;
    }

    /// Pushes `batch` to every stream that wants some of it, as one buffer per kind
    /// of stream (the same topics, the same run) shared by all of that kind. A stream
    /// whose queue is full is let go, told where to resume.
    fn fan_out(&mut self, batch: &Batch) {
        if batch.events.is_empty() {
            return;
        }
        let stats = &self.stats;
        let mut gone = Vec::new();
        let mut offer =
            |kinds: &mut HashMap<u8, Option<Bytes>>, key: u64, subscriber: &mut Subscriber, run: Option<&str>| {
                let Some(frames) =
                    kinds.entry(subscriber.topics.kind()).or_insert_with(|| batch.wanted(&subscriber.topics))
                else {
                    return;
                };
                match subscriber.queue.push(frames.clone(), false) {
                    Ok(()) => {}
                    Err(Refused::Full) => {
                        stats.dropped_behind.fetch_add(1, Ordering::Relaxed);
                        if let Some(behind) = subscriber.behind.take() {
                            let _ = behind.send(batch.resume_after);
                        }
                        gone.push((key, run.map(str::to_owned)));
                    }
                    Err(Refused::Closed) => gone.push((key, run.map(str::to_owned))),
                }
            };
        let mut kinds = HashMap::new();
        for (key, subscriber) in &mut self.general {
            offer(&mut kinds, *key, subscriber, None);
        }
        // One run's streams want only that run's events and those of no run.
        let of_no_run = batch.events.iter().any(|(event, _)| event.run_id().is_none());
        for (run, streams) in &mut self.by_run {
            if !of_no_run && !batch.events.iter().any(|(event, _)| event.run_id() == Some(run.as_str())) {
                continue;
            }
            let mut kinds = HashMap::new();
            for (key, subscriber) in streams {
                offer(&mut kinds, *key, subscriber, Some(run.as_str()));
            }
        }
        for (key, run) in gone {
            self.remove(key, run.as_deref());
        }
    }

    async fn attach(&mut self, attach: Attach, reply: oneshot::Sender<Attached>) {
        let Attach { key, cursor, topics, queue, first } = attach;
        if let Some(after) = cursor.filter(|after| *after > self.pending.resume_after) {
            // Seen by the client on another replica, or committed and not yet here: a
            // moment's worth at most. An id further ahead is no event of this log, and
            // gets `resync` below without a read on the hub's one task.
            if after > self.last && after - self.last <= FILL_BATCH {
                self.fill().await;
            }
            // The client saw some of what waits to go out: it all goes now, in order.
            self.flush();
        }
        // What waits to go out reaches this stream with the rest.
        let sent = self.pending.resume_after;
        let mut due = Vec::new();
        match cursor {
            None => {}
            Some(after) if after > sent => {
                self.resync(&mut due, format!("event {after} is unknown here; the newest is {sent}"));
            }
            Some(after) if after >= self.floor => {
                self.stats.resumed_from_memory.fetch_add(u64::from(after < sent), Ordering::Relaxed);
                let start = self.ring.partition_point(|entry| entry.id <= after);
                let missed = self.ring.range(start..).take_while(|entry| entry.id <= sent);
                due.extend(missed.filter(|entry| topics.wants(&entry.event)).map(|entry| entry.frame.clone()));
            }
            Some(after) if sent - after > MAX_REPLAY => {
                self.resync(&mut due, format!("events after {after} are too many to replay"));
            }
            Some(_) => {
                let _ = reply.send(Attached::Replay { floor: self.floor });
                return;
            }
        }
        if first {
            due.push(frame(Some(sent), &Event::Ready { last_event_id: sent }));
            if topics.summary {
                due.extend(self.summary.clone());
            }
        }
        // What is due goes whatever waits: a resumed stream's replay may be long.
        let answer = match queue.push(join(due), first) {
            Ok(()) => {
                let (behind, answer) = oneshot::channel();
                let subscriber = Subscriber { topics, queue, behind: Some(behind) };
                match subscriber.topics.run.clone() {
                    Some(run) => self.by_run.entry(run).or_default().insert(key, subscriber),
                    None => self.general.insert(key, subscriber),
                };
                self.streams += 1;
                Attached::Live(answer)
            }
            Err(_) => Attached::Full,
        };
        let _ = reply.send(answer);
    }

    fn resync(&self, due: &mut Vec<Bytes>, reason: String) {
        self.stats.resynced.fetch_add(1, Ordering::Relaxed);
        due.push(frame(None, &Event::Resync { reason }));
    }

    fn forget(&mut self, before: i64) {
        while self.ring.front().is_some_and(|entry| entry.id < before) {
            self.ring.pop_front();
        }
        self.floor = self.floor.max(before - 1);
    }

    fn remove(&mut self, key: u64, run: Option<&str>) {
        let removed = match run {
            None => self.general.remove(&key).is_some(),
            Some(run) => {
                let removed = self.by_run.get_mut(run).and_then(|streams| streams.remove(&key)).is_some();
                if self.by_run.get(run).is_some_and(HashMap::is_empty) {
                    self.by_run.remove(run);
                }
                removed
            }
        };
        self.streams -= usize::from(removed);
    }
}

/// Frames due at once, as one write.
fn join(frames: Vec<Bytes>) -> Bytes {
    match <[Bytes; 1]>::try_from(frames) {
        Ok([one]) => one,
        Err(frames) => Bytes::from(frames.concat()),
    }
}

/// The hub's own reads wait for the database: streams depend on them.
async fn retrying<T, F>(read: impl Fn() -> F) -> T
where
    F: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut failed = Throttled::every(Duration::from_secs(60));
    loop {
        match read().await {
            Ok(value) => return value,
            Err(error) => {
                if let Some(times) = failed.count(1) {
                    tracing::warn!(%error, times, "the event streams' hub could not read the event log; retrying every second");
                }
                tokio::time::sleep(DATABASE_RETRY).await;
            }
        }
    }
}

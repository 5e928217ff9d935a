//! The write path. One task per process owns the write connection and runs every
//! write to its end: a client that hangs up loses only its answer, and can never leave
//! a transaction half-done on the connection that every later write needs.
//!
//! Writes that arrive together share one transaction and one commit (group commit).
//! Each caller is answered only after its write is durable, and a write that fails
//! fails alone: the batch so far is rolled back and the writes that had succeeded are
//! run again, from then on each under a savepoint of its own. A batch without failures,
//! the usual case, pays for no savepoints (each is a round trip to the database).

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use shared::Event;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool, Transaction};
use std::panic::AssertUnwindSafe;
use tokio::sync::{mpsc, oneshot};

use super::{Result, StoreError};

/// The events a write makes; the writer records a batch's events in the event log in
/// one go, before commit.
pub type Recorded = Vec<Event>;

/// A batch's events with their ids in the event log (`None` for those not kept);
/// delivered to subscribers after commit.
pub type Numbered = Vec<(Option<i64>, Event)>;

pub type Conn<DB> = <DB as Database>::Connection;

/// Most writes in one transaction: enough to share an fsync among every client of a
/// busy server, few enough that a batch commits in milliseconds.
const MAX_BATCH: usize = 256;
/// Writes waiting for the writer; beyond it callers wait to hand theirs over.
const QUEUE: usize = 4096;

/// What a database adds around a batch of writes.
pub trait Hooks: Send + Sync + 'static {
    type Db: Database;

    /// Begins the batch's transaction, serialising it with every other writer, and
    /// marks it as the dashboard's own (see the external-changes migration).
    fn begin<'c>(&self, conn: &'c mut Conn<Self::Db>) -> BoxFuture<'c, sqlx::Result<Transaction<'c, Self::Db>>>;

    /// Runs fixed SQL without parameters (the per-write savepoints): one round trip,
    /// however many statements it holds.
    fn execute<'c>(&self, conn: &'c mut Conn<Self::Db>, sql: &'static str) -> BoxFuture<'c, sqlx::Result<()>>;

    /// Whether `event` goes into the event log.
    fn keeps(&self, event: &Event) -> bool {
        event.is_kept()
    }

    /// Records `events` in the event log; their ids, in the same order.
    fn record<'c>(
        &self,
        conn: &'c mut Conn<Self::Db>,
        events: &'c [&'c Event],
    ) -> BoxFuture<'c, sqlx::Result<Vec<i64>>>;

    /// Runs inside the transaction, last before commit, with the batch's events.
    fn before_commit<'c>(&self, conn: &'c mut Conn<Self::Db>, events: &'c Numbered) -> BoxFuture<'c, sqlx::Result<()>>;

    /// Hands committed events to subscribers.
    fn deliver(&self, events: Numbered);
}

/// A handle to the writer task; cheap to clone.
pub struct Writer<DB: Database> {
    jobs: mpsc::Sender<Box<dyn Job<DB>>>,
}

impl<DB: Database> Clone for Writer<DB> {
    fn clone(&self) -> Self {
        Writer { jobs: self.jobs.clone() }
    }
}

impl<DB: Database> Writer<DB> {
    /// Starts the writer on `pool` (which should hold one connection), on a thread
    /// of its own: a write waits on the database several times, and each answer
    /// should wake the writer at once, not queue it behind the HTTP work on the
    /// shared runtime (which under load tripled a write's time).
    pub fn start<H: Hooks<Db = DB>>(pool: Pool<DB>, hooks: H) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(serve(pool, hooks, queue));
        Writer { jobs }
    }

    /// Runs `work` in the writer's transaction and answers once it is committed.
    /// Dropping the returned future does not stop the write once it is queued. `work`
    /// may run more than once (a clone each time) if its batch is rolled back and run
    /// again; only the last run's effects are committed.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn<DB>) -> BoxFuture<'c, Result<(T, Recorded)>> + Clone + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(Write { work, done: None, reply: Some(reply) }))
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".to_owned()))?;
        // The sender is dropped without an answer only if the write panicked.
        answer.await.map_err(|_| StoreError::Internal("a write failed unexpectedly; see the server log".to_owned()))?
    }
}

trait Job<DB: Database>: Send {
    /// Runs the write (again, if its batch was rolled back) and keeps its result;
    /// returns its events, or `None` if it failed, in which case it has been answered.
    fn run<'c>(&'c mut self, conn: &'c mut Conn<DB>) -> BoxFuture<'c, Option<Recorded>>;
    /// Answers a write: with its result if its batch committed, else with why not.
    fn answer(self: Box<Self>, failed: Option<&StoreError>);
}

struct Write<F, T> {
    work: F,
    done: Option<T>,
    /// Taken when the write is answered.
    reply: Option<oneshot::Sender<Result<T>>>,
}

impl<DB, F, T> Job<DB> for Write<F, T>
where
    DB: Database,
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn<DB>) -> BoxFuture<'c, Result<(T, Recorded)>> + Clone + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut Conn<DB>) -> BoxFuture<'c, Option<Recorded>> {
        let work = (self.work.clone())(conn);
        Box::pin(async move {
            match work.await {
                Ok((value, events)) => {
                    self.done = Some(value);
                    Some(events)
                }
                Err(error) => {
                    self.done = None;
                    // Answered at once: a failed write has nothing to wait for.
                    if let Some(reply) = self.reply.take() {
                        let _ = reply.send(Err(error));
                    }
                    None
                }
            }
        })
    }

    fn answer(self: Box<Self>, failed: Option<&StoreError>) {
        let answer = match (failed, self.done) {
            (Some(error), _) => Err(error.retry_later()),
            (None, Some(value)) => Ok(value),
            (None, None) => Err(StoreError::Internal("a write was answered before it ran".to_owned())),
        };
        if let Some(reply) = self.reply {
            let _ = reply.send(answer);
        }
    }
}

async fn serve<H: Hooks>(pool: Pool<H::Db>, hooks: H, mut queue: mpsc::Receiver<Box<dyn Job<H::Db>>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        tracing::trace!(writes = batch.len(), "a batch of writes");
        run_batch(&pool, &hooks, std::mem::take(&mut batch)).await;
    }
}

async fn run_batch<H: Hooks>(pool: &Pool<H::Db>, hooks: &H, jobs: Vec<Box<dyn Job<H::Db>>>) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(error) => return answer_all(jobs, Some(&StoreError::from(error))),
    };
    let mut batch = Batch { jobs: jobs.into_iter().map(|job| (job, None)).collect(), guarded: false };
    match batch.commit(&mut conn, hooks).await {
        Ok(events) => {
            hooks.deliver(events);
            answer_all(batch.into_jobs(), None);
        }
        Err(error) => {
            tracing::error!(%error, "a batch of writes was rolled back");
            // Whatever state the connection is in, the next batch gets a fresh one.
            conn.close_on_drop();
            answer_all(batch.into_jobs(), Some(&error));
        }
    }
}

fn answer_all<DB: Database>(jobs: Vec<Box<dyn Job<DB>>>, failed: Option<&StoreError>) {
    for job in jobs {
        job.answer(failed);
    }
}

/// The writes of one transaction, each with its events once it has run. A write that
/// fails is answered and dropped.
struct Batch<DB: Database> {
    jobs: Vec<(Box<dyn Job<DB>>, Option<Recorded>)>,
    /// Whether each write runs under a savepoint: after the batch's first failure.
    guarded: bool,
}

impl<DB: Database> Batch<DB> {
    fn into_jobs(self) -> Vec<Box<dyn Job<DB>>> {
        self.jobs.into_iter().map(|(job, _)| job).collect()
    }

    /// Runs the writes in one transaction, records their events and commits it;
    /// returns the events with their ids.
    async fn commit<H: Hooks<Db = DB>>(&mut self, conn: &mut PoolConnection<DB>, hooks: &H) -> Result<Numbered> {
        let mut tx = hooks.begin(conn).await?;
        while let Some(failed) = self.run(&mut tx, hooks).await? {
            // Undo the batch so far, the failed write's part included, and run it
            // again without that write, each write under a savepoint from now on.
            tx.rollback().await?;
            self.jobs.remove(failed);
            self.guarded = true;
            tx = hooks.begin(conn).await?;
        }
        let events: Vec<Event> =
            self.jobs.iter_mut().flat_map(|(_, events)| events.take().unwrap_or_default()).collect();
        let kept: Vec<&Event> = events.iter().filter(|event| hooks.keeps(event)).collect();
        let mut ids = match kept.is_empty() {
            true => Vec::new(),
            false => hooks.record(&mut tx, &kept).await?,
        }
        .into_iter();
        let numbered: Numbered =
            events.into_iter().map(|event| (if hooks.keeps(&event) { ids.next() } else { None }, event)).collect();
        hooks.before_commit(&mut tx, &numbered).await?;
        tx.commit().await?;
        Ok(numbered)
    }

    /// Runs every write in order. Unguarded, stops at the first that fails and returns
    /// its place; guarded, rolls a failed write back to its savepoint and goes on.
    async fn run<H: Hooks<Db = DB>>(&mut self, conn: &mut Conn<DB>, hooks: &H) -> Result<Option<usize>> {
        if self.guarded {
            hooks.execute(conn, "SAVEPOINT write").await?;
        }
        let mut place = 0;
        while place < self.jobs.len() {
            let (job, events) = &mut self.jobs[place];
            *events = match AssertUnwindSafe(job.run(conn)).catch_unwind().await {
                Ok(events) => events,
                Err(_) => return Err(StoreError::Internal("a write panicked; its batch was rolled back".to_owned())),
            };
            match (events.is_some(), self.guarded) {
                (true, false) => {}
                (false, false) => return Ok(Some(place)),
                // The savepoint is released and set anew, or rolled back to (which
                // keeps it), in one round trip.
                (true, true) => hooks.execute(conn, "RELEASE SAVEPOINT write; SAVEPOINT write").await?,
                (false, true) => hooks.execute(conn, "ROLLBACK TO SAVEPOINT write").await?,
            }
            match events.is_some() {
                true => place += 1,
                false => drop(self.jobs.remove(place)),
            }
        }
        Ok(None)
    }
}

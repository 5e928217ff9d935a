//! The write path. One task per process owns the write connection and runs every
//! write to its end: a client that hangs up loses only its answer, and can never leave
//! a transaction half-done on the connection that every later write needs.
//!
//! Writes that arrive together share one transaction and one commit (group commit),
//! each under a savepoint of its own, so a write that fails is rolled back alone and
//! the others still commit. Each caller is answered only after its write is durable.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use shared::Event;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, Pool, Transaction};
use std::panic::AssertUnwindSafe;
use tokio::sync::{mpsc, oneshot};

use super::{Result, StoreError};

/// The events a write makes; the writer records a batch's events in the event log in
/// one go, before commit.
pub type Recorded = Vec<Event>;

/// Events as recorded, with their ids; delivered to subscribers after commit.
pub type Numbered = Vec<(i64, Event)>;

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

    /// Records `events` in the event log; their ids, in the same order.
    fn record<'c>(&self, conn: &'c mut Conn<Self::Db>, events: &'c [Event]) -> BoxFuture<'c, sqlx::Result<Vec<i64>>>;

    /// Runs inside the transaction, last before commit; `recorded` says whether the
    /// batch recorded events.
    fn before_commit<'c>(&self, conn: &'c mut Conn<Self::Db>, recorded: bool) -> BoxFuture<'c, sqlx::Result<()>>;

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
    /// Starts the writer task on `pool` (which should hold one connection).
    pub fn start<H: Hooks<Db = DB>>(pool: Pool<DB>, hooks: H) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(serve(pool, hooks, queue));
        Writer { jobs }
    }

    /// Runs `work` in the writer's transaction and answers once it is committed.
    /// Dropping the returned future does not stop the write once it is queued.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn<DB>) -> BoxFuture<'c, Result<(T, Recorded)>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(Write { work, reply }))
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".to_owned()))?;
        // The sender is dropped without an answer only if the write panicked.
        answer.await.map_err(|_| StoreError::Internal("a write failed unexpectedly; see the server log".to_owned()))?
    }
}

/// A write staged in the batch's transaction, to be answered once the batch ends.
struct Staged {
    events: Recorded,
    answer: Box<dyn FnOnce(Result<()>) + Send>,
}

trait Job<DB: Database>: Send {
    /// Runs the write; answers at once and returns `None` if it failed.
    fn run<'c>(self: Box<Self>, conn: &'c mut Conn<DB>) -> BoxFuture<'c, Option<Staged>>;
    /// Answers a write that could not be run at all.
    fn refuse(self: Box<Self>, error: StoreError);
}

struct Write<F, T> {
    work: F,
    reply: oneshot::Sender<Result<T>>,
}

impl<DB, F, T> Job<DB> for Write<F, T>
where
    DB: Database,
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn<DB>) -> BoxFuture<'c, Result<(T, Recorded)>> + Send + 'static,
{
    fn run<'c>(self: Box<Self>, conn: &'c mut Conn<DB>) -> BoxFuture<'c, Option<Staged>> {
        let Write { work, reply } = *self;
        let done = work(conn);
        Box::pin(async move {
            match done.await {
                Ok((value, events)) => Some(Staged {
                    events,
                    answer: Box::new(move |committed: Result<()>| {
                        let _ = reply.send(committed.map(|()| value));
                    }),
                }),
                Err(error) => {
                    let _ = reply.send(Err(error));
                    None
                }
            }
        })
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

async fn serve<H: Hooks>(pool: Pool<H::Db>, hooks: H, mut queue: mpsc::Receiver<Box<dyn Job<H::Db>>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        run_batch(&pool, &hooks, std::mem::take(&mut batch)).await;
    }
}

async fn run_batch<H: Hooks>(pool: &Pool<H::Db>, hooks: &H, jobs: Vec<Box<dyn Job<H::Db>>>) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(error) => return refuse_all(jobs, &StoreError::from(error)),
    };
    let (staged, unrun, outcome) = run_jobs(&mut conn, hooks, jobs).await;
    match outcome {
        Ok(events) => {
            hooks.deliver(events);
            for Staged { answer, .. } in staged {
                answer(Ok(()));
            }
        }
        Err(error) => {
            tracing::error!(%error, "a batch of writes was rolled back");
            // Whatever state the connection is in, the next batch gets a fresh one.
            conn.close_on_drop();
            for Staged { answer, .. } in staged {
                answer(Err(error.retry_later()));
            }
            refuse_all(unrun, &error);
        }
    }
}

/// Runs the jobs in one transaction, records their events and commits it. Returns the
/// staged writes, the jobs never run, and the recorded events, or why the batch failed
/// as a whole.
async fn run_jobs<H: Hooks>(
    conn: &mut PoolConnection<H::Db>,
    hooks: &H,
    jobs: Vec<Box<dyn Job<H::Db>>>,
) -> (Vec<Staged>, Vec<Box<dyn Job<H::Db>>>, Result<Numbered>) {
    let mut staged = Vec::with_capacity(jobs.len());
    let mut tx = match hooks.begin(conn).await {
        Ok(tx) => tx,
        Err(error) => return (staged, jobs, Err(error.into())),
    };
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        let mut savepoint = match Connection::begin(&mut *tx).await {
            Ok(savepoint) => savepoint,
            Err(error) => return (staged, std::iter::once(job).chain(jobs).collect(), Err(error.into())),
        };
        let ended = match AssertUnwindSafe(job.run(&mut *savepoint)).catch_unwind().await {
            Ok(Some(write)) => {
                staged.push(write);
                savepoint.commit().await
            }
            Ok(None) => savepoint.rollback().await,
            Err(_) => {
                let error = StoreError::Internal("a write panicked; its batch was rolled back".to_owned());
                return (staged, jobs.collect(), Err(error));
            }
        };
        if let Err(error) = ended {
            return (staged, jobs.collect(), Err(error.into()));
        }
    }
    let events: Vec<Event> = staged.iter_mut().flat_map(|write| std::mem::take(&mut write.events)).collect();
    let finished = async {
        let ids = if events.is_empty() { Vec::new() } else { hooks.record(&mut tx, &events).await? };
        hooks.before_commit(&mut tx, !events.is_empty()).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(ids)
    };
    let outcome = finished.await.map(|ids| ids.into_iter().zip(events).collect()).map_err(StoreError::from);
    (staged, Vec::new(), outcome)
}

fn refuse_all<DB: Database>(jobs: Vec<Box<dyn Job<DB>>>, error: &StoreError) {
    for job in jobs {
        job.refuse(error.retry_later());
    }
}

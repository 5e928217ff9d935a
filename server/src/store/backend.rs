//! What each database provides to the SQL written once in `sql/`: its connections,
//! its dialect's few differences, and how it learns of other processes' writes. (How
//! it begins and ends a batch of writes is `writer::Hooks`.)

use sqlx::{Database, Pool};
use std::future::Future;

use super::writer::Writer;

pub(super) trait Backend: Send + Sync + 'static {
    type Db: Database;

    /// `sqlite` or `postgres`.
    const NAME: &'static str;
    /// Case-insensitive `LIKE`.
    const LIKE: &'static str;
    /// The database's clock, as SQL giving a `Ts` (leases compare it, not a replica's).
    const NOW: &'static str;
    /// Where text search has an index table of its own (SQLite's FTS5): SQL choosing
    /// the runs it finds for a phrase bound next, up to a closing parenthesis. Else the
    /// search condition itself is served by an index (PostgreSQL's pg_trgm).
    const SEARCH_MATCH: Option<&'static str>;
    /// SQL that is true of an `agents` row alive at the time bound as `$2`.
    const ALIVE_AT: &'static str;
    /// SQL giving the start of the UTC day of the timestamp `t`.
    const DAY_OF_T: &'static str;
    /// Begins a read-only transaction whose reads all see one moment.
    const SNAPSHOT: &'static str;
    /// Statements run one at a time, outside a transaction, after a bulk load.
    const AFTER_BULK_LOAD: &'static [&'static str];

    /// Reads: a pool the writer never waits on.
    fn reader(&self) -> &Pool<Self::Db>;
    fn writer(&self) -> &Writer<Self::Db>;
    /// The writer's connection, for statements that cannot run in a transaction.
    fn write_pool(&self) -> &Pool<Self::Db>;
    /// Publishes the events other processes commit, until the process ends.
    fn relay(&self) -> impl Future<Output = ()> + Send;
}

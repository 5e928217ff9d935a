//! Answers kept until the data changes: analytics pages are opened by many people at
//! once and read the same rollups again and again.
//!
//! An entry holds a query's tallies with the newest event id read before they were
//! computed. The writes that move rollups record events: the dashboard's own, other
//! replicas', and other programs' inserts and updates (through the triggers), so an
//! entry is current while the event log's newest id has not passed it: one index
//! lookup instead of thousands of rollup rows. Another program's deletes record
//! nothing, so no entry is used longer than `MAX_AGE`. Requests for one query while
//! it is computed wait for that computation instead of repeating it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Mutex as AsyncMutex;

use super::Tallies;
use crate::store::{Result, Store};

const MAX_AGE: Duration = Duration::from_secs(10);
/// Queries kept; past it, the cache starts over (windows move by the hour, so old
/// keys are dead weight).
const MAX_ENTRIES: usize = 512;

#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, Arc<AsyncMutex<Option<Entry>>>>>,
}

struct Entry {
    /// The newest event id read before the tallies.
    seen: i64,
    at: Instant,
    tallies: Arc<Tallies>,
}

impl Cache {
    /// The tallies for `key`, from the cache while no event has been recorded since
    /// they were computed, else from `compute`.
    pub async fn get<F>(&self, store: &dyn Store, key: String, compute: F) -> Result<Arc<Tallies>>
    where
        F: std::future::Future<Output = Result<Tallies>>,
    {
        let (_, newest) = store.event_bounds().await?;
        let slot = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
                entries.clear();
            }
            entries.entry(key).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(entry) = slot.as_ref().filter(|entry| entry.seen >= newest && entry.at.elapsed() < MAX_AGE) {
            return Ok(entry.tallies.clone());
        }
        let at = Instant::now();
        let tallies = Arc::new(compute.await?);
        *slot = Some(Entry { seen: newest, at, tallies: tallies.clone() });
        Ok(tallies)
    }
}

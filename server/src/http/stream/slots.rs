//! Open event streams, counted against `--max-streams` and `--max-streams-per-caller`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counts open event streams against `--max-streams`, and each caller's against
/// `--max-streams-per-caller`.
#[derive(Clone)]
pub struct StreamSlots {
    open: Arc<Mutex<OpenStreams>>,
    max: usize,
    per_caller: usize,
}

#[derive(Default)]
struct OpenStreams {
    total: usize,
    by_caller: HashMap<String, usize>,
}

/// Which limit a new stream met.
pub enum Full {
    All,
    Caller,
}

/// One open stream; gives its slot back when dropped.
pub struct StreamSlot(Arc<Mutex<OpenStreams>>, String);

impl StreamSlots {
    pub fn new(max: usize, per_caller: usize) -> StreamSlots {
        StreamSlots { open: Arc::default(), max, per_caller }
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    pub fn take(&self, caller: String) -> Result<StreamSlot, Full> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.max {
            return Err(Full::All);
        }
        let mine = open.by_caller.entry(caller.clone()).or_default();
        if *mine >= self.per_caller {
            return Err(Full::Caller);
        }
        *mine += 1;
        open.total += 1;
        Ok(StreamSlot(self.open.clone(), caller))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        open.total -= 1;
        if let Some(mine) = open.by_caller.get_mut(&self.1) {
            *mine -= 1;
            if *mine == 0 {
                open.by_caller.remove(&self.1);
            }
        }
    }
}

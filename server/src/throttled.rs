//! Warnings that a flood would repeat thousands of times (a lagging subscriber during
//! a bulk job, a client over its connection cap): logged at most once a period, with
//! how many times it happened since the last line.

use std::time::{Duration, Instant};

pub struct Throttled {
    every: Duration,
    last: Option<Instant>,
    pending: u64,
}

impl Throttled {
    pub const fn every(every: Duration) -> Throttled {
        Throttled { every, last: None, pending: 0 }
    }

    /// Counts `times` more; returns the count to log now, if a line is due.
    pub fn count(&mut self, times: u64) -> Option<u64> {
        self.pending += times;
        if self.last.is_some_and(|at| at.elapsed() < self.every) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_is_logged_and_the_rest_summed_until_the_period_ends() {
        let mut warning = Throttled::every(Duration::from_millis(50));
        assert_eq!(warning.count(3), Some(3));
        assert_eq!(warning.count(2), None);
        assert_eq!(warning.count(1), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(warning.count(1), Some(4));
    }
}

//! Durations as counts per bin (the bins of migration 0011, each 1.15 times as wide as
//! the one before), and percentiles read from them: the geometric middle of the bin
//! the percentile falls in is within 7 % of the true value (sqrt(1.15) = 1.072).

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// By the bin's lower bound (its bits order like the non-negative numbers they
    /// are): the upper bound and the count.
    bins: BTreeMap<u64, (f64, i64)>,
}

impl Histogram {
    pub fn add(&mut self, lower: f64, upper: f64, count: i64) {
        self.bins.entry(lower.max(0.0).to_bits()).or_insert((upper, 0)).1 += count;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (lower, (upper, count)) in &other.bins {
            self.add(f64::from_bits(*lower), *upper, *count);
        }
    }

    /// The `p` quantile (0 < p <= 1), or `None` without durations.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let total: i64 = self.bins.values().map(|(_, count)| count).sum();
        if total <= 0 {
            return None;
        }
        let rank = ((p * total as f64).ceil() as i64).max(1);
        let mut seen = 0;
        for (lower, (upper, count)) in &self.bins {
            seen += count;
            if seen >= rank {
                let lower = f64::from_bits(*lower);
                return Some(if lower > 0.0 { (lower * upper).sqrt() } else { upper / 2.0 });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bins as the migration makes them.
    fn bin_of(seconds: f64) -> (f64, f64) {
        if seconds < 0.01 {
            return (0.0, 0.01);
        }
        let mut lower = 0.01;
        while lower * 1.15 <= seconds {
            lower *= 1.15;
        }
        (lower, lower * 1.15)
    }

    #[test]
    fn percentiles_are_within_seven_percent() {
        let durations: Vec<f64> = (1..=1000).map(|i| (i as f64).powf(1.7) / 10.0).collect();
        let mut histogram = Histogram::default();
        for d in &durations {
            let (lower, upper) = bin_of(*d);
            histogram.add(lower, upper, 1);
        }
        for p in [0.5, 0.9, 0.95, 0.99, 1.0] {
            let exact = durations[((p * 1000.0_f64).ceil() as usize).max(1) - 1];
            let estimate = histogram.percentile(p).unwrap();
            assert!((estimate / exact - 1.0).abs() <= 0.072, "p{p}: {estimate} against {exact}");
        }
    }

    #[test]
    fn merged_histograms_count_both() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.add(1.0, 1.15, 3);
        b.add(1.0, 1.15, 1);
        b.add(0.0, 0.01, 1);
        a.merge(&b);
        assert_eq!(a.percentile(0.2), Some(0.005));
        assert_eq!(a.percentile(1.0), Some((1.0f64 * 1.15).sqrt()));
        assert_eq!(Histogram::default().percentile(0.5), None);
    }
}

//! Bounds on stored counts and amounts. Each is far above anything a real run reports
//! and far below where a sum over millions of runs could overflow, so totals stay
//! exact; anything outside them is refused before it is stored.

use super::StoreError;

/// Tokens of one node, or of one run (a trillion).
pub const MAX_TOKENS: i64 = 1_000_000_000_000;
/// US dollars of one node, or of one run.
pub const MAX_COST_USD: f64 = 1_000_000_000.0;
/// Seconds of one node, or of one run (about 31 years).
pub const MAX_DURATION_SECONDS: f64 = 1_000_000_000.0;

/// `total + more` tokens, refused beyond `MAX_TOKENS`.
pub fn add_tokens(what: &str, total: Option<i64>, more: Option<i64>) -> Result<Option<i64>, StoreError> {
    if more.is_none() {
        return Ok(total);
    }
    let sum = total.unwrap_or(0).checked_add(more.unwrap_or(0)).filter(|sum| (0..=MAX_TOKENS).contains(sum));
    sum.map(Some).ok_or_else(|| StoreError::Unprocessable(format!("{what} would leave the range 0 to {MAX_TOKENS}")))
}

/// `total + more` dollars, refused beyond `MAX_COST_USD`.
pub fn add_cost(what: &str, total: Option<f64>, more: Option<f64>) -> Result<Option<f64>, StoreError> {
    if more.is_none() {
        return Ok(total);
    }
    let sum = total.unwrap_or(0.0) + more.unwrap_or(0.0);
    match sum.is_finite() && (0.0..=MAX_COST_USD).contains(&sum) {
        true => Ok(Some(sum)),
        false => Err(StoreError::Unprocessable(format!("{what} would leave the range 0 to {MAX_COST_USD}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_stay_within_bounds() {
        assert_eq!(add_tokens("t", None, None).unwrap(), None);
        assert_eq!(add_tokens("t", Some(5), None).unwrap(), Some(5));
        assert_eq!(add_tokens("t", None, Some(7)).unwrap(), Some(7));
        assert_eq!(add_tokens("t", Some(MAX_TOKENS - 1), Some(1)).unwrap(), Some(MAX_TOKENS));
        assert!(add_tokens("t", Some(MAX_TOKENS), Some(1)).is_err());
        assert!(add_tokens("t", Some(i64::MAX), Some(i64::MAX)).is_err());
        assert!(add_tokens("t", Some(-5), Some(1)).is_err());
        assert_eq!(add_cost("c", Some(1.5), Some(2.0)).unwrap(), Some(3.5));
        assert!(add_cost("c", Some(MAX_COST_USD), Some(1.0)).is_err());
        assert!(add_cost("c", Some(f64::MAX), Some(f64::MAX)).is_err());
    }
}

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

/// Refuses a run whose totals, grown by a report, left their bounds (the write that
/// grew them is then rolled back).
pub fn check_totals(what: &str, tokens: Option<i64>, cost_usd: Option<f64>) -> Result<(), StoreError> {
    if tokens.is_some_and(|tokens| !(0..=MAX_TOKENS).contains(&tokens)) {
        return Err(StoreError::Unprocessable(format!("{what} total_tokens would leave the range 0 to {MAX_TOKENS}")));
    }
    if cost_usd.is_some_and(|cost| !(cost.is_finite() && (0.0..=MAX_COST_USD).contains(&cost))) {
        return Err(StoreError::Unprocessable(format!(
            "{what} total_cost_usd would leave the range 0 to {MAX_COST_USD}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_stay_within_bounds() {
        assert!(check_totals("r", None, None).is_ok());
        assert!(check_totals("r", Some(MAX_TOKENS), Some(MAX_COST_USD)).is_ok());
        assert!(check_totals("r", Some(MAX_TOKENS + 1), None).is_err());
        assert!(check_totals("r", Some(-1), None).is_err());
        assert!(check_totals("r", None, Some(MAX_COST_USD * 2.0)).is_err());
        assert!(check_totals("r", None, Some(f64::INFINITY)).is_err());
    }
}

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

/// The most one run may report, as the operator set it (`--max-run-cost-usd`,
/// `--max-run-tokens`): far below the stored bounds, so that a wrong or hostile
/// reporter cannot spend a workflow's budget with one report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunBound {
    pub cost_usd: f64,
    pub tokens: i64,
}

impl RunBound {
    /// Refuses totals beyond the bound (the write that grew them is then rolled back).
    pub fn check(&self, tokens: Option<i64>, cost_usd: Option<f64>) -> Result<(), StoreError> {
        if tokens.is_some_and(|tokens| tokens > self.tokens) {
            return Err(StoreError::Unprocessable(format!(
                "the run would have reported {} tokens, more than the {} one run may (--max-run-tokens)",
                tokens.unwrap_or_default(),
                self.tokens
            )));
        }
        if cost_usd.is_some_and(|cost| cost > self.cost_usd) {
            return Err(StoreError::Unprocessable(format!(
                "the run would have reported ${}, more than the ${} one run may (--max-run-cost-usd)",
                cost_usd.unwrap_or_default(),
                self.cost_usd
            )));
        }
        Ok(())
    }
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

    #[test]
    fn reports_stay_within_the_operators_bound() {
        let bound = RunBound { cost_usd: 100.0, tokens: 1000 };
        assert!(bound.check(Some(1000), Some(100.0)).is_ok() && bound.check(None, None).is_ok());
        assert!(bound.check(Some(1001), None).is_err());
        assert!(bound.check(None, Some(100.01)).is_err());
    }
}

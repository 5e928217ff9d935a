//! Budgets per workflow: `GET /api/budgets`, `PUT` and `DELETE /api/budgets/{workflow}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The caps of one workflow's budget, and the body of `PUT /api/budgets/{workflow}`.
/// Absent or `null`: no such cap. Day and month are UTC, and a period's spend is the
/// cost of the runs that started in it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BudgetLimits {
    #[serde(default)]
    pub daily_usd: Option<f64>,
    #[serde(default)]
    pub monthly_usd: Option<f64>,
    /// What one run may cost; a run over it is cancelled.
    #[serde(default)]
    pub run_max_usd: Option<f64>,
    /// How many tokens one run may use; a run over it is cancelled.
    #[serde(default)]
    pub run_max_tokens: Option<i64>,
}

/// Where a workflow stands against its period caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    Ok,
    /// At 80 % of a cap or more.
    Warning,
    /// At a cap or over: new runs are refused, reporting runs cancelled.
    Exceeded,
}

/// A workflow's budget with what it has spent, in `GET /api/budgets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Budget {
    pub workflow_name: String,
    #[serde(flatten)]
    pub limits: BudgetLimits,
    pub spent_today_usd: f64,
    pub spent_month_usd: f64,
    pub state: BudgetState,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// Who reported today's spend, most first (at most ten).
    #[serde(default)]
    pub reporters_today: Vec<BudgetReporter>,
}

/// Spend of one reporter: an agent (the runs dispatched to it, which its token
/// reports into), a token or user that recorded runs itself, or `other writers` (runs
/// written straight into the database, by the original runtime).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetReporter {
    pub reporter: String,
    pub runs: i64,
    pub cost_usd: f64,
}

/// Share of a period cap at which a budget warns.
pub const BUDGET_WARNING: f64 = 0.8;

impl BudgetLimits {
    /// Why a run that has spent this much must stop, if it must.
    pub fn run_verdict(&self, cost_usd: Option<f64>, tokens: Option<i64>) -> Option<String> {
        if let (Some(cap), Some(cost)) = (self.run_max_usd, cost_usd) {
            if cost > cap {
                return Some(format!("budget exceeded: {} > {} per run", usd(cost), usd(cap)));
            }
        }
        if let (Some(cap), Some(tokens)) = (self.run_max_tokens, tokens) {
            if tokens > cap {
                return Some(format!("budget exceeded: {tokens} > {cap} tokens per run"));
            }
        }
        None
    }

    /// Why the workflow may spend no more, having spent this much today and this
    /// month, if so; `over` says whether reaching a cap counts or only passing it.
    pub fn period_verdict(&self, today: f64, month: f64, over: bool) -> Option<String> {
        let hit = |spent: f64, cap: f64| if over { spent > cap } else { spent >= cap };
        for (cap, spent, per) in [(self.daily_usd, today, "day"), (self.monthly_usd, month, "month")] {
            if let Some(cap) = cap.filter(|cap| hit(spent, *cap)) {
                return Some(if spent > cap {
                    format!("budget exceeded: {} > {} per {per}", usd(spent), usd(cap))
                } else {
                    format!("budget reached: {} of {} per {per}", usd(spent), usd(cap))
                });
            }
        }
        None
    }

    pub fn state(&self, today: f64, month: f64) -> BudgetState {
        let share = [(self.daily_usd, today), (self.monthly_usd, month)]
            .into_iter()
            .filter_map(|(cap, spent)| cap.map(|cap| spent / cap))
            .fold(0.0, f64::max);
        if share >= 1.0 {
            BudgetState::Exceeded
        } else if share >= BUDGET_WARNING {
            BudgetState::Warning
        } else {
            BudgetState::Ok
        }
    }
}

/// Dollars as people read them: cents, or more digits below ten cents.
pub fn usd(amount: f64) -> String {
    if amount.abs() >= 0.1 {
        format!("${amount:.2}")
    } else {
        format!("${amount:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_name_the_cap_crossed() {
        let limits = BudgetLimits { run_max_usd: Some(0.5), daily_usd: Some(10.0), ..Default::default() };
        assert_eq!(limits.run_verdict(Some(0.52), None).unwrap(), "budget exceeded: $0.52 > $0.50 per run");
        assert_eq!(limits.run_verdict(Some(0.5), Some(1 << 40)), None);
        assert_eq!(limits.period_verdict(10.0, 10.0, true), None);
        assert_eq!(limits.period_verdict(10.0, 10.0, false).unwrap(), "budget reached: $10.00 of $10.00 per day");
        assert_eq!(limits.state(8.0, 0.0), BudgetState::Warning);
        assert_eq!(limits.state(7.9, 100.0), BudgetState::Ok);
        assert_eq!(BudgetLimits::default().state(1e9, 1e9), BudgetState::Ok);
    }
}

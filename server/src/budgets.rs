//! Budgets: caps per workflow on what it spends per UTC day and month, and on what one
//! run spends. Enforced on one path, the event bus, which carries every run change
//! (node reports through the API, other writers', other replicas'): a run over a cap is
//! cancelled on the same path as an operator's cancel. Where runs start, a workflow at
//! a period cap is refused; a run's final report is held to the per-run caps.

use chrono::{Datelike, NaiveTime, Utc};
use serde_json::json;
use shared::{Alert, Budget, BudgetLimits, BudgetState, Event, FinishRun, RunSort, RunStatus, WorkflowRun};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::events::EventBus;
use crate::store::access::{Actor, Audit};
use crate::store::{Outcome, Result, RunFilter, SortKey, Store, StoreError, StoredBudget, Ts};
use crate::webhooks::{Notice, Webhooks};

/// How often budgets are read again, for other dashboard processes' changes.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

pub struct Budgets {
    store: Arc<dyn Store>,
    webhooks: Arc<Webhooks>,
    /// Every budget's caps, by workflow: runs of other workflows cost no query.
    limits: RwLock<HashMap<String, BudgetLimits>>,
}

impl Budgets {
    pub async fn load(store: Arc<dyn Store>, webhooks: Arc<Webhooks>) -> Result<Arc<Budgets>> {
        let budgets = Arc::new(Budgets { store, webhooks, limits: RwLock::default() });
        budgets.reload().await?;
        Ok(budgets)
    }

    async fn reload(&self) -> Result<()> {
        let stored = self.store.list_budgets().await?;
        *self.limits.write().unwrap_or_else(|e| e.into_inner()) =
            stored.into_iter().map(|b| (b.workflow_name, b.limits)).collect();
        Ok(())
    }

    fn limits(&self, workflow: &str) -> Option<BudgetLimits> {
        self.limits.read().unwrap_or_else(|e| e.into_inner()).get(workflow).copied()
    }

    /// What the workflow has spent today and this month (UTC).
    async fn spent(&self, workflow: &str) -> Result<(f64, f64)> {
        let today = Utc::now().date_naive();
        let day = today.and_time(NaiveTime::MIN);
        let month = today.with_day(1).unwrap_or(today).and_time(NaiveTime::MIN);
        self.store.spent(workflow, Ts(day), Ts(month)).await
    }

    /// Why a run of `workflow` may not start now, if it may not.
    pub async fn refusal(&self, workflow: &str) -> Result<Option<String>> {
        let Some(limits) = self.limits(workflow).filter(|l| l.daily_usd.is_some() || l.monthly_usd.is_some()) else {
            return Ok(None);
        };
        let (today, month) = self.spent(workflow).await?;
        Ok(limits.period_verdict(today, month, false).map(|why| format!("workflow {workflow}: {why}")))
    }

    /// What a run's final report (complete or fail) records: over budget, saying why
    /// (and what failure the runner reported), when its totals pass a per-run cap.
    pub fn final_outcome(&self, run: &WorkflowRun, outcome: Outcome, report: &mut FinishRun) -> Outcome {
        let cost = report.total_cost_usd.or(run.total_cost_usd);
        let tokens = report.total_tokens.or(run.total_tokens);
        let Some(why) = self.limits(&run.workflow_name).and_then(|limits| limits.run_verdict(cost, tokens)) else {
            return outcome;
        };
        report.error_message = Some(match (outcome, &report.error_message) {
            (Outcome::Failed, Some(failure)) => format!("{why} (the run reported it failed: {failure})"),
            _ => why,
        });
        Outcome::OverBudget
    }

    /// Cancels `run` (as it stands after a report) if it, or its workflow's period
    /// spend, went over a cap.
    pub async fn enforce(&self, run: &WorkflowRun) {
        if !run.status.is_active() {
            return;
        }
        let Some(limits) = self.limits(&run.workflow_name) else { return };
        let period = self.period_verdict(&run.workflow_name, &limits).await;
        self.hold(run, &limits, period).await;
    }

    /// Why the workflow's runs must stop for its period spend, if they must; warns
    /// webhooks near a cap.
    async fn period_verdict(&self, workflow: &str, limits: &BudgetLimits) -> Option<String> {
        if limits.daily_usd.is_none() && limits.monthly_usd.is_none() {
            return None;
        }
        match self.spent(workflow).await {
            Ok((today, month)) => {
                self.warn(workflow, limits, today, month);
                limits.period_verdict(today, month, true)
            }
            Err(error) => {
                tracing::warn!(%error, %workflow, "could not read the workflow's spend");
                None
            }
        }
    }

    /// Cancels `run` if it passed a per-run cap, or with `period`, its workflow's reason.
    async fn hold(&self, run: &WorkflowRun, limits: &BudgetLimits, period: Option<String>) {
        let Some(reason) = limits.run_verdict(run.total_cost_usd, run.total_tokens).or(period) else { return };
        let by = Actor { name: "budget".to_owned(), token_id: None };
        match self.store.cancel_run(&run.id, &by, Some(reason)).await {
            // Another report, or an operator, ended it first.
            Ok(_) | Err(StoreError::Conflict(_)) | Err(StoreError::NotFound(_)) => {}
            Err(error) => tracing::warn!(%error, run = %run.id, "could not cancel a run over its budget"),
        }
    }

    /// Holds every active run of every budgeted workflow to its caps as it stands now,
    /// reading each workflow's spend once.
    async fn enforce_active(&self) {
        const PAGE: i64 = 500;
        let budgets: Vec<(String, BudgetLimits)> =
            self.limits.read().unwrap_or_else(|e| e.into_inner()).iter().map(|(w, l)| (w.clone(), *l)).collect();
        for (workflow, limits) in budgets {
            let period = self.period_verdict(&workflow, &limits).await;
            let mut after = None;
            loop {
                let filter = RunFilter {
                    statuses: vec![RunStatus::Pending, RunStatus::Running],
                    workflow: Some(workflow.clone()),
                    agent: None,
                    since: None,
                    until: None,
                    text: None,
                    sort: RunSort::StartedAt,
                    descending: true,
                    after: after.take(),
                    limit: PAGE,
                };
                let runs = match self.store.list_runs(&filter).await {
                    Ok(runs) => runs,
                    Err(error) => {
                        tracing::warn!(%error, %workflow, "could not list active runs to hold to the budget");
                        break;
                    }
                };
                for run in &runs {
                    self.hold(run, &limits, period.clone()).await;
                }
                match runs.last() {
                    Some(last) if runs.len() as i64 == PAGE => {
                        after = Some((SortKey::of(last, RunSort::StartedAt), last.id.clone()))
                    }
                    _ => break,
                }
            }
        }
    }

    /// Alerts webhooks when a workflow's spend reaches 80 % of a period cap (once a
    /// day per workflow).
    fn warn(&self, workflow: &str, limits: &BudgetLimits, today: f64, month: f64) {
        if limits.state(today, month) == BudgetState::Ok {
            return;
        }
        self.webhooks.notify(Notice {
            alert: Alert::BudgetWarning,
            about: format!("{workflow}@{}", Utc::now().date_naive()),
            text: format!(
                "Workflow {workflow} has spent {} today and {} this month, 80 % or more of its budget.",
                shared::usd(today),
                shared::usd(month)
            ),
            path: "/analytics".to_owned(),
            subject: ("budget", json!({ "workflow_name": workflow, "limits": limits, "spent_today_usd": today, "spent_month_usd": month })),
        });
    }

    pub async fn list(&self) -> Result<Vec<Budget>> {
        let mut budgets = Vec::new();
        for stored in self.store.list_budgets().await? {
            budgets.push(self.with_spend(stored).await?);
        }
        Ok(budgets)
    }

    pub async fn set(&self, workflow: &str, limits: BudgetLimits, audit: Audit) -> Result<Budget> {
        let stored = self.store.set_budget(workflow, limits, audit).await?;
        self.limits.write().unwrap_or_else(|e| e.into_inner()).insert(workflow.to_owned(), limits);
        self.with_spend(stored).await
    }

    pub async fn delete(&self, workflow: &str, audit: Audit) -> Result<()> {
        self.store.delete_budget(workflow, audit).await?;
        self.limits.write().unwrap_or_else(|e| e.into_inner()).remove(workflow);
        Ok(())
    }

    async fn with_spend(&self, stored: StoredBudget) -> Result<Budget> {
        let (today, month) = self.spent(&stored.workflow_name).await?;
        let midnight = Ts(Utc::now().date_naive().and_time(NaiveTime::MIN));
        let reporters_today = self.store.spent_by_reporter(&stored.workflow_name, midnight).await?;
        Ok(Budget {
            reporters_today,
            state: stored.limits.state(today, month),
            workflow_name: stored.workflow_name,
            limits: stored.limits,
            spent_today_usd: today,
            spent_month_usd: month,
            updated_at: stored.updated_at.utc(),
            updated_by: stored.updated_by,
        })
    }

    /// Enforces budgets on every run change the bus carries (other writers' too), and
    /// reads budgets again now and then; until the process ends.
    pub fn watch(self: Arc<Self>, bus: &EventBus) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut events = bus.subscribe();
        async move {
            let mut reload = tokio::time::interval(RELOAD_EVERY);
            loop {
                tokio::select! {
                    received = events.recv() => match received {
                        Ok(published) => {
                            if let Event::WorkflowUpdate(run) = published.event.as_ref() {
                                self.enforce(run).await;
                            }
                        }
                        // Changes went by unseen (a flood of events): what is queued
                        // is skipped too, and every run they may have been about is
                        // checked once, as it stands now.
                        Err(RecvError::Lagged(_)) => {
                            while !matches!(events.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
                            self.enforce_active().await;
                        }
                        Err(RecvError::Closed) => return,
                    },
                    _ = reload.tick() => {
                        if let Err(error) = self.reload().await {
                            tracing::warn!(%error, "could not read budgets");
                        }
                    }
                }
            }
        }
    }
}

//! The runs on screen, kept true to the filters while runs change, and still while
//! the operator is at work. A run that stops matching is marked and then leaves; one
//! that starts to match enters where the page's order puts it (on the first page of
//! the newest-first order; elsewhere it is counted, and a reload shows it in place).
//! While the page is held (the pointer over the table, a run picked, a menu or dialog
//! open, the page scrolled) nothing moves: new runs wait behind a bar and leaving
//! rows stay, marked, until the hold ends or the bar is clicked.

use chrono::Utc;
use leptos::prelude::*;
use shared::{RunOrder, RunQuery, WorkflowRun};
use std::collections::BTreeSet;
use std::time::Duration;

use crate::merge;

/// How long a row that left the filters stays, marked, before it goes.
const LEAVING_SHOWN: Duration = Duration::from_millis(1500);

/// One table row: its own signals, so a live change redraws only that row's cells.
#[derive(Clone)]
pub struct Row {
    pub id: String,
    pub run: RwSignal<WorkflowRun>,
    /// No longer matches the filters; leaves when the page is free to move.
    pub leaving: RwSignal<bool>,
}

impl Row {
    fn new(run: WorkflowRun) -> Row {
        Row { id: run.id.clone(), run: RwSignal::new(run), leaving: RwSignal::new(false) }
    }
}

/// What a change to a run not on the page does.
#[derive(Debug, PartialEq, Eq)]
enum Arrival {
    /// It belongs on top of this page.
    OnTop,
    /// It matches, but its place in this order or page is not known here.
    Elsewhere,
    Ignored,
}

fn arrival(query: &RunQuery, run: &WorkflowRun) -> Arrival {
    if !query.matches(run, Utc::now()) {
        return Arrival::Ignored;
    }
    let newest_first = query.sort.unwrap_or_default() == RunOrder::default();
    match query.cursor.is_none() && newest_first {
        true => Arrival::OnTop,
        false => Arrival::Elsewhere,
    }
}

/// The page's rows and what waits to change them.
#[derive(Clone, Copy)]
pub struct LiveRows {
    pub rows: RwSignal<Vec<Row>>,
    /// New runs that belong on top, held while the page is held.
    pub waiting: RwSignal<Vec<WorkflowRun>>,
    /// Runs that entered the filters where this page cannot place them.
    pub elsewhere: RwSignal<BTreeSet<String>>,
    /// Whether the page must hold still.
    pub held: Signal<bool>,
    limit: Memo<usize>,
    /// The page's: rows made from an event or a click live as long as the page, not
    /// as long as whatever was running then (the bar, gone once clicked).
    owner: StoredValue<Option<Owner>>,
}

impl LiveRows {
    pub fn new(held: Signal<bool>, limit: Memo<usize>) -> LiveRows {
        let live = LiveRows {
            rows: RwSignal::new(Vec::new()),
            waiting: RwSignal::new(Vec::new()),
            elsewhere: RwSignal::new(BTreeSet::new()),
            held,
            limit,
            owner: StoredValue::new(Owner::current()),
        };
        // When the hold ends, what waited happens.
        Effect::new(move |_| {
            if !held.get() {
                live.settle();
            }
        });
        live
    }

    /// Shows a freshly loaded page. A row already on screen keeps its signals (the
    /// table keys rows by id and keeps their cells) and takes the new values.
    pub fn replace(self, runs: Vec<WorkflowRun>) {
        let current = self.rows.get_untracked();
        let fresh = runs
            .into_iter()
            .map(|run| match current.iter().find(|row| row.id == run.id) {
                Some(row) => {
                    row.run.set(run);
                    row.leaving.set(false);
                    row.clone()
                }
                None => self.row(run),
            })
            .collect();
        self.rows.set(fresh);
        self.waiting.set(Vec::new());
        self.elsewhere.set(BTreeSet::new());
    }

    /// A run changed.
    pub fn apply(self, query: &RunQuery, run: &WorkflowRun) {
        let on_page = self.rows.with_untracked(|rows| rows.iter().find(|row| row.id == run.id).cloned());
        if let Some(row) = on_page {
            if row.run.with_untracked(|current| merge::supersedes(run, current)) {
                row.run.set(run.clone());
            }
            let leaving = !query.matches(&row.run.get_untracked(), Utc::now());
            if row.leaving.get_untracked() != leaving {
                row.leaving.set(leaving);
            }
            if leaving {
                set_timeout(move || self.settle(), LEAVING_SHOWN);
            }
            return;
        }
        self.waiting.update(|waiting| waiting.retain(|waited| waited.id != run.id));
        match arrival(query, run) {
            Arrival::OnTop => {
                self.waiting.update(|waiting| waiting.push(run.clone()));
                if !self.held.get_untracked() {
                    self.settle();
                }
            }
            Arrival::Elsewhere => {
                if !self.elsewhere.with_untracked(|ids| ids.contains(&run.id)) {
                    self.elsewhere.update(|ids| {
                        ids.insert(run.id.clone());
                    });
                }
            }
            Arrival::Ignored => {}
        }
    }

    fn row(self, run: WorkflowRun) -> Row {
        match self.owner.get_value() {
            Some(owner) => owner.with(|| Row::new(run)),
            None => Row::new(run),
        }
    }

    /// Lets what waited happen, unless the page is held.
    fn settle(self) {
        if !self.held.get_untracked() {
            self.show_now();
        }
    }

    /// New runs on top, rows that left gone, the page cut to its size: now, held or not
    /// (the bar's click).
    pub fn show_now(self) {
        let waiting = self.waiting.try_update(std::mem::take).unwrap_or_default();
        let leaving = self.rows.with_untracked(|rows| rows.iter().any(|row| row.leaving.get_untracked()));
        if waiting.is_empty() && !leaving {
            return;
        }
        let limit = self.limit.get_untracked();
        self.rows.update(|rows| {
            rows.retain(|row| !row.leaving.get_untracked());
            let mut arrived: Vec<WorkflowRun> = waiting;
            arrived.sort_by_key(|run| std::cmp::Reverse(run.started_at));
            let fresh: Vec<Row> = arrived.into_iter().map(|run| self.row(run)).collect();
            rows.splice(0..0, fresh);
            rows.truncate(limit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::RunStatus;

    fn run(status: RunStatus) -> WorkflowRun {
        WorkflowRun::new("abc", "w", status, Utc::now())
    }

    #[test]
    fn arrivals_go_on_top_only_of_the_newest_first_page() {
        let active = RunQuery { status: "pending,running".parse().ok(), ..Default::default() };
        assert_eq!(arrival(&active, &run(RunStatus::Running)), Arrival::OnTop);
        assert_eq!(arrival(&active, &run(RunStatus::Completed)), Arrival::Ignored);
        let by_cost = RunQuery { sort: "-total_cost_usd".parse().ok(), ..active.clone() };
        assert_eq!(arrival(&by_cost, &run(RunStatus::Pending)), Arrival::Elsewhere);
        let older = RunQuery { cursor: Some("c".into()), ..active };
        assert_eq!(arrival(&older, &run(RunStatus::Pending)), Arrival::Elsewhere);
    }
}

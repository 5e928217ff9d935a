//! Applying live events to data that was loaded by a request. Events and responses can
//! cross on the wire, so a run is only replaced by a version at least as far along.

use leptos::prelude::*;
use shared::{RunStatus, WorkflowRun};
use std::future::Future;

/// Loads that may overlap (a filter changed, a reconnect reloaded): only the answer
/// to the newest one is applied, so a slower, older answer never overwrites a newer.
#[derive(Debug, Clone, Copy)]
pub struct LatestLoad(StoredValue<u64>);

impl LatestLoad {
    pub fn new() -> LatestLoad {
        LatestLoad(StoredValue::new(0))
    }

    pub fn start<T: 'static>(self, request: impl Future<Output = T> + 'static, apply: impl FnOnce(T) + 'static) {
        self.0.update_value(|n| *n += 1);
        let mine = self.0.get_value();
        leptos::task::spawn_local(async move {
            let answer = request.await;
            if self.0.get_value() == mine {
                apply(answer);
            }
        });
    }
}

fn progress(run: &WorkflowRun) -> (u8, bool, i64) {
    let stage = match run.status {
        RunStatus::Pending => 0,
        RunStatus::Running => 1,
        _ => 2,
    };
    (stage, run.completed_at.is_some(), run.total_tokens.unwrap_or(-1))
}

/// Whether `incoming` may replace `current` (same run).
pub fn supersedes(incoming: &WorkflowRun, current: &WorkflowRun) -> bool {
    progress(incoming) >= progress(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn run(status: RunStatus, tokens: Option<i64>) -> WorkflowRun {
        WorkflowRun {
            id: "abc".into(),
            workflow_name: "Article_Writer".into(),
            status,
            started_at: Utc::now(),
            completed_at: None,
            duration_seconds: None,
            total_tokens: tokens,
            total_cost_usd: None,
            error_message: None,
            restarted_from: None,
        }
    }

    #[test]
    fn a_late_older_event_does_not_undo_progress() {
        let running = run(RunStatus::Running, Some(10));
        let done = WorkflowRun { completed_at: Some(Utc::now()), ..run(RunStatus::Completed, Some(10)) };
        assert!(supersedes(&done, &running));
        assert!(!supersedes(&running, &done));
        assert!(supersedes(&run(RunStatus::Running, Some(20)), &running));
    }
}

//! Data loaded by a request and kept current by live events: the one way every page
//! does it (`follow`, and `Live` for the common case). Events and responses can cross
//! on the wire, so a run is only replaced by a version at least as far along.

use leptos::prelude::*;
use shared::{Event, RunStatus, WorkflowRun};
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use crate::api::ApiResult;
use crate::live::{Connection, Stream};

/// Loads what a page shows again (a `Copy` handle, for buttons and streams).
#[derive(Clone, Copy)]
pub struct Reload(StoredValue<Rc<dyn Fn()>, LocalStorage>);

impl Reload {
    pub fn run(self) {
        if let Some(load) = self.0.try_get_value() {
            load();
        }
    }
}

/// Runs `load` at once, again on `Reload::run` and whenever `stream` says events were
/// missed (`resync`), handing its answer to `loaded`; every other event goes to
/// `on_event` (with the handle, for pages that reload on more). Loads may overlap: only
/// the newest one's answer is handed on.
///
/// No change falls between the load and the stream: events that arrive while a load is
/// in flight are held and applied on top of its answer (the snapshot may have been
/// read before them), and a stream that was not yet subscribed when the first load
/// started loads again at its `ready` (what happened between is in neither), unless it
/// was opened from a known event, whose successors it replays. A load that failed (the
/// server away) is made again when the stream is back.
pub fn follow<T: Answer + 'static, Fut: Future<Output = T> + 'static>(
    stream: Stream,
    load: impl Fn() -> Fut + 'static,
    loaded: impl Fn(T) + 'static,
    on_event: impl Fn(&Event, Reload) + 'static,
) -> Reload {
    let latest = LatestLoad::new();
    let failed = StoredValue::new(false);
    let held: StoredValue<Option<Vec<Event>>, LocalStorage> = StoredValue::new_local(None);
    let reload = Reload(StoredValue::new_local(Rc::new(|| {})));
    let (loaded, on_event) = (Rc::new(loaded), Rc::new(on_event));
    let replay = on_event.clone();
    reload.0.set_value(Rc::new(move || {
        held.try_update_value(|held| held.get_or_insert_with(Vec::new).clear());
        let (loaded, replay) = (loaded.clone(), replay.clone());
        latest.start(load(), move |answer: T| {
            failed.set_value(answer.failed());
            loaded(answer);
            for event in held.try_update_value(Option::take).flatten().unwrap_or_default() {
                replay(&event, reload);
            }
        });
    }));
    let subscribed_before = Cell::new(stream.resumed || stream.status.get_untracked() == Connection::Live);
    reload.run();
    stream.on_event(move |event| match event {
        Event::Resync { .. } => reload.run(),
        event => {
            if matches!(event, Event::Ready { .. }) && (!subscribed_before.replace(true) || failed.get_value()) {
                reload.run();
            }
            let holding = held.try_update_value(|held| held.as_mut().map(|held| held.push(event.clone()))).flatten();
            if holding.is_none() {
                on_event(event, reload);
            }
        }
    });
    reload
}

/// What a load answered: whether it failed.
pub trait Answer {
    fn failed(&self) -> bool;
}

impl<T, E> Answer for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

/// `None`: nothing was asked (compare without two ids).
impl<A: Answer> Answer for Option<A> {
    fn failed(&self) -> bool {
        self.as_ref().is_some_and(Answer::failed)
    }
}

/// For `follow`: reloads when runs finish, at most once per `every` for a burst of
/// them (each changes every aggregate; loading again is simpler than folding in).
pub fn reload_when_runs_finish(every: std::time::Duration) -> impl Fn(&Event, Reload) + 'static {
    let later = throttled(every);
    move |event, reload| {
        if matches!(event, Event::WorkflowUpdate(run) if !run.status.is_active()) {
            later(reload);
        }
    }
}

/// Reloads at most once per `every`: the first call schedules the reload, and calls
/// until it runs join it.
pub fn throttled(every: std::time::Duration) -> impl Fn(Reload) + Copy + 'static {
    let waiting = StoredValue::new(false);
    move |reload| {
        if waiting.get_value() {
            return;
        }
        waiting.set_value(true);
        set_timeout(
            move || {
                waiting.set_value(false);
                reload.run();
            },
            every,
        );
    }
}

/// The common case: one loaded value (or why it could not be loaded), with `apply`
/// folding events into it and saying whether it changed.
#[derive(Clone, Copy)]
pub struct Live<T: Send + Sync + 'static> {
    pub data: RwSignal<Option<Result<T, String>>>,
    pub reload: Reload,
}

impl<T: Send + Sync + 'static> Live<T> {
    pub fn new<Fut: Future<Output = ApiResult<T>> + 'static>(
        stream: Stream,
        load: impl Fn() -> Fut + 'static,
        apply: impl Fn(&mut T, &Event) -> bool + 'static,
    ) -> Live<T> {
        let data = RwSignal::new(None);
        let reload = follow(
            stream,
            load,
            move |answer: ApiResult<T>| data.set(Some(answer.map_err(|error| error.message))),
            move |event, _| {
                data.maybe_update(|loaded| match loaded {
                    Some(Ok(value)) => apply(value, event),
                    _ => false,
                })
            },
        );
        Live { data, reload }
    }
}

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
        WorkflowRun { total_tokens: tokens, ..WorkflowRun::new("abc", "w", status, Utc::now()) }
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

//! Pieces pages share: states, badges, times, notices, and the run actions and start
//! form that several pages offer.

mod badges;
pub mod chart;
pub mod clock;
mod dialog;
pub mod hold;
pub mod keys;
mod notices;
mod run_actions;
mod run_list;
mod start_run;
mod states;

pub use badges::{AliveDot, StatusBadge};
pub use clock::{provide_clock, Time};
pub use dialog::Dialog;
pub use notices::{provide_notices, use_notices, NoticeArea, Tone};
pub use run_actions::RunActions;
pub use run_list::RunList;
pub use start_run::StartRunButton;
pub use states::{Empty, Failure, Loading, Missing};

/// Asks the browser's confirmation for something that cannot be undone.
pub fn confirmed(question: &str) -> bool {
    web_sys::window().and_then(|w| w.confirm_with_message(question).ok()).unwrap_or(false)
}

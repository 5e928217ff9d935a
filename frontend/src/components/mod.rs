//! Small pieces every page uses.

mod badges;
mod clock;
mod notices;
mod states;

pub use badges::{AliveDot, StatusBadge};
pub use clock::{provide_clock, Time};
pub use notices::{provide_notices, use_notices, NoticeArea, Tone};
pub use states::{Empty, Failure, Loading};

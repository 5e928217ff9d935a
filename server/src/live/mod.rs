//! Live events to every open stream, apart from HTTP: the hub that fans them out from
//! memory, each stream's bounded queue and its way back to the hub (the feed), and
//! the topics a stream asked for. `http::stream` turns a request into one of these.

mod feed;
mod frame;
mod hub;
mod queue;
mod topics;

pub use feed::{Feed, Stop};
pub use hub::Hub;
pub use queue::{queue, Frames};
pub use topics::Topics;

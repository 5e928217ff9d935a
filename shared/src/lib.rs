//! Wire types shared by the server and the WASM frontend: one definition of every
//! request, response and live event, so the two sides cannot drift apart.

pub mod agent;
pub mod analytics;
pub mod budget;
pub mod bulk;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod query;
pub mod roles;
pub mod summary;
pub mod view;
pub mod webhook;
pub mod workflow;

pub use agent::*;
pub use analytics::*;
pub use budget::*;
pub use bulk::*;
pub use dispatch::*;
pub use error::*;
pub use event::*;
pub use query::{Range, RunOrder, Statuses};
pub use roles::*;
pub use summary::*;
pub use view::*;
pub use webhook::*;
pub use workflow::*;

//! Starting runs on agents within the rules, for the API and bulk jobs alike: a
//! workflow at a period budget cap starts none, and only an ended run is restarted
//! (as a new run with the same workflow and inputs, linked to it).

use shared::{RunStatus, WorkflowRun};
use std::sync::Arc;

use crate::budgets::Budgets;
use crate::dispatch::{Dispatcher, Start, StartError};
use crate::store::access::Actor;
use crate::store::{Store, StoreError};

pub struct Starts {
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    budgets: Arc<Budgets>,
}

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("no workflow run with id {0}")]
    NoSuchRun(String),
    #[error("run {0} is still {1}; cancel it or wait for it to finish before restarting")]
    StillActive(String, RunStatus),
    /// The workflow is at a period cap; the reason names it.
    #[error("{0}")]
    OverBudget(String),
    #[error("{0}")]
    NoAgent(String),
    /// The rules could not be checked (the run or the spend could not be read):
    /// nothing was started, and asking again later may do.
    #[error(transparent)]
    Unchecked(#[from] StoreError),
    /// The start could not be recorded: the agent may have been asked.
    #[error("{0}")]
    NotRecorded(StoreError),
}

impl From<StartError> for Refused {
    fn from(error: StartError) -> Self {
        match error {
            StartError::NoAgent(why) => Refused::NoAgent(why),
            StartError::Store(error) => Refused::NotRecorded(error),
        }
    }
}

impl Starts {
    pub fn new(store: Arc<dyn Store>, dispatcher: Dispatcher, budgets: Arc<Budgets>) -> Arc<Starts> {
        Arc::new(Starts { store, dispatcher, budgets })
    }

    /// Starts `start` on an alive agent serving its workflow (the least busy one).
    pub async fn start(&self, start: Start) -> Result<WorkflowRun, Refused> {
        if let Some(why) = self.budgets.refusal(&start.workflow_name).await? {
            return Err(Refused::OverBudget(why));
        }
        Ok(self.dispatcher.start(start).await?)
    }

    /// Starts ended run `id` again, by `by`.
    pub async fn restart(&self, id: &str, by: Actor) -> Result<WorkflowRun, Refused> {
        let original = self.store.get_run(id).await?.ok_or_else(|| Refused::NoSuchRun(id.to_owned()))?;
        if original.run.status.is_active() {
            return Err(Refused::StillActive(id.to_owned(), original.run.status));
        }
        self.start(Start::restart(original, by)).await
    }
}

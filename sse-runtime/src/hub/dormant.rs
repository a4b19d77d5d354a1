//! A broker's task that waits for the hub's first listener to start: a hub may be built
//! outside a tokio runtime (a `static`, a test's setup), and its task must run inside one.

use std::future::Future;
use std::sync::{Mutex, PoisonError};

/// A task not started yet; started once.
pub(crate) struct Dormant<T>(Mutex<Option<T>>);

impl<T> Dormant<T> {
    pub(crate) fn new(task: T) -> Self {
        Dormant(Mutex::new(Some(task)))
    }

    /// Spawns `run(task)` on the current tokio runtime, unless it runs already. Outside
    /// a runtime it says so (`broker` names whose task it is) and waits for the next call.
    pub(crate) fn start<F>(&self, broker: &str, run: impl FnOnce(T) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                if let Some(task) = slot.take() {
                    runtime.spawn(run(task));
                }
            }
            Err(_) => tracing::error!(
                "the {broker} hub was first listened to outside a tokio runtime; it starts with the first listener inside one"
            ),
        }
    }
}

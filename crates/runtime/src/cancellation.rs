//! Per-execution cancellation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::context::ExecutionId;
use crate::error::RuntimeError;

/// Tracks one cancellation token per running execution, so that an execution can be
/// cancelled by id from anywhere (another task, a signal handler, an API call).
///
/// Cheap to clone; clones share the same registry. Tokens are removed when the
/// [`CancellationRegistration`] returned by [`register`](Self::register) is dropped, i.e. when
/// the execution ends, whatever its outcome.
#[derive(Debug, Clone, Default)]
pub struct CancellationManager {
    tokens: Arc<Mutex<HashMap<ExecutionId, CancellationToken>>>,
}

impl CancellationManager {
    /// An empty manager.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ExecutionId, CancellationToken>> {
        // The map stays consistent even if a holder panicked: every operation is one insert or
        // remove.
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a running execution and returns its token, wrapped in a guard that
    /// unregisters it on drop. Fails if the id is already running.
    pub fn register(&self, execution_id: &ExecutionId) -> Result<CancellationRegistration, RuntimeError> {
        let token = CancellationToken::new();
        let mut tokens = self.lock();
        if tokens.contains_key(execution_id) {
            return Err(RuntimeError::DuplicateExecution(execution_id.clone()));
        }
        tokens.insert(execution_id.clone(), token.clone());
        Ok(CancellationRegistration { manager: self.clone(), execution_id: execution_id.clone(), token })
    }

    /// Cancels a running execution. Returns `false` when no execution has that id.
    pub fn cancel(&self, execution_id: &ExecutionId) -> bool {
        match self.lock().get(execution_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels every running execution; returns how many there were.
    pub fn cancel_all(&self) -> usize {
        let tokens = self.lock();
        for token in tokens.values() {
            token.cancel();
        }
        tokens.len()
    }

    /// Whether an execution with this id is running.
    pub fn is_active(&self, execution_id: &ExecutionId) -> bool {
        self.lock().contains_key(execution_id)
    }

    /// The number of running executions.
    pub fn active_count(&self) -> usize {
        self.lock().len()
    }
}

/// The registration of one running execution; unregisters it on drop.
#[derive(Debug)]
pub struct CancellationRegistration {
    manager: CancellationManager,
    execution_id: ExecutionId,
    token: CancellationToken,
}

impl CancellationRegistration {
    /// The execution's token: cancelled when someone cancels the execution.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for CancellationRegistration {
    fn drop(&mut self) {
        self.manager.lock().remove(&self.execution_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_by_id_and_cleanup_on_drop() {
        let manager = CancellationManager::new();
        let id = ExecutionId::new("e1");
        let registration = manager.register(&id).unwrap();
        assert!(manager.is_active(&id));
        assert!(manager.register(&id).is_err(), "duplicate ids are refused");
        assert!(manager.cancel(&id));
        assert!(registration.token().is_cancelled());
        drop(registration);
        assert!(!manager.is_active(&id));
        assert!(!manager.cancel(&id), "cancelling a finished execution reports false");
        assert_eq!(manager.active_count(), 0);
    }

    #[test]
    fn cancel_all_cancels_everything() {
        let manager = CancellationManager::new();
        let a = manager.register(&"a".into()).unwrap();
        let b = manager.register(&"b".into()).unwrap();
        assert_eq!(manager.cancel_all(), 2);
        assert!(a.token().is_cancelled() && b.token().is_cancelled());
    }
}

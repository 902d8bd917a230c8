//! What the delete endpoint ([`super::delete`]) accepted, kept in the server
//! state for tests.

use std::sync::Mutex;

/// Every batch the endpoint accepted, for tests to check batch sizes.
#[derive(Debug, Default)]
pub struct DeleteLog(Mutex<Vec<Vec<String>>>);

impl DeleteLog {
    /// The accepted batches, in order.
    pub fn batches(&self) -> Vec<Vec<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn push(&self, ids: Vec<String>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(ids);
    }
}

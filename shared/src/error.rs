//! Error types shared by the ports, and the retry class of a failed unit of work.

use std::time::Duration;

/// Failure of an infrastructure port (blob store, queue, catalog, key-value store, vector
/// index). Such failures are assumed transient: the unit of work is retried.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A constraint the caller can act on (e.g. the embedded index is held by another process).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The stored data does not have the shape this version expects.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl StoreError {
    pub fn unknown(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unknown(anyhow::Error::new(e))
    }
}

/// How a unit of pipeline work failed, which decides what happens to its message.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Worth retrying (network, a service unavailable, 5xx). The message is returned to its
    /// queue; after the last attempt the work is recorded as failed.
    #[error("{message}")]
    Transient {
        message: String,
        /// Wait at least this long before the retry (e.g. Retry-After).
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (404, unsupported content). Recorded at once; the message is
    /// acknowledged.
    #[error("{0}")]
    Permanent(String),
}

impl StageError {
    pub fn transient(message: impl Into<String>) -> Self {
        StageError::Transient { message: message.into(), retry_after: None }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        StageError::Permanent(message.into())
    }
}

impl From<StoreError> for StageError {
    fn from(e: StoreError) -> Self {
        StageError::transient(format!("{e:#}"))
    }
}

use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;

/// A key-value store with expiry: drafts, live pipeline status, rate-limit counters.
#[async_trait]
pub trait KeyValueStore: Send + Sync {
    /// The value at `key`, `None` when missing or expired.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `value`, expiring after `ttl` when given.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StoreError>;

    /// Stores `value` only when `key` is absent; `true` when it was stored.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn set_if_absent(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<bool, StoreError>;

    /// Removes `key`; `true` when it existed.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;

    /// Atomically adds `by` to the integer at `key` (0 when absent) and returns the new
    /// value; a newly created key expires after `ttl` when given.
    ///
    /// # Errors
    /// The store is unreachable or the value is not an integer.
    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError>;

    /// Remaining time to live of `key`; `None` when it has no expiry or does not exist.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError>;
}

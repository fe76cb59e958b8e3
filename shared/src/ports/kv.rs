use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;

/// A reserved turn of a schedule (see [`KeyValueStore::reserve_turn`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turn {
    /// Whether the turn was reserved (`false`: it would have been more than `max_wait`
    /// away, and nothing changed).
    pub reserved: bool,
    /// How long until the turn (zero: now).
    pub wait: Duration,
}

/// A key-value store with expiry: drafts, live pipeline status, rate-limit counters, and
/// the per-host crawl politeness shared by every worker of a deployment.
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

    /// Atomically appends `value` to the bytes at `key` (empty when absent) and returns
    /// the whole value as this append left it: everything appended before, then `value`
    /// (later appends are not in it). A newly created key expires after `ttl` when given.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn append(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<Vec<u8>, StoreError>;

    /// Reserves the next turn of the schedule at `key`, whose turns are at least `interval`
    /// apart (by the store's clock, so every process agrees): the first free time at or
    /// after now, which then moves on by `interval`. When that turn is more than `max_wait`
    /// away, nothing is reserved. MUST be atomic under concurrent callers.
    ///
    /// # Errors
    /// The store is unreachable, or `key` holds something else.
    async fn reserve_turn(&self, key: &str, interval: Duration, max_wait: Duration) -> Result<Turn, StoreError>;

    /// Takes one of `limit` leases at `key` for `holder` (taking a lease it holds renews
    /// it); `false` when `limit` other leases are held. A lease lapses after `ttl` (so a
    /// crashed holder does not keep it). MUST be atomic under concurrent callers.
    ///
    /// # Errors
    /// The store is unreachable, or `key` holds something else.
    async fn acquire_lease(&self, key: &str, holder: &str, limit: u32, ttl: Duration) -> Result<bool, StoreError>;

    /// Gives back `holder`'s lease at `key` (nothing when it holds none).
    ///
    /// # Errors
    /// The store is unreachable.
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError>;

    /// Remaining time to live of `key`; `None` when it has no expiry or does not exist.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError>;
}

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::StoreError;

/// Object storage for markdown pages and uploaded originals, addressed by `/`-separated keys.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `body` under `key`, replacing what was there.
    ///
    /// # Errors
    /// The store is unreachable or refuses the write.
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), StoreError>;

    /// The object at `key`; `None` when there is none.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;

    /// Every key starting with `prefix`, sorted.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Removes `key`; removing a missing key is not an error.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Removes every key under `prefix` and returns how many there were.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn delete_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        let keys = self.list(prefix).await?;
        for key in &keys {
            self.delete(key).await?;
        }
        Ok(keys.len())
    }
}

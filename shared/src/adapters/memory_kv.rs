//! In-process key-value store with expiry, for drafts and live status in one process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::StoreError;
use crate::ports::{KeyValueStore, Turn};

#[derive(Default)]
pub struct InMemoryKv {
    entries: Mutex<HashMap<String, (Vec<u8>, Option<Instant>)>>,
    /// Schedules: the next free time of each.
    turns: Mutex<HashMap<String, Instant>>,
    /// Leases: holder -> expiry, per key.
    leases: Mutex<HashMap<String, HashMap<String, Instant>>>,
}

impl InMemoryKv {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn live<'a>(map: &'a mut HashMap<String, (Vec<u8>, Option<Instant>)>, key: &str) -> Option<&'a mut (Vec<u8>, Option<Instant>)> {
        let expired = map.get(key).is_some_and(|(_, exp)| exp.is_some_and(|t| t <= Instant::now()));
        if expired {
            map.remove(key);
        }
        map.get_mut(key)
    }
}

fn deadline(ttl: Option<Duration>) -> Option<Instant> {
    ttl.map(|t| Instant::now() + t)
}

#[async_trait]
impl KeyValueStore for InMemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut map = self.entries.lock().expect("kv lock");
        Ok(Self::live(&mut map, key).map(|(v, _)| v.clone()))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StoreError> {
        self.entries.lock().expect("kv lock").insert(key.to_owned(), (value, deadline(ttl)));
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<bool, StoreError> {
        let mut map = self.entries.lock().expect("kv lock");
        if Self::live(&mut map, key).is_some() {
            return Ok(false);
        }
        map.insert(key.to_owned(), (value, deadline(ttl)));
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut map = self.entries.lock().expect("kv lock");
        let existed = Self::live(&mut map, key).is_some();
        map.remove(key);
        Ok(existed)
    }

    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError> {
        let mut map = self.entries.lock().expect("kv lock");
        let next = match Self::live(&mut map, key) {
            Some((value, _)) => {
                let current: i64 = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("{key} does not hold an integer")))?;
                let next = current + by;
                *value = next.to_string().into_bytes();
                next
            }
            None => {
                map.insert(key.to_owned(), (by.to_string().into_bytes(), deadline(ttl)));
                by
            }
        };
        Ok(next)
    }

    async fn append(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<Vec<u8>, StoreError> {
        let mut map = self.entries.lock().expect("kv lock");
        if let Some((current, _)) = Self::live(&mut map, key) {
            current.extend_from_slice(value);
            return Ok(current.clone());
        }
        map.insert(key.to_owned(), (value.to_vec(), deadline(ttl)));
        Ok(value.to_vec())
    }

    async fn reserve_turn(&self, key: &str, interval: Duration, max_wait: Duration) -> Result<Turn, StoreError> {
        let mut turns = self.turns.lock().expect("kv lock");
        let now = Instant::now();
        let at = turns.get(key).map_or(now, |next| (*next).max(now));
        let wait = at - now;
        if wait > max_wait {
            return Ok(Turn { reserved: false, wait });
        }
        turns.insert(key.to_owned(), at + interval);
        // Schedules whose turns are all past hold nothing any more.
        turns.retain(|_, next| *next > now);
        Ok(Turn { reserved: true, wait })
    }

    async fn acquire_lease(&self, key: &str, holder: &str, limit: u32, ttl: Duration) -> Result<bool, StoreError> {
        let mut leases = self.leases.lock().expect("kv lock");
        let now = Instant::now();
        let held = leases.entry(key.to_owned()).or_default();
        held.retain(|_, until| *until > now);
        if !held.contains_key(holder) && held.len() >= limit as usize {
            return Ok(false);
        }
        held.insert(holder.to_owned(), now + ttl);
        Ok(true)
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let mut leases = self.leases.lock().expect("kv lock");
        if let Some(held) = leases.get_mut(key) {
            held.remove(holder);
            if held.is_empty() {
                leases.remove(key);
            }
        }
        Ok(())
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let mut map = self.entries.lock().expect("kv lock");
        Ok(Self::live(&mut map, key).and_then(|(_, exp)| exp.map(|t| t.saturating_duration_since(Instant::now()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn values_expire_and_counters_count() {
        let kv = InMemoryKv::new();
        kv.set("a", b"1".to_vec(), Some(Duration::from_secs(10))).await.unwrap();
        assert_eq!(kv.get("a").await.unwrap().unwrap(), b"1");
        assert!(!kv.set_if_absent("a", b"2".to_vec(), None).await.unwrap());
        assert_eq!(kv.ttl("a").await.unwrap(), Some(Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(kv.get("a").await.unwrap(), None);
        assert!(kv.set_if_absent("a", b"x".to_vec(), None).await.unwrap());
        assert_eq!(kv.incr("n", 2, Some(Duration::from_secs(5))).await.unwrap(), 2);
        assert_eq!(kv.incr("n", 3, None).await.unwrap(), 5);
        assert!(kv.incr("a", 1, None).await.is_err());
        assert!(kv.delete("n").await.unwrap());
        assert!(!kv.delete("n").await.unwrap());
        assert_eq!(kv.append("l", b"ab", Some(Duration::from_secs(5))).await.unwrap(), b"ab");
        assert_eq!(kv.append("l", b"cd", None).await.unwrap(), b"abcd");
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(kv.append("l", b"ef", None).await.unwrap(), b"ef", "the first append's expiry holds");
    }

    #[tokio::test(start_paused = true)]
    async fn turns_are_spaced_and_leases_are_limited() {
        crate::ports::kv_contract::turns_and_leases(&InMemoryKv::new(), |d| tokio::time::advance(d)).await;
    }
}

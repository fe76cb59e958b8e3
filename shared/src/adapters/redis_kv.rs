//! Key-value store on Redis: drafts, live pipeline status and rate-limit counters shared by
//! every process of a deployment. Expiry is Redis' own (`SET ... PX`, `PEXPIRE`).

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands as _;

use crate::error::StoreError;
use crate::ports::{KeyValueStore, Turn};

pub struct RedisKv {
    conn: ConnectionManager,
    prefix: String,
}

fn err(e: redis::RedisError) -> StoreError {
    StoreError::Unknown(anyhow::Error::new(e).context("redis"))
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// `INCRBY` and, when the key is new, `PEXPIRE`, in one atomic step.
const INCR_SCRIPT: &str = r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v";

/// `APPEND` and, when the key is new, `PEXPIRE`, returning the value this append left.
const APPEND_SCRIPT: &str = r"
local n = redis.call('APPEND', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and n == string.len(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])";

/// The next turn of a schedule (`KEYS[1]` holds the next free time, in ms of the server's
/// clock): ARGV = interval ms, max wait ms. Returns {reserved 0/1, wait ms}.
const TURN_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local wait = at - now
if wait > tonumber(ARGV[2]) then
  return {0, wait}
end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], at + interval, 'PX', wait + interval + 1000)
return {1, wait}";

/// A lease (`KEYS[1]` is a sorted set of holders scored by expiry, server clock): ARGV =
/// holder, limit, ttl ms. Returns 1 when taken.
const LEASE_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[3])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1";

impl RedisKv {
    /// Connects; every key is stored under `prefix` (so deployments can share a server).
    ///
    /// # Errors
    /// The server is unreachable.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(err)?;
        let conn = client.get_connection_manager().await.map_err(err)?;
        Ok(Self { conn, prefix: prefix.to_owned() })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl KeyValueStore for RedisKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn.clone();
        c.get(self.key(key)).await.map_err(err)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(millis(ttl));
        }
        cmd.query_async::<()>(&mut c).await.map_err(err)
    }

    async fn set_if_absent(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("NX");
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(millis(ttl));
        }
        let reply: Option<String> = cmd.query_async(&mut c).await.map_err(err)?;
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = c.del(self.key(key)).await.map_err(err)?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError> {
        let mut c = self.conn.clone();
        redis::Script::new(INCR_SCRIPT)
            .key(self.key(key))
            .arg(by)
            .arg(ttl.map_or(0, millis))
            .invoke_async(&mut c)
            .await
            .map_err(|e| match e.kind() {
                redis::ErrorKind::Server(_) | redis::ErrorKind::Extension => {
                    StoreError::Corrupt(format!("{key} does not hold an integer: {e}"))
                }
                _ => err(e),
            })
    }

    async fn append(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<Vec<u8>, StoreError> {
        let mut c = self.conn.clone();
        redis::Script::new(APPEND_SCRIPT)
            .key(self.key(key))
            .arg(value)
            .arg(ttl.map_or(0, millis))
            .invoke_async(&mut c)
            .await
            .map_err(err)
    }

    async fn reserve_turn(&self, key: &str, interval: Duration, max_wait: Duration) -> Result<Turn, StoreError> {
        let mut c = self.conn.clone();
        let (reserved, wait): (i64, i64) = redis::Script::new(TURN_SCRIPT)
            .key(self.key(key))
            .arg(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX))
            .arg(u64::try_from(max_wait.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        Ok(Turn { reserved: reserved == 1, wait: Duration::from_millis(u64::try_from(wait).unwrap_or(0)) })
    }

    async fn acquire_lease(&self, key: &str, holder: &str, limit: u32, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let taken: i64 = redis::Script::new(LEASE_SCRIPT)
            .key(self.key(key))
            .arg(holder)
            .arg(limit)
            .arg(millis(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        Ok(taken == 1)
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let _: i64 = c.zrem(self.key(key), holder).await.map_err(err)?;
        Ok(())
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let mut c = self.conn.clone();
        let ms: i64 = redis::cmd("PTTL").arg(self.key(key)).query_async(&mut c).await.map_err(err)?;
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::redis_url;

    async fn kv() -> RedisKv {
        RedisKv::connect(&redis_url(), &format!("kbtest:{}:", uuid::Uuid::new_v4())).await.unwrap()
    }

    #[tokio::test]
    async fn values_expire_and_counters_count() {
        let kv = kv().await;
        kv.set("a", b"1".to_vec(), Some(Duration::from_millis(300))).await.unwrap();
        assert_eq!(kv.get("a").await.unwrap().unwrap(), b"1");
        let ttl = kv.ttl("a").await.unwrap().unwrap();
        assert!(ttl <= Duration::from_millis(300) && ttl > Duration::from_millis(100), "{ttl:?}");
        assert!(!kv.set_if_absent("a", b"2".to_vec(), None).await.unwrap());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(kv.get("a").await.unwrap(), None, "expired");
        assert!(kv.set_if_absent("a", b"x".to_vec(), Some(Duration::from_secs(60))).await.unwrap());
        assert_eq!(kv.incr("n", 2, Some(Duration::from_secs(30))).await.unwrap(), 2);
        assert_eq!(kv.incr("n", 3, Some(Duration::from_secs(1))).await.unwrap(), 5);
        assert!(kv.ttl("n").await.unwrap().unwrap() > Duration::from_secs(20), "the first expiry stays");
        assert!(kv.incr("a", 1, None).await.is_err(), "not an integer");
        assert!(kv.delete("n").await.unwrap());
        assert!(!kv.delete("n").await.unwrap());
        kv.set("p", b"persist".to_vec(), None).await.unwrap();
        assert_eq!(kv.ttl("p").await.unwrap(), None);
        kv.delete("p").await.unwrap();
        kv.delete("a").await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_increments_are_atomic() {
        let kv = std::sync::Arc::new(kv().await);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let kv = kv.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    kv.incr("c", 1, Some(Duration::from_secs(30))).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(kv.incr("c", 0, None).await.unwrap(), 200);
        kv.delete("c").await.unwrap();
    }

    #[tokio::test]
    async fn turns_are_spaced_and_leases_are_limited() {
        crate::ports::kv_contract::turns_and_leases(&kv().await, tokio::time::sleep).await;
    }

    #[tokio::test]
    async fn concurrent_turns_and_leases_are_atomic() {
        let kv = std::sync::Arc::new(kv().await);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let kv = kv.clone();
                tokio::spawn(async move {
                    let turn = kv.reserve_turn("t", Duration::from_secs(1), Duration::from_secs(60)).await.unwrap();
                    let lease = kv.acquire_lease("l", &format!("h{i}"), 3, Duration::from_secs(30)).await.unwrap();
                    (turn.wait, lease)
                })
            })
            .collect();
        let mut waits = Vec::new();
        let mut leases = 0;
        for t in tasks {
            let (wait, lease) = t.await.unwrap();
            waits.push(wait.as_millis());
            leases += usize::from(lease);
        }
        waits.sort_unstable();
        for pair in waits.windows(2) {
            assert!(pair[1] - pair[0] >= 900, "turns 1 s apart: {waits:?}");
        }
        assert_eq!(leases, 3, "exactly the limit");
        kv.delete("t").await.unwrap();
        kv.delete("l").await.unwrap();
    }

    #[tokio::test]
    async fn appends_are_atomic_and_return_what_came_before() {
        let kv = std::sync::Arc::new(kv().await);
        assert_eq!(kv.append("l", &[1, 2], Some(Duration::from_secs(30))).await.unwrap(), [1, 2]);
        assert_eq!(kv.append("l", &[3], Some(Duration::from_secs(1))).await.unwrap(), [1, 2, 3]);
        assert!(kv.ttl("l").await.unwrap().unwrap() > Duration::from_secs(20), "the first expiry stays");
        kv.delete("l").await.unwrap();
        // 50 concurrent appenders: each sees exactly the entries before its own, in one order.
        let tasks: Vec<_> = (0..50u8)
            .map(|i| {
                let kv = kv.clone();
                tokio::spawn(async move { (i, kv.append("m", &[i], None).await.unwrap()) })
            })
            .collect();
        let mut views = Vec::new();
        for t in tasks {
            views.push(t.await.unwrap());
        }
        let all = kv.get("m").await.unwrap().unwrap();
        assert_eq!(all.len(), 50);
        for (i, view) in views {
            assert_eq!(view.last(), Some(&i));
            assert_eq!(view[..], all[..view.len()], "a prefix of the final value");
        }
        kv.delete("m").await.unwrap();
    }
}

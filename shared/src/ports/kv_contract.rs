//! The key-value store's contract for schedules and leases, run against every adapter.

use std::future::Future;
use std::time::Duration;

use super::KeyValueStore;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `sleep` lets time pass (real time for a server, the paused clock in process).
pub(crate) async fn turns_and_leases<F, Fut>(kv: &dyn KeyValueStore, sleep: F)
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    let (interval, long) = (ms(400), Duration::from_secs(10));
    let first = kv.reserve_turn("t", interval, long).await.unwrap();
    assert!(first.reserved && first.wait == Duration::ZERO, "{first:?}");
    let second = kv.reserve_turn("t", interval, long).await.unwrap();
    assert!(second.reserved && second.wait > ms(300) && second.wait <= ms(400), "{second:?}");
    let third = kv.reserve_turn("t", interval, long).await.unwrap();
    assert!(third.reserved && third.wait > ms(700) && third.wait <= ms(800), "{third:?}");
    let refused = kv.reserve_turn("t", interval, ms(1000)).await.unwrap();
    assert!(!refused.reserved && refused.wait > ms(1000), "{refused:?}");
    let fourth = kv.reserve_turn("t", interval, long).await.unwrap();
    assert!(fourth.reserved && fourth.wait > ms(1000) && fourth.wait <= ms(1200), "a refused turn takes nothing: {fourth:?}");
    let other = kv.reserve_turn("u", interval, long).await.unwrap();
    assert_eq!(other.wait, Duration::ZERO, "schedules are independent");
    sleep(ms(1700)).await;
    let later = kv.reserve_turn("t", interval, long).await.unwrap();
    assert_eq!(later.wait, Duration::ZERO, "{later:?}");

    let ttl = Duration::from_secs(1);
    assert!(kv.acquire_lease("l", "a", 2, ttl).await.unwrap());
    assert!(kv.acquire_lease("l", "b", 2, ttl).await.unwrap());
    assert!(!kv.acquire_lease("l", "c", 2, ttl).await.unwrap(), "both leases are held");
    assert!(kv.acquire_lease("l", "a", 2, ttl).await.unwrap(), "a holder renews its lease");
    kv.release_lease("l", "b").await.unwrap();
    kv.release_lease("l", "nobody").await.unwrap();
    assert!(kv.acquire_lease("l", "c", 2, ttl).await.unwrap(), "a released lease is free again");
    assert!(!kv.acquire_lease("l", "d", 2, ttl).await.unwrap());
    sleep(ms(1300)).await;
    assert!(kv.acquire_lease("l", "d", 1, ttl).await.unwrap(), "leases of crashed holders lapse");
    kv.release_lease("l", "d").await.unwrap();
}

//! In-process work queues with the semantics of SQS: at-least-once delivery, a visibility
//! timeout, redelivery of unacknowledged messages, and a dead-letter queue after
//! `max_receives` receives. Used by the one-process runner and by unit tests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::StoreError;
use crate::ports::{Delivery, QueueDepth, QueueName, WorkQueue, MAX_SEND_DELAY};

struct Message {
    body: String,
    receives: u32,
    visible_at: Instant,
}

#[derive(Default)]
struct Queue {
    next_seq: u64,
    messages: BTreeMap<u64, Message>,
    dead: VecDeque<String>,
}

pub struct InProcessQueue {
    queues: Mutex<HashMap<QueueName, Queue>>,
    notify: Notify,
    visibility_timeout: Duration,
    max_receives: u32,
}

impl InProcessQueue {
    #[must_use]
    pub fn new(visibility_timeout: Duration, max_receives: u32) -> Self {
        Self { queues: Mutex::new(HashMap::new()), notify: Notify::new(), visibility_timeout, max_receives: max_receives.max(1) }
    }

    fn parse_receipt(receipt: &str) -> Option<(u64, u32)> {
        let (seq, receives) = receipt.split_once(':')?;
        Some((seq.parse().ok()?, receives.parse().ok()?))
    }

    /// Takes visible messages; returns them and, when there are none, when the next one
    /// becomes visible.
    fn take(&self, queue: QueueName, max: usize) -> (Vec<Delivery>, Option<Instant>) {
        let now = Instant::now();
        let mut queues = self.queues.lock().expect("queue lock");
        let q = queues.entry(queue).or_default();
        let mut out = Vec::new();
        let mut dead = Vec::new();
        let mut next_visible: Option<Instant> = None;
        for (seq, m) in q.messages.iter_mut() {
            if out.len() >= max {
                break;
            }
            if m.visible_at > now {
                next_visible = Some(next_visible.map_or(m.visible_at, |t: Instant| t.min(m.visible_at)));
                continue;
            }
            if m.receives >= self.max_receives {
                dead.push(*seq);
                continue;
            }
            m.receives += 1;
            m.visible_at = now + self.visibility_timeout;
            out.push(Delivery {
                body: m.body.clone(),
                receipt: format!("{seq}:{}", m.receives),
                attempt: m.receives,
                message_id: seq.to_string(),
            });
        }
        for seq in dead {
            if let Some(m) = q.messages.remove(&seq) {
                q.dead.push_back(m.body);
            }
        }
        (out, next_visible)
    }

    fn with_message(&self, queue: QueueName, receipt: &str, f: impl FnOnce(&mut Queue, u64)) {
        let Some((seq, receives)) = Self::parse_receipt(receipt) else { return };
        let mut queues = self.queues.lock().expect("queue lock");
        let q = queues.entry(queue).or_default();
        // A receipt from an earlier receive is stale: the message was redelivered since.
        if q.messages.get(&seq).is_some_and(|m| m.receives == receives) {
            f(q, seq);
        }
    }
}

impl InProcessQueue {
    fn insert(&self, queue: QueueName, bodies: Vec<String>, delay: Duration) {
        if bodies.is_empty() {
            return;
        }
        {
            let visible_at = Instant::now() + delay;
            let mut queues = self.queues.lock().expect("queue lock");
            let q = queues.entry(queue).or_default();
            for body in bodies {
                let seq = q.next_seq;
                q.next_seq += 1;
                q.messages.insert(seq, Message { body, receives: 0, visible_at });
            }
        }
        self.notify.notify_waiters();
    }
}

#[async_trait]
impl WorkQueue for InProcessQueue {
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), StoreError> {
        self.insert(queue, bodies, Duration::ZERO);
        Ok(())
    }

    async fn send_delayed(&self, queue: QueueName, body: String, delay: Duration) -> Result<(), StoreError> {
        self.insert(queue, vec![body], delay.min(MAX_SEND_DELAY));
        Ok(())
    }


    async fn receive(&self, queue: QueueName, max: usize, wait: Duration) -> Result<Vec<Delivery>, StoreError> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            let (out, next_visible) = self.take(queue, max.max(1));
            if !out.is_empty() {
                return Ok(out);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(out);
            }
            let until = next_visible.map_or(deadline, |t| t.min(deadline));
            let _ = tokio::time::timeout_at(until, notified).await;
        }
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), StoreError> {
        self.with_message(queue, receipt, |q, seq| {
            q.messages.remove(&seq);
        });
        Ok(())
    }

    async fn retry_later(&self, queue: QueueName, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        self.with_message(queue, receipt, |q, seq| {
            if let Some(m) = q.messages.get_mut(&seq) {
                m.visible_at = Instant::now() + delay;
            }
        });
        self.notify.notify_waiters();
        Ok(())
    }

    async fn take_dead_letters(&self, queue: QueueName, max: usize) -> Result<Vec<String>, StoreError> {
        // Messages past their last receive are moved to the dead-letter queue lazily.
        let _ = self.take(queue, 0);
        let mut queues = self.queues.lock().expect("queue lock");
        let q = queues.entry(queue).or_default();
        let n = max.min(q.dead.len());
        Ok(q.dead.drain(..n).collect())
    }

    async fn depth(&self, queue: QueueName) -> Result<QueueDepth, StoreError> {
        let now = Instant::now();
        let mut queues = self.queues.lock().expect("queue lock");
        let q = queues.entry(queue).or_default();
        let mut depth = QueueDepth { dead: q.dead.len() as u64, ..Default::default() };
        for m in q.messages.values() {
            if m.visible_at > now && m.receives > 0 {
                depth.in_flight += 1;
            } else {
                depth.visible += 1;
            }
        }
        Ok(depth)
    }

    fn max_receives(&self) -> u32 {
        self.max_receives
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: QueueName = QueueName::Crawl;

    #[tokio::test]
    async fn fifo_ack_and_depth() {
        let q = InProcessQueue::new(Duration::from_secs(30), 3);
        q.send_batch(Q, vec!["a".into(), "b".into(), "c".into()]).await.unwrap();
        let got = q.receive(Q, 2, Duration::ZERO).await.unwrap();
        assert_eq!(got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(q.depth(Q).await.unwrap(), QueueDepth { visible: 1, in_flight: 2, dead: 0 });
        for d in &got {
            q.ack(Q, &d.receipt).await.unwrap();
        }
        let rest = q.receive(Q, 10, Duration::ZERO).await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].body, "c");
        q.ack(Q, &rest[0].receipt).await.unwrap();
        assert!(q.depth(Q).await.unwrap().is_idle());
        assert!(q.receive(QueueName::Chunk, 1, Duration::ZERO).await.unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn unacknowledged_messages_come_back_then_go_to_the_dead_letter_queue() {
        let q = InProcessQueue::new(Duration::from_secs(10), 2);
        q.send(Q, "x".into()).await.unwrap();
        let first = q.receive(Q, 1, Duration::ZERO).await.unwrap();
        assert_eq!(first[0].attempt, 1);
        assert!(q.receive(Q, 1, Duration::from_secs(5)).await.unwrap().is_empty());
        let second = q.receive(Q, 1, Duration::from_secs(10)).await.unwrap();
        assert_eq!(second[0].attempt, 2);
        // A stale receipt no longer acknowledges the redelivered message.
        q.ack(Q, &first[0].receipt).await.unwrap();
        assert_eq!(q.depth(Q).await.unwrap().in_flight, 1);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(q.receive(Q, 1, Duration::ZERO).await.unwrap().is_empty());
        assert_eq!(q.take_dead_letters(Q, 10).await.unwrap(), vec!["x".to_string()]);
        assert_eq!(q.depth(Q).await.unwrap(), QueueDepth::default());
    }

    #[tokio::test(start_paused = true)]
    async fn retry_later_delays_redelivery_and_a_waiting_receive_wakes_on_send() {
        let q = std::sync::Arc::new(InProcessQueue::new(Duration::from_secs(30), 5));
        q.send(Q, "x".into()).await.unwrap();
        let d = q.receive(Q, 1, Duration::ZERO).await.unwrap().remove(0);
        q.retry_later(Q, &d.receipt, Duration::from_secs(3)).await.unwrap();
        assert!(q.receive(Q, 1, Duration::from_secs(2)).await.unwrap().is_empty());
        let again = q.receive(Q, 1, Duration::from_secs(2)).await.unwrap();
        assert_eq!(again[0].attempt, 2);
        q.ack(Q, &again[0].receipt).await.unwrap();

        let waiter = {
            let q = q.clone();
            tokio::spawn(async move { q.receive(Q, 1, Duration::from_secs(60)).await.unwrap() })
        };
        tokio::task::yield_now().await;
        q.send(Q, "late".into()).await.unwrap();
        let got = waiter.await.unwrap();
        assert_eq!(got[0].body, "late");
        q.ack(Q, &got[0].receipt).await.unwrap();

        q.send_delayed(Q, "deferred".into(), Duration::from_secs(3)).await.unwrap();
        assert!(q.receive(Q, 1, Duration::from_secs(2)).await.unwrap().is_empty(), "not before its delay");
        let deferred = q.receive(Q, 1, Duration::from_secs(2)).await.unwrap();
        assert_eq!((deferred[0].body.as_str(), deferred[0].attempt), ("deferred", 1));
    }
}

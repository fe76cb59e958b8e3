use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;

/// Longest delay of [`WorkQueue::send_delayed`] (SQS's limit).
pub const MAX_SEND_DELAY: Duration = Duration::from_secs(900);

/// The work queues of the pipeline, one per stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueName {
    Crawl,
    Chunk,
    Embed,
}

impl QueueName {
    pub const ALL: [QueueName; 3] = [QueueName::Crawl, QueueName::Chunk, QueueName::Embed];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Crawl => "crawl",
            QueueName::Chunk => "chunk",
            QueueName::Embed => "embed",
        }
    }
}

/// A received message. It stays invisible to other consumers until it is acknowledged,
/// returned with [`WorkQueue::retry_later`], or its visibility timeout expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub body: String,
    /// Opaque handle for [`WorkQueue::ack`] / [`WorkQueue::retry_later`].
    pub receipt: String,
    /// 1 on the first delivery, then one more at each redelivery.
    pub attempt: u32,
    /// Provider message id, for logs.
    pub message_id: String,
}

/// Approximate message counts of one queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub dead: u64,
}

impl QueueDepth {
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.visible == 0 && self.in_flight == 0
    }
}

/// At-least-once work queues with visibility timeouts and a dead-letter queue each: a
/// message received `max_receives` times without being acknowledged moves to the
/// dead-letter queue instead of being delivered again.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// # Errors
    /// The queue service is unreachable.
    async fn send(&self, queue: QueueName, body: String) -> Result<(), StoreError> {
        self.send_batch(queue, vec![body]).await
    }

    /// Sends every body (split into provider-sized batches as needed).
    ///
    /// # Errors
    /// The queue service is unreachable; some messages may have been sent.
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), StoreError>;

    /// Sends `body` to be delivered after `delay` (at most 15 minutes; longer delays are
    /// cut to that), as a new message: its deliveries count from one again.
    ///
    /// # Errors
    /// The queue service is unreachable.
    async fn send_delayed(&self, queue: QueueName, body: String, delay: Duration) -> Result<(), StoreError>;

    /// Up to `max` messages, waiting up to `wait` for the first one.
    ///
    /// # Errors
    /// The queue service is unreachable.
    async fn receive(&self, queue: QueueName, max: usize, wait: Duration) -> Result<Vec<Delivery>, StoreError>;

    /// The message is done: delete it.
    ///
    /// # Errors
    /// The queue service is unreachable.
    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), StoreError>;

    /// The message failed transiently: make it visible again after `delay`.
    ///
    /// # Errors
    /// The queue service is unreachable.
    async fn retry_later(&self, queue: QueueName, receipt: &str, delay: Duration) -> Result<(), StoreError>;

    /// Takes up to `max` messages out of the dead-letter queue of `queue` (they are deleted
    /// from it), so their failure can be recorded.
    ///
    /// # Errors
    /// The queue service is unreachable.
    async fn take_dead_letters(&self, queue: QueueName, max: usize) -> Result<Vec<String>, StoreError>;

    /// # Errors
    /// The queue service is unreachable.
    async fn depth(&self, queue: QueueName) -> Result<QueueDepth, StoreError>;

    /// How many times a message is received before it is dead-lettered.
    fn max_receives(&self) -> u32;
}

//! Drivers' common part: run the stage handler for a delivery and decide what becomes of
//! the message (acknowledge, or retry later with backoff); record the failure of work that
//! cannot succeed; and the in-process worker loops used by `kb ingest` and `kb worker`.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tokio::sync::{watch, Semaphore};

use crate::domain::{KbId, PageStatus, PageUpdate};
use crate::error::{StageError, StoreError};
use crate::messages::{ChunkMsg, CrawlMsg, EmbedMsg, QueueMessage};
use crate::ports::{Delivery, QueueName};

use super::{chunk, crawl, embed, progress, Context};

/// What to do with a message after its handler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Done (successfully, or its failure was recorded): delete it.
    Ack,
    /// Make it visible again after this delay.
    Retry(Duration),
}

/// Backoff before retry number `attempt` (1-based): exponential with ±25 % jitter, at
/// least `retry_after` when the server asked for it.
#[must_use]
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let base = Duration::from_millis(500).saturating_mul(1 << attempt.min(7).saturating_sub(1)).min(Duration::from_secs(60));
    let jitter = rand::rng().random_range(0.75..1.25);
    let delay = base.mul_f64(jitter);
    match retry_after {
        Some(r) => delay.max(r.min(Duration::from_secs(300))),
        None => delay,
    }
}

fn kb_of(queue: QueueName, body: &str) -> Option<KbId> {
    match queue {
        QueueName::Crawl => CrawlMsg::decode(body).ok().map(|m| m.kb_id),
        QueueName::Chunk => ChunkMsg::decode(body).ok().map(|m| m.kb_id),
        QueueName::Embed => EmbedMsg::decode(body).ok().map(|m| m.kb_id),
    }
}

/// Records that the work of a message failed for good: its page (or the pages of its
/// chunks) become `failed` with `reason`, and the KB may complete.
///
/// # Errors
/// A store failed (the caller retries the message).
pub async fn record_failure(ctx: &Context, queue: QueueName, body: &str, reason: &str) -> Result<(), StoreError> {
    let update = PageUpdate { reason: Some(reason.to_owned()), ..Default::default() };
    let live = [PageStatus::Queued, PageStatus::Fetched, PageStatus::Chunked];
    let kb = match queue {
        QueueName::Crawl => {
            let Ok(m) = CrawlMsg::decode(body) else { return Ok(()) };
            if let Some(page) = ctx.catalog.get_page_by_url(m.kb_id, &m.url).await? {
                ctx.catalog.transition_page(m.kb_id, page.id, &live, PageStatus::Failed, &update).await?;
            }
            m.kb_id
        }
        QueueName::Chunk => {
            let Ok(m) = ChunkMsg::decode(body) else { return Ok(()) };
            ctx.catalog.transition_page(m.kb_id, m.page_id, &live, PageStatus::Failed, &update).await?;
            m.kb_id
        }
        QueueName::Embed => {
            let Ok(m) = EmbedMsg::decode(body) else { return Ok(()) };
            let chunks = ctx.catalog.get_chunks(m.kb_id, &m.chunk_ids).await?;
            let mut pages: Vec<_> = chunks.iter().map(|c| c.chunk.page_id).collect();
            pages.dedup();
            for page in pages {
                ctx.catalog.transition_page(m.kb_id, page, &live, PageStatus::Failed, &update).await?;
            }
            m.kb_id
        }
    };
    progress::after_work(ctx, kb).await?;
    Ok(())
}

/// Turns a handler result into a disposition: success and permanent failures are
/// acknowledged (the failure recorded first); transient failures are retried until the
/// queue's last receive, then recorded.
async fn settle(ctx: &Context, queue: QueueName, delivery: &Delivery, result: Result<(), StageError>) -> Disposition {
    let kb = kb_of(queue, &delivery.body);
    let outcome = match result {
        Ok(()) => match kb {
            Some(kb) => progress::after_work(ctx, kb).await.map(|_| ()),
            None => Ok(()),
        },
        Err(StageError::Transient { message, retry_after }) if delivery.attempt < ctx.queue.max_receives() => {
            tracing::warn!(queue = queue.as_str(), attempt = delivery.attempt, %message, "transient failure, will retry");
            return Disposition::Retry(backoff(delivery.attempt, retry_after));
        }
        Err(StageError::Transient { message, .. }) => {
            tracing::warn!(queue = queue.as_str(), attempt = delivery.attempt, %message, "giving up after the last attempt");
            record_failure(ctx, queue, &delivery.body, &message).await
        }
        Err(StageError::Permanent(message)) => {
            tracing::warn!(queue = queue.as_str(), %message, "permanent failure");
            record_failure(ctx, queue, &delivery.body, &message).await
        }
    };
    match outcome {
        Ok(()) => Disposition::Ack,
        Err(e) => {
            tracing::warn!(queue = queue.as_str(), error = %e, "could not record the outcome, will retry");
            Disposition::Retry(backoff(delivery.attempt, None))
        }
    }
}

/// Runs the handler of `queue` on one delivery.
pub async fn process_one(ctx: &Context, queue: QueueName, delivery: &Delivery) -> Disposition {
    let redelivered = delivery.attempt > 1;
    let result = match queue {
        QueueName::Crawl => match CrawlMsg::decode(&delivery.body) {
            Ok(m) => crawl::handle(ctx, &m, redelivered).await,
            Err(e) => Err(e),
        },
        QueueName::Chunk => match ChunkMsg::decode(&delivery.body) {
            Ok(m) => chunk::handle(ctx, &m).await,
            Err(e) => Err(e),
        },
        QueueName::Embed => match EmbedMsg::decode(&delivery.body) {
            Ok(m) => embed::handle(ctx, &m).await,
            Err(e) => Err(e),
        },
    };
    settle(ctx, queue, delivery, result).await
}

/// Runs the embed handler on several deliveries at once (one model pass for all).
pub async fn process_embed_batch(ctx: &Context, deliveries: &[Delivery]) -> Vec<Disposition> {
    let mut decoded = Vec::new();
    let mut slots = Vec::new();
    let mut dispositions = vec![Disposition::Ack; deliveries.len()];
    for (i, d) in deliveries.iter().enumerate() {
        match EmbedMsg::decode(&d.body) {
            Ok(m) => {
                decoded.push(m);
                slots.push(i);
            }
            Err(e) => dispositions[i] = settle(ctx, QueueName::Embed, d, Err(e)).await,
        }
    }
    let results = embed::handle_batch(ctx, &decoded).await;
    for (slot, result) in slots.into_iter().zip(results) {
        dispositions[slot] = settle(ctx, QueueName::Embed, &deliveries[slot], result).await;
    }
    dispositions
}

async fn apply(ctx: &Context, queue: QueueName, delivery: &Delivery, disposition: Disposition) {
    let result = match disposition {
        Disposition::Ack => ctx.queue.ack(queue, &delivery.receipt).await,
        Disposition::Retry(delay) => ctx.queue.retry_later(queue, &delivery.receipt, delay).await,
    };
    if let Err(e) = result {
        tracing::warn!(queue = queue.as_str(), error = %e, "could not settle message; it will be redelivered");
    }
}

/// How many messages of each queue one process works on at once.
#[derive(Clone, Copy, Debug)]
pub struct Concurrency {
    pub crawl: usize,
    pub chunk: usize,
    /// Embed messages taken per model pass.
    pub embed_batch: usize,
}

impl Concurrency {
    #[must_use]
    pub fn from_settings(ctx: &Context) -> Self {
        Self { crawl: ctx.settings.crawl_concurrency, chunk: 2, embed_batch: 8 }
    }
}

/// Long-polling time of one receive.
const POLL: Duration = Duration::from_millis(500);

/// Works on one queue with up to `slots` messages at once until `stop` turns true.
pub async fn run_queue(ctx: Context, queue: QueueName, slots: usize, mut stop: watch::Receiver<bool>) {
    let semaphore = Arc::new(Semaphore::new(slots.max(1)));
    loop {
        if *stop.borrow() {
            break;
        }
        let Ok(first) = semaphore.clone().acquire_owned().await else { break };
        let free = semaphore.available_permits() + 1;
        let received = tokio::select! {
            r = ctx.queue.receive(queue, free.min(10), POLL) => r,
            _ = stop.changed() => break,
        };
        let deliveries = match received {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(queue = queue.as_str(), error = %e, "receive failed");
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        let mut first = Some(first);
        for delivery in deliveries {
            let permit = match first.take() {
                Some(p) => p,
                None => match semaphore.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let disposition = process_one(&ctx, queue, &delivery).await;
                apply(&ctx, queue, &delivery, disposition).await;
                drop(permit);
            });
        }
    }
    // Let work in flight finish.
    let _ = semaphore.acquire_many(slots.max(1) as u32).await;
}

async fn run_embed(ctx: Context, batch: usize, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            break;
        }
        let received = tokio::select! {
            r = ctx.queue.receive(QueueName::Embed, batch.clamp(1, 10), POLL) => r,
            _ = stop.changed() => break,
        };
        match received {
            Ok(deliveries) if !deliveries.is_empty() => {
                let dispositions = process_embed_batch(&ctx, &deliveries).await;
                for (d, disp) in deliveries.iter().zip(dispositions) {
                    apply(&ctx, QueueName::Embed, d, disp).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "embed receive failed");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

async fn sweep_dead_letters(ctx: Context, mut stop: watch::Receiver<bool>) {
    loop {
        for queue in QueueName::ALL {
            match ctx.queue.take_dead_letters(queue, 10).await {
                Ok(bodies) => {
                    for body in bodies {
                        let reason = format!("dead_letter: gave up after {} deliveries", ctx.queue.max_receives());
                        if let Err(e) = record_failure(&ctx, queue, &body, &reason).await {
                            tracing::warn!(error = %e, "could not record a dead-lettered message");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading dead letters failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => break,
        }
    }
}

/// Works on every queue until `stop` turns true, then lets the work in flight finish.
pub async fn run(ctx: Context, concurrency: Concurrency, stop: watch::Receiver<bool>) {
    let tasks = vec![
        tokio::spawn(run_queue(ctx.clone(), QueueName::Crawl, concurrency.crawl, stop.clone())),
        tokio::spawn(run_queue(ctx.clone(), QueueName::Chunk, concurrency.chunk, stop.clone())),
        tokio::spawn(run_embed(ctx.clone(), concurrency.embed_batch, stop.clone())),
        tokio::spawn(sweep_dead_letters(ctx, stop)),
    ];
    for t in tasks {
        let _ = t.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let d1 = backoff(1, None);
        assert!(d1 >= Duration::from_millis(375) && d1 <= Duration::from_millis(625), "{d1:?}");
        let d4 = backoff(4, None);
        assert!(d4 >= Duration::from_secs(3) && d4 <= Duration::from_secs(5), "{d4:?}");
        assert!(backoff(30, None) <= Duration::from_secs(75));
        assert!(backoff(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
        assert_eq!(backoff(1, Some(Duration::from_secs(9999))), Duration::from_secs(300));
    }
}

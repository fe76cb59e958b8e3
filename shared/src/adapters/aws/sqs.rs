//! Work queues on SQS: one queue per stage, each with a dead-letter queue found through its
//! redrive policy.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};
use tokio::sync::OnceCell;

use super::sdk_err;
use crate::error::StoreError;
use crate::ports::{Delivery, QueueDepth, QueueName, WorkQueue, MAX_SEND_DELAY};

/// The URL of each stage's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueUrls {
    pub crawl: String,
    pub chunk: String,
    pub embed: String,
}

impl QueueUrls {
    fn of(&self, queue: QueueName) -> &str {
        match queue {
            QueueName::Crawl => &self.crawl,
            QueueName::Chunk => &self.chunk,
            QueueName::Embed => &self.embed,
        }
    }
}

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    urls: QueueUrls,
    dead_letter_urls: HashMap<QueueName, OnceCell<Option<String>>>,
    max_receives: u32,
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unknown(anyhow::Error::new(e))
}

impl SqsQueue {
    /// `max_receives` must match the queues' redrive `maxReceiveCount` (the handlers treat
    /// that receive as the last attempt).
    #[must_use]
    pub fn new(config: &aws_config::SdkConfig, urls: QueueUrls, max_receives: u32) -> Self {
        let dead_letter_urls = QueueName::ALL.iter().map(|q| (*q, OnceCell::new())).collect();
        Self { client: aws_sdk_sqs::Client::new(config), urls, dead_letter_urls, max_receives }
    }

    /// The client (tests use it to create their queues).
    #[must_use]
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    async fn attributes(&self, url: &str, names: &[QueueAttributeName]) -> Result<HashMap<QueueAttributeName, String>, StoreError> {
        let mut req = self.client.get_queue_attributes().queue_url(url);
        for n in names {
            req = req.attribute_names(n.clone());
        }
        let out = req.send().await.map_err(|e| sdk_err(&format!("sqs attributes of {url}"), e))?;
        Ok(out.attributes().cloned().unwrap_or_default())
    }

    /// The dead-letter queue of `queue`, from its redrive policy (`None` without one).
    async fn dead_letter_url(&self, queue: QueueName) -> Result<Option<String>, StoreError> {
        let cell = &self.dead_letter_urls[&queue];
        cell.get_or_try_init(|| async {
            let attrs = self.attributes(self.urls.of(queue), &[QueueAttributeName::RedrivePolicy]).await?;
            let Some(policy) = attrs.get(&QueueAttributeName::RedrivePolicy) else { return Ok(None) };
            let policy: serde_json::Value = serde_json::from_str(policy).map_err(other)?;
            let Some(arn) = policy["deadLetterTargetArn"].as_str() else { return Ok(None) };
            let name = arn.rsplit(':').next().unwrap_or(arn);
            let out = self
                .client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| sdk_err(&format!("sqs url of {name}"), e))?;
            Ok(out.queue_url().map(str::to_owned))
        })
        .await
        .cloned()
    }

    fn count(attrs: &HashMap<QueueAttributeName, String>, name: &QueueAttributeName) -> u64 {
        attrs.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), StoreError> {
        let url = self.urls.of(queue);
        for batch in bodies.chunks(10) {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, body)| SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(body).build().map_err(other))
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_err(&format!("sqs send to {url}"), e))?;
            if let Some(failed) = out.failed().first() {
                return Err(StoreError::Unknown(anyhow::anyhow!(
                    "sqs refused {} of {} messages to {url}: {}",
                    out.failed().len(),
                    batch.len(),
                    failed.message().unwrap_or(failed.code())
                )));
            }
        }
        Ok(())
    }

    async fn send_delayed(&self, queue: QueueName, body: String, delay: Duration) -> Result<(), StoreError> {
        let url = self.urls.of(queue);
        let seconds = delay.min(MAX_SEND_DELAY).as_secs_f64().ceil();
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .delay_seconds(seconds as i32)
            .send()
            .await
            .map_err(|e| sdk_err(&format!("sqs send to {url}"), e))?;
        Ok(())
    }

    async fn receive(&self, queue: QueueName, max: usize, wait: Duration) -> Result<Vec<Delivery>, StoreError> {
        let url = self.urls.of(queue);
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .wait_time_seconds(i32::try_from(wait.as_secs().min(20)).unwrap_or(20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| sdk_err(&format!("sqs receive from {url}"), e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                let attempt = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                Some(Delivery {
                    body: m.body()?.to_owned(),
                    receipt: m.receipt_handle()?.to_owned(),
                    attempt,
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), StoreError> {
        let url = self.urls.of(queue);
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk_err(&format!("sqs delete from {url}"), e))?;
        Ok(())
    }

    async fn retry_later(&self, queue: QueueName, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        let url = self.urls.of(queue);
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(delay.as_secs().min(43_200)).unwrap_or(43_200))
            .send()
            .await
            .map_err(|e| sdk_err(&format!("sqs change visibility in {url}"), e))?;
        Ok(())
    }

    async fn take_dead_letters(&self, queue: QueueName, max: usize) -> Result<Vec<String>, StoreError> {
        let Some(url) = self.dead_letter_url(queue).await? else { return Ok(Vec::new()) };
        let out = self
            .client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| sdk_err(&format!("sqs receive from {url}"), e))?;
        let mut bodies = Vec::new();
        for m in out.messages() {
            if let (Some(body), Some(receipt)) = (m.body(), m.receipt_handle()) {
                bodies.push(body.to_owned());
                self.client
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|e| sdk_err(&format!("sqs delete from {url}"), e))?;
            }
        }
        Ok(bodies)
    }

    async fn depth(&self, queue: QueueName) -> Result<QueueDepth, StoreError> {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ];
        let attrs = self.attributes(self.urls.of(queue), &names).await?;
        let mut depth = QueueDepth {
            visible: Self::count(&attrs, &names[0]) + Self::count(&attrs, &names[2]),
            in_flight: Self::count(&attrs, &names[1]),
            dead: 0,
        };
        if let Some(dlq) = self.dead_letter_url(queue).await? {
            let attrs = self.attributes(&dlq, &names[..1]).await?;
            depth.dead = Self::count(&attrs, &names[0]);
        }
        Ok(depth)
    }

    fn max_receives(&self) -> u32 {
        self.max_receives
    }
}

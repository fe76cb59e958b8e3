//! The Lambda drivers: an SQS batch handler reporting partial batch failures, and the HTTP
//! handler running an axum router.
//!
//! A record whose work failed transiently is reported as a batch item failure (after its
//! visibility is set to the backoff delay, so the retry waits); everything else (success,
//! or a failure recorded on its page) is acknowledged by returning it as processed. Records
//! arriving from a dead-letter queue (an event source ARN ending in `-dlq`) are recorded as
//! failed pages.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{service_fn, LambdaEvent};

use crate::pipeline::worker::{self, Disposition};
use crate::pipeline::Context;
use crate::ports::{Delivery, QueueName};

fn delivery(record: &SqsMessage) -> Option<Delivery> {
    Some(Delivery {
        body: record.body.clone()?,
        receipt: record.receipt_handle.clone().unwrap_or_default(),
        attempt: record.attributes.get("ApproximateReceiveCount").and_then(|v| v.parse().ok()).unwrap_or(1),
        message_id: record.message_id.clone().unwrap_or_default(),
    })
}

fn from_dead_letter_queue(record: &SqsMessage) -> bool {
    record.event_source_arn.as_deref().is_some_and(|arn| arn.ends_with("-dlq"))
}

/// Handles one SQS batch for the stage of `queue`.
pub async fn handle_sqs_event(ctx: &Context, queue: QueueName, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    let mut work = Vec::new();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let Some(d) = delivery(record) else { continue };
        if from_dead_letter_queue(record) {
            let reason = format!("dead_letter: gave up after {} deliveries", ctx.queue.max_receives());
            if let Err(e) = worker::record_failure(ctx, queue, &d.body, &reason).await {
                tracing::warn!(error = %e, "could not record a dead-lettered message");
                failures.push(id);
            }
            continue;
        }
        work.push((id, d));
    }
    let dispositions: Vec<Disposition> = if queue == QueueName::Embed {
        let deliveries: Vec<Delivery> = work.iter().map(|(_, d)| d.clone()).collect();
        worker::process_embed_batch(ctx, &deliveries).await
    } else {
        futures::future::join_all(work.iter().map(|(_, d)| worker::process_one(ctx, queue, d))).await
    };
    for ((id, d), disposition) in work.iter().zip(dispositions) {
        if let Disposition::Retry(delay) = disposition {
            if let Err(e) = ctx.queue.retry_later(queue, &d.receipt, delay).await {
                tracing::warn!(error = %e, "could not delay the retry");
            }
            failures.push(id.clone());
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|item_identifier| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = item_identifier;
            f
        })
        .collect();
    response
}

/// Structured JSON logs on stdout (CloudWatch), filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().json().with_env_filter(filter).without_time().with_target(false).init();
}

/// Runs the SQS handler of `queue` under the Lambda runtime.
///
/// # Errors
/// The runtime failed.
pub async fn run_sqs(ctx: Context, queue: QueueName) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let ctx = ctx.clone();
        async move { Ok::<_, lambda_runtime::Error>(handle_sqs_event(&ctx, queue, event.payload).await) }
    }))
    .await
}

/// Runs an HTTP router under the Lambda runtime (API Gateway HTTP API events).
///
/// # Errors
/// The runtime failed.
pub async fn run_http(router: axum::Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router).await
}

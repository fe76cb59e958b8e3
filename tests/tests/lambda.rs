//! The Lambda SQS driver: a batch reports as failures only the records whose work failed
//! transiently (SQS delivers them again); permanent failures are recorded on their page and
//! acknowledged; records from a dead-letter queue mark their page failed.

mod common;

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use kb_e2e::{FixtureServer, Response, Site};
use kb_shared::domain::{CrawlConfig, PageStatus};
use kb_shared::drivers::lambda::handle_sqs_event;
use kb_shared::ports::QueueName;
use serde_json::json;

/// An SQS event as Lambda delivers it: (message id, body, receive count) from `queue`.
fn event(queue: &str, records: &[(&str, &str, u32)]) -> SqsEvent {
    let records: Vec<_> = records
        .iter()
        .map(|(id, body, count)| {
            json!({
                "messageId": id, "receiptHandle": format!("receipt-{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": count.to_string()}, "messageAttributes": {},
                "eventSource": "aws:sqs", "eventSourceARN": format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failures(resp: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

async fn received(ctx: &kb_shared::pipeline::Context, queue: QueueName) -> Vec<String> {
    let deliveries = ctx.queue.receive(queue, 10, Duration::from_millis(50)).await.unwrap();
    for d in &deliveries {
        ctx.queue.ack(queue, &d.receipt).await.unwrap();
    }
    deliveries.into_iter().map(|d| d.body).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_batches_report_only_transient_failures() {
    let mut site = Site::default();
    let text = "The staging cluster is rebuilt every night from the release branch. ".repeat(20);
    site.page(
        "/docs/",
        Response::html(format!(
            "<html><head><title>Start</title></head><body><main><h1>Start</h1><p>{text}</p>\
             <a href=\"/docs/busy\">busy</a> <a href=\"/docs/gone\">gone</a> <a href=\"/docs/late\">late</a></main></body></html>"
        )),
    );
    site.page("/docs/busy", Response::new(503, "text/html", b"<html><body>busy</body></html>".to_vec()));
    site.page("/docs/late", Response::new(503, "text/html", b"<html><body>busy</body></html>".to_vec()));
    let server = FixtureServer::start(site).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = common::context(dir.path()).await;
    let crawl = CrawlConfig { max_pages: 10, max_depth: 2, ..Default::default() };
    let kb = common::create_web_kb(&ctx, &server.url("/docs/"), crawl).await;

    // The start page: processed, acknowledged, its links admitted and enqueued.
    let start = received(&ctx, QueueName::Crawl).await;
    assert_eq!(start.len(), 1);
    let resp = handle_sqs_event(&ctx, QueueName::Crawl, event("kb-crawl", &[("m0", &start[0], 1)])).await;
    assert!(failures(&resp).is_empty(), "{resp:?}");
    let chunk_jobs = received(&ctx, QueueName::Chunk).await;
    assert_eq!(chunk_jobs.len(), 1, "the start page goes on to chunking");
    let mut links = received(&ctx, QueueName::Crawl).await;
    links.sort();
    assert_eq!(links.len(), 3, "{links:?}");
    let body_for = |path: &str| links.iter().find(|b| b.contains(&format!("{path}\""))).unwrap().clone();

    // A batch: a 503 (transient: retried), a 404 (permanent: recorded, acknowledged), a
    // malformed body (permanent: acknowledged).
    let batch = event("kb-crawl", &[("busy", &body_for("/docs/busy"), 1), ("gone", &body_for("/docs/gone"), 1), ("junk", "{not json", 1)]);
    let resp = handle_sqs_event(&ctx, QueueName::Crawl, batch).await;
    assert_eq!(failures(&resp), vec!["busy".to_owned()], "only the transient failure returns to the queue");
    let page = |path: &'static str| {
        let ctx = ctx.clone();
        let url = server.url(path);
        async move { ctx.catalog.get_page_by_url(kb, &url).await.unwrap().unwrap() }
    };
    let gone = page("/docs/gone").await;
    assert_eq!(gone.status, PageStatus::Failed);
    assert!(gone.reason.as_deref().unwrap().contains("404"), "{:?}", gone.reason);
    assert_eq!(page("/docs/busy").await.status, PageStatus::Queued, "still to be retried");

    // The last delivery allowed: the failure is final, recorded and acknowledged.
    let max = ctx.queue.max_receives();
    let resp = handle_sqs_event(&ctx, QueueName::Crawl, event("kb-crawl", &[("busy", &body_for("/docs/busy"), max)])).await;
    assert!(failures(&resp).is_empty(), "{resp:?}");
    let busy = page("/docs/busy").await;
    assert_eq!(busy.status, PageStatus::Failed);
    assert!(busy.reason.as_deref().unwrap().contains("503"), "{:?}", busy.reason);

    // A message that reached the dead-letter queue: its page is failed with the reason.
    let resp = handle_sqs_event(&ctx, QueueName::Crawl, event("kb-crawl-dlq", &[("late", &body_for("/docs/late"), 1)])).await;
    assert!(failures(&resp).is_empty(), "{resp:?}");
    let late = page("/docs/late").await;
    assert_eq!(late.status, PageStatus::Failed);
    assert!(late.reason.as_deref().unwrap().starts_with("dead_letter"), "{:?}", late.reason);
    assert_eq!(server.hits("/docs/late"), 0, "a dead letter is not fetched again");
}

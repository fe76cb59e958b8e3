//! The AWS adapters against the S3 + SQS test server (moto, started by scripts/test.sh).

use std::time::Duration;

use bytes::Bytes;

use super::{QueueUrls, S3BlobStore, SqsQueue};
use crate::ports::{BlobStore, QueueName, WorkQueue};
use crate::testing::{aws_config, create_queues, unique_name as unique};

#[tokio::test]
async fn s3_put_get_list_delete() {
    let config = aws_config().await;
    let bucket = unique("kb-test");
    let store = S3BlobStore::new(&config, &bucket);
    store.client().create_bucket().bucket(&bucket).send().await.unwrap();
    store.put("kb/1/pages/a.md", Bytes::from_static(b"# A"), "text/markdown").await.unwrap();
    store.put("kb/1/pages/b.md", Bytes::from_static(b"# B"), "text/markdown").await.unwrap();
    store.put("kb/2/pages/c.md", Bytes::from_static(b"# C"), "text/markdown").await.unwrap();
    store.put("kb/1/pages/a.md", Bytes::from_static(b"# A2"), "text/markdown").await.unwrap();
    assert_eq!(store.get("kb/1/pages/a.md").await.unwrap().unwrap(), Bytes::from_static(b"# A2"));
    assert_eq!(store.get("kb/1/pages/missing.md").await.unwrap(), None);
    assert_eq!(store.list("kb/1/").await.unwrap(), vec!["kb/1/pages/a.md", "kb/1/pages/b.md"]);
    assert_eq!(store.delete_prefix("kb/1/").await.unwrap(), 2);
    assert!(store.list("kb/1/").await.unwrap().is_empty());
    store.delete("kb/2/pages/c.md").await.unwrap();
    store.delete("kb/2/pages/c.md").await.unwrap();
    assert!(store.list("").await.unwrap().is_empty());
    // Many keys: listing pages through the results.
    for i in 0..1050 {
        store.put(&format!("many/{i:04}"), Bytes::from_static(b"x"), "text/plain").await.unwrap();
    }
    assert_eq!(store.list("many/").await.unwrap().len(), 1050);
    assert_eq!(store.delete_prefix("many/").await.unwrap(), 1050);
}

#[tokio::test]
async fn sqs_send_batch_receive_ack_and_depth() {
    let config = aws_config().await;
    let probe = SqsQueue::new(&config, QueueUrls { crawl: String::new(), chunk: String::new(), embed: String::new() }, 3);
    let urls = create_queues(probe.client(), 3, 30).await;
    let queue = SqsQueue::new(&config, urls, 3);
    let bodies: Vec<String> = (0..25).map(|i| format!("{{\"n\":{i}}}")).collect();
    queue.send_batch(QueueName::Crawl, bodies.clone()).await.unwrap();
    queue.send(QueueName::Chunk, "single".into()).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 25 {
        let batch = queue.receive(QueueName::Crawl, 10, Duration::from_secs(1)).await.unwrap();
        assert!(!batch.is_empty(), "all 25 messages arrive");
        for d in &batch {
            assert_eq!(d.attempt, 1);
            queue.ack(QueueName::Crawl, &d.receipt).await.unwrap();
        }
        got.extend(batch.into_iter().map(|d| d.body));
    }
    got.sort();
    let mut want = bodies;
    want.sort();
    assert_eq!(got, want);
    assert!(queue.receive(QueueName::Crawl, 10, Duration::ZERO).await.unwrap().is_empty());
    assert!(queue.depth(QueueName::Crawl).await.unwrap().is_idle());
    let chunk = queue.receive(QueueName::Chunk, 10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(chunk.len(), 1);
    assert_eq!(chunk[0].body, "single");
    assert_eq!(queue.depth(QueueName::Chunk).await.unwrap().in_flight, 1);

    queue.send_delayed(QueueName::Crawl, "deferred".into(), Duration::from_secs(2)).await.unwrap();
    assert!(queue.receive(QueueName::Crawl, 1, Duration::from_millis(800)).await.unwrap().is_empty(), "not before its delay");
    let deferred = queue.receive(QueueName::Crawl, 1, Duration::from_secs(3)).await.unwrap();
    assert_eq!((deferred[0].body.as_str(), deferred[0].attempt), ("deferred", 1));
}

#[tokio::test]
async fn sqs_visibility_redelivery_and_dead_letters() {
    let config = aws_config().await;
    let probe = SqsQueue::new(&config, QueueUrls { crawl: String::new(), chunk: String::new(), embed: String::new() }, 2);
    let urls = create_queues(probe.client(), 2, 1).await;
    let queue = SqsQueue::new(&config, urls, 2);
    queue.send(QueueName::Embed, "poison".into()).await.unwrap();

    let first = queue.receive(QueueName::Embed, 1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(first[0].attempt, 1);
    assert!(queue.receive(QueueName::Embed, 1, Duration::ZERO).await.unwrap().is_empty(), "invisible while in flight");
    // Returned at once by the handler (retry with no delay).
    queue.retry_later(QueueName::Embed, &first[0].receipt, Duration::ZERO).await.unwrap();
    let second = queue.receive(QueueName::Embed, 1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(second[0].attempt, 2);
    // Not acknowledged: after the visibility timeout the third receive moves it to the DLQ.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(queue.receive(QueueName::Embed, 1, Duration::from_secs(1)).await.unwrap().is_empty());
    let mut dead = Vec::new();
    for _ in 0..10 {
        dead = queue.take_dead_letters(QueueName::Embed, 10).await.unwrap();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(dead, vec!["poison".to_string()]);
    assert!(queue.take_dead_letters(QueueName::Embed, 10).await.unwrap().is_empty(), "taken once");
    assert_eq!(queue.max_receives(), 2);
}

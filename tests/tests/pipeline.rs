//! The whole pipeline in one process over the generated documentation site.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kb_e2e::docs_site::{topic_sentence, DocsSite};
use kb_e2e::FixtureServer;
use kb_shared::domain::{KbId, KbStatus, PageStatus};
use kb_shared::error::StoreError;
use kb_shared::pipeline::search::{search, SearchRequest};
use kb_shared::pipeline::Context;
use kb_shared::ports::{Delivery, QueueDepth, QueueName, WorkQueue};

use common::*;

struct Outcome {
    indexed: BTreeSet<String>,
    chunk_texts: Vec<String>,
    chunks: u64,
    vectors: u64,
}

async fn outcome(ctx: &Context, kb: KbId) -> Outcome {
    let pages = ctx.catalog.list_pages(kb).await.unwrap();
    let indexed = pages.iter().filter(|p| p.status == PageStatus::Indexed).map(|p| path_of(&p.url)).collect();
    let mut chunk_texts = Vec::new();
    for p in &pages {
        for c in ctx.catalog.page_chunks(kb, p.id).await.unwrap() {
            assert!(c.embedded, "every chunk is embedded");
            chunk_texts.push(c.chunk.text);
        }
    }
    chunk_texts.sort();
    let stats = ctx.catalog.stats(kb).await.unwrap();
    Outcome { indexed, chunk_texts, chunks: stats.chunks, vectors: ctx.index.count(kb).await.unwrap() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crawls_the_fixture_site_exactly_and_finds_pages_by_their_sentences() {
    let site = DocsSite::generate();
    let server = FixtureServer::start(site.site.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let kb = create_web_kb(&ctx, &server.url("/docs/"), docs_crawl()).await;
    assert_eq!(run_until_final(&ctx, kb, Duration::from_secs(300)).await, KbStatus::Ready);

    let got = outcome(&ctx, kb).await;
    let expected: BTreeSet<String> = site.expected.iter().cloned().collect();
    assert_eq!(got.indexed, expected, "exactly the in-scope pages within the depth limit");
    let requested: BTreeSet<String> = server.requests().into_iter().collect();
    for path in &site.never {
        assert!(!requested.contains(path), "{path} is out of scope and must not be fetched");
    }
    assert!(got.chunks > expected.len() as u64);
    assert_eq!(got.chunks, got.vectors, "one vector per chunk");
    assert_eq!(got.chunk_texts.len() as u64, got.chunks);
    for text in &got.chunk_texts {
        assert!(!text.contains("boilerplate"), "boilerplate reached a chunk: {text}");
    }
    assert!(got.chunk_texts.iter().any(|t| t.contains("```rust")), "code blocks keep their language");
    assert!(got.chunk_texts.iter().any(|t| t.contains("| Option | Default | Meaning |")), "tables stay tables");

    let kb_row = ctx.catalog.get_kb(kb).await.unwrap().unwrap();
    for (s, t) in [(3, 2), (0, 4), (5, 0)] {
        let request = SearchRequest {
            query: topic_sentence(s, t),
            top_k: 3,
            score_threshold: None,
            mode: None,
            filter: Default::default(),
            group_by_page: None,
        };
        let results = search(&ctx, &kb_row, &request).await.unwrap();
        assert_eq!(path_of(&results[0].url), format!("/docs/s{s}/t{t}"), "search for topic {s}.{t}");
        assert!(results[0].text.contains(&topic_sentence(s, t)));
        assert!(!results[0].heading_path.is_empty());
    }
}

/// A queue that delivers every message twice, as at-least-once delivery may.
struct Duplicating(Arc<dyn WorkQueue>);

#[async_trait]
impl WorkQueue for Duplicating {
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), StoreError> {
        let twice: Vec<String> = bodies.iter().flat_map(|b| [b.clone(), b.clone()]).collect();
        self.0.send_batch(queue, twice).await
    }
    async fn send_delayed(&self, queue: QueueName, body: String, delay: Duration) -> Result<(), StoreError> {
        self.0.send_delayed(queue, body.clone(), delay).await?;
        self.0.send_delayed(queue, body, delay).await
    }
    async fn receive(&self, queue: QueueName, max: usize, wait: Duration) -> Result<Vec<Delivery>, StoreError> {
        self.0.receive(queue, max, wait).await
    }
    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), StoreError> {
        self.0.ack(queue, receipt).await
    }
    async fn retry_later(&self, queue: QueueName, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        self.0.retry_later(queue, receipt, delay).await
    }
    async fn take_dead_letters(&self, queue: QueueName, max: usize) -> Result<Vec<String>, StoreError> {
        self.0.take_dead_letters(queue, max).await
    }
    async fn depth(&self, queue: QueueName) -> Result<QueueDepth, StoreError> {
        self.0.depth(queue).await
    }
    fn max_receives(&self) -> u32 {
        self.0.max_receives()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_delivered_twice_gives_the_same_knowledge_base() {
    let site = DocsSite::generate();
    let server = FixtureServer::start(site.site.clone()).await;

    let clean_dir = tempfile::tempdir().unwrap();
    let clean = context(clean_dir.path()).await;
    let clean_kb = create_web_kb(&clean, &server.url("/docs/"), docs_crawl()).await;
    assert_eq!(run_until_final(&clean, clean_kb, Duration::from_secs(300)).await, KbStatus::Ready);
    let want = outcome(&clean, clean_kb).await;

    let dup_dir = tempfile::tempdir().unwrap();
    let mut dup = context(dup_dir.path()).await;
    dup.queue = Arc::new(Duplicating(dup.queue.clone()));
    let dup_kb = create_web_kb(&dup, &server.url("/docs/"), docs_crawl()).await;
    assert_eq!(run_until_final(&dup, dup_kb, Duration::from_secs(300)).await, KbStatus::Ready);
    let got = outcome(&dup, dup_kb).await;

    assert_eq!(got.indexed, want.indexed);
    assert_eq!(got.chunk_texts, want.chunk_texts, "same chunks, none twice");
    assert_eq!((got.chunks, got.vectors), (want.chunks, want.vectors));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_pages_holds_exactly() {
    let site = DocsSite::generate();
    let server = FixtureServer::start(site.site.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let crawl = kb_shared::domain::CrawlConfig { max_pages: 12, ..docs_crawl() };
    let kb = create_web_kb(&ctx, &server.url("/docs/"), crawl).await;
    assert_eq!(run_until_final(&ctx, kb, Duration::from_secs(300)).await, KbStatus::Ready);
    let got = outcome(&ctx, kb).await;
    assert_eq!(got.indexed.len(), 12);
    assert_eq!(ctx.catalog.list_pages(kb).await.unwrap().len(), 12, "no page beyond the budget is even recorded");
}

/// The other chunking strategies through the whole pipeline (the semantic one embeds the
/// sentences in the chunk stage): every page indexed, one vector per chunk, every chunk
/// within its size and under a heading, and a topic sentence still finds its page first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn by_heading_and_semantic_strategies_end_to_end() {
    use kb_shared::domain::{ChunkStrategy, ChunkingConfig, KbConfig, SearchMode};

    let site = DocsSite::generate();
    let server = FixtureServer::start(site.site.clone()).await;
    for strategy in [ChunkStrategy::ByHeading, ChunkStrategy::Semantic] {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path()).await;
        let mut config = KbConfig::default();
        config.chunking = ChunkingConfig { strategy, chunk_size: 400, chunk_overlap: 0, ..Default::default() };
        // Section 0 and its topic pages.
        let crawl = kb_shared::domain::CrawlConfig { max_pages: 6, max_depth: 1, ..docs_crawl() };
        let kb = create_web_kb_with(&ctx, &server.url("/docs/s0/"), crawl, config).await;
        assert_eq!(run_until_final(&ctx, kb, Duration::from_secs(300)).await, KbStatus::Ready, "{strategy:?}");
        let got = outcome(&ctx, kb).await;
        assert_eq!(got.indexed.len(), 6, "{strategy:?}: {:?}", got.indexed);
        assert_eq!(got.chunks, got.vectors, "{strategy:?}: one vector per chunk");
        let pages = ctx.catalog.list_pages(kb).await.unwrap();
        let mut topic_pages = Vec::new();
        for p in &pages {
            let chunks = ctx.catalog.page_chunks(kb, p.id).await.unwrap();
            assert!(!chunks.is_empty(), "{strategy:?}: {} has chunks", p.url);
            for c in &chunks {
                assert!(c.chunk.text.chars().count() <= 400, "{strategy:?}: chunk of {} chars", c.chunk.text.chars().count());
                assert!(!c.chunk.heading_path.is_empty(), "{strategy:?}: every chunk is under a heading");
                // Code blocks fit the limit, so none is cut.
                assert_eq!(c.chunk.text.matches("```").count() % 2, 0, "{strategy:?}: half a code block");
            }
            if let Some((s, t)) = path_of(&p.url).strip_prefix("/docs/s").and_then(|r| r.split_once("/t")) {
                if let (Ok(s), Ok(t)) = (s.parse::<usize>(), t.parse::<usize>()) {
                    topic_pages.push((s, t));
                }
            }
        }
        let kb_row = ctx.catalog.get_kb(kb).await.unwrap().unwrap();
        assert!(!topic_pages.is_empty(), "{:?}", got.indexed);
        for &(s, t) in &topic_pages {
            for mode in [SearchMode::Dense, SearchMode::Hybrid] {
                let request = SearchRequest { query: topic_sentence(s, t), top_k: 3, score_threshold: None, mode: Some(mode), filter: Default::default(), group_by_page: None };
                let results = search(&ctx, &kb_row, &request).await.unwrap();
                assert_eq!(path_of(&results[0].url), format!("/docs/s{s}/t{t}"), "{strategy:?} {mode:?}: topic {s}.{t}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_vector_carries_its_neighbours_by_the_configured_weight() {
    use kb_shared::domain::{ChunkStrategy, ChunkingConfig, KbConfig, SearchMode};
    use kb_shared::ports::TextKind;

    // One long page: 40 paragraphs, each its own chunk, more than one embed message holds.
    let mut site = kb_e2e::Site::default();
    let topics = ["backups", "replication", "indexes", "vacuum", "locks", "roles", "extensions", "logging"];
    let paragraphs: String = (0..40)
        .map(|i| format!("<p>Note {i} on {}: check the settings of step {i} before the nightly job runs.</p>", topics[i % topics.len()]))
        .collect();
    site.page("/long", kb_e2e::Response::html(format!("<html><head><title>Operations notes</title></head><body><main><h1>Operations notes</h1>{paragraphs}</main></body></html>")));
    let server = FixtureServer::start(site).await;
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    for weight in [0.0_f32, 0.2, 0.5] {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path()).await;
        let mut config = KbConfig::default();
        config.chunking = ChunkingConfig { strategy: ChunkStrategy::Recursive, chunk_size: 100, chunk_overlap: 0, ..Default::default() };
        config.embedding.neighbor_weight = weight;
        let crawl = kb_shared::domain::CrawlConfig { max_pages: 1, max_depth: 0, ..Default::default() };
        let kb = create_web_kb_with(&ctx, &server.url("/long"), crawl, config).await;
        assert_eq!(run_until_final(&ctx, kb, Duration::from_secs(300)).await, KbStatus::Ready, "weight {weight}");
        let kb_row = ctx.catalog.get_kb(kb).await.unwrap().unwrap();
        let page = ctx.catalog.list_pages(kb).await.unwrap().remove(0);
        let mut chunks: Vec<_> = ctx.catalog.page_chunks(kb, page.id).await.unwrap().into_iter().map(|c| c.chunk).collect();
        chunks.sort_by_key(|c| c.index);
        // More chunks than one embed message holds (32): chunks 31 and 32 have a neighbour
        // in the other message.
        assert!(chunks.len() > 33, "the page fills more than one embed message: {} chunks", chunks.len());
        let texts: Vec<String> = chunks.iter().map(|c| c.embedding_text(true)).collect();
        let own = ctx.embedder().unwrap().embed(&texts, TextKind::Document).await.unwrap();
        // The first chunk has one neighbour, the others two.
        for i in [0, 1, 31, 32] {
            let mut expected = own[i].clone();
            for j in [i.checked_sub(1), Some(i + 1)].into_iter().flatten().filter(|&j| j < own.len()) {
                expected.iter_mut().zip(&own[j]).for_each(|(x, y)| *x += weight * y);
            }
            let norm = dot(&expected, &expected).sqrt();
            expected.iter_mut().for_each(|x| *x /= norm);
            // Searching with the chunk's own embedded text scores it at cos(own, stored);
            // every chunk of the one page is asked for, not the page once.
            let request = SearchRequest {
                query: texts[i].clone(),
                top_k: 10,
                score_threshold: None,
                mode: Some(SearchMode::Dense),
                filter: Default::default(),
                group_by_page: Some(false),
            };
            let results = search(&ctx, &kb_row, &request).await.unwrap();
            let hit = results.iter().find(|r| r.chunk_id == chunks[i].id).expect("the chunk is found by its own text");
            let query = ctx.embedder().unwrap().embed(&texts[i..=i], TextKind::Query).await.unwrap().remove(0);
            let want = dot(&query, &expected);
            assert!((hit.score - want).abs() < 2e-3, "weight {weight}, chunk {i}: score {} != {want}", hit.score);
            let alone = dot(&query, &own[i]);
            if weight == 0.0 {
                assert!((hit.score - alone).abs() < 2e-3, "unmixed: the chunk's own vector ({} vs {alone})", hit.score);
            } else {
                assert!(alone - hit.score > 2e-3, "mixed: further from its own text ({} vs {alone})", hit.score);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_neighbour_in_another_embed_message_is_read_and_mixed_in() {
    use kb_shared::domain::{Chunk, ChunkId, KbConfig, PageStatus, PageUpdate, SearchMode};
    use kb_shared::messages::EmbedMsg;
    use kb_shared::pipeline::embed;
    use kb_shared::ports::TextKind;

    let site = DocsSite::generate();
    let server = FixtureServer::start(site.site.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    // The knowledge base is left processing (no worker runs); its start page gets three
    // chunks by hand, and only the middle one is sent to the embed stage.
    let crawl = kb_shared::domain::CrawlConfig { max_pages: 1, max_depth: 0, ..docs_crawl() };
    let kb = create_web_kb_with(&ctx, &server.url("/docs/s0/t1"), crawl, KbConfig::default()).await;
    let page = ctx.catalog.list_pages(kb).await.unwrap().remove(0);
    let texts = ["Backups run every night at two.", "They are kept for thirty days.", "Restores are tested each month."];
    let chunks: Vec<Chunk> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Chunk {
            id: ChunkId::derive(page.id, u32::try_from(i).unwrap(), t),
            kb_id: kb,
            page_id: page.id,
            source_id: page.source_id,
            index: u32::try_from(i).unwrap(),
            text: (*t).to_owned(),
            url: page.url.clone(),
            title: Some("Backups".into()),
            heading_path: vec!["Backups".into()],
            anchor: None,
            start: 0,
            end: 0,
            token_count: 8,
        })
        .collect();
    ctx.catalog.put_chunks(kb, page.id, &chunks).await.unwrap();
    let update = PageUpdate { chunk_count: Some(3), ..Default::default() };
    assert!(ctx.catalog.transition_page(kb, page.id, &[page.status], PageStatus::Chunked, &update).await.unwrap());
    embed::handle(&ctx, &EmbedMsg::new(kb, vec![chunks[1].id])).await.unwrap();

    let embedded: Vec<String> = chunks.iter().map(|c| c.embedding_text(true)).collect();
    let own = ctx.embedder().unwrap().embed(&embedded, TextKind::Document).await.unwrap();
    let w = KbConfig::default().embedding.neighbor_weight;
    let mut expected: Vec<f32> = (0..own[1].len()).map(|d| own[1][d] + w * (own[0][d] + own[2][d])).collect();
    let norm = expected.iter().map(|x| x * x).sum::<f32>().sqrt();
    expected.iter_mut().for_each(|x| *x /= norm);
    let query = ctx.embedder().unwrap().embed(&embedded[1..2], TextKind::Query).await.unwrap().remove(0);
    let want: f32 = query.iter().zip(&expected).map(|(a, b)| a * b).sum();
    let kb_row = ctx.catalog.get_kb(kb).await.unwrap().unwrap();
    let request = SearchRequest {
        query: embedded[1].clone(),
        top_k: 3,
        score_threshold: None,
        mode: Some(SearchMode::Dense),
        filter: Default::default(),
        group_by_page: Some(false),
    };
    let results = search(&ctx, &kb_row, &request).await.unwrap();
    assert_eq!(results.len(), 1, "only the chunk of the message is indexed, not its neighbours");
    assert_eq!(results[0].chunk_id, chunks[1].id);
    assert!((results[0].score - want).abs() < 2e-3, "both neighbours, read from the catalog, are mixed in: {} != {want}", results[0].score);
}

//! Benchmark helpers (see scripts/bench.sh): measure one stage at a time.
//!
//!     kb-bench embed FILE.jsonl            embedding throughput over {"text": ...} lines
//!     kb-bench export --kb ID FILE.jsonl   write a KB's chunk texts (as embedded) to FILE
//!     kb-bench crawl URL [--max-pages N] [--render http|browser|auto]
//!                                          crawl + extract only, pages per second
//!     kb-bench search [--chunks N] [--queries N]
//!                                          search latency (query embedding included) on an
//!                                          index of N synthetic chunks

use std::io::{BufRead as _, Write as _};
use std::time::Instant;

use anyhow::Context as _;
use kb_cli::alloc;
use kb_shared::domain::{CrawlConfig, KbConfig, KbId, PageStatus, RenderMode, SourceId, SourceSpec};
use kb_shared::pipeline::kb::{create, CreateKb, SourceInput};
use kb_shared::pipeline::worker;
use kb_shared::ports::{normalize, QueueName, TextKind};
use kb_shared::settings::Settings;
use kb_shared::wiring::{embedded_catalog, embedded_context, embedder, Roles};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn settings(args: &[String]) -> anyhow::Result<Settings> {
    let mut s = Settings::from_env()?;
    if let Some(dir) = arg(args, "--data-dir") {
        s.data_dir = dir.into();
    }
    Ok(s)
}

async fn embed(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let file = args.get(1).context("kb-bench embed FILE.jsonl")?;
    let texts: Vec<String> = std::io::BufReader::new(std::fs::File::open(file)?)
        .lines()
        .map(|l| Ok(serde_json::from_str::<serde_json::Value>(&l?)?["text"].as_str().unwrap_or_default().to_owned()))
        .collect::<anyhow::Result<_>>()?;
    let settings = settings(args)?;
    let model = embedder(&settings)?;
    model.embed(&texts[..texts.len().min(8)], TextKind::Document).await?;
    let started = Instant::now();
    let vectors = model.embed(&texts, TextKind::Document).await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(vectors.len() == texts.len());
    Ok(json!({"chunks": texts.len(), "seconds": seconds, "chunks_per_s": texts.len() as f64 / seconds}))
}

async fn export(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let kb: KbId = arg(args, "--kb").context("--kb ID")?.parse()?;
    let file = args.last().context("output file")?;
    let catalog = embedded_catalog(&settings(args)?).await?;
    let kb_row = catalog.get_kb(kb).await?.context("no such KB")?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    let mut n = 0;
    for page in catalog.list_pages(kb).await? {
        for c in catalog.page_chunks(kb, page.id).await? {
            writeln!(out, "{}", json!({"text": c.chunk.embedding_text(kb_row.config.embedding.contextual_headers)}))?;
            n += 1;
        }
    }
    Ok(json!({"chunks": n, "file": file}))
}

async fn crawl(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let url = args.get(1).context("kb-bench crawl URL")?.clone();
    let max_pages: u32 = arg(args, "--max-pages").map_or(Ok(100), |v| v.parse())?;
    let ctx = embedded_context(settings(args)?, Roles { chunker: false, embedder: false }).await?;
    let render: RenderMode = serde_json::from_value(json!(arg(args, "--render").unwrap_or_else(|| "http".into())))
        .context("--render http|browser|auto")?;
    let crawl = CrawlConfig { max_pages, max_depth: 5, render, ..Default::default() };
    let request = CreateKb {
        workspace_id: "bench".into(),
        name: "crawl bench".into(),
        description: None,
        created_by: "bench".into(),
        config: KbConfig::default(),
        sources: vec![SourceInput { id: SourceId::random(), spec: SourceSpec::Web { url, crawl } }],
    };
    let started = Instant::now();
    let kb = create(&ctx, request).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let concurrency = worker::Concurrency::from_settings(&ctx);
    let crawler = tokio::spawn(worker::run_queue(ctx.clone(), QueueName::Crawl, concurrency.crawl, stop_rx));
    loop {
        let stats = ctx.catalog.stats(kb.id).await?;
        if stats.pages_queued == 0 && ctx.queue.depth(QueueName::Crawl).await?.is_idle() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop_tx.send(true)?;
    crawler.await?;
    ctx.renderer.shutdown().await;
    let pages = ctx.catalog.list_pages(kb.id).await?;
    let fetched = pages.iter().filter(|p| p.status == PageStatus::Fetched).count();
    Ok(json!({"pages": fetched, "seconds": seconds, "pages_per_s": fetched as f64 / seconds}))
}

fn main() -> anyhow::Result<()> {
    alloc::tune();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        match args.first().map(String::as_str) {
            Some("embed") => embed(&args).await,
            Some("export") => export(&args).await,
            Some("crawl") => crawl(&args).await,
            Some("search") => search_latency(&args).await,
            _ => anyhow::bail!(
                "usage: kb-bench embed FILE.jsonl | export --kb ID FILE.jsonl | crawl URL [--render MODE] | search [--chunks N] [--queries N]"
            ),
        }
    })?;
    println!("{result}");
    Ok(())
}

/// A small deterministic generator (xorshift64*): the synthetic index is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Roughly normal noise (sum of uniforms).
    fn noise(&mut self) -> f32 {
        (0..4).map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32).sum::<f32>() - 2.0
    }
}

/// Words of the synthetic texts: real words (so BM25 and the tokenizer see real tokens).
const WORDS: &str = "index query vector search chunk page crawl embed model token server client request \
response cache queue worker storage bucket table column row schema backup restore replica cluster node \
network latency throughput memory disk file format parser config option default limit timeout retry error \
status health metric log trace span user account role policy access secret key certificate domain route \
header cookie session upload download stream batch job task schedule trigger event message topic \
partition offset commit rollback transaction lock deadlock isolation snapshot version migration deploy \
release build test coverage benchmark profile optimise compress encrypt decrypt hash sign verify";

fn synthetic_text(rng: &mut Rng, words: &[&str], n: usize) -> String {
    (0..n).map(|_| words[rng.below(words.len())]).collect::<Vec<_>>().join(" ")
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted_ms.len() as f64).ceil() as usize;
    sorted_ms[rank.clamp(1, sorted_ms.len()) - 1]
}

/// Search latency on an index of `--chunks` synthetic chunks (default 100,000) in the
/// embedded default index: `--queries` questions (default 1,000) per mode, each timed from
/// the query text to the results (query embedding included). Chunk vectors are real
/// embeddings of a few thousand synthetic texts with noise added, so the index has the
/// clustered shape of real data without embedding 100k chunks first.
async fn search_latency(args: &[String]) -> anyhow::Result<serde_json::Value> {
    use kb_shared::domain::{ChunkId, KbStatus, KnowledgeBase, PageId, PipelineId, SearchMode};
    use kb_shared::pipeline::search::{search, SearchRequest};
    use kb_shared::ports::{ChunkPayload, IndexPoint};

    let chunks: usize = arg(args, "--chunks").map_or(Ok(100_000), |v| v.parse())?;
    let queries: usize = arg(args, "--queries").map_or(Ok(1_000), |v| v.parse())?;
    let ctx = embedded_context(settings(args)?, Roles { chunker: false, embedder: true }).await?;
    let model = ctx.embedder.clone().context("no embedding model")?;
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    let started = Instant::now();
    let bases: Vec<String> = (0..2_000).map(|_| synthetic_text(&mut rng, &words, 40)).collect();
    let base_vectors = model.embed(&bases, TextKind::Document).await?;
    let kb = KbId::random();
    let source = SourceId::random();
    for batch_start in (0..chunks).step_by(2_000) {
        let mut points = Vec::with_capacity(2_000);
        for i in batch_start..(batch_start + 2_000).min(chunks) {
            let base = &base_vectors[rng.below(base_vectors.len())];
            let mut v: Vec<f32> = base.iter().map(|x| x + 0.03 * rng.noise()).collect();
            normalize(&mut v);
            let text = synthetic_text(&mut rng, &words, 120);
            let url = format!("https://docs.example.com/page/{}", i / 20);
            let page_id = PageId::derive(kb, &url);
            let id = ChunkId::derive(page_id, (i % 20) as u32, &text);
            let payload = ChunkPayload {
                kb_id: kb,
                source_id: source,
                page_id,
                url,
                title: Some(format!("Page {}", i / 20)),
                heading_path: vec![format!("Section {}", i % 20)],
                anchor: None,
                text: text.clone(),
                index: (i % 20) as u32,
                start: 0,
                end: text.len() as u32,
                token_count: 0,
            };
            points.push(IndexPoint { id, vector: v, keyword_text: text, payload });
        }
        ctx.index.upsert(kb, model.dimension(), points).await?;
    }
    ctx.index.finish_kb(kb).await?;
    let build_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(ctx.index.count(kb).await? == chunks as u64, "the index holds every chunk");

    let questions: Vec<String> = (0..queries)
        .map(|_| {
            let n = 4 + rng.below(8);
            synthetic_text(&mut rng, &words, n)
        })
        .collect();
    // Searched as the product searches (`pipeline::search`): the query embedded, the index
    // asked, results grouped by page unless the run says otherwise.
    let now = kb_shared::domain::now();
    let mut config = KbConfig::default();
    config.embedding.model = model.model_id().to_owned();
    let kb_row = KnowledgeBase {
        id: kb,
        workspace_id: "bench".into(),
        name: "bench".into(),
        description: None,
        status: KbStatus::Ready,
        config,
        pipeline_id: PipelineId::random(),
        created_by: "bench".into(),
        created_at: now,
        updated_at: now,
        finished_at: Some(now),
    };
    let request = |q: &str, mode, group| SearchRequest {
        query: q.to_owned(),
        top_k: 10,
        score_threshold: None,
        mode: Some(mode),
        filter: Default::default(),
        group_by_page: Some(group),
    };
    let mut report = serde_json::Map::new();
    let runs = [
        ("dense", SearchMode::Dense, true),
        ("sparse", SearchMode::Sparse, true),
        ("hybrid", SearchMode::Hybrid, true),
        ("dense_ungrouped", SearchMode::Dense, false),
    ];
    for (name, mode, group) in runs {
        // Warm-up: first calls fault in pages and fill caches.
        for q in questions.iter().take(20) {
            search(&ctx, &kb_row, &request(q, mode, group)).await?;
        }
        let mut ms = Vec::with_capacity(queries);
        for q in &questions {
            let t = Instant::now();
            let hits = search(&ctx, &kb_row, &request(q, mode, group)).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(hits.len() == 10, "a query found {} results, not 10", hits.len());
            if group {
                let pages: std::collections::HashSet<_> = hits.iter().map(|h| h.page_id).collect();
                anyhow::ensure!(pages.len() == hits.len(), "grouped results repeat a page");
            }
        }
        ms.sort_by(f64::total_cmp);
        report.insert(
            name.to_owned(),
            json!({"p50_ms": percentile(&ms, 50.0), "p99_ms": percentile(&ms, 99.0), "mean_ms": ms.iter().sum::<f64>() / ms.len() as f64}),
        );
    }
    Ok(json!({"chunks": chunks, "queries": queries, "build_s": build_s, "modes": report}))
}

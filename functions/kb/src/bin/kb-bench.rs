//! Benchmark helpers (see scripts/bench.sh): measure one stage at a time.
//!
//!     kb-bench embed FILE.jsonl            embedding throughput over {"text": ...} lines
//!     kb-bench export --kb ID FILE.jsonl   write a KB's chunk texts (as embedded) to FILE
//!     kb-bench crawl URL [--max-pages N] [--render http|browser|auto]
//!                                          crawl + extract only, pages per second

use std::io::{BufRead as _, Write as _};
use std::time::Instant;

use anyhow::Context as _;
use kb_cli::alloc;
use kb_shared::domain::{CrawlConfig, KbConfig, KbId, PageStatus, RenderMode, SourceId, SourceSpec};
use kb_shared::pipeline::kb::{create, CreateKb, SourceInput};
use kb_shared::pipeline::worker;
use kb_shared::ports::{QueueName, TextKind};
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
            _ => anyhow::bail!("usage: kb-bench embed FILE.jsonl | export --kb ID FILE.jsonl | crawl URL [--render MODE]"),
        }
    })?;
    println!("{result}");
    Ok(())
}

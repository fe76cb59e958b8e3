//! `kb ingest`: check the start URLs, create the knowledge base, run every stage in this
//! process until the KB is final, and report.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kb_shared::adapters::http_fetcher::HttpFetcher;
use kb_shared::crawl::urls::parse_start_url;
use kb_shared::domain::{CrawlConfig, KbConfig, KbStatus, RenderMode, SizeUnit, SourceId, SourceSpec};
use kb_shared::pipeline::kb::{create, CreateError, CreateKb, SourceInput};
use kb_shared::pipeline::worker::{self, Concurrency};
use kb_shared::pipeline::{progress, Context};
use kb_shared::ports::{FetchRequest, PageFetcher, QueueName};
use kb_shared::wiring::{embedded_context, Roles};
use serde_json::json;

use super::{parse_mode, print_json, settings, usage};
use crate::cli::{ChunkingArgs, IngestArgs};

/// How long every queue may stay idle, with the KB still processing, before the run is
/// declared stalled.
const STALL: Duration = Duration::from_secs(10);

pub async fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let crawl = CrawlConfig {
        max_pages: args.max_pages,
        max_depth: args.max_depth,
        include_patterns: args.include.clone(),
        exclude_patterns: args.exclude.clone(),
        render: serde_json::from_value(serde_json::Value::String(args.render.clone()))
            .map_err(|e| usage(format!("--render: {e}")))?,
        ..CrawlConfig::default()
    };
    crawl.validate().map_err(|e| usage(format!("--{}: {}", e.field.replace('_', "-"), e.message)))?;
    let mut starts = Vec::new();
    for raw in &args.urls {
        starts.push(parse_start_url(raw, &[]).map_err(|e| usage(e.to_string()))?);
    }
    let config = kb_config(&args.chunking)?;
    let settings = settings(&args.data)?;
    check_start_urls(&settings.user_agent, settings.fetch_timeout, settings.max_page_bytes, &starts).await?;

    let ctx = embedded_context(settings, Roles::ALL).await?;
    let name = args.name.clone().unwrap_or_else(|| starts[0].host_str().unwrap_or("knowledge base").to_owned());
    let request = CreateKb {
        workspace_id: "local".into(),
        name,
        description: None,
        created_by: "local".into(),
        config,
        sources: starts
            .iter()
            .map(|u| SourceInput { id: SourceId::random(), spec: SourceSpec::Web { url: u.to_string(), crawl: crawl.clone() } })
            .collect(),
    };
    let kb = create(&ctx, request).await.map_err(|e| match e {
        CreateError::Invalid(v) => usage(v.to_string()),
        CreateError::Store(s) => anyhow::Error::new(s),
    })?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(worker::run(ctx.clone(), Concurrency::from_settings(&ctx), stop_rx));
    let outcome = wait(&ctx, kb.id, args.data.json).await;
    let _ = stop_tx.send(true);
    let _ = workers.await;
    ctx.renderer.shutdown().await;
    let status = outcome?;

    let kb = ctx.catalog.get_kb(kb.id).await?.expect("the KB exists");
    let pipeline = progress::compute(&ctx, &kb).await?;
    let vectors = ctx.index.count(kb.id).await?;
    let s = pipeline.stats;
    let report = json!({
        "kb_id": kb.id,
        "name": kb.name,
        "status": status.as_str(),
        "stats": {
            "pages_discovered": s.pages_discovered,
            "pages_scraped": s.pages_scraped,
            "pages_failed": s.pages_failed,
            "pages_skipped": s.pages_skipped,
            "chunks_created": s.chunks_created,
            "embeddings_generated": s.embeddings_generated,
            "vectors_indexed": vectors,
        },
        "failed_pages": pipeline.failed_pages,
        "duration_ms": started.elapsed().as_millis() as u64,
    });
    if args.data.json {
        print_json(&report);
    } else {
        println!(
            "Knowledge base {} is {}: {} pages indexed, {} failed, {} skipped; {} chunks, {} vectors in {:.1}s",
            kb.id,
            status.as_str(),
            s.pages_scraped,
            s.pages_failed,
            s.pages_skipped,
            s.chunks_created,
            vectors,
            started.elapsed().as_secs_f64()
        );
        for f in &pipeline.failed_pages {
            println!("  failed: {} ({})", f.url, f.reason);
        }
        println!("Search it with: kb search --kb {} \"your question\"", kb.id);
    }
    drop(ctx);
    Ok(if status == KbStatus::Failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The knowledge base's configuration: the defaults with the command line's choices.
fn kb_config(args: &ChunkingArgs) -> anyhow::Result<KbConfig> {
    let mut config = KbConfig::default();
    let c = &mut config.chunking;
    if let Some(s) = &args.strategy {
        c.strategy = serde_json::from_value(json!(s)).map_err(|_| usage(format!("--strategy: unknown strategy {s:?}")))?;
    }
    if let Some(u) = &args.size_unit {
        c.size_unit = serde_json::from_value(json!(u)).map_err(|_| usage(format!("--size-unit: unknown unit {u:?}")))?;
        if c.size_unit == SizeUnit::Tokens && args.chunk_size.is_none() {
            // 500 characters of English are about 125 tokens.
            (c.chunk_size, c.chunk_overlap) = (125, 25);
        }
    }
    c.chunk_size = args.chunk_size.unwrap_or(c.chunk_size);
    c.chunk_overlap = args.chunk_overlap.unwrap_or(if args.chunk_size.is_some() && c.chunk_overlap >= c.chunk_size {
        c.chunk_size / 5
    } else {
        c.chunk_overlap
    });
    if let Some(h) = args.contextual_headers {
        config.embedding.contextual_headers = h;
    }
    if let Some(w) = args.neighbor_weight {
        config.embedding.neighbor_weight = w;
    }
    if let Some(mode) = args.search_mode.as_deref() {
        config.vector_store.default_search_mode = parse_mode(mode);
    }
    if let Some(group) = args.group_by_page {
        config.vector_store.group_by_page = group;
    }
    config.validate().map_err(|e| usage(format!("--{}: {}", e.field.replace('_', "-"), e.message)))?;
    Ok(config)
}

/// Refuses start URLs that cannot be crawled at all, before anything is created.
async fn check_start_urls(user_agent: &str, timeout: Duration, max_bytes: u64, urls: &[url::Url]) -> anyhow::Result<()> {
    // The local CLI may crawl the user's own network (docs on localhost).
    let fetcher = HttpFetcher::new(user_agent, kb_shared::crawl::ssrf::NetworkPolicy::new(true))?;
    for url in urls {
        let request = FetchRequest { url: url.clone(), render: RenderMode::Http, timeout, max_bytes };
        let page = fetcher.fetch(&request).await.map_err(|e| anyhow::anyhow!("cannot fetch {url}: {e}"))?;
        if !(200..300).contains(&page.status) {
            anyhow::bail!("{url} answered HTTP {}", page.status);
        }
        if !page.is_html() {
            anyhow::bail!(
                "{url} is not an HTML page (Content-Type: {}); kb ingest starts from a web page",
                page.content_type.as_deref().unwrap_or("none")
            );
        }
    }
    Ok(())
}

fn bar(multi: &MultiProgress, label: &str) -> ProgressBar {
    let bar = multi.add(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
            .expect("progress template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    bar
}

/// Shows progress until the KB is final; returns its final status.
async fn wait(ctx: &Context, kb: kb_shared::domain::KbId, quiet: bool) -> anyhow::Result<KbStatus> {
    let multi = if quiet { MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden()) } else { MultiProgress::new() };
    let pages = bar(&multi, "pages");
    let chunks = bar(&multi, "chunks");
    let vectors = bar(&multi, "vectors");
    let mut idle_since: Option<Instant> = None;
    loop {
        let stats = ctx.catalog.stats(kb).await?;
        pages.set_length(stats.pages_total());
        pages.set_position(stats.pages_total() - stats.pages_queued);
        pages.set_message(format!("{} failed, {} skipped", stats.pages_failed, stats.pages_skipped));
        chunks.set_length(stats.pages_total());
        chunks.set_position(stats.pages_chunked + stats.pages_indexed + stats.pages_failed + stats.pages_skipped);
        chunks.set_message(format!("{} chunks", stats.chunks));
        vectors.set_length(stats.chunks);
        vectors.set_position(stats.chunks_embedded);
        let status = ctx.catalog.get_kb(kb).await?.map(|k| k.status).unwrap_or(KbStatus::Failed);
        if status.is_final() {
            for b in [&pages, &chunks, &vectors] {
                b.finish();
            }
            return Ok(status);
        }
        let mut idle = true;
        for q in QueueName::ALL {
            idle &= ctx.queue.depth(q).await?.is_idle();
        }
        if idle {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() > STALL {
                progress::after_work(ctx, kb).await?;
                if !ctx.catalog.get_kb(kb).await?.is_some_and(|k| k.status.is_final()) {
                    anyhow::bail!("the pipeline stalled: no work is queued but {} pages are unfinished", stats.pages_outstanding());
                }
            }
        } else {
            idle_since = None;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

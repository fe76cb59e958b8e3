//! crawl-page: fetch one page, keep its main content as markdown in the blob store, admit
//! the in-scope links it has into the frontier and enqueue them, then hand the page to the
//! chunk stage.
//!
//! Idempotent: a page already past `queued` is not fetched again; a repeated message only
//! re-expands the page's stored links (which is also how a page reached later by a shorter
//! path passes its new depth on) and re-sends the page's chunk message.

use bytes::Bytes;
use url::Url;

use crate::adapters::http_fetcher::decode_body;
use crate::crawl::extract::{extract, Extracted};
use crate::crawl::shell::is_js_shell;
use crate::crawl::scope::Scope;
use crate::crawl::urls::{canonicalize, looks_like_non_html, parse_start_url};
use crate::domain::{
    content_hash, page_key, page_markdown_key, render_document, CrawlConfig, DocumentMeta, KbId, NewPage, Page, PageStatus,
    PageUpdate, RenderMode, SourceId, SourceSpec,
};
use crate::error::StageError;
use crate::messages::{ChunkMsg, CrawlMsg, QueueMessage};
use crate::ports::{FetchError, FetchRequest, FetchedPage, QueueName};

use super::duplicates::{exact_duplicate_of, near_duplicate_of};
use super::politeness::Gate;
use super::Context;

/// The web source a crawl message belongs to.
pub(crate) struct WebSource {
    pub id: SourceId,
    pub crawl: CrawlConfig,
    pub scope: Scope,
}

pub(crate) async fn web_source(ctx: &Context, kb: KbId, source: SourceId) -> Result<Option<WebSource>, StageError> {
    let sources = ctx.catalog.list_sources(kb).await?;
    let Some(found) = sources.into_iter().find(|s| s.id == source) else { return Ok(None) };
    let SourceSpec::Web { url, crawl } = found.spec else { return Ok(None) };
    let start = parse_start_url(&url, &crawl.strip_query_params)
        .map_err(|e| StageError::permanent(format!("source start URL: {e}")))?;
    let scope = Scope::new(&start, &crawl).map_err(|e| StageError::permanent(e.to_string()))?;
    Ok(Some(WebSource { id: found.id, crawl, scope }))
}

/// Handles one crawl message; `redelivered` when an earlier delivery of it was not
/// acknowledged (that attempt may have stopped half-way).
///
/// # Errors
/// Transient failures (network, stores) to be retried; permanent ones to be recorded on
/// the page.
pub async fn handle(ctx: &Context, msg: &CrawlMsg, redelivered: bool) -> Result<(), StageError> {
    let Some(kb) = ctx.catalog.get_kb(msg.kb_id).await? else { return Ok(()) };
    if kb.status.is_final() {
        return Ok(());
    }
    let Some(page) = ctx.catalog.get_page_by_url(kb.id, &msg.url).await? else { return Ok(()) };
    let Some(source) = web_source(ctx, kb.id, msg.source_id).await? else {
        return Err(StageError::permanent("the page's web source no longer exists"));
    };
    match page.status {
        PageStatus::Queued => fetch_page(ctx, &source, &page, redelivered).await,
        PageStatus::Fetched => {
            expand(ctx, &source, &page, &page.links, redelivered).await?;
            send_chunk(ctx, &page).await
        }
        _ => expand(ctx, &source, &page, &page.links, redelivered).await,
    }
}

async fn send_chunk(ctx: &Context, page: &Page) -> Result<(), StageError> {
    ctx.queue.send(QueueName::Chunk, ChunkMsg::new(page.kb_id, page.id).encode()).await?;
    Ok(())
}

/// Records the page as final with a reason (`failed` or `skipped`), from any non-final state.
pub(crate) async fn finish_page(ctx: &Context, page: &Page, status: PageStatus, reason: String) -> Result<(), StageError> {
    let update = PageUpdate { reason: Some(reason), ..Default::default() };
    ctx.catalog
        .transition_page(page.kb_id, page.id, &[PageStatus::Queued, PageStatus::Fetched, PageStatus::Chunked], status, &update)
        .await?;
    Ok(())
}

async fn fetch_page(ctx: &Context, source: &WebSource, page: &Page, redelivered: bool) -> Result<(), StageError> {
    let url = Url::parse(&page.url).map_err(|e| StageError::permanent(format!("invalid page URL: {e}")))?;
    let seeds_from_sitemaps = page.depth == 0 && source.crawl.use_sitemap && source.crawl.max_depth > 0;
    let robots = if source.crawl.respect_robots_txt || seeds_from_sitemaps {
        super::discovery::robots(ctx, &url).await?
    } else {
        crate::crawl::robots::Robots::allow_all()
    };
    if source.crawl.respect_robots_txt && !robots.allowed(url.as_str()) {
        return finish_page(ctx, page, PageStatus::Skipped, "robots: disallowed by robots.txt".to_owned()).await;
    }
    let request = FetchRequest {
        url: url.clone(),
        render: source.crawl.render,
        timeout: ctx.settings.fetch_timeout,
        max_bytes: ctx.settings.max_page_bytes,
    };
    // Politeness: wait for the host (shared by every worker), or come back later.
    let interval = super::politeness::min_interval(&source.crawl, &robots);
    let slot = match super::politeness::enter(ctx, &url, &source.crawl, interval).await? {
        Gate::Go(slot) => slot,
        Gate::Later(delay) => {
            let again = CrawlMsg::new(page.kb_id, source.id, page.url.clone(), page.depth).encode();
            ctx.queue.send_delayed(QueueName::Crawl, again, delay).await?;
            return Ok(());
        }
    };
    let fetched = match source.crawl.render {
        RenderMode::Browser => ctx.renderer.render(&request).await,
        RenderMode::Http | RenderMode::Auto => ctx.fetcher.fetch(&request).await,
    };
    super::politeness::leave(ctx, slot).await;
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) => return fetch_failed(ctx, page, &e).await,
    };
    let (final_url, extracted) = match load(ctx, source, page, fetched).await? {
        Loaded::Done => return Ok(()),
        // An empty JavaScript shell: its content is what the browser makes of it. Without a
        // browser in this process the HTTP result stands.
        Loaded::Html { js_shell: true, final_url, extracted } if source.crawl.render == RenderMode::Auto => {
            match ctx.renderer.render(&request).await {
                Ok(rendered) => match load(ctx, source, page, rendered).await? {
                    Loaded::Done => return Ok(()),
                    Loaded::Html { final_url, extracted, .. } => (final_url, extracted),
                },
                Err(FetchError::BrowserUnavailable(reason)) => {
                    tracing::debug!(url = %page.url, %reason, "a JavaScript shell kept as fetched over HTTP");
                    (final_url, extracted)
                }
                Err(e) => return fetch_failed(ctx, page, &e).await,
            }
        }
        Loaded::Html { final_url, extracted, .. } => (final_url, extracted),
    };
    if extracted.text_chars == 0 {
        return finish_page(ctx, page, PageStatus::Skipped, "no_content: the page has no text".to_owned()).await;
    }

    // A page that names another URL as its canonical form is that page: crawl the canonical
    // URL (at this depth) instead of indexing the same content twice.
    if let Some(canonical) = extracted.canonical.clone() {
        if let Ok(c) = canonicalize(canonical, &source.crawl.strip_query_params) {
            let elsewhere = page_key(c.as_str()) != page_key(&page.url) && page_key(c.as_str()) != page_key(final_url.as_str());
            if elsewhere && source.scope.check(&c).is_ok() && !looks_like_non_html(&c) {
                admit(ctx, source, page, &[c.as_str().to_owned()], page.depth, redelivered).await?;
                return finish_page(ctx, page, PageStatus::Skipped, format!("duplicate of {c} (rel=canonical)")).await;
            }
        }
    }

    let mut links: Vec<String> = extracted
        .links
        .iter()
        .filter(|u| source.scope.check(u).is_ok() && !looks_like_non_html(u))
        .map(|u| u.as_str().to_owned())
        .collect();
    // The start page also carries the in-scope URLs of the site's sitemaps, as extra seeds
    // one level down (stored with its links, so a redelivery re-admits them too).
    if seeds_from_sitemaps {
        for listed in super::discovery::sitemap_pages(ctx, &url, &robots).await {
            let Ok(u) = canonicalize(listed, &source.crawl.strip_query_params) else { continue };
            if source.scope.check(&u).is_ok() && !looks_like_non_html(&u) && page_key(u.as_str()) != page_key(&page.url) {
                let u = u.as_str().to_owned();
                if !links.contains(&u) {
                    links.push(u);
                }
            }
        }
    }
    // Children first: the page must not look finished before its links are admitted.
    expand(ctx, source, page, &links, redelivered).await?;

    // Kept, unless the same main content is already kept under another URL (mirrors, print
    // views, session-less aliases): then recorded as a duplicate, not chunked again.
    let meta = DocumentMeta { url: final_url.to_string(), title: extracted.title.clone(), anchors: extracted.anchors };
    keep(ctx, page, &meta, &extracted.markdown, links).await
}

/// A fetch that failed: retried when a later attempt may succeed, else recorded on the page.
async fn fetch_failed(ctx: &Context, page: &Page, e: &FetchError) -> Result<(), StageError> {
    if e.is_transient() {
        return Err(StageError::transient(format!("{}: {e}", e.code())));
    }
    finish_page(ctx, page, PageStatus::Failed, format!("{}: {e}", e.code())).await
}

/// What a fetched (or rendered) response turned into.
enum Loaded {
    /// The page got its outcome already (an HTTP error, out of scope, not HTML, a PDF kept).
    Done,
    Html { final_url: Url, extracted: Extracted, js_shell: bool },
}

/// Checks a response (status, final URL in scope, type) and extracts its HTML.
async fn load(ctx: &Context, source: &WebSource, page: &Page, fetched: FetchedPage) -> Result<Loaded, StageError> {
    match fetched.status {
        200..=299 => {}
        429 | 500..=599 => {
            return Err(StageError::Transient {
                message: format!("http_{}", fetched.status),
                retry_after: fetched.retry_after,
            });
        }
        status => return finish_page(ctx, page, PageStatus::Failed, format!("http_{status}")).await.map(|()| Loaded::Done),
    }
    let final_url = canonicalize(fetched.final_url.clone(), &source.crawl.strip_query_params)
        .map_err(|e| StageError::permanent(e.to_string()))?;
    if final_url.as_str() != page.url && source.scope.check(&final_url).is_err() {
        let reason = format!("out_of_scope: redirected to {final_url}");
        return finish_page(ctx, page, PageStatus::Skipped, reason).await.map(|()| Loaded::Done);
    }
    if !fetched.is_html() {
        #[cfg(feature = "files")]
        if is_pdf(&fetched) {
            return keep_pdf(ctx, page, &final_url, fetched.body.clone()).await.map(|()| Loaded::Done);
        }
        let ct = fetched.content_type.clone().unwrap_or_else(|| "unknown".to_owned());
        return finish_page(ctx, page, PageStatus::Skipped, format!("unsupported_type: {ct}")).await.map(|()| Loaded::Done);
    }
    let html = decode_body(&fetched.body, fetched.content_type.as_deref());
    let strip = source.crawl.strip_query_params.clone();
    let base = final_url.clone();
    let rendered = fetched.rendered;
    let (extracted, js_shell) = tokio::task::spawn_blocking(move || {
        let extracted = extract(&html, &base, &strip);
        let js_shell = !rendered && is_js_shell(&html, extracted.text_chars, extracted.scripts);
        (extracted, js_shell)
    })
    .await
    .map_err(|e| StageError::transient(format!("extraction task: {e}")))?;
    Ok(Loaded::Html { final_url, extracted, js_shell })
}

/// Stores a fetched page's document and hands it to chunking, unless the same content is
/// already kept under another URL.
async fn keep(ctx: &Context, page: &Page, meta: &DocumentMeta, markdown: &str, links: Vec<String>) -> Result<(), StageError> {
    // The first page to claim a content hash keeps it (an atomic set-if-absent in the KV
    // store, so concurrent workers agree); the catalog covers claims that have expired.
    // Then the same for nearly the same text (a simhash within 3 bits).
    let hash = content_hash(markdown);
    if let Some(original) = exact_duplicate_of(ctx, page, &hash).await? {
        return finish_page(ctx, page, PageStatus::Skipped, format!("duplicate of {}", original.url)).await;
    }
    if let Some(reason) = near_duplicate_of(ctx, page, markdown).await? {
        return finish_page(ctx, page, PageStatus::Skipped, reason).await;
    }
    let document = render_document(meta, markdown);
    ctx.blobs
        .put(&page_markdown_key(page.kb_id, page.id), Bytes::from(document), "text/markdown; charset=utf-8")
        .await?;
    let update = PageUpdate { title: meta.title.clone(), content_hash: Some(hash), links: Some(links), ..Default::default() };
    if ctx.catalog.transition_page(page.kb_id, page.id, &[PageStatus::Queued], PageStatus::Fetched, &update).await? {
        send_chunk(ctx, page).await?;
    }
    Ok(())
}

/// A PDF linked from the site (by its content type or its bytes).
#[cfg(feature = "files")]
fn is_pdf(fetched: &crate::ports::FetchedPage) -> bool {
    fetched.content_type.as_deref().is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/pdf"))
        || fetched.body.starts_with(b"%PDF-")
}

/// A PDF page: its text through the file extractor, then kept like an HTML page.
#[cfg(feature = "files")]
async fn keep_pdf(ctx: &Context, page: &Page, final_url: &Url, body: Bytes) -> Result<(), StageError> {
    let name = final_url.path_segments().and_then(|mut s| s.next_back()).filter(|n| !n.is_empty()).unwrap_or("document.pdf");
    let name = if name.to_ascii_lowercase().ends_with(".pdf") { name.to_owned() } else { format!("{name}.pdf") };
    let limits = crate::files::FileLimits { max_bytes: ctx.settings.max_page_bytes, ..Default::default() };
    let file = name.clone();
    let converted = tokio::task::spawn_blocking(move || crate::files::to_markdown(&body, &file, limits))
        .await
        .map_err(|e| StageError::transient(format!("PDF extraction task: {e}")))?;
    let markdown = match converted {
        Ok((_, markdown)) => markdown,
        Err(e) => return finish_page(ctx, page, PageStatus::Failed, format!("unreadable_file: {e}")).await,
    };
    let meta = DocumentMeta { url: final_url.to_string(), title: Some(name), anchors: Vec::new() };
    keep(ctx, page, &meta, &markdown, Vec::new()).await
}

/// Admits `links` (found on `page`) one level deeper and enqueues those that need a crawl:
/// newly admitted pages, and known pages whose depth just got smaller. When `redelivered`,
/// linked pages still queued are enqueued again too, in case the earlier attempt stopped
/// between admitting and sending.
async fn expand(ctx: &Context, source: &WebSource, page: &Page, links: &[String], redelivered: bool) -> Result<(), StageError> {
    admit(ctx, source, page, links, page.depth + 1, redelivered).await
}

/// Admits `links` (found through `page`) at `depth` and enqueues those that need a crawl.
async fn admit(
    ctx: &Context,
    source: &WebSource,
    page: &Page,
    links: &[String],
    depth: u32,
    redelivered: bool,
) -> Result<(), StageError> {
    if depth > source.crawl.max_depth || links.is_empty() {
        return Ok(());
    }
    let candidates: Vec<NewPage> =
        links.iter().map(|l| NewPage::new(page.kb_id, source.id, l.clone(), depth)).collect();
    let admission = ctx.catalog.admit_pages(page.kb_id, source.id, source.crawl.max_pages, &candidates).await?;
    let mut to_send: Vec<(String, u32)> = admission
        .admitted
        .iter()
        .chain(&admission.deepened)
        .map(|p| (p.url.clone(), p.depth))
        .collect();
    if redelivered {
        let ids: Vec<_> = candidates.iter().map(|c| c.id).collect();
        let queued = ctx.catalog.queued_among(page.kb_id, &ids).await?;
        for c in candidates.iter().filter(|c| queued.contains(&c.id)) {
            if !to_send.iter().any(|(u, _)| u == &c.url) {
                to_send.push((c.url.clone(), c.depth));
            }
        }
    }
    if !to_send.is_empty() {
        let bodies =
            to_send.into_iter().map(|(url, d)| CrawlMsg::new(page.kb_id, source.id, url, d).encode()).collect();
        ctx.queue.send_batch(QueueName::Crawl, bodies).await?;
    }
    Ok(())
}

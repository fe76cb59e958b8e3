//! robots.txt and sitemaps of a web source, fetched through the page fetcher (so under the
//! same SSRF policy) and, for robots.txt, cached in the key-value store so that every
//! worker of a deployment reads one copy per origin.

use std::collections::HashSet;
use std::time::Duration;

use url::Url;

use crate::crawl::robots::Robots;
use crate::crawl::sitemap;
use crate::domain::RenderMode;
use crate::error::StageError;
use crate::ports::FetchRequest;

use super::Context;

/// How long a robots.txt is trusted.
const ROBOTS_TTL: Duration = Duration::from_secs(3600);
/// Largest robots.txt read (RFC 9309 asks for at least 500 KiB).
const MAX_ROBOTS_BYTES: u64 = 512 * 1024;
/// Sitemap documents read per source at most (indexes included).
const MAX_SITEMAPS: usize = 50;
/// Page URLs taken from sitemaps per source at most.
const MAX_SITEMAP_URLS: usize = 50_000;
/// Largest sitemap document read (the protocol's limit).
const MAX_SITEMAP_BYTES: u64 = 50 * 1024 * 1024;

fn request(ctx: &Context, url: Url, max_bytes: u64) -> FetchRequest {
    FetchRequest { url, render: RenderMode::Http, timeout: ctx.settings.fetch_timeout.min(Duration::from_secs(15)), max_bytes }
}

/// The robots.txt rules of `url`'s origin. A server error or an unreachable robots.txt is
/// a transient failure (RFC 9309: do not crawl until it can be read).
///
/// # Errors
/// Transient: robots.txt could not be read now.
pub async fn robots(ctx: &Context, url: &Url) -> Result<Robots, StageError> {
    let origin = url.origin().ascii_serialization();
    let key = format!("robots:{origin}");
    if let Some(raw) = ctx.kv.get(&key).await? {
        if raw.len() >= 2 {
            let status = u16::from_be_bytes([raw[0], raw[1]]);
            return Ok(Robots::from_response(&ctx.settings.user_agent, status, &raw[2..]));
        }
    }
    let Ok(robots_url) = Url::parse(&format!("{origin}/robots.txt")) else { return Ok(Robots::allow_all()) };
    let (status, body) = match ctx.fetcher.fetch(&request(ctx, robots_url, MAX_ROBOTS_BYTES)).await {
        Ok(page) if page.status == 429 || page.status >= 500 => {
            return Err(StageError::Transient { message: format!("robots_unavailable: http_{}", page.status), retry_after: page.retry_after });
        }
        Ok(page) => (page.status, page.body.to_vec()),
        Err(e) if e.is_transient() => return Err(StageError::transient(format!("robots_unavailable: {e}"))),
        // Refused or unusable (blocked address, too large, redirect loop): no rules.
        Err(_) => (404, Vec::new()),
    };
    let mut raw = status.to_be_bytes().to_vec();
    raw.extend_from_slice(&body);
    ctx.kv.set(&key, raw, Some(ROBOTS_TTL)).await?;
    Ok(Robots::from_response(&ctx.settings.user_agent, status, &body))
}

/// Page URLs listed by the sitemaps of `start`'s origin: those of robots.txt `Sitemap:`
/// lines and `/sitemap.xml`, following sitemap indexes. Unreadable sitemaps are skipped.
pub async fn sitemap_pages(ctx: &Context, start: &Url, robots: &Robots) -> Vec<Url> {
    let mut pending: Vec<Url> = robots.sitemaps().iter().filter_map(|s| Url::parse(s.trim()).ok()).collect();
    if let Ok(default) = start.join("/sitemap.xml") {
        pending.push(default);
    }
    let mut seen = HashSet::new();
    let mut pages = Vec::new();
    let mut read = 0;
    while let Some(url) = pending.pop() {
        if read >= MAX_SITEMAPS || pages.len() >= MAX_SITEMAP_URLS {
            break;
        }
        if !matches!(url.scheme(), "http" | "https") || !seen.insert(url.as_str().to_owned()) {
            continue;
        }
        read += 1;
        let page = match ctx.fetcher.fetch(&request(ctx, url.clone(), MAX_SITEMAP_BYTES)).await {
            Ok(p) if (200..300).contains(&p.status) => p,
            Ok(p) => {
                tracing::debug!(sitemap = %url, status = p.status, "sitemap not available");
                continue;
            }
            Err(e) => {
                tracing::debug!(sitemap = %url, error = %e, "sitemap not fetched");
                continue;
            }
        };
        let body = page.body.clone();
        let Ok(content) = tokio::task::spawn_blocking(move || sitemap::parse(&body)).await else { continue };
        pages.extend(content.pages.into_iter().take(MAX_SITEMAP_URLS.saturating_sub(pages.len())));
        pending.extend(content.sitemaps);
    }
    pages
}

//! The crawler against a fixture site: robots.txt honoured (disallowed URLs never
//! requested), sitemaps (an index, a nested sitemap, an orphan page only they list) used as
//! extra seeds inside the scope, `<link rel="canonical">`, duplicate and near-duplicate
//! content, redirect chains and loops, tracking parameters, 503 then 200, 429 with
//! Retry-After, a page slower than the timeout, an oversize page, a binary file, a chain of
//! links deeper than `max_depth`; trailing slashes, per-host politeness and subdomains.

mod common;

use std::time::Duration;

use kb_e2e::{FixtureServer, Response, Site};
use kb_shared::domain::{CrawlConfig, KbStatus, PageStatus};

fn page(title: &str, links: &[&str]) -> Response {
    let links: String = links.iter().map(|l| format!("<li><a href=\"{l}\">{l}</a></li>")).collect();
    let text = format!("{title} explains one part of the product in enough words to be worth indexing. ").repeat(8);
    Response::html(format!(
        "<html><head><title>{title}</title></head><body><main><h1>{title}</h1><p>{text}</p><ul>{links}</ul></main></body></html>"
    ))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn site() -> FixtureServer {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut site = Site::default();
    site.page(
        "/robots.txt",
        Response::new(200, "text/plain", format!("User-agent: *\nDisallow: /docs/secret/\n\nSitemap: {base}/sitemap_index.xml\n").into_bytes()),
    );
    site.page(
        "/docs/",
        page(
            "Start",
            &[
                "/docs/a", "/docs/secret/x", "/docs/copy", "/docs/alias", "/docs/report.pdf", "/docs/blob", "/docs/broken.pdf",
                "/docs/chain1", "/docs/loop1", "/docs/a?utm_source=news&fbclid=x", "/docs/track?utm_medium=mail&id=3",
                "/docs/flaky", "/docs/limited", "/docs/slow", "/docs/huge", "/docs/d1", "/docs/v1", "/docs/v2",
            ],
        ),
    );
    // A redirect chain ends on a page (indexed under the URL linked); a loop fails.
    site.page("/docs/chain1", Response::redirect(301, "/docs/chain2"));
    site.page("/docs/chain2", Response::redirect(302, "/docs/chain3"));
    site.page("/docs/chain3", page("Chain end", &[]));
    site.page("/docs/loop1", Response::redirect(302, "/docs/loop2"));
    site.page("/docs/loop2", Response::redirect(302, "/docs/loop1"));
    site.page("/docs/track", page("Tracked", &[]));
    // Transient answers, then the page.
    site.sequence("/docs/flaky", vec![Response::new(503, "text/html", b"busy".to_vec()), page("Flaky", &[])]);
    site.sequence(
        "/docs/limited",
        vec![Response::new(429, "text/html", b"slow down".to_vec()).header("retry-after", "1"), page("Limited", &[])],
    );
    site.page("/docs/slow", page("Slow", &[]).delayed(SLOW));
    site.page("/docs/huge", Response::html(format!("<html><body><p>{}</p></body></html>", "big ".repeat(MAX_PAGE_BYTES))));
    // A chain of links: d3 is one level deeper than max_depth.
    site.page("/docs/d1", page("Deep one", &["/docs/d2"]));
    site.page("/docs/d2", page("Deep two", &["/docs/d3"]));
    site.page("/docs/d3", page("Deep three", &[]));
    // The same page but for a date and a counter.
    let body = prose(7);
    site.page("/docs/v1", templated("Upgrades", &format!("<p>Last updated 2024-05-01, read 1234 times.</p><p>{body}</p>")));
    site.page("/docs/v2", templated("Upgrades", &format!("<p>Last updated 2025-11-17, read 98211 times.</p><p>{body}</p>")));
    // A PDF linked from the site goes through the file extractor; other types are skipped.
    let pdf = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tests/fixtures/files/report.pdf")).unwrap();
    site.page("/docs/report.pdf", Response::new(200, "application/pdf", pdf));
    site.page("/docs/blob", Response::new(200, "application/octet-stream", vec![0u8; 64]));
    site.page("/docs/broken.pdf", Response::new(200, "application/pdf", b"%PDF-1.7 this is not a PDF".to_vec()));
    site.page("/docs/a", page("Alpha", &["/docs/"]));
    // The same page under another URL, and a page whose canonical form is an unlinked URL.
    site.page("/docs/copy", page("Alpha", &["/docs/"]));
    site.page(
        "/docs/alias",
        Response::html(format!(
            "<html><head><title>Alias</title><link rel=\"canonical\" href=\"{base}/docs/target?utm_source=x\"></head>\
             <body><main><h1>Target</h1><p>{}</p></main></body></html>",
            "The target page is the real home of this text. ".repeat(10)
        )),
    );
    site.page("/docs/target", page("Target", &[]));
    site.page("/docs/secret/x", page("Secret", &[]));
    site.page("/docs/orphan", page("Orphan", &[]));
    site.page(
        "/sitemap_index.xml",
        Response::new(200, "application/xml", format!(
            "<?xml version=\"1.0\"?><sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
             <sitemap><loc>{base}/sitemaps/docs.xml</loc></sitemap></sitemapindex>"
        ).into_bytes()),
    );
    site.page(
        "/sitemaps/docs.xml",
        Response::new(200, "application/xml", format!(
            "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
             <url><loc>{base}/docs/orphan</loc></url><url><loc>{base}/docs/a</loc></url>\
             <url><loc>{base}/blog/out-of-scope</loc></url><url><loc>http://other.invalid/docs/x</loc></url>\
             <url><loc>{base}/docs/secret/y</loc></url></urlset>"
        ).into_bytes()),
    );
    site.page("/blog/out-of-scope", page("Blog", &[]));
    FixtureServer::start_on(site, port).await
}

/// The fetch timeout of [`strict_context`], and a page slower than it.
const TIMEOUT: Duration = Duration::from_secs(1);
const SLOW: Duration = Duration::from_secs(3);
/// The largest page body of [`strict_context`].
const MAX_PAGE_BYTES: usize = 100_000;

/// A context with a short fetch timeout, a small page-size limit and three deliveries per
/// message, so that failing pages fail fast.
async fn strict_context(dir: &std::path::Path) -> kb_shared::pipeline::Context {
    let mut settings = common::settings(dir);
    settings.fetch_timeout = TIMEOUT;
    settings.max_page_bytes = MAX_PAGE_BYTES as u64;
    settings.max_receives = 3;
    kb_shared::wiring::embedded_context(settings, kb_shared::wiring::Roles::ALL).await.unwrap()
}

fn crawl(robots: bool, sitemap: bool) -> CrawlConfig {
    CrawlConfig {
        max_pages: 50,
        max_depth: 2,
        include_patterns: vec!["/docs/**".into()],
        respect_robots_txt: robots,
        use_sitemap: sitemap,
        ..Default::default()
    }
}

/// Asserts the exact outcome of every page of the fixture site: those listed in `expected`
/// as (path, status, reason), and the pairs of copies (one indexed, the other skipped as its
/// duplicate, whichever came first).
fn assert_outcomes(server: &FixtureServer, pages: &[(String, PageStatus, Option<String>)], expected: &[(&str, PageStatus, Option<String>)]) {
    let find = |path: &str| pages.iter().find(|p| p.0 == path).unwrap_or_else(|| panic!("no page {path}: {pages:?}"));
    let mut checked = 0;
    for (first, second) in [("/docs/a", "/docs/copy"), ("/docs/v1", "/docs/v2")] {
        let (x, y) = (find(first), find(second));
        let (kept, dup) = if x.1 == PageStatus::Indexed { (x, y) } else { (y, x) };
        assert_eq!(kept.1, PageStatus::Indexed, "{pages:?}");
        assert_eq!((dup.1, dup.2.clone()), (PageStatus::Skipped, Some(format!("duplicate of {}", server.url(&kept.0)))));
        checked += 2;
    }
    for (path, status, reason) in expected {
        let page = find(path);
        assert_eq!((page.1, page.2.as_deref()), (*status, reason.as_deref()), "{path}");
        checked += 1;
    }
    assert_eq!(checked, pages.len(), "every page is accounted for: {pages:?}");
}

/// The outcome of every page but the pairs of copies; `robots` when robots.txt and
/// sitemaps are on.
fn expected(server: &FixtureServer, robots: bool) -> Vec<(&'static str, PageStatus, Option<String>)> {
    let ok = |path| (path, PageStatus::Indexed, None);
    let mut pages = vec![
        ok("/docs/"),
        ok("/docs/target"),
        ok("/docs/report.pdf"),
        ok("/docs/chain1"),
        ok("/docs/track?id=3"),
        ok("/docs/flaky"),
        ok("/docs/limited"),
        ok("/docs/d1"),
        ok("/docs/d2"),
        (
            "/docs/alias",
            PageStatus::Skipped,
            Some(format!("duplicate of {} (rel=canonical)", server.url("/docs/target"))),
        ),
        ("/docs/blob", PageStatus::Skipped, Some("unsupported_type: application/octet-stream".into())),
        (
            "/docs/broken.pdf",
            PageStatus::Failed,
            Some("unreadable_file: the file cannot be read: PDF: PDF error: couldn't parse input: invalid file header".into()),
        ),
        ("/docs/loop1", PageStatus::Failed, Some(format!("redirect_loop: redirect loop at {}", server.url("/docs/loop1")))),
        ("/docs/slow", PageStatus::Failed, Some(format!("timeout: timeout after {TIMEOUT:?}"))),
        ("/docs/huge", PageStatus::Failed, Some(format!("too_large: body larger than {MAX_PAGE_BYTES} bytes"))),
    ];
    if robots {
        let disallowed = || Some("robots: disallowed by robots.txt".to_owned());
        pages.extend([
            ("/docs/secret/x", PageStatus::Skipped, disallowed()),
            ("/docs/secret/y", PageStatus::Skipped, disallowed()),
            ok("/docs/orphan"),
        ]);
    } else {
        pages.push(ok("/docs/secret/x"));
    }
    pages
}

/// What every crawl of the fixture site shows in the server's log, robots or not.
fn assert_requests(server: &FixtureServer) {
    assert_eq!(server.hits("/docs/chain2") + server.hits("/docs/chain3"), 2, "the chain is followed once");
    assert_eq!(server.hits("/docs/flaky"), 2, "503, then 200");
    assert_eq!(server.hits("/docs/limited"), 2, "429, then 200");
    let limited: Vec<Duration> =
        server.timed_requests().into_iter().filter(|(p, _)| p == "/docs/limited").map(|(_, t)| t).collect();
    assert!(limited[1] - limited[0] >= Duration::from_secs(1), "Retry-After: 1 honoured: {limited:?}");
    assert_eq!(server.hits("/docs/slow"), 3, "a timeout is retried until the last delivery");
    assert_eq!(server.hits("/docs/huge"), 1, "too large is final");
    assert_eq!(server.hits("/docs/d3"), 0, "deeper than max_depth: never requested");
    assert!(server.requests().iter().all(|p| !p.contains("utm_") && !p.contains("fbclid")), "tracking parameters are dropped");
    assert_eq!(server.hits("/docs/a") + server.hits("/docs/a?utm_source=news&fbclid=x"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn robots_are_honoured_and_sitemaps_seed_the_crawl() {
    let server = site().await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = strict_context(dir.path()).await;
    let kb = common::create_web_kb(&ctx, &server.url("/docs/"), crawl(true, true)).await;
    let status = common::run_until_final(&ctx, kb, Duration::from_secs(120)).await;
    assert_eq!(status, KbStatus::ReadyWithWarnings, "some pages failed; the rest is ready");
    let pages = common::outcomes(&ctx, kb).await;
    assert_outcomes(&server, &pages, &expected(&server, true));
    assert_requests(&server);
    assert_eq!(server.hits("/docs/secret/x") + server.hits("/docs/secret/y"), 0, "disallowed URLs are never requested");
    // The linked PDF's text is searchable, cited by its URL.
    let kb_row = ctx.catalog.get_kb(kb).await.unwrap().unwrap();
    let request = kb_shared::pipeline::search::SearchRequest {
        query: "How many pallets of lavender soap did the warehouse ship?".into(),
        top_k: 1,
        score_threshold: None,
        mode: None,
        filter: Default::default(),
        group_by_page: None,
    };
    let hits = kb_shared::pipeline::search::search(&ctx, &kb_row, &request).await.unwrap();
    assert_eq!(hits[0].url, server.url("/docs/report.pdf"), "{hits:?}");
    assert_eq!(hits[0].title.as_deref(), Some("report.pdf"));
    assert_eq!(server.hits("/blog/out-of-scope"), 0, "sitemap URLs outside the scope are not crawled");
    assert_eq!(server.hits("/robots.txt"), 1, "robots.txt is read once and cached");
    assert_eq!(server.hits("/sitemaps/docs.xml"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn robots_and_sitemaps_can_be_turned_off() {
    let server = site().await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = strict_context(dir.path()).await;
    let kb = common::create_web_kb(&ctx, &server.url("/docs/"), crawl(false, false)).await;
    assert_eq!(common::run_until_final(&ctx, kb, Duration::from_secs(120)).await, KbStatus::ReadyWithWarnings);
    let pages = common::outcomes(&ctx, kb).await;
    assert_outcomes(&server, &pages, &expected(&server, false));
    assert_requests(&server);
    assert_eq!(server.hits("/robots.txt") + server.hits("/sitemap_index.xml") + server.hits("/sitemap.xml"), 0);
}

/// `/x` and `/x/` are one page: linked both ways, fetched once and indexed once, whether the
/// server answers both spellings with the same page or redirects one to the other.
#[tokio::test(flavor = "multi_thread")]
async fn trailing_slash_spellings_are_one_page() {
    let mut site = Site::default();
    site.page("/docs/", page("Start", &["/docs/guide", "/docs/guide/", "/docs/moved", "/docs/other/"]));
    site.page("/docs/guide", page("Guide", &["/docs/guide/", "/docs/moved/"]));
    site.page("/docs/guide/", page("Guide", &["/docs/guide/", "/docs/moved/"]));
    site.page("/docs/moved", Response::redirect(301, "/docs/moved/"));
    site.page("/docs/moved/", page("Moved", &["/docs/moved", "/docs/other"]));
    site.page("/docs/other/", page("Other", &["/docs/"]));
    let server = FixtureServer::start(site).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = common::context(dir.path()).await;
    let kb = common::create_web_kb(&ctx, &server.url("/docs/"), crawl(false, false)).await;
    assert_eq!(common::run_until_final(&ctx, kb, Duration::from_secs(60)).await, KbStatus::Ready);
    let pages = common::outcomes(&ctx, kb).await;
    let paths: Vec<&str> = pages.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(paths, ["/docs/", "/docs/guide", "/docs/moved", "/docs/other/"], "the first spelling found is kept: {pages:?}");
    assert!(pages.iter().all(|p| p.1 == PageStatus::Indexed), "{pages:?}");
    assert_eq!(server.hits("/docs/guide") + server.hits("/docs/guide/"), 1, "{:?}", server.requests());
    assert_eq!((server.hits("/docs/moved"), server.hits("/docs/moved/")), (1, 1), "one redirect hop, once");
    assert_eq!(server.hits("/docs/other") + server.hits("/docs/other/"), 1);
}

/// About 300 words of documentation prose (the same for the same seed).
fn prose(seed: u64) -> String {
    const WORDS: &[&str] = &[
        "the", "server", "stores", "each", "backup", "in", "a", "bucket", "and", "rotates", "keys", "every", "night",
        "when", "replica", "falls", "behind", "primary", "it", "replays", "log", "from", "archive", "before",
        "accepting", "queries", "again", "so", "operators", "should", "watch", "lag", "metric", "closely", "upgrade",
        "cluster", "node", "restart", "schema", "migration", "rollback", "plan", "tested", "staging",
    ];
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut sentences = Vec::new();
    for _ in 0..30 {
        let words: Vec<&str> = (0..10)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                WORDS[(x % WORDS.len() as u64) as usize]
            })
            .collect();
        sentences.push(format!("{}.", words.join(" ")));
    }
    sentences.join(" ")
}

/// A page on the site's template (navigation, footer) with `main` as its content.
fn templated(title: &str, main: &str) -> Response {
    Response::html(format!(
        "<html><head><title>{title}</title></head><body><nav><a href=\"/docs/\">Home</a></nav>\
         <main><h1>{title}</h1>{main}</main><footer>Copyright Example Inc. All rights reserved.</footer></body></html>"
    ))
}

/// A page that differs from another only by a date and a counter is skipped as its
/// duplicate; pages on the same template with other text are all indexed.
#[tokio::test(flavor = "multi_thread")]
async fn near_duplicates_are_skipped_and_similar_pages_are_not() {
    let mut site = Site::default();
    site.page("/docs/", page("Start", &["/docs/v1", "/docs/v2", "/docs/s1", "/docs/s2", "/docs/s3"]));
    let body = prose(7);
    site.page("/docs/v1", templated("Upgrades", &format!("<p>Last updated 2024-05-01, read 1234 times.</p><p>{body}</p>")));
    site.page("/docs/v2", templated("Upgrades", &format!("<p>Last updated 2025-11-17, read 98211 times.</p><p>{body}</p>")));
    for (path, seed) in [("/docs/s1", 8), ("/docs/s2", 9), ("/docs/s3", 10)] {
        site.page(path, templated("Upgrades", &format!("<p>Last updated 2024-05-01, read 1234 times.</p><p>{}</p>", prose(seed))));
    }
    let server = FixtureServer::start(site).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = common::context(dir.path()).await;
    let kb = common::create_web_kb(&ctx, &server.url("/docs/"), crawl(false, false)).await;
    let status = common::run_until_final(&ctx, kb, Duration::from_secs(60)).await;
    let pages = common::outcomes(&ctx, kb).await;
    assert_eq!(status, KbStatus::Ready, "{pages:?}");
    let find = |path: &str| pages.iter().find(|p| p.0 == path).unwrap();
    let (v1, v2) = (find("/docs/v1"), find("/docs/v2"));
    let (kept, dup) = if v1.1 == PageStatus::Indexed { (v1, v2) } else { (v2, v1) };
    assert_eq!(kept.1, PageStatus::Indexed, "{pages:?}");
    assert_eq!((dup.1, dup.2.clone()), (PageStatus::Skipped, Some(format!("duplicate of {}", server.url(&kept.0)))));
    for path in ["/docs/", "/docs/s1", "/docs/s2", "/docs/s3"] {
        assert_eq!(find(path).1, PageStatus::Indexed, "{path}: {pages:?}");
    }
}

/// Politeness shared by the workers: a host whose robots.txt asks for `Crawl-delay: 1` gets
/// its page requests at least a second apart; a source limited to one request in flight
/// per host never has two, and is crawled at its own (full) speed meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn crawl_delay_and_per_host_concurrency_are_honoured() {
    let mut slow = Site::default();
    slow.page("/robots.txt", Response::new(200, "text/plain", b"User-agent: *\nCrawl-delay: 1\n".to_vec()));
    slow.page("/docs/", page("Start", &["/docs/a", "/docs/b", "/docs/c"]));
    for p in ["a", "b", "c"] {
        slow.page(&format!("/docs/{p}"), page(&format!("Slow {p}"), &[]));
    }
    let mut busy = Site::default();
    let children: Vec<String> = (0..7).map(|i| format!("/docs/p{i}")).collect();
    busy.page("/docs/", page("Busy", &children.iter().map(String::as_str).collect::<Vec<_>>()).delayed(Duration::from_millis(150)));
    for (i, path) in children.iter().enumerate() {
        busy.page(path, page(&format!("Busy {i}"), &[]).delayed(Duration::from_millis(150)));
    }
    let (slow, busy) = (FixtureServer::start(slow).await, FixtureServer::start(busy).await);
    let dir = tempfile::tempdir().unwrap();
    let ctx = common::context(dir.path()).await;
    let one_at_a_time = CrawlConfig { max_concurrency_per_host: 1, ..crawl(false, false) };
    let a = common::create_web_kb(&ctx, &slow.url("/docs/"), crawl(true, false)).await;
    let b = common::create_web_kb(&ctx, &busy.url("/docs/"), one_at_a_time).await;
    let statuses = common::run_until_all_final(&ctx, &[a, b], Duration::from_secs(60)).await;
    assert_eq!(statuses, [KbStatus::Ready, KbStatus::Ready]);

    let times = |server: &FixtureServer| -> Vec<Duration> {
        server.timed_requests().into_iter().filter(|(p, _)| p.starts_with("/docs/")).map(|(_, t)| t).collect()
    };
    let slow_times = times(&slow);
    assert_eq!(slow_times.len(), 4, "{:?}", slow.timed_requests());
    for pair in slow_times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(950), "Crawl-delay: 1 between requests: {slow_times:?}");
    }
    let busy_times = times(&busy);
    assert_eq!(busy_times.len(), 8);
    assert_eq!(busy.max_in_flight(), 1, "one request in flight at most");
    let span = |t: &[Duration]| t[t.len() - 1] - t[0];
    assert!(span(&busy_times) < Duration::from_millis(2500), "the other host is not slowed down: {busy_times:?}");
    assert!(span(&slow_times) >= Duration::from_millis(2850));
}

/// `include_subdomains`: off, only the start host is crawled; on, its subdomains too (and
/// never a look-alike host). The names resolve to the fixture server through the fetcher's
/// host list.
#[tokio::test(flavor = "multi_thread")]
async fn subdomains_are_crawled_only_when_included() {
    let port = free_port();
    let at = |host: &str, path: &str| format!("http://{host}:{port}{path}");
    let mut site = Site::default();
    let (sub, apex_page, lookalike) =
        (at("docs.example.test", "/docs/sub"), at("example.test", "/docs/apex"), at("badexample.test", "/docs/lookalike"));
    site.page("/docs/", page("Start", &[&sub, &apex_page, &lookalike]));
    for path in ["/docs/sub", "/docs/apex", "/docs/lookalike"] {
        site.page(path, page(path, &[]));
    }
    let server = FixtureServer::start_on(site, port).await;
    let hosts: std::collections::HashMap<String, Vec<std::net::IpAddr>> = ["example.test", "docs.example.test", "badexample.test"]
        .map(|h| (h.to_owned(), vec![std::net::IpAddr::from([127, 0, 0, 1])]))
        .into_iter()
        .collect();
    for include_subdomains in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = common::context(dir.path()).await;
        let policy = kb_shared::crawl::ssrf::NetworkPolicy::new(true);
        let fetcher = kb_shared::adapters::http_fetcher::HttpFetcher::with_hosts(&ctx.settings.user_agent, policy, hosts.clone());
        ctx.fetcher = std::sync::Arc::new(fetcher.unwrap());
        let config = CrawlConfig { include_subdomains, ..crawl(false, false) };
        let kb = common::create_web_kb(&ctx, &at("example.test", "/docs/"), config).await;
        assert_eq!(common::run_until_final(&ctx, kb, Duration::from_secs(60)).await, KbStatus::Ready);
        let mut urls: Vec<String> = ctx.catalog.list_pages(kb).await.unwrap().into_iter().map(|p| p.url).collect();
        urls.sort();
        let mut want = vec![at("example.test", "/docs/"), apex_page.clone()];
        if include_subdomains {
            want.push(sub.clone());
        }
        want.sort();
        assert_eq!(urls, want, "include_subdomains: {include_subdomains}");
    }
    assert_eq!(server.hits("/docs/sub"), 1, "fetched by the second crawl only");
    assert_eq!(server.hits("/docs/lookalike"), 0);
}

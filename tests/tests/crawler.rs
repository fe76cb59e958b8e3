//! The crawler against a fixture site: robots.txt honoured (disallowed URLs never
//! requested), sitemaps (an index, a nested sitemap, an orphan page only they list) used as
//! extra seeds inside the scope, `<link rel="canonical">` and duplicate content.

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
        page("Start", &["/docs/a", "/docs/secret/x", "/docs/copy", "/docs/alias", "/docs/report.pdf", "/docs/blob", "/docs/broken.pdf"]),
    );
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

/// (path, status, reason) of every page of the KB, sorted.
async fn outcomes(ctx: &kb_shared::pipeline::Context, kb: kb_shared::domain::KbId) -> Vec<(String, PageStatus, Option<String>)> {
    let mut pages: Vec<_> = ctx
        .catalog
        .list_pages(kb)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (common::path_of(&p.url), p.status, p.reason))
        .collect();
    pages.sort_by(|a, b| a.0.cmp(&b.0));
    pages
}

/// Pages whose outcome `assert_duplicates` checks (all others are indexed or robots-skipped).
const SPECIAL: &[&str] = &["/docs/a", "/docs/copy", "/docs/alias", "/docs/blob", "/docs/broken.pdf"];

/// One of the two copies is indexed and the other skipped as its duplicate; the alias is
/// skipped for its canonical URL, which is crawled (without its tracking parameter).
fn assert_duplicates(server: &FixtureServer, pages: &[(String, PageStatus, Option<String>)]) {
    let find = |path: &str| pages.iter().find(|p| p.0 == path).unwrap();
    let (a, copy) = (find("/docs/a"), find("/docs/copy"));
    let (kept, dup) = if a.1 == PageStatus::Indexed { (a, copy) } else { (copy, a) };
    assert_eq!(kept.1, PageStatus::Indexed, "{pages:?}");
    assert_eq!(dup.1, PageStatus::Skipped, "{pages:?}");
    assert_eq!(dup.2.as_deref(), Some(format!("duplicate of {}", server.url(&kept.0)).as_str()));
    let alias = find("/docs/alias");
    assert_eq!(alias.1, PageStatus::Skipped);
    assert_eq!(alias.2.as_deref(), Some(format!("duplicate of {} (rel=canonical)", server.url("/docs/target")).as_str()));
    assert_eq!(find("/docs/target").1, PageStatus::Indexed);
    assert_eq!(find("/docs/report.pdf").1, PageStatus::Indexed, "{pages:?}");
    let blob = find("/docs/blob");
    assert_eq!((blob.1, blob.2.as_deref()), (PageStatus::Skipped, Some("unsupported_type: application/octet-stream")));
    let broken = find("/docs/broken.pdf");
    assert_eq!(broken.1, PageStatus::Failed);
    assert!(broken.2.as_deref().unwrap().starts_with("unreadable_file"), "{:?}", broken.2);
}

#[tokio::test(flavor = "multi_thread")]
async fn robots_are_honoured_and_sitemaps_seed_the_crawl() {
    let server = site().await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = common::context(dir.path()).await;
    let kb = common::create_web_kb(&ctx, &server.url("/docs/"), crawl(true, true)).await;
    let status = common::run_until_final(&ctx, kb, Duration::from_secs(120)).await;
    assert_eq!(status, KbStatus::ReadyWithWarnings, "the broken PDF failed; the rest is ready");
    let pages = outcomes(&ctx, kb).await;
    let paths: Vec<&str> = pages.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/docs/", "/docs/a", "/docs/alias", "/docs/blob", "/docs/broken.pdf", "/docs/copy", "/docs/orphan",
            "/docs/report.pdf", "/docs/secret/x", "/docs/secret/y", "/docs/target"
        ],
        "{pages:?}"
    );
    assert_duplicates(&server, &pages);
    for (path, status, reason) in pages.iter().filter(|p| !SPECIAL.contains(&p.0.as_str())) {
        if path.starts_with("/docs/secret/") {
            assert_eq!(*status, PageStatus::Skipped, "{path}");
            assert!(reason.as_deref().unwrap().starts_with("robots"), "{reason:?}");
        } else {
            assert_eq!(*status, PageStatus::Indexed, "{path}: {reason:?}");
        }
    }
    assert_eq!(server.hits("/docs/secret/x") + server.hits("/docs/secret/y"), 0, "disallowed URLs are never requested");
    // The linked PDF's text is searchable, cited by its URL.
    let kb_row = ctx.catalog.get_kb(kb).await.unwrap().unwrap();
    let request = kb_shared::pipeline::search::SearchRequest {
        query: "How many pallets of lavender soap did the warehouse ship?".into(),
        top_k: 1,
        score_threshold: None,
        mode: None,
        filter: Default::default(),
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
    let ctx = common::context(dir.path()).await;
    let kb = common::create_web_kb(&ctx, &server.url("/docs/"), crawl(false, false)).await;
    assert_eq!(common::run_until_final(&ctx, kb, Duration::from_secs(120)).await, KbStatus::ReadyWithWarnings);
    let pages = outcomes(&ctx, kb).await;
    let paths: Vec<&str> = pages.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        paths,
        ["/docs/", "/docs/a", "/docs/alias", "/docs/blob", "/docs/broken.pdf", "/docs/copy", "/docs/report.pdf", "/docs/secret/x", "/docs/target"],
        "{pages:?}"
    );
    assert_duplicates(&server, &pages);
    assert!(pages.iter().filter(|p| !SPECIAL.contains(&p.0.as_str())).all(|p| p.1 == PageStatus::Indexed), "{pages:?}");
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
    let pages = outcomes(&ctx, kb).await;
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
    let pages = outcomes(&ctx, kb).await;
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

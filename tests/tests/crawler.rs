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
    let pages = common::outcomes(&ctx, kb).await;
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
    let pages = common::outcomes(&ctx, kb).await;
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

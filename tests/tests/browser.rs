//! JavaScript pages through headless Chromium (the real one from Debian's `chromium`
//! package; these tests fail, not skip, without it): the outcome of a script-built page
//! under each `render` mode, static pages never sent to the browser under `auto`, a browser
//! killed mid-crawl replaced, the network policy inside the browser, no Chromium process
//! left behind, and a remote browser (`KB_BROWSER_WS_URL`): used, left running, and given up
//! on in time when it never answers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use kb_e2e::{assert_no_processes, processes_with, FixtureServer, Response, Site};
use kb_shared::adapters::browser::{BrowserOptions, BrowserSource, ChromiumRenderer, CONNECT_TIMEOUT};
use kb_shared::adapters::no_browser::NoBrowser;
use kb_shared::crawl::ssrf::NetworkPolicy;
use kb_shared::domain::{CrawlConfig, KbId, KbStatus, PageStatus, RenderMode};
use kb_shared::pipeline::Context;
use kb_shared::ports::{FetchError, FetchRequest, PageRenderer};

/// Words only the script of `/app/` puts on the page (from a JSON endpoint).
const JS_TEXT: &str = "The aurora lighthouse keeper logs seventeen comet sightings every winter night.";

/// A single-page application shell: an empty root that a script fills from `/api/content.json`,
/// with a link to a static page that exists only in the script-made DOM.
fn app_shell() -> Response {
    Response::html(
        "<!doctype html><html><head><title>Aurora app</title></head><body>\
         <noscript>You need to enable JavaScript to run this app.</noscript><div id=\"root\"></div>\
         <script>fetch('/api/content.json').then((r) => r.json()).then((d) => {\
           document.getElementById('root').innerHTML = '<main><h1>' + d.title + '</h1><p>' + d.body + '</p>' +\
             '<a href=\"/app/static\">Static page</a></main>';\
         });</script></body></html>",
    )
}

/// A server-rendered page with a tracker script: plenty of text, no application root.
fn static_page(title: &str) -> Response {
    let text = format!("{title} is a plain page whose text arrives in the HTML itself, no script needed. ").repeat(6);
    Response::html(format!(
        "<html><head><title>{title}</title></head><body><main><h1>{title}</h1><p>{text}</p></main>\
         <script>window.tracked = true;</script></body></html>"
    ))
}

fn app_site() -> Site {
    let mut site = Site::default();
    site.page("/app/", app_shell());
    let body = serde_json::json!({"title": "Aurora keeper", "body": JS_TEXT.repeat(4)}).to_string();
    // The data arrives long after the shell's DOM has gone quiet, as a real API's does: the
    // render must wait for the script's request, not only for a quiet DOM.
    site.page("/api/content.json", Response::new(200, "application/json", body.into_bytes()).delayed(Duration::from_millis(500)));
    site.page("/app/static", static_page("Static"));
    site
}

fn crawl(render: RenderMode) -> CrawlConfig {
    CrawlConfig {
        max_pages: 20,
        max_depth: 2,
        include_patterns: vec!["/app/**".into()],
        respect_robots_txt: false,
        use_sitemap: false,
        render,
        ..Default::default()
    }
}

fn chromium() -> std::path::PathBuf {
    let settings = kb_shared::settings::Settings::from_env().unwrap();
    settings.chromium_path.expect("Chromium is required for these tests: apt-get install chromium (scripts/setup.sh)")
}

fn renderer(tabs: usize, restart_pages: u32, policy: NetworkPolicy) -> Arc<ChromiumRenderer> {
    Arc::new(ChromiumRenderer::new(options(BrowserSource::Launch(chromium()), tabs, restart_pages, policy)))
}

fn options(source: BrowserSource, tabs: usize, restart_pages: u32, policy: NetworkPolicy) -> BrowserOptions {
    BrowserOptions {
        source,
        tabs,
        restart_pages,
        user_agent: "kb-crawler/test".into(),
        policy,
        connect_timeout: CONNECT_TIMEOUT,
    }
}

async fn context_with(dir: &std::path::Path, renderer: Arc<dyn PageRenderer>) -> Context {
    let mut ctx = common::context(dir).await;
    ctx.renderer = renderer;
    ctx
}

/// Serves `site`, crawls it from `/app/` with `render` on a fresh context rendering with
/// `browser`, and returns the final status with what the rest of the test needs.
async fn crawl_site(site: Site, browser: Arc<dyn PageRenderer>, render: RenderMode) -> Crawled {
    let server = FixtureServer::start(site).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = context_with(dir.path(), browser).await;
    let kb = common::create_web_kb(&ctx, &server.url("/app/"), crawl(render)).await;
    let status = common::run_until_final(&ctx, kb, Duration::from_secs(120)).await;
    Crawled { server, _dir: dir, ctx, kb, status }
}

/// Bind `_dir` first: it is dropped last, after the context that uses it.
struct Crawled {
    _dir: tempfile::TempDir,
    server: FixtureServer,
    ctx: Context,
    kb: KbId,
    status: KbStatus,
}

async fn page_text(ctx: &Context, kb: KbId, path: &str) -> String {
    let page = ctx.catalog.list_pages(kb).await.unwrap().into_iter().find(|p| common::path_of(&p.url) == path).unwrap();
    ctx.catalog.page_chunks(kb, page.id).await.unwrap().into_iter().map(|c| c.chunk.text).collect::<Vec<_>>().join("\n")
}

/// The crawl ended Ready; if not, the failure names each page's outcome and error.
async fn assert_ready(ctx: &Context, kb: KbId, status: KbStatus) {
    assert_eq!(status, KbStatus::Ready, "the pages: {:?}", common::outcomes(ctx, kb).await);
}

/// Both pages of the app site indexed, the shell with its script-made text: the static page
/// is found through the link the script made.
async fn assert_app_indexed(ctx: &Context, kb: KbId) {
    assert_eq!(common::outcomes(ctx, kb).await, [
        ("/app/".into(), PageStatus::Indexed, None),
        ("/app/static".into(), PageStatus::Indexed, None)
    ]);
    assert!(page_text(ctx, kb, "/app/").await.contains(JS_TEXT), "the script-made text is indexed");
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_renders_the_shell_and_leaves_static_pages_to_http() {
    let browser = renderer(4, 200, NetworkPolicy::new(true));
    let Crawled { _dir, server, ctx, kb, status } = crawl_site(app_site(), browser.clone(), RenderMode::Auto).await;
    assert_ready(&ctx, kb, status).await;
    assert_app_indexed(&ctx, kb).await;
    assert_eq!(server.hits("/app/"), 2, "the shell: once over HTTP, once in the browser");
    assert_eq!(server.hits("/api/content.json"), 1, "its data: by the browser only");
    assert_eq!(server.hits("/app/static"), 1, "a static page is not sent to the browser");
    assert_eq!(browser.launches(), 1);
    assert!(!processes_with(browser.marker()).is_empty(), "the browser stays up for the next pages");
    ctx.renderer.shutdown().await;
    assert_no_processes(browser.marker()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_mode_renders_every_page_and_http_mode_none() {
    let browser = renderer(2, 200, NetworkPolicy::new(true));
    let Crawled { _dir, server, ctx, kb, status } = crawl_site(app_site(), browser.clone(), RenderMode::Browser).await;
    assert_ready(&ctx, kb, status).await;
    assert_app_indexed(&ctx, kb).await;
    assert_eq!((server.hits("/app/"), server.hits("/app/static")), (1, 1), "browser only, no HTTP fetch first");

    // The same site over HTTP only: the shell has no text and its link does not exist.
    let kb = common::create_web_kb(&ctx, &server.url("/app/"), crawl(RenderMode::Http)).await;
    assert_eq!(common::run_until_final(&ctx, kb, Duration::from_secs(60)).await, KbStatus::Failed);
    assert_eq!(common::outcomes(&ctx, kb).await, [(
        "/app/".into(),
        PageStatus::Skipped,
        Some("no_content: the page has no text".into())
    )]);
    assert_eq!(server.hits("/api/content.json"), 1, "no script ran for the HTTP crawl");
    drop(ctx);
    let marker = browser.marker().to_owned();
    drop(browser);
    assert_no_processes(&marker).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_browser_auto_keeps_http_and_browser_fails_with_the_reason() {
    let Crawled { _dir, server, ctx, kb, status: _ } =
        crawl_site(app_site(), Arc::new(NoBrowser("no Chromium found".into())), RenderMode::Auto).await;
    assert_eq!(common::outcomes(&ctx, kb).await, [(
        "/app/".into(),
        PageStatus::Skipped,
        Some("no_content: the page has no text".into())
    )]);
    let kb = common::create_web_kb(&ctx, &server.url("/app/"), crawl(RenderMode::Browser)).await;
    assert_eq!(common::run_until_final(&ctx, kb, Duration::from_secs(60)).await, KbStatus::Failed);
    assert_eq!(common::outcomes(&ctx, kb).await, [(
        "/app/".into(),
        PageStatus::Failed,
        Some("browser_unavailable: no Chromium found".into())
    )]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_browser_is_replaced_and_the_crawl_completes() {
    const PAGES: usize = 12;
    let mut site = Site::default();
    let links: String = (1..PAGES).map(|i| format!("<li><a href=\"/app/p{i}\">Page {i}</a></li>")).collect();
    site.page("/app/", Response::html(format!("<html><body><main><h1>Index</h1><p>{}</p><ul>{links}</ul></main></body></html>", "An index of pages. ".repeat(20))));
    // Pages with words of their own: pages that differ only by a number are near duplicates.
    const TOPICS: [&str; PAGES] = [
        "", "Harbour cranes", "Violin strings", "Desert lizards", "Glacier caves", "Copper mining", "Orchard pests",
        "Lighthouse lenses", "Bakery ovens", "Comet tails", "Tram networks", "Beekeeping gloves",
    ];
    for (i, topic) in TOPICS.iter().enumerate().skip(1) {
        site.page(&format!("/app/p{i}"), static_page(topic).delayed(Duration::from_millis(300)));
    }
    let server = Arc::new(FixtureServer::start(site).await);
    let dir = tempfile::tempdir().unwrap();
    // Restarted after 5 pages as well, so both ways a browser is replaced are exercised.
    let browser = renderer(2, 5, NetworkPolicy::new(true));
    let ctx = context_with(dir.path(), browser.clone()).await;
    let kb = common::create_web_kb(&ctx, &server.url("/app/"), crawl(RenderMode::Browser)).await;
    let killer = {
        let (browser, server) = (browser.clone(), server.clone());
        tokio::spawn(async move {
            loop {
                let served = server.requests().iter().filter(|p| p.starts_with("/app/p")).count();
                if let (Some(pid), true) = (browser.browser_pid().await, served >= 2) {
                    let status = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
                    assert!(status.success());
                    return pid;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    assert_eq!(common::run_until_final(&ctx, kb, Duration::from_secs(180)).await, KbStatus::Ready);
    let killed = killer.await.unwrap();
    let pages = common::outcomes(&ctx, kb).await;
    assert_eq!(pages.len(), PAGES);
    assert!(pages.iter().all(|p| p.1 == PageStatus::Indexed), "{pages:?}");
    assert!(browser.launches() >= 3, "a restart after the kill and after 5 pages: {}", browser.launches());
    assert_ne!(browser.browser_pid().await, Some(killed));
    drop(ctx);
    let marker = browser.marker().to_owned();
    drop(browser);
    assert_no_processes(&marker).await;
}

/// A listener on another loopback address, counting connections (the fixture server's
/// address is exempted from the policy, this one is not).
fn private_listener() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count)
}

fn request(url: &str) -> FetchRequest {
    FetchRequest { url: url.parse().unwrap(), render: RenderMode::Browser, timeout: Duration::from_secs(15), max_bytes: 5 << 20 }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_network_policy_holds_inside_the_browser() {
    let (private, connections) = private_listener();
    let mut site = Site::default();
    site.page(
        "/leak",
        Response::html(format!(
            "<html><body><main id=\"out\">waiting</main><script>fetch('http://{private}/secret')\
             .then(() => {{ document.getElementById('out').textContent = 'secret read'; }})\
             .catch(() => {{ document.getElementById('out').textContent = 'secret refused'; }});</script></body></html>"
        )),
    );
    site.page("/hop", Response::redirect(302, &format!("http://{private}/")));
    let server = FixtureServer::start(site).await;
    let policy = NetworkPolicy { allow_private: false, exempt: vec![server.addr.ip()] };
    let guarded = renderer(2, 200, policy);

    let page = guarded.render(&request(&server.url("/leak"))).await.unwrap();
    assert!(String::from_utf8_lossy(&page.body).contains("secret refused"), "the script's request was refused");
    let hop = guarded.render(&request(&server.url("/hop"))).await;
    assert!(matches!(hop, Err(FetchError::Blocked(_))), "a redirect to a private address: {hop:?}");
    let direct = guarded.render(&request(&format!("http://{private}/"))).await;
    assert!(matches!(direct, Err(FetchError::Blocked(_))), "{direct:?}");
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing reached the private address");

    // The same page where private networks are allowed (the local CLI) does reach it: the
    // refusal above is the guard's doing.
    let open = renderer(1, 200, NetworkPolicy::new(true));
    let page = open.render(&request(&server.url("/leak"))).await.unwrap();
    assert!(connections.load(std::sync::atomic::Ordering::SeqCst) > 0, "{}", String::from_utf8_lossy(&page.body));
    guarded.shutdown().await;
    open.shutdown().await;
    assert_no_processes(guarded.marker()).await;
    assert_no_processes(open.marker()).await;
}

/// A Chromium started by the test, as a browser service runs one for its clients: its DevTools
/// endpoint at `http://127.0.0.1:PORT`, killed with its process group on drop.
struct RemoteChromium {
    child: std::process::Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl RemoteChromium {
    async fn start() -> Self {
        use std::os::unix::process::CommandExt as _;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let profile = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(chromium())
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"])
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let remote = Self { child, port, _profile: profile };
        let version = format!("{}/json/version", remote.url());
        for _ in 0..300 {
            if reqwest::get(&version).await.is_ok_and(|r| r.status().is_success()) {
                return remote;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the remote Chromium did not open its DevTools endpoint on port {port}");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for RemoteChromium {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill").args(["-s", "KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_browser_renders_the_pages_and_is_left_running() {
    let mut remote = RemoteChromium::start().await;
    let source = BrowserSource::Remote(remote.url());
    let browser = Arc::new(ChromiumRenderer::new(options(source, 2, 200, NetworkPolicy::new(true))));
    let Crawled { _dir, server, ctx, kb, status } = crawl_site(app_site(), browser.clone(), RenderMode::Browser).await;
    assert_ready(&ctx, kb, status).await;
    assert_app_indexed(&ctx, kb).await;
    assert_eq!(server.hits("/api/content.json"), 1, "the script ran in the remote browser");
    assert_eq!(browser.browser_pid().await, None, "no browser of our own was launched");
    assert!(processes_with(browser.marker()).is_empty());
    ctx.renderer.shutdown().await;
    assert!(remote.running(), "shutting the renderer down leaves the remote browser running");

    // The remote browser still serves a renderer that connects after the first one closed.
    let again = ChromiumRenderer::new(options(BrowserSource::Remote(remote.url()), 1, 200, NetworkPolicy::new(true)));
    let page = again.render(&request(&server.url("/app/static"))).await.unwrap();
    assert!(String::from_utf8_lossy(&page.body).contains("Static is a plain page"));
    again.shutdown().await;
    assert!(remote.running());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_endpoint_that_never_answers_fails_the_pages_in_time() {
    // Accepts connections and holds them without a byte in reply.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let endpoint = format!("ws://{addr}/devtools/browser/x?token=secret");
    let mut silent = options(BrowserSource::Remote(endpoint), 1, 200, NetworkPolicy::new(true));
    silent.connect_timeout = Duration::from_secs(2);
    let renderer = ChromiumRenderer::new(silent);
    let started = std::time::Instant::now();
    let first = renderer.render(&request("http://127.0.0.1:9/page")).await;
    let waited = started.elapsed();
    let reason = match first {
        Err(FetchError::BrowserUnavailable(reason)) => reason,
        other => panic!("{other:?}"),
    };
    assert!(reason.contains("KB_BROWSER_WS_URL") && reason.contains("did not answer within 2s"), "{reason}");
    assert!(!reason.contains("secret"), "the endpoint's token stays out of the reason: {reason}");
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(6), "gave up after {waited:?}");

    // The next page does not wait again: it fails at once with the same reason.
    let started = std::time::Instant::now();
    let second = renderer.render(&request("http://127.0.0.1:9/other")).await;
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    assert!(matches!(&second, Err(FetchError::BrowserUnavailable(r)) if *r == reason), "{second:?}");
}

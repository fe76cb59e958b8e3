//! Page renderer on headless Chromium (chromiumoxide). One browser per process, launched on
//! the first page that needs it (or a remote one reached at `KB_BROWSER_WS_URL`); pages
//! render in tabs, at most `KB_BROWSER_TABS` at once, and every tab is closed. The browser
//! is replaced by a fresh one after `KB_BROWSER_RESTART_PAGES` pages, or as soon as it
//! crashed or its connection dropped; a launched browser is killed with its whole process
//! group, and reaped, when it is replaced, on `shutdown` and on drop.

mod guard;
mod process;
mod tab;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::Browser;
use futures::StreamExt as _;

use self::guard::check_url;
use self::process::ChromiumProcess;
use crate::crawl::ssrf::NetworkPolicy;
use crate::ports::{FetchError, FetchRequest, FetchedPage, PageRenderer};


/// Where the browser comes from.
#[derive(Clone, Debug)]
pub enum BrowserSource {
    /// Launch this Chromium executable.
    Launch(PathBuf),
    /// Connect to a running browser's DevTools endpoint (`ws://...` or `http://host:port`).
    Remote(String),
}

/// How the renderer runs its browser.
#[derive(Clone, Debug)]
pub struct BrowserOptions {
    pub source: BrowserSource,
    /// Pages rendered at once.
    pub tabs: usize,
    /// Pages a browser renders before it is replaced.
    pub restart_pages: u32,
    pub user_agent: String,
    pub policy: NetworkPolicy,
    /// How long connecting to the browser's DevTools endpoint may take ([`CONNECT_TIMEOUT`] by
    /// default, `KB_BROWSER_CONNECT_TIMEOUT_SECS`):
    /// a remote endpoint that accepts the connection but never answers fails the pages that
    /// need it after this long, instead of holding them.
    pub connect_timeout: Duration,
}

/// How long connecting to a browser's DevTools endpoint may take by default (the default of
/// `KB_BROWSER_CONNECT_TIMEOUT_SECS`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(crate::settings::DEFAULT_BROWSER_CONNECT_TIMEOUT_SECS);

/// How long a failed launch keeps the renderer from trying again.
const LAUNCH_BACKOFF: Duration = Duration::from_secs(30);

/// One running (or connected) browser.
struct Instance {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    connected: Arc<AtomicBool>,
    pages: AtomicU32,
    process: Mutex<Option<ChromiumProcess>>,
}

impl Instance {
    fn usable(&self, restart_pages: u32) -> bool {
        let exited = self.process.lock().expect("process lock").as_mut().is_some_and(ChromiumProcess::exited);
        !exited && self.connected.load(Ordering::SeqCst) && self.pages.load(Ordering::SeqCst) < restart_pages
    }

    fn kill(&self) {
        self.connected.store(false, Ordering::SeqCst);
        self.handler.abort();
        if let Some(mut process) = self.process.lock().expect("process lock").take() {
            process.kill();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct ChromiumRenderer {
    options: BrowserOptions,
    policy: Arc<NetworkPolicy>,
    tabs: tokio::sync::Semaphore,
    current: tokio::sync::Mutex<Option<Arc<Instance>>>,
    /// Unique to this renderer: in the profile directory name of every browser it launches.
    marker: String,
    launches: AtomicU64,
    failed_launch: Mutex<Option<(Instant, String)>>,
}

impl ChromiumRenderer {
    #[must_use]
    pub fn new(options: BrowserOptions) -> Self {
        Self {
            policy: Arc::new(options.policy.clone()),
            tabs: tokio::sync::Semaphore::new(options.tabs.max(1)),
            current: tokio::sync::Mutex::new(None),
            marker: format!("kb-chromium-{}", uuid::Uuid::new_v4().simple()),
            launches: AtomicU64::new(0),
            failed_launch: Mutex::new(None),
            options,
        }
    }

    /// A string found in the command line of every process of the browsers this renderer
    /// launches (their profile directory), for tests that count them.
    #[must_use]
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// Browsers launched (or connected) so far: 1 + restarts.
    #[must_use]
    pub fn launches(&self) -> u64 {
        self.launches.load(Ordering::SeqCst)
    }

    /// The process id of the current launched browser, if one runs.
    pub async fn browser_pid(&self) -> Option<u32> {
        let current = self.current.lock().await;
        let instance = current.as_ref()?;
        instance.process.lock().expect("process lock").as_ref().map(ChromiumProcess::id)
    }

    /// The current browser, or a new one when there is none, it is used up, or it is gone.
    async fn instance(&self) -> Result<Arc<Instance>, FetchError> {
        let mut current = self.current.lock().await;
        if let Some(instance) = current.as_ref() {
            if instance.usable(self.options.restart_pages) {
                instance.pages.fetch_add(1, Ordering::SeqCst);
                return Ok(instance.clone());
            }
        }
        // Tabs still open on the old browser keep it until they finish; the last one kills it.
        if let Some(old) = current.take() {
            tracing::info!(pages = old.pages.load(Ordering::SeqCst), "replacing the browser");
        }
        if let Some((at, reason)) = self.failed_launch.lock().expect("launch lock").as_ref() {
            if at.elapsed() < LAUNCH_BACKOFF {
                return Err(FetchError::BrowserUnavailable(reason.clone()));
            }
        }
        match self.start().await {
            Ok(instance) => {
                let instance = Arc::new(instance);
                instance.pages.store(1, Ordering::SeqCst);
                *current = Some(instance.clone());
                *self.failed_launch.lock().expect("launch lock") = None;
                Ok(instance)
            }
            Err(reason) => {
                tracing::warn!(%reason, "no browser");
                *self.failed_launch.lock().expect("launch lock") = Some((Instant::now(), reason.clone()));
                Err(FetchError::BrowserUnavailable(reason))
            }
        }
    }

    async fn start(&self) -> Result<Instance, String> {
        let n = self.launches.fetch_add(1, Ordering::SeqCst);
        let config = HandlerConfig {
            ignore_https_errors: false,
            request_intercept: !self.policy.allow_private,
            request_timeout: Duration::from_secs(60),
            viewport: None,
            ..HandlerConfig::default()
        };
        let (process, url) = match &self.options.source {
            BrowserSource::Launch(executable) => {
                let profile = std::env::temp_dir().join(format!("{}-{n}", self.marker));
                let (process, url) = ChromiumProcess::launch(executable, profile, &self.options.user_agent).await?;
                (Some(process), url)
            }
            BrowserSource::Remote(url) => (None, url.clone()),
        };
        let endpoint = match &self.options.source {
            BrowserSource::Launch(_) => "the launched browser's DevTools endpoint",
            // Not the URL itself: it may carry the remote service's token.
            BrowserSource::Remote(_) => "the remote browser's DevTools endpoint (KB_BROWSER_WS_URL)",
        };
        // On failure `process` drops here, which kills it.
        let (browser, mut handler) =
            tokio::time::timeout(self.options.connect_timeout, Browser::connect_with_config(url, config))
                .await
                .map_err(|_| format!("{endpoint} did not answer within {:?}", self.options.connect_timeout))?
                .map_err(|e| format!("connecting to {endpoint}: {e}"))?;
        let connected = Arc::new(AtomicBool::new(true));
        let flag = connected.clone();
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    if matches!(e, chromiumoxide::error::CdpError::Ws(_) | chromiumoxide::error::CdpError::Io(_)) {
                        tracing::warn!(error = %e, "browser connection lost");
                        break;
                    }
                }
            }
            flag.store(false, Ordering::SeqCst);
        });
        Ok(Instance { browser, handler, connected, pages: AtomicU32::new(0), process: Mutex::new(process) })
    }
}

#[async_trait]
impl PageRenderer for ChromiumRenderer {
    async fn render(&self, request: &FetchRequest) -> Result<FetchedPage, FetchError> {
        check_url(&self.policy, &request.url).await?;
        let _tab = self.tabs.acquire().await.map_err(|_| FetchError::BrowserUnavailable("renderer closed".into()))?;
        let instance = self.instance().await?;
        let guard = (!self.policy.allow_private).then(|| self.policy.clone());
        match tab::render(&instance.browser, request, &self.options.user_agent, guard).await {
            Ok(page) => {
                check_url(&self.policy, &page.final_url).await?;
                Ok(page)
            }
            Err(e) => {
                if e.browser_lost {
                    // The next page starts a fresh browser.
                    instance.connected.store(false, Ordering::SeqCst);
                }
                Err(e.error)
            }
        }
    }

    async fn shutdown(&self) {
        if let Some(instance) = self.current.lock().await.take() {
            instance.kill();
        }
    }
}

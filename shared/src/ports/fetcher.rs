use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use url::Url;

use crate::domain::RenderMode;

/// One page to fetch, with the limits that apply to it.
#[derive(Clone, Debug)]
pub struct FetchRequest {
    pub url: Url,
    pub render: RenderMode,
    pub timeout: Duration,
    pub max_bytes: u64,
}

/// A fetched response (any HTTP status).
#[derive(Clone, Debug)]
pub struct FetchedPage {
    /// The URL after redirects.
    pub final_url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// `Retry-After` of a 429 / 503, when given.
    pub retry_after: Option<Duration>,
    /// Whether the body was rendered by a browser.
    pub rendered: bool,
}

impl FetchedPage {
    /// Whether the response declares (or, without a declaration, looks like) HTML.
    #[must_use]
    pub fn is_html(&self) -> bool {
        match self.content_type.as_deref() {
            Some(ct) => {
                let ct = ct.to_ascii_lowercase();
                ct.starts_with("text/html") || ct.starts_with("application/xhtml+xml")
            }
            None => {
                let head = &self.body[..self.body.len().min(512)];
                let head = String::from_utf8_lossy(head).to_ascii_lowercase();
                head.contains("<html") || head.contains("<!doctype html")
            }
        }
    }
}

/// Why a page could not be fetched. `reason()` is what users see in `kb pages`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("timeout after {0:?}")]
    Timeout(Duration),
    #[error("body larger than {0} bytes")]
    TooLarge(u64),
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("refused: {0}")]
    Blocked(String),
    #[error("unsupported URL: {0}")]
    Unsupported(String),
    #[error("connection failed: {0}")]
    Connect(String),
    /// A page that must be rendered, in a process without a usable browser.
    #[error("{0}")]
    BrowserUnavailable(String),
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// Short machine-readable reason (`timeout`, `too_large`, `redirect_loop`, ...).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Timeout(_) => "timeout",
            FetchError::TooLarge(_) => "too_large",
            FetchError::RedirectLoop(_) => "redirect_loop",
            FetchError::TooManyRedirects(_) => "too_many_redirects",
            FetchError::Blocked(_) => "blocked",
            FetchError::Unsupported(_) => "unsupported_url",
            FetchError::Connect(_) => "connection_failed",
            FetchError::BrowserUnavailable(_) => "browser_unavailable",
            FetchError::Other(_) => "fetch_error",
        }
    }

    /// Whether a later attempt may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Timeout(_) | FetchError::Connect(_) | FetchError::Other(_))
    }
}

/// Fetches web pages.
#[async_trait]
pub trait PageFetcher: Send + Sync {
    /// # Errors
    /// The page could not be fetched at all; an HTTP error status is a successful fetch.
    async fn fetch(&self, request: &FetchRequest) -> Result<FetchedPage, FetchError>;
}

/// Renders pages in a headless browser: the page's scripts run, and the document they leave
/// behind is what comes back.
#[async_trait]
pub trait PageRenderer: Send + Sync {
    /// Loads `request.url` in a browser tab, waits until its content settles (or
    /// `request.timeout` passes) and returns the serialised DOM as an HTML page with
    /// `rendered: true`. The tab is closed before this returns, whatever the outcome.
    ///
    /// # Errors
    /// `Blocked` for a URL (or a final URL) the network policy refuses, `Timeout`,
    /// `Connect` when the page or the browser cannot be reached (the browser is restarted on
    /// the next call), `BrowserUnavailable` when this process has no browser at all.
    async fn render(&self, request: &FetchRequest) -> Result<FetchedPage, FetchError>;

    /// Closes the browser and waits for its processes to end (also done on drop).
    async fn shutdown(&self) {}
}

//! One page in one tab: open a blank tab, navigate, let the scripts settle, read the DOM,
//! close the tab whatever happened.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chromiumoxide::cdp::browser_protocol::emulation::SetUserAgentOverrideParams;
use chromiumoxide::error::CdpError;
use chromiumoxide::Browser;
use url::Url;

use crate::crawl::ssrf::NetworkPolicy;
use crate::ports::{FetchError, FetchRequest, FetchedPage};

/// Runs before the page's own scripts: counts the page's `fetch` and `XMLHttpRequest`
/// requests in flight and when one last started or ended, so that a page whose script is
/// still waiting for its data does not count as settled because its DOM is quiet.
const TRACK_REQUESTS: &str = r"(() => {
  const net = { pending: 0, last: Date.now() };
  Object.defineProperty(window, '__kbNet', { value: net });
  const begin = () => { net.pending += 1; net.last = Date.now(); };
  const end = () => { net.pending -= 1; net.last = Date.now(); };
  if (window.fetch) {
    const fetch = window.fetch;
    window.fetch = function (...args) {
      begin();
      let p;
      try { p = fetch.apply(this, args); } catch (e) { end(); throw e; }
      p.then(end, end);
      return p;
    };
  }
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    begin();
    this.addEventListener('loadend', end, { once: true });
    try { return send.apply(this, args); } catch (e) { this.removeEventListener('loadend', end); end(); throw e; }
  };
})();";

/// Runs in the page once it has loaded: waits until the DOM has been quiet for `QUIET` ms
/// and no request of the page's scripts is in flight or ended less than `QUIET` ms ago
/// (scripts that fetch data and render it are done), or `CAP` ms have passed, then returns
/// the final URL, the document's HTTP status, its content type and its serialised DOM.
const SETTLE_AND_READ: &str = r"async function(quiet, cap) {
  await new Promise((resolve) => {
    const start = Date.now();
    let last = start;
    const observer = new MutationObserver(() => { last = Date.now(); });
    observer.observe(document, { subtree: true, childList: true, characterData: true });
    const net = window.__kbNet || { pending: 0, last: start };
    const tick = () => {
      const now = Date.now();
      const quietNow = now - Math.max(last, net.last) >= quiet && net.pending <= 0;
      if (quietNow || now - start >= cap) { observer.disconnect(); resolve(); }
      else setTimeout(tick, 20);
    };
    setTimeout(tick, 20);
  });
  const nav = performance.getEntriesByType('navigation')[0];
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '';
  return {
    url: location.href,
    status: (nav && nav.responseStatus) || 0,
    content_type: document.contentType || null,
    html: doctype + (document.documentElement ? document.documentElement.outerHTML : ''),
  };
}";

/// How long the DOM must stay unchanged before the page counts as rendered.
const QUIET_MS: u64 = 60;
/// The longest wait for the DOM to settle.
const SETTLE_CAP_MS: u64 = 3000;

#[derive(serde::Deserialize)]
struct Snapshot {
    url: String,
    status: u16,
    content_type: Option<String>,
    html: String,
}

/// What went wrong in a tab, and whether it means the browser itself is gone.
pub(super) struct TabError {
    pub error: FetchError,
    pub browser_lost: bool,
}

impl TabError {
    fn page(error: FetchError) -> Self {
        Self { error, browser_lost: false }
    }
}

fn classify(e: &CdpError, timeout: Duration) -> TabError {
    match e {
        CdpError::Timeout => TabError::page(FetchError::Timeout(timeout)),
        CdpError::Ws(_) | CdpError::Io(_) | CdpError::ChannelSendError(_) | CdpError::NoResponse => {
            TabError { error: FetchError::Connect(format!("browser connection lost: {e}")), browser_lost: true }
        }
        CdpError::ChromeMessage(m) if m.contains("ERR_BLOCKED_BY_CLIENT") => {
            TabError::page(FetchError::Blocked(format!("the browser refused a request of the page: {m}")))
        }
        CdpError::ChromeMessage(m) if m.contains("net::") => TabError::page(FetchError::Connect(m.clone())),
        other => TabError::page(FetchError::Other(format!("browser: {other}"))),
    }
}

/// Renders `request.url` in a new tab of `browser`.
pub(super) async fn render(
    browser: &Browser,
    request: &FetchRequest,
    user_agent: &str,
    guard: Option<Arc<NetworkPolicy>>,
) -> Result<FetchedPage, TabError> {
    let timeout = request.timeout;
    let page = match tokio::time::timeout(timeout, browser.new_page("about:blank")).await {
        Ok(Ok(page)) => page,
        Ok(Err(e)) => return Err(classify(&e, timeout)),
        // A browser that cannot open a tab in the whole page time is not usable.
        Err(_) => return Err(TabError { error: FetchError::Timeout(timeout), browser_lost: true }),
    };
    let guard = guard.map(|policy| tokio::spawn(super::guard::guard_requests(page.clone(), policy)));
    let loaded = tokio::time::timeout(timeout, async {
        page.execute(SetUserAgentOverrideParams::new(user_agent)).await?;
        page.evaluate_on_new_document(TRACK_REQUESTS).await?;
        page.goto(request.url.as_str()).await?;
        let cap = SETTLE_CAP_MS.min(timeout.as_millis() as u64 / 2);
        let call = format!("({SETTLE_AND_READ})({QUIET_MS}, {cap})");
        page.evaluate_expression(call).await?.into_value::<Snapshot>().map_err(CdpError::from)
    })
    .await;
    if let Some(guard) = guard {
        guard.abort();
    }
    // Every tab is closed, also after an error or a timeout (bounded: a browser that cannot
    // even close a tab is restarted by the caller).
    let closed = tokio::time::timeout(Duration::from_secs(5), page.close()).await;
    let snapshot = match loaded {
        Ok(Ok(snapshot)) => snapshot,
        Ok(Err(e)) => return Err(classify(&e, timeout)),
        Err(_) => return Err(TabError { error: FetchError::Timeout(timeout), browser_lost: closed.is_err() }),
    };
    let final_url = Url::parse(&snapshot.url).map_err(|e| TabError::page(FetchError::Other(format!("final URL: {e}"))))?;
    if snapshot.html.len() as u64 > request.max_bytes {
        return Err(TabError::page(FetchError::TooLarge(request.max_bytes)));
    }
    Ok(FetchedPage {
        final_url,
        // A document without a navigation entry (an error page, about:blank) counts as 200
        // only when it has content; the caller checks the final URL.
        status: if snapshot.status == 0 { 200 } else { snapshot.status },
        content_type: Some(snapshot.content_type.map_or_else(|| "text/html".to_owned(), |ct| format!("{ct}; charset=utf-8"))),
        body: Bytes::from(snapshot.html),
        retry_after: None,
        rendered: true,
    })
}

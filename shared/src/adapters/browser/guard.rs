//! The network policy inside the browser. The page URL is checked before navigation and the
//! final URL after it; in server mode (private networks refused) every request the page makes
//! (redirect hops, scripts, `fetch`, images, frames) is paused through the DevTools `Fetch`
//! domain and only continued when its host passes the same check.
//!
//! Remaining gap: Chromium resolves names itself after the check, so a name whose DNS answer
//! changes between the check and Chromium's own lookup (DNS rebinding with a zero TTL) can
//! still reach a refused address. WebSockets and WebRTC are not covered by `Fetch` either.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use chromiumoxide::cdp::browser_protocol::fetch::{ContinueRequestParams, EventRequestPaused, FailRequestParams};
use chromiumoxide::cdp::browser_protocol::network::ErrorReason;
use chromiumoxide::Page;
use futures::StreamExt as _;
use url::Url;

use crate::crawl::ssrf::NetworkPolicy;
use crate::ports::FetchError;

/// Refuses `url` when its host is, or resolves to, an address the policy refuses. Unlike the
/// HTTP fetcher (which connects only to the allowed addresses of a name), the browser picks
/// its own address, so one refused address is enough to refuse the name.
///
/// # Errors
/// `Blocked`, or `Unsupported` for a scheme other than http(s).
pub(super) async fn check_url(policy: &NetworkPolicy, url: &Url) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Unsupported(url.to_string()));
    }
    if policy.allow_private {
        return Ok(());
    }
    let addresses: Vec<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(url::Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(80);
            match tokio::net::lookup_host((name, port)).await {
                Ok(found) => found.map(|a| a.ip()).collect(),
                // Unresolvable: the browser will fail to connect on its own.
                Err(_) => return Ok(()),
            }
        }
        None => return Err(FetchError::Unsupported(url.to_string())),
    };
    match addresses.iter().find(|ip| !policy.allows(**ip)) {
        Some(ip) => Err(FetchError::Blocked(format!(
            "{} is or resolves to {ip}, a private or reserved address (set KB_ALLOW_PRIVATE_NETWORKS=true to allow it)",
            url.host_str().unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

/// Answers every paused request of `page` until the page goes away: continued when allowed,
/// failed as "blocked by client" otherwise. Run only when the browser intercepts requests.
pub(super) async fn guard_requests(page: Page, policy: Arc<NetworkPolicy>) {
    let Ok(mut paused) = page.event_listener::<EventRequestPaused>().await else { return };
    let mut verdicts: HashMap<String, bool> = HashMap::new();
    while let Some(event) = paused.next().await {
        let allowed = match Url::parse(&event.request.url) {
            Ok(url) if matches!(url.scheme(), "data" | "blob" | "about") => true,
            Ok(url) => {
                let origin = url.origin().ascii_serialization();
                match verdicts.get(&origin) {
                    Some(v) => *v,
                    None => {
                        let v = check_url(&policy, &url).await.is_ok();
                        verdicts.insert(origin, v);
                        v
                    }
                }
            }
            Err(_) => false,
        };
        let id = event.request_id.clone();
        let sent = if allowed {
            page.execute(ContinueRequestParams::new(id)).await.map(|_| ())
        } else {
            tracing::debug!(url = %event.request.url, "browser request refused by the network policy");
            page.execute(FailRequestParams::new(id, ErrorReason::BlockedByClient)).await.map(|_| ())
        };
        if sent.is_err() {
            return;
        }
    }
}

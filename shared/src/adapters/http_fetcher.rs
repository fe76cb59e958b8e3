//! Page fetcher over plain HTTP (reqwest). Follows redirects itself, one hop at a time, so
//! that loops and over-long chains fail with a clear reason; streams the body and stops
//! reading at the size limit (after decompression, so a compression bomb is refused too).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER};

use crate::crawl::ssrf::NetworkPolicy;
use crate::crawl::urls::canonicalize;
use crate::ports::{FetchError, FetchRequest, FetchedPage, PageFetcher};

/// Redirect hops followed before a page fails with `too_many_redirects`.
pub const MAX_REDIRECTS: usize = 10;

pub struct HttpFetcher {
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
}

/// A host that resolved only to addresses the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to a private or reserved address (set KB_ALLOW_PRIVATE_NETWORKS=true to allow it)")]
struct RefusedAddress(String);

/// DNS resolution that drops the addresses the policy refuses: the check happens on the
/// addresses actually connected to, so a name cannot be re-pointed between check and use.
/// Names in `hosts` resolve to their listed addresses (under the same check).
struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
    hosts: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let listed = self.hosts.get(&name.as_str().to_ascii_lowercase()).cloned();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<std::net::SocketAddr> = match listed {
                Some(ips) => ips.into_iter().map(|ip| std::net::SocketAddr::new(ip, 0)).collect(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let allowed: Vec<std::net::SocketAddr> = all.iter().copied().filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() && !all.is_empty() {
                return Err(Box::new(RefusedAddress(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl HttpFetcher {
    /// A fetcher that may reach what `policy` allows.
    ///
    /// # Errors
    /// The HTTP client cannot be built (TLS backend unavailable).
    pub fn new(user_agent: &str, policy: NetworkPolicy) -> Result<Self, FetchError> {
        Self::with_hosts(user_agent, policy, HashMap::new())
    }

    /// A fetcher that resolves the names in `hosts` (lower-case) to the addresses listed
    /// there instead of asking DNS, like `/etc/hosts` (tests serve several host names from
    /// 127.0.0.1 this way). `policy` applies to those addresses as to any other.
    ///
    /// # Errors
    /// The HTTP client cannot be built (TLS backend unavailable).
    pub fn with_hosts(user_agent: &str, policy: NetworkPolicy, hosts: HashMap<String, Vec<IpAddr>>) -> Result<Self, FetchError> {
        let policy = Arc::new(policy);
        let resolver = GuardedResolver { policy: policy.clone(), hosts: Arc::new(hosts) };
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .dns_resolver(Arc::new(resolver))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| FetchError::Other(format!("building HTTP client: {e}")))?;
        Ok(Self { client, policy })
    }

    /// Refuses a URL whose host is an address literal the policy refuses (names are checked
    /// when they resolve).
    fn check_literal(&self, url: &url::Url) -> Result<(), FetchError> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
            _ => return Ok(()),
        };
        if self.policy.allows(ip) {
            Ok(())
        } else {
            Err(FetchError::Blocked(format!("{ip} is a private or reserved address (set KB_ALLOW_PRIVATE_NETWORKS=true to allow it)")))
        }
    }

    async fn fetch_inner(&self, request: &FetchRequest) -> Result<FetchedPage, FetchError> {
        let mut url = request.url.clone();
        let mut seen = HashSet::new();
        for _ in 0..=MAX_REDIRECTS {
            if !seen.insert(url.as_str().to_owned()) {
                return Err(FetchError::RedirectLoop(url.to_string()));
            }
            // Every hop: the first URL and each redirect target.
            self.check_literal(&url)?;
            let response = self
                .client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
                .send()
                .await
                .map_err(|e| classify(&e, request.timeout))?;
            let status = response.status();
            if status.is_redirection() {
                if let Some(location) = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()) {
                    let next = url
                        .join(location.trim())
                        .map_err(|e| FetchError::Other(format!("bad redirect location {location:?}: {e}")))?;
                    url = canonicalize(next, &[])
                        .map_err(|e| FetchError::Unsupported(format!("redirect to {e}")))?;
                    continue;
                }
            }
            let headers = response.headers().clone();
            let declared = headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > request.max_bytes) {
                return Err(FetchError::TooLarge(request.max_bytes));
            }
            let mut body = BytesMut::new();
            let mut stream = response.bytes_stream();
            while let Some(part) = stream.next().await {
                let part = part.map_err(|e| classify(&e, request.timeout))?;
                if (body.len() + part.len()) as u64 > request.max_bytes {
                    return Err(FetchError::TooLarge(request.max_bytes));
                }
                body.extend_from_slice(&part);
            }
            return Ok(FetchedPage {
                final_url: url,
                status: status.as_u16(),
                content_type: headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned),
                body: body.freeze(),
                retry_after: retry_after(&headers),
                rendered: false,
            });
        }
        Err(FetchError::TooManyRedirects(MAX_REDIRECTS))
    }
}

fn classify(e: &reqwest::Error, timeout: Duration) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(inner) = source {
        if let Some(refused) = inner.downcast_ref::<RefusedAddress>() {
            return FetchError::Blocked(refused.to_string());
        }
        source = inner.source();
    }
    if e.is_timeout() {
        FetchError::Timeout(timeout)
    } else if e.is_connect() {
        FetchError::Connect(error_chain(e))
    } else {
        FetchError::Other(error_chain(e))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// `Retry-After` in seconds (the HTTP-date form is read as "soon").
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    Some(raw.parse::<u64>().map_or(Duration::from_secs(5), Duration::from_secs))
}

#[async_trait]
impl PageFetcher for HttpFetcher {
    async fn fetch(&self, request: &FetchRequest) -> Result<FetchedPage, FetchError> {
        match tokio::time::timeout(request.timeout, self.fetch_inner(request)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(request.timeout)),
        }
    }
}

/// Decodes a page body to text: the charset of the Content-Type, else a `<meta charset>`
/// in the first bytes, else UTF-8 (invalid bytes replaced).
#[must_use]
pub fn decode_body(body: &Bytes, content_type: Option<&str>) -> String {
    let declared = content_type.and_then(|ct| {
        ct.split(';').find_map(|p| p.trim().strip_prefix("charset=").map(|c| c.trim_matches('"').to_owned()))
    });
    let sniffed = || {
        let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
        let at = head.find("charset=")?;
        let rest = &head[at + 8..];
        let rest = rest.trim_start_matches(['"', '\'']);
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    };
    let encoding = declared
        .or_else(sniffed)
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_declared_and_sniffed_charsets() {
        let latin1 = Bytes::from_static(b"caf\xe9");
        assert_eq!(decode_body(&latin1, Some("text/html; charset=ISO-8859-1")), "café");
        let sniffed = Bytes::from_static(b"<meta charset=\"windows-1252\">caf\xe9");
        assert!(decode_body(&sniffed, Some("text/html")).ends_with("café"));
        assert_eq!(decode_body(&Bytes::from_static("café".as_bytes()), None), "café");
    }
}

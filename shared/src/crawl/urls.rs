//! URL canonicalisation: one spelling per page, so the frontier never holds the same page
//! twice under different URLs.

use url::Url;

/// Query parameters that only track visitors, removed from every URL.
const TRACKING_PARAMS: &[&str] = &[
    "gclid", "dclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "yclid", "_ga", "_gl", "igshid", "ref_src",
];

/// Why a string is not a crawlable URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("malformed URL {0:?}: {1}")]
    Malformed(String, String),
    #[error("unsupported scheme {scheme:?} in {url:?} (only http and https)")]
    Scheme { url: String, scheme: String },
    #[error("URL {0:?} has no host")]
    NoHost(String),
}

/// Parses a user-given start URL (adding `https://` when no scheme is given) and
/// canonicalises it.
///
/// # Errors
/// The string is not an http(s) URL with a host.
pub fn parse_start_url(raw: &str, strip_params: &[String]) -> Result<Url, UrlError> {
    let raw = raw.trim();
    let parsed = match Url::parse(raw) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) if !raw.contains("://") && !raw.is_empty() => {
            Url::parse(&format!("https://{raw}")).map_err(|e| UrlError::Malformed(raw.to_owned(), e.to_string()))?
        }
        Err(e) => return Err(UrlError::Malformed(raw.to_owned(), e.to_string())),
    };
    canonicalize(parsed, strip_params)
}

/// The canonical form of an http(s) URL: lower-case scheme and host (the parser does that),
/// no default port, no fragment, no user info, no tracking parameters, `/` for an empty path.
///
/// # Errors
/// Not http(s), or no host.
pub fn canonicalize(mut url: Url, strip_params: &[String]) -> Result<Url, UrlError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme { url: url.to_string(), scheme: url.scheme().to_owned() });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost(url.to_string()));
    }
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if let Some(host) = url.host_str() {
        // A trailing dot names the same host.
        if host.ends_with('.') && host.len() > 1 {
            let trimmed = host.trim_end_matches('.').to_owned();
            let _ = url.set_host(Some(&trimmed));
        }
    }
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !(k.starts_with("utm_")
                    || TRACKING_PARAMS.contains(&k.as_str())
                    || strip_params.iter().any(|p| p.eq_ignore_ascii_case(&k)))
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Ok(url)
}

/// Resolves a link found on a page (`href`) against the page's base URL; `None` for links
/// that do not lead to another http(s) document (mailto:, javascript:, tel:, fragment-only).
#[must_use]
pub fn resolve_link(base: &Url, href: &str, strip_params: &[String]) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let lower = href.get(..11).unwrap_or(href).to_ascii_lowercase();
    if ["javascript:", "mailto:", "tel:", "data:", "sms:", "ftp:"].iter().any(|s| lower.starts_with(s)) {
        return None;
    }
    let joined = base.join(href).ok()?;
    canonicalize(joined, strip_params).ok()
}

/// File extensions that are never HTML pages (checked before a link takes page budget).
const NON_HTML_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "svg", "ico", "bmp", "tif", "tiff", "avif", "css", "js", "mjs", "map",
    "json", "xml", "rss", "atom", "zip", "gz", "tgz", "bz2", "xz", "7z", "rar", "tar", "exe", "msi", "dmg",
    "pkg", "deb", "rpm", "apk", "iso", "bin", "mp3", "mp4", "m4a", "wav", "ogg", "webm", "avi", "mov", "mkv",
    "woff", "woff2", "ttf", "otf", "eot", "wasm", "jar", "whl", "doc", "xls", "ppt", "pptx", "xlsx", "docx",
    "epub", "csv", "txt",
];

/// Whether the URL's path names a file that is certainly not a web page.
#[must_use]
pub fn looks_like_non_html(url: &Url) -> bool {
    let path = url.path();
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => NON_HTML_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        canonicalize(Url::parse(s).unwrap(), &["sessionid".to_owned()]).unwrap().to_string()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canon("HTTPS://Example.COM:443/a/./b/../c#frag"), "https://example.com/a/c");
        assert_eq!(canon("http://example.com:80"), "http://example.com/");
        assert_eq!(canon("http://example.com:8080/x"), "http://example.com:8080/x");
        assert_eq!(canon("https://user:pw@example.com./x"), "https://example.com/x");
        assert_eq!(canon("https://example.com/x?utm_source=a&id=3&UTM_medium=b&fbclid=z"), "https://example.com/x?id=3");
        assert_eq!(canon("https://example.com/x?SessionId=9"), "https://example.com/x");
        assert_eq!(canon("https://example.com/x?b=2&a=1"), "https://example.com/x?b=2&a=1");
    }

    #[test]
    fn start_urls() {
        assert_eq!(parse_start_url("example.com/docs", &[]).unwrap().as_str(), "https://example.com/docs");
        assert!(matches!(parse_start_url("ftp://example.com/", &[]), Err(UrlError::Scheme { .. })));
        assert!(matches!(parse_start_url("http://", &[]), Err(UrlError::Malformed(..))));
        assert!(matches!(parse_start_url("http:// bad host/", &[]), Err(UrlError::Malformed(..))));
        assert!(parse_start_url("", &[]).is_err());
    }

    #[test]
    fn links() {
        let base = Url::parse("https://example.com/docs/guide/").unwrap();
        let r = |h: &str| resolve_link(&base, h, &[]).map(|u| u.to_string());
        assert_eq!(r("intro.html#top").as_deref(), Some("https://example.com/docs/guide/intro.html"));
        assert_eq!(r("../api/").as_deref(), Some("https://example.com/docs/api/"));
        assert_eq!(r("//other.org/x").as_deref(), Some("https://other.org/x"));
        for h in ["#section", "mailto:a@b.c", "javascript:void(0)", "JavaScript:alert(1)", "tel:123", ""] {
            assert_eq!(r(h), None, "{h}");
        }
    }

    #[test]
    fn non_html_extensions() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(looks_like_non_html(&u("https://e.com/a/logo.PNG")));
        assert!(looks_like_non_html(&u("https://e.com/dl/x.tar.gz")));
        assert!(!looks_like_non_html(&u("https://e.com/a/page.html")));
        assert!(!looks_like_non_html(&u("https://e.com/v1.2/")));
        assert!(!looks_like_non_html(&u("https://e.com/.well-known")));
    }
}

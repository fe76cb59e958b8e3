//! Which URLs a web source may crawl: the start host (optionally its subdomains), include
//! and exclude path globs.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use url::Url;

use crate::domain::{CrawlConfig, ValidationError};

/// Why a URL is outside a source's scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutOfScope {
    OtherSite,
    Excluded,
    NotIncluded,
}

/// The scope of one web source.
#[derive(Clone, Debug)]
pub struct Scope {
    host: String,
    port: Option<u16>,
    include_subdomains: bool,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

fn glob_set(field: &str, patterns: &[String]) -> Result<Option<GlobSet>, ValidationError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        // `*.pdf` means any PDF; other patterns are anchored at the path's root.
        let pattern = if p.starts_with("*.") {
            format!("**/{p}")
        } else if p.starts_with('/') || p.starts_with('*') {
            p.clone()
        } else {
            format!("/{p}")
        };
        let glob: Glob = GlobBuilder::new(&pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| ValidationError::new("invalid_pattern", field, format!("invalid glob {p:?}: {e}")))?;
        builder.add(glob);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| ValidationError::new("invalid_pattern", field, e.to_string()))
}

impl Scope {
    /// # Errors
    /// A glob does not parse.
    pub fn new(start: &Url, config: &CrawlConfig) -> Result<Self, ValidationError> {
        Ok(Self {
            host: start.host_str().unwrap_or_default().to_ascii_lowercase(),
            port: start.port(),
            include_subdomains: config.include_subdomains,
            include: glob_set("include_patterns", &config.include_patterns)?,
            exclude: glob_set("exclude_patterns", &config.exclude_patterns)?,
        })
    }

    fn same_site(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else { return false };
        if url.port() != self.port {
            return false;
        }
        if host.eq_ignore_ascii_case(&self.host) {
            return true;
        }
        if !self.include_subdomains {
            return false;
        }
        let base = self.host.strip_prefix("www.").unwrap_or(&self.host);
        let host = host.to_ascii_lowercase();
        host == base || host.ends_with(&format!(".{base}"))
    }

    /// # Errors
    /// Why the URL is out of scope.
    pub fn check(&self, url: &Url) -> Result<(), OutOfScope> {
        if !self.same_site(url) {
            return Err(OutOfScope::OtherSite);
        }
        let path = url.path();
        let with_slash = format!("{}/", path.trim_end_matches('/'));
        let matches = |set: &GlobSet| set.is_match(path) || set.is_match(&with_slash);
        if self.exclude.as_ref().is_some_and(|s| s.is_match(path)) {
            return Err(OutOfScope::Excluded);
        }
        if self.include.as_ref().is_some_and(|s| !matches(s)) {
            return Err(OutOfScope::NotIncluded);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(start: &str, include: &[&str], exclude: &[&str], subdomains: bool) -> Scope {
        let config = CrawlConfig {
            include_patterns: include.iter().map(|s| (*s).to_owned()).collect(),
            exclude_patterns: exclude.iter().map(|s| (*s).to_owned()).collect(),
            include_subdomains: subdomains,
            ..Default::default()
        };
        Scope::new(&Url::parse(start).unwrap(), &config).unwrap()
    }

    fn check(s: &Scope, url: &str) -> Result<(), OutOfScope> {
        s.check(&Url::parse(url).unwrap())
    }

    #[test]
    fn host_and_port() {
        let s = scope("http://127.0.0.1:8080/", &[], &[], false);
        assert_eq!(check(&s, "http://127.0.0.1:8080/a"), Ok(()));
        assert_eq!(check(&s, "http://127.0.0.1:9090/a"), Err(OutOfScope::OtherSite));
        assert_eq!(check(&s, "http://example.com:8080/a"), Err(OutOfScope::OtherSite));
        let s = scope("https://www.example.com/", &[], &[], false);
        assert_eq!(check(&s, "http://www.example.com/x"), Ok(()));
        assert_eq!(check(&s, "https://docs.example.com/x"), Err(OutOfScope::OtherSite));
        let s = scope("https://www.example.com/", &[], &[], true);
        assert_eq!(check(&s, "https://docs.example.com/x"), Ok(()));
        assert_eq!(check(&s, "https://example.com/x"), Ok(()));
        assert_eq!(check(&s, "https://badexample.com/x"), Err(OutOfScope::OtherSite));
    }

    #[test]
    fn globs() {
        let s = scope("https://e.com/docs/", &["/docs/**"], &["/docs/internal/**", "*.pdf"], false);
        assert_eq!(check(&s, "https://e.com/docs"), Ok(()));
        assert_eq!(check(&s, "https://e.com/docs/a/b.html"), Ok(()));
        assert_eq!(check(&s, "https://e.com/blog/a"), Err(OutOfScope::NotIncluded));
        assert_eq!(check(&s, "https://e.com/docs/internal/x"), Err(OutOfScope::Excluded));
        assert_eq!(check(&s, "https://e.com/docs/x.pdf"), Err(OutOfScope::Excluded));
        let s = scope("https://e.com/", &["/api/*"], &[], false);
        assert_eq!(check(&s, "https://e.com/api/x"), Ok(()));
        assert_eq!(check(&s, "https://e.com/api/x/y"), Err(OutOfScope::NotIncluded));
    }
}

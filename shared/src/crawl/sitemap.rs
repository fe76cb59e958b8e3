//! Sitemaps (sitemaps.org): a urlset gives page URLs, a sitemap index gives more sitemaps.

use std::io::Cursor;

use sitemap::reader::{SiteMapEntity, SiteMapReader};
use url::Url;

/// What one sitemap document lists.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SitemapContent {
    pub pages: Vec<Url>,
    pub sitemaps: Vec<Url>,
}

/// Parses a sitemap or sitemap index (entries that do not parse are skipped).
#[must_use]
pub fn parse(body: &[u8]) -> SitemapContent {
    let mut content = SitemapContent::default();
    for entity in SiteMapReader::new(Cursor::new(body)) {
        match entity {
            SiteMapEntity::Url(u) => content.pages.extend(u.loc.get_url()),
            SiteMapEntity::SiteMap(s) => content.sitemaps.extend(s.loc.get_url()),
            SiteMapEntity::Err(_) => {}
        }
    }
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlsets_and_indexes() {
        let urlset = br#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://e.com/docs/a</loc><lastmod>2024-01-01</lastmod></url>
  <url><loc> https://e.com/docs/b </loc></url>
  <url><loc>not a url</loc></url>
</urlset>"#;
        let c = parse(urlset);
        assert_eq!(c.pages.iter().map(Url::as_str).collect::<Vec<_>>(), ["https://e.com/docs/a", "https://e.com/docs/b"]);
        assert!(c.sitemaps.is_empty());
        let index = br#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://e.com/sitemap-docs.xml</loc></sitemap></sitemapindex>"#;
        let c = parse(index);
        assert_eq!(c.sitemaps.iter().map(Url::as_str).collect::<Vec<_>>(), ["https://e.com/sitemap-docs.xml"]);
        assert!(parse(b"<html>not xml").pages.is_empty());
    }
}

//! The crawler's pure parts: URL canonicalisation, scope rules and HTML-to-markdown
//! extraction. The crawl stage ([`crate::pipeline::crawl`]) puts them together with the
//! fetcher and the catalog.

pub mod extract;
pub mod robots;
pub mod scope;
pub mod shell;
pub mod simhash;
pub mod sitemap;
pub mod ssrf;
pub mod urls;

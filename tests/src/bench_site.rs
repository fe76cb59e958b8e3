//! A generated site of `n` pages of English-like prose (headings, paragraphs, a code block
//! and a table per page, navigation and footer around), deterministic, for benchmarks.
//! Each page links to the index and to a few others, so a crawl from `/` reaches all.

use crate::server::{Response, Site};

const WORDS: &[&str] = &[
    "the", "system", "stores", "each", "page", "as", "markdown", "and", "splits", "it", "into", "chunks", "that",
    "keep", "their", "headings", "for", "citations", "when", "a", "user", "asks", "question", "search", "returns",
    "most", "relevant", "passages", "with", "links", "back", "to", "source", "operators", "configure", "limits",
    "on", "pages", "depth", "concurrency", "while", "workers", "process", "messages", "from", "queues", "every",
    "handler", "is", "idempotent", "so", "delivered", "twice", "changes", "nothing", "vectors", "are", "written",
    "index", "by", "deterministic", "identifiers", "which", "makes", "retries", "safe", "after", "failures",
    "network", "timeouts", "happen", "often", "in", "practice", "crawler", "respects", "robots", "rules", "delays",
    "between", "requests", "same", "host", "large", "documents", "need", "careful", "memory", "management",
    "embedding", "model", "runs", "locally", "without", "external", "service", "throughput", "matters", "because",
    "slowest", "stage", "pipeline", "sorting", "texts", "length", "reduces", "padding", "work", "batch", "size",
    "affects", "latency", "tables", "code", "blocks", "should", "never", "be", "cut", "middle", "unless", "they",
    "exceed", "token", "limit", "hybrid", "combines", "dense", "similarity", "keyword", "scores", "reciprocal",
    "rank", "fusion", "improves", "recall", "at", "top", "ranks", "chatbot", "quotes", "first", "results",
    "configuration", "file", "defines", "defaults", "environment", "variables", "override", "them", "deployment",
    "cloud", "functions", "share", "library", "tests", "exercise", "real", "services", "database", "transactions",
    "guarantee", "only", "one", "worker", "wins", "transition", "status", "moves", "forward", "progress", "visible",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn sentence(rng: &mut Rng) -> String {
    let n = 8 + rng.below(14);
    let mut words: Vec<&str> = (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect();
    let first = words[0].to_owned();
    let mut capital = first[..1].to_uppercase();
    capital.push_str(&first[1..]);
    words[0] = "";
    format!("{capital}{}.", words.join(" "))
}

fn paragraph(rng: &mut Rng) -> String {
    let n = 4 + rng.below(5);
    (0..n).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ")
}

/// Generates a site of `pages` pages: `/` and `/p/1` .. `/p/{pages-1}`.
#[must_use]
pub fn generate(pages: usize) -> Site {
    build(pages, 6, 3)
}

/// The same site with one short section per page (one chunk each), for tests that need
/// many pages but little embedding work.
#[must_use]
pub fn generate_small(pages: usize) -> Site {
    build(pages, 1, 1)
}

fn build(pages: usize, sections: usize, paragraphs: usize) -> Site {
    let mut site = Site::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..pages.max(1) {
        let path = if i == 0 { "/".to_owned() } else { format!("/p/{i}") };
        let mut body = format!("<h1>Guide page {i}</h1>");
        for s in 0..sections {
            body.push_str(&format!("<h2 id=\"s{s}\">Section {s} of page {i}</h2>"));
            for _ in 0..paragraphs {
                body.push_str(&format!("<p>{}</p>", paragraph(&mut rng)));
            }
        }
        body.push_str(&format!(
            "<pre><code class=\"language-python\">def handler(event):\n    return process(event, page={i})\n</code></pre>\
             <table><tr><th>Setting</th><th>Value</th></tr><tr><td>limit</td><td>{}</td></tr></table>",
            rng.below(1000)
        ));
        let mut links = String::from("<ul>");
        for k in 1..=8 {
            let target = (i * 7 + k * 13) % pages.max(1);
            let href = if target == 0 { "/".to_owned() } else { format!("/p/{target}") };
            links.push_str(&format!("<li><a href=\"{href}\">Page {target}</a></li>"));
        }
        // The index links to every page, so a depth-1 crawl reaches the whole site.
        if i == 0 {
            for t in 1..pages {
                links.push_str(&format!("<li><a href=\"/p/{t}\">Page {t}</a></li>"));
            }
        }
        links.push_str("</ul>");
        let html = format!(
            "<!doctype html><html><head><title>Guide {i}</title></head><body>\
             <nav class=\"navbar\"><a href=\"/\">Home</a> <a href=\"/p/1\">Start</a></nav>\
             <main>{body}<h2>See also</h2>{links}</main>\
             <footer class=\"site-footer\">Copyright 2026 Bench Corp.</footer></body></html>"
        );
        site.page(&path, Response::html(html));
    }
    site
}

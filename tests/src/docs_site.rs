//! A generated documentation site: sections, topics, details pages and a deep chain, each
//! page wrapped in navigation, a cookie banner and a footer; topics carry code blocks and
//! tables. Every boilerplate text contains the word `boilerplate`, so a test can check that
//! none of it reached a chunk.
//!
//! Crawled from `/docs/` with `include /docs/**`, `exclude /docs/private/**` and max depth 3,
//! exactly [`DocsSite::expected_pages`] are indexed.

use crate::server::{Response, Site};

/// Sections under `/docs/`.
pub const SECTIONS: usize = 6;
/// Topics per section.
pub const TOPICS: usize = 5;
/// Crawl depth the expectations assume.
pub const MAX_DEPTH: u32 = 3;

const ANIMALS: [&str; 6] = ["falcon", "otter", "lynx", "heron", "badger", "gecko"];
const VERBS: [&str; 5] = ["configures", "validates", "compresses", "schedules", "encrypts"];
/// One object per topic page, so that no two topic sentences mean nearly the same thing.
const THINGS: [&str; 30] = [
    "the ingestion queue", "every snapshot", "remote replicas", "the audit log", "session tokens",
    "the billing ledger", "thumbnail caches", "the payroll export", "firmware images", "the invoice archive",
    "webhook retries", "the search synonyms", "printer drivers", "the greenhouse sensors", "tax reports",
    "the shipping labels", "video transcodes", "the loyalty points", "backup tapes", "the weather feed",
    "calendar invites", "the warehouse robots", "font bundles", "the parking permits", "satellite photos",
    "the recipe database", "license keys", "the elevator logs", "chat transcripts", "the solar panels",
];

/// The generated site with what a correct crawl of it must produce.
pub struct DocsSite {
    pub site: Site,
    /// Paths (from the site root) that must end up indexed.
    pub expected: Vec<String>,
    /// Paths that must never be indexed (out of scope, excluded, too deep).
    pub never: Vec<String>,
}

fn layout(title: &str, body: &str) -> String {
    let mut nav = String::from(r#"<nav class="site-nav" aria-label="Site navigation boilerplate"><a href="/docs/">Home</a>"#);
    for s in 0..SECTIONS {
        nav.push_str(&format!(r#" <a href="/docs/s{s}/">Section {s} boilerplate</a>"#));
    }
    nav.push_str(r#" <a href="/blog/">Blog boilerplate</a> <a href="/about">About boilerplate</a></nav>"#);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Fixture Docs</title>
<script>window.analytics = "boilerplate";</script>
<style>body {{ font-family: sans-serif; }}</style></head>
<body>
<div class="cookie-banner">We use cookies (cookie banner boilerplate). <button>Accept</button></div>
<header class="site-header"><a href="/" class="logo">Fixture Docs boilerplate</a>{nav}</header>
<aside class="sidebar"><h3>On this page boilerplate</h3><ul><li><a href="/docs/s0/">Sidebar boilerplate link</a></li></ul></aside>
<main>
{body}
</main>
<footer class="site-footer"><p>Copyright 2026 Fixture Corp, footer boilerplate. All rights reserved.</p>
<a href="/docs/legal">Legal</a> <a href="https://external.invalid/partner">Partner boilerplate</a>
<a href="mailto:docs@fixture.invalid">Mail boilerplate</a></footer>
</body></html>"#
    )
}

/// The sentence unique to topic `t` of section `s` (searching for it must find that page).
#[must_use]
pub fn topic_sentence(s: usize, t: usize) -> String {
    format!(
        "The {} module {} {} whenever the {}-{} threshold is exceeded.",
        ANIMALS[s % ANIMALS.len()],
        VERBS[t % VERBS.len()],
        THINGS[(s * TOPICS + t) % THINGS.len()],
        ANIMALS[(s + t + 1) % ANIMALS.len()],
        s * 10 + t
    )
}

fn topic_page(s: usize, t: usize) -> String {
    let mut siblings = String::new();
    for o in 0..TOPICS {
        if o != t {
            siblings.push_str(&format!(r#"<li><a href="/docs/s{s}/t{o}">Topic {s}.{o}</a></li>"#));
        }
    }
    let details = if t == 0 { format!(r#"<p>Read the <a href="/docs/s{s}/t0/details">details of topic {s}.0</a>.</p>"#) } else { String::new() };
    let body = format!(
        r#"<article><h1>Topic {s}.{t}: {animal} {verb}</h1>
<p>{sentence} This paragraph explains, in plain words, how operators tune the behaviour for production workloads
and what happens when the limit is reached during peak traffic.</p>
<h2 id="usage-{s}-{t}">Usage</h2>
<p>Call the API from a small program. The example below starts a worker and waits for its first result.</p>
<pre><code class="language-rust">fn main() {{
    let worker = fixture::Worker::new("{animal}-{t}");
    worker.run().expect("worker {s}.{t} starts");
}}</code></pre>
<h2>Options</h2>
<table><thead><tr><th>Option</th><th>Default</th><th>Meaning</th></tr></thead>
<tbody><tr><td>{animal}_limit</td><td>{limit}</td><td>Largest batch the {animal} module accepts</td></tr>
<tr><td>{animal}_timeout</td><td>{timeout}s</td><td>Seconds before a stalled batch is retried</td></tr></tbody></table>
{details}
<h2>Related topics</h2><ul>{siblings}</ul>
</article>"#,
        animal = ANIMALS[s % ANIMALS.len()],
        verb = VERBS[t % VERBS.len()],
        sentence = topic_sentence(s, t),
        limit = 100 * (t + 1),
        timeout = 5 * (s + 1),
    );
    layout(&format!("Topic {s}.{t}"), &body)
}

impl DocsSite {
    /// Generates the site.
    #[must_use]
    pub fn generate() -> Self {
        let mut site = Site::default();
        let mut expected = Vec::new();
        let mut never = Vec::new();

        let mut index = String::from("<h1>Fixture documentation</h1><p>Welcome to the fixture documentation. It describes six modules and how to operate them.</p><ul>");
        for s in 0..SECTIONS {
            index.push_str(&format!(r#"<li><a href="/docs/s{s}/">Section {s}: the {} module</a></li>"#, ANIMALS[s]));
        }
        index.push_str(r#"</ul><p>Other places: <a href="/docs/deep/1">a long walk</a>, <a href="/docs/private/secret">private notes</a>,
            <a href="/blog/2026/launch">the launch post</a>, <a href="https://external.invalid/docs">external docs</a>,
            <a href="/docs/s1/?utm_source=index#top">section one again</a>, <a href="javascript:void(0)">a script link</a>.</p>"#);
        site.page("/docs/", Response::html(layout("Fixture documentation", &index)));
        expected.push("/docs/".to_owned());

        for s in 0..SECTIONS {
            let mut body = format!(
                "<h1>Section {s}: the {animal} module</h1><p>The {animal} module groups {TOPICS} topics. Each topic covers one behaviour of the {animal} module in depth.</p><ul>",
                animal = ANIMALS[s]
            );
            for t in 0..TOPICS {
                body.push_str(&format!(r#"<li><a href="/docs/s{s}/t{t}">Topic {s}.{t}</a></li>"#));
            }
            body.push_str("</ul>");
            site.page(&format!("/docs/s{s}/"), Response::html(layout(&format!("Section {s}"), &body)));
            expected.push(format!("/docs/s{s}/"));
            for t in 0..TOPICS {
                site.page(&format!("/docs/s{s}/t{t}"), Response::html(topic_page(s, t)));
                expected.push(format!("/docs/s{s}/t{t}"));
            }
            let details = format!(
                r#"<h1>Details of topic {s}.0</h1><p>The details page of the {animal} module lists every internal counter and
                the reasons each one may grow during a long-running import.</p><p><a href="/docs/s{s}/t0/details/more">Even more details</a></p>"#,
                animal = ANIMALS[s]
            );
            site.page(&format!("/docs/s{s}/t0/details"), Response::html(layout("Details", &details)));
            expected.push(format!("/docs/s{s}/t0/details"));
            let more = "<h1>More details</h1><p>This page is one level too deep to be crawled.</p>";
            site.page(&format!("/docs/s{s}/t0/details/more"), Response::html(layout("More", more)));
            never.push(format!("/docs/s{s}/t0/details/more"));
        }

        // Each step its own words: pages differing only by their numbers would be near
        // duplicates.
        let steps = ["inventory the schemas", "rehearse the cutover", "switch the traffic", "retire the old cluster"];
        for d in 1..=4 {
            let body = format!(
                r#"<h1>Deep page {d}</h1><p>Step {d} of a long walk through nested pages about migration planning: {}.</p><p><a href="/docs/deep/{}">Next step</a></p>"#,
                steps[d - 1],
                d + 1
            );
            site.page(&format!("/docs/deep/{d}"), Response::html(layout(&format!("Deep {d}"), &body)));
            if d <= MAX_DEPTH as usize { expected.push(format!("/docs/deep/{d}")) } else { never.push(format!("/docs/deep/{d}")) }
        }
        let legal = "<h1>Legal notice</h1><p>The fixture documentation is published under a permissive licence for testing crawlers.</p>";
        site.page("/docs/legal", Response::html(layout("Legal", legal)));
        expected.push("/docs/legal".to_owned());

        for (path, text) in [
            ("/docs/private/secret", "Private notes that an exclude pattern keeps out."),
            ("/blog/", "The blog is outside the included paths."),
            ("/blog/2026/launch", "A launch post outside the included paths."),
            ("/about", "About us, outside the included paths."),
        ] {
            site.page(path, Response::html(layout("Other", &format!("<h1>Other</h1><p>{text}</p>"))));
            never.push(path.to_owned());
        }
        expected.sort();
        Self { site, expected, never }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_is_big_enough() {
        let s = DocsSite::generate();
        assert!(s.expected.len() >= 30);
        assert_eq!(s.expected.len(), 1 + SECTIONS * (TOPICS + 2) + 3 + 1);
        for p in &s.expected {
            assert!(s.site.routes.contains_key(p), "{p}");
        }
    }
}

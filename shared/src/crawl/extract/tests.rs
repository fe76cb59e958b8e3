use url::Url;

use super::*;

const PAGE: &str = r##"<!doctype html>
<html><head><title>Install - Widget Docs</title>
<link rel="canonical" href="/docs/install?utm_source=x">
<script>var tracking = 1;</script><style>.x{}</style></head>
<body>
<header class="site-header"><a href="/">Home</a> <a href="/blog/">Blog</a></header>
<nav class="sidebar"><ul><li><a href="/docs/a">A</a></li><li><a href="/docs/b#frag">B</a></li></ul></nav>
<div id="cookie-banner">We use cookies. <button>Accept</button></div>
<main>
  <h1 id="install">Installing Widget</h1>
  <p>Widget installs with <code>cargo</code>. See <a href="../docs/config.html">configuration</a>.</p>
  <section id="requirements"><h2>Requirements <a class="headerlink" href="#requirements">¶</a></h2>
  <ul><li>Rust 1.80</li><li>A C compiler<ul><li>gcc or clang</li></ul></li></ul></section>
  <div class="highlight-python notranslate"><div class="highlight"><pre><span class="kn">import</span> widget
widget.run()</pre></div></div>
  <pre><code class="language-rust">fn main() {
    println!("hi");
}</code></pre>
  <table><thead><tr><th>Option</th><th>Default</th></tr></thead>
  <tbody><tr><td>threads</td><td>4</td></tr><tr><td>verbose</td><td>false</td></tr></tbody></table>
  <p hidden>secret hidden text</p>
  <div class="share-buttons social">Share on X</div>
</main>
<footer><a href="https://other.org/">Other site</a> Copyright 2026 Widget Inc.</footer>
<a href="mailto:x@y.z">mail</a><a href="javascript:void(0)">js</a>
</body></html>"##;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[test]
fn main_content_without_boilerplate() {
    let e = extract(PAGE, &url("https://widget.dev/docs/install"), &[]);
    let md = &e.markdown;
    assert_eq!(e.title.as_deref(), Some("Installing Widget"));
    assert!(md.starts_with("# Installing Widget\n"), "{md}");
    assert!(md.contains("## Requirements\n"), "{md}");
    for gone in ["cookies", "Accept", "Copyright", "Share on X", "Blog", "secret hidden", "tracking", "¶"] {
        assert!(!md.contains(gone), "{gone:?} should be gone:\n{md}");
    }
    assert!(md.contains("[configuration](https://widget.dev/docs/config.html)"), "{md}");
    assert!(md.contains("- Rust 1.80"), "{md}");
    assert!(md.contains("  - gcc or clang") || md.contains("    - gcc or clang"), "{md}");
    assert!(md.contains("```python\nimport widget\nwidget.run()\n```"), "{md}");
    assert!(md.contains("```rust\nfn main() {\n    println!(\"hi\");\n}\n```"), "{md}");
    assert!(md.contains("| Option | Default |\n| --- | --- |\n"), "{md}");
    assert!(md.contains("| threads | 4 |"), "{md}");
    assert!(e.text_chars > 50);
    assert_eq!(e.scripts, 1);
}

#[test]
fn links_canonical_and_anchors() {
    let e = extract(PAGE, &url("https://widget.dev/docs/install"), &[]);
    let links: Vec<&str> = e.links.iter().map(Url::as_str).collect();
    assert_eq!(
        links,
        [
            "https://widget.dev/",
            "https://widget.dev/blog/",
            "https://widget.dev/docs/a",
            "https://widget.dev/docs/b",
            "https://widget.dev/docs/config.html",
            "https://other.org/",
        ]
    );
    assert_eq!(e.canonical.as_ref().map(Url::as_str), Some("https://widget.dev/docs/install"));
    assert_eq!(
        e.anchors,
        vec![
            HeadingAnchor { text: "Installing Widget".into(), id: "install".into() },
            HeadingAnchor { text: "Requirements".into(), id: "requirements".into() },
        ]
    );
}

/// DocBook XSL output (the PostgreSQL manual, and many other manuals) frames every page
/// with a navigation table above and below the content: previous / up / next pages.
#[test]
fn docbook_navigation_header_and_footer_are_dropped() {
    let html = r#"<html><head><title>ABORT</title></head><body id="docContent">
        <div class="navheader"><table summary="Navigation header"><tr><th colspan="5">ABORT</th></tr>
        <tr><td><a accesskey="p" href="sql-commands.html" title="SQL Commands">Prev</a></td>
        <th>SQL Commands</th><td><a accesskey="n" href="sql-alteraggregate.html">Next</a></td></tr></table><hr /></div>
        <div class="refentry"><div class="refnamediv"><h2>ABORT</h2><p>ABORT — abort the current transaction</p></div>
        <div class="refsect1"><h2>See Also</h2><a href="sql-begin.html">BEGIN</a></div></div>
        <div class="navfooter"><hr /><table summary="Navigation footer"><tr><td>SQL Commands</td>
        <td><a accesskey="h" href="index.html">Home</a></td><td>ALTER AGGREGATE</td></tr></table></div>
        </body></html>"#;
    let e = extract(html, &url("https://docs.example.com/sql-abort.html"), &[]);
    assert_eq!(
        e.markdown,
        "## ABORT\n\nABORT — abort the current transaction\n\n## See Also\n\n[BEGIN](https://docs.example.com/sql-begin.html)\n"
    );
    // The navigation still leads the crawl to the neighbouring pages.
    let links: Vec<&str> = e.links.iter().map(Url::as_str).collect();
    assert!(links.contains(&"https://docs.example.com/sql-alteraggregate.html"), "{links:?}");
}

/// Navigation named by other documentation generators: Javadoc 8 (`topNav`, `subNav`,
/// `bottomNav`), Texinfo 7 (`nav-panel`), Doxygen (`nav-path`); a class that merely contains
/// the letters (`canvas-note`, `navigator`) is kept.
#[test]
fn navigation_of_other_generators_is_dropped() {
    let html = r#"<html><head><title>Widget</title></head><body>
        <div class="topNav"><ul class="navList"><li><a href="overview-summary.html">Overview</a></li></ul></div>
        <div class="subNav"><a href="Gadget.html">Prev Class</a></div>
        <div class="nav-panel"><p>Next: <a href="Gadget.html">Gadget</a>, Up: <a href="index.html">Top</a></p></div>
        <div id="nav-path" class="navpath"><ul><li>widget.h</li></ul></div>
        <div class="contentContainer"><h2 id="summary">Class Widget</h2><p>A widget turns cranks.</p>
        <p class="canvas-note">Draws on a canvas.</p><p class="navigator">The navigator steers.</p></div>
        <div class="bottomNav"><a href="index-all.html">Index</a></div>
        </body></html>"#;
    let e = extract(html, &url("https://docs.example.com/Widget.html"), &[]);
    assert_eq!(
        e.markdown,
        "## Class Widget\n\nA widget turns cranks.\n\nDraws on a canvas.\n\nThe navigator steers.\n"
    );
    let links: Vec<&str> = e.links.iter().map(Url::as_str).collect();
    assert!(links.contains(&"https://docs.example.com/Gadget.html"), "{links:?}");
}

/// Texinfo 6 puts its "Next: / Previous: / Up:" line in `<div class="header">`, a class
/// too common to drop by name: it goes because every link in it leads to a neighbouring page
/// (`rel`). Doxygen's rows of tabs (`navrow1`, `navrow2`) go by id. A short paragraph with
/// one ordinary link, a long one whose links are all `rel="next"`, and a `div.header` with
/// content stay.
#[test]
fn texinfo_6_neighbour_lines_and_doxygen_tab_rows_are_dropped() {
    let html = r#"<html><head><title>Invoking grep</title></head><body lang="en">
        <div class="header"><p>
        Next: <a href="Regular-Expressions.html" accesskey="n" rel="next">Regular Expressions</a>,
        Previous: <a href="Introduction.html" accesskey="p" rel="prev">Introduction</a>,
        Up: <a href="index.html" accesskey="u" rel="up">grep</a> &nbsp;
        [<a href="index.html#SEC_Contents" title="Table of contents" rel="contents">Contents</a>]
        [<a href="Index.html" title="Index" rel="index">Index</a>]</p></div>
        <div id="navrow1" class="tabs"><ul class="tablist"><li><a href="index.html">Main Page</a></li>
        <li><a href="files.html">Files</a></li></ul></div>
        <div id="navrow2" class="tabs2"><ul class="tablist"><li><a href="globals.html">Globals</a></li></ul></div>
        <h2 class="chapter" id="Invoking">2 Invoking grep</h2>
        <div class="header"><p>The command line has options and operands.</p></div>
        <p>See <a href="Usage.html">Usage</a> for examples.</p>
        <p>LONG_NEXT <a href="Usage.html" rel="next">Usage</a></p>
        </body></html>"#;
    let long = "Every option is described below, with its short and long forms. ".repeat(6);
    let html = html.replace("LONG_NEXT", &long);
    let e = extract(&html, &url("https://docs.example.com/grep/Invoking.html"), &[]);
    let md = &e.markdown;
    assert!(md.starts_with("## 2 Invoking grep\n\nThe command line has options and operands.\n"), "{md}");
    for gone in ["Previous:", "Contents", "Main Page", "Globals"] {
        assert!(!md.contains(gone), "{gone:?} left in {md}");
    }
    assert!(md.contains("See [Usage](https://docs.example.com/grep/Usage.html) for examples."), "{md}");
    assert!(md.contains("Every option is described below") && md.contains("[Usage]"), "{md}");
    // The navigation still leads the crawl to the neighbouring pages.
    let links: Vec<&str> = e.links.iter().map(Url::as_str).collect();
    assert!(links.contains(&"https://docs.example.com/grep/Regular-Expressions.html"), "{links:?}");
    assert!(links.contains(&"https://docs.example.com/grep/files.html"), "{links:?}");
}

#[test]
fn class_words_split_at_separators_and_camel_case() {
    let words = |t: &str| class_words(t).collect::<Vec<_>>();
    assert_eq!(words("topNav"), ["top", "nav"]);
    assert_eq!(words("site-nav_bar"), ["site", "nav", "bar"]);
    assert_eq!(words("navheader"), ["navheader"]);
    assert_eq!(words("HTMLParser2Nav"), ["htmlparser2", "nav"]);
    assert_eq!(words("docContent"), ["doc", "content"]);
}

#[test]
fn body_fallback_and_base_href() {
    let html = r#"<html><head><base href="https://cdn.example.com/root/"></head><body>
        <header>Site header</header><div class="content"><h2>Title</h2><p>Body text here.</p>
        <a href="page.html">p</a></div><footer>foot</footer></body></html>"#;
    let e = extract(html, &url("https://example.com/x"), &[]);
    assert_eq!(e.markdown, "## Title\n\nBody text here.\n\n[p](https://cdn.example.com/root/page.html)\n");
    assert_eq!(e.links[0].as_str(), "https://cdn.example.com/root/page.html");
    assert_eq!(e.title, None);
}

#[test]
fn empty_shell_has_little_text() {
    let html = r#"<html><head><title>App</title><script src="/app.js"></script><script>boot()</script></head>
        <body><div id="root"></div></body></html>"#;
    let e = extract(html, &url("https://example.com/"), &[]);
    assert_eq!(e.text_chars, 0);
    assert_eq!(e.scripts, 2);
    assert_eq!(e.title.as_deref(), Some("App"));
}

#[test]
fn code_fences_survive_backticks_in_code() {
    let html = "<main><pre>echo ```not a fence```</pre></main>";
    let e = extract(html, &url("https://example.com/"), &[]);
    assert_eq!(e.markdown, "````\necho ```not a fence```\n````\n");
}

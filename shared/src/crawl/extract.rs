//! HTML to clean markdown: the page's main content (without navigation, sidebars, footers,
//! cookie banners and other boilerplate) with headings, lists, tables, links and code blocks
//! (with their language) kept; plus the title, the canonical URL and every link of the page.

use std::rc::Rc;
use std::sync::LazyLock;

use htmd::element_handler::{HandlerResult, Handlers};
use htmd::options::{BulletListMarker, Options};
use htmd::{Element, HtmlToMarkdown, Node};
use markup5ever_rcdom::NodeData;
use url::Url;

use super::urls::resolve_link;
use crate::domain::HeadingAnchor;

/// What extraction found on a page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extracted {
    pub title: Option<String>,
    pub markdown: String,
    /// Every http(s) link of the whole page (navigation included), canonical, in order,
    /// without duplicates.
    pub links: Vec<Url>,
    /// `<link rel="canonical">`, resolved.
    pub canonical: Option<Url>,
    /// `id`s of the content's headings, for citation anchors.
    pub anchors: Vec<HeadingAnchor>,
    /// Characters of visible text in the main content.
    pub text_chars: usize,
    /// `<script>` elements in the page.
    pub scripts: usize,
}

/// Tags never part of the main content.
const DROP_TAGS: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "form", "button", "select", "input",
    "textarea", "nav", "aside", "footer", "dialog", "object", "embed", "link", "meta", "head",
];

/// Class / id tokens of boilerplate blocks.
const BOILERPLATE_TOKENS: &[&str] = &[
    "navigation", "menu", "sidebar", "side-bar", "breadcrumb", "breadcrumbs", "footer",
    "site-footer", "site-header", "masthead", "skip-link", "skiplink", "toc", "table-of-contents", "share",
    "sharing", "social", "social-links", "ads", "ad-container", "pagination", "pager", "edit-page",
    // DocBook XSL's previous / up / next tables (the PostgreSQL manual and many others).
    "navheader", "navfooter",
    // Doxygen's rows of tabs above the content (Main Page, Files, Classes, ...).
    "navrow1", "navrow2", "navrow3", "navrow4",
    "headerlink", "related", "sphinxsidebar", "announcement", "banner-ad", "comments", "comment-list",
];

/// Words that mark boilerplate wherever they appear in a class or id: `cookie-notice`, `top-nav`
/// (Texinfo's `nav-panel`, Doxygen's `nav-path`), `topNav` / `subNav` (Javadoc 8).
const BOILERPLATE_WORDS: &[&str] = &[
    "cookie", "cookies", "consent", "gdpr", "sidebar", "breadcrumb", "breadcrumbs", "nav", "navbar", "advert",
    "advertisement", "newsletter", "popup", "overlay",
];

/// `rel` values of links to a page's neighbours in a manual (HTML's link types).
const NEIGHBOUR_RELS: &[&str] = &["next", "prev", "previous", "up", "start", "first", "last", "contents", "index", "home"];

/// Longest text of a block that [`is_neighbour_links`] may take for navigation.
const NEIGHBOUR_LINKS_MAX_CHARS: usize = 300;

/// ARIA roles of boilerplate regions.
const BOILERPLATE_ROLES: &[&str] = &["navigation", "banner", "contentinfo", "complementary", "search", "dialog"];

static CONVERTER: LazyLock<HtmlToMarkdown> = LazyLock::new(|| {
    HtmlToMarkdown::builder()
        .options(Options {
            bullet_list_marker: BulletListMarker::Dash,
            ul_bullet_spacing: 1,
            ol_number_spacing: 1,
            ..Options::default()
        })
        .skip_tags(vec!["img", "picture", "video", "audio", "source", "track", "map"])
        .add_handler(vec!["pre"], pre_handler)
        .build()
});

fn tag(node: &Node) -> Option<&str> {
    match &node.data {
        NodeData::Element { name, .. } => Some(&name.local),
        _ => None,
    }
}

fn attr(node: &Node, key: &str) -> Option<String> {
    match &node.data {
        NodeData::Element { attrs, .. } => {
            attrs.borrow().iter().find(|a| &*a.name.local == key).map(|a| a.value.to_string())
        }
        _ => None,
    }
}

fn parent(node: &Node) -> Option<Rc<Node>> {
    let weak = node.parent.take();
    let strong = weak.as_ref().and_then(std::rc::Weak::upgrade);
    node.parent.set(weak);
    strong
}

/// Visible text of a subtree, whitespace as in the source.
fn text_of(node: &Node, out: &mut String) {
    match &node.data {
        NodeData::Text { contents } => out.push_str(&contents.borrow()),
        NodeData::Element { name, .. } if &*name.local == "br" => out.push('\n'),
        _ => {
            for child in node.children.borrow().iter() {
                text_of(child, out);
            }
        }
    }
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn language_from_class(class: &str) -> Option<String> {
    class.split_whitespace().find_map(|c| {
        ["language-", "lang-", "highlight-", "sourceCode "]
            .iter()
            .find_map(|p| c.strip_prefix(p))
            .filter(|l| !l.is_empty() && !matches!(*l, "default" | "none" | "text" | "plaintext" | "notranslate"))
            .map(|l| l.to_ascii_lowercase())
    })
}

fn code_language(pre: &Rc<Node>) -> Option<String> {
    let own = |n: &Node| {
        attr(n, "data-lang")
            .or_else(|| attr(n, "data-language"))
            .filter(|l| !l.is_empty())
            .or_else(|| attr(n, "class").as_deref().and_then(language_from_class))
    };
    if let Some(l) = own(pre) {
        return Some(l);
    }
    for child in pre.children.borrow().iter() {
        if tag(child) == Some("code") {
            if let Some(l) = own(child) {
                return Some(l);
            }
        }
    }
    // Sphinx and others put the language on a wrapper: <div class="highlight-python">.
    let mut current = parent(pre);
    for _ in 0..3 {
        let Some(node) = current else { break };
        if let Some(l) = own(&node) {
            return Some(l);
        }
        current = parent(&node);
    }
    None
}

/// `<pre>` (with or without `<code>`, with highlighting spans) to a fenced code block.
fn pre_handler(_: &dyn Handlers, element: Element) -> Option<HandlerResult> {
    let mut code = String::new();
    text_of(element.node, &mut code);
    let code = code.trim_matches('\n');
    if code.trim().is_empty() {
        return None;
    }
    let longest_run = code.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(3.max(longest_run + 1));
    let lang = code_language(element.node).unwrap_or_default();
    Some(format!("\n\n{fence}{lang}\n{code}\n{fence}\n\n").into())
}

fn is_boilerplate(node: &Node, root_is_body: bool) -> bool {
    let Some(name) = tag(node) else { return false };
    if DROP_TAGS.contains(&name) || (root_is_body && name == "header") {
        return true;
    }
    if attr(node, "hidden").is_some()
        || attr(node, "aria-hidden").as_deref() == Some("true")
        || attr(node, "style").is_some_and(|s| s.replace(' ', "").to_ascii_lowercase().contains("display:none"))
    {
        return true;
    }
    if attr(node, "role").is_some_and(|r| BOILERPLATE_ROLES.contains(&r.to_ascii_lowercase().as_str())) {
        return true;
    }
    let mut names = attr(node, "class").unwrap_or_default();
    if let Some(id) = attr(node, "id") {
        names.push(' ');
        names.push_str(&id);
    }
    names.split_whitespace().any(|token| {
        BOILERPLATE_TOKENS.contains(&token.to_ascii_lowercase().as_str())
            || class_words(token).any(|w| BOILERPLATE_WORDS.contains(&w.as_str()))
    }) || is_neighbour_links(node, name)
}

/// A short block (`div`, `p`, `table`) whose links all lead to the page's neighbours
/// (`rel="next"`, `"prev"`, `"up"`, ...), whatever its class: the "Next: / Previous: / Up:"
/// line of Texinfo 6 (`class="header"`) and of other manual generators. Its links are still
/// followed by the crawler, which reads them before extraction. The walk stops at the first
/// other link or once the text is too long, so a large content block costs little.
fn is_neighbour_links(node: &Node, name: &str) -> bool {
    /// Counts the links and non-space characters under `node`; false as soon as a link is
    /// not to a neighbour or the text passes [`NEIGHBOUR_LINKS_MAX_CHARS`].
    fn walk(node: &Node, links: &mut usize, chars: &mut usize) -> bool {
        node.children.borrow().iter().all(|child| match &child.data {
            NodeData::Text { contents } => {
                *chars += contents.borrow().chars().filter(|c| !c.is_whitespace()).count();
                *chars <= NEIGHBOUR_LINKS_MAX_CHARS
            }
            _ if tag(child) == Some("a") && attr(child, "href").is_some() => {
                *links += 1;
                let rel = attr(child, "rel").unwrap_or_default().to_ascii_lowercase();
                rel.split_whitespace().any(|r| NEIGHBOUR_RELS.contains(&r)) && walk(child, links, chars)
            }
            _ => walk(child, links, chars),
        })
    }
    let (mut links, mut chars) = (0, 0);
    matches!(name, "div" | "p" | "table") && walk(node, &mut links, &mut chars) && links > 0
}

/// The lower-case words of a class or id token, split at `-`, `_` and camelCase humps:
/// `topNav` and `top-nav` both give `top`, `nav`; `navheader` stays one word.
fn class_words(token: &str) -> impl Iterator<Item = String> + '_ {
    token.split(['-', '_']).flat_map(|part| {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut previous_lower = false;
        for c in part.chars() {
            if c.is_ascii_uppercase() && previous_lower && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_lowercase());
        }
        words.push(word);
        words
    })
}

struct Found {
    title: Option<String>,
    base: Option<String>,
    canonical: Option<String>,
    hrefs: Vec<String>,
    main: Option<Rc<Node>>,
    role_main: Option<Rc<Node>>,
    articles: Vec<Rc<Node>>,
    body: Option<Rc<Node>>,
    scripts: usize,
}

fn survey(document: &Rc<Node>) -> Found {
    let mut found = Found {
        title: None,
        base: None,
        canonical: None,
        hrefs: Vec::new(),
        main: None,
        role_main: None,
        articles: Vec::new(),
        body: None,
        scripts: 0,
    };
    let mut stack = vec![document.clone()];
    while let Some(node) = stack.pop() {
        if let Some(name) = tag(&node) {
            match name {
                "title" if found.title.is_none() => {
                    let mut t = String::new();
                    text_of(&node, &mut t);
                    found.title = Some(collapse_ws(&t)).filter(|t| !t.is_empty());
                }
                "base" if found.base.is_none() => found.base = attr(&node, "href"),
                "link" if found.canonical.is_none() => {
                    let rel = attr(&node, "rel").unwrap_or_default().to_ascii_lowercase();
                    if rel.split_whitespace().any(|r| r == "canonical") {
                        found.canonical = attr(&node, "href");
                    }
                }
                "a" | "area" => {
                    if let Some(href) = attr(&node, "href") {
                        found.hrefs.push(href);
                    }
                }
                "main" if found.main.is_none() => found.main = Some(node.clone()),
                "article" => found.articles.push(node.clone()),
                "body" if found.body.is_none() => found.body = Some(node.clone()),
                "script" => found.scripts += 1,
                _ => {}
            }
            if found.role_main.is_none() && attr(&node, "role").is_some_and(|r| r.eq_ignore_ascii_case("main")) {
                found.role_main = Some(node.clone());
            }
        }
        // Depth-first, document order.
        for child in node.children.borrow().iter().rev() {
            stack.push(child.clone());
        }
    }
    found
}

fn remove_boilerplate(root: &Rc<Node>, root_is_body: bool) {
    let mut stack = vec![root.clone()];
    while let Some(node) = stack.pop() {
        node.children.borrow_mut().retain(|c| !is_boilerplate(c, root_is_body));
        for child in node.children.borrow().iter() {
            stack.push(child.clone());
        }
    }
}

/// Absolute hrefs in the content, so markdown links work outside the site.
fn absolutize_links(root: &Rc<Node>, base: &Url) {
    let mut stack = vec![root.clone()];
    while let Some(node) = stack.pop() {
        if let NodeData::Element { name, attrs, .. } = &node.data {
            if &*name.local == "a" {
                let mut attrs = attrs.borrow_mut();
                if let Some(a) = attrs.iter_mut().find(|a| &*a.name.local == "href") {
                    match base.join(a.value.trim()) {
                        Ok(u) if matches!(u.scheme(), "http" | "https") => a.value = u.as_str().into(),
                        _ => {}
                    }
                }
            }
        }
        for child in node.children.borrow().iter() {
            stack.push(child.clone());
        }
    }
}

fn heading_anchors(root: &Rc<Node>) -> (Vec<HeadingAnchor>, Option<String>) {
    let mut anchors = Vec::new();
    let mut first_h1 = None;
    let mut stack = vec![root.clone()];
    while let Some(node) = stack.pop() {
        if let Some(name) = tag(&node) {
            if matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
                let mut t = String::new();
                text_of(&node, &mut t);
                let text = collapse_ws(&t);
                if name == "h1" && first_h1.is_none() && !text.is_empty() {
                    first_h1 = Some(text.clone());
                }
                let id = attr(&node, "id")
                    .or_else(|| {
                        node.children.borrow().iter().find_map(|c| {
                            (tag(c) == Some("a")).then(|| attr(c, "id").or_else(|| attr(c, "name"))).flatten()
                        })
                    })
                    .or_else(|| {
                        // <section id="x"><h2>..</h2> (Sphinx and others).
                        let p = parent(&node)?;
                        let first_element = p.children.borrow().iter().find(|c| tag(c).is_some()).cloned()?;
                        if Rc::ptr_eq(&first_element, &node) && matches!(tag(&p), Some("section" | "div")) {
                            attr(&p, "id")
                        } else {
                            None
                        }
                    });
                if let Some(id) = id.filter(|i| !i.is_empty()) {
                    if !text.is_empty() {
                        anchors.push(HeadingAnchor { text, id });
                    }
                }
                continue;
            }
        }
        for child in node.children.borrow().iter().rev() {
            stack.push(child.clone());
        }
    }
    (anchors, first_h1)
}

/// `| a    | b |` to `| a | b |` and `| ---- |` to `| --- |`: alignment padding costs
/// tokens and says nothing.
fn compact_table_row(line: &str) -> std::borrow::Cow<'_, str> {
    let t = line.trim();
    if !(t.len() >= 2 && t.starts_with('|') && t.ends_with('|')) || t.contains("\\|") {
        return std::borrow::Cow::Borrowed(line);
    }
    let cells: Vec<&str> = t[1..t.len() - 1].split('|').map(str::trim).collect();
    let mut row = String::from("|");
    for cell in cells {
        let rule = !cell.is_empty() && cell.chars().all(|c| c == '-' || c == ':');
        row.push(' ');
        row.push_str(if rule { "---" } else { cell });
        row.push_str(" |");
    }
    std::borrow::Cow::Owned(row)
}

fn tidy(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut blank_run = 0;
    let mut in_fence = false;
    for line in markdown.lines() {
        let trimmed_start = line.trim_start();
        if trimmed_start.starts_with("```") || trimmed_start.starts_with("~~~") {
            in_fence = !in_fence;
        }
        let line = if in_fence { line } else { line.trim_end() };
        if line.trim().is_empty() && !in_fence {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
            out.push('\n');
            continue;
        }
        blank_run = 0;
        if in_fence {
            out.push_str(line);
        } else {
            out.push_str(&compact_table_row(line));
        }
        out.push('\n');
    }
    out.trim().to_owned() + "\n"
}

/// Extracts a page.
#[must_use]
pub fn extract(html: &str, page_url: &Url, strip_params: &[String]) -> Extracted {
    let Ok(document) = CONVERTER.html_to_tree(html) else {
        return Extracted::default();
    };
    let found = survey(&document);
    let base = found
        .base
        .as_deref()
        .and_then(|b| page_url.join(b).ok())
        .unwrap_or_else(|| page_url.clone());
    let mut links = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for href in &found.hrefs {
        if let Some(url) = resolve_link(&base, href, strip_params) {
            if seen.insert(url.as_str().to_owned()) {
                links.push(url);
            }
        }
    }
    let canonical = found.canonical.as_deref().and_then(|c| resolve_link(&base, c, strip_params));

    let single_article = (found.articles.len() == 1).then(|| found.articles[0].clone());
    let (root, root_is_body) = match (found.main.clone(), found.role_main.clone(), single_article, found.body.clone()) {
        (Some(main), ..) => (main, false),
        (None, Some(main), ..) => (main, false),
        (None, None, Some(article), _) => (article, false),
        (None, None, None, Some(body)) => (body, true),
        (None, None, None, None) => (document.clone(), true),
    };
    remove_boilerplate(&root, root_is_body);
    absolutize_links(&root, &base);
    let (anchors, first_h1) = heading_anchors(&root);
    let markdown = tidy(&CONVERTER.tree_to_markdown(&root));
    let text_chars = markdown.chars().filter(|c| c.is_alphanumeric()).count();
    Extracted {
        title: first_h1.or(found.title),
        markdown,
        links,
        canonical,
        anchors,
        text_chars,
        scripts: found.scripts,
    }
}


#[cfg(test)]
mod tests;

//! Whether a page fetched over HTTP is an empty JavaScript shell: an application that builds
//! its content in the browser. With `render: auto` such a page is rendered again in the
//! browser; any other page is kept as fetched.

/// Characters of main-content text below which a page may be a shell.
pub const MIN_TEXT_CHARS: usize = 200;

/// Ids of the element single-page application frameworks mount into.
const APP_ROOT_IDS: &[&str] = &["root", "app", "__next", "__nuxt", "___gatsby", "svelte", "main-app"];

/// A page with little main text (`text_chars`), at least one `<script>`, and either an
/// application root element or a `<noscript>` asking for JavaScript.
#[must_use]
pub fn is_js_shell(html: &str, text_chars: usize, scripts: usize) -> bool {
    if text_chars >= MIN_TEXT_CHARS || scripts == 0 {
        return false;
    }
    let lower = html.to_ascii_lowercase();
    has_app_root(&lower) || noscript_asks_for_javascript(&lower)
}

fn has_app_root(lower: &str) -> bool {
    let by_id = APP_ROOT_IDS.iter().any(|id| {
        [format!("id=\"{id}\""), format!("id='{id}'"), format!("id={id}>"), format!("id={id} ")]
            .iter()
            .any(|attribute| lower.contains(attribute.as_str()))
    });
    by_id || lower.contains("<app-root") || lower.contains(" ng-app") || lower.contains("data-reactroot")
}

fn noscript_asks_for_javascript(lower: &str) -> bool {
    lower.match_indices("<noscript").any(|(at, _)| {
        let rest = &lower[at..];
        let end = rest.find("</noscript").unwrap_or(rest.len());
        rest[..end].contains("javascript")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_roots_and_noscript_with_scripts_and_little_text_are_shells() {
        let react = r#"<html><body><div id="root"></div><script src="/app.js"></script></body></html>"#;
        assert!(is_js_shell(react, 0, 1));
        let next = "<html><body><div id='__next'></div><script>boot()</script></body></html>";
        assert!(is_js_shell(next, 12, 2));
        let angular = "<html><body><app-root></app-root><script src=main.js></script></body></html>";
        assert!(is_js_shell(angular, 0, 1));
        let noscript = "<html><body><noscript>You need to enable JavaScript to run this app.</noscript><div class=x></div><script src=a.js></script></body></html>";
        assert!(is_js_shell(noscript, 0, 1));
    }

    #[test]
    fn pages_with_text_or_without_scripts_or_roots_are_not() {
        let react = r#"<html><body><div id="root"></div><script src="/app.js"></script></body></html>"#;
        assert!(!is_js_shell(react, MIN_TEXT_CHARS, 1), "enough text: server-rendered");
        assert!(!is_js_shell(react, 0, 0), "no script: nothing would render it");
        let short = "<html><body><p>Moved.</p><script>track()</script></body></html>";
        assert!(!is_js_shell(short, 6, 1), "a short static page with a tracker");
        let other_noscript = "<html><body><noscript><img src=pixel.gif></noscript><script>t()</script></body></html>";
        assert!(!is_js_shell(other_noscript, 0, 1));
        assert!(!is_js_shell(r#"<div id="rooted"></div><script></script>"#, 0, 1));
    }
}

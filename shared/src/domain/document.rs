//! The markdown document of a page as stored in the blob store: one metadata line (an HTML
//! comment, invisible when the markdown is rendered) followed by the page's markdown.

use serde::{Deserialize, Serialize};

const PREFIX: &str = "<!-- kb-meta ";
const SUFFIX: &str = " -->";

/// A heading of a page and its fragment id (for `url#id` citations).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadingAnchor {
    pub text: String,
    pub id: String,
}

/// Metadata kept with a page's markdown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentMeta {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<HeadingAnchor>,
}

/// Renders the stored form of a page.
#[must_use]
pub fn render_document(meta: &DocumentMeta, markdown: &str) -> String {
    let json = serde_json::to_string(meta).expect("document metadata serialises");
    // `-->` cannot occur in JSON output except inside strings; escape it there.
    let json = json.replace("-->", "--\\u003e");
    format!("{PREFIX}{json}{SUFFIX}\n{markdown}")
}

/// Splits a stored page into its metadata (when present) and the byte offset where the
/// markdown starts.
#[must_use]
pub fn parse_document(stored: &str) -> (Option<DocumentMeta>, usize) {
    let Some(rest) = stored.strip_prefix(PREFIX) else { return (None, 0) };
    let Some(line_end) = rest.find('\n') else { return (None, 0) };
    let line = &rest[..line_end];
    let Some(json) = line.strip_suffix(SUFFIX) else { return (None, 0) };
    match serde_json::from_str(json) {
        Ok(meta) => (Some(meta), PREFIX.len() + line_end + 1),
        Err(_) => (None, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let meta = DocumentMeta {
            url: "https://e.com/a".into(),
            title: Some("A --> B".into()),
            anchors: vec![HeadingAnchor { text: "Intro".into(), id: "intro".into() }],
        };
        let doc = render_document(&meta, "# A\n\ntext\n");
        let (parsed, offset) = parse_document(&doc);
        assert_eq!(parsed.unwrap(), meta);
        assert_eq!(&doc[offset..], "# A\n\ntext\n");
        assert_eq!(parse_document("# plain markdown"), (None, 0));
    }
}

//! What every vector index stores with a point: the chunk payload plus `url_prefixes` (the
//! page URL cut at each path segment), so "pages under this URL" is an exact keyword match.

use crate::error::StoreError;
use crate::ports::ChunkPayload;

/// URL prefixes at every path segment.
#[must_use]
pub fn url_prefixes(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    for (i, c) in url.char_indices().skip(after_scheme) {
        if c == '/' {
            out.push(url[..=i].to_owned());
        }
    }
    if !url.ends_with('/') {
        out.push(url.to_owned());
    }
    out
}

/// The payload stored with a point.
#[must_use]
pub fn point_payload(payload: &ChunkPayload) -> serde_json::Value {
    let mut value = serde_json::to_value(payload).expect("payload serialises");
    value["url_prefixes"] = serde_json::json!(url_prefixes(&payload.url));
    value
}

/// A stored payload back to a chunk payload.
///
/// # Errors
/// The payload does not have the expected fields.
pub fn parse_payload(value: serde_json::Value) -> Result<ChunkPayload, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt(format!("point payload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_prefixes_at_segments() {
        assert_eq!(
            url_prefixes("https://e.com/docs/a.html"),
            ["https://e.com/", "https://e.com/docs/", "https://e.com/docs/a.html"]
        );
        assert_eq!(url_prefixes("http://127.0.0.1:8080/x/"), ["http://127.0.0.1:8080/", "http://127.0.0.1:8080/x/"]);
    }
}

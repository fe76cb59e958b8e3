//! Retrieval-quality evaluation: a question set (JSON lines `{"question", "pages"}`) is
//! searched and the ranks of the answering pages give recall@1/5/10 and MRR@10. Hits are
//! page-level: a result is a hit when its page is one of the question's answers.

use serde::{Deserialize, Serialize};
use url::Url;

/// One question and the pages that answer it: absolute URLs, or page paths matched
/// against the end of a result's URL path (`sql-createtable.html`, `/docs/install`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QaItem {
    pub question: String,
    pub pages: Vec<String>,
}

/// A malformed question file, naming the line.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct QaError {
    pub line: usize,
    pub message: String,
}

/// Reads a question file (blank lines and lines starting with `#` are ignored).
///
/// # Errors
/// The first malformed line: not JSON of the right shape, an empty question, no pages.
pub fn parse_questions(text: &str) -> Result<Vec<QaItem>, QaError> {
    let mut items = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let item: QaItem = serde_json::from_str(raw).map_err(|e| QaError {
            line,
            message: format!("expected {{\"question\": \"...\", \"pages\": [\"...\"]}}: {e}"),
        })?;
        if item.question.trim().is_empty() {
            return Err(QaError { line, message: "\"question\" is empty".into() });
        }
        if item.pages.is_empty() || item.pages.iter().any(|p| p.trim().is_empty()) {
            return Err(QaError { line, message: "\"pages\" must list at least one non-empty URL or path".into() });
        }
        items.push(item);
    }
    if items.is_empty() {
        return Err(QaError { line: 0, message: "the file holds no questions".into() });
    }
    Ok(items)
}

/// Whether the page at `result_url` is the answer `answer` (an absolute URL, compared
/// without fragment and trailing slash, or a path matched against the end of the URL's
/// path on a segment boundary).
#[must_use]
pub fn page_matches(result_url: &str, answer: &str) -> bool {
    let Ok(result) = Url::parse(result_url) else { return false };
    let clean = |u: &Url| {
        let mut u = u.clone();
        u.set_fragment(None);
        u.to_string().trim_end_matches('/').to_owned()
    };
    if let Ok(answer) = Url::parse(answer) {
        return clean(&result) == clean(&answer);
    }
    let answer = answer.split('#').next().unwrap_or_default().trim_matches('/');
    let path = result.path().trim_matches('/');
    !answer.is_empty() && (path == answer || path.ends_with(&format!("/{answer}")))
}

/// The rank (1-based) of the first result whose page answers `item`.
#[must_use]
pub fn first_hit<'a>(result_urls: impl IntoIterator<Item = &'a str>, item: &QaItem) -> Option<usize> {
    result_urls.into_iter().position(|u| item.pages.iter().any(|a| page_matches(u, a))).map(|i| i + 1)
}

/// The figures of a question set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub questions: usize,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
}

impl Metrics {
    /// From the rank of each question's first hit (`None`: no hit in the results).
    #[must_use]
    pub fn from_ranks(ranks: &[Option<usize>]) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let n = ranks.len().max(1) as f64;
        let recall = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
        #[allow(clippy::cast_precision_loss)]
        let mrr = ranks.iter().filter_map(|r| r.filter(|&r| r <= 10)).map(|r| 1.0 / r as f64).sum::<f64>() / n;
        Self { questions: ranks.len(), recall_at_1: recall(1), recall_at_5: recall(5), recall_at_10: recall(10), mrr_at_10: mrr }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_questions_and_names_bad_lines() {
        let ok = "# comment\n{\"question\": \"How?\", \"pages\": [\"a.html\"]}\n\n{\"question\": \"Why?\", \"pages\": [\"b.html\", \"c.html\"]}\n";
        let items = parse_questions(ok).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].pages, ["b.html", "c.html"]);
        let bad = "{\"question\": \"How?\", \"pages\": [\"a.html\"]}\n{\"question\": \"\", \"pages\": [\"a\"]}\n";
        assert_eq!(parse_questions(bad).unwrap_err().line, 2);
        assert_eq!(parse_questions("{\"question\": \"x\", \"pages\": []}").unwrap_err().line, 1);
        assert_eq!(parse_questions("not json").unwrap_err().line, 1);
        assert_eq!(parse_questions("{\"question\": \"x\", \"page\": [\"a\"]}").unwrap_err().line, 1);
        assert!(parse_questions("\n# nothing\n").is_err());
    }

    #[test]
    fn page_matching() {
        let u = "http://127.0.0.1:8000/sql-createtable.html";
        assert!(page_matches(u, "sql-createtable.html"));
        assert!(page_matches(u, "/sql-createtable.html"));
        assert!(page_matches("http://h/docs/sql-createtable.html#x", "sql-createtable.html"));
        assert!(!page_matches(u, "createtable.html"), "segment boundary");
        assert!(!page_matches(u, "sql-createindex.html"));
        assert!(page_matches("https://h/docs/install/", "https://h/docs/install#top"));
        assert!(!page_matches("https://h/docs/install", "https://other/docs/install"));
        assert!(page_matches("https://h/docs/install", "docs/install"));
    }

    #[test]
    fn metrics_from_ranks() {
        let item = QaItem { question: "q".into(), pages: vec!["b.html".into()] };
        assert_eq!(first_hit(["http://h/a.html", "http://h/b.html"], &item), Some(2));
        assert_eq!(first_hit(["http://h/a.html"], &item), None);
        let m = Metrics::from_ranks(&[Some(1), Some(2), Some(7), None]);
        assert_eq!(m.questions, 4);
        assert!((m.recall_at_1 - 0.25).abs() < 1e-9);
        assert!((m.recall_at_5 - 0.5).abs() < 1e-9);
        assert!((m.recall_at_10 - 0.75).abs() < 1e-9);
        assert!((m.mrr_at_10 - (1.0 + 0.5 + 1.0 / 7.0) / 4.0).abs() < 1e-9);
        let late = Metrics::from_ranks(&[Some(11)]);
        assert_eq!((late.recall_at_10, late.mrr_at_10), (0.0, 0.0));
    }
}

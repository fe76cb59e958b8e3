//! BM25 keyword vectors for vector indexes that store sparse vectors (the Qdrant server):
//! words are lower-cased, English stop words dropped and the rest stemmed; a document
//! vector holds each term's saturated, length-normalised frequency, a query vector a 1 per
//! term. The index applies the inverse document frequency (Qdrant's `idf` modifier), which
//! together makes BM25.

use std::collections::BTreeMap;

use rust_stemmers::{Algorithm, Stemmer};

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Typical chunk length in terms.
const AVG_LEN: f32 = 150.0;

const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do",
    "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having",
    "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it",
    "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
    "yourselves",
];

/// A sparse vector: sorted term indices and their weights.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// Stable 32-bit FNV-1a hash of a term: its dimension.
fn term_index(term: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in term.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Turns texts into BM25 term vectors.
pub struct Bm25 {
    stemmer: Stemmer,
}

impl Default for Bm25 {
    fn default() -> Self {
        Self { stemmer: Stemmer::create(Algorithm::English) }
    }
}

impl Bm25 {
    fn terms(&self, text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .filter(|w| !STOP_WORDS.contains(&w.as_str()) && w.chars().count() <= 40)
            .map(|w| self.stemmer.stem(&w).into_owned())
            .collect()
    }

    /// The document vector of a stored text.
    #[must_use]
    pub fn document(&self, text: &str) -> SparseVector {
        let terms = self.terms(text);
        let len = terms.len() as f32;
        let mut tf: BTreeMap<u32, f32> = BTreeMap::new();
        for t in &terms {
            *tf.entry(term_index(t)).or_insert(0.0) += 1.0;
        }
        let norm = K1 * (1.0 - B + B * len / AVG_LEN);
        let (indices, values) = tf.into_iter().map(|(i, f)| (i, f * (K1 + 1.0) / (f + norm))).unzip();
        SparseVector { indices, values }
    }

    /// The query vector of a search text.
    #[must_use]
    pub fn query(&self, text: &str) -> SparseVector {
        let mut indices: Vec<u32> = self.terms(text).iter().map(|t| term_index(t)).collect();
        indices.sort_unstable();
        indices.dedup();
        let values = vec![1.0; indices.len()];
        SparseVector { indices, values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drops_stop_words_and_saturates() {
        let bm = Bm25::default();
        let q = bm.query("How do I configure the crawlers?");
        let d = bm.document("Configuring a crawler: the crawler configuration");
        assert_eq!(q.indices.len(), 2, "how/do/i/the are stop words");
        for i in &q.indices {
            assert!(d.indices.contains(i), "configure~configuring, crawlers~crawler");
        }
        let crawl = d.indices.iter().position(|i| *i == term_index("crawler")).unwrap();
        let one = bm.document("crawler");
        assert!(d.values[crawl] > one.values[0], "two occurrences weigh more than one");
        assert!(d.values[crawl] < 2.0 * one.values[0] * 1.5, "but saturate");
        assert!(bm.document("").indices.is_empty());
    }
}

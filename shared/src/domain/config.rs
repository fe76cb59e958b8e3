//! Per-source crawl options and per-KB chunking / embedding / vector-store options, with
//! their defaults and validation (every error names the offending field).

use serde::{Deserialize, Serialize};

/// A rejected input value: which field, why, and a stable machine-readable code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub code: String,
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), field: field.to_owned(), message: message.into() }
    }
}

/// How a page is fetched: plain HTTP, a headless browser, or HTTP first and the browser
/// when the page turns out to be an empty JavaScript shell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderMode {
    #[default]
    Auto,
    Http,
    Browser,
}

/// Crawl options of one web source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlConfig {
    /// Pages admitted into the crawl at most (the start URL included).
    pub max_pages: u32,
    /// Link distance from the start URL (depth 0) beyond which pages are not crawled.
    pub max_depth: u32,
    /// Path globs (`/docs/**`); when present a URL path must match one of them.
    pub include_patterns: Vec<String>,
    /// Path globs; a URL path matching one of them is never crawled.
    pub exclude_patterns: Vec<String>,
    /// Also follow links to subdomains of the start host.
    pub include_subdomains: bool,
    /// Honour robots.txt (rules and crawl-delay).
    pub respect_robots_txt: bool,
    /// Read sitemaps (sitemap.xml and those named in robots.txt) as extra seeds.
    pub use_sitemap: bool,
    /// How pages are fetched.
    pub render: RenderMode,
    /// Query parameters removed from every URL (in addition to `utm_*`).
    pub strip_query_params: Vec<String>,
    /// Requests in flight to one host at once, counted across every worker.
    pub max_concurrency_per_host: u32,
    /// Requests per second to one host, counted across every worker; `None`: no limit
    /// beyond robots.txt's `Crawl-delay`.
    pub max_requests_per_second: Option<f64>,
}

impl Default for CrawlConfig {
    fn default() -> Self {
        Self {
            max_pages: 100,
            max_depth: 3,
            include_patterns: Vec::new(),
            exclude_patterns: Vec::new(),
            include_subdomains: false,
            respect_robots_txt: true,
            use_sitemap: true,
            render: RenderMode::Auto,
            strip_query_params: Vec::new(),
            max_concurrency_per_host: 4,
            max_requests_per_second: None,
        }
    }
}

/// Largest `max_pages` one source may ask for.
pub const MAX_PAGES_LIMIT: u32 = 100_000;
/// Deepest `max_depth` one source may ask for.
pub const MAX_DEPTH_LIMIT: u32 = 50;
/// Largest `max_concurrency_per_host`.
pub const MAX_CONCURRENCY_PER_HOST: u32 = 64;
/// Largest `max_requests_per_second`.
pub const MAX_REQUESTS_PER_SECOND: f64 = 1000.0;

impl CrawlConfig {
    /// # Errors
    /// The first invalid field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.max_pages == 0 || self.max_pages > MAX_PAGES_LIMIT {
            return Err(ValidationError::new(
                "out_of_range",
                "max_pages",
                format!("max_pages must be between 1 and {MAX_PAGES_LIMIT}, got {}", self.max_pages),
            ));
        }
        if self.max_depth > MAX_DEPTH_LIMIT {
            return Err(ValidationError::new(
                "out_of_range",
                "max_depth",
                format!("max_depth must be at most {MAX_DEPTH_LIMIT}, got {}", self.max_depth),
            ));
        }
        if !(1..=MAX_CONCURRENCY_PER_HOST).contains(&self.max_concurrency_per_host) {
            return Err(ValidationError::new(
                "out_of_range",
                "max_concurrency_per_host",
                format!(
                    "max_concurrency_per_host must be between 1 and {MAX_CONCURRENCY_PER_HOST}, got {}",
                    self.max_concurrency_per_host
                ),
            ));
        }
        if let Some(rps) = self.max_requests_per_second {
            if !(rps > 0.0 && rps <= MAX_REQUESTS_PER_SECOND) {
                return Err(ValidationError::new(
                    "out_of_range",
                    "max_requests_per_second",
                    format!("max_requests_per_second must be above 0 and at most {MAX_REQUESTS_PER_SECOND}, got {rps}"),
                ));
            }
        }
        for (field, patterns) in
            [("include_patterns", &self.include_patterns), ("exclude_patterns", &self.exclude_patterns)]
        {
            for p in patterns {
                globset::Glob::new(p).map_err(|e| {
                    ValidationError::new("invalid_pattern", field, format!("invalid glob {p:?}: {e}"))
                })?;
            }
        }
        Ok(())
    }
}

/// How markdown is cut into chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkStrategy {
    /// Split on the largest structural unit that fits (sections, paragraphs, lines, words).
    #[default]
    Recursive,
    /// One chunk per heading section: small sections merged with the next, long ones split.
    ByHeading,
    /// Split where the embedding similarity between neighbouring sentences drops.
    Semantic,
    /// Fixed windows of tokens.
    Fixed,
}

impl ChunkStrategy {
    pub const ALL: [ChunkStrategy; 4] =
        [ChunkStrategy::Recursive, ChunkStrategy::ByHeading, ChunkStrategy::Semantic, ChunkStrategy::Fixed];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkStrategy::Recursive => "recursive",
            ChunkStrategy::ByHeading => "by_heading",
            ChunkStrategy::Semantic => "semantic",
            ChunkStrategy::Fixed => "fixed",
        }
    }
}

/// The unit of `chunk_size` and `chunk_overlap`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeUnit {
    #[default]
    Characters,
    Tokens,
}

/// Chunking options of a knowledge base.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkingConfig {
    pub strategy: ChunkStrategy,
    pub chunk_size: u32,
    pub chunk_overlap: u32,
    pub size_unit: SizeUnit,
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        // 500/100 rather than the usual 1000/200: smaller chunks put the answering page first
        // more often (README "Retrieval quality").
        Self { strategy: ChunkStrategy::Recursive, chunk_size: 500, chunk_overlap: 100, size_unit: SizeUnit::Characters }
    }
}

/// Smallest and largest chunk sizes accepted, in characters.
pub const CHUNK_SIZE_CHARS: (u32, u32) = (50, 20_000);
/// Smallest and largest chunk sizes accepted, in tokens.
pub const CHUNK_SIZE_TOKENS: (u32, u32) = (16, 8_192);

impl ChunkingConfig {
    /// # Errors
    /// The first invalid field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let (lo, hi) = match self.size_unit {
            SizeUnit::Characters => CHUNK_SIZE_CHARS,
            SizeUnit::Tokens => CHUNK_SIZE_TOKENS,
        };
        if !(lo..=hi).contains(&self.chunk_size) {
            return Err(ValidationError::new(
                "out_of_range",
                "chunk_size",
                format!("chunk_size must be between {lo} and {hi}, got {}", self.chunk_size),
            ));
        }
        if self.chunk_overlap >= self.chunk_size {
            return Err(ValidationError::new(
                "out_of_range",
                "chunk_overlap",
                format!(
                    "chunk_overlap ({}) must be smaller than chunk_size ({})",
                    self.chunk_overlap, self.chunk_size
                ),
            ));
        }
        Ok(())
    }
}

/// Embedding options of a knowledge base.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// The model the KB's vectors are made with; search embeds the query with the same one.
    pub model: String,
    /// Texts per forward pass of the model.
    pub batch_size: u32,
    /// Prefix each chunk with its page title and heading path before embedding it.
    pub contextual_headers: bool,
    /// How much of each neighbouring chunk's vector (the chunks just before and after it
    /// on its page) is added to a chunk's own before normalising: 0 embeds every chunk on
    /// its own; 0.2, the default, lets a chunk carry some of its surroundings (it ranks the
    /// right page first more often, see README "Retrieval quality").
    pub neighbor_weight: f32,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self { model: DEFAULT_MODEL.to_owned(), batch_size: 8, contextual_headers: true, neighbor_weight: DEFAULT_NEIGHBOR_WEIGHT }
    }
}

/// The default [`EmbeddingConfig::neighbor_weight`].
pub const DEFAULT_NEIGHBOR_WEIGHT: f32 = 0.2;

/// The embedded default model.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

impl EmbeddingConfig {
    /// # Errors
    /// The first invalid field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.model.trim().is_empty() {
            return Err(ValidationError::new("required", "model", "model must not be empty"));
        }
        if !(1..=256).contains(&self.batch_size) {
            return Err(ValidationError::new(
                "out_of_range",
                "batch_size",
                format!("batch_size must be between 1 and 256, got {}", self.batch_size),
            ));
        }
        if !(0.0..=1.0).contains(&self.neighbor_weight) {
            return Err(ValidationError::new(
                "out_of_range",
                "neighbor_weight",
                format!("neighbor_weight must be between 0 and 1, got {}", self.neighbor_weight),
            ));
        }
        Ok(())
    }
}

/// How a query is matched against the index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Embedding similarity only.
    Dense,
    /// BM25 keyword scoring only.
    Sparse,
    /// Both, fused by weighted reciprocal rank (`ports::fuse_hybrid`): the default, the best
    /// on every question set of the evaluation (README "Retrieval quality").
    #[default]
    Hybrid,
}

/// Vector-store options of a knowledge base.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VectorStoreConfig {
    /// Search mode used when a request does not name one.
    pub default_search_mode: SearchMode,
    /// Whether a search returns each page once, with its best chunk, when the request does
    /// not say (the default: the next results are other pages instead of the same page's
    /// other chunks, which ranks answering pages higher on the evaluation set, see README
    /// "Retrieval quality").
    pub group_by_page: bool,
}

impl Default for VectorStoreConfig {
    fn default() -> Self {
        Self { default_search_mode: SearchMode::default(), group_by_page: true }
    }
}

/// Everything configurable about how a knowledge base is built.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KbConfig {
    pub chunking: ChunkingConfig,
    pub embedding: EmbeddingConfig,
    pub vector_store: VectorStoreConfig,
}

impl KbConfig {
    /// # Errors
    /// The first invalid field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.chunking.validate()?;
        self.embedding.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_the_measured_best() {
        let c = KbConfig::default();
        c.validate().unwrap();
        assert_eq!((c.chunking.chunk_size, c.chunking.chunk_overlap), (500, 100));
        assert_eq!(c.vector_store.default_search_mode, SearchMode::Hybrid);
        assert!(c.vector_store.group_by_page);
        assert!(c.embedding.contextual_headers);
        assert!((c.embedding.neighbor_weight - 0.2).abs() < f32::EPSILON);
        CrawlConfig::default().validate().unwrap();
    }

    #[test]
    fn invalid_values_name_their_field() {
        let c = ChunkingConfig { chunk_overlap: 1000, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().field, "chunk_overlap");
        let c = ChunkingConfig { chunk_size: 10, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().field, "chunk_size");
        let c = CrawlConfig { max_pages: 0, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().field, "max_pages");
        let c = CrawlConfig { include_patterns: vec!["/a/[".into()], ..Default::default() };
        assert_eq!(c.validate().unwrap_err().field, "include_patterns");
        let c = CrawlConfig { max_concurrency_per_host: 0, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().field, "max_concurrency_per_host");
        for rps in [0.0, -1.0, 1001.0, f64::NAN] {
            let c = CrawlConfig { max_requests_per_second: Some(rps), ..Default::default() };
            assert_eq!(c.validate().unwrap_err().field, "max_requests_per_second", "{rps}");
        }
        CrawlConfig { max_requests_per_second: Some(0.5), max_concurrency_per_host: 1, ..Default::default() }.validate().unwrap();
        for w in [-0.1, 1.5, f32::NAN] {
            let c = EmbeddingConfig { neighbor_weight: w, ..Default::default() };
            assert_eq!(c.validate().unwrap_err().field, "neighbor_weight", "{w}");
        }
        EmbeddingConfig { neighbor_weight: 0.0, ..Default::default() }.validate().unwrap();
    }

    #[test]
    fn partial_json_takes_defaults_and_unknown_fields_are_refused() {
        let c: CrawlConfig = serde_json::from_str(r#"{"max_pages": 5}"#).unwrap();
        assert_eq!((c.max_pages, c.max_depth), (5, 3));
        assert!(serde_json::from_str::<CrawlConfig>(r#"{"max_pagez": 5}"#).is_err());
        let e: EmbeddingConfig = serde_json::from_str(r#"{"neighbor_weight": 0}"#).unwrap();
        assert_eq!((e.neighbor_weight, e.contextual_headers), (0.0, true));
        // A knowledge base stored before `group_by_page` existed groups by page.
        let v: VectorStoreConfig = serde_json::from_str(r#"{"default_search_mode": "hybrid"}"#).unwrap();
        assert_eq!((v.default_search_mode, v.group_by_page), (SearchMode::Hybrid, true));
        assert!(serde_json::from_str::<VectorStoreConfig>(r#"{"group_by_page": "yes"}"#).is_err());
        assert!(serde_json::from_str::<EmbeddingConfig>(r#"{"neighbor_weight": "lots"}"#).is_err());
        let s: ChunkingConfig = serde_json::from_str(r#"{"strategy": "fixed"}"#).unwrap();
        assert_eq!(s.strategy, ChunkStrategy::Fixed);
        assert!(serde_json::from_str::<ChunkingConfig>(r#"{"strategy": "magic"}"#).is_err());
    }
}

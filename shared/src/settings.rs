//! Typed settings: compiled-in defaults, overridden by environment variables (every one is
//! documented in README.md). Read once at start-up; nothing else reads the environment.

use std::path::PathBuf;
use std::time::Duration;

/// A setting with an unusable value.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct SettingsError {
    pub var: String,
    pub message: String,
}

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which matrix-product kernel the embedder's dense layers run (`KB_EMBED_KERNEL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedKernel {
    /// The best this CPU has: AVX-512, else AVX2 + FMA, else candle's product.
    Auto,
    /// Packed weights, AVX-512 (an error on a CPU without it).
    Avx512,
    /// Packed weights, AVX2 + FMA (an error on a CPU without them).
    Avx2,
    /// candle's general matrix product.
    Candle,
}

/// Which vector index a process uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorIndexKind {
    /// A Qdrant server (`QDRANT_URL`).
    Qdrant,
    /// pgvector in the catalog's Postgres (`DATABASE_URL`).
    PgVector,
    /// qdrant-edge in this process (`KB_DATA_DIR/vectors`).
    Embedded,
}

impl VectorIndexKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            VectorIndexKind::Qdrant => "qdrant",
            VectorIndexKind::PgVector => "pgvector",
            VectorIndexKind::Embedded => "embedded",
        }
    }
}

/// Every setting of a process.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `KB_DATA_DIR`: where the embedded adapters keep their files.
    pub data_dir: PathBuf,
    /// `KB_MODEL_DIR`: the embedding model directory.
    pub model_dir: PathBuf,
    /// `KB_EMBED_KERNEL`: the embedder's matrix-product kernel.
    pub embed_kernel: EmbedKernel,
    /// `KB_USER_AGENT`: sent with every crawler request.
    pub user_agent: String,
    /// `KB_FETCH_TIMEOUT_SECS`: per-page request timeout.
    pub fetch_timeout: Duration,
    /// `KB_MAX_PAGE_BYTES`: largest page body accepted (decompressed).
    pub max_page_bytes: u64,
    /// `KB_CRAWL_CONCURRENCY`: pages fetched at once by one process.
    pub crawl_concurrency: usize,
    /// `KB_ALLOW_PRIVATE_NETWORKS`: let the crawler reach loopback / private addresses.
    /// `None` means the mode's default (allowed for the local CLI, refused for servers).
    pub allow_private_networks: Option<bool>,
    /// `KB_MAX_RECEIVES`: deliveries of a message before it is dead-lettered.
    pub max_receives: u32,
    /// `KB_VISIBILITY_TIMEOUT_SECS`: how long a received message stays invisible.
    pub visibility_timeout: Duration,
    /// `DATABASE_URL`: `postgres://` selects Postgres; `sqlite://` or absent, the embedded catalog.
    pub database_url: Option<Secret>,
    /// `KB_DB_MAX_CONNECTIONS`: most Postgres connections one process opens (its pool's size).
    pub db_max_connections: u32,
    /// `REDIS_URL`: drafts and live status in Redis; absent, in this process.
    pub redis_url: Option<Secret>,
    /// `KB_REDIS_PREFIX`: prefix of every Redis key of this deployment.
    pub redis_prefix: String,
    /// `QDRANT_URL` (gRPC, e.g. `http://localhost:6334`).
    pub qdrant_url: Option<String>,
    /// `QDRANT_API_KEY`.
    pub qdrant_api_key: Option<Secret>,
    /// `KB_QDRANT_COLLECTION`: the collection holding every knowledge base's chunks.
    pub qdrant_collection: String,
    /// `KB_VECTOR_INDEX`: `qdrant` | `pgvector` | `embedded`; by default Qdrant when
    /// `QDRANT_URL` is set, else pgvector when the catalog is Postgres, else embedded.
    pub vector_index: VectorIndexKind,
    /// `KB_BUCKET`: blobs in this S3 bucket; absent, in `KB_DATA_DIR/blobs`.
    pub bucket: Option<String>,
    /// `KB_CRAWL_QUEUE_URL`, `KB_CHUNK_QUEUE_URL`, `KB_EMBED_QUEUE_URL`: SQS queues; absent,
    /// in-process queues.
    pub queue_urls: Option<[String; 3]>,
    /// `KB_JWT_SECRET`: HS256 secret of access tokens (at least 32 characters).
    pub jwt_secret: Option<Secret>,
    /// `KB_JWT_PUBLIC_KEY`: RSA public key (PEM, inline or a file path) to verify RS256 tokens.
    pub jwt_public_key: Option<String>,
    /// `KB_RATE_LIMIT_PER_MINUTE`: API requests per user per minute (0: no limit).
    pub rate_limit_per_minute: u32,
    /// `KB_MAX_UPLOAD_BYTES`: largest uploaded file.
    pub max_upload_bytes: u64,
    /// `KB_BROWSER_WS_URL`: DevTools websocket (or `http://host:port`) of a remote Chromium,
    /// used instead of launching one.
    pub browser_ws_url: Option<Secret>,
    /// `KB_CHROMIUM_PATH`, else the first of chromium, chromium-browser, google-chrome,
    /// google-chrome-stable on `PATH`; `None`: no browser in this process.
    pub chromium_path: Option<PathBuf>,
    /// `KB_BROWSER_TABS`: pages one process renders at once.
    pub browser_tabs: usize,
    /// `KB_BROWSER_RESTART_PAGES`: pages a browser renders before a fresh one replaces it.
    pub browser_restart_pages: u32,
    /// `KB_BROWSER_CONNECT_TIMEOUT_SECS`: how long connecting to the browser's DevTools
    /// endpoint (launched or remote) may take before the pages that need it fail.
    pub browser_connect_timeout: Duration,
}

/// Names of the Chromium executable looked for on `PATH`.
const CHROMIUM_NAMES: &[&str] = &["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/// Default of `KB_DB_MAX_CONNECTIONS`.
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 16;

/// Default of `KB_BROWSER_CONNECT_TIMEOUT_SECS` (the browser adapter's `CONNECT_TIMEOUT`).
pub const DEFAULT_BROWSER_CONNECT_TIMEOUT_SECS: u64 = 10;

/// Name of the default model's directory under `<data dir>/models`.
pub const DEFAULT_MODEL_DIR_NAME: &str = "all-MiniLM-L6-v2";

/// The user's data directory for this product (`~/.local/share/kb` on Linux).
#[must_use]
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("kb")
}

impl Settings {
    /// Settings from the process environment.
    ///
    /// # Errors
    /// A variable is set to an unusable value.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(env_var)
    }

    /// Settings from any variable lookup (tests pass a map).
    ///
    /// # Errors
    /// A variable is set to an unusable value.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let data_dir = get("KB_DATA_DIR").map_or_else(default_data_dir, PathBuf::from);
        let model_dir = get("KB_MODEL_DIR")
            .map_or_else(|| default_data_dir().join("models").join(DEFAULT_MODEL_DIR_NAME), PathBuf::from);
        Ok(Self {
            data_dir,
            model_dir,
            embed_kernel: embed_kernel(&get)?,
            user_agent: get("KB_USER_AGENT").unwrap_or_else(|| {
                format!("kb-crawler/{} (+https://github.com/kb-builder/kb)", env!("CARGO_PKG_VERSION"))
            }),
            fetch_timeout: Duration::from_secs(parse(&get, "KB_FETCH_TIMEOUT_SECS", 30, 1..=600)?),
            max_page_bytes: parse(&get, "KB_MAX_PAGE_BYTES", 5 * 1024 * 1024, 1024..=1024 * 1024 * 1024)?,
            crawl_concurrency: parse(&get, "KB_CRAWL_CONCURRENCY", 16, 1..=1024)?,
            allow_private_networks: get("KB_ALLOW_PRIVATE_NETWORKS")
                .map(|v| parse_bool("KB_ALLOW_PRIVATE_NETWORKS", &v))
                .transpose()?,
            max_receives: parse(&get, "KB_MAX_RECEIVES", 4, 1..=100)?,
            visibility_timeout: Duration::from_secs(parse(&get, "KB_VISIBILITY_TIMEOUT_SECS", 300, 1..=43_200)?),
            redis_prefix: get("KB_REDIS_PREFIX").unwrap_or_else(|| "kb:".to_owned()),
            qdrant_collection: get("KB_QDRANT_COLLECTION").unwrap_or_else(|| "kb_chunks".to_owned()),
            vector_index: vector_index(&get)?,
            bucket: get("KB_BUCKET"),
            queue_urls: queue_urls(&get)?,
            database_url: database_url(&get)?.map(Secret::new),
            db_max_connections: parse(&get, "KB_DB_MAX_CONNECTIONS", DEFAULT_DB_MAX_CONNECTIONS, 1..=1000)?,
            redis_url: get("REDIS_URL").map(Secret::new),
            qdrant_url: get("QDRANT_URL"),
            qdrant_api_key: get("QDRANT_API_KEY").map(Secret::new),
            jwt_secret: get("KB_JWT_SECRET").map(Secret::new),
            jwt_public_key: get("KB_JWT_PUBLIC_KEY"),
            rate_limit_per_minute: parse(&get, "KB_RATE_LIMIT_PER_MINUTE", 600, 0..=1_000_000)?,
            max_upload_bytes: parse(&get, "KB_MAX_UPLOAD_BYTES", 25 * 1024 * 1024, 1024..=1024 * 1024 * 1024)?,
            browser_ws_url: browser_ws_url(&get)?.map(Secret::new),
            chromium_path: chromium_path(&get)?,
            browser_tabs: parse(&get, "KB_BROWSER_TABS", 4, 1..=64)?,
            browser_restart_pages: parse(&get, "KB_BROWSER_RESTART_PAGES", 200, 1..=1_000_000)?,
            browser_connect_timeout: Duration::from_secs(parse(
                &get,
                "KB_BROWSER_CONNECT_TIMEOUT_SECS",
                DEFAULT_BROWSER_CONNECT_TIMEOUT_SECS,
                1..=600,
            )?),
        })
    }

    /// Settings of a server process (`kb serve`, `kb worker`, the functions): private
    /// networks are refused unless `KB_ALLOW_PRIVATE_NETWORKS=true`.
    #[must_use]
    pub fn for_server(mut self) -> Self {
        self.allow_private_networks = Some(self.allow_private_networks.unwrap_or(false));
        self
    }

    /// Whether the catalog is Postgres.
    #[must_use]
    pub fn uses_postgres(&self) -> bool {
        self.database_url.as_ref().is_some_and(|u| is_postgres(u.expose()))
    }

    /// Where the embedded catalog lives.
    #[must_use]
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("catalog.db")
    }

    /// Where the embedded blob store lives.
    #[must_use]
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }

    /// Where the embedded vector index lives.
    #[must_use]
    pub fn vector_dir(&self) -> PathBuf {
        self.data_dir.join("vectors")
    }
}

/// A variable of the process environment; set but empty counts as unset.
#[must_use]
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse<T>(get: &impl Fn(&str) -> Option<String>, var: &str, default: T, range: std::ops::RangeInclusive<T>) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = get(var) else { return Ok(default) };
    let value: T = raw.trim().parse().map_err(|_| SettingsError {
        var: var.to_owned(),
        message: format!("expected a number, got {raw:?}"),
    })?;
    if !range.contains(&value) {
        return Err(SettingsError {
            var: var.to_owned(),
            message: format!("must be between {} and {}, got {value}", range.start(), range.end()),
        });
    }
    Ok(value)
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn database_url(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, SettingsError> {
    let Some(url) = get("DATABASE_URL") else { return Ok(None) };
    if is_postgres(&url) || url.starts_with("sqlite:") {
        Ok(Some(url))
    } else {
        Err(SettingsError {
            var: "DATABASE_URL".to_owned(),
            message: "expected a postgres:// or sqlite:// URL".to_owned(),
        })
    }
}

fn embed_kernel(get: &impl Fn(&str) -> Option<String>) -> Result<EmbedKernel, SettingsError> {
    match get("KB_EMBED_KERNEL").map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "auto") => Ok(EmbedKernel::Auto),
        Some("avx512") => Ok(EmbedKernel::Avx512),
        Some("avx2") => Ok(EmbedKernel::Avx2),
        Some("candle") => Ok(EmbedKernel::Candle),
        Some(other) => Err(SettingsError {
            var: "KB_EMBED_KERNEL".to_owned(),
            message: format!("expected auto, avx512, avx2 or candle, got {other:?}"),
        }),
    }
}

fn vector_index(get: &impl Fn(&str) -> Option<String>) -> Result<VectorIndexKind, SettingsError> {
    let err = |message: String| SettingsError { var: "KB_VECTOR_INDEX".to_owned(), message };
    let kind = match get("KB_VECTOR_INDEX").map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("qdrant") => VectorIndexKind::Qdrant,
        Some("pgvector") => VectorIndexKind::PgVector,
        Some("embedded") => VectorIndexKind::Embedded,
        Some(other) => return Err(err(format!("expected qdrant, pgvector or embedded, got {other:?}"))),
        None if get("QDRANT_URL").is_some() => VectorIndexKind::Qdrant,
        None if get("DATABASE_URL").is_some_and(|u| is_postgres(&u)) => VectorIndexKind::PgVector,
        None => VectorIndexKind::Embedded,
    };
    if kind == VectorIndexKind::Qdrant && get("QDRANT_URL").is_none() {
        return Err(err("qdrant needs QDRANT_URL".to_owned()));
    }
    if kind == VectorIndexKind::PgVector && !get("DATABASE_URL").is_some_and(|u| is_postgres(&u)) {
        return Err(err("pgvector needs a postgres:// DATABASE_URL".to_owned()));
    }
    Ok(kind)
}

fn queue_urls(get: &impl Fn(&str) -> Option<String>) -> Result<Option<[String; 3]>, SettingsError> {
    let vars = ["KB_CRAWL_QUEUE_URL", "KB_CHUNK_QUEUE_URL", "KB_EMBED_QUEUE_URL"];
    let values: Vec<Option<String>> = vars.iter().map(|v| get(v)).collect();
    match values.iter().filter(|v| v.is_some()).count() {
        0 => Ok(None),
        3 => Ok(Some([values[0].clone().unwrap(), values[1].clone().unwrap(), values[2].clone().unwrap()])),
        _ => {
            let missing = vars.iter().zip(&values).find(|(_, v)| v.is_none()).map(|(k, _)| *k).unwrap_or_default();
            Err(SettingsError {
                var: missing.to_owned(),
                message: "set all three queue URLs (crawl, chunk, embed) or none".to_owned(),
            })
        }
    }
}

fn browser_ws_url(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, SettingsError> {
    let Some(url) = get("KB_BROWSER_WS_URL") else { return Ok(None) };
    if ["ws://", "wss://", "http://", "https://"].iter().any(|s| url.starts_with(s)) {
        Ok(Some(url))
    } else {
        Err(SettingsError { var: "KB_BROWSER_WS_URL".to_owned(), message: "expected a ws://, wss:// or http(s):// URL".to_owned() })
    }
}

fn chromium_path(get: &impl Fn(&str) -> Option<String>) -> Result<Option<PathBuf>, SettingsError> {
    if let Some(path) = get("KB_CHROMIUM_PATH") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(SettingsError { var: "KB_CHROMIUM_PATH".to_owned(), message: format!("no file at {}", path.display()) });
        }
        return Ok(Some(path));
    }
    let Some(dirs) = get("PATH") else { return Ok(None) };
    Ok(std::env::split_paths(&dirs)
        .flat_map(|dir| CHROMIUM_NAMES.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file()))
}

fn parse_bool(var: &str, raw: &str) -> Result<bool, SettingsError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(SettingsError { var: var.to_owned(), message: format!("expected true or false, got {raw:?}") }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_load() {
        let s = with(&[]).unwrap();
        assert!(s.data_dir.ends_with("kb"));
        assert!(s.model_dir.ends_with("models/all-MiniLM-L6-v2"));
        assert_eq!(s.fetch_timeout, Duration::from_secs(30));
        assert_eq!(s.allow_private_networks, None);
        assert!(s.user_agent.starts_with("kb-crawler/"));
    }

    #[test]
    fn overrides_apply_and_bad_values_name_the_variable() {
        let s = with(&[("KB_DATA_DIR", "/tmp/x"), ("KB_ALLOW_PRIVATE_NETWORKS", "true"), ("KB_FETCH_TIMEOUT_SECS", "5")])
            .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.allow_private_networks, Some(true));
        assert_eq!(s.fetch_timeout, Duration::from_secs(5));
        assert_eq!(with(&[("KB_FETCH_TIMEOUT_SECS", "abc")]).unwrap_err().var, "KB_FETCH_TIMEOUT_SECS");
        assert_eq!(with(&[("KB_FETCH_TIMEOUT_SECS", "0")]).unwrap_err().var, "KB_FETCH_TIMEOUT_SECS");
        assert_eq!(with(&[("KB_ALLOW_PRIVATE_NETWORKS", "maybe")]).unwrap_err().var, "KB_ALLOW_PRIVATE_NETWORKS");
    }

    #[test]
    fn services_and_their_defaults() {
        let s = with(&[]).unwrap();
        assert_eq!(s.vector_index, VectorIndexKind::Embedded);
        assert!(s.queue_urls.is_none() && s.bucket.is_none() && !s.uses_postgres());
        let s = with(&[("DATABASE_URL", "postgres://u@h/db")]).unwrap();
        assert_eq!(s.vector_index, VectorIndexKind::PgVector);
        assert!(s.uses_postgres());
        assert_eq!(format!("{:?}", s.database_url), "Some(Secret(***))");
        assert_eq!(s.db_max_connections, DEFAULT_DB_MAX_CONNECTIONS);
        assert_eq!(with(&[("KB_DB_MAX_CONNECTIONS", "3")]).unwrap().db_max_connections, 3);
        for bad in ["0", "1001", "many"] {
            let e = with(&[("KB_DB_MAX_CONNECTIONS", bad)]).unwrap_err();
            assert_eq!(e.var, "KB_DB_MAX_CONNECTIONS", "{bad}: {e:?}");
        }
        let s = with(&[("DATABASE_URL", "postgres://u@h/db"), ("QDRANT_URL", "http://q:6334")]).unwrap();
        assert_eq!(s.vector_index, VectorIndexKind::Qdrant);
        let s = with(&[("DATABASE_URL", "postgres://u@h/db"), ("QDRANT_URL", "http://q:6334"), ("KB_VECTOR_INDEX", "pgvector")])
            .unwrap();
        assert_eq!(s.vector_index, VectorIndexKind::PgVector);
        assert_eq!(with(&[("KB_VECTOR_INDEX", "qdrant")]).unwrap_err().var, "KB_VECTOR_INDEX");
        assert_eq!(with(&[("KB_VECTOR_INDEX", "pgvector")]).unwrap_err().var, "KB_VECTOR_INDEX");
        assert_eq!(with(&[("KB_VECTOR_INDEX", "milvus")]).unwrap_err().var, "KB_VECTOR_INDEX");
        assert_eq!(with(&[]).unwrap().embed_kernel, EmbedKernel::Auto);
        assert_eq!(with(&[("KB_EMBED_KERNEL", " AVX2 ")]).unwrap().embed_kernel, EmbedKernel::Avx2);
        assert_eq!(with(&[("KB_EMBED_KERNEL", "candle")]).unwrap().embed_kernel, EmbedKernel::Candle);
        let err = with(&[("KB_EMBED_KERNEL", "sse")]).unwrap_err();
        assert_eq!(err.var, "KB_EMBED_KERNEL");
        assert!(err.message.contains("expected auto, avx512, avx2 or candle"), "{}", err.message);
        assert_eq!(with(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var, "DATABASE_URL");
        assert_eq!(with(&[("KB_CRAWL_QUEUE_URL", "http://q/1")]).unwrap_err().var, "KB_CHUNK_QUEUE_URL");
        let s = with(&[("KB_CRAWL_QUEUE_URL", "a"), ("KB_CHUNK_QUEUE_URL", "b"), ("KB_EMBED_QUEUE_URL", "c")]).unwrap();
        assert_eq!(s.queue_urls, Some(["a".to_owned(), "b".to_owned(), "c".to_owned()]));
    }

    #[test]
    fn browser_settings() {
        let s = with(&[]).unwrap();
        assert_eq!((s.browser_tabs, s.browser_restart_pages), (4, 200));
        assert_eq!(s.browser_connect_timeout, Duration::from_secs(10));
        assert!(s.browser_ws_url.is_none() && s.chromium_path.is_none(), "no PATH, no KB_CHROMIUM_PATH: no browser");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("chromium-browser"), b"").unwrap();
        let path = format!("/nonexistent:{}", dir.path().display());
        let s = with(&[("PATH", path.as_str()), ("KB_BROWSER_TABS", "2")]).unwrap();
        assert_eq!(s.chromium_path, Some(dir.path().join("chromium-browser")));
        assert_eq!(s.browser_tabs, 2);
        assert_eq!(with(&[("KB_CHROMIUM_PATH", "/nonexistent/chrome")]).unwrap_err().var, "KB_CHROMIUM_PATH");
        assert_eq!(with(&[("KB_BROWSER_TABS", "0")]).unwrap_err().var, "KB_BROWSER_TABS");
        let s = with(&[("KB_BROWSER_CONNECT_TIMEOUT_SECS", "45")]).unwrap();
        assert_eq!(s.browser_connect_timeout, Duration::from_secs(45));
        for bad in ["0", "601", "ten"] {
            let e = with(&[("KB_BROWSER_CONNECT_TIMEOUT_SECS", bad)]).unwrap_err();
            assert_eq!(e.var, "KB_BROWSER_CONNECT_TIMEOUT_SECS", "{bad}: {e:?}");
        }
        assert_eq!(with(&[("KB_BROWSER_WS_URL", "localhost:9222")]).unwrap_err().var, "KB_BROWSER_WS_URL");
        let s = with(&[("KB_BROWSER_WS_URL", "ws://browser:3000/?token=x")]).unwrap();
        assert_eq!(format!("{:?}", s.browser_ws_url), "Some(Secret(***))");
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}

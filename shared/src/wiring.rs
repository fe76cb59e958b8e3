//! Chooses the adapter behind every port from the settings, once per process. Whatever is
//! not configured falls back to the embedded adapter, so any mix works (Postgres with local
//! blobs, SQS with SQLite, ...).

use std::sync::Arc;

use crate::adapters::no_browser::NoBrowser;
use crate::chunking::Chunker;
use crate::pipeline::Context;
use crate::ports::{BlobStore, Catalog, KeyValueStore, PageRenderer, VectorIndex, WorkQueue};
use crate::settings::{Settings, VectorIndexKind};
use crate::tokens::{ModelDir, TokenCounter};

/// Why a process could not start.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Model(#[from] crate::tokens::ModelError),
    #[error("{0}")]
    Store(#[from] crate::error::StoreError),
    #[error("{0}")]
    Embedder(#[from] crate::ports::EmbedError),
    #[error("{0}")]
    Fetcher(#[from] crate::ports::FetchError),
    /// A service is configured that this binary was built without.
    #[error("{0}")]
    Unsupported(String),
}

/// Which roles this process plays (each loads only what it needs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Roles {
    pub chunker: bool,
    pub embedder: bool,
}

impl Roles {
    pub const ALL: Roles = Roles { chunker: true, embedder: true };
    pub const NONE: Roles = Roles { chunker: false, embedder: false };
}

#[allow(dead_code)]
fn unsupported(var: &str, feature: &str) -> WiringError {
    WiringError::Unsupported(format!("{var} is set, but this binary was built without the `{feature}` feature"))
}

/// The catalog the settings ask for, and the Postgres pool when it is Postgres.
///
/// # Errors
/// The database cannot be opened, or this binary lacks its adapter.
pub async fn catalog(settings: &Settings) -> Result<(Arc<dyn Catalog>, Option<PgPool>), WiringError> {
    if settings.uses_postgres() {
        #[cfg(feature = "postgres")]
        {
            let url = settings.database_url.as_ref().expect("checked").expose();
            let catalog = crate::adapters::sql_catalog::PostgresCatalog::connect_with(url, settings.db_max_connections).await?;
            let pool = catalog.pool().clone();
            return Ok((Arc::new(catalog), Some(pool)));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(unsupported("DATABASE_URL", "postgres"));
    }
    #[cfg(feature = "sqlite")]
    {
        let path = match &settings.database_url {
            Some(url) => url.expose().to_owned(),
            None => settings.sqlite_path().to_string_lossy().into_owned(),
        };
        Ok((Arc::new(crate::adapters::sql_catalog::SqliteCatalog::open(&path).await?), None))
    }
    #[cfg(not(feature = "sqlite"))]
    Err(WiringError::Unsupported("set DATABASE_URL: this binary has no embedded catalog".to_owned()))
}

/// The Postgres pool type (a placeholder without the `postgres` feature).
#[cfg(feature = "postgres")]
pub type PgPool = sqlx::PgPool;
/// The Postgres pool type (a placeholder without the `postgres` feature).
#[cfg(not(feature = "postgres"))]
pub type PgPool = ();

/// The embedded catalog (the local CLI's listings use it without the rest).
///
/// # Errors
/// The SQLite file cannot be opened.
pub async fn embedded_catalog(settings: &Settings) -> Result<Arc<dyn Catalog>, WiringError> {
    Ok(catalog(settings).await?.0)
}

async fn blobs(settings: &Settings, aws: Option<&AwsConfig>) -> Result<Arc<dyn BlobStore>, WiringError> {
    match &settings.bucket {
        #[cfg(feature = "aws")]
        Some(bucket) => Ok(Arc::new(crate::adapters::aws::S3BlobStore::new(aws.expect("loaded for a bucket"), bucket))),
        #[cfg(not(feature = "aws"))]
        Some(_) => {
            let _ = aws;
            Err(unsupported("KB_BUCKET", "aws"))
        }
        None => Ok(Arc::new(crate::adapters::local_blob::LocalDirBlobStore::open(settings.blob_dir())?)),
    }
}

fn queue(settings: &Settings, aws: Option<&AwsConfig>) -> Result<Arc<dyn WorkQueue>, WiringError> {
    match &settings.queue_urls {
        #[cfg(feature = "aws")]
        Some([crawl, chunk, embed]) => {
            let urls = crate::adapters::aws::QueueUrls { crawl: crawl.clone(), chunk: chunk.clone(), embed: embed.clone() };
            Ok(Arc::new(crate::adapters::aws::SqsQueue::new(aws.expect("loaded for queues"), urls, settings.max_receives)))
        }
        #[cfg(not(feature = "aws"))]
        Some(_) => {
            let _ = aws;
            Err(unsupported("KB_CRAWL_QUEUE_URL", "aws"))
        }
        None => Ok(Arc::new(crate::adapters::memory_queue::InProcessQueue::new(
            settings.visibility_timeout,
            settings.max_receives,
        ))),
    }
}

async fn kv(settings: &Settings) -> Result<Arc<dyn KeyValueStore>, WiringError> {
    match &settings.redis_url {
        #[cfg(feature = "redis")]
        Some(url) => Ok(Arc::new(crate::adapters::redis_kv::RedisKv::connect(url.expose(), &settings.redis_prefix).await?)),
        #[cfg(not(feature = "redis"))]
        Some(_) => Err(unsupported("REDIS_URL", "redis")),
        None => Ok(Arc::new(crate::adapters::memory_kv::InMemoryKv::new())),
    }
}

/// The vector index the settings ask for.
///
/// # Errors
/// It cannot be opened, or this binary lacks its adapter.
pub async fn index(settings: &Settings, pg: Option<&PgPool>) -> Result<Arc<dyn VectorIndex>, WiringError> {
    match settings.vector_index {
        VectorIndexKind::Qdrant => {
            #[cfg(feature = "qdrant")]
            {
                let url = settings.qdrant_url.as_deref().expect("checked by the settings");
                let key = settings.qdrant_api_key.as_ref().map(|k| k.expose().to_owned());
                return Ok(Arc::new(
                    crate::adapters::qdrant_index::QdrantIndex::connect(url, key, &settings.qdrant_collection).await?,
                ));
            }
            #[cfg(not(feature = "qdrant"))]
            Err(unsupported("QDRANT_URL", "qdrant"))
        }
        VectorIndexKind::PgVector => {
            #[cfg(feature = "postgres")]
            {
                let pool = pg.ok_or_else(|| WiringError::Unsupported("pgvector needs the Postgres catalog".to_owned()))?;
                return Ok(Arc::new(crate::adapters::pgvector_index::PgVectorIndex::new(pool.clone()).await?));
            }
            #[cfg(not(feature = "postgres"))]
            {
                let _ = pg;
                Err(unsupported("KB_VECTOR_INDEX=pgvector", "postgres"))
            }
        }
        VectorIndexKind::Embedded => {
            let _ = pg;
            #[cfg(feature = "edge")]
            return Ok(Arc::new(crate::adapters::edge_index::EdgeVectorIndex::open(settings.vector_dir())?));
            #[cfg(not(feature = "edge"))]
            Err(WiringError::Unsupported(
                "no vector index configured: set QDRANT_URL, or a postgres:// DATABASE_URL for pgvector".to_owned(),
            ))
        }
    }
}

/// The embedding model of `settings`.
///
/// # Errors
/// The model directory is missing or unusable.
#[cfg(feature = "candle")]
pub fn embedder(settings: &Settings) -> Result<Arc<dyn crate::ports::Embedder>, WiringError> {
    let info = ModelDir::open(&settings.model_dir)?;
    Ok(Arc::new(crate::adapters::candle_embedder::CandleEmbedder::load_with(info, settings.embed_kernel)?))
}

/// The chunker (it needs the model's tokenizer, not the model).
///
/// # Errors
/// The model directory is missing or unusable.
pub fn chunker(settings: &Settings) -> Result<Arc<Chunker>, WiringError> {
    let info = ModelDir::open(&settings.model_dir)?;
    Ok(Arc::new(Chunker::new(TokenCounter::open(&info)?)))
}

/// The page renderer of this process: a remote browser (`KB_BROWSER_WS_URL`), else Chromium
/// launched on first use (`KB_CHROMIUM_PATH` or found on `PATH`), else none (pages that need
/// a browser fail with `browser_unavailable`).
#[must_use]
pub fn renderer(settings: &Settings) -> Arc<dyn PageRenderer> {
    #[cfg(feature = "browser")]
    {
        use crate::adapters::browser::{BrowserOptions, BrowserSource, ChromiumRenderer};
        let source = match (&settings.browser_ws_url, &settings.chromium_path) {
            (Some(url), _) => BrowserSource::Remote(url.expose().to_owned()),
            (None, Some(path)) => BrowserSource::Launch(path.clone()),
            (None, None) => {
                return Arc::new(NoBrowser(
                    "no Chromium found: install chromium, or set KB_CHROMIUM_PATH or KB_BROWSER_WS_URL".to_owned(),
                ));
            }
        };
        Arc::new(ChromiumRenderer::new(BrowserOptions {
            source,
            tabs: settings.browser_tabs,
            restart_pages: settings.browser_restart_pages,
            user_agent: settings.user_agent.clone(),
            policy: network_policy(settings),
            connect_timeout: settings.browser_connect_timeout,
        }))
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = settings;
        Arc::new(NoBrowser("this binary was built without the `browser` feature".to_owned()))
    }
}

/// The network policy of the crawler (HTTP fetcher and browser alike).
fn network_policy(settings: &Settings) -> crate::crawl::ssrf::NetworkPolicy {
    crate::crawl::ssrf::NetworkPolicy::new(settings.allow_private_networks.unwrap_or(true))
}

#[cfg(feature = "aws")]
type AwsConfig = aws_config::SdkConfig;
#[cfg(not(feature = "aws"))]
type AwsConfig = ();

/// A context on the adapters the settings select (embedded where nothing is configured).
///
/// # Errors
/// An adapter could not be opened, or this binary lacks one the settings ask for.
pub async fn context(settings: Settings, roles: Roles) -> Result<Context, WiringError> {
    let settings = Arc::new(settings);
    #[cfg(feature = "aws")]
    let aws = if settings.bucket.is_some() || settings.queue_urls.is_some() {
        Some(crate::adapters::aws::sdk_config().await)
    } else {
        None
    };
    #[cfg(not(feature = "aws"))]
    let aws: Option<AwsConfig> = None;
    let (catalog, pg) = catalog(&settings).await?;
    let index = index(&settings, pg.as_ref()).await?;
    #[cfg(feature = "candle")]
    let embedder = if roles.embedder { Some(embedder(&settings)?) } else { None };
    #[cfg(not(feature = "candle"))]
    let embedder = if roles.embedder {
        return Err(WiringError::Unsupported("this binary has no embedding model (feature `candle`)".to_owned()));
    } else {
        None
    };
    Ok(Context {
        blobs: blobs(&settings, aws.as_ref()).await?,
        queue: queue(&settings, aws.as_ref())?,
        catalog,
        kv: kv(&settings).await?,
        index,
        fetcher: Arc::new(crate::adapters::http_fetcher::HttpFetcher::new(&settings.user_agent, network_policy(&settings))?),
        renderer: renderer(&settings),
        chunker: if roles.chunker { Some(chunker(&settings)?) } else { None },
        embedder,
        settings,
    })
}

/// A context on the embedded adapters only (what `kb ingest` uses when nothing is configured).
///
/// # Errors
/// An adapter could not be opened.
pub async fn embedded_context(settings: Settings, roles: Roles) -> Result<Context, WiringError> {
    context(settings, roles).await
}

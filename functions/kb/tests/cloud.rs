//! The self-hosted cloud shape end to end: `kb serve` and two `kb worker` processes on
//! Postgres (+ pgvector), Redis and the S3 + SQS test server (moto), over the fixture site,
//! driven through the HTTP API like a user would. The same flow runs against a Qdrant server
//! when `QDRANT_URL` is set (an ignored test otherwise: scripts/test.sh includes it then).
//!
//! Asserts what a platform team relies on: markdown in the bucket for every page, the KB row
//! `ready` with exact counts in Postgres, the queues drained, search finding the right page;
//! a message delivered twice and a worker killed (SIGKILL) mid-run change nothing.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kb_e2e::docs_site::{topic_sentence, DocsSite};
use kb_e2e::FixtureServer;
use kb_shared::adapters::aws::{QueueUrls, S3BlobStore, SqsQueue};
use kb_shared::adapters::qdrant_index::QdrantIndex;
use kb_shared::adapters::sql_catalog::PostgresCatalog;
use kb_shared::api::Auth;
use kb_shared::domain::{KbId, KbStats, SourceSpec};
use kb_shared::messages::{ChunkMsg, CrawlMsg, EmbedMsg, QueueMessage};
use kb_shared::ports::{BlobStore, Catalog, QueueName, VectorIndex, WorkQueue};
use kb_shared::settings::Settings;
use kb_shared::testing::{self, TestDatabase};
use serde_json::{json, Value};

/// Queue visibility timeout: how soon a killed worker's messages come back.
const VISIBILITY_SECS: u32 = 15;
const MAX_RECEIVES: u32 = 4;
const DB_MAX_CONNECTIONS: u32 = 3;

/// A `kb` child process, killed when dropped; its stderr is forwarded with a prefix.
struct Proc {
    child: Child,
}

impl Proc {
    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Which vector index the processes use.
#[derive(Clone)]
enum Vectors {
    PgVector,
    Qdrant { url: String, collection: String },
}

/// Fresh services for one test: a database, a Redis prefix, a bucket and six queues.
struct Services {
    vectors: Vectors,
    bucket: String,
    urls: QueueUrls,
    dlqs: Vec<String>,
    queue: SqsQueue,
    blobs: S3BlobStore,
    secret: String,
    redis_prefix: String,
    data: tempfile::TempDir,
    // Dropped last: the processes (dropped first, by the test) hold connections to it.
    db: TestDatabase,
}

impl Services {
    async fn start(vectors: Vectors) -> Self {
        let config = testing::aws_config().await;
        let bucket = testing::unique_name("kb-e2e");
        let blobs = S3BlobStore::new(&config, &bucket);
        blobs.client().create_bucket().bucket(&bucket).send().await.expect("create bucket");
        let probe = SqsQueue::new(&config, QueueUrls { crawl: String::new(), chunk: String::new(), embed: String::new() }, MAX_RECEIVES);
        let urls = testing::create_queues(probe.client(), MAX_RECEIVES, VISIBILITY_SECS).await;
        let dlqs = [&urls.crawl, &urls.chunk, &urls.embed].iter().map(|u| format!("{u}-dlq")).collect();
        let queue = SqsQueue::new(&config, urls.clone(), MAX_RECEIVES);
        Self {
            vectors,
            bucket,
            urls,
            dlqs,
            queue,
            blobs,
            secret: format!("test-secret-{}", uuid::Uuid::new_v4().simple()),
            redis_prefix: format!("{}:", testing::unique_name("kbe2e")),
            data: tempfile::tempdir().unwrap(),
            db: TestDatabase::create().await,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("DATABASE_URL", self.db.url.clone()),
            ("REDIS_URL", testing::redis_url()),
            ("KB_REDIS_PREFIX", self.redis_prefix.clone()),
            ("KB_BUCKET", self.bucket.clone()),
            ("AWS_ENDPOINT_URL", testing::aws_endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("KB_CRAWL_QUEUE_URL", self.urls.crawl.clone()),
            ("KB_CHUNK_QUEUE_URL", self.urls.chunk.clone()),
            ("KB_EMBED_QUEUE_URL", self.urls.embed.clone()),
            ("KB_MAX_RECEIVES", MAX_RECEIVES.to_string()),
            ("KB_VISIBILITY_TIMEOUT_SECS", VISIBILITY_SECS.to_string()),
            ("KB_JWT_SECRET", self.secret.clone()),
            ("KB_MODEL_DIR", testing::model_dir().to_string_lossy().into_owned()),
            ("KB_DATA_DIR", self.data.path().to_string_lossy().into_owned()),
            // The fixture site is on 127.0.0.1, which server mode refuses by default.
            ("KB_ALLOW_PRIVATE_NETWORKS", "true".into()),
            ("KB_FETCH_TIMEOUT_SECS", "10".into()),
            // Small pools: several of these tests run at once against one Postgres.
            ("KB_DB_MAX_CONNECTIONS", DB_MAX_CONNECTIONS.to_string()),
            ("RUST_LOG", "warn".into()),
        ];
        match &self.vectors {
            Vectors::PgVector => env.push(("KB_VECTOR_INDEX", "pgvector".into())),
            Vectors::Qdrant { url, collection } => {
                env.push(("KB_VECTOR_INDEX", "qdrant".into()));
                env.push(("QDRANT_URL", url.clone()));
                env.push(("KB_QDRANT_COLLECTION", collection.clone()));
            }
        }
        env
    }

    /// Starts `kb <args>`; returns the process and a receiver of its stderr lines.
    fn spawn(&self, name: &'static str, args: &[&str]) -> (Proc, mpsc::Receiver<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kb"))
            .args(args)
            .env_remove("QDRANT_URL")
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kb");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{name}] {line}");
                let _ = tx.send(line);
            }
        });
        (Proc { child }, rx)
    }

    /// Starts `kb serve` on a free port; returns it and its base URL.
    fn serve(&self) -> (Proc, String) {
        let (proc, lines) = self.spawn("serve", &["serve", "--addr", "127.0.0.1:0"]);
        loop {
            let line = lines.recv_timeout(Duration::from_secs(120)).expect("kb serve prints its address");
            if let Some(url) = line.strip_prefix("Listening on ") {
                return (proc, url.trim().to_owned());
            }
        }
    }

    fn worker(&self, name: &'static str) -> Proc {
        self.spawn(name, &["worker"]).0
    }

    fn settings(&self) -> Settings {
        let env: std::collections::HashMap<&str, String> = self.env().into_iter().collect();
        Settings::from_lookup(|k| env.get(k).cloned()).unwrap()
    }

    /// The test's own view of the catalog (one connection: it asks one thing at a time).
    async fn catalog(&self) -> PostgresCatalog {
        PostgresCatalog::connect_with(&self.db.url, 1).await.unwrap()
    }

    async fn index(&self, catalog: &PostgresCatalog) -> std::sync::Arc<dyn VectorIndex> {
        kb_shared::wiring::index(&self.settings(), Some(catalog.pool())).await.unwrap()
    }

    /// Messages left in the six queues (visible + in flight).
    async fn queued(&self) -> u64 {
        let mut total = 0;
        for url in [&self.urls.crawl, &self.urls.chunk, &self.urls.embed].into_iter().chain(&self.dlqs) {
            let (visible, in_flight) = testing::queue_depth(self.queue.client(), url).await;
            total += visible + in_flight;
        }
        total
    }

    /// Waits until the queues stay empty for two seconds.
    async fn wait_drained(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
        let mut empty_since = None;
        loop {
            if self.queued().await == 0 {
                let since = *empty_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= Duration::from_secs(2) {
                    return;
                }
            } else {
                empty_since = None;
            }
            assert!(tokio::time::Instant::now() < deadline, "the queues did not drain");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A client of the API with a token for `user` in workspace `ws`.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(base: &str, secret: &str, user: &str, ws: &str) -> Self {
        let token = Auth::hs256(secret).unwrap().issue(user, &[ws.to_owned()], Duration::from_secs(3600)).unwrap();
        Self { http: reqwest::Client::new(), base: base.to_owned(), token }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("API answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(reqwest::Method::GET, path, None).await;
        assert!((200..300).contains(&status), "GET {path}: {status} {v}");
        v
    }

    /// Draft -> the docs site as web source -> finalize; returns (kb_id, pipeline_id).
    async fn create_kb(&self, site_url: &str) -> (String, String) {
        self.create_web_kb(json!({
            "url": site_url,
            "max_pages": 100,
            "max_depth": kb_e2e::docs_site::MAX_DEPTH,
            "include_patterns": ["/docs/**"],
            "exclude_patterns": ["/docs/private/**"],
        }))
        .await
    }

    /// Draft -> `source` (the body of `POST .../sources/web`) -> finalize; returns (kb_id,
    /// pipeline_id).
    async fn create_web_kb(&self, source: Value) -> (String, String) {
        let draft = self.post("/api/v1/kb-drafts", json!({"name": "docs", "workspace_id": "ws1"})).await;
        let id = draft["id"].as_str().expect("draft id").to_owned();
        self.post(&format!("/api/v1/kb-drafts/{id}/sources/web"), source).await;
        let started = std::time::Instant::now();
        let fin = self.post(&format!("/api/v1/kb-drafts/{id}/finalize"), json!({})).await;
        eprintln!("finalize answered in {:?}", started.elapsed());
        assert_eq!(fin["status"], "processing", "{fin}");
        (fin["kb_id"].as_str().unwrap().to_owned(), fin["pipeline_id"].as_str().unwrap().to_owned())
    }

    /// Polls the pipeline status until the KB is final; returns the last status.
    async fn wait_final(&self, pipeline: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            let status = self.get(&format!("/api/v1/pipelines/{pipeline}/status")).await;
            if status["kb_status"] != "processing" {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "pipeline still running: {status}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// What a finished KB holds, counted in every store.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    pages: Vec<String>,
    chunk_rows: i64,
    duplicate_chunk_rows: i64,
    vectors: u64,
    markdown_objects: usize,
    stats: KbStats,
}

async fn counts(services: &Services, kb: KbId) -> Counts {
    let catalog = services.catalog().await;
    let index = services.index(&catalog).await;
    let chunk_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM chunks WHERE kb_id = $1")
        .bind(kb.0)
        .fetch_one(catalog.pool())
        .await
        .unwrap();
    let duplicate_chunk_rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT document_id, chunk_index FROM chunks WHERE kb_id = $1 \
         GROUP BY 1, 2 HAVING count(*) > 1) d",
    )
    .bind(kb.0)
    .fetch_one(catalog.pool())
    .await
    .unwrap();
    let pages = catalog.list_pages(kb).await.unwrap();
    let markdown = services.blobs.list(&format!("kb/{kb}/pages/")).await.unwrap();
    for page in &pages {
        let key = format!("kb/{kb}/pages/{}.md", page.id);
        assert!(markdown.contains(&key), "no markdown object {key} for {}", page.url);
        let body = services.blobs.get(&key).await.unwrap().unwrap();
        assert!(!body.is_empty(), "{key} is empty");
    }
    let paths = pages.iter().map(|p| url::Url::parse(&p.url).unwrap().path().to_owned()).collect();
    Counts {
        pages: paths,
        chunk_rows,
        duplicate_chunk_rows,
        vectors: index.count(kb).await.unwrap(),
        markdown_objects: markdown.len(),
        stats: catalog.stats(kb).await.unwrap(),
    }
}

fn assert_complete(c: &Counts, site: &DocsSite) {
    let expected: BTreeSet<String> = site.expected.iter().cloned().collect();
    let got: BTreeSet<String> = c.pages.iter().cloned().collect();
    assert_eq!(got, expected, "the exact page set is indexed");
    assert_eq!(c.stats.pages_indexed as usize, expected.len(), "{:?}", c.stats);
    assert_eq!(c.stats.pages_failed + c.stats.pages_skipped + c.stats.pages_queued + c.stats.pages_fetched + c.stats.pages_chunked, 0, "{:?}", c.stats);
    assert_eq!(c.markdown_objects, expected.len());
    assert!(c.chunk_rows > 0);
    assert_eq!(c.duplicate_chunk_rows, 0);
    assert_eq!(c.stats.chunks, c.chunk_rows as u64);
    assert_eq!(c.stats.chunks_embedded, c.chunk_rows as u64);
    assert_eq!(c.vectors, c.chunk_rows as u64, "one vector per chunk");
}

async fn search_finds_its_page(api: &Api, kb: &str) {
    let results = api.post(&format!("/api/v1/kbs/{kb}/search"), json!({"query": topic_sentence(2, 3), "top_k": 3})).await;
    let first = &results["results"][0];
    assert!(first["url"].as_str().unwrap().ends_with("/docs/s2/t3"), "{results}");
}

/// Sends every message of a finished KB again: the crawl of its start page, a chunk job per
/// page and embed jobs for all its chunks.
async fn deliver_again(services: &Services, kb: KbId) -> usize {
    let catalog = services.catalog().await;
    let sources = catalog.list_sources(kb).await.unwrap();
    let SourceSpec::Web { url, .. } = &sources[0].spec else { panic!("a web source") };
    let pages = catalog.list_pages(kb).await.unwrap();
    let mut chunk_ids = Vec::new();
    for page in &pages {
        chunk_ids.extend(catalog.page_chunks(kb, page.id).await.unwrap().into_iter().map(|c| c.chunk.id));
    }
    let q = &services.queue;
    q.send(QueueName::Crawl, CrawlMsg::new(kb, sources[0].id, url.clone(), 0).encode()).await.unwrap();
    q.send_batch(QueueName::Chunk, pages.iter().map(|p| ChunkMsg::new(kb, p.id).encode()).collect()).await.unwrap();
    let embeds: Vec<String> = chunk_ids.chunks(16).map(|ids| EmbedMsg::new(kb, ids.to_vec()).encode()).collect();
    let n = 1 + pages.len() + embeds.len();
    q.send_batch(QueueName::Embed, embeds).await.unwrap();
    n
}

async fn two_workers_then_duplicates_then_a_killed_worker(vectors: Vectors) {
    let site = DocsSite::generate();
    let server = FixtureServer::start(site.site.clone()).await;
    let services = Services::start(vectors).await;
    let (_serve, base) = services.serve();
    let api = Api::new(&base, &services.secret, "alice", "ws1");

    // A clean run with two workers.
    let mut a = services.worker("worker-a");
    let mut b = services.worker("worker-b");
    let (kb1, pipeline1) = api.create_kb(&server.url("/docs/")).await;
    let status = api.wait_final(&pipeline1).await;
    assert_eq!(status["kb_status"], "ready", "{status}");
    assert_eq!(status["progress_percentage"], 100.0, "{status}");
    services.wait_drained().await;
    let kb1_id: KbId = kb1.parse().unwrap();
    let clean = counts(&services, kb1_id).await;
    assert_complete(&clean, &site);
    let row = services.catalog().await.get_kb(kb1_id).await.unwrap().unwrap();
    assert_eq!(row.status.as_str(), "ready");
    search_finds_its_page(&api, &kb1).await;
    let detail = api.get(&format!("/api/v1/kbs/{kb1}")).await;
    assert_eq!(detail["stats"]["chunks"], clean.chunk_rows, "{detail}");
    assert_eq!(detail["stats"]["vectors"], clean.vectors, "{detail}");

    // Every message delivered again: nothing changes.
    let sent = deliver_again(&services, kb1_id).await;
    assert!(sent > site.expected.len());
    services.wait_drained().await;
    let again = counts(&services, kb1_id).await;
    assert_eq!(again, clean, "a second delivery changed the KB");
    assert_eq!(services.catalog().await.get_kb(kb1_id).await.unwrap().unwrap().status.as_str(), "ready");

    // A worker killed mid-run and another started: same result as the clean run.
    let (kb2, pipeline2) = api.create_kb(&server.url("/docs/")).await;
    let kb2_id: KbId = kb2.parse().unwrap();
    let catalog = services.catalog().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let stats = catalog.stats(kb2_id).await.unwrap();
        let kb = catalog.get_kb(kb2_id).await.unwrap().unwrap();
        assert!(!kb.status.is_final(), "the run ended before a worker could be killed: {stats:?}");
        if stats.chunks > 0 && stats.chunks_embedded < stats.chunks {
            eprintln!("killing worker-a mid-run at {stats:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no progress: {stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill();
    let _c = services.worker("worker-c");
    let status = api.wait_final(&pipeline2).await;
    assert_eq!(status["kb_status"], "ready", "{status}");
    services.wait_drained().await;
    let recovered = counts(&services, kb2_id).await;
    assert_complete(&recovered, &site);
    assert_eq!(recovered.chunk_rows, clean.chunk_rows, "same chunks as the clean run");
    assert_eq!(recovered.vectors, clean.vectors);
    assert_eq!(recovered.stats, clean.stats);
    search_finds_its_page(&api, &kb2).await;

    // Delete through the API: rows, blobs and vectors go.
    let (code, _) = api.call(reqwest::Method::DELETE, &format!("/api/v1/kbs/{kb2}"), None).await;
    assert_eq!(code, 204);
    assert!(catalog.get_kb(kb2_id).await.unwrap().is_none());
    assert!(services.blobs.list(&format!("kb/{kb2}/")).await.unwrap().is_empty());
    assert_eq!(services.index(&catalog).await.count(kb2_id).await.unwrap(), 0);
    // The other KB is untouched.
    assert_eq!(counts(&services, kb1_id).await, clean);
    b.kill();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_two_workers_on_postgres_pgvector_redis_s3_sqs() {
    two_workers_then_duplicates_then_a_killed_worker(Vectors::PgVector).await;
}

/// Four workers crawling one site at once hold `max_pages` exactly: N pages indexed (and no
/// other page admitted) on a site with many more, in every one of three rounds.
#[tokio::test(flavor = "multi_thread")]
async fn four_workers_hold_max_pages_exactly() {
    const MAX_PAGES: u64 = 12;
    let server = FixtureServer::start(kb_e2e::bench_site::generate_small(80)).await;
    let services = Services::start(Vectors::PgVector).await;
    let (_serve, base) = services.serve();
    let api = Api::new(&base, &services.secret, "alice", "ws1");
    let _workers = ["worker-1", "worker-2", "worker-3", "worker-4"].map(|name| services.worker(name));
    let (_, pool) = kb_shared::wiring::catalog(&services.settings()).await.unwrap();
    assert_eq!(pool.unwrap().options().get_max_connections(), DB_MAX_CONNECTIONS, "KB_DB_MAX_CONNECTIONS sizes the pool");
    let catalog = services.catalog().await;
    for round in 1..=3 {
        let source = json!({"url": server.url("/"), "max_pages": MAX_PAGES, "max_depth": 10, "use_sitemap": false});
        let (kb, pipeline) = api.create_web_kb(source).await;
        let status = api.wait_final(&pipeline).await;
        assert_eq!(status["kb_status"], "ready", "round {round}: {status}");
        let kb: KbId = kb.parse().unwrap();
        let stats = catalog.stats(kb).await.unwrap();
        assert_eq!(stats.pages_indexed, MAX_PAGES, "round {round}: {stats:?}");
        assert_eq!(catalog.list_pages(kb).await.unwrap().len() as u64, MAX_PAGES, "round {round}: only N pages admitted");
    }
    services.wait_drained().await;
    // Idle connections stay open, so this is each pool's high-water mark: five kb processes
    // (serve and four workers) of KB_DB_MAX_CONNECTIONS each, and the test's one.
    let open = services.db.open_connections().await;
    assert!(open <= 5 * i64::from(DB_MAX_CONNECTIONS) + 1, "{open} connections open to the database");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Qdrant server: set QDRANT_URL and pass --include-ignored (scripts/test.sh does)"]
async fn serve_and_two_workers_with_qdrant() {
    let url = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty()).expect("QDRANT_URL must name a Qdrant server's gRPC URL");
    let collection = testing::unique_name("kb_e2e");
    let index = QdrantIndex::connect(&url, std::env::var("QDRANT_API_KEY").ok(), &collection).await.unwrap();
    two_workers_then_duplicates_then_a_killed_worker(Vectors::Qdrant { url, collection }).await;
    index.delete_collection().await.unwrap();
}

//! The HTTP API through the real router on a socket (port 0), with the real adapters: the
//! embedded default, and Postgres + Redis (+ pgvector). In-process workers run the pipeline.

use std::collections::BTreeSet;
use std::time::Duration;

use kb_e2e::docs_site::{topic_sentence, DocsSite};
use kb_e2e::FixtureServer;
use kb_shared::api::{self, ApiState, Auth};
use kb_shared::domain::KbId;
use kb_shared::pipeline::worker::{self, Concurrency};
use kb_shared::pipeline::Context;
use kb_shared::settings::{Secret, Settings, VectorIndexKind};
use kb_shared::testing::{self, TestDatabase};
use kb_shared::wiring::Roles;
use reqwest::Method;
use serde_json::{json, Value};

const SECRET: &str = "api-test-secret-with-at-least-32-characters";
const MAX_UPLOAD: u64 = 256 * 1024;

enum Backend {
    Embedded,
    PostgresRedis,
}

/// A running API with its workers.
struct Harness {
    base: String,
    ctx: Context,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
    _db: Option<TestDatabase>,
}

async fn start(backend: Backend, rate_limit: u32) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::from_lookup(|_| None).unwrap();
    s.data_dir = dir.path().to_path_buf();
    s.model_dir = testing::model_dir();
    s.allow_private_networks = Some(true); // the fixture site is on 127.0.0.1
    s.fetch_timeout = Duration::from_secs(10);
    s.rate_limit_per_minute = rate_limit;
    s.max_upload_bytes = MAX_UPLOAD;
    let db = match backend {
        Backend::Embedded => None,
        Backend::PostgresRedis => {
            let db = TestDatabase::create().await;
            s.database_url = Some(Secret::new(db.url.clone()));
            s.redis_url = Some(Secret::new(testing::redis_url()));
            s.redis_prefix = format!("{}:", testing::unique_name("kbapi"));
            s.vector_index = VectorIndexKind::PgVector;
            Some(db)
        }
    };
    let state = ApiState::new(s, Roles::ALL, Auth::hs256(SECRET).unwrap()).await.unwrap();
    let ctx = state.ctx.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(worker::run(ctx.clone(), Concurrency::from_settings(&ctx), stop_rx.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut stopped = stop_rx;
    let server = tokio::spawn(async move {
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
            .unwrap();
    });
    Harness { base, ctx, stop: stop_tx, tasks: vec![workers, server], _dir: dir, _db: db }
}

impl Harness {
    /// Stops the server and the workers, so the stores close before their directory goes.
    async fn stop(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

fn token(user: &str, workspaces: &[&str]) -> String {
    let ws: Vec<String> = workspaces.iter().map(|w| (*w).to_owned()).collect();
    Auth::hs256(SECRET).unwrap().issue(user, &ws, Duration::from_secs(3600)).unwrap()
}

/// A user of the API.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(h: &Harness, token: Option<String>) -> Self {
        Self { http: reqwest::Client::new(), base: h.base.clone(), token }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        finish(req).await
    }

    async fn upload(&self, draft: &str, filename: &str, content_type: &str, bytes: &[u8]) -> (u16, Value) {
        let boundary = "kb-test-boundary-5f0e2c";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut req = self
            .http
            .post(format!("{}/api/v1/kb-drafts/{draft}/sources/upload", self.base))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        finish(req).await
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (code, v) = self.send(method.clone(), path, body).await;
        assert!((200..300).contains(&code), "{method} {path}: {code} {v}");
        v
    }
}

async fn finish(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("the API answers");
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (code, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../shared/tests/fixtures/files/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const FILES: [(&str, &str); 6] = [
    ("report.pdf", "application/pdf"),
    ("handbook.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("inventory.csv", "text/csv"),
    ("faq.html", "text/html"),
    ("notes.md", "text/markdown"),
    ("readme.txt", "text/plain"),
];

/// Asserts a 4xx error body naming `field`.
fn assert_error(code: u16, body: &Value, status: u16, field: &str) {
    assert_eq!(code, status, "{body}");
    let e = &body["error"];
    assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(e["field"], field, "{body}");
}

async fn wait_final(c: &Client, pipeline: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let status = c.ok(Method::GET, &format!("/api/v1/pipelines/{pipeline}/status"), None).await;
        if status["kb_status"] != "processing" {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "still running: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The text source: its first section answers the opening-hours question, the sections after
/// it make it longer than one chunk.
fn opening_hours() -> String {
    let mut text = "# Opening hours\n\nThe support desk of the Marmalade Cooperative answers on weekdays from 07:30 to 19:00 Lisbon time.\n".to_owned();
    for day in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"] {
        text.push_str(&format!(
            "\n## {day}\n\nOn {day} the warehouse loads the lorries before noon, and the afternoon shift counts the jars of marmalade \
             left on the shelves, writes the count into the ledger and orders more oranges when fewer than forty crates remain.\n"
        ));
    }
    text
}

async fn whole_flow(h: Harness) {
    let site = DocsSite::generate();
    let server = FixtureServer::start(site.site.clone()).await;
    let c = Client::new(&h, Some(token("alice", &["ws1"])));

    let (code, health) = Client::new(&h, None).send(Method::GET, "/health", None).await;
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));

    // Draft.
    let draft = c.ok(Method::POST, "/api/v1/kb-drafts", Some(json!({"name": "Support", "description": "all of it", "workspace_id": "ws1"}))).await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let d = format!("/api/v1/kb-drafts/{id}");
    assert_eq!(c.ok(Method::GET, &d, None).await["name"], "Support");
    assert!(draft["expires_at"].as_str().is_some());

    // Sources: web, text, and every file type.
    let web = c
        .ok(Method::POST, &format!("{d}/sources/web"), Some(json!({
            "url": server.url("/docs/"), "max_pages": 8, "max_depth": 3,
            "include_patterns": ["/docs/**"], "exclude_patterns": ["/docs/private/**"],
        })))
        .await;
    let web_id = web["id"].as_str().unwrap().to_owned();
    let text = c
        .ok(Method::POST, &format!("{d}/sources/text"), Some(json!({
            "title": "Opening hours",
            "content": opening_hours(),
        })))
        .await;
    let text_id = text["id"].as_str().unwrap().to_owned();
    let mut file_ids = Vec::new();
    for (name, ct) in FILES {
        let (code, src) = c.upload(&id, name, ct, &fixture(name)).await;
        assert_eq!(code, 201, "{name}: {src}");
        assert_eq!(src["filename"], name, "{src}");
        file_ids.push(src["id"].as_str().unwrap().to_owned());
    }
    let extra = c.ok(Method::POST, &format!("{d}/sources/text"), Some(json!({"title": "x", "content": "to be removed"}))).await;
    let (code, _) = c.send(Method::DELETE, &format!("{d}/sources/{}", extra["id"].as_str().unwrap()), None).await;
    assert_eq!(code, 204);
    let sources = c.ok(Method::GET, &format!("{d}/sources"), None).await;
    assert_eq!(sources["sources"].as_array().unwrap().len(), 2 + FILES.len(), "{sources}");

    // Configuration.
    let patched = c.ok(Method::PATCH, &format!("{d}/config"), Some(json!({"chunking_config": {"chunk_size": 800, "chunk_overlap": 100}}))).await;
    assert_eq!(patched["config"]["chunking"]["chunk_size"], 800, "{patched}");
    let chunking = c.ok(Method::POST, &format!("{d}/chunking"), Some(json!({"chunk_size": 1000, "chunk_overlap": 200}))).await;
    assert_eq!(chunking["config"]["chunking"]["chunk_size"], 1000);
    let model = chunking["config"]["embedding"]["model"].clone();
    let embedding = c.ok(Method::POST, &format!("{d}/embedding"), Some(json!({"model": model}))).await;
    assert_eq!(embedding["config"]["embedding"]["model"], model);

    // Preview: every source, one source, and the per-source route.
    let preview = c.ok(Method::POST, &format!("{d}/preview-chunks"), None).await;
    let chunks = preview["chunks"].as_array().unwrap();
    let previewed: BTreeSet<&str> = chunks.iter().map(|c| c["source_id"].as_str().unwrap()).collect();
    assert!(previewed.contains(web_id.as_str()) && previewed.contains(text_id.as_str()), "{previewed:?}");
    for f in &file_ids {
        assert!(previewed.contains(f.as_str()), "file source {f} previewed");
    }
    assert!(chunks.iter().all(|c| c["token_count"].as_u64().unwrap() > 0 && c["token_count"].as_u64().unwrap() <= 256));
    let web_preview = preview["sources"].as_array().unwrap().iter().find(|s| s["source_id"] == web_id.as_str()).unwrap().clone();
    assert!((1..=3).contains(&web_preview["pages_sampled"].as_u64().unwrap()), "a sample, not the site: {web_preview}");
    let one = c.ok(Method::POST, &format!("{d}/preview-chunks"), Some(json!({"source_id": text_id}))).await;
    let one_chunks = one["chunks"].as_array().unwrap();
    assert!(one_chunks.len() > 1 && one_chunks.iter().all(|c| c["source_id"] == text_id.as_str()), "only that source's chunks: {one}");
    assert!(one_chunks[0]["text"].as_str().unwrap().contains("07:30 to 19:00"));
    let pdf = c.ok(Method::POST, &format!("{d}/sources/{}/preview", file_ids[0]), None).await;
    assert!(pdf["chunks"].as_array().unwrap().iter().any(|c| c["text"].as_str().unwrap().contains("lavender soap")), "{pdf}");

    // Validate, finalize.
    let report = c.ok(Method::POST, &format!("{d}/validate"), None).await;
    assert_eq!(report["valid"], true, "{report}");
    assert!(report["errors"].as_array().unwrap().is_empty());
    assert_eq!(report["stats"]["sources"], 2 + FILES.len());
    assert!(report["stats"]["estimated_chunks"].as_u64().unwrap() > 0);
    assert!(report["stats"]["estimated_tokens"].as_u64().unwrap() > 0);
    assert!(report["stats"]["estimated_processing_seconds"].as_u64().unwrap() > 0);
    let started = std::time::Instant::now();
    let (code, fin) = c.send(Method::POST, &format!("{d}/finalize"), None).await;
    eprintln!("finalize answered in {:?}", started.elapsed());
    assert_eq!(code, 202, "{fin}");
    assert_eq!(fin["status"], "processing");
    let kb = fin["kb_id"].as_str().unwrap().to_owned();
    let pipeline = fin["pipeline_id"].as_str().unwrap().to_owned();
    assert_eq!(fin["tracking_url"], format!("/api/v1/pipelines/{pipeline}/status"));
    assert!(fin["estimated_completion_minutes"].as_u64().unwrap() >= 1);
    let (code, gone) = c.send(Method::GET, &d, None).await;
    assert_error(code, &gone, 410, "draft_id");

    // Status until ready.
    let status = wait_final(&c, &pipeline).await;
    assert_eq!(status["kb_status"], "ready", "{status}");
    assert_eq!(status["progress_percentage"], 100.0);
    for field in ["current_stage", "stats", "started_at", "updated_at", "failed_pages"] {
        assert!(!status[field].is_null(), "{field} in {status}");
    }

    // The KB.
    let list = c.ok(Method::GET, "/api/v1/kbs", None).await;
    assert!(list["knowledge_bases"].as_array().unwrap().iter().any(|k| k["id"] == kb.as_str()));
    let detail = c.ok(Method::GET, &format!("/api/v1/kbs/{kb}"), None).await;
    let expected_pages = 8 + 1 + FILES.len() as u64;
    assert_eq!(detail["stats"]["pages_indexed"], expected_pages, "{detail}");
    assert_eq!(detail["stats"]["chunks"], detail["stats"]["vectors"], "{detail}");
    assert_eq!(detail["sources"].as_array().unwrap().len(), 2 + FILES.len());
    assert_eq!(detail["config"]["chunking"]["chunk_size"], 1000);
    let docs = c.ok(Method::GET, &format!("/api/v1/kbs/{kb}/documents"), None).await;
    assert_eq!(docs["documents"].as_array().unwrap().len() as u64, expected_pages);
    let pages = c.ok(Method::GET, &format!("/api/v1/kbs/{kb}/pages"), None).await;
    let pages = pages["documents"].as_array().unwrap();
    assert!(pages.iter().all(|p| p["status"] == "indexed"), "{pages:?}");

    // Search: files, text, web, with filters and thresholds.
    let s = format!("/api/v1/kbs/{kb}/search");
    let r = c.ok(Method::POST, &s, Some(json!({"query": "How many pallets of lavender soap were shipped?", "top_k": 3}))).await;
    let first = &r["results"][0];
    assert!(first["url"].as_str().unwrap().ends_with("/report.pdf"), "{r}");
    assert_eq!(first["source_id"], file_ids[0].as_str());
    assert_eq!(r["results"].as_array().unwrap().len(), 3);
    let r = c.ok(Method::POST, &s, Some(json!({"query": "When is the support desk open?", "top_k": 1}))).await;
    assert_eq!(r["results"][0]["source_id"], text_id.as_str(), "{r}");
    let r = c.ok(Method::POST, &s, Some(json!({"query": "paid vacation days per year", "top_k": 1}))).await;
    assert!(r["results"][0]["url"].as_str().unwrap().ends_with("/handbook.docx"), "{r}");
    let web_query = json!({"query": topic_sentence(0, 0), "top_k": 5, "source_ids": [web_id]});
    let r = c.ok(Method::POST, &s, Some(web_query)).await;
    let hits = r["results"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h["source_id"] == web_id.as_str()), "{r}");
    let prefix = server.url("/docs/s0/");
    let r = c.ok(Method::POST, &s, Some(json!({"query": "configuration", "top_k": 5, "url_prefix": prefix}))).await;
    let hits = r["results"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h["url"].as_str().unwrap().starts_with(&prefix)), "{r}");
    // Grouped by page (the default), each page comes back once, with its best chunk;
    // `group_by_page: false` returns every chunk. Asked for 100, both get all there is.
    let (pages_indexed, chunks) = (detail["stats"]["pages_indexed"].as_u64().unwrap(), detail["stats"]["chunks"].as_u64().unwrap());
    assert!(chunks > pages_indexed && chunks <= 100, "{detail}");
    let page_ids = |r: &Value| r["results"].as_array().unwrap().iter().map(|h| h["page_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let grouped = page_ids(&c.ok(Method::POST, &s, Some(json!({"query": "configuration", "top_k": 100}))).await);
    assert_eq!(grouped.len() as u64, pages_indexed, "{grouped:?}");
    assert_eq!(grouped.iter().collect::<BTreeSet<_>>().len(), grouped.len(), "{grouped:?}");
    let body = json!({"query": "configuration", "top_k": 100, "group_by_page": false});
    let ungrouped = page_ids(&c.ok(Method::POST, &s, Some(body)).await);
    assert_eq!(ungrouped.len() as u64, chunks);
    assert_eq!(ungrouped[0], grouped[0], "the best chunk's page leads both");
    let r = c.ok(Method::POST, &s, Some(json!({"query": "lavender soap", "score_threshold": 1000.0}))).await;
    assert!(r["results"].as_array().unwrap().is_empty(), "{r}");
    for (body, field) in [(json!({"query": "x", "top_k": 0}), "top_k"), (json!({"query": "x", "top_k": 101}), "top_k"), (json!({"query": "  "}), "query"), (json!({"query": "x", "group_by_page": "yes"}), "group_by_page")] {
        let (code, v) = c.send(Method::POST, &s, Some(body)).await;
        assert_error(code, &v, 400, field);
    }

    // The OpenAPI document needs a token and lists the routes.
    let doc = c.ok(Method::GET, "/api/v1/openapi.json", None).await;
    assert!(doc["paths"]["/api/v1/kbs/{kb_id}/search"].is_object());
    let (code, _) = Client::new(&h, None).send(Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(code, 401);

    // Delete: rows, blobs (markdown and the kept originals) and vectors.
    let kb_id: KbId = kb.parse().unwrap();
    assert!(!h.ctx.blobs.list(&format!("kb/{kb}/files/")).await.unwrap().is_empty(), "the KB keeps the uploaded originals");
    assert!(h.ctx.blobs.list(&format!("drafts/{id}/")).await.unwrap().is_empty(), "the draft's blobs went with it");
    let (code, _) = c.send(Method::DELETE, &format!("/api/v1/kbs/{kb}"), None).await;
    assert_eq!(code, 204);
    let (code, body) = c.send(Method::GET, &format!("/api/v1/kbs/{kb}"), None).await;
    assert_eq!(code, 404, "{body}");
    assert!(h.ctx.blobs.list(&format!("kb/{kb}/")).await.unwrap().is_empty());
    assert_eq!(h.ctx.index.count(kb_id).await.unwrap(), 0);
    assert!(h.ctx.catalog.list_pages(kb_id).await.unwrap().is_empty());
    let (code, _) = c.send(Method::DELETE, &format!("/api/v1/kbs/{kb}"), None).await;
    assert_eq!(code, 404);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_flow_on_the_embedded_default() {
    whole_flow(start(Backend::Embedded, 0).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_flow_on_postgres_and_redis() {
    whole_flow(start(Backend::PostgresRedis, 0).await).await;
}

/// A draft with one text source and a finished KB made from another, owned by `c`.
async fn draft_and_kb(c: &Client) -> (String, String, String, String) {
    let draft = c.ok(Method::POST, "/api/v1/kb-drafts", Some(json!({"name": "mine", "workspace_id": "ws1"}))).await;
    let d = draft["id"].as_str().unwrap().to_owned();
    let src = c.ok(Method::POST, &format!("/api/v1/kb-drafts/{d}/sources/text"), Some(json!({"title": "t", "content": "Alpaca wool is sorted by fibre length."}))).await;
    let src = src["id"].as_str().unwrap().to_owned();
    let other = c.ok(Method::POST, "/api/v1/kb-drafts", Some(json!({"name": "kb", "workspace_id": "ws1"}))).await;
    let o = other["id"].as_str().unwrap().to_owned();
    c.ok(Method::POST, &format!("/api/v1/kb-drafts/{o}/sources/text"), Some(json!({"title": "t", "content": "Llamas guard sheep."}))).await;
    let fin = c.ok(Method::POST, &format!("/api/v1/kb-drafts/{o}/finalize"), None).await;
    let (kb, pipeline) = (fin["kb_id"].as_str().unwrap().to_owned(), fin["pipeline_id"].as_str().unwrap().to_owned());
    assert_eq!(wait_final(c, &pipeline).await["kb_status"], "ready");
    (d, src, kb, pipeline)
}

#[tokio::test(flavor = "multi_thread")]
async fn users_see_only_their_drafts_and_workspaces_and_tokens_are_checked() {
    let h = start(Backend::PostgresRedis, 0).await;
    let alice = Client::new(&h, Some(token("alice", &["ws1"])));
    let bob = Client::new(&h, Some(token("bob", &["ws2"])));
    let (d, src, kb, pipeline) = draft_and_kb(&alice).await;
    let dp = format!("/api/v1/kb-drafts/{d}");
    let text = json!({"title": "x", "content": "y"});
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, dp.clone(), None),
        (Method::POST, format!("{dp}/sources/web"), Some(json!({"url": "https://example.com/"}))),
        (Method::POST, format!("{dp}/sources/text"), Some(text.clone())),
        (Method::GET, format!("{dp}/sources"), None),
        (Method::DELETE, format!("{dp}/sources/{src}"), None),
        (Method::PATCH, format!("{dp}/config"), Some(json!({"chunking_config": {"chunk_size": 500}}))),
        (Method::POST, format!("{dp}/chunking"), Some(json!({"chunk_size": 500}))),
        (Method::POST, format!("{dp}/embedding"), Some(json!({"batch_size": 8}))),
        (Method::POST, format!("{dp}/preview-chunks"), None),
        (Method::POST, format!("{dp}/sources/{src}/preview"), None),
        (Method::POST, format!("{dp}/validate"), None),
        (Method::POST, format!("{dp}/finalize"), None),
        (Method::DELETE, dp.clone(), None),
        (Method::GET, format!("/api/v1/pipelines/{pipeline}/status"), None),
        (Method::GET, format!("/api/v1/kbs/{kb}"), None),
        (Method::GET, format!("/api/v1/kbs/{kb}/documents"), None),
        (Method::GET, format!("/api/v1/kbs/{kb}/pages"), None),
        (Method::POST, format!("/api/v1/kbs/{kb}/search"), Some(json!({"query": "llamas"}))),
        (Method::DELETE, format!("/api/v1/kbs/{kb}"), None),
    ];
    for (method, path, body) in &routes {
        let (code, v) = bob.send(method.clone(), path, body.clone()).await;
        assert_eq!(code, 404, "bob {method} {path}: {v}");
        assert_eq!(v["error"]["code"], "not_found", "{v}");
    }
    // Bob's listing does not show Alice's KB; Bob cannot create in her workspace.
    let list = bob.ok(Method::GET, "/api/v1/kbs", None).await;
    assert!(list["knowledge_bases"].as_array().unwrap().is_empty(), "{list}");
    let (code, v) = bob.send(Method::POST, "/api/v1/kb-drafts", Some(json!({"name": "n", "workspace_id": "ws1"}))).await;
    assert_error(code, &v, 403, "workspace_id");
    // A colleague in the same workspace sees the KB but not Alice's draft.
    let carol = Client::new(&h, Some(token("carol", &["ws1"])));
    let (code, _) = carol.send(Method::GET, &dp, None).await;
    assert_eq!(code, 404);
    assert_eq!(carol.ok(Method::GET, &format!("/api/v1/kbs/{kb}"), None).await["id"], kb.as_str());
    // Alice still has everything (nothing was changed by the refused calls).
    assert_eq!(alice.ok(Method::GET, &format!("{dp}/sources"), None).await["sources"].as_array().unwrap().len(), 1);
    assert_eq!(alice.ok(Method::GET, &format!("/api/v1/kbs/{kb}"), None).await["status"], "ready");

    // Tokens: missing, expired, wrongly signed, malformed.
    let expired = {
        let claims = kb_shared::api::Claims { sub: "alice".into(), workspaces: vec!["ws1".into()], exp: 1_000_000, iat: 0 };
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
    };
    let forged = Auth::hs256("another-secret-that-is-also-32-characters-long").unwrap().issue("alice", &["ws1".into()], Duration::from_secs(600)).unwrap();
    for t in [None, Some(expired), Some(forged), Some("not.a.jwt".to_owned())] {
        let c = Client::new(&h, t.clone());
        for (method, path, body) in routes.iter().chain(&[(Method::GET, "/api/v1/kbs".to_owned(), None)]) {
            let (code, v) = c.send(method.clone(), path, body.clone()).await;
            assert_eq!(code, 401, "{t:?} {method} {path}: {v}");
            assert_eq!(v["error"]["code"], "unauthorized");
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_validation_error_names_its_field() {
    let h = start(Backend::Embedded, 0).await;
    let c = Client::new(&h, Some(token("alice", &["ws1"])));
    let (code, v) = c.send(Method::POST, "/api/v1/kb-drafts", Some(json!({"name": "  ", "workspace_id": "ws1"}))).await;
    assert_error(code, &v, 400, "name");
    let (code, v) = c.send(Method::POST, "/api/v1/kb-drafts", Some(json!({"workspace_id": "ws1"}))).await;
    assert_error(code, &v, 400, "name");
    let draft = c.ok(Method::POST, "/api/v1/kb-drafts", Some(json!({"name": "n", "workspace_id": "ws1"}))).await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let d = format!("/api/v1/kb-drafts/{id}");

    // Finalize of an empty draft.
    let (code, v) = c.send(Method::POST, &format!("{d}/finalize"), None).await;
    assert_error(code, &v, 400, "sources");
    let report = c.ok(Method::POST, &format!("{d}/validate"), None).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"][0]["field"], "sources", "{report}");

    for (body, field) in [
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "ftp://example.com/docs"}), "url"),
        (json!({"url": "https://example.com/", "max_pages": 0}), "max_pages"),
        (json!({"url": "https://example.com/", "max_pagez": 3}), "max_pagez"),
    ] {
        let (code, v) = c.send(Method::POST, &format!("{d}/sources/web"), Some(body.clone())).await;
        assert_error(code, &v, 400, field);
    }
    let (code, v) = c.send(Method::POST, &format!("{d}/sources/text"), Some(json!({"title": "t", "content": ""}))).await;
    assert_error(code, &v, 400, "content");
    for (body, field) in [
        (json!({"chunk_size": 10}), "chunking_config.chunk_size"),
        (json!({"chunk_size": 1_000_000}), "chunking_config.chunk_size"),
        (json!({"chunk_size": 500, "chunk_overlap": 500}), "chunking_config.chunk_overlap"),
        (json!({"strategy": "magic"}), "chunking_config.strategy"),
    ] {
        let (code, v) = c.send(Method::POST, &format!("{d}/chunking"), Some(body.clone())).await;
        assert_error(code, &v, 400, field);
        let (code, v) = c.send(Method::PATCH, &format!("{d}/config"), Some(json!({"chunking_config": body}))).await;
        assert_error(code, &v, 400, field);
    }
    let (code, v) = c.send(Method::POST, &format!("{d}/embedding"), Some(json!({"model": "no-such-model"}))).await;
    assert_error(code, &v, 400, "embedding_config.model");
    for weight in [json!(1.5), json!(-0.1), json!("lots")] {
        let (code, v) = c.send(Method::POST, &format!("{d}/embedding"), Some(json!({"neighbor_weight": weight}))).await;
        assert_error(code, &v, 400, "embedding_config.neighbor_weight");
    }
    for (patch, field) in [
        (json!({"group_by_page": "yes"}), "vector_store_config.group_by_page"),
        (json!({"default_search_mode": "fuzzy"}), "vector_store_config.default_search_mode"),
    ] {
        let (code, v) = c.send(Method::PATCH, &format!("{d}/config"), Some(json!({"vector_store_config": patch}))).await;
        assert_error(code, &v, 400, field);
    }
    let draft = c.ok(Method::PATCH, &format!("{d}/config"), Some(json!({"vector_store_config": {"group_by_page": false}}))).await;
    assert_eq!(draft["config"]["vector_store"], json!({"default_search_mode": "hybrid", "group_by_page": false}), "{draft}");

    // Uploads: too large, not a supported type (checked by content), unreadable.
    let big = vec![b'a'; MAX_UPLOAD as usize + 10];
    let (code, v) = c.upload(&id, "big.txt", "text/plain", &big).await;
    assert_error(code, &v, 413, "file");
    let png = [&b"\x89PNG\r\n\x1a\n"[..], &[0u8; 64]].concat();
    let (code, v) = c.upload(&id, "photo.pdf", "application/pdf", &png).await;
    assert_error(code, &v, 415, "file");
    let (code, v) = c.upload(&id, "tool.exe", "application/octet-stream", b"MZ\x90\x00\x03\x00\x00\x00binary").await;
    assert_error(code, &v, 415, "file");
    let (code, v) = c.upload(&id, "broken.pdf", "application/pdf", b"%PDF-1.7\n garbage that is not a PDF").await;
    assert_error(code, &v, 422, "file");
    // Nothing of the refused input was stored.
    assert!(c.ok(Method::GET, &format!("{d}/sources"), None).await["sources"].as_array().unwrap().is_empty());

    // Search of an unknown KB; a malformed body.
    let (code, v) = c.send(Method::POST, &format!("/api/v1/kbs/{}/search", KbId::random()), Some(json!({"query": "x"}))).await;
    assert_eq!((code, v["error"]["code"].as_str()), (404, Some("not_found")));

    // An expired draft: 410, naming the draft.
    assert!(h.ctx.kv.delete(&format!("draft:{id}")).await.unwrap(), "the draft key as the TTL would remove it");
    let (code, v) = c.send(Method::GET, &d, None).await;
    assert_error(code, &v, 410, "draft_id");
    let (code, v) = c.send(Method::POST, &format!("{d}/finalize"), None).await;
    assert_error(code, &v, 410, "draft_id");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_over_the_rate_limit_get_429() {
    // The limit counts per calendar minute: keep the burst inside one.
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 60;
    if second > 50 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    let h = start(Backend::Embedded, 5).await;
    let c = Client::new(&h, Some(token("alice", &["ws1"])));
    let other = Client::new(&h, Some(token("bob", &["ws1"])));
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(c.send(Method::GET, "/api/v1/kbs", None).await.0);
    }
    assert_eq!(codes[..5], [200; 5], "{codes:?}");
    assert_eq!(codes[5..], [429, 429], "{codes:?}");
    let resp = reqwest::Client::new().get(format!("{}/api/v1/kbs", h.base)).bearer_auth(c.token.as_ref().unwrap()).send().await.unwrap();
    assert!(resp.headers().get("retry-after").is_some());
    // Per user: another user is not limited by the first.
    assert_eq!(other.send(Method::GET, "/api/v1/kbs", None).await.0, 200);
    h.stop().await;
}

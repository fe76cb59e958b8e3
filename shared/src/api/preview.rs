//! Preview and validation of a draft: exactly the chunks the pipeline would make (same
//! chunker, same configuration) for a sample of each source, and a report of what is wrong
//! or worth a warning, with estimates of the size of the knowledge base.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;

use super::auth::User;
use super::drafts::{load, Draft, DraftSource};
use super::error::{ApiError, ApiJson, ErrorBody, ErrorDetail};
use super::ApiState;
use crate::adapters::http_fetcher::decode_body;
use crate::chunking::PageRef;
use crate::crawl::extract::extract;
use crate::crawl::scope::Scope;
use crate::crawl::urls::{looks_like_non_html, parse_start_url};
use crate::domain::{render_document, Chunk, DocumentMeta, KbId, PageId, RenderMode, SourceId, SourceSpec};
use crate::ports::FetchRequest;

/// Pages fetched per web source for a preview.
const WEB_SAMPLE_PAGES: usize = 3;
/// Chunks returned by a preview at most (the totals count them all).
const DEFAULT_MAX_CHUNKS: usize = 200;
/// Assumed embedding throughput for the time estimate, chunks per second.
const EMBED_RATE: f64 = 25.0;
/// Assumed crawl throughput for the time estimate, pages per second.
const CRAWL_RATE: f64 = 20.0;

/// `POST .../preview-chunks`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// Only this source (all sources when absent).
    pub source_id: Option<String>,
    /// Chunks returned at most.
    pub max_chunks: Option<usize>,
}

/// One previewed chunk.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewChunk {
    #[schema(value_type = String, format = Uuid)]
    pub source_id: SourceId,
    pub url: String,
    pub title: Option<String>,
    pub index: u32,
    pub text: String,
    pub heading_path: Vec<String>,
    pub anchor: Option<String>,
    pub token_count: u32,
    pub char_count: usize,
}

/// Per-source totals of a preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourcePreview {
    #[schema(value_type = String, format = Uuid)]
    pub source_id: SourceId,
    pub pages_sampled: usize,
    pub chunks: usize,
    pub tokens: u64,
    /// Why (part of) the source could not be previewed.
    pub warnings: Vec<String>,
}

/// The chunks the pipeline would make.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewResponse {
    pub chunks: Vec<PreviewChunk>,
    pub total_chunks: usize,
    pub total_tokens: u64,
    pub sources: Vec<SourcePreview>,
}

struct Sampled {
    chunks: Vec<Chunk>,
    pages: usize,
    warnings: Vec<String>,
}

async fn fetch_page(state: &ApiState, url: &Url) -> Result<(String, Vec<Url>, Option<String>), String> {
    let request = FetchRequest {
        url: url.clone(),
        render: RenderMode::Http,
        timeout: state.ctx.settings.fetch_timeout.min(std::time::Duration::from_secs(10)),
        max_bytes: state.ctx.settings.max_page_bytes,
    };
    let page = state.ctx.fetcher.fetch(&request).await.map_err(|e| format!("{url}: {e}"))?;
    if !(200..300).contains(&page.status) {
        return Err(format!("{url}: HTTP {}", page.status));
    }
    if !page.is_html() {
        return Err(format!("{url}: not an HTML page ({})", page.content_type.unwrap_or_default()));
    }
    let html = decode_body(&page.body, page.content_type.as_deref());
    let base = page.final_url.clone();
    let e = tokio::task::spawn_blocking(move || extract(&html, &base, &[])).await.map_err(|e| e.to_string())?;
    let meta = DocumentMeta { url: page.final_url.to_string(), title: e.title.clone(), anchors: e.anchors };
    Ok((render_document(&meta, &e.markdown), e.links, e.title))
}

async fn sample(state: &ApiState, draft: &Draft, source: &DraftSource) -> Result<Sampled, ApiError> {
    let chunker = state.ctx.chunker.clone().ok_or_else(|| ApiError::unavailable("this process has no chunker"))?;
    let mut documents: Vec<(String, String, Option<String>)> = Vec::new();
    let mut warnings = Vec::new();
    match &source.spec {
        SourceSpec::Text { title, content } => {
            let url = format!("text://{}", source.id);
            let meta = DocumentMeta { url: url.clone(), title: Some(title.clone()), anchors: Vec::new() };
            documents.push((url, render_document(&meta, content), Some(title.clone())));
        }
        SourceSpec::File { filename, markdown_key, .. } => {
            let body = state.ctx.blobs.get(markdown_key).await?.ok_or_else(|| ApiError::not_found("upload"))?;
            let url = crate::pipeline::kb::source_page_url(source.id, &source.spec).unwrap_or_default();
            documents.push((url, String::from_utf8_lossy(&body).into_owned(), Some(filename.clone())));
        }
        SourceSpec::Web { url, crawl } => {
            let start = parse_start_url(url, &crawl.strip_query_params).map_err(|e| ApiError::bad_request("invalid_url", "url", e.to_string()))?;
            let scope = Scope::new(&start, crawl)?;
            match fetch_page(state, &start).await {
                Ok((doc, links, title)) => {
                    documents.push((start.to_string(), doc, title));
                    let next: Vec<Url> = links
                        .into_iter()
                        .filter(|l| l != &start && scope.check(l).is_ok() && !looks_like_non_html(l))
                        .take(WEB_SAMPLE_PAGES.saturating_sub(1).min(crawl.max_pages.saturating_sub(1) as usize))
                        .collect();
                    for link in next {
                        match fetch_page(state, &link).await {
                            Ok((doc, _, title)) => documents.push((link.to_string(), doc, title)),
                            Err(w) => warnings.push(w),
                        }
                    }
                }
                Err(w) => warnings.push(w),
            }
        }
    }
    let config = draft.config.chunking.clone();
    let headers = draft.config.embedding.contextual_headers;
    let source_id = source.id;
    let pages = documents.len();
    let mut vectors = Vec::with_capacity(documents.len());
    for (_, doc, _) in &documents {
        let v = crate::pipeline::chunk::unit_vectors(state.ctx.embedder.as_deref(), &chunker, doc, &config)
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
        vectors.push(v);
    }
    let chunks = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        for ((url, doc, title), vectors) in documents.iter().zip(&vectors) {
            let page = PageRef { kb_id: KbId(uuid::Uuid::nil()), page_id: PageId::derive(KbId(uuid::Uuid::nil()), url), source_id, url, title: title.as_deref() };
            all.extend(chunker.chunk_document(doc, page, &config, headers, vectors));
        }
        all
    })
    .await
    .map_err(|_| ApiError::unavailable("chunking failed"))?;
    Ok(Sampled { chunks, pages, warnings })
}

fn find_source<'a>(draft: &'a Draft, id: &str) -> Result<&'a DraftSource, ApiError> {
    let id: SourceId = id.parse().map_err(|_| ApiError::not_found("source"))?;
    draft.sources.iter().find(|s| s.id == id).ok_or_else(|| ApiError::not_found("source"))
}

async fn preview(state: &ApiState, draft: &Draft, sources: Vec<&DraftSource>, max_chunks: usize) -> Result<PreviewResponse, ApiError> {
    let mut out = PreviewResponse { chunks: Vec::new(), total_chunks: 0, total_tokens: 0, sources: Vec::new() };
    for source in sources {
        let s = sample(state, draft, source).await?;
        let tokens: u64 = s.chunks.iter().map(|c| u64::from(c.token_count)).sum();
        out.total_chunks += s.chunks.len();
        out.total_tokens += tokens;
        out.sources.push(SourcePreview { source_id: source.id, pages_sampled: s.pages, chunks: s.chunks.len(), tokens, warnings: s.warnings });
        for c in s.chunks {
            if out.chunks.len() >= max_chunks {
                break;
            }
            out.chunks.push(PreviewChunk {
                source_id: source.id,
                char_count: c.text.chars().count(),
                url: c.url,
                title: c.title,
                index: c.index,
                text: c.text,
                heading_path: c.heading_path,
                anchor: c.anchor,
                token_count: c.token_count,
            });
        }
    }
    Ok(out)
}

/// Preview the chunks of the draft's sources (or of one).
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/preview-chunks", tag = "preview", params(("draft_id" = String, Path)),
    request_body = PreviewRequest, responses((status = 200, body = PreviewResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn preview_chunks(
    State(state): State<ApiState>,
    user: User,
    Path(draft_id): Path<String>,
    body: Option<ApiJson<PreviewRequest>>,
) -> Result<Json<PreviewResponse>, ApiError> {
    let draft = load(&state, &user, &draft_id).await?;
    let req = body.map(|b| b.0).unwrap_or_default();
    let sources: Vec<&DraftSource> = match &req.source_id {
        Some(id) => vec![find_source(&draft, id)?],
        None => draft.sources.iter().collect(),
    };
    let max = req.max_chunks.unwrap_or(DEFAULT_MAX_CHUNKS).clamp(1, 10_000);
    Ok(Json(preview(&state, &draft, sources, max).await?))
}

/// Preview the chunks of one source.
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/sources/{source_id}/preview", tag = "preview",
    params(("draft_id" = String, Path), ("source_id" = String, Path)),
    responses((status = 200, body = PreviewResponse), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn preview_source(
    State(state): State<ApiState>,
    user: User,
    Path((draft_id, source_id)): Path<(String, String)>,
) -> Result<Json<PreviewResponse>, ApiError> {
    let draft = load(&state, &user, &draft_id).await?;
    let source = find_source(&draft, &source_id)?;
    Ok(Json(preview(&state, &draft, vec![source], DEFAULT_MAX_CHUNKS).await?))
}

/// Estimates of the knowledge base a draft would make.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ValidationStats {
    pub sources: usize,
    pub web_sources: usize,
    pub text_sources: usize,
    pub file_sources: usize,
    /// Upper bound: every web source reaching its max_pages.
    pub estimated_pages: u64,
    pub estimated_chunks: u64,
    pub estimated_tokens: u64,
    pub estimated_processing_seconds: u64,
}

/// `POST .../validate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationReport {
    pub valid: bool,
    pub errors: Vec<ErrorDetail>,
    pub warnings: Vec<ErrorDetail>,
    pub stats: ValidationStats,
}

fn detail(code: &str, field: &str, message: impl Into<String>) -> ErrorDetail {
    ErrorDetail { code: code.to_owned(), message: message.into(), field: Some(field.to_owned()) }
}

/// The errors that make a draft impossible to finalize (no network access: fast).
pub(crate) fn errors(draft: &Draft, served_model: &str) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    if draft.name.trim().is_empty() {
        errors.push(detail("required", "name", "name must not be empty"));
    }
    if draft.sources.is_empty() {
        errors.push(detail("empty_draft", "sources", "add at least one source before finalizing"));
    }
    if let Err(e) = draft.config.chunking.validate() {
        errors.push(detail(&e.code, &format!("chunking_config.{}", e.field), e.message));
    }
    if let Err(e) = draft.config.embedding.validate() {
        errors.push(detail(&e.code, &format!("embedding_config.{}", e.field), e.message));
    } else if draft.config.embedding.model != served_model {
        errors.push(detail("unknown_model", "embedding_config.model", format!("this deployment embeds with {served_model:?}")));
    }
    for s in &draft.sources {
        if let SourceSpec::Web { url, crawl } = &s.spec {
            if let Err(e) = crawl.validate() {
                errors.push(detail(&e.code, &format!("sources.{}.{}", s.id, e.field), e.message));
            }
            if let Err(e) = parse_start_url(url, &crawl.strip_query_params) {
                errors.push(detail("invalid_url", &format!("sources.{}.url", s.id), e.to_string()));
            }
        }
    }
    errors
}

/// Validate a draft: errors, warnings and estimates (web sources are sampled).
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/validate", tag = "preview", params(("draft_id" = String, Path)),
    responses((status = 200, body = ValidationReport), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn validate(State(state): State<ApiState>, user: User, Path(draft_id): Path<String>) -> Result<Json<ValidationReport>, ApiError> {
    let draft = load(&state, &user, &draft_id).await?;
    let errors = errors(&draft, &state.model_name);
    let mut warnings = Vec::new();
    let mut stats = ValidationStats { sources: draft.sources.len(), ..Default::default() };
    for source in &draft.sources {
        let s = sample(&state, &draft, source).await?;
        let tokens: u64 = s.chunks.iter().map(|c| u64::from(c.token_count)).sum();
        let (pages, factor) = match &source.spec {
            SourceSpec::Web { crawl, .. } => {
                stats.web_sources += 1;
                let pages = u64::from(crawl.max_pages);
                (pages, pages as f64 / s.pages.max(1) as f64)
            }
            SourceSpec::Text { .. } => {
                stats.text_sources += 1;
                (1, 1.0)
            }
            SourceSpec::File { .. } => {
                stats.file_sources += 1;
                (1, 1.0)
            }
        };
        stats.estimated_pages += pages;
        stats.estimated_chunks += (s.chunks.len() as f64 * factor).round() as u64;
        stats.estimated_tokens += (tokens as f64 * factor).round() as u64;
        for w in s.warnings {
            warnings.push(detail("unreachable", &format!("sources.{}", source.id), w));
        }
        if matches!(&source.spec, SourceSpec::Web { .. }) && s.pages == 0 {
            warnings.push(detail("no_sample", &format!("sources.{}", source.id), "the start page could not be sampled; the crawl may fail"));
        }
    }
    stats.estimated_processing_seconds =
        (stats.estimated_pages as f64 / CRAWL_RATE + stats.estimated_chunks as f64 / EMBED_RATE).ceil() as u64;
    Ok(Json(ValidationReport { valid: errors.is_empty(), errors, warnings, stats }))
}

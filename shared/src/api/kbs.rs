//! Knowledge bases and their pipelines: status, details, documents, deletion and search.
//! A knowledge base belongs to a workspace; callers outside it get 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::User;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::ApiState;
use crate::domain::{KbId, KnowledgeBase, PipelineId, PipelineStatus, SearchMode, SourceId};
use crate::pipeline::search::{search as run_search, SearchError, SearchRequest as CoreSearch, SearchResult};
use crate::pipeline::{kb as kb_service, progress};
use crate::ports::SearchFilter;

async fn load_kb(state: &ApiState, user: &User, id: &str) -> Result<KnowledgeBase, ApiError> {
    let id: KbId = id.parse().map_err(|_| ApiError::not_found("knowledge base"))?;
    match state.ctx.catalog.get_kb(id).await? {
        Some(kb) if user.can_use(&kb.workspace_id) => Ok(kb),
        _ => Err(ApiError::not_found("knowledge base")),
    }
}

/// Live status of a pipeline.
#[utoipa::path(get, path = "/api/v1/pipelines/{pipeline_id}/status", tag = "pipelines", params(("pipeline_id" = String, Path)),
    responses((status = 200, body = Object, description = "pipeline_id, kb_id, status, current_stage, progress_percentage, stats, started_at, updated_at, estimated_completion, failed_pages"),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pipeline_status(State(state): State<ApiState>, user: User, Path(pipeline_id): Path<String>) -> Result<Json<PipelineStatus>, ApiError> {
    let id: PipelineId = pipeline_id.parse().map_err(|_| ApiError::not_found("pipeline"))?;
    let kb = match state.ctx.catalog.get_kb_by_pipeline(id).await? {
        Some(kb) if user.can_use(&kb.workspace_id) => kb,
        _ => return Err(ApiError::not_found("pipeline")),
    };
    Ok(Json(progress::read(&state.ctx, &kb).await?))
}

/// A knowledge base in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct KbSummary {
    #[schema(value_type = String, format = Uuid)]
    pub id: KbId,
    pub name: String,
    pub description: Option<String>,
    pub workspace_id: String,
    pub status: String,
    #[schema(value_type = String, format = Uuid)]
    pub pipeline_id: PipelineId,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&KnowledgeBase> for KbSummary {
    fn from(kb: &KnowledgeBase) -> Self {
        Self {
            id: kb.id,
            name: kb.name.clone(),
            description: kb.description.clone(),
            workspace_id: kb.workspace_id.clone(),
            status: kb.status.as_str().to_owned(),
            pipeline_id: kb.pipeline_id,
            created_at: kb.created_at,
            finished_at: kb.finished_at,
        }
    }
}

/// `GET /api/v1/kbs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KbList {
    pub knowledge_bases: Vec<KbSummary>,
}

/// The caller's workspaces' knowledge bases, newest first.
#[utoipa::path(get, path = "/api/v1/kbs", tag = "kbs", responses((status = 200, body = KbList), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_kbs(State(state): State<ApiState>, user: User) -> Result<Json<KbList>, ApiError> {
    let kbs = state.ctx.catalog.list_kbs(Some(&user.workspaces)).await?;
    Ok(Json(KbList { knowledge_bases: kbs.iter().map(KbSummary::from).collect() }))
}

/// Page and chunk counts of a knowledge base.
#[derive(Debug, Serialize, ToSchema)]
pub struct KbCounts {
    pub pages_total: u64,
    pub pages_indexed: u64,
    pub pages_failed: u64,
    pub pages_skipped: u64,
    pub pages_pending: u64,
    pub chunks: u64,
    pub vectors: u64,
}

/// `GET /api/v1/kbs/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KbDetail {
    #[serde(flatten)]
    pub summary: KbSummary,
    pub stats: KbCounts,
    #[schema(value_type = Object)]
    pub config: crate::domain::KbConfig,
    #[schema(value_type = Vec<Object>)]
    pub sources: Vec<crate::domain::Source>,
}

/// A knowledge base with its counts, configuration and sources.
#[utoipa::path(get, path = "/api/v1/kbs/{kb_id}", tag = "kbs", params(("kb_id" = String, Path)),
    responses((status = 200, body = KbDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_kb(State(state): State<ApiState>, user: User, Path(kb_id): Path<String>) -> Result<Json<KbDetail>, ApiError> {
    let kb = load_kb(&state, &user, &kb_id).await?;
    let s = state.ctx.catalog.stats(kb.id).await?;
    let stats = KbCounts {
        pages_total: s.pages_total(),
        pages_indexed: s.pages_indexed,
        pages_failed: s.pages_failed,
        pages_skipped: s.pages_skipped,
        pages_pending: s.pages_outstanding(),
        chunks: s.chunks,
        vectors: state.ctx.index.count(kb.id).await?,
    };
    let sources = state.ctx.catalog.list_sources(kb.id).await?;
    Ok(Json(KbDetail { summary: KbSummary::from(&kb), stats, config: kb.config.clone(), sources }))
}

/// One document (page) of a knowledge base and its outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: crate::domain::PageId,
    #[schema(value_type = String, format = Uuid)]
    pub source_id: SourceId,
    pub url: String,
    pub title: Option<String>,
    /// `indexed`, `failed`, `skipped`, or `pending` while the pipeline runs.
    pub status: String,
    pub reason: Option<String>,
    pub depth: u32,
    pub chunks: u32,
}

/// `GET .../documents` and `.../pages`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<DocumentView>,
}

fn public_status(status: crate::domain::PageStatus) -> &'static str {
    use crate::domain::PageStatus as S;
    match status {
        S::Indexed => "indexed",
        S::Failed => "failed",
        S::Skipped => "skipped",
        S::Queued | S::Fetched | S::Chunked => "pending",
    }
}

async fn documents(state: &ApiState, user: &User, kb_id: &str) -> Result<Json<DocumentList>, ApiError> {
    let kb = load_kb(state, user, kb_id).await?;
    let pages = state.ctx.catalog.list_pages(kb.id).await?;
    Ok(Json(DocumentList {
        documents: pages
            .into_iter()
            .map(|p| DocumentView {
                id: p.id,
                source_id: p.source_id,
                url: p.url,
                title: p.title,
                status: public_status(p.status).to_owned(),
                reason: p.reason,
                depth: p.depth,
                chunks: p.chunk_count,
            })
            .collect(),
    }))
}

/// Every document (crawled page, uploaded file, pasted text) with its outcome.
#[utoipa::path(get, path = "/api/v1/kbs/{kb_id}/documents", tag = "kbs", params(("kb_id" = String, Path)),
    responses((status = 200, body = DocumentList), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_documents(State(state): State<ApiState>, user: User, Path(kb_id): Path<String>) -> Result<Json<DocumentList>, ApiError> {
    documents(&state, &user, &kb_id).await
}

/// Every page of the crawl with its outcome (the same list as documents).
#[utoipa::path(get, path = "/api/v1/kbs/{kb_id}/pages", tag = "kbs", params(("kb_id" = String, Path)),
    responses((status = 200, body = DocumentList), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_pages(State(state): State<ApiState>, user: User, Path(kb_id): Path<String>) -> Result<Json<DocumentList>, ApiError> {
    documents(&state, &user, &kb_id).await
}

/// Delete a knowledge base: its rows, blobs and vectors.
#[utoipa::path(delete, path = "/api/v1/kbs/{kb_id}", tag = "kbs", params(("kb_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_kb(State(state): State<ApiState>, user: User, Path(kb_id): Path<String>) -> Result<StatusCode, ApiError> {
    let kb = load_kb(&state, &user, &kb_id).await?;
    kb_service::delete(&state.ctx, kb.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/kbs/{id}/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    pub query: String,
    /// Results (1..=100, default 5).
    pub top_k: Option<usize>,
    /// Minimum cosine similarity of the dense match.
    pub score_threshold: Option<f32>,
    /// `dense`, `sparse` or `hybrid` (default: the KB's).
    #[schema(value_type = Option<String>)]
    pub mode: Option<SearchMode>,
    /// Only chunks of these sources.
    #[schema(value_type = Option<Vec<String>>)]
    pub source_ids: Option<Vec<SourceId>>,
    /// Only chunks of pages under this URL.
    pub url_prefix: Option<String>,
    /// Each page once, with its best chunk (default: the KB's, `true` unless it was built
    /// with `vector_store_config.group_by_page: false`); `false` returns every matching chunk.
    pub group_by_page: Option<bool>,
}

/// Search results, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub results: Vec<SearchResult>,
}

/// Search a knowledge base.
#[utoipa::path(post, path = "/api/v1/kbs/{kb_id}/search", tag = "kbs", params(("kb_id" = String, Path)), request_body = SearchBody,
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<ApiState>,
    user: User,
    Path(kb_id): Path<String>,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchResponse>, ApiError> {
    let kb = load_kb(&state, &user, &kb_id).await?;
    let request = CoreSearch {
        query: body.query,
        top_k: body.top_k.unwrap_or(5),
        score_threshold: body.score_threshold,
        mode: body.mode,
        filter: SearchFilter { source_ids: body.source_ids.unwrap_or_default(), url_prefix: body.url_prefix },
        group_by_page: body.group_by_page,
    };
    let results = run_search(&state.ctx, &kb, &request).await.map_err(|e| match e {
        SearchError::Invalid { field, message } => ApiError::bad_request("invalid_value", field, message),
        SearchError::Unavailable(m) => ApiError::unavailable(m),
        SearchError::Store(s) => ApiError::from(s),
    })?;
    Ok(Json(SearchResponse { results }))
}

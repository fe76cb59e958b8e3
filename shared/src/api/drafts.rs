//! Drafts: a knowledge base being put together (sources, configuration), kept in the
//! key-value store for 24 hours and nothing in the catalog until finalize. A draft belongs
//! to the user who created it; anyone else gets 404.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::User;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::ApiState;
use crate::domain::{
    ChunkingConfig, CrawlConfig, DraftId, EmbeddingConfig, KbConfig, RenderMode, SourceId, SourceSpec, VectorStoreConfig,
};

/// How long a draft lives.
pub const DRAFT_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long after its end a draft still answers 410 (expired or finalized) instead of 404.
const TOMBSTONE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Sources one draft may hold.
pub const MAX_SOURCES: usize = 100;

/// A draft as stored and returned.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Draft {
    #[schema(value_type = String, format = Uuid)]
    pub id: DraftId,
    pub owner: String,
    pub workspace_id: String,
    pub name: String,
    pub description: Option<String>,
    pub sources: Vec<DraftSource>,
    #[schema(value_type = Object)]
    pub config: KbConfig,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A source of a draft.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DraftSource {
    #[schema(value_type = String, format = Uuid)]
    pub id: SourceId,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub spec: SourceSpec,
    pub added_at: DateTime<Utc>,
}

fn key(id: DraftId) -> String {
    format!("draft:{id}")
}

fn tombstone(id: DraftId) -> String {
    format!("draft:{id}:ended")
}

fn lock(id: DraftId) -> String {
    format!("draft:{id}:lock")
}

/// Loads the caller's draft: 404 when it is not theirs or never existed, 410 when it
/// expired or was finalized.
pub(crate) async fn load(state: &ApiState, user: &User, id: &str) -> Result<Draft, ApiError> {
    let id: DraftId = id.parse().map_err(|_| ApiError::not_found("draft"))?;
    match state.ctx.kv.get(&key(id)).await? {
        Some(bytes) => {
            let draft: Draft = serde_json::from_slice(&bytes).map_err(|e| {
                tracing::error!(error = %e, "unreadable draft");
                ApiError::unavailable("the draft could not be read")
            })?;
            if draft.owner != user.id {
                return Err(ApiError::not_found("draft"));
            }
            Ok(draft)
        }
        None => match state.ctx.kv.get(&tombstone(id)).await? {
            Some(bytes) => {
                let note: Tombstone = serde_json::from_slice(&bytes).unwrap_or_default();
                if note.owner != user.id {
                    return Err(ApiError::not_found("draft"));
                }
                Err(ApiError::new(StatusCode::GONE, "draft_expired", note.message).field("draft_id"))
            }
            None => Err(ApiError::not_found("draft")),
        },
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Tombstone {
    owner: String,
    message: String,
}

/// Stores a draft until its expiry.
pub(crate) async fn save(state: &ApiState, draft: &mut Draft) -> Result<(), ApiError> {
    let now = crate::domain::now();
    let ttl = (draft.expires_at - now).to_std().unwrap_or(Duration::from_secs(1)).max(Duration::from_secs(1));
    draft.updated_at = now;
    let body = serde_json::to_vec(draft).expect("drafts serialise");
    state.ctx.kv.set(&key(draft.id), body, Some(ttl)).await?;
    // Seen after the draft is gone: it expired (unless finalize rewrites it).
    let note = Tombstone { owner: draft.owner.clone(), message: "the draft expired (drafts live 24 hours)".to_owned() };
    state
        .ctx
        .kv
        .set(&tombstone(draft.id), serde_json::to_vec(&note).expect("serialises"), Some(ttl + TOMBSTONE_TTL))
        .await?;
    Ok(())
}

/// Ends a draft (deleted or finalized); later reads answer `message` with 410.
pub(crate) async fn end(state: &ApiState, draft: &Draft, message: &str) -> Result<(), ApiError> {
    let note = Tombstone { owner: draft.owner.clone(), message: message.to_owned() };
    state.ctx.kv.set(&tombstone(draft.id), serde_json::to_vec(&note).expect("serialises"), Some(TOMBSTONE_TTL)).await?;
    state.ctx.kv.delete(&key(draft.id)).await?;
    state.ctx.blobs.delete_prefix(&format!("drafts/{}/", draft.id)).await?;
    Ok(())
}

/// Runs `change` on the caller's draft under a short lock, so concurrent edits do not lose
/// each other, and stores the result.
pub(crate) async fn update<T>(
    state: &ApiState,
    user: &User,
    id: &str,
    change: impl FnOnce(&mut Draft) -> Result<T, ApiError>,
) -> Result<(Draft, T), ApiError> {
    let draft = load(state, user, id).await?;
    let lock_key = lock(draft.id);
    let mut acquired = false;
    for _ in 0..50 {
        if state.ctx.kv.set_if_absent(&lock_key, b"1".to_vec(), Some(Duration::from_secs(10))).await? {
            acquired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !acquired {
        return Err(ApiError::new(StatusCode::CONFLICT, "busy", "the draft is being changed by another request; retry"));
    }
    let result = async {
        let mut draft = load(state, user, id).await?;
        let out = change(&mut draft)?;
        save(state, &mut draft).await?;
        Ok((draft, out))
    }
    .await;
    state.ctx.kv.delete(&lock_key).await?;
    result
}

/// `POST /api/v1/kb-drafts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDraft {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub workspace_id: String,
}

/// Create a draft.
#[utoipa::path(post, path = "/api/v1/kb-drafts", tag = "drafts", request_body = CreateDraft,
    responses((status = 201, body = Draft), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_draft(State(state): State<ApiState>, user: User, ApiJson(req): ApiJson<CreateDraft>) -> Result<(StatusCode, Json<Draft>), ApiError> {
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request("required", "name", "name must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(ApiError::bad_request("too_long", "name", "name must be at most 200 characters"));
    }
    if req.workspace_id.trim().is_empty() {
        return Err(ApiError::bad_request("required", "workspace_id", "workspace_id must not be empty"));
    }
    if !user.can_use(&req.workspace_id) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden_workspace", "you are not a member of this workspace").field("workspace_id"));
    }
    let now = crate::domain::now();
    let mut draft = Draft {
        id: DraftId::random(),
        owner: user.id,
        workspace_id: req.workspace_id,
        name: name.to_owned(),
        description: req.description.filter(|d| !d.trim().is_empty()),
        sources: Vec::new(),
        config: KbConfig { embedding: EmbeddingConfig { model: state.model_name.clone(), ..Default::default() }, ..Default::default() },
        created_at: now,
        updated_at: now,
        expires_at: now + chrono::Duration::from_std(DRAFT_TTL).expect("fits"),
    };
    save(&state, &mut draft).await?;
    Ok((StatusCode::CREATED, Json(draft)))
}

/// Get a draft.
#[utoipa::path(get, path = "/api/v1/kb-drafts/{draft_id}", tag = "drafts", params(("draft_id" = String, Path)),
    responses((status = 200, body = Draft), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_draft(State(state): State<ApiState>, user: User, Path(draft_id): Path<String>) -> Result<Json<Draft>, ApiError> {
    Ok(Json(load(&state, &user, &draft_id).await?))
}

/// Delete a draft (and its uploads).
#[utoipa::path(delete, path = "/api/v1/kb-drafts/{draft_id}", tag = "drafts", params(("draft_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_draft(State(state): State<ApiState>, user: User, Path(draft_id): Path<String>) -> Result<StatusCode, ApiError> {
    let draft = load(&state, &user, &draft_id).await?;
    end(&state, &draft, "the draft was deleted").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../sources/web`: a start URL and how to crawl from it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebSourceRequest {
    pub url: String,
    pub max_pages: Option<u32>,
    pub max_depth: Option<u32>,
    pub include_patterns: Option<Vec<String>>,
    pub exclude_patterns: Option<Vec<String>>,
    pub include_subdomains: Option<bool>,
    pub respect_robots_txt: Option<bool>,
    pub use_sitemap: Option<bool>,
    #[schema(value_type = Option<String>, example = "auto")]
    pub render: Option<RenderMode>,
    pub strip_query_params: Option<Vec<String>>,
    pub max_concurrency_per_host: Option<u32>,
    pub max_requests_per_second: Option<f64>,
}

impl WebSourceRequest {
    fn into_spec(self) -> Result<SourceSpec, ApiError> {
        let d = CrawlConfig::default();
        let crawl = CrawlConfig {
            max_pages: self.max_pages.unwrap_or(d.max_pages),
            max_depth: self.max_depth.unwrap_or(d.max_depth),
            include_patterns: self.include_patterns.unwrap_or_default(),
            exclude_patterns: self.exclude_patterns.unwrap_or_default(),
            include_subdomains: self.include_subdomains.unwrap_or(d.include_subdomains),
            respect_robots_txt: self.respect_robots_txt.unwrap_or(d.respect_robots_txt),
            use_sitemap: self.use_sitemap.unwrap_or(d.use_sitemap),
            render: self.render.unwrap_or(d.render),
            strip_query_params: self.strip_query_params.unwrap_or_default(),
            max_concurrency_per_host: self.max_concurrency_per_host.unwrap_or(d.max_concurrency_per_host),
            max_requests_per_second: self.max_requests_per_second.or(d.max_requests_per_second),
        };
        crawl.validate()?;
        let url = crate::crawl::urls::parse_start_url(&self.url, &crawl.strip_query_params).map_err(|e| {
            let code = if matches!(e, crate::crawl::urls::UrlError::Scheme { .. }) { "unsupported_scheme" } else { "invalid_url" };
            ApiError::bad_request(code, "url", e.to_string())
        })?;
        Ok(SourceSpec::Web { url: url.to_string(), crawl })
    }
}

/// `POST .../sources/text`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextSourceRequest {
    pub title: String,
    pub content: String,
}

/// Largest pasted text accepted.
pub const MAX_TEXT_BYTES: usize = 5 * 1024 * 1024;

pub(crate) fn add_source(draft: &mut Draft, id: SourceId, spec: SourceSpec) -> Result<DraftSource, ApiError> {
    if draft.sources.len() >= MAX_SOURCES {
        return Err(ApiError::bad_request("too_many_sources", "sources", format!("a draft holds at most {MAX_SOURCES} sources")));
    }
    let source = DraftSource { id, spec, added_at: crate::domain::now() };
    draft.sources.push(source.clone());
    Ok(source)
}

/// Add a web site.
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/sources/web", tag = "sources", params(("draft_id" = String, Path)),
    request_body = WebSourceRequest, responses((status = 201, body = DraftSource), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_web_source(
    State(state): State<ApiState>,
    user: User,
    Path(draft_id): Path<String>,
    ApiJson(req): ApiJson<WebSourceRequest>,
) -> Result<(StatusCode, Json<DraftSource>), ApiError> {
    load(&state, &user, &draft_id).await?;
    let spec = req.into_spec()?;
    let (_, source) = update(&state, &user, &draft_id, |d| add_source(d, SourceId::random(), spec)).await?;
    Ok((StatusCode::CREATED, Json(source)))
}

/// Add pasted text.
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/sources/text", tag = "sources", params(("draft_id" = String, Path)),
    request_body = TextSourceRequest, responses((status = 201, body = DraftSource), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_text_source(
    State(state): State<ApiState>,
    user: User,
    Path(draft_id): Path<String>,
    ApiJson(req): ApiJson<TextSourceRequest>,
) -> Result<(StatusCode, Json<DraftSource>), ApiError> {
    load(&state, &user, &draft_id).await?;
    if req.title.trim().is_empty() {
        return Err(ApiError::bad_request("required", "title", "title must not be empty"));
    }
    if req.content.trim().is_empty() {
        return Err(ApiError::bad_request("required", "content", "content must not be empty"));
    }
    if req.content.len() > MAX_TEXT_BYTES {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("content is larger than {MAX_TEXT_BYTES} bytes")).field("content"));
    }
    let spec = SourceSpec::Text { title: req.title.trim().to_owned(), content: req.content };
    let (_, source) = update(&state, &user, &draft_id, |d| add_source(d, SourceId::random(), spec)).await?;
    Ok((StatusCode::CREATED, Json(source)))
}

/// The sources of a draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceList {
    pub sources: Vec<DraftSource>,
}

/// List a draft's sources.
#[utoipa::path(get, path = "/api/v1/kb-drafts/{draft_id}/sources", tag = "sources", params(("draft_id" = String, Path)),
    responses((status = 200, body = SourceList), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_sources(State(state): State<ApiState>, user: User, Path(draft_id): Path<String>) -> Result<Json<SourceList>, ApiError> {
    Ok(Json(SourceList { sources: load(&state, &user, &draft_id).await?.sources }))
}

/// Remove a source (and its upload).
#[utoipa::path(delete, path = "/api/v1/kb-drafts/{draft_id}/sources/{source_id}", tag = "sources",
    params(("draft_id" = String, Path), ("source_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_source(
    State(state): State<ApiState>,
    user: User,
    Path((draft_id, source_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let source_id: SourceId = source_id.parse().map_err(|_| ApiError::not_found("source"))?;
    let (draft, ()) = update(&state, &user, &draft_id, |d| {
        let before = d.sources.len();
        d.sources.retain(|s| s.id != source_id);
        if d.sources.len() == before { Err(ApiError::not_found("source")) } else { Ok(()) }
    })
    .await?;
    state.ctx.blobs.delete_prefix(&format!("drafts/{}/{source_id}/", draft.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH .../config`: any of the three parts; the fields given replace the current ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    #[schema(value_type = Option<Object>)]
    pub chunking_config: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub embedding_config: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub vector_store_config: Option<serde_json::Value>,
}

/// Merges `patch` (a JSON object) into `current`, checks enum values by name so the error
/// names the field, and parses the result.
fn merge<T: Serialize + serde::de::DeserializeOwned>(current: &T, patch: serde_json::Value, part: &str, enums: &[(&str, &[&str])]) -> Result<T, ApiError> {
    let serde_json::Value::Object(patch) = patch else {
        return Err(ApiError::bad_request("invalid_type", part, format!("{part} must be an object")));
    };
    let original = serde_json::to_value(current).expect("config serialises");
    let mut value = original.clone();
    for (k, v) in &patch {
        if let Some((_, allowed)) = enums.iter().find(|(name, _)| *name == k.as_str()) {
            if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
                return Err(ApiError::bad_request(
                    &format!("unknown_{k}"),
                    &format!("{part}.{k}"),
                    format!("{k} must be one of {}", allowed.join(", ")),
                ));
            }
        }
        if value.get(k.as_str()).is_none() {
            return Err(ApiError::bad_request("unknown_field", &format!("{part}.{k}"), format!("unknown field {k}")));
        }
        value[k.as_str()] = v.clone();
    }
    serde_json::from_value(value).map_err(|e| {
        // Name the field whose value does not fit (`"neighbor_weight": "lots"`) when one alone does not.
        let field = patch
            .iter()
            .find(|(k, v)| {
                let mut alone = original.clone();
                alone[k.as_str()] = (*v).clone();
                serde_json::from_value::<T>(alone).is_err()
            })
            .map_or_else(|| part.to_owned(), |(k, _)| format!("{part}.{k}"));
        ApiError::bad_request("invalid_value", &field, e.to_string())
    })
}

fn strategies() -> Vec<&'static str> {
    crate::domain::ChunkStrategy::ALL.iter().map(|s| s.as_str()).collect()
}

pub(crate) fn apply_chunking(draft: &mut Draft, patch: serde_json::Value) -> Result<(), ApiError> {
    let strategies = strategies();
    let config: ChunkingConfig = merge(&draft.config.chunking, patch, "chunking_config", &[
        ("strategy", &strategies),
        ("size_unit", &["characters", "tokens"]),
    ])?;
    config.validate().map_err(|e| {
        let field = format!("chunking_config.{}", e.field);
        ApiError::from(e).field(&field)
    })?;
    draft.config.chunking = config;
    Ok(())
}

pub(crate) fn apply_embedding(draft: &mut Draft, patch: serde_json::Value, served: &str) -> Result<(), ApiError> {
    let config: EmbeddingConfig = merge(&draft.config.embedding, patch, "embedding_config", &[])?;
    config.validate().map_err(|e| {
        let field = format!("embedding_config.{}", e.field);
        ApiError::from(e).field(&field)
    })?;
    if config.model != served {
        return Err(ApiError::bad_request(
            "unknown_model",
            "embedding_config.model",
            format!("model {:?} is not available; this deployment embeds with {served:?}", config.model),
        ));
    }
    draft.config.embedding = config;
    Ok(())
}

fn apply_vector_store(draft: &mut Draft, patch: serde_json::Value) -> Result<(), ApiError> {
    draft.config.vector_store = merge::<VectorStoreConfig>(&draft.config.vector_store, patch, "vector_store_config", &[
        ("default_search_mode", &["dense", "sparse", "hybrid"]),
    ])?;
    Ok(())
}

/// Change the draft's configuration.
#[utoipa::path(patch, path = "/api/v1/kb-drafts/{draft_id}/config", tag = "config", params(("draft_id" = String, Path)),
    request_body = ConfigPatch, responses((status = 200, body = Draft), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_config(
    State(state): State<ApiState>,
    user: User,
    Path(draft_id): Path<String>,
    ApiJson(patch): ApiJson<ConfigPatch>,
) -> Result<Json<Draft>, ApiError> {
    let served = state.model_name.clone();
    let (draft, ()) = update(&state, &user, &draft_id, |d| {
        if let Some(p) = patch.chunking_config {
            apply_chunking(d, p)?;
        }
        if let Some(p) = patch.embedding_config {
            apply_embedding(d, p, &served)?;
        }
        if let Some(p) = patch.vector_store_config {
            apply_vector_store(d, p)?;
        }
        Ok(())
    })
    .await?;
    Ok(Json(draft))
}

/// Set the chunking configuration (fields not given keep their value).
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/chunking", tag = "config", params(("draft_id" = String, Path)),
    request_body(content = Object, description = "chunking_config fields: strategy, chunk_size, chunk_overlap, size_unit"),
    responses((status = 200, body = Draft), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_chunking(
    State(state): State<ApiState>,
    user: User,
    Path(draft_id): Path<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<Json<Draft>, ApiError> {
    let (draft, ()) = update(&state, &user, &draft_id, |d| apply_chunking(d, patch)).await?;
    Ok(Json(draft))
}

/// Set the embedding configuration (fields not given keep their value).
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/embedding", tag = "config", params(("draft_id" = String, Path)),
    request_body(content = Object, description = "embedding_config fields: model, batch_size, contextual_headers, neighbor_weight"),
    responses((status = 200, body = Draft), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_embedding(
    State(state): State<ApiState>,
    user: User,
    Path(draft_id): Path<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<Json<Draft>, ApiError> {
    let served = state.model_name.clone();
    let (draft, ()) = update(&state, &user, &draft_id, |d| apply_embedding(d, patch, &served)).await?;
    Ok(Json(draft))
}

//! The HTTP API (axum): drafts, sources, configuration, preview, validation, finalize,
//! pipeline status, knowledge bases and search, with JWT authentication, workspace
//! isolation, per-user rate limits and an OpenAPI document generated from the handlers
//! themselves (each route is registered together with its documentation, so the document
//! is complete by construction).

pub mod auth;
mod drafts;
pub mod error;
mod finalize;
mod kbs;
mod preview;
mod uploads;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{Auth, Claims, User};
pub use error::{ApiError, ErrorBody};

use crate::files::FileLimits;
use crate::pipeline::Context;
use crate::settings::Settings;

/// Limits of the API.
#[derive(Clone, Copy, Debug)]
pub struct ApiLimits {
    /// Requests per user per minute (0: unlimited).
    pub requests_per_minute: u32,
    pub files: FileLimits,
}

impl ApiLimits {
    #[must_use]
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            requests_per_minute: settings.rate_limit_per_minute,
            files: FileLimits { max_bytes: settings.max_upload_bytes, ..FileLimits::default() },
        }
    }
}

/// Why the API cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Auth(#[from] auth::AuthConfigError),
    #[error("set KB_JWT_SECRET (HS256) or KB_JWT_PUBLIC_KEY (RS256): every route but /health needs a token")]
    NoAuth,
    #[error(transparent)]
    Model(#[from] crate::tokens::ModelError),
    #[error(transparent)]
    Wiring(#[from] crate::wiring::WiringError),
}

/// What every handler gets.
#[derive(Clone)]
pub struct ApiState {
    pub ctx: Context,
    pub auth: Arc<Auth>,
    pub limits: ApiLimits,
    /// The embedding model this deployment serves (drafts default to it).
    pub model_name: String,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "kb: knowledge-base builder API", description = "Turn web sites, files and text into searchable knowledge bases for RAG chatbots."),
    modifiers(&BearerAuth),
    tags(
        (name = "drafts", description = "Drafts: a knowledge base being assembled (24 h)"),
        (name = "sources", description = "Web, text and file sources of a draft"),
        (name = "config", description = "Chunking, embedding and vector-store configuration"),
        (name = "preview", description = "Chunk previews and validation"),
        (name = "pipelines", description = "Live pipeline status"),
        (name = "kbs", description = "Knowledge bases and search"),
        (name = "health", description = "Liveness"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

impl ApiState {
    /// The state of a deployed API (the HTTP functions): keys from the settings (required),
    /// adapters the settings select, and the tokenizer and embedder `roles` asks for (preview
    /// needs the tokenizer, search the embedder; finalize needs neither).
    ///
    /// # Errors
    /// No or unusable keys, no model, or an adapter that cannot be opened.
    pub async fn from_settings(settings: Settings, roles: crate::wiring::Roles) -> Result<Self, StartError> {
        let auth = Auth::from_settings(&settings)?.ok_or(StartError::NoAuth)?;
        Self::new(settings, roles, auth).await
    }

    /// The state of an API checking tokens with `auth`, on the adapters the settings select.
    ///
    /// # Errors
    /// No model, or an adapter that cannot be opened.
    pub async fn new(settings: Settings, roles: crate::wiring::Roles, auth: Auth) -> Result<Self, StartError> {
        let model_name = crate::tokens::ModelDir::open(&settings.model_dir)?.name;
        let limits = ApiLimits::from_settings(&settings);
        let ctx = crate::wiring::context(settings, roles).await?;
        Ok(Self { ctx, auth: Arc::new(auth), limits, model_name })
    }
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Object, description = "{\"status\": \"ok\"}")))]
async fn health() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

fn draft_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(drafts::create_draft))
        .routes(routes!(drafts::get_draft, drafts::delete_draft))
        .routes(routes!(drafts::add_web_source))
        .routes(routes!(drafts::add_text_source))
        .routes(routes!(uploads::upload_source))
        .routes(routes!(drafts::list_sources))
        .routes(routes!(drafts::delete_source))
        .routes(routes!(drafts::patch_config))
        .routes(routes!(drafts::set_chunking))
        .routes(routes!(drafts::set_embedding))
        .routes(routes!(preview::preview_chunks))
        .routes(routes!(preview::preview_source))
        .routes(routes!(preview::validate))
        .routes(routes!(kbs::pipeline_status))
        .routes(routes!(kbs::list_kbs))
        .routes(routes!(kbs::get_kb, kbs::delete_kb))
        .routes(routes!(kbs::list_documents))
        .routes(routes!(kbs::list_pages))
        .routes(routes!(kbs::search))
}

fn finalize_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(finalize::finalize))
}

/// The OpenAPI document of the whole API.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    draft_routes().merge(finalize_routes()).into_openapi()
}

/// `GET /api/v1/openapi.json`.
async fn openapi_json(State(_): State<ApiState>, _user: User) -> impl IntoResponse {
    (StatusCode::OK, Json(openapi()))
}

fn finish(router: OpenApiRouter<ApiState>, state: ApiState) -> Router {
    let body_limit = (state.limits.files.max_bytes as usize + 1024 * 1024).max(8 * 1024 * 1024);
    let (router, _) = router.split_for_parts();
    router
        .route("/api/v1/openapi.json", get(openapi_json))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Every route (what `kb serve` runs).
#[must_use]
pub fn router(state: ApiState) -> Router {
    finish(draft_routes().merge(finalize_routes()), state)
}

/// Every route but finalize (the `draft-api` function).
#[must_use]
pub fn draft_api_router(state: ApiState) -> Router {
    finish(draft_routes(), state)
}

/// Finalize and health (the `finalize` function).
#[must_use]
pub fn finalize_router(state: ApiState) -> Router {
    finish(OpenApiRouter::new().routes(routes!(health)).merge(finalize_routes()), state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_has_every_route() {
        let doc = super::openapi();
        let paths: Vec<&String> = doc.paths.paths.keys().collect();
        for p in [
            "/health",
            "/api/v1/kb-drafts",
            "/api/v1/kb-drafts/{draft_id}",
            "/api/v1/kb-drafts/{draft_id}/sources/web",
            "/api/v1/kb-drafts/{draft_id}/sources/text",
            "/api/v1/kb-drafts/{draft_id}/sources/upload",
            "/api/v1/kb-drafts/{draft_id}/sources",
            "/api/v1/kb-drafts/{draft_id}/sources/{source_id}",
            "/api/v1/kb-drafts/{draft_id}/config",
            "/api/v1/kb-drafts/{draft_id}/chunking",
            "/api/v1/kb-drafts/{draft_id}/embedding",
            "/api/v1/kb-drafts/{draft_id}/preview-chunks",
            "/api/v1/kb-drafts/{draft_id}/sources/{source_id}/preview",
            "/api/v1/kb-drafts/{draft_id}/validate",
            "/api/v1/kb-drafts/{draft_id}/finalize",
            "/api/v1/pipelines/{pipeline_id}/status",
            "/api/v1/kbs",
            "/api/v1/kbs/{kb_id}",
            "/api/v1/kbs/{kb_id}/documents",
            "/api/v1/kbs/{kb_id}/pages",
            "/api/v1/kbs/{kb_id}/search",
        ] {
            assert!(paths.iter().any(|x| x.as_str() == p), "{p} missing from {paths:?}");
        }
        assert!(doc.components.unwrap().security_schemes.contains_key("bearer"));
    }
}

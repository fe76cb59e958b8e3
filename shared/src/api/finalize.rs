//! `POST .../finalize`: the draft becomes a knowledge base. Synchronous and quick: catalog
//! rows, first work enqueued, draft ended; the pipeline does the rest in the background.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::User;
use super::drafts::{end, load};
use super::error::{ApiError, ErrorBody};
use super::preview::errors;
use super::ApiState;
use crate::domain::{KbId, PipelineId, SourceSpec};
use crate::pipeline::kb::{create, CreateError, CreateKb, SourceInput};

/// What finalize returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinalizeResponse {
    #[schema(value_type = String, format = Uuid)]
    pub kb_id: KbId,
    #[schema(value_type = String, format = Uuid)]
    pub pipeline_id: PipelineId,
    /// `processing`: the pipeline runs in the background.
    pub status: String,
    /// Where to follow the pipeline: `GET` it for live status.
    pub tracking_url: String,
    pub estimated_completion_minutes: u64,
}

/// Seconds per page assumed for the completion estimate (crawl, chunk and embed).
const SECONDS_PER_PAGE: f64 = 0.6;

/// Turn the draft into a knowledge base and start the pipeline.
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/finalize", tag = "drafts", params(("draft_id" = String, Path)),
    responses((status = 202, body = FinalizeResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn finalize(State(state): State<ApiState>, user: User, Path(draft_id): Path<String>) -> Result<(StatusCode, Json<FinalizeResponse>), ApiError> {
    let draft = load(&state, &user, &draft_id).await?;
    if let Some(first) = errors(&draft, &state.model_name).into_iter().next() {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, &first.code, first.message);
        e.field = first.field;
        return Err(e);
    }
    let pages: u64 = draft
        .sources
        .iter()
        .map(|s| match &s.spec {
            SourceSpec::Web { crawl, .. } => u64::from(crawl.max_pages),
            _ => 1,
        })
        .sum();
    let request = CreateKb {
        workspace_id: draft.workspace_id.clone(),
        name: draft.name.clone(),
        description: draft.description.clone(),
        created_by: user.id.clone(),
        config: draft.config.clone(),
        sources: draft.sources.iter().map(|s| SourceInput { id: s.id, spec: s.spec.clone() }).collect(),
    };
    let kb = create(&state.ctx, request).await.map_err(|e| match e {
        CreateError::Invalid(v) => ApiError::from(v),
        CreateError::Store(s) => ApiError::from(s),
    })?;
    end(&state, &draft, &format!("the draft was finalized into knowledge base {}", kb.id)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(FinalizeResponse {
            kb_id: kb.id,
            pipeline_id: kb.pipeline_id,
            status: "processing".to_owned(),
            tracking_url: format!("/api/v1/pipelines/{}/status", kb.pipeline_id),
            estimated_completion_minutes: ((pages as f64 * SECONDS_PER_PAGE) / 60.0).ceil().max(1.0) as u64,
        }),
    ))
}

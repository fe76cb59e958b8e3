//! `POST .../sources/upload`: a file (multipart field `file`), checked by content, turned
//! into markdown at once (a file that cannot be read is refused here, not later), and kept
//! in the blob store with its original.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::Bytes;

use super::auth::User;
use super::drafts::{add_source, load, update, DraftSource};
use super::error::{ApiError, ErrorBody};
use super::ApiState;
use crate::domain::SourceSpec;
use crate::files::{to_markdown, FileError};

/// Upload a file (PDF, DOCX, TXT, MD, CSV, HTML).
#[utoipa::path(post, path = "/api/v1/kb-drafts/{draft_id}/sources/upload", tag = "sources", params(("draft_id" = String, Path)),
    request_body(content_type = "multipart/form-data", content = Object, description = "field `file`: the document"),
    responses((status = 201, body = DraftSource), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload_source(
    State(state): State<ApiState>,
    user: User,
    Path(draft_id): Path<String>,
    mut multipart: Multipart,
) -> Result<(StatusCode, Json<DraftSource>), ApiError> {
    let draft = load(&state, &user, &draft_id).await?;
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("the file is larger than {} bytes", state.limits.files.max_bytes))
            .field("file")
    };
    let mut file: Option<(String, Option<String>, Bytes)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(ApiError::bad_request("invalid_multipart", "file", e.body_text())),
        };
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().unwrap_or("upload").to_owned();
        let declared = field.content_type().map(str::to_owned);
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(ApiError::bad_request("invalid_multipart", "file", e.body_text())),
        };
        file = Some((filename, declared, data));
        break;
    }
    let Some((filename, declared, data)) = file else {
        return Err(ApiError::bad_request("required", "file", "send the document in a multipart field named `file`"));
    };
    let filename = sanitize(&filename);
    let limits = state.limits.files;
    let name = filename.clone();
    let bytes = data.clone();
    let extracted = tokio::task::spawn_blocking(move || to_markdown(&bytes, &name, limits))
        .await
        .map_err(|_| ApiError::unavailable("file extraction failed"))?;
    let (kind, markdown) = extracted.map_err(|e| {
        let (status, code) = match &e {
            FileError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            FileError::Unsupported(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
            FileError::Unreadable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unreadable_file"),
            FileError::Empty => (StatusCode::UNPROCESSABLE_ENTITY, "empty_file"),
        };
        ApiError::new(status, code, format!("{filename}: {e}")).field("file")
    })?;
    let _ = declared;
    let source_id = crate::domain::SourceId::random();
    let prefix = format!("drafts/{}/{source_id}", draft.id);
    let blob_key = format!("{prefix}/original");
    let markdown_key = format!("{prefix}/content.md");
    state.ctx.blobs.put(&blob_key, data.clone(), kind.content_type()).await?;
    let meta = crate::domain::DocumentMeta { url: String::new(), title: Some(filename.clone()), anchors: Vec::new() };
    state
        .ctx
        .blobs
        .put(&markdown_key, Bytes::from(crate::domain::render_document(&meta, &markdown)), "text/markdown; charset=utf-8")
        .await?;
    let spec = SourceSpec::File {
        filename,
        content_type: kind.content_type().to_owned(),
        size_bytes: data.len() as u64,
        blob_key,
        markdown_key,
    };
    let (_, source) = update(&state, &user, &draft_id, |d| add_source(d, source_id, spec)).await?;
    Ok((StatusCode::CREATED, Json(source)))
}

/// A file name without directories or control characters.
fn sanitize(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() { "upload".to_owned() } else { clean.trim().to_owned() }
}

//! API errors: every failure is a JSON body `{"error": {"code", "message", "field"}}` with a
//! 4xx status naming what is wrong (or 5xx when a service is down).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ValidationError;
use crate::error::StoreError;

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`invalid_url`, `not_found`, `unauthorized`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_owned(), message: message.into(), field: None, retry_after: None }
    }

    #[must_use]
    pub fn field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    pub fn bad_request(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message).field(field)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: e.code, message: e.message, field: Some(e.field), retry_after: None }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        Self::unavailable("a storage service is unavailable; retry later")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message, field: self.field } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The field a serde error names (`missing field `name``, `unknown field `x``, `at line ..`).
fn field_of(message: &str) -> Option<String> {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.split(marker).nth(1) {
            return rest.split('`').next().map(str::to_owned);
        }
    }
    // A wrong type or value is reported with the path to it first:
    // "... into the target type: top_k: invalid type: string \"x\", expected usize ...".
    let rest = message.split("target type: ").nth(1)?;
    let (path, _) = rest.split_once(": ")?;
    (!path.is_empty() && !path.contains(' ')).then(|| path.to_owned())
}

/// JSON body extractor whose failures are [`ApiError`]s naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let message = rejection.body_text();
                let (status, code) = match &rejection {
                    JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                    JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
                    JsonRejection::BytesRejection(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
                    _ => (StatusCode::BAD_REQUEST, "invalid_body"),
                };
                let mut error = ApiError::new(status, code, message.clone());
                error.field = field_of(&message);
                Err(error)
            }
        }
    }
}

/// An optional JSON body: absent when the request carries no content type (an empty POST).
impl<S, T> OptionalFromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !req.headers().contains_key(header::CONTENT_TYPE) {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_in_serde_messages() {
        assert_eq!(field_of("Failed to deserialize: missing field `name` at line 1").as_deref(), Some("name"));
        assert_eq!(field_of("unknown field `max_pagez`, expected one of").as_deref(), Some("max_pagez"));
        assert_eq!(field_of("invalid type: string"), None);
        let wrong_type = "Failed to deserialize the JSON body into the target type: group_by_page: invalid type: string \"yes\", \
                          expected a boolean at line 1 column 34";
        assert_eq!(field_of(wrong_type).as_deref(), Some("group_by_page"));
        let wrong_variant = "Failed to deserialize the JSON body into the target type: mode: unknown variant `fuzzy`, expected one of";
        assert_eq!(field_of(wrong_variant).as_deref(), Some("mode"));
        let top_level = "Failed to deserialize the JSON body into the target type: invalid type: integer `1`, expected struct";
        assert_eq!(field_of(top_level), None);
    }
}

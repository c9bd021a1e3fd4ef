//! The one place where errors become HTTP responses.
//!
//! Every error body is `{"error": "<code>", "message": "..."}`. Codes are stable snake_case
//! identifiers that clients may match on; messages are for humans and may change. Messages
//! never contain values from the request body, since those may be personal data.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::CommentError;
use crate::service::{DecodeError, ServiceError};

/// Everything that can go wrong in a request, with its stable code and status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route matches the path.
    #[error("no such resource")]
    NotFound,
    /// No verdict is cached for that comment id or verdict id.
    #[error("no verdict is known for this comment id")]
    UnknownComment,
    /// The route exists but not with this method.
    #[error("method not allowed; this resource accepts {allow}")]
    MethodNotAllowed {
        /// Value of the `Allow` header: the methods the resource does accept.
        allow: String,
    },
    /// Content-Type is absent or not JSON, or the body is compressed.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// The body is larger than `max_body_bytes`.
    #[error("request body is larger than the {limit}-byte limit")]
    PayloadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body had not all arrived when the request's deadline passed; the connection is
    /// closed after the answer, since the rest of the body may still be on its way.
    #[error("the request body did not arrive within {} s", limit.as_secs_f64())]
    RequestTimeout {
        /// The configured deadline (`COMMENTGUARD_BODY_TIMEOUT_SECS`).
        limit: std::time::Duration,
    },
    /// The client IP already holds as many open connections as it may
    /// (`COMMENTGUARD_MAX_CONNECTIONS_PER_IP`); this one is closed after the answer.
    #[error("too many open connections from this address; reuse one or retry later")]
    TooManyConnections,
    /// The body could not be read from the connection (truncated, aborted, ...).
    #[error("could not read the request body: {0}")]
    InvalidBody(String),
    /// The body could not be decoded: not UTF-8, not JSON, a field of the wrong type or
    /// size, no content (see [`DecodeError::code`] for the codes).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The request carried no API key, and keys are required.
    #[error("an API key is required: send `Authorization: Bearer KEY` or `X-Api-Key: KEY`")]
    MissingKey,
    /// The key is unknown or revoked.
    #[error("the API key is not valid")]
    InvalidKey,
    /// The key's role or site does not allow this request.
    #[error("{0}")]
    Forbidden(String),
    /// No verdict with that id is known (expired, or never given).
    #[error("no verdict is known for this verdict_id; send the comment itself instead")]
    UnknownVerdict,
    /// A retraining job is already running.
    #[error("a retraining job is already running; poll it with GET /v1/admin/jobs/{{job_id}}")]
    RetrainInProgress,
    /// An import is already running.
    #[error("an import is already running; poll it with GET /v1/admin/jobs/{{job_id}}")]
    ImportInProgress,
    /// An import file is bad at a position; earlier batches may have been committed.
    #[error("{bad}")]
    BadImport {
        /// What is wrong and where.
        bad: crate::import::BadInput,
        /// The import's job.
        job_id: String,
        /// Labels made durable before the error.
        committed: u64,
    },
    /// No job has that id.
    #[error("no retraining job has this id")]
    UnknownJob,
    /// No model version has that id.
    #[error("no model version has this id")]
    UnknownVersion,
    /// The model version's files do not load.
    #[error("{0}")]
    ModelCorrupt(String),
    /// A query parameter is malformed.
    #[error("{0}")]
    InvalidQuery(String),
    /// The label could not be made durable; it was not recorded.
    #[error("the label store cannot write; the label was not recorded, retry later")]
    LabelStoreUnavailable(std::io::Error),
    /// The review history cannot be read (Redis down or slow); the message says why, never
    /// what was stored.
    #[error("the review history is unavailable, retry later ({0})")]
    HistoryUnavailable(String),
    /// The shared store of models or jobs (the database) cannot be read or written.
    #[error("the database is unavailable, retry later")]
    StoreUnavailable(std::io::Error),
    /// The caller's key (or IP) has used up its rate limit.
    #[error("rate limit exceeded; retry after {retry_after} s")]
    RateLimited {
        /// Whole seconds until a request would be accepted again (the `Retry-After` value).
        retry_after: u64,
    },
    /// A bug or an unavailable dependency; the client sees an opaque message, the log
    /// gets the whole chain.
    #[error("internal server error")]
    Internal(anyhow::Error),
}

impl ApiError {
    /// The stable machine-readable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "not_found",
            ApiError::UnknownComment => "unknown_comment",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::TooManyConnections => "too_many_connections",
            ApiError::InvalidBody(_) => "invalid_body",
            ApiError::Decode(e) => e.code(),
            ApiError::MissingKey => "missing_key",
            ApiError::InvalidKey => "invalid_key",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::UnknownVerdict => "unknown_verdict",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::RetrainInProgress => "retrain_in_progress",
            ApiError::ImportInProgress => "import_in_progress",
            ApiError::BadImport { bad, .. } => bad.code,
            ApiError::UnknownJob => "unknown_job",
            ApiError::UnknownVersion => "unknown_version",
            ApiError::ModelCorrupt(_) => "model_corrupt",
            ApiError::LabelStoreUnavailable(_) => "label_store_unavailable",
            ApiError::HistoryUnavailable(_) => "review_history_unavailable",
            ApiError::StoreUnavailable(_) => "store_unavailable",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::LabelStoreUnavailable(e) => ApiError::LabelStoreUnavailable(e),
            ServiceError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Wire shape of every error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The stable code, e.g. `malformed_json`, `rate_limited`.
    pub error: &'static str,
    /// For humans; may change, never echoes the request.
    pub message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound
            | ApiError::UnknownComment
            | ApiError::UnknownVerdict
            | ApiError::UnknownJob
            | ApiError::UnknownVersion => StatusCode::NOT_FOUND,
            ApiError::RetrainInProgress | ApiError::ImportInProgress => StatusCode::CONFLICT,
            ApiError::BadImport { bad, .. } if bad.code == "site_required" => {
                StatusCode::BAD_REQUEST
            }
            ApiError::BadImport { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ModelCorrupt(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MissingKey | ApiError::InvalidKey => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::LabelStoreUnavailable(_)
            | ApiError::HistoryUnavailable(_)
            | ApiError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. }
            | ApiError::Decode(DecodeError::Comment(CommentError::ContentTooLong(_))) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::InvalidBody(_) | ApiError::Decode(_) | ApiError::InvalidQuery(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::RateLimited { .. } | ApiError::TooManyConnections => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Internal(e) => {
                // The only place a 5xx is logged in full; the body stays opaque.
                let chain = format!("{e:#}");
                tracing::error!(error = %chain, "internal error");
            }
            ApiError::LabelStoreUnavailable(e) => {
                tracing::error!(error = %e, "label store write failed");
            }
            _ => {}
        }
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(allow) = HeaderValue::from_str(allow) {
                    response.insert_header((header::ALLOW, allow));
                }
            }
            ApiError::MissingKey | ApiError::InvalidKey => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::LabelStoreUnavailable(_)
            | ApiError::HistoryUnavailable(_)
            | ApiError::StoreUnavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
            }
            ApiError::RateLimited { retry_after } => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after)));
            }
            ApiError::RequestTimeout { .. } => {
                response.force_close();
            }
            ApiError::TooManyConnections => {
                response.force_close();
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            _ => {}
        }
        if let ApiError::BadImport {
            bad,
            job_id,
            committed,
        } = self
        {
            return response.json(serde_json::json!({
                "error": bad.code,
                "message": self.to_string(),
                "line": bad.line,
                "offset": bad.offset,
                "job_id": job_id,
                "committed": committed,
            }));
        }
        response.json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
    }
}

/// Fallback service for paths no route matches.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Fallback service of a resource, for methods it does not serve; `allow` lists those it does.
pub fn method_not_allowed(allow: String) -> actix_web::Route {
    web::to(move || {
        let allow = allow.clone();
        async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow }) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_are_opaque() {
        use actix_web::body::MessageBody;

        let e = ApiError::Internal(anyhow::anyhow!("disk /var/secret full"));
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.to_string(), "internal server error");
        let body = e.error_response().into_body().try_into_bytes().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({ "error": "internal_error", "message": "internal server error" })
        );
    }

    #[test]
    fn comment_errors_map_to_their_codes() {
        let cases = [
            (CommentError::EmptyContent, "empty_content", 400),
            (
                CommentError::ContentTooLong(70_000),
                "content_too_large",
                413,
            ),
            (CommentError::FieldTooLong("author"), "field_too_long", 400),
        ];
        for (e, code, status) in cases {
            let api = ApiError::from(DecodeError::from(e));
            assert_eq!((api.code(), api.status_code().as_u16()), (code, status));
        }
    }

    #[test]
    fn service_and_decode_errors_keep_their_codes() {
        let io = || std::io::Error::other("disk full");
        // (error, code, status, why)
        let cases = [
            (
                ApiError::from(DecodeError::InvalidUtf8 { offset: 3 }),
                "invalid_utf8",
                400,
                "bytes that are not text",
            ),
            (
                ApiError::from(DecodeError::MissingContent),
                "missing_content",
                400,
                "nothing to score",
            ),
            (
                ApiError::from(DecodeError::Comment(CommentError::ContentTooLong(1 << 20))),
                "content_too_large",
                413,
                "a comment over its limit is too large, like a body",
            ),
            (
                ApiError::from(ServiceError::LabelStoreUnavailable(io())),
                "label_store_unavailable",
                503,
                "a label not written is retried, not lost",
            ),
            (
                ApiError::from(ServiceError::Internal(anyhow::anyhow!("bug"))),
                "internal_error",
                500,
                "a bug is opaque",
            ),
        ];
        for (e, code, status, why) in cases {
            assert_eq!(
                (e.code(), e.status_code().as_u16()),
                (code, status),
                "{why}"
            );
        }
    }
}

//! The one reader of JSON request bodies: media type, declared and actual size, then the
//! bytes; decoding (UTF-8, syntax, schema) is [`crate::service::decode`]'s.
//!
//! Bodies are read here rather than by actix's `Json` extractor so that every failure gets
//! one of our error codes instead of actix's plain-text errors. [`read_limited`] is also the
//! Akismet form reader's: both hold a body to the request's [`BodyDeadline`], since actix
//! times out only the headers and a body that stalls would otherwise hold its connection
//! (and a file descriptor) for as long as the client likes.

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest};

use crate::routes::error::ApiError;

/// Whether a route needs a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// A body is required, with a JSON media type.
    Required,
    /// No body (and then no media type) means defaults; a body present must be JSON.
    Optional,
}

/// By when a request's body must have arrived: stamped into the request's extensions by the
/// middleware when the request starts (its headers are in), `limit` later.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    /// The instant the body must be complete by.
    pub at: Instant,
    /// The configured deadline, for the error message.
    pub limit: Duration,
}

impl BodyDeadline {
    /// A deadline `limit` from now.
    pub fn from_now(limit: Duration) -> BodyDeadline {
        BodyDeadline {
            at: Instant::now() + limit,
            limit,
        }
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge,
    /// The connection broke or the framing was invalid; actix's message.
    Unreadable(String),
    /// Not all in by the request's deadline (the configured deadline).
    TimedOut(Duration),
}

/// Reads at most `limit` bytes of body, giving up at the request's [`BodyDeadline`].
///
/// A body given up on is dropped unread; the middleware keeps the connection's end of it
/// alive until the answer is sent, so actix closes the connection instead of draining it.
pub async fn read_limited(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, BodyError> {
    // Copied out: the extensions are a RefCell that must not stay borrowed across the await.
    let deadline = request.extensions().get::<BodyDeadline>().copied();
    let read = payload.to_bytes_limited(limit);
    let result = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.at.into(), read)
            .await
            .map_err(|_| BodyError::TimedOut(deadline.limit))?,
        None => read.await,
    };
    match result {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(BodyError::Unreadable(e.to_string())),
        Err(_) => Err(BodyError::TooLarge),
    }
}

/// Checks the media type and size limit of a JSON request and reads its body.
pub async fn read_json(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    presence: Presence,
) -> Result<web::Bytes, ApiError> {
    let headers = request.headers();
    let header_str = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let declared = header_str(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let content_type = header_str(header::CONTENT_TYPE);
    // An optional body is absent when nothing says there is one: no type, and no length or
    // a zero one (a chunked body without a type is still refused below).
    let absent = presence == Presence::Optional
        && content_type.is_none()
        && declared.unwrap_or(0) == 0
        && !headers.contains_key(header::TRANSFER_ENCODING);
    if !absent {
        check_media_type(content_type, header_str(header::CONTENT_ENCODING))?;
    }
    // Refuse a declared oversize body before reading any of it.
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    read_limited(request, payload, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => ApiError::PayloadTooLarge { limit },
            BodyError::Unreadable(message) => ApiError::InvalidBody(message),
            BodyError::TimedOut(limit) => ApiError::RequestTimeout { limit },
        })
}

/// Accepts `application/json` and any `*/*+json` type, optionally with `charset=utf-8`;
/// refuses a missing type, other types, other charsets and compressed bodies.
pub fn check_media_type(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<(), ApiError> {
    const NOT_JSON: &str = "Content-Type must be application/json (or a +json type)";
    let Some(content_type) = content_type else {
        return Err(ApiError::UnsupportedMediaType(NOT_JSON));
    };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let is_json = essence == "application/json"
        || essence
            .split_once('/')
            .is_some_and(|(kind, sub)| !kind.is_empty() && sub.len() > 5 && sub.ends_with("+json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(NOT_JSON));
    }
    // JSON on the wire is UTF-8 (RFC 8259); a declared legacy charset means the bytes are
    // not what we would decode.
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            let value = value.trim().trim_matches('"');
            if name.trim().eq_ignore_ascii_case("charset")
                && !value.eq_ignore_ascii_case("utf-8")
                && !value.eq_ignore_ascii_case("utf8")
            {
                return Err(ApiError::UnsupportedMediaType("JSON bodies must be UTF-8"));
            }
        }
    }
    // Built without actix's compression features, so a compressed body would reach us as
    // binary; say so instead of answering invalid_utf8.
    if content_encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
        return Err(ApiError::UnsupportedMediaType(
            "compressed request bodies are not supported; omit Content-Encoding",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        // (content type, content encoding, accepted?, why)
        let cases = [
            (Some("application/json"), None, true, "the canonical type"),
            (
                Some("Application/JSON; charset=UTF-8"),
                None,
                true,
                "case and utf-8 charset",
            ),
            (
                Some("application/vnd.commentguard+json"),
                None,
                true,
                "a +json type",
            ),
            (
                Some("application/json"),
                Some("identity"),
                true,
                "identity is no encoding",
            ),
            (None, None, false, "absent"),
            (Some("text/plain"), None, false, "not JSON"),
            (
                Some("application/x-www-form-urlencoded"),
                None,
                false,
                "a form",
            ),
            (
                Some("application/+json"),
                None,
                false,
                "no subtype before +json",
            ),
            (
                Some("application/json; charset=latin1"),
                None,
                false,
                "JSON is UTF-8",
            ),
            (
                Some("application/json"),
                Some("gzip"),
                false,
                "no decompression",
            ),
        ];
        for (ct, ce, ok, why) in cases {
            let result = check_media_type(ct, ce);
            assert_eq!(result.is_ok(), ok, "{ct:?} {ce:?}: {why}");
            if let Err(e) = result {
                assert_eq!(e.code(), "unsupported_media_type");
            }
        }
    }
}

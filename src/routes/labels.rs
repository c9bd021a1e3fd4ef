//! `GET /v1/labels`: the labels in force as JSON Lines in the shared evaluation format
//! (`text`, `author`, `label`) plus ids and times, paged by a cursor.
//!
//! `?cursor=N` returns labels recorded after position `N` (start with none or 0);
//! `?limit=M` caps the page (default 500, at most 5000). When there may be more, the answer
//! carries `X-Next-Cursor` and a `Link: <...>; rel="next"` header. A relabelled comment
//! appears once, at its latest label.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::Label;
use crate::keys::Role;
use crate::labels::LabelRecord;
use crate::routes::auth::Caller;
use crate::routes::error::ApiError;
use crate::routes::RouteTable;
use crate::service::blocking;
use crate::state::AppState;

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table.add::<__path_export, _, _>(export);
}

/// Page size when the request names none.
pub const DEFAULT_PAGE: usize = 500;
/// Largest page size.
pub const MAX_PAGE: usize = 5000;

/// One exported label.
#[derive(Debug, Serialize)]
pub struct ExportedLabel<'a> {
    /// The comment body.
    pub text: &'a str,
    /// The author name.
    pub author: Option<&'a str>,
    /// The label.
    pub label: Label,
    /// Label id.
    pub label_id: &'a str,
    /// Position in the log: the cursor that resumes after this label.
    pub seq: u64,
    /// Comment fingerprint: the same comment always has the same one.
    pub fingerprint: &'a str,
    /// The label this one replaced.
    pub previous: Option<Label>,
    /// The verdict corrected.
    pub verdict_id: Option<&'a str>,
    /// Who labelled it.
    pub moderator: Option<&'a str>,
    /// The site the comment was posted to.
    pub site: Option<&'a str>,
    /// Where the label came from when not from a moderator, e.g. `import:wordpress-dump`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'a str>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl<'a> From<&'a LabelRecord> for ExportedLabel<'a> {
    fn from(r: &'a LabelRecord) -> Self {
        ExportedLabel {
            text: &r.comment.content,
            author: r.comment.author.as_deref(),
            label: r.label,
            label_id: &r.label_id,
            seq: r.seq,
            fingerprint: &r.fingerprint,
            previous: r.previous,
            verdict_id: r.verdict_id.as_deref(),
            moderator: r.moderator.as_deref(),
            site: r.comment.site.as_deref(),
            origin: r.origin.as_deref(),
            created_at: r.created_at,
        }
    }
}

/// Parses `cursor` and `limit` from a query string.
pub fn page_query(query: &str) -> Result<(u64, usize), ApiError> {
    let mut cursor = 0;
    let mut limit = DEFAULT_PAGE;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "cursor" => {
                cursor = value.parse().map_err(|_| {
                    ApiError::InvalidQuery(
                        "`cursor` must be a whole number from X-Next-Cursor".into(),
                    )
                })?
            }
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        ApiError::InvalidQuery(format!("`limit` must be between 1 and {MAX_PAGE}"))
                    })?
            }
            _ => {}
        }
    }
    Ok((cursor, limit))
}

/// Handles `GET /v1/labels`.
#[utoipa::path(get, path = "/v1/labels", tag = "moderation", responses((status = 200, description = "Labels in force, as JSON Lines", body = String, content_type = "application/x-ndjson"), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn export(
    request: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Moderator)?;
    let (cursor, limit) = page_query(request.query_string())?;
    let labels = state.labels.clone();
    let (page, next) = blocking("label export", move || labels.export(cursor, limit))
        .await?
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("reading the label log")))?;
    let mut body = Vec::new();
    for record in &page {
        serde_json::to_writer(&mut body, &ExportedLabel::from(record)).map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("serialising a label"))
        })?;
        body.push(b'\n');
    }
    let mut response = HttpResponse::Ok();
    response.content_type("application/x-ndjson");
    if let Some(next) = next {
        response.insert_header(("X-Next-Cursor", next.to_string()));
        response.insert_header((
            header::LINK,
            format!("</v1/labels?cursor={next}&limit={limit}>; rel=\"next\""),
        ));
    }
    Ok(response.body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_queries() {
        // (query, Some((cursor, limit)) or None for a 400, why)
        let cases = [
            ("", Some((0, DEFAULT_PAGE)), "defaults"),
            ("cursor=42&limit=10", Some((42, 10)), "both"),
            ("limit=5000", Some((0, 5000)), "the largest page"),
            ("limit=0", None, "empty page"),
            ("limit=5001", None, "too large"),
            ("cursor=-1", None, "negative cursor"),
            ("cursor=abc", None, "not a number"),
            (
                "other=1",
                Some((0, DEFAULT_PAGE)),
                "unknown parameters ignored",
            ),
        ];
        for (query, want, why) in cases {
            let got = page_query(query);
            match want {
                Some(want) => assert_eq!(got.unwrap(), want, "{why}"),
                None => assert_eq!(got.unwrap_err().code(), "invalid_query", "{why}"),
            }
        }
    }
}

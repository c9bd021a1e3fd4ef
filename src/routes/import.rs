//! `POST /v1/admin/import?site=URL&format=F`: moderation history from another platform
//! (see [`crate::service::import`] for the semantics and [`crate::import`] for the formats).
//!
//! The body is streamed: each chunk goes through a bounded channel to a blocking thread that
//! parses and records as the bytes come, so a file of any size holds only a few chunks in
//! memory. The answer comes once the whole body is parsed: `202` with the job (polled with
//! `GET /v1/admin/jobs/{job_id}` like a retrain), or the refusal with the line or byte
//! offset and how many labels earlier batches committed.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::import::Format;
use crate::keys::{normalize_site, Role};
use crate::routes::auth::Caller;
use crate::routes::body::BodyDeadline;
use crate::routes::error::ApiError;
use crate::routes::RouteTable;
use crate::service::import::{import_into, ChannelReader, ImportFailure, ImportRequest};
use crate::service::share_fingerprint;
use crate::state::AppState;

/// Largest upload accepted (compressed size, for a gzip file).
pub const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024 * 1024;
/// Chunks in flight between the upload and the parser.
const CHANNEL_CHUNKS: usize = 16;
/// How long the upload may pause when no body deadline applies.
const DEFAULT_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table.add::<__path_import, _, _>(import);
}

/// The decoded query: the site and the format, both optional.
fn parse_query(query: &str) -> Result<(Option<String>, Option<Format>), ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|_| ApiError::InvalidQuery("the query string is not valid".into()))?
        .into_inner();
    let (mut site, mut format) = (None, None);
    for (name, value) in pairs {
        let value = value.trim();
        match name.as_str() {
            "site" if !value.is_empty() => {
                site = Some(normalize_site(value).ok_or_else(|| {
                    ApiError::InvalidQuery("`site` must be an http(s) URL".into())
                })?)
            }
            "format" if !value.is_empty() => {
                format = Some(Format::from_name(value).ok_or_else(|| {
                    ApiError::InvalidQuery(format!(
                        "`format` must be one of {}",
                        Format::ALL.map(Format::name).join(", ")
                    ))
                })?)
            }
            _ => {}
        }
    }
    Ok((site, format))
}

/// Handles `POST /v1/admin/import`.
#[utoipa::path(post, path = "/v1/admin/import", tag = "admin", params(("site" = Option<String>, Query, description = "The blog URL the comments were posted to (required for WordPress dumps and WP-CLI; WXR and Disqus name their own)"), ("format" = Option<String>, Query, description = "wordpress-dump, wp-cli, wxr, disqus or jsonl; detected from the content when absent")), request_body(content = Vec<u8>, description = "The export file, plain or gzip", content_type = "application/octet-stream"), responses((status = 202, description = "Imported: the job with its counts", body = crate::service::import::ImportJob), (status = 409, description = "`import_in_progress`"), (status = 422, description = "Bad input: `{\"error\", \"message\", \"line\", \"offset\", \"job_id\", \"committed\"}`"), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn import(
    request: HttpRequest,
    caller: Caller,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(Role::Admin)?;
    let (site, format) = parse_query(request.query_string())?;
    let triggered_by = principal
        .key_id
        .clone()
        .unwrap_or_else(|| "open-mode".into());
    let job_id = state
        .imports
        .try_start(site.clone(), format, triggered_by)
        .ok_or(ApiError::ImportInProgress)?;
    let stall = request
        .extensions()
        .get::<BodyDeadline>()
        .map_or(DEFAULT_STALL, |d| d.limit);
    let (chunks, received) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
    let import_request = ImportRequest {
        format,
        site,
        key_id: principal.key_id,
    };
    let worker_state = state.clone().into_inner();
    let job = job_id.clone();
    let span = tracing::info_span!("import", job_id = %job_id);
    let parsed = actix_web::rt::task::spawn_blocking(move || {
        let _entered = span.enter();
        let state = worker_state;
        state.imports.share(&job);
        let outcome = import_into(
            &state.labels,
            ChannelReader::new(received),
            &import_request,
            &mut |format| state.imports.update(&job, |j| j.format = Some(format)),
            &mut |counts| {
                state.imports.update(&job, |j| {
                    j.counts = crate::service::import::ImportCounts {
                        bytes_received: j.counts.bytes_received,
                        ..counts.clone()
                    }
                });
                state.imports.share_now_and_then(&job);
            },
            &mut |recorded, content| {
                state.metrics.label_recorded(match recorded.label {
                    crate::domain::Label::Spam => "spam",
                    crate::domain::Label::Ham => "ham",
                });
                share_fingerprint(&state, recorded, content);
            },
        );
        let (counts, failure) = match outcome {
            Ok(counts) => (counts, None),
            Err((counts, failure)) => (counts, Some(failure)),
        };
        tracing::info!(
            records_read = counts.records_read,
            imported_spam = counts.imported_spam,
            imported_ham = counts.imported_ham,
            duplicates = counts.duplicates,
            committed = counts.committed,
            error = failure.as_ref().map(|f| f.to_string()),
            "import finished"
        );
        state.imports.finish(&job, counts, failure.as_ref());
        failure
    });
    let mut total: u64 = 0;
    loop {
        let next = match tokio::time::timeout(stall, payload.next()).await {
            Ok(next) => next.map(|r| {
                r.map_err(|e| std::io::Error::other(format!("the upload broke off: {e}")))
            }),
            Err(_) => Some(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the upload paused for more than {} s", stall.as_secs()),
            ))),
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.and_then(|bytes| {
            total += bytes.len() as u64;
            if total > MAX_IMPORT_BYTES {
                return Err(std::io::Error::other(format!(
                    "the upload is larger than {MAX_IMPORT_BYTES} bytes"
                )));
            }
            state
                .imports
                .update(&job_id, |j| j.counts.bytes_received = total);
            Ok(bytes)
        });
        let stop = chunk.is_err();
        // A closed channel means the parser stopped (bad input): its answer says why.
        if chunks.send(chunk).await.is_err() || stop {
            break;
        }
    }
    drop(chunks);
    let failure = parsed
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("import task failed: {e}")))?;
    let job = state.imports.get(&job_id).ok_or(ApiError::UnknownJob)?;
    match failure {
        None => Ok(HttpResponse::Accepted().json(job)),
        Some(ImportFailure::Store(e)) => Err(ApiError::LabelStoreUnavailable(e)),
        Some(ImportFailure::Input(bad)) => Err(ApiError::BadImport {
            bad: *bad,
            job_id,
            committed: job.counts.committed,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The site and the format a query parses to, or `None` when it is refused.
    type Parsed = Option<(Option<&'static str>, Option<Format>)>;

    #[test]
    fn the_query_names_a_site_and_a_format() {
        // (query, what it parses to, why)
        let cases: [(&str, Parsed, &str); 5] = [
            ("", Some((None, None)), "both optional"),
            (
                "site=https%3A%2F%2FBlog.example%2F&format=wxr",
                Some((Some("https://blog.example"), Some(Format::Wxr))),
                "a site is normalised",
            ),
            ("format=csv", None, "an unknown format"),
            ("site=ftp://x", None, "a site that is not http(s)"),
            ("format=&site=", Some((None, None)), "empty means absent"),
        ];
        for (query, want, why) in cases {
            let got = parse_query(query).ok();
            let want = want.map(|(s, f)| (s.map(str::to_owned), f));
            assert_eq!(got, want, "{why}");
        }
    }
}

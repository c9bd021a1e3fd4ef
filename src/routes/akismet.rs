//! The Akismet REST protocol on the same server: `/1.1/verify-key`, `/1.1/comment-check`,
//! `/1.1/submit-spam`, `/1.1/submit-ham`, `/1.2/usage-limit`, `/1.2/key-sites`.
//!
//! Akismet clients expect `text/plain` literals with status 200 even for a bad key
//! (`invalid` plus an `X-akismet-debug-help` header; several clients raise on any non-2xx),
//! so these handlers answer protocol errors in the protocol instead of with [`ApiError`]
//! JSON. Scoring and corrections go through exactly the code the JSON API uses.

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use serde_json::json;
use time::OffsetDateTime;

use crate::akismet::{
    is_spam_answer, parse_form_with_charset, pro_tip, test_trigger, AkismetForm, TestTrigger,
    UsageEvent, HAM, HEADER_DEBUG_HELP, HEADER_GUID, HEADER_PRO_TIP, HEADER_SPAM_PROBABILITY,
    HEADER_VERDICT, INVALID, SPAM, THANKS, VALID,
};
use crate::domain::{CommentError, Label, Verdict};
use crate::keys::{normalize_site, Principal, Role};
use crate::labels::{Correction, Fingerprint};
use crate::routes::auth::authorize_key;
use crate::routes::body::{read_limited, BodyError};
use crate::routes::{ApiError, RouteTable};
use crate::service::{
    assess_comment, comment_of_verdict, new_verdict_id, record_for_review, record_label, Traces,
};
use crate::state::AppState;

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table
        .add::<__path_verify_key, _, _>(verify_key)
        .add::<__path_comment_check, _, _>(comment_check)
        .add::<__path_submit_spam, _, _>(submit_spam)
        .add::<__path_submit_ham, _, _>(submit_ham)
        .add::<__path_usage_limit, _, _>(usage_limit)
        .add::<__path_key_sites, _, _>(key_sites);
}

/// Usage-stats key for calls in open local mode (no key ids there).
const OPEN_MODE_KEY: &str = "open";

/// A `text/plain` answer with status 200.
fn text() -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.content_type(ContentType::plaintext());
    response
}

/// `invalid` with the reason in `X-akismet-debug-help`.
fn invalid(help: &str) -> HttpResponse {
    // Header values must be visible ASCII; our messages are, but never fail over it.
    let help: String = help
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    text()
        .insert_header((HEADER_DEBUG_HELP, help))
        .body(INVALID)
}

/// Why a request gets `invalid`: the `X-akismet-debug-help` text, and whether the body
/// timed out (then the status is 408 and the connection is closed: the rest of the body
/// may still be on its way).
#[derive(Debug)]
struct Refusal(String, bool);

impl From<&str> for Refusal {
    fn from(help: &str) -> Self {
        Refusal(help.to_owned(), false)
    }
}

impl From<&String> for Refusal {
    fn from(help: &String) -> Self {
        Refusal(help.clone(), false)
    }
}

impl From<Refusal> for HttpResponse {
    fn from(refusal: Refusal) -> Self {
        let mut response = invalid(&refusal.0);
        if refusal.1 {
            *response.status_mut() = actix_web::http::StatusCode::REQUEST_TIMEOUT;
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
        }
        response
    }
}

/// Reads and decodes a form body (or, for GET, the query string).
async fn read_form(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<AkismetForm, Refusal> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_owned())
    });
    let body = match read_limited(request, payload, limit).await {
        Ok(body) => body,
        Err(BodyError::Unreadable(_)) => {
            return Err(Refusal::from("The request body could not be read"))
        }
        Err(BodyError::TooLarge) => {
            return Err(Refusal::from(&format!(
                "The request body is larger than {limit} bytes"
            )))
        }
        Err(BodyError::TimedOut(deadline)) => {
            let help = format!(
                "The request body did not arrive within {} s",
                deadline.as_secs_f64()
            );
            return Err(Refusal(help, true));
        }
    };
    let query = request.query_string().as_bytes();
    let bytes: &[u8] = if body.is_empty() { query } else { &body };
    if !body.is_empty() && essence != "application/x-www-form-urlencoded" {
        return Err(Refusal::from(
            "Send the parameters as application/x-www-form-urlencoded",
        ));
    }
    parse_form_with_charset(bytes, charset.as_deref()).map_err(|e| Refusal::from(&e.to_string()))
}

/// The caller, from the key in the form or the Host header; `Err` is the `invalid` answer.
fn caller(
    request: &HttpRequest,
    form: &AkismetForm,
    state: &AppState,
) -> Result<Principal, Refusal> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let key = form.resolve_key(host);
    match authorize_key(&state.keys, key, Role::Site) {
        // Open local mode accepts any well-formed key, so unchanged clients work locally.
        Ok(principal) if principal.key_id.is_none() => match key {
            Some(k) if crate::keys::is_key_shaped(k) => Ok(principal),
            _ => Err(Refusal::from(
                "Invalid key: a key is 12 characters of a-z and 0-9",
            )),
        },
        Ok(principal) => Ok(principal),
        Err(ApiError::MissingKey) => Err(Refusal::from("Empty \"api_key\" value")),
        Err(_) => Err(Refusal::from("Invalid key")),
    }
}

/// Every Akismet handler's start: the decoded form and who sent it.
async fn form_and_caller(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<(AkismetForm, Principal), Refusal> {
    let form = read_form(request, payload, state.max_body_bytes).await?;
    let principal = caller(request, &form, state)?;
    Ok((form, principal))
}

/// Holds a site key to its own `blog`.
fn check_blog(principal: &Principal, form: &AkismetForm) -> Result<(), Refusal> {
    let Some(own) = principal.site.as_deref() else {
        return Ok(());
    };
    match form.blog.as_deref().and_then(normalize_site) {
        Some(blog) if blog == own => Ok(()),
        _ => Err(Refusal::from(&format!("This key is for the blog {own}"))),
    }
}

fn stats_key(principal: &Principal) -> &str {
    principal.key_id.as_deref().unwrap_or(OPEN_MODE_KEY)
}

fn this_month() -> String {
    let now = OffsetDateTime::now_utc();
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

fn site_of(principal: &Principal, form: &AkismetForm) -> String {
    principal
        .site
        .clone()
        .or_else(|| form.blog.as_deref().and_then(normalize_site))
        .unwrap_or_default()
}

/// Handles `POST /1.1/verify-key`: `valid` or `invalid`.
#[utoipa::path(post, path = "/1.1/verify-key", tag = "akismet", request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The Akismet form: `api_key`, `blog`, `user_ip`, `comment_content`, ..."), responses((status = 200, description = "An Akismet answer literal (`true`, `false`, `valid`, `invalid`, `Thanks for making the web a better place.`)", body = String, content_type = "text/plain")))]
pub async fn verify_key(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (form, principal) = match form_and_caller(&request, payload, &state).await {
        Ok(both) => both,
        Err(refusal) => return refusal.into(),
    };
    // A blog that is not the key's own makes the key invalid for it, as Akismet does.
    if form.blog.is_some() {
        if let Err(refusal) = check_blog(&principal, &form) {
            return refusal.into();
        }
    }
    text().body(VALID)
}

/// Handles `POST /1.1/comment-check`: `true` (spam) or `false`.
#[utoipa::path(post, path = "/1.1/comment-check", tag = "akismet", request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The Akismet form: `api_key`, `blog`, `user_ip`, `comment_content`, ..."), responses((status = 200, description = "An Akismet answer literal (`true`, `false`, `valid`, `invalid`, `Thanks for making the web a better place.`)", body = String, content_type = "text/plain")))]
pub async fn comment_check(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (form, principal) = match form_and_caller(&request, payload, &state).await {
        Ok(both) => both,
        Err(refusal) => return refusal.into(),
    };
    if let Some(help) = form.missing_required() {
        return invalid(help);
    }
    if let Err(refusal) = check_blog(&principal, &form) {
        return refusal.into();
    }
    let (verdict, probability, guid) = match test_trigger(&form) {
        Some(trigger) => {
            let verdict = match trigger {
                TestTrigger::Spam => Verdict::Spam,
                TestTrigger::Ham => Verdict::Approve,
            };
            (verdict, None, new_verdict_id())
        }
        None => {
            let mut comment = form.to_comment();
            comment.site = Some(site_of(&principal, &form));
            // Pingbacks and some forms send no text; they are still judged on the rest.
            match comment.validate() {
                Ok(()) | Err(CommentError::EmptyContent) => {}
                Err(e) => return invalid(&e.to_string()),
            }
            let traces = if form.is_test {
                Traces::None
            } else {
                Traces::Leave
            };
            match assess_comment(&state, &comment, traces).await {
                Ok(response) => {
                    // Test calls leave no trace, as in Akismet.
                    if !form.is_test {
                        record_for_review(&state, &comment, &response);
                    }
                    (
                        response.assessment.verdict,
                        Some(response.assessment.spam_probability),
                        response.verdict_id,
                    )
                }
                // A scorer bug: answer as Akismet does when it cannot judge, and log it.
                Err(e) => {
                    tracing::error!(error = %e, "comment-check could not score");
                    return invalid("The comment could not be checked; try again");
                }
            }
        }
    };
    let spam = is_spam_answer(verdict, state.akismet_hold_is_spam);
    if !form.is_test {
        state.akismet_usage.record(
            stats_key(&principal),
            &this_month(),
            &site_of(&principal, &form),
            UsageEvent::Checked { spam },
        );
    }
    let mut response = text();
    response.insert_header((HEADER_GUID, guid));
    response.insert_header((HEADER_VERDICT, verdict.as_str()));
    if let Some(p) = probability {
        response.insert_header((HEADER_SPAM_PROBABILITY, format!("{p:.4}")));
    }
    if let Some(tip) = pro_tip(verdict) {
        response.insert_header((HEADER_PRO_TIP, tip));
    }
    response.body(if spam { SPAM } else { HAM })
}

/// Handles `POST /1.1/submit-spam`.
#[utoipa::path(post, path = "/1.1/submit-spam", tag = "akismet", request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The Akismet form: `api_key`, `blog`, `user_ip`, `comment_content`, ..."), responses((status = 200, description = "An Akismet answer literal (`true`, `false`, `valid`, `invalid`, `Thanks for making the web a better place.`)", body = String, content_type = "text/plain")))]
pub async fn submit_spam(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    submit(request, payload, state, Label::Spam).await
}

/// Handles `POST /1.1/submit-ham`.
#[utoipa::path(post, path = "/1.1/submit-ham", tag = "akismet", request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The Akismet form: `api_key`, `blog`, `user_ip`, `comment_content`, ..."), responses((status = 200, description = "An Akismet answer literal (`true`, `false`, `valid`, `invalid`, `Thanks for making the web a better place.`)", body = String, content_type = "text/plain")))]
pub async fn submit_ham(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    submit(request, payload, state, Label::Ham).await
}

/// A correction through the Akismet protocol: the same store and effects as
/// `POST /v1/feedback`, matched by `guid` when the verdict is still known, else by content.
async fn submit(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    label: Label,
) -> HttpResponse {
    let (form, principal) = match form_and_caller(&request, payload, &state).await {
        Ok(both) => both,
        Err(refusal) => return refusal.into(),
    };
    if let Err(refusal) = check_blog(&principal, &form) {
        return refusal.into();
    }
    if form.is_test {
        return text().body(THANKS);
    }
    // A site key reaches only its own site's verdicts by guid.
    let by_guid = match form.guid.as_deref().filter(|g| g.len() <= 64) {
        Some(guid) => comment_of_verdict(&state, guid, principal.site.as_deref()).await,
        None => None,
    };
    let comment = match by_guid {
        Some(comment) => comment,
        None => {
            let mut comment = form.to_comment();
            comment.site = Some(site_of(&principal, &form));
            if let Err(e) = comment.validate() {
                return invalid(&e.to_string());
            }
            comment
        }
    };
    if overturns_a_label(&state, &principal, &comment, label) {
        return text().body(THANKS);
    }
    let correction = Correction {
        comment,
        label,
        verdict_id: form.guid.clone().filter(|g| g.len() <= 64),
        moderator: Some(
            match label {
                Label::Spam => "akismet submit-spam",
                Label::Ham => "akismet submit-ham",
            }
            .to_owned(),
        ),
        note: None,
        key_id: principal.key_id.clone(),
        origin: None,
    };
    match record_label(&state, correction).await {
        Ok(_) => {
            let event = match label {
                Label::Spam => UsageEvent::MissedSpam,
                Label::Ham => UsageEvent::FalsePositive,
            };
            state.akismet_usage.record(
                stats_key(&principal),
                &this_month(),
                &site_of(&principal, &form),
                event,
            );
            text().body(THANKS)
        }
        // Not acknowledged: a 503 makes clients retry rather than believe it was recorded.
        Err(e) => {
            tracing::error!(error = %e, "submit could not record the label");
            HttpResponse::ServiceUnavailable()
                .content_type(ContentType::plaintext())
                .insert_header((HEADER_DEBUG_HELP, "The label could not be stored; retry"))
                .body(INVALID)
        }
    }
}

/// Whether a site key's submission would overturn a label already given. Labels are global
/// (one model, one pin per comment, one spam memory), and a site key is the least trusted
/// caller: it may add a label, but never overturn one given by a moderator or another site.
fn overturns_a_label(
    state: &AppState,
    principal: &Principal,
    comment: &crate::domain::Comment,
    label: Label,
) -> bool {
    if principal.role != Role::Site {
        return false;
    }
    let fingerprint = Fingerprint::of(comment);
    let overturns = state
        .labels
        .pinned(fingerprint)
        .is_some_and(|pin| pin.label != label);
    if overturns {
        tracing::info!(
            key_id = principal.key_id.as_deref(),
            fingerprint = %fingerprint.to_hex(),
            "a site key's submission would overturn an existing label; not recorded"
        );
    }
    overturns
}

/// Handles `GET|POST /1.2/usage-limit`: this month's comment-check calls; no limit.
#[utoipa::path(method(get, post), path = "/1.2/usage-limit", tag = "akismet", responses((status = 200, description = "Calls this month (JSON)")))]
pub async fn usage_limit(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, principal) = match form_and_caller(&request, payload, &state).await {
        Ok(both) => both,
        Err(refusal) => return refusal.into(),
    };
    let usage = state
        .akismet_usage
        .calls(stats_key(&principal), &this_month());
    HttpResponse::Ok().json(json!({
        "limit": "none",
        "usage": usage,
        "percentage": "0.00",
        "throttled": false,
    }))
}

/// Handles `GET|POST /1.2/key-sites`: this month's (or `month=YYYY-MM`'s) counts per site,
/// as JSON or, with `format=csv`, CSV.
#[utoipa::path(method(get, post), path = "/1.2/key-sites", tag = "akismet", responses((status = 200, description = "Calls per site this month (JSON)")))]
pub async fn key_sites(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, principal) = match form_and_caller(&request, payload, &state).await {
        Ok(both) => both,
        Err(refusal) => return refusal.into(),
    };
    // `month` and `format` are not comment fields, so the form parser does not keep them.
    let query = request.query_string();
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    };
    let month = param("month")
        .filter(|m| m.len() == 7 && m.as_bytes()[4] == b'-')
        .unwrap_or_else(this_month);
    let sites = state.akismet_usage.sites(stats_key(&principal), &month);
    if param("format").as_deref() == Some("csv") {
        let mut csv = String::from("site,api_calls,spam,ham,missed_spam,false_positives\n");
        for (site, u) in &sites {
            // Sites are normalised URLs; quote them anyway in case one has a comma.
            csv.push_str(&format!(
                "\"{}\",{},{},{},{},{}\n",
                site.replace('"', "\"\""),
                u.api_calls,
                u.spam,
                u.ham,
                u.missed_spam,
                u.false_positives
            ));
        }
        return HttpResponse::Ok().content_type("text/csv").body(csv);
    }
    let rows: Vec<_> = sites
        .iter()
        .map(|(site, u)| {
            json!({
                "site": site,
                "api_calls": u.api_calls,
                "spam": u.spam,
                "ham": u.ham,
                "missed_spam": u.missed_spam,
                "false_positives": u.false_positives,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({ month.clone(): rows, "total": rows.len() }))
}

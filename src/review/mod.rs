//! The review history: the verdicts that need a human (hold, spam, discard), kept for a
//! retention period so the moderator console can show them, then deleted.
//!
//! Each entry holds the comment as submitted (author, e-mail address, IP: personal data),
//! the reasons and strongest tokens. Entries older than the retention are never returned and
//! are deleted: in Redis each entry expires on its own and the index is trimmed by score on
//! every write; the file store drops them from memory and its writer thread rewrites the file
//! (at most, and while anything expired, at least, once a minute). Either store also keeps
//! at most [`MAX_ITEMS`] entries, and the file store at most
//! [`MAX_BYTES`] of them (the oldest go first), so a spam wave cannot grow it without bound.
//!
//! Whether an entry was already corrected is not stored here: the label book is the truth
//! (a correction may come through `/v1/feedback`, the console or Akismet's submit-spam), so
//! the queue route asks it per entry.
//!
//! This module is the pure half: the entry, and the ordering, filtering and paging of the
//! queue ([`page`]); no IO, no threads. The stores only keep entries, behind [`ReviewStore`]:
//! [`FileHistory`] (in [`file`]) and the Redis store, which lives in `cache` with the only
//! code that may import `redis` (so `cache` imports this module, never the reverse).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{Assessment, Comment, Label, Reason, TokenWeight, Verdict};
use crate::keys::normalize_site;
use crate::text::{domain_of, normalize_content};

pub mod file;

pub use file::{FileHistory, HISTORY_FILE};

/// Default retention of the review history: 14 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);
/// Most entries either store keeps; the oldest are dropped first.
pub const MAX_ITEMS: usize = 20_000;
/// Most bytes (as JSON) of entries the file store keeps in memory; the oldest are dropped
/// first. A wave of 64 KiB spam comments must not take the process's memory with it: with
/// this budget `serve` stays within its 64 MB resident target (its peak is 40 MB in ordinary use).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Queue page size when the request names none.
pub const DEFAULT_PAGE: usize = 50;
/// Largest queue page.
pub const MAX_PAGE: usize = 200;
/// Most link domains kept per entry.
const MAX_DOMAINS: usize = 20;

/// Whether a verdict goes into the review history.
pub fn needs_review(verdict: Verdict) -> bool {
    verdict != Verdict::Approve
}

/// One verdict in the review history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewItem {
    /// The verdict id answered to the platform.
    pub verdict_id: String,
    /// When it was scored.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub scored_at: OffsetDateTime,
    /// `hold`, `spam` or `discard`.
    pub verdict: Verdict,
    /// The classifier's spam probability.
    pub spam_probability: f64,
    /// Why, strongest first.
    pub reasons: Vec<Reason>,
    /// Strongest tokens each way (> 0 spammy).
    pub tokens: Vec<TokenWeight>,
    /// Model version that scored it.
    pub model_version: String,
    /// Hosts of the links in the body and of the author URL, deduplicated.
    pub link_domains: Vec<String>,
    /// The comment as submitted.
    pub comment: Comment,
}

impl ReviewItem {
    /// The entry for `comment`, scored at `scored_at` with `assessment` under `verdict_id`.
    pub fn new(
        verdict_id: &str,
        scored_at: OffsetDateTime,
        assessment: &Assessment,
        comment: &Comment,
    ) -> ReviewItem {
        let mut link_domains: Vec<String> = Vec::new();
        let from_body = normalize_content(&comment.content)
            .links
            .into_iter()
            .map(|l| l.domain);
        let from_author = comment.author_url.as_deref().map(domain_of);
        for domain in from_body.chain(from_author) {
            if !domain.is_empty()
                && !link_domains.contains(&domain)
                && link_domains.len() < MAX_DOMAINS
            {
                link_domains.push(domain);
            }
        }
        ReviewItem {
            verdict_id: verdict_id.to_owned(),
            scored_at,
            verdict: assessment.verdict,
            spam_probability: assessment.spam_probability,
            reasons: assessment.reasons.clone(),
            tokens: assessment.tokens.clone(),
            model_version: assessment.model_version.clone(),
            link_domains,
            comment: comment.clone(),
        }
    }

    /// Whether it is older than `retention` at `now`.
    pub fn expired(&self, now: OffsetDateTime, retention: Duration) -> bool {
        now - self.scored_at >= retention
    }

    /// Its place in the queue: held first, then spam and discard; newest first; then by id.
    fn sort_key(&self) -> SortKey {
        SortKey {
            rank: rank(self.verdict),
            newest: -(self.scored_at.unix_timestamp_nanos() / 1000) as i64,
            verdict_id: self.verdict_id.clone(),
        }
    }
}

/// Held comments come before spam: they wait for a decision, spam is already out of sight.
fn rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Hold => 0,
        _ => 1,
    }
}

/// Order of the queue; also what a cursor names (the last entry of the previous page).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    rank: u8,
    /// Negated microseconds since the epoch, so that ascending order is newest first.
    newest: i64,
    verdict_id: String,
}

impl SortKey {
    fn to_cursor(&self) -> String {
        format!("{}.{}.{}", self.rank, -self.newest, self.verdict_id)
    }

    fn from_cursor(cursor: &str) -> Option<SortKey> {
        let mut parts = cursor.splitn(3, '.');
        let rank = parts.next()?.parse::<u8>().ok().filter(|r| *r <= 1)?;
        let micros = parts.next()?.parse::<i64>().ok()?;
        // Negated below: i64::MIN has no negation (a panic in a debug build).
        let newest = micros.checked_neg()?;
        let verdict_id = parts.next()?;
        if verdict_id.is_empty()
            || verdict_id.len() > 64
            || !verdict_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        Some(SortKey {
            rank,
            newest,
            verdict_id: verdict_id.to_owned(),
        })
    }
}

/// Which entries the queue shows, by correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Not corrected yet (the default: the work left).
    #[default]
    Pending,
    /// Already corrected by a moderator.
    Labelled,
    /// Both.
    All,
}

/// A decoded `GET /v1/review/queue` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueQuery {
    /// Only this site (compared as [`normalize_site`] spells it).
    pub site: Option<String>,
    /// Only this verdict.
    pub verdict: Option<Verdict>,
    /// Pending, labelled or all.
    pub status: Status,
    /// Resume after this entry (the previous page's `next_cursor`).
    cursor: Option<SortKey>,
    /// Page size.
    pub limit: usize,
}

/// Decodes the queue's query parameters (already percent-decoded). Messages never quote
/// values. Unknown parameters are ignored.
pub fn parse_queue_query(pairs: &[(String, String)]) -> Result<QueueQuery, String> {
    let mut query = QueueQuery {
        limit: DEFAULT_PAGE,
        ..QueueQuery::default()
    };
    for (name, value) in pairs {
        let value = value.trim();
        match name.as_str() {
            "site" if value.is_empty() => {}
            "site" if value.len() > crate::domain::MAX_FIELD_BYTES => {
                return Err("`site` is too long".into())
            }
            "site" => query.site = Some(value.to_owned()),
            "verdict" => {
                query.verdict = match value {
                    "" | "any" => None,
                    "hold" => Some(Verdict::Hold),
                    "spam" => Some(Verdict::Spam),
                    "discard" => Some(Verdict::Discard),
                    _ => return Err("`verdict` must be hold, spam, discard or any".into()),
                }
            }
            "status" => {
                query.status = match value {
                    "" | "pending" => Status::Pending,
                    "labelled" => Status::Labelled,
                    "all" => Status::All,
                    _ => return Err("`status` must be pending, labelled or all".into()),
                }
            }
            "cursor" if value.is_empty() => {}
            "cursor" => {
                query.cursor = Some(SortKey::from_cursor(value).ok_or_else(|| {
                    "`cursor` must be a `next_cursor` from an earlier page".to_owned()
                })?)
            }
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| format!("`limit` must be between 1 and {MAX_PAGE}"))?
            }
            _ => {}
        }
    }
    Ok(query)
}

/// One queue row: the entry and the label in force for its comment, if any.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    /// The history entry.
    #[serde(flatten)]
    pub item: ReviewItem,
    /// The moderator's label for this comment, once corrected.
    pub label: Option<Label>,
}

/// One page of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueuePage {
    /// The rows: held first, then spam and discard, newest first.
    pub items: Vec<QueueItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Every site in the history, for the site filter.
    pub sites: Vec<String>,
    /// Days entries are kept.
    pub retention_days: f64,
}

/// The page `query` asks for out of every unexpired entry, each with its label (`label_of`).
pub fn page(
    items: Vec<ReviewItem>,
    query: &QueueQuery,
    retention: Duration,
    label_of: impl Fn(&ReviewItem) -> Option<Label>,
) -> QueuePage {
    let want_site = query
        .site
        .as_deref()
        .map(|s| normalize_site(s).unwrap_or_else(|| s.to_owned()));
    let site_of = |item: &ReviewItem| {
        item.comment
            .site
            .as_deref()
            .map(|s| normalize_site(s).unwrap_or_else(|| s.to_owned()))
    };
    let mut sites: Vec<String> = items.iter().filter_map(site_of).collect();
    sites.sort();
    sites.dedup();
    let mut rows: Vec<(SortKey, QueueItem)> = items
        .into_iter()
        .filter(|item| query.verdict.is_none_or(|v| v == item.verdict))
        .filter(|item| want_site.is_none() || site_of(item) == want_site)
        .filter(|item| query.cursor.as_ref().is_none_or(|c| item.sort_key() > *c))
        .filter_map(|item| {
            let label = label_of(&item);
            let keep = match query.status {
                Status::Pending => label.is_none(),
                Status::Labelled => label.is_some(),
                Status::All => true,
            };
            keep.then(|| (item.sort_key(), QueueItem { item, label }))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let next_cursor = (rows.len() > query.limit).then(|| rows[query.limit - 1].0.to_cursor());
    rows.truncate(query.limit);
    QueuePage {
        items: rows.into_iter().map(|(_, row)| row).collect(),
        next_cursor,
        sites,
        retention_days: retention.as_secs_f64() / 86_400.0,
    }
}

/// Why the history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file store failed.
    #[error("review history file: {0}")]
    Io(#[from] std::io::Error),
    /// Redis did not answer in time, or the breaker is open.
    #[error("review history in Redis is unavailable")]
    Redis,
    /// An entry could not be encoded.
    #[error("review history entry: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A store of review entries: the scoring routes record into it, the console's routes read
/// it. Implementations: [`FileHistory`] here, `RedisReview` in `cache`.
pub trait ReviewStore: Send + Sync {
    /// Records `item` (an entry older than the retention is dropped on the way) without
    /// waiting on a disk or on Redis: the scoring routes call it, and their latency budget is
    /// far below one write's. Failures, now or later, are counted in
    /// [`ReviewStore::errors`].
    fn record(&self, item: ReviewItem, now: OffsetDateTime) -> Result<(), HistoryError>;

    /// Every unexpired entry at `now`, newest first (at most [`MAX_ITEMS`]).
    fn items(&self, now: OffsetDateTime) -> ItemsFuture<'_>;

    /// Verdicts the store failed to keep since the service started.
    fn errors(&self) -> u64;

    /// How long entries are kept.
    fn retention(&self) -> Duration;

    /// Where entries are kept, as `GET /v1/review/summary` names it: `file` or `redis`.
    fn kind(&self) -> &'static str;
}

/// What [`ReviewStore::items`] answers; boxed so that the app state can hold a
/// `dyn ReviewStore` and pick the store at start.
pub type ItemsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<ReviewItem>, HistoryError>> + Send + 'a>>;

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn item(
        id: &str,
        verdict: Verdict,
        at: OffsetDateTime,
        site: Option<&str>,
    ) -> ReviewItem {
        let assessment = Assessment {
            verdict,
            spam_probability: 0.6,
            reasons: vec![],
            tokens: vec![],
            model_version: "nb-test".into(),
        };
        let comment = Comment {
            content: format!("comment {id} see https://www.Spam.example/x and http://b.example"),
            author_url: Some("https://author.example/me".into()),
            site: site.map(str::to_owned),
            ..Default::default()
        };
        ReviewItem::new(id, at, &assessment, &comment)
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    /// 2026-05-01 12:00 UTC.
    pub(super) fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_777_636_800).unwrap()
    }
    pub(super) const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn link_domains_come_from_the_body_and_the_author_url() {
        let i = item("a", Verdict::Hold, t0(), None);
        assert_eq!(
            i.link_domains,
            ["spam.example", "b.example", "author.example"]
        );
        assert!(needs_review(Verdict::Hold) && needs_review(Verdict::Discard));
        assert!(!needs_review(Verdict::Approve));
    }

    #[test]
    fn held_first_then_spam_newest_first_and_cursors_resume() {
        let items = vec![
            item("s1", Verdict::Spam, t0() + Duration::from_secs(50), None),
            item("h1", Verdict::Hold, t0(), None),
            item("h2", Verdict::Hold, t0() + Duration::from_secs(10), None),
            item("d1", Verdict::Discard, t0() + Duration::from_secs(5), None),
        ];
        let mut query = parse_queue_query(&pairs("limit=3")).unwrap();
        let first = page(items.clone(), &query, DAY, |_| None);
        let ids: Vec<&str> = first
            .items
            .iter()
            .map(|r| r.item.verdict_id.as_str())
            .collect();
        assert_eq!(ids, ["h2", "h1", "s1"]);
        let cursor = first.next_cursor.expect("a next page");
        query = parse_queue_query(&pairs(&format!("limit=3&cursor={cursor}"))).unwrap();
        let second = page(items.clone(), &query, DAY, |_| None);
        let ids: Vec<&str> = second
            .items
            .iter()
            .map(|r| r.item.verdict_id.as_str())
            .collect();
        assert_eq!(ids, ["d1"]);
        assert_eq!(second.next_cursor, None);
        // Exactly a page: no next cursor.
        let query = parse_queue_query(&pairs("limit=4")).unwrap();
        assert_eq!(page(items, &query, DAY, |_| None).next_cursor, None);
    }

    #[test]
    fn filters_by_site_verdict_and_label() {
        let items = vec![
            item("a", Verdict::Hold, t0(), Some("https://Blog.example.com/")),
            item("b", Verdict::Spam, t0(), Some("https://other.example")),
            item("c", Verdict::Hold, t0(), None),
        ];
        let ids = |q: &str, labelled: &[&str]| -> Vec<String> {
            let query = parse_queue_query(&pairs(q)).unwrap();
            page(items.clone(), &query, DAY, |i| {
                labelled
                    .contains(&i.verdict_id.as_str())
                    .then_some(Label::Spam)
            })
            .items
            .into_iter()
            .map(|r| r.item.verdict_id)
            .collect()
        };
        assert_eq!(ids("site=https://blog.example.com", &[]), ["a"]);
        assert_eq!(ids("verdict=spam", &[]), ["b"]);
        assert_eq!(ids("", &["a"]), ["c", "b"], "pending by default");
        assert_eq!(ids("status=labelled", &["a"]), ["a"]);
        assert_eq!(ids("status=all", &["a"]).len(), 3);
        let sites = page(
            items,
            &QueueQuery {
                limit: 1,
                ..Default::default()
            },
            DAY,
            |_| None,
        )
        .sites;
        assert_eq!(sites, ["https://blog.example.com", "https://other.example"]);
    }

    #[test]
    fn bad_queries_are_refused_without_echoing() {
        for q in [
            "verdict=approve",
            "status=done",
            "limit=0",
            "limit=201",
            "limit=x",
            "cursor=2.1.abc",
            "cursor=0.x.abc",
            "cursor=0.1.<script>",
            "cursor=0.1",
        ] {
            let err = parse_queue_query(&pairs(q)).expect_err(q);
            assert!(!err.contains("<script>"), "{q}: {err}");
        }
        assert!(parse_queue_query(&pairs("other=1&site=&cursor=")).is_ok());
    }

    #[test]
    fn a_cursor_at_the_edge_of_i64_is_refused_not_a_panic() {
        for q in [
            "cursor=0.-9223372036854775808.abc",
            "cursor=1.9223372036854775808.abc",
        ] {
            assert!(parse_queue_query(&pairs(q)).is_err(), "{q}");
        }
        // The largest negatable value is still a cursor (it pages past everything).
        assert!(parse_queue_query(&pairs("cursor=0.-9223372036854775807.abc")).is_ok());
    }
}

//! The Akismet REST protocol's pure half: decoding its form bodies (with their declared
//! charset) into an [`AkismetForm`], turning one into a [`Comment`], finding the API key
//! (body or `KEY.host`), canonical blog URLs, the documented test triggers, and the exact
//! answer literals and header names. No IO and no actix: the routes own HTTP.
//!
//! Decoding follows the WHATWG `application/x-www-form-urlencoded` parser: `+` is a space,
//! `%XY` is a byte, a `%` not followed by two hex digits stays literal, and bytes that are
//! not valid UTF-8 become U+FFFD (lossy, never an error: a spammer's stray byte must not turn
//! a check into an error that lands the comment in a moderator's queue). A `blog_charset`
//! (or the Content-Type charset) naming Latin-1 or windows-1252 decodes bytes through the
//! windows-1252 table, as browsers do for both labels. Any other charset is refused with
//! [`AkismetError::UnsupportedCharset`], since guessing would feed garbage to the classifier.

use crate::domain::{Comment, Verdict};
use crate::keys::is_key_shaped;

/// The exact body of a submit-spam or submit-ham answer.
pub const THANKS: &str = "Thanks for making the web a better place.";
/// verify-key answer for a good key.
pub const VALID: &str = "valid";
/// Answer for a bad key or missing required fields (sent with [`HEADER_DEBUG_HELP`]).
pub const INVALID: &str = "invalid";
/// comment-check answer for spam.
pub const SPAM: &str = "true";
/// comment-check answer for not spam.
pub const HAM: &str = "false";
/// Header explaining an `invalid` answer.
pub const HEADER_DEBUG_HELP: &str = "X-akismet-debug-help";
/// Header carrying the request's id on every comment-check answer.
pub const HEADER_GUID: &str = "X-akismet-guid";
/// Header whose value `discard` marks blatant spam.
pub const HEADER_PRO_TIP: &str = "X-akismet-pro-tip";
/// Value of [`HEADER_PRO_TIP`] for a discard verdict.
pub const PRO_TIP_DISCARD: &str = "discard";
/// commentguard's own header: the verdict's wire name.
pub const HEADER_VERDICT: &str = "X-commentguard-verdict";
/// commentguard's own header: the classifier's spam probability.
pub const HEADER_SPAM_PROBABILITY: &str = "X-commentguard-spam-probability";
/// comment_author that Akismet documents as always spam.
pub const TEST_SPAM_AUTHOR: &str = "viagra-test-123";
/// comment_author_email that Akismet documents as always spam.
pub const TEST_SPAM_EMAIL: &str = "akismet-guaranteed-spam@example.com";
/// user_role that Akismet documents as never spam.
pub const TEST_HAM_ROLE: &str = "administrator";

/// Why an Akismet form body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AkismetError {
    /// The declared charset is neither UTF-8 nor Latin-1/windows-1252.
    #[error("unsupported charset `{0}`: send UTF-8, ISO-8859-1 or windows-1252")]
    UnsupportedCharset(String),
}

/// A decoded Akismet request body (comment-check, submit-*, verify-key); unknown fields dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AkismetForm {
    /// API key sent as `api_key` (comment-check, submit-*, usage-limit, key-sites).
    pub api_key: Option<String>,
    /// API key sent as `key` (verify-key).
    pub key: Option<String>,
    /// The site's front page URL.
    pub blog: Option<String>,
    /// Commenter's IP address.
    pub user_ip: Option<String>,
    /// Commenter's user agent.
    pub user_agent: Option<String>,
    /// HTTP referrer of the comment form.
    pub referrer: Option<String>,
    /// URL of the post commented on.
    pub permalink: Option<String>,
    /// `comment`, `reply`, `forum-post`, `contact-form`, `signup`, ...
    pub comment_type: Option<String>,
    /// Commenter's name.
    pub comment_author: Option<String>,
    /// Commenter's e-mail address.
    pub comment_author_email: Option<String>,
    /// Commenter's website.
    pub comment_author_url: Option<String>,
    /// The comment body.
    pub comment_content: Option<String>,
    /// When the comment was posted (ISO 8601), as sent.
    pub comment_date_gmt: Option<String>,
    /// When the post was last modified (ISO 8601), as sent.
    pub comment_post_modified_gmt: Option<String>,
    /// The site's language(s), e.g. `en, fr_ca`.
    pub blog_lang: Option<String>,
    /// The charset the platform declared for the comment text, as sent.
    pub blog_charset: Option<String>,
    /// Commenter's role on the site; `administrator` is never spam.
    pub user_role: Option<String>,
    /// `is_test` was `1` or `true`: do not learn from or count this request.
    pub is_test: bool,
    /// Why the platform rechecks the comment (e.g. `edit`), as sent.
    pub recheck_reason: Option<String>,
    /// Name of the hidden honeypot field.
    pub honeypot_field_name: Option<String>,
    /// Value of the field that `honeypot_field_name` names, when sent.
    pub honeypot: Option<String>,
    /// The verdict a submit-spam / submit-ham corrects (our `X-akismet-guid`), when sent.
    pub guid: Option<String>,
    /// Values of `comment_context[]` (also `comment_context` and `comment_context[N]`), in order.
    pub comment_context: Vec<String>,
}

/// Which answer a documented test trigger forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestTrigger {
    /// Answer `true` (spam).
    Spam,
    /// Answer `false` (not spam).
    Ham,
}

/// Decodes a form body, taking its charset from its own `blog_charset` field.
pub fn parse_form(body: &[u8]) -> Result<AkismetForm, AkismetError> {
    parse_form_with_charset(body, None)
}

/// Decodes a form body; `content_type_charset` (from the Content-Type header) beats `blog_charset`.
pub fn parse_form_with_charset(
    body: &[u8],
    content_type_charset: Option<&str>,
) -> Result<AkismetForm, AkismetError> {
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = body
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(i) => (percent_decode(&piece[..i]), percent_decode(&piece[i + 1..])),
            None => (percent_decode(piece), Vec::new()),
        })
        .collect();

    let declared = content_type_charset
        .map(str::to_string)
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            pairs
                .iter()
                .rev()
                .find(|(name, _)| name.as_slice() == b"blog_charset")
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
        });
    let charset = match declared.as_deref() {
        None => Charset::Utf8,
        Some(label) => Charset::from_label(label)
            .ok_or_else(|| AkismetError::UnsupportedCharset(label.trim().to_string()))?,
    };

    let decoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (charset.decode(name), charset.decode(value)))
        .collect();

    let mut form = AkismetForm::default();
    for (name, value) in &decoded {
        let slot = match name.as_str() {
            "api_key" => &mut form.api_key,
            "key" => &mut form.key,
            "blog" => &mut form.blog,
            "user_ip" => &mut form.user_ip,
            "user_agent" => &mut form.user_agent,
            "referrer" => &mut form.referrer,
            "permalink" => &mut form.permalink,
            "comment_type" => &mut form.comment_type,
            "comment_author" => &mut form.comment_author,
            "comment_author_email" => &mut form.comment_author_email,
            "comment_author_url" => &mut form.comment_author_url,
            "comment_content" => &mut form.comment_content,
            "comment_date_gmt" => &mut form.comment_date_gmt,
            "comment_post_modified_gmt" => &mut form.comment_post_modified_gmt,
            "blog_lang" => &mut form.blog_lang,
            "blog_charset" => &mut form.blog_charset,
            "user_role" => &mut form.user_role,
            "recheck_reason" => &mut form.recheck_reason,
            "honeypot_field_name" => &mut form.honeypot_field_name,
            "guid" => &mut form.guid,
            "is_test" => {
                let v = value.trim();
                form.is_test = v == "1" || v.eq_ignore_ascii_case("true");
                continue;
            }
            other if is_context_name(other) => {
                form.comment_context.push(value.clone());
                continue;
            }
            _ => continue,
        };
        *slot = Some(value.clone());
    }

    // The honeypot's value is in the field the form names; a form naming the naming field
    // itself would always look filled, so that counts as no honeypot.
    form.honeypot = form
        .honeypot_field_name
        .as_deref()
        .filter(|n| !n.is_empty() && *n != "honeypot_field_name")
        .and_then(|n| decoded.iter().rev().find(|(name, _)| name == n))
        .map(|(_, value)| value.clone());

    Ok(form)
}

impl AkismetForm {
    /// The comment to score; missing content becomes an empty string (the caller decides).
    pub fn to_comment(&self) -> Comment {
        Comment {
            content: self.comment_content.clone().unwrap_or_default(),
            author: self.comment_author.clone(),
            author_email: self.comment_author_email.clone(),
            author_url: self.comment_author_url.clone(),
            user_ip: self.user_ip.clone(),
            user_agent: self.user_agent.clone(),
            referrer: self.referrer.clone(),
            permalink: self.permalink.clone(),
            comment_type: self.comment_type.clone(),
            site: self.blog.clone(),
            lang: self.blog_lang.clone(),
            id: None,
            honeypot: self.honeypot.clone(),
            form_rendered_at: None,
        }
    }

    /// The API key: `api_key`, else `key`, else the Host's first label; empty values skipped.
    pub fn resolve_key<'a>(&'a self, host: Option<&'a str>) -> Option<&'a str> {
        self.api_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .or_else(|| self.key.as_deref().filter(|k| !k.is_empty()))
            .or_else(|| host.and_then(key_from_host))
    }

    /// The `X-akismet-debug-help` text when `blog` or `user_ip` (required by comment-check) is empty.
    pub fn missing_required(&self) -> Option<&'static str> {
        let empty = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if empty(&self.blog) {
            Some("Empty \"blog\" value")
        } else if empty(&self.user_ip) {
            Some("Empty \"user_ip\" value")
        } else {
            None
        }
    }
}

/// The key in a `KEY.rest[:port]` Host header: a well-formed first label followed by more labels.
pub fn key_from_host(host: &str) -> Option<&str> {
    let (first, rest) = host.trim().split_once('.')?;
    let rest = rest.split(':').next().unwrap_or("");
    (is_key_shaped(first) && !rest.trim_matches('.').is_empty()).then_some(first)
}

/// The documented trigger in `form`, if any: guaranteed-spam e-mail, then spam author, then administrator.
pub fn test_trigger(form: &AkismetForm) -> Option<TestTrigger> {
    let is = |v: &Option<String>, expected: &str| {
        v.as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case(expected))
    };
    if is(&form.comment_author_email, TEST_SPAM_EMAIL) || is(&form.comment_author, TEST_SPAM_AUTHOR)
    {
        Some(TestTrigger::Spam)
    } else if is(&form.user_role, TEST_HAM_ROLE) {
        Some(TestTrigger::Ham)
    } else {
        None
    }
}

/// Whether comment-check answers `true` for `verdict`; `hold_is_spam` decides for Hold.
pub fn is_spam_answer(verdict: Verdict, hold_is_spam: bool) -> bool {
    match verdict {
        Verdict::Approve => false,
        Verdict::Hold => hold_is_spam,
        Verdict::Spam | Verdict::Discard => true,
    }
}

/// The `X-akismet-pro-tip` value for `verdict`: `discard` for Discard, else none.
pub fn pro_tip(verdict: Verdict) -> Option<&'static str> {
    (verdict == Verdict::Discard).then_some(PRO_TIP_DISCARD)
}

/// `comment_context`, `comment_context[]` and PHP's `comment_context[N]`.
fn is_context_name(name: &str) -> bool {
    match name.strip_prefix("comment_context") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|inner| inner.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// WHATWG percent-decoding of one name or value, with `+` as a space.
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                input.get(i + 1).and_then(hex),
                input.get(i + 2).and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// The charsets a body may be decoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Windows1252,
}

impl Charset {
    /// The WHATWG labels for UTF-8 and windows-1252 (which includes every Latin-1 and ASCII label).
    fn from_label(label: &str) -> Option<Charset> {
        let label = label.trim().trim_matches(['"', '\'']).to_ascii_lowercase();
        match label.as_str() {
            "" | "utf-8" | "utf8" | "unicode-1-1-utf-8" | "unicode11utf8" | "unicode20utf8"
            | "x-unicode20utf8" => Some(Charset::Utf8),
            "windows-1252" | "cp1252" | "x-cp1252" | "iso-8859-1" | "iso8859-1" | "iso88591"
            | "iso_8859-1" | "iso_8859-1:1987" | "iso-ir-100" | "latin1" | "l1" | "csisolatin1"
            | "ibm819" | "cp819" | "ascii" | "us-ascii" | "ansi_x3.4-1968" => {
                Some(Charset::Windows1252)
            }
            _ => None,
        }
    }

    fn decode(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::Windows1252 => bytes.iter().map(|&b| windows_1252(b)).collect(),
        }
    }
}

/// One windows-1252 byte as a char; the five unassigned bytes map to their C1 controls, as WHATWG does.
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}',
        '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// One site's Akismet traffic in one month, as `key-sites` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SiteUsage {
    /// comment-check calls.
    pub api_calls: u64,
    /// comment-check answers `true`.
    pub spam: u64,
    /// comment-check answers `false`.
    pub ham: u64,
    /// submit-spam calls: spam we let through.
    pub missed_spam: u64,
    /// submit-ham calls: ham we called spam.
    pub false_positives: u64,
}

/// What happened in one Akismet call, for [`UsageStats::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageEvent {
    /// A comment-check answered `true` (spam) or `false`.
    Checked {
        /// The answer.
        spam: bool,
    },
    /// A submit-spam.
    MissedSpam,
    /// A submit-ham.
    FalsePositive,
}

/// Per key, per month (`YYYY-MM`), per site counts since the process started. In memory
/// only: a restart starts the month's counts again (README says so).
#[derive(Debug, Default)]
pub struct UsageStats {
    counts: std::sync::Mutex<std::collections::BTreeMap<(String, String, String), SiteUsage>>,
}

/// Sites counted apart per key and month; later ones share one [`OTHER_SITES`] row, so a
/// client inventing `blog` values cannot grow the counts without bound.
pub const MAX_SITES_PER_KEY_MONTH: usize = 1000;
/// The row that collects sites past [`MAX_SITES_PER_KEY_MONTH`] (and over-long ones).
pub const OTHER_SITES: &str = "(other sites)";

impl UsageStats {
    /// Counts one call by key `key_id` for `site` in `month`.
    pub fn record(&self, key_id: &str, month: &str, site: &str, event: UsageEvent) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut row = (key_id.to_owned(), month.to_owned(), site.to_owned());
        if !counts.contains_key(&row) {
            let sites = counts
                .keys()
                .filter(|(k, m, _)| k == key_id && m == month)
                .count();
            if site.len() > 256 || sites >= MAX_SITES_PER_KEY_MONTH {
                row.2 = OTHER_SITES.to_owned();
            }
        }
        let usage = counts.entry(row).or_default();
        match event {
            UsageEvent::Checked { spam } => {
                usage.api_calls += 1;
                if spam {
                    usage.spam += 1;
                } else {
                    usage.ham += 1;
                }
            }
            UsageEvent::MissedSpam => usage.missed_spam += 1,
            UsageEvent::FalsePositive => usage.false_positives += 1,
        }
    }

    /// One key's sites in `month`, by site.
    pub fn sites(&self, key_id: &str, month: &str) -> Vec<(String, SiteUsage)> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts
            .iter()
            .filter(|((k, m, _), _)| k == key_id && m == month)
            .map(|((_, _, site), usage)| (site.clone(), usage.clone()))
            .collect()
    }

    /// One key's comment-check calls in `month`, all sites together.
    pub fn calls(&self, key_id: &str, month: &str) -> u64 {
        self.sites(key_id, month)
            .iter()
            .map(|(_, u)| u.api_calls)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    //! Tables of cases, each with a name and a one-line reason.

    use super::*;

    fn form(body: &str) -> AkismetForm {
        match parse_form(body.as_bytes()) {
            Ok(f) => f,
            Err(e) => panic!("`{body}` should parse: {e}"),
        }
    }

    struct ParseCase {
        name: &'static str,
        why: &'static str,
        body: &'static [u8],
        check: fn(&AkismetForm) -> bool,
    }

    #[test]
    fn usage_is_counted_per_key_month_and_site() {
        let stats = UsageStats::default();
        stats.record(
            "k1",
            "2026-11",
            "https://a.example",
            UsageEvent::Checked { spam: true },
        );
        stats.record(
            "k1",
            "2026-11",
            "https://a.example",
            UsageEvent::Checked { spam: false },
        );
        stats.record("k1", "2026-11", "https://a.example", UsageEvent::MissedSpam);
        stats.record(
            "k1",
            "2026-10",
            "https://a.example",
            UsageEvent::Checked { spam: true },
        );
        stats.record(
            "k2",
            "2026-11",
            "https://b.example",
            UsageEvent::FalsePositive,
        );
        let sites = stats.sites("k1", "2026-11");
        assert_eq!(sites.len(), 1);
        assert_eq!(
            sites[0].1,
            SiteUsage {
                api_calls: 2,
                spam: 1,
                ham: 1,
                missed_spam: 1,
                false_positives: 0
            }
        );
        assert_eq!(stats.calls("k1", "2026-11"), 2);
        assert_eq!(stats.calls("k2", "2026-11"), 0, "a submit is not a check");
    }

    #[test]
    fn parse_form_cases() {
        let cases = [
            ParseCase {
                name: "plus_is_space",
                why: "form encoding writes spaces as +",
                body: b"comment_content=hello+world",
                check: |f| f.comment_content.as_deref() == Some("hello world"),
            },
            ParseCase {
                name: "percent_utf8",
                why: "UTF-8 multi-byte characters arrive percent-encoded",
                body: b"comment_author=Zo%C3%AB+%E2%9C%93",
                check: |f| f.comment_author.as_deref() == Some("Zoë ✓"),
            },
            ParseCase {
                name: "encoded_plus_and_ampersand",
                why: "%2B and %26 are data, not separators",
                body: b"comment_content=1%2B1%3D2+%26+more",
                check: |f| f.comment_content.as_deref() == Some("1+1=2 & more"),
            },
            ParseCase {
                name: "bad_percent_literal",
                why: "WHATWG keeps a % not followed by two hex digits",
                body: b"comment_content=100%+sure%zz%4",
                check: |f| f.comment_content.as_deref() == Some("100% sure%zz%4"),
            },
            ParseCase {
                name: "lowercase_hex",
                why: "hex digits are case-insensitive",
                body: b"comment_content=%c3%a9",
                check: |f| f.comment_content.as_deref() == Some("é"),
            },
            ParseCase {
                name: "last_value_wins",
                why: "repeated keys keep the last value, like PHP",
                body: b"blog=https%3A%2F%2Fa.example&blog=https%3A%2F%2Fb.example",
                check: |f| f.blog.as_deref() == Some("https://b.example"),
            },
            ParseCase {
                name: "context_all_spellings",
                why: "Akismet documents [], PHP's http_build_query sends [N], akismet.py sends the bare name",
                body: b"comment_context%5B%5D=cooking&comment_context[1]=recipes&comment_context=food",
                check: |f| f.comment_context == ["cooking", "recipes", "food"],
            },
            ParseCase {
                name: "context_lookalike_ignored",
                why: "comment_context[x] is not a list index",
                body: b"comment_context[x]=no&comment_contexts=no",
                check: |f| f.comment_context.is_empty(),
            },
            ParseCase {
                name: "unknown_fields_ignored",
                why: "the protocol says unknown fields are ignored",
                body: b"foo=bar&comment_content=hi&&=x&lonely",
                check: |f| *f == AkismetForm { comment_content: Some("hi".into()), ..Default::default() },
            },
            ParseCase {
                name: "empty_body",
                why: "an empty body is an empty form, and the caller reports what is missing",
                body: b"",
                check: |f| *f == AkismetForm::default(),
            },
            ParseCase {
                name: "key_without_value",
                why: "a name with no = is present with an empty value",
                body: b"comment_author",
                check: |f| f.comment_author.as_deref() == Some(""),
            },
            ParseCase {
                name: "honeypot_lookup",
                why: "the honeypot's value is in the field that honeypot_field_name names",
                body: b"honeypot_field_name=hp_xyz&hp_xyz=http%3A%2F%2Fspam.example",
                check: |f| f.honeypot.as_deref() == Some("http://spam.example"),
            },
            ParseCase {
                name: "honeypot_before_its_name",
                why: "field order does not matter",
                body: b"hp=filled&honeypot_field_name=hp",
                check: |f| f.honeypot.as_deref() == Some("filled"),
            },
            ParseCase {
                name: "honeypot_empty_kept",
                why: "an empty honeypot is sent as empty; the rules treat blank as not filled",
                body: b"honeypot_field_name=hp&hp=",
                check: |f| f.honeypot.as_deref() == Some(""),
            },
            ParseCase {
                name: "honeypot_field_absent",
                why: "a named field that was not sent is no honeypot value",
                body: b"honeypot_field_name=hp",
                check: |f| f.honeypot.is_none() && f.honeypot_field_name.as_deref() == Some("hp"),
            },
            ParseCase {
                name: "honeypot_names_itself",
                why: "naming the naming field would always look filled",
                body: b"honeypot_field_name=honeypot_field_name",
                check: |f| f.honeypot.is_none(),
            },
            ParseCase {
                name: "honeypot_without_name",
                why: "a field called hp means nothing without honeypot_field_name",
                body: b"hp=filled",
                check: |f| f.honeypot.is_none(),
            },
            ParseCase {
                name: "is_test_one",
                why: "is_test=1 is the documented form",
                body: b"is_test=1",
                check: |f| f.is_test,
            },
            ParseCase {
                name: "is_test_true",
                why: "akismet.py sends booleans as true",
                body: b"is_test=True",
                check: |f| f.is_test,
            },
            ParseCase {
                name: "is_test_zero",
                why: "is_test=0 and other values are not tests",
                body: b"is_test=0",
                check: |f| !f.is_test,
            },
            ParseCase {
                name: "is_test_last_wins",
                why: "repeated is_test keeps the last value like every field",
                body: b"is_test=1&is_test=false",
                check: |f| !f.is_test,
            },
            ParseCase {
                name: "both_key_fields",
                why: "verify-key sends key, the others api_key",
                body: b"key=abc123def456&api_key=zzz999zzz999",
                check: |f| {
                    f.key.as_deref() == Some("abc123def456")
                        && f.api_key.as_deref() == Some("zzz999zzz999")
                },
            },
            ParseCase {
                name: "invalid_utf8_lossy",
                why: "a stray byte becomes U+FFFD instead of failing the check",
                body: b"comment_content=caf%E9+ok",
                check: |f| f.comment_content.as_deref() == Some("caf\u{FFFD} ok"),
            },
            ParseCase {
                name: "latin1_declared",
                why: "WordPress on a Latin-1 blog sends Latin-1 bytes",
                body: b"blog_charset=ISO-8859-1&comment_content=caf%E9",
                check: |f| {
                    f.comment_content.as_deref() == Some("café")
                        && f.blog_charset.as_deref() == Some("ISO-8859-1")
                },
            },
            ParseCase {
                name: "latin1_declared_after_content",
                why: "the charset applies to fields sent before it too",
                body: b"comment_author=Ren%E9&blog_charset=latin1",
                check: |f| f.comment_author.as_deref() == Some("René"),
            },
            ParseCase {
                name: "windows_1252_high_bytes",
                why: "0x80-0x9F are curly quotes and the euro sign, not C1 controls",
                body: b"blog_charset=windows-1252&comment_content=%93hi%94+%80%85",
                check: |f| f.comment_content.as_deref() == Some("\u{201C}hi\u{201D} €…"),
            },
            ParseCase {
                name: "utf8_charset_label_case",
                why: "charset labels are case-insensitive and may be quoted",
                body: b"blog_charset=%22Utf8%22&comment_content=%C3%A9",
                check: |f| f.comment_content.as_deref() == Some("é"),
            },
            ParseCase {
                name: "empty_charset_is_utf8",
                why: "an empty blog_charset declares nothing",
                body: b"blog_charset=&comment_content=%C3%A9",
                check: |f| f.comment_content.as_deref() == Some("é"),
            },
        ];
        for case in cases {
            let parsed = match parse_form(case.body) {
                Ok(f) => f,
                Err(e) => panic!("{} ({}): should parse: {e}", case.name, case.why),
            };
            assert!(
                (case.check)(&parsed),
                "{} ({}): got {parsed:#?}",
                case.name,
                case.why
            );
        }
    }

    #[test]
    fn charset_errors_and_precedence() {
        struct Case {
            name: &'static str,
            why: &'static str,
            body: &'static [u8],
            header: Option<&'static str>,
            expect: Result<&'static str, AkismetError>,
        }
        let cases = [
            Case {
                name: "unknown_charset",
                why: "guessing an unknown charset would feed garbage to the classifier",
                body: b"blog_charset=EUC-JP&comment_content=x",
                header: None,
                expect: Err(AkismetError::UnsupportedCharset("EUC-JP".into())),
            },
            Case {
                name: "header_beats_field",
                why: "the Content-Type charset describes the bytes actually sent",
                body: b"blog_charset=EUC-JP&comment_content=caf%E9",
                header: Some("ISO-8859-1"),
                expect: Ok("café"),
            },
            Case {
                name: "header_utf8_beats_latin1_field",
                why: "same precedence the other way round",
                body: b"blog_charset=latin1&comment_content=caf%C3%A9",
                header: Some("utf-8"),
                expect: Ok("café"),
            },
            Case {
                name: "blank_header_falls_back",
                why: "an empty charset parameter declares nothing",
                body: b"blog_charset=latin1&comment_content=caf%E9",
                header: Some(" "),
                expect: Ok("café"),
            },
            Case {
                name: "unknown_header_charset",
                why: "the header's charset is refused like the field's",
                body: b"comment_content=x",
                header: Some("utf-16"),
                expect: Err(AkismetError::UnsupportedCharset("utf-16".into())),
            },
        ];
        for case in cases {
            let got = parse_form_with_charset(case.body, case.header)
                .map(|f| f.comment_content.unwrap_or_default());
            let want = case.expect.map(str::to_string);
            assert_eq!(got, want, "{} ({})", case.name, case.why);
        }
    }

    #[test]
    fn to_comment_maps_every_field() {
        let f = form(
            "comment_content=Nice+post&comment_author=Ann&comment_author_email=ann%40example.com\
             &comment_author_url=https%3A%2F%2Fann.example&user_ip=192.0.2.7&user_agent=UA\
             &referrer=https%3A%2F%2Fref.example&permalink=https%3A%2F%2Fblog.example%2Fp\
             &comment_type=reply&blog=https%3A%2F%2Fblog.example&blog_lang=en%2C+fr_ca\
             &honeypot_field_name=hp&hp=",
        );
        let want = Comment {
            content: "Nice post".into(),
            author: Some("Ann".into()),
            author_email: Some("ann@example.com".into()),
            author_url: Some("https://ann.example".into()),
            user_ip: Some("192.0.2.7".into()),
            user_agent: Some("UA".into()),
            referrer: Some("https://ref.example".into()),
            permalink: Some("https://blog.example/p".into()),
            comment_type: Some("reply".into()),
            site: Some("https://blog.example".into()),
            lang: Some("en, fr_ca".into()),
            id: None,
            honeypot: Some(String::new()),
            form_rendered_at: None,
        };
        assert_eq!(f.to_comment(), want);
        assert_eq!(want.validate(), Ok(()), "a full form makes a valid comment");
    }

    #[test]
    fn to_comment_without_content_is_empty() {
        let c = form("blog=https%3A%2F%2Fb.example&user_ip=1.2.3.4").to_comment();
        assert_eq!(
            c.content, "",
            "missing content becomes empty; the caller decides"
        );
        assert_eq!(c.validate(), Err(crate::domain::CommentError::EmptyContent));
    }

    #[test]
    fn key_from_host_cases() {
        let cases: [(&str, &str, &str, Option<&str>); 11] = [
            (
                "with_port",
                "the test server listens on a port",
                "abc123def456.localhost:8080",
                Some("abc123def456"),
            ),
            (
                "many_labels",
                "the production host has several labels",
                "abc123def456.rest.example.com",
                Some("abc123def456"),
            ),
            (
                "digits_only",
                "keys may be all digits",
                "123456789012.localhost",
                Some("123456789012"),
            ),
            (
                "no_key",
                "the bare host carries no key",
                "localhost:8080",
                None,
            ),
            (
                "plain_host",
                "an ordinary first label is not a key",
                "rest.example.com",
                None,
            ),
            (
                "single_label",
                "a key needs a host after it",
                "abc123def456",
                None,
            ),
            (
                "single_label_port",
                "a port is not another label",
                "abc123def456:8080",
                None,
            ),
            (
                "trailing_dot_only",
                "a lone dot is not another label",
                "abc123def456.",
                None,
            ),
            (
                "uppercase",
                "keys are lowercase",
                "ABC123DEF456.localhost",
                None,
            ),
            (
                "too_long",
                "keys are exactly 12 chars",
                "abc123def4567.localhost",
                None,
            ),
            ("ipv6", "an IP literal has no key", "[::1]:8080", None),
        ];
        for (name, why, host, want) in cases {
            assert_eq!(key_from_host(host), want, "{name} ({why})");
        }
    }

    #[test]
    fn resolve_key_precedence() {
        struct Case {
            name: &'static str,
            why: &'static str,
            body: &'static str,
            host: Option<&'static str>,
            want: Option<&'static str>,
        }
        let cases = [
            Case {
                name: "api_key_first",
                why: "comment-check sends api_key",
                body: "api_key=aaaaaaaaaaaa&key=bbbbbbbbbbbb",
                host: Some("cccccccccccc.h"),
                want: Some("aaaaaaaaaaaa"),
            },
            Case {
                name: "key_second",
                why: "verify-key sends key",
                body: "key=bbbbbbbbbbbb",
                host: Some("cccccccccccc.h"),
                want: Some("bbbbbbbbbbbb"),
            },
            Case {
                name: "host_last",
                why: "akismet-api sends the key only in the Host",
                body: "blog=x",
                host: Some("cccccccccccc.h:1"),
                want: Some("cccccccccccc"),
            },
            Case {
                name: "empty_skipped",
                why: "an empty api_key does not hide the Host key",
                body: "api_key=",
                host: Some("cccccccccccc.h"),
                want: Some("cccccccccccc"),
            },
            Case {
                name: "none",
                why: "no key anywhere",
                body: "blog=x",
                host: Some("localhost"),
                want: None,
            },
        ];
        for case in cases {
            let f = form(case.body);
            assert_eq!(
                f.resolve_key(case.host),
                case.want,
                "{} ({})",
                case.name,
                case.why
            );
        }
    }

    #[test]
    fn missing_required_cases() {
        let cases = [
            (
                "complete",
                "blog and user_ip present",
                "blog=b&user_ip=1.2.3.4",
                None,
            ),
            (
                "no_blog",
                "blog is required",
                "user_ip=1.2.3.4",
                Some("Empty \"blog\" value"),
            ),
            (
                "blank_blog",
                "a blank blog is missing",
                "blog=+&user_ip=1.2.3.4",
                Some("Empty \"blog\" value"),
            ),
            (
                "no_ip",
                "user_ip is required",
                "blog=b",
                Some("Empty \"user_ip\" value"),
            ),
        ];
        for (name, why, body, want) in cases {
            assert_eq!(form(body).missing_required(), want, "{name} ({why})");
        }
    }

    #[test]
    fn test_trigger_cases() {
        let cases = [
            ("author", "viagra-test-123 is documented spam", "comment_author=viagra-test-123", Some(TestTrigger::Spam)),
            ("author_case", "names are matched without case", "comment_author=Viagra-Test-123", Some(TestTrigger::Spam)),
            ("email", "the guaranteed-spam address is documented spam", "comment_author_email=akismet-guaranteed-spam%40example.com", Some(TestTrigger::Spam)),
            ("admin", "administrators are documented ham", "user_role=administrator", Some(TestTrigger::Ham)),
            ("email_beats_admin", "the guaranteed-spam address wins over the role", "user_role=administrator&comment_author_email=akismet-guaranteed-spam%40example.com", Some(TestTrigger::Spam)),
            ("author_beats_admin", "the spam author wins over the role", "user_role=administrator&comment_author=viagra-test-123", Some(TestTrigger::Spam)),
            ("editor", "only administrator is a trigger", "user_role=editor", None),
            ("near_miss", "a different author is scored normally", "comment_author=viagra-test-1234", None),
            ("nothing", "an ordinary comment has no trigger", "comment_content=hello", None),
        ];
        for (name, why, body, want) in cases {
            assert_eq!(test_trigger(&form(body)), want, "{name} ({why})");
        }
    }

    #[test]
    fn spam_answer_cases() {
        let cases = [
            (
                "approve",
                "approved is never spam",
                Verdict::Approve,
                true,
                false,
            ),
            (
                "hold_as_ham",
                "hold answers false when holds are not spam",
                Verdict::Hold,
                false,
                false,
            ),
            (
                "hold_as_spam",
                "hold answers true when configured so",
                Verdict::Hold,
                true,
                true,
            ),
            ("spam", "spam is spam", Verdict::Spam, false, true),
            (
                "discard",
                "discard is spam (plus the pro-tip)",
                Verdict::Discard,
                false,
                true,
            ),
        ];
        for (name, why, verdict, hold_is_spam, want) in cases {
            assert_eq!(
                is_spam_answer(verdict, hold_is_spam),
                want,
                "{name} ({why})"
            );
        }
        assert_eq!(
            pro_tip(Verdict::Discard),
            Some("discard"),
            "discard carries the pro-tip"
        );
        assert_eq!(
            pro_tip(Verdict::Spam),
            None,
            "plain spam carries no pro-tip"
        );
    }

    #[test]
    fn literals_are_exact() {
        assert_eq!(THANKS, "Thanks for making the web a better place.");
        assert_eq!(
            (VALID, INVALID, SPAM, HAM),
            ("valid", "invalid", "true", "false")
        );
    }
}

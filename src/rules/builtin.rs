//! Built-in checks: things a regex cannot say (counts, ratios, timing) or says badly.

use std::borrow::Cow;

use time::Duration;

use super::{Field, RuleInput};
use crate::text::{domain_of, LinkSource};

/// A built-in check with its parameters, validated.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Check {
    /// At least `min` links in the body.
    LinkCount { min: usize },
    /// A BBCode `[url]` link or tag in the body.
    BbCodeLinks,
    /// The hidden honeypot field is filled.
    Honeypot,
    /// Submitted less than `min_age` after the form was rendered, or "before" it was.
    TooFast { min_age: Duration },
    /// At least `min_letters` letters and a share of capitals of at least `ratio`.
    Shouting { ratio: f64, min_letters: usize },
    /// One non-space character repeated `run` or more times in a row.
    CharFlood { run: usize },
    /// The author name is, or contains, a URL or domain.
    AuthorIsUrl,
}

/// Names accepted in `check = "..."`.
pub(super) const CHECK_NAMES: [&str; 7] = [
    "link_count",
    "bbcode_links",
    "honeypot",
    "too_fast",
    "shouting",
    "char_flood",
    "author_is_url",
];

/// A rule's extra keys, consumed one by one as the check reads its parameters.
pub(super) struct Params(pub(super) toml::Table);

impl Params {
    fn int(&mut self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, String> {
        let Some(value) = self.0.remove(key) else {
            return Ok(default);
        };
        match value.as_integer() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "`{key}` must be an integer from {min} to {max}, got {}",
                show(&value)
            )),
        }
    }

    fn number(&mut self, key: &str, default: f64, min: f64, max: f64) -> Result<f64, String> {
        let Some(value) = self.0.remove(key) else {
            return Ok(default);
        };
        // Accept integers: people write `ratio = 1` for 1.0.
        let n = value
            .as_float()
            .or_else(|| value.as_integer().map(|i| i as f64));
        match n {
            Some(n) if n.is_finite() && n > min && n <= max => Ok(n),
            _ => Err(format!(
                "`{key}` must be a number above {min} and at most {max}, got {}",
                show(&value)
            )),
        }
    }

    /// Fails on any key the check did not consume: a typo (`mni = 3`) must not silently
    /// leave the default in place.
    pub(super) fn finish(self, what: &str, expected: &[&str]) -> Result<(), String> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(key) if expected.is_empty() => Err(format!("unknown key `{key}` for {what}")),
            Some(key) => Err(format!(
                "unknown key `{key}` for {what} (its parameters: {})",
                expected.join(", ")
            )),
        }
    }
}

/// A parameter value for an error message (the crate's `Display` needs a feature we lack).
fn show(value: &toml::Value) -> String {
    match value {
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::String(s) => format!("{s:?}"),
        other => format!("a {}", other.type_str()),
    }
}

fn to_usize(n: i64) -> usize {
    // Only called on values range-checked to be positive and small.
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl Check {
    /// Builds check `name` from the rule's extra keys, or says why it cannot.
    pub(super) fn parse(name: &str, mut params: Params) -> Result<Check, String> {
        let (check, expected): (Check, &[&str]) = match name {
            "link_count" => {
                let min = params.int("min", 2, 1, 1000)?;
                (Check::LinkCount { min: to_usize(min) }, &["min"])
            }
            "bbcode_links" => (Check::BbCodeLinks, &[]),
            "honeypot" => (Check::Honeypot, &[]),
            "too_fast" => {
                let seconds = params.number("seconds", 3.0, 0.0, 3600.0)?;
                (
                    Check::TooFast {
                        min_age: Duration::seconds_f64(seconds),
                    },
                    &["seconds"],
                )
            }
            "shouting" => {
                let ratio = params.number("ratio", 0.7, 0.0, 1.0)?;
                let min_letters = params.int("min_letters", 12, 1, 10_000)?;
                (
                    Check::Shouting {
                        ratio,
                        min_letters: to_usize(min_letters),
                    },
                    &["ratio", "min_letters"],
                )
            }
            // At least 4: runs of 3 are everywhere ("www", "...", "Zzz").
            "char_flood" => {
                let run = params.int("run", 10, 4, 10_000)?;
                (Check::CharFlood { run: to_usize(run) }, &["run"])
            }
            "author_is_url" => (Check::AuthorIsUrl, &[]),
            other => {
                return Err(format!(
                    "unknown check `{other}` (known: {})",
                    CHECK_NAMES.join(", ")
                ))
            }
        };
        params.finish(&format!("check `{name}`"), expected)?;
        Ok(check)
    }

    /// The one text field the check reads, if any; `fields` on a check rule must say this.
    pub(super) fn reads(&self) -> Option<Field> {
        match self {
            Check::LinkCount { .. }
            | Check::BbCodeLinks
            | Check::Shouting { .. }
            | Check::CharFlood { .. } => Some(Field::Content),
            Check::AuthorIsUrl => Some(Field::Author),
            Check::Honeypot | Check::TooFast { .. } => None,
        }
    }

    /// Runs the check; `Some(detail)` when it fires. The detail is a count, ratio or domain,
    /// never text from the body. What several checks need is taken from `shared`, filled by
    /// the first that needs it.
    pub(super) fn run<'a>(&self, input: &RuleInput<'a>, shared: &mut Shared<'a>) -> Option<String> {
        match *self {
            Check::LinkCount { min } => {
                let n = input.text.links.len();
                (n >= min).then(|| format!("{n} links"))
            }
            Check::BbCodeLinks => {
                let n = input
                    .text
                    .links
                    .iter()
                    .filter(|l| l.source == LinkSource::BbCode)
                    .count();
                if n > 0 {
                    Some(format!(
                        "{n} BBCode {}",
                        if n == 1 { "link" } else { "links" }
                    ))
                } else {
                    has_url_tag(&input.text.clean).then(|| "[url] tag".to_string())
                }
            }
            Check::Honeypot => {
                let value = input
                    .comment
                    .honeypot
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or("");
                (!value.is_empty()).then(|| format!("{} characters", value.chars().count()))
            }
            Check::TooFast { min_age } => {
                let rendered = input.comment.form_rendered_at?;
                let elapsed = input.now - rendered;
                // A time in the future fires too: a human cannot answer a form before it
                // exists, and ignoring future times would let a bot skip the check by forging
                // the hidden field. A skewed platform clock holds comments visibly rather than
                // silently disabling the check.
                if elapsed >= min_age {
                    None
                } else if elapsed.is_negative() {
                    Some(format!(
                        "form time {:.1} s in the future",
                        -elapsed.as_seconds_f64()
                    ))
                } else {
                    Some(format!(
                        "sent {:.1} s after the form was shown",
                        elapsed.as_seconds_f64()
                    ))
                }
            }
            Check::Shouting { ratio, min_letters } => {
                let text = &input.text.clean;
                let (letters, upper) = if shared.body_is_ascii(text) {
                    ascii_letters(text.as_bytes())
                } else {
                    let s = shared.stats(text);
                    (s.letters, s.upper)
                };
                if letters < min_letters {
                    return None;
                }
                let share = upper as f64 / letters as f64;
                (share >= ratio).then(|| format!("{:.0}% capitals", share * 100.0))
            }
            Check::CharFlood { run } => {
                let text = &input.text.clean;
                let longest = if shared.body_is_ascii(text) {
                    ascii_flood(text.as_bytes(), run)
                } else {
                    shared.stats(text).longest_run
                };
                (longest >= run).then(|| format!("a character repeated {longest} times"))
            }
            Check::AuthorIsUrl => author_url(shared.author(input)?),
        }
    }
}

/// What more than one rule computes from a comment, computed at most once per evaluation by
/// whichever rule needs it first.
#[derive(Debug, Default)]
pub(super) struct Shared<'a> {
    /// Whether the body is ASCII, which picks the checks' byte or character paths.
    body_ascii: Option<bool>,
    /// Counts over a non-ASCII body.
    stats: Option<TextStats>,
    /// The author name as rules see it ([`Field::text`]), read by the author's regex and
    /// keyword rules and by `author_is_url`.
    author: Option<Option<Cow<'a, str>>>,
}

impl<'a> Shared<'a> {
    /// The author name as rules see it; `None` when absent or empty.
    pub(super) fn author(&mut self, input: &RuleInput<'a>) -> Option<&str> {
        self.author
            .get_or_insert_with(|| Field::Author.text(input))
            .as_deref()
    }

    fn body_is_ascii(&mut self, text: &str) -> bool {
        *self.body_ascii.get_or_insert_with(|| text.is_ascii())
    }

    fn stats(&mut self, text: &str) -> TextStats {
        *self.stats.get_or_insert_with(|| TextStats::of(text))
    }
}

/// Counts over a non-ASCII body, shared by the checks that need a pass over its characters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct TextStats {
    /// Alphabetic characters, any script (so kana and ideographs dilute a few capitals).
    letters: usize,
    /// Upper-case letters.
    upper: usize,
    /// Longest run of one non-whitespace character.
    longest_run: usize,
}

impl TextStats {
    fn of(text: &str) -> TextStats {
        let mut stats = TextStats::default();
        let mut prev = None;
        let mut run = 0;
        for c in text.chars() {
            if c.is_alphabetic() {
                stats.letters += 1;
                if c.is_uppercase() {
                    stats.upper += 1;
                }
            }
            if c.is_whitespace() {
                prev = None;
                run = 0;
                continue;
            }
            if prev == Some(c) {
                run += 1;
            } else {
                prev = Some(c);
                run = 1;
            }
            stats.longest_run = stats.longest_run.max(run);
        }
        stats
    }
}

/// (letters, capitals) of ASCII text. Counting into a `u8` per 255-byte chunk lets the
/// compiler vectorise the loop: ~10x faster than decoding chars, and this runs on every
/// comment.
fn ascii_letters(bytes: &[u8]) -> (usize, usize) {
    let (mut letters, mut upper) = (0, 0);
    for chunk in bytes.chunks(255) {
        let (mut l, mut u) = (0u8, 0u8);
        for &b in chunk {
            u += u8::from(b.wrapping_sub(b'A') < 26);
            l += u8::from((b | 0x20).wrapping_sub(b'a') < 26);
        }
        letters += usize::from(l);
        upper += usize::from(u);
    }
    (letters, upper)
}

/// Longest run of one non-whitespace byte in ASCII text when it is at least `min` long, else 0.
fn ascii_flood(bytes: &[u8], min: usize) -> usize {
    let min = min.max(1);
    // Any `min` consecutive positions include exactly one p with p % min == min - 1, so
    // measuring the run around those probes finds every run that long while looking at a
    // couple of bytes per probe in ordinary text, not every byte.
    let found = (min - 1..bytes.len())
        .step_by(min)
        .any(|p| run_around(bytes, p) >= min);
    if found {
        longest_run(bytes)
    } else {
        0
    }
}

/// Length of the run of equal non-whitespace bytes through position `p`.
fn run_around(bytes: &[u8], p: usize) -> usize {
    let Some(&c) = bytes.get(p) else { return 0 };
    if is_space(c) {
        return 0;
    }
    let left = bytes
        .get(..p)
        .map_or(0, |b| b.iter().rev().take_while(|&&x| x == c).count());
    let right = bytes
        .get(p + 1..)
        .map_or(0, |b| b.iter().take_while(|&&x| x == c).count());
    left + 1 + right
}

fn longest_run(bytes: &[u8]) -> usize {
    let mut longest = 0;
    let mut run = 0;
    let mut prev = None;
    for &b in bytes {
        if is_space(b) {
            prev = None;
            run = 0;
            continue;
        }
        run = if prev == Some(b) { run + 1 } else { 1 };
        prev = Some(b);
        longest = longest.max(run);
    }
    longest
}

/// ASCII whitespace as `char::is_whitespace` sees it (which, unlike `is_ascii_whitespace`,
/// includes vertical tab).
fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

/// A `[url` tag written in any case, even one the link finder did not turn into a link.
fn has_url_tag(text: &str) -> bool {
    // Byte `contains` is a word-at-a-time search, cheaper than starting the char matcher on
    // the many bodies with no `[` at all.
    if !text.as_bytes().contains(&b'[') {
        return false;
    }
    text.match_indices('[').any(|(i, _)| {
        text.as_bytes()
            .get(i + 1..i + 4)
            .is_some_and(|b| b.eq_ignore_ascii_case(b"url"))
    })
}

/// Top-level domains that make `word.tld` in a name look like a domain. Common generic and
/// spam-heavy ones plus the reserved test names; TLDs that are also English words (`me`,
/// `is`, `to`, `in`, `it`, `at`, `be`, `by`, `so`, `no`, `us`, `my`, `go`, `win`, `link`, `life`,
/// `world`, ...) are left out so that names like "just.me" or "Hello.World" pass.
#[rustfmt::skip]
const TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "pro", "mobi", "xyz", "top", "site", "online", "shop",
    "store", "club", "vip", "bid", "loan", "loans", "click", "website", "icu",
    "buzz", "bet", "casino", "porn", "xxx", "ru", "su", "ua", "kz", "pl", "de", "fr", "uk",
    "nl", "es", "eu", "cn", "jp", "kr", "vn", "tr", "br", "au", "ca", "ch", "cz", "ro", "hu", "gr",
    "pt", "se", "dk", "fi", "ir", "pk", "bd", "ng", "za", "mx", "ar", "cl", "co", "io", "tv", "cc",
    "ws", "tk", "ml", "ga", "cf", "gq", "nu", "ly", "fm", "gg", "рф", "example", "test",
    "invalid", "localhost",
];

/// Detail when an author name is a URL or contains a domain-like token.
fn author_url(author: &str) -> Option<String> {
    // A URL prefix has a `/` or `.` and a domain has a `.`; most names have neither, and
    // one byte search spares them the scans below.
    if !author.bytes().any(|b| b == b'.' || b == b'/') {
        return None;
    }
    for prefix in ["http://", "https://", "www."] {
        if let Some(at) = find_ascii_ci(author, prefix) {
            let domain = author.get(at..).map(domain_of).unwrap_or_default();
            return Some(if domain.is_empty() {
                "URL".to_string()
            } else {
                format!("URL of {domain}")
            });
        }
    }
    author
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-'))
        .map(|t| t.trim_matches(['.', '-']))
        .find(|t| looks_like_domain(t))
        .map(|t| format!("domain {}", t.to_lowercase()))
}

fn looks_like_domain(token: &str) -> bool {
    let mut labels = 0;
    let mut last = "";
    for label in token.split('.') {
        if label.is_empty() || label.starts_with('-') || label.ends_with('-') {
            return false;
        }
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return false;
    }
    let tld = last.to_lowercase();
    TLDS.contains(&tld.as_str())
}

/// Byte offset of ASCII `needle` in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    hay.as_bytes()
        .windows(n)
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_fast_paths_agree_with_chars() {
        let samples = [
            "",
            "OK LOL",
            "Best!!!!!!!!!!!! bread",
            "a  \t\u{b}\u{b}  b    c",
            "aaaa bbbbbbb   CCCCCCCCCCCC x",
            "Mixed Case 123 ----- ===== ok",
            "xxxxxxxxx",
            "xxxxxxxxxx",
            "ab xxxxxxxxxxx",
            "0123456789aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ];
        for s in samples {
            let slow = TextStats::of(s);
            assert_eq!(
                ascii_letters(s.as_bytes()),
                (slow.letters, slow.upper),
                "{s:?}"
            );
            for min in [4, 5, 9, 10, 11, 40] {
                let fast = ascii_flood(s.as_bytes(), min);
                let want = if slow.longest_run >= min {
                    slow.longest_run
                } else {
                    0
                };
                assert_eq!(fast, want, "{s:?} min {min}");
            }
        }
    }

    #[test]
    fn domains_in_names() {
        // (name, detail or None, why)
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "Booking.com fan",
                Some("domain booking.com"),
                "a company domain is still a domain",
            ),
            (
                "info@cheap-loans.example",
                Some("domain cheap-loans.example"),
                "e-mail-like names",
            ),
            (
                "казино.рф",
                Some("domain казино.рф"),
                "internationalised domains",
            ),
            ("Anna.Bakes", None, "not a known TLD"),
            ("-.com", None, "no real label"),
            ("a..com", None, "empty label"),
            ("Mr. T", None, "an abbreviation"),
            (
                "Https://X.example/p",
                Some("URL of x.example"),
                "scheme in any case",
            ),
        ];
        for (name, want, why) in cases {
            assert_eq!(author_url(name).as_deref(), *want, "{name}: {why}");
        }
    }
}

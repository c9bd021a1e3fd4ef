//! Rule filters: the TOML rule file, its validation, the compiled `RegexSet`s and the
//! built-in checks. Pure once loaded: [`RuleSet::load`] is the only function that does IO.
//!
//! The file format is documented at the top of `models/rules.toml`. Loading validates every
//! rule on its own first, so an error names the offending rule id, then compiles all the
//! regex and keyword rules that read one field into a single [`regex::RegexSet`]: a comment
//! costs one scan per field however many rules there are. Built-in checks are plain Rust
//! over the already-normalised text.
//!
//! Cost: the scans dominate, about 2 ns per byte of body and scanned fields on the
//! development machine, so roughly 1 µs for a 170-byte comment with a browser user agent.

mod builtin;
mod file;
mod pattern;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::RegexSet;
use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfkc_quick, IsNormalized};

use crate::domain::Comment;
use crate::text::NormalizedText;

use builtin::{Check, Shared};
use file::{Matcher, RuleSpec};

/// Compiled-size limit for each regex and for each field's `RegexSet`, in bytes (also the
/// lazy DFA cache size): generous for keyword lists, small enough that a careless `\w{100}`
/// is refused at load instead of costing memory and time on every comment.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compiled, immutable rule file; cheap to clone and share between threads.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    inner: Arc<Compiled>,
}

#[derive(Debug, Default)]
struct Compiled {
    /// Enabled rules in file order; hits are reported in this order.
    rules: Vec<RuleMeta>,
    /// One set per field that at least one regex or keyword rule reads.
    sets: Vec<FieldSet>,
    /// Built-in checks with the index of their rule in `rules`.
    checks: Vec<(usize, Check)>,
}

#[derive(Debug)]
struct RuleMeta {
    id: String,
    reason: String,
    effect: RuleEffect,
}

#[derive(Debug)]
struct FieldSet {
    field: Field,
    set: RegexSet,
    /// Pattern index in `set` → index in `Compiled::rules`.
    rule_of: Vec<usize>,
}

/// Everything a rule may look at for one comment.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    /// The validated comment as submitted.
    pub comment: &'a Comment,
    /// The comment body after [`crate::text::normalize_content`].
    pub text: &'a NormalizedText,
    /// The time the comment arrived, for the form-timing check.
    pub now: time::OffsetDateTime,
}

/// One rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleHit {
    /// The rule's stable id from the rule file.
    pub id: String,
    /// The rule's reason plus a short detail; never contains the comment body or e-mail.
    pub reason: String,
    /// What the rule asks for.
    pub effect: RuleEffect,
}

/// What a rule asks the moderation policy to do when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleEffect {
    /// Keep the comment for a moderator.
    Hold,
    /// Put the comment in the spam queue.
    Spam,
    /// Drop the comment without showing anyone.
    Discard,
    /// Log-odds added to the classifier's score (positive = spammier, negative = hammier).
    Weight(f64),
}

/// Why a rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The file is not valid TOML, or its top level is not a list of `[[rule]]` tables.
    #[error("rule file is not valid: {0}")]
    Parse(String),
    /// A rule breaks the format; `why` says how.
    #[error("rule `{rule_id}`: {why}")]
    Invalid {
        /// The rule's id, or `#N` (1-based position) when it has no usable id.
        rule_id: String,
        /// What is wrong, in one line.
        why: String,
    },
    /// A regex (or keyword list) compiles to more than [`REGEX_SIZE_LIMIT`] bytes.
    #[error(
        "rule `{rule_id}`: regex is larger than the {REGEX_SIZE_LIMIT}-byte compiled size limit"
    )]
    RegexTooBig {
        /// The offending rule's id.
        rule_id: String,
    },
    /// A regex matches the empty string, so it would fire on every comment.
    #[error("rule `{rule_id}`: regex matches the empty string, so it would fire on every comment")]
    MatchesEmpty {
        /// The offending rule's id.
        rule_id: String,
    },
    /// Each rule reading `field` fits the limit but together they do not.
    #[error(
        "the rules reading `{field}` together exceed the {REGEX_SIZE_LIMIT}-byte compiled size limit"
    )]
    SetTooBig {
        /// The field whose combined `RegexSet` is too large.
        field: &'static str,
    },
    /// The rule file could not be read.
    #[error("cannot read rule file `{}`: {source}", path.display())]
    Io {
        /// The path given to [`RuleSet::load`].
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl RuleError {
    /// The id of the rule the error is about, when it is about one rule.
    pub fn rule_id(&self) -> Option<&str> {
        match self {
            RuleError::Invalid { rule_id, .. }
            | RuleError::RegexTooBig { rule_id }
            | RuleError::MatchesEmpty { rule_id } => Some(rule_id),
            RuleError::Parse(_) | RuleError::SetTooBig { .. } | RuleError::Io { .. } => None,
        }
    }
}

/// A comment field that regex and keyword rules can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Content,
    Author,
    AuthorEmail,
    AuthorUrl,
    UserIp,
    UserAgent,
    Referrer,
}

impl Field {
    const ALL: [Field; 7] = [
        Field::Content,
        Field::Author,
        Field::AuthorEmail,
        Field::AuthorUrl,
        Field::UserIp,
        Field::UserAgent,
        Field::Referrer,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Content => "content",
            Field::Author => "author",
            Field::AuthorEmail => "author_email",
            Field::AuthorUrl => "author_url",
            Field::UserIp => "user_ip",
            Field::UserAgent => "user_agent",
            Field::Referrer => "referrer",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The text rules see for this field; `None` when the field is absent or empty.
    fn text<'a>(self, input: &RuleInput<'a>) -> Option<Cow<'a, str>> {
        let c = input.comment;
        let raw = match self {
            Field::Content => return Some(Cow::Borrowed(input.text.clean.as_str())),
            // Decoded as the classifier's author features are (`text::decode_author_name`).
            Field::Author => {
                return c.author.as_deref().filter(|s| !s.is_empty()).map(|s| {
                    match crate::text::decode_author_name(s) {
                        Cow::Borrowed(raw) => canonical(raw),
                        Cow::Owned(decoded) => Cow::Owned(canonical(&decoded).into_owned()),
                    }
                })
            }
            Field::AuthorEmail => c.author_email.as_deref(),
            Field::AuthorUrl => c.author_url.as_deref(),
            Field::UserIp => c.user_ip.as_deref(),
            Field::UserAgent => c.user_agent.as_deref(),
            Field::Referrer => c.referrer.as_deref(),
        };
        raw.filter(|s| !s.is_empty()).map(canonical)
    }
}

/// `crate::text::canonicalize`, without allocating (or the cost of NFKC, several hundred ns
/// for a short name) when the text is already canonical, as nearly every field is.
fn canonical(s: &str) -> Cow<'_, str> {
    // Printable ASCII is always canonical: NFKC maps it to itself and every invisible
    // character is non-ASCII.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Cow::Borrowed(s);
    }
    let clean = !s
        .chars()
        .any(|c| c.is_control() || crate::text::is_invisible(c));
    if clean && is_nfkc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(crate::text::canonicalize(s))
    }
}

/// A set of [`Field`]s as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FieldMask(u8);

impl FieldMask {
    fn insert(&mut self, f: Field) {
        self.0 |= f.bit();
    }

    fn contains(self, f: Field) -> bool {
        self.0 & f.bit() != 0
    }

    fn names(self) -> impl Iterator<Item = &'static str> {
        Field::ALL
            .into_iter()
            .filter(move |f| self.contains(*f))
            .map(Field::name)
    }
}

impl RuleSet {
    /// Parses, validates and compiles a rule file's text.
    pub fn from_toml(src: &str) -> Result<RuleSet, RuleError> {
        let specs = file::parse(src)?;
        compile(specs)
    }

    /// Reads and compiles the rule file at `path`.
    pub fn load(path: &Path) -> Result<RuleSet, RuleError> {
        let src = std::fs::read_to_string(path).map_err(|source| RuleError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        RuleSet::from_toml(&src)
    }

    /// Every enabled rule that fires for `input`, in rule-file order.
    pub fn evaluate(&self, input: &RuleInput<'_>) -> Vec<RuleHit> {
        let c = &*self.inner;
        // (rule index, fields it matched in, built-in detail); empty, so no allocation, for
        // the usual comment that trips nothing.
        let mut fired: Vec<(usize, FieldMask, Option<String>)> = Vec::new();

        let mut shared = Shared::default();
        for fs in &c.sets {
            let other;
            let hay = match fs.field {
                Field::Author => shared.author(input),
                field => {
                    other = field.text(input);
                    other.as_deref()
                }
            };
            let Some(hay) = hay else {
                continue;
            };
            // Most comments match nothing: `is_match` is cheaper and allocates nothing, so
            // only pay for `matches` (which allocates) when something is there.
            if !fs.set.is_match(hay) {
                continue;
            }
            for pattern in fs.set.matches(hay).iter() {
                let Some(&rule) = fs.rule_of.get(pattern) else {
                    continue;
                };
                match fired.iter_mut().find(|(r, _, _)| *r == rule) {
                    Some((_, mask, _)) => mask.insert(fs.field),
                    None => {
                        let mut mask = FieldMask::default();
                        mask.insert(fs.field);
                        fired.push((rule, mask, None));
                    }
                }
            }
        }

        for (rule, check) in &c.checks {
            if let Some(detail) = check.run(input, &mut shared) {
                fired.push((*rule, FieldMask::default(), Some(detail)));
            }
        }

        fired.sort_unstable_by_key(|(rule, _, _)| *rule);
        fired
            .into_iter()
            .filter_map(|(rule, mask, detail)| {
                let meta = c.rules.get(rule)?;
                Some(RuleHit {
                    id: meta.id.clone(),
                    reason: reason_text(&meta.reason, mask, detail.as_deref()),
                    effect: meta.effect,
                })
            })
            .collect()
    }

    /// Number of enabled rules.
    pub fn len(&self) -> usize {
        self.inner.rules.len()
    }

    /// Whether no rule is enabled.
    pub fn is_empty(&self) -> bool {
        self.inner.rules.is_empty()
    }

    /// Ids of the enabled rules, in file order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.inner.rules.iter().map(|r| r.id.as_str())
    }
}

/// `{reason} ({detail})`, where a regex or keyword rule's detail is `in {fields}`: built in
/// one string of the right size rather than through `format!` and a joined copy.
fn reason_text(reason: &str, fields: FieldMask, detail: Option<&str>) -> String {
    const IN: &str = "in ";
    const SEP: &str = ", ";
    let detail_len = match detail {
        Some(d) => d.len(),
        None => IN.len() + fields.names().map(|n| n.len() + SEP.len()).sum::<usize>(),
    };
    let mut out = String::with_capacity(reason.len() + detail_len + 3);
    out.push_str(reason);
    out.push_str(" (");
    match detail {
        Some(d) => out.push_str(d),
        None => {
            out.push_str(IN);
            for (i, name) in fields.names().enumerate() {
                if i > 0 {
                    out.push_str(SEP);
                }
                out.push_str(name);
            }
        }
    }
    out.push(')');
    out
}

/// Turns validated rules into the evaluation structure; disabled rules were validated and are
/// dropped here.
fn compile(specs: Vec<RuleSpec>) -> Result<RuleSet, RuleError> {
    let mut rules = Vec::new();
    let mut checks = Vec::new();
    // Per field: (pattern, rule index), in file order.
    let mut per_field: Vec<(Field, Vec<String>, Vec<usize>)> = Field::ALL
        .into_iter()
        .map(|f| (f, Vec::new(), Vec::new()))
        .collect();

    for spec in specs.into_iter().filter(|s| s.enabled) {
        let index = rules.len();
        match spec.matcher {
            Matcher::Pattern { regex, fields } => {
                for (field, patterns, owners) in &mut per_field {
                    if fields.contains(*field) {
                        patterns.push(regex.clone());
                        owners.push(index);
                    }
                }
            }
            Matcher::Check(check) => checks.push((index, check)),
        }
        rules.push(RuleMeta {
            id: spec.id,
            reason: spec.reason,
            effect: spec.effect,
        });
    }

    let mut sets = Vec::new();
    for (field, patterns, rule_of) in per_field {
        if patterns.is_empty() {
            continue;
        }
        let set = pattern::build_set(field.name(), &patterns)?;
        sets.push(FieldSet {
            field,
            set,
            rule_of,
        });
    }

    Ok(RuleSet {
        inner: Arc::new(Compiled {
            rules,
            sets,
            checks,
        }),
    })
}

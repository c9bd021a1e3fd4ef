//! Reading the TOML rule file into validated rule specifications.

use std::collections::HashSet;

use serde::Deserialize;

use super::builtin::{Check, Params};
use super::{pattern, Field, FieldMask, RuleEffect, RuleError};

/// Largest accepted `|weight|`: log-odds of 20 already mean odds of 5·10⁸ to 1, so anything
/// bigger is a typo (or wants `action`).
const MAX_WEIGHT: f64 = 20.0;
/// Longest accepted rule id.
const MAX_ID_LEN: usize = 64;

/// One rule after validation.
#[derive(Debug)]
pub(super) struct RuleSpec {
    pub(super) id: String,
    pub(super) reason: String,
    pub(super) effect: RuleEffect,
    pub(super) enabled: bool,
    pub(super) matcher: Matcher,
}

/// How a rule decides whether it fires.
#[derive(Debug)]
pub(super) enum Matcher {
    /// A regex (keywords already turned into one) run on each field in `fields`.
    Pattern { regex: String, fields: FieldMask },
    /// A built-in check.
    Check(Check),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<toml::Table>,
}

/// The keys every rule may have (`id` is taken out first); any other key is a parameter of a
/// built-in check.
const COMMON_KEYS: [&str; 9] = [
    "id", "reason", "enabled", "fields", "regex", "keywords", "check", "action", "weight",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    reason: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    fields: Option<Vec<String>>,
    regex: Option<String>,
    keywords: Option<Vec<String>>,
    check: Option<String>,
    action: Option<Action>,
    weight: Option<f64>,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Action {
    Hold,
    Spam,
    Discard,
}

/// Parses and validates a whole rule file, rules in file order.
pub(super) fn parse(src: &str) -> Result<Vec<RuleSpec>, RuleError> {
    let file: RawFile = toml::from_str(src).map_err(|e| RuleError::Parse(parse_error(src, &e)))?;
    let mut seen = HashSet::new();
    let mut specs = Vec::with_capacity(file.rule.len());
    for (i, table) in file.rule.into_iter().enumerate() {
        let spec = parse_rule(i, table)?;
        if !seen.insert(spec.id.clone()) {
            return Err(invalid(&spec.id, "duplicate id; rule ids must be unique"));
        }
        specs.push(spec);
    }
    Ok(specs)
}

fn parse_rule(index: usize, mut table: toml::Table) -> Result<RuleSpec, RuleError> {
    // Named before anything else is checked, so every later error can carry the id.
    let id = take_id(index, &mut table)?;
    let params = take_params(&mut table);
    let raw: RawRule = table
        .try_into()
        .map_err(|e: toml::de::Error| invalid(&id, &one_line(&e.to_string())))?;

    if raw.reason.trim().is_empty() {
        return Err(invalid(&id, "`reason` is empty"));
    }
    let effect = parse_effect(&id, raw.action, raw.weight)?;
    let fields = raw
        .fields
        .as_deref()
        .map(|f| parse_fields(&id, f))
        .transpose()?;
    let matcher = parse_matcher(&id, raw.regex, raw.keywords, raw.check, fields, params)?;

    Ok(RuleSpec {
        id,
        reason: raw.reason.trim().to_string(),
        effect,
        enabled: raw.enabled,
        matcher,
    })
}

/// Removes the rule's `id` from `table`; a rule without one is named by its position.
fn take_id(index: usize, table: &mut toml::Table) -> Result<String, RuleError> {
    let id = match table.remove("id") {
        Some(toml::Value::String(id)) => id,
        _ => {
            return Err(invalid(
                &format!("#{}", index + 1),
                "missing `id` (a string)",
            ))
        }
    };
    validate_id(&id)?;
    Ok(id)
}

/// Removes and returns the keys that are not [`COMMON_KEYS`]: a check's parameters, which
/// `RawRule` would refuse as unknown.
fn take_params(table: &mut toml::Table) -> toml::Table {
    let extra: Vec<String> = table
        .keys()
        .filter(|k| !COMMON_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    extra
        .into_iter()
        .filter_map(|k| table.remove(&k).map(|v| (k, v)))
        .collect()
}

fn parse_effect(
    id: &str,
    action: Option<Action>,
    weight: Option<f64>,
) -> Result<RuleEffect, RuleError> {
    match (action, weight) {
        (Some(_), Some(_)) => Err(invalid(id, "has both `action` and `weight`; give one")),
        (None, None) => Err(invalid(
            id,
            "needs `action` (hold, spam, discard) or `weight`",
        )),
        (Some(Action::Hold), None) => Ok(RuleEffect::Hold),
        (Some(Action::Spam), None) => Ok(RuleEffect::Spam),
        (Some(Action::Discard), None) => Ok(RuleEffect::Discard),
        (None, Some(w)) if !w.is_finite() => Err(invalid(id, "`weight` must be finite")),
        (None, Some(0.0)) => Err(invalid(
            id,
            "`weight` is 0, which does nothing; use `enabled = false`",
        )),
        (None, Some(w)) if w.abs() > MAX_WEIGHT => Err(invalid(
            id,
            &format!("`weight` must be within ±{MAX_WEIGHT}, got {w}"),
        )),
        (None, Some(w)) => Ok(RuleEffect::Weight(w)),
    }
}

/// The matcher from the rule's one `regex`, `keywords` or `check`; only a check takes
/// parameters.
fn parse_matcher(
    id: &str,
    regex: Option<String>,
    keywords: Option<Vec<String>>,
    check: Option<String>,
    fields: Option<FieldMask>,
    params: toml::Table,
) -> Result<Matcher, RuleError> {
    match (regex, keywords, check) {
        (Some(regex), None, None) => {
            no_params(id, &params, "a regex rule")?;
            pattern::validate(id, &regex)?;
            Ok(Matcher::Pattern {
                regex,
                fields: require_fields(id, fields)?,
            })
        }
        (None, Some(keywords), None) => {
            no_params(id, &params, "a keywords rule")?;
            let regex = pattern::keywords_to_regex(&keywords).map_err(|why| invalid(id, &why))?;
            pattern::validate(id, &regex)?;
            Ok(Matcher::Pattern {
                regex,
                fields: require_fields(id, fields)?,
            })
        }
        (None, None, Some(name)) => {
            let check = Check::parse(&name, Params(params)).map_err(|why| invalid(id, &why))?;
            check_fields(id, &name, &check, fields)?;
            Ok(Matcher::Check(check))
        }
        _ => Err(invalid(
            id,
            "needs exactly one of `regex`, `keywords` or `check`",
        )),
    }
}

fn validate_id(id: &str) -> Result<(), RuleError> {
    let ok_chars = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if id.is_empty() || !ok_chars || id.len() > MAX_ID_LEN {
        return Err(invalid(
            id,
            &format!("id must be 1 to {MAX_ID_LEN} characters from [a-z0-9_.]"),
        ));
    }
    Ok(())
}

fn parse_fields(id: &str, names: &[String]) -> Result<FieldMask, RuleError> {
    let mut mask = FieldMask::default();
    for name in names {
        let field = Field::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
            invalid(
                id,
                &format!("unknown field `{name}` (known: {})", known.join(", ")),
            )
        })?;
        if mask.contains(field) {
            return Err(invalid(id, &format!("field `{name}` is listed twice")));
        }
        mask.insert(field);
    }
    Ok(mask)
}

fn require_fields(id: &str, fields: Option<FieldMask>) -> Result<FieldMask, RuleError> {
    match fields {
        Some(mask) if mask != FieldMask::default() => Ok(mask),
        Some(_) => Err(invalid(id, "`fields` is empty")),
        None => Err(invalid(id, "regex and keywords rules need `fields`")),
    }
}

/// A check reads fixed inputs; `fields` may say so but must not claim otherwise, since a
/// reader would believe e.g. `shouting` also looks at the author.
fn check_fields(
    id: &str,
    name: &str,
    check: &Check,
    fields: Option<FieldMask>,
) -> Result<(), RuleError> {
    let Some(given) = fields else { return Ok(()) };
    match check.reads() {
        Some(field) if given.0 == field.bit() => Ok(()),
        Some(field) => Err(invalid(
            id,
            &format!(
                "check `{name}` reads only `{}`; set fields = [\"{}\"] or omit it",
                field.name(),
                field.name()
            ),
        )),
        None => Err(invalid(
            id,
            &format!("check `{name}` reads no text field; omit `fields`"),
        )),
    }
}

fn no_params(id: &str, params: &toml::Table, what: &str) -> Result<(), RuleError> {
    match params.keys().next() {
        Some(key) => Err(invalid(id, &format!("unknown key `{key}` for {what}"))),
        None => Ok(()),
    }
}

fn invalid(rule_id: &str, why: &str) -> RuleError {
    RuleError::Invalid {
        rule_id: rule_id.to_string(),
        why: why.to_string(),
    }
}

/// The parser's own text is a multi-line source excerpt; logs want `line N: what`.
fn parse_error(src: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = src
                .as_bytes()
                .iter()
                .take(span.start)
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            format!("line {line}: {}", one_line(e.message()))
        }
        None => one_line(&e.to_string()),
    }
}

/// Error texts from the TOML parser can span several lines; logs want one.
fn one_line(msg: &str) -> String {
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

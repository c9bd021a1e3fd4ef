//! Regex and keyword rules: turning keywords into a regex, validating each regex on its own,
//! and building one `RegexSet` per field.

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::{RuleError, REGEX_SIZE_LIMIT};

/// Checks one rule's regex alone, so that an error can name the rule before the per-field
/// sets (whose errors cannot) are built.
pub(super) fn validate(rule_id: &str, source: &str) -> Result<(), RuleError> {
    let re = RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| regex_error(rule_id, e))?;
    if matches_empty(&re) {
        return Err(RuleError::MatchesEmpty {
            rule_id: rule_id.to_string(),
        });
    }
    Ok(())
}

/// Whether `re` can match without consuming anything. `is_match("")` misses patterns such
/// as `\b` or `a|$` that only match empty next to text, so a few probes look for
/// zero-length matches too; such a rule would fire on almost every comment.
fn matches_empty(re: &Regex) -> bool {
    const PROBES: [&str; 5] = ["a", " ", "a b", "Ab1_ .,!", "é ж 字"];
    re.is_match("") || PROBES.iter().any(|p| re.find_iter(p).any(|m| m.is_empty()))
}

fn regex_error(rule_id: &str, e: regex::Error) -> RuleError {
    match e {
        regex::Error::CompiledTooBig(_) => RuleError::RegexTooBig {
            rule_id: rule_id.to_string(),
        },
        regex::Error::Syntax(msg) => {
            // The crate's message is a multi-line diagram; logs want the one `error:` line.
            let line = msg
                .lines()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or_else(|| msg.trim());
            RuleError::Invalid {
                rule_id: rule_id.to_string(),
                why: format!("invalid regex: {line}"),
            }
        }
        other => RuleError::Invalid {
            rule_id: rule_id.to_string(),
            why: format!("invalid regex: {other}"),
        },
    }
}

/// Compiles every pattern that reads one field into a single set.
pub(super) fn build_set(field: &'static str, patterns: &[String]) -> Result<RegexSet, RuleError> {
    RegexSetBuilder::new(patterns)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => RuleError::SetTooBig { field },
            // Each pattern compiled alone already, so only the size can fail here.
            other => RuleError::Parse(format!("rules reading `{field}`: {other}")),
        })
}

/// Turns a keyword list into one case-insensitive regex, or says why the list is unusable.
///
/// Keywords match whole words, not substrings as WordPress does: substring matching is the
/// Scunthorpe problem (`cialis` inside "specialist", `sex` inside "Essex") and here a false
/// positive throws away a reader's comment. A `*` at either end of a keyword lifts the
/// boundary on that side (`loan*` also matches "loans"; `*viagra*` is a plain substring).
/// Words in a phrase match across any run of spaces, `.`, `_` or `-`, so `payday loan` also
/// catches `payday-loan.example`.
pub(super) fn keywords_to_regex(keywords: &[String]) -> Result<String, String> {
    if keywords.is_empty() {
        return Err("`keywords` is empty".to_string());
    }
    let parsed = keywords
        .iter()
        .enumerate()
        .map(|(i, raw)| keyword(raw).ok_or_else(|| format!("keyword #{} is empty", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    // Alternations grouped by which sides need a boundary: four groups at most, so the
    // boundary class appears a few times rather than twice per keyword.
    let mut alternatives = Vec::new();
    for (left, right) in [(true, true), (true, false), (false, true), (false, false)] {
        let bodies: Vec<&str> = parsed
            .iter()
            .filter(|(_, l, r)| (*l, *r) == (left, right))
            .map(|(body, _, _)| body.as_str())
            .collect();
        if bodies.is_empty() {
            continue;
        }
        // A consuming boundary rather than `\b`: the regex crate's fast DFA cannot do
        // Unicode `\b` on non-ASCII text and falls back to an engine ~100x slower, while
        // ASCII `\b` would see a boundary inside "café" or any Cyrillic word.
        let left = if left {
            format!("(?:^|{NON_WORD})")
        } else {
            String::new()
        };
        let right = if right {
            format!("(?:{NON_WORD}|$)")
        } else {
            String::new()
        };
        alternatives.push(format!("{left}(?:{}){right}", bodies.join("|")));
    }
    Ok(format!("(?i:{})", alternatives.join("|")))
}

/// The characters that end a word around a keyword: ASCII other than letters, digits and `_`,
/// and the punctuation, symbol and emoji blocks that survive NFKC (Latin-1 punctuation,
/// Arabic and Devanagari stops, general punctuation to miscellaneous symbols, CJK
/// punctuation, emoji). Unicode `\W` would be exact but compiles to ~47 KB per use, so a
/// dozen keyword rules would not fit the size limit; the cost of this list is that a keyword
/// next to some rarer punctuation mark does not match, the safe direction to err in.
const NON_WORD: &str = concat!(
    r"[\x00-/:-@\[-^`{-\x7F\u{A0}-\u{BF}\u{D7}\u{F7}",
    r"\u{60C}\u{61B}\u{61F}\u{6D4}\u{964}\u{965}",
    r"\u{2000}-\u{2BFF}\u{2E00}-\u{2E7F}\u{3000}-\u{3004}\u{3008}-\u{3020}\u{1F000}-\u{1FAFF}]"
);

/// One keyword as (escaped regex body, needs left boundary, needs right boundary).
fn keyword(raw: &str) -> Option<(String, bool, bool)> {
    let canonical = crate::text::canonicalize(raw);
    let mut s = canonical.trim();
    let mut left = true;
    let mut right = true;
    if let Some(rest) = s.strip_prefix('*') {
        s = rest;
        left = false;
    }
    if let Some(rest) = s.strip_suffix('*') {
        s = rest;
        right = false;
    }
    let s = s.trim();
    let first = s.chars().next()?;
    let last = s.chars().next_back()?;
    // Like `\b`, a boundary only means something at an edge that is a word character; next
    // to a symbol (`$$$`, `192.0.2.`) the keyword is taken as written.
    let left = left && needs_boundary(first);
    let right = right && needs_boundary(last);
    let words: Vec<String> = s.split_whitespace().map(regex::escape).collect();
    Some((words.join(r"[\s._-]+"), left, right))
}

/// Word characters of scripts that separate words with spaces. Thai, Lao, Myanmar, Khmer and
/// CJK write words without spaces, so a boundary there would stop a keyword from ever matching
/// inside a sentence.
fn needs_boundary(c: char) -> bool {
    let unspaced = matches!(c,
        '\u{0E00}'..='\u{0EFF}'       // Thai, Lao
        | '\u{1000}'..='\u{109F}'     // Myanmar
        | '\u{1780}'..='\u{17FF}'     // Khmer
        | '\u{2E80}'..='\u{9FFF}'     // CJK radicals, kana, ideographs
        | '\u{F900}'..='\u{FAFF}'     // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}'     // halfwidth katakana
        | '\u{20000}'..='\u{3FFFF}'); // CJK extensions
    (c.is_alphanumeric() || c == '_') && !unspaced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw_regex(words: &[&str]) -> Regex {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let src = keywords_to_regex(&words).expect("valid keywords");
        Regex::new(&src).expect("keyword regex compiles")
    }

    /// (name, keywords, text, should match, why)
    const CASES: &[(&str, &[&str], &str, bool, &str)] = &[
        (
            "whole_word",
            &["cialis"],
            "cheap Cialis here",
            true,
            "case-insensitive whole word",
        ),
        (
            "no_substring",
            &["cialis"],
            "ask a specialist",
            false,
            "the Scunthorpe problem",
        ),
        (
            "essex",
            &["sex"],
            "we live in Essex",
            false,
            "word boundary on the left",
        ),
        (
            "suffix_star",
            &["loan*"],
            "payday loans today",
            true,
            "`*` lifts the right boundary",
        ),
        (
            "no_suffix",
            &["loan"],
            "payday loans today",
            false,
            "plural needs `*` or a listing",
        ),
        (
            "substring",
            &["*viagra*"],
            "cheapviagrashop",
            true,
            "`*` both sides = substring",
        ),
        (
            "phrase_spaces",
            &["payday loan"],
            "payday \n  loan",
            true,
            "any whitespace run",
        ),
        (
            "phrase_hyphen",
            &["payday loan"],
            "payday-loan.example",
            true,
            "URL-style separators",
        ),
        (
            "phrase_split",
            &["payday loan"],
            "payday, loan",
            false,
            "a comma breaks a phrase",
        ),
        (
            "fullwidth_keyword",
            &["ｖｉａｇｒａ"],
            "viagra",
            true,
            "keywords are NFKC-normalised",
        ),
        (
            "cyrillic",
            &["казино"],
            "Лучшее онлайн-казино!",
            true,
            "Unicode words and case",
        ),
        (
            "cyrillic_inside",
            &["казино"],
            "казиноонлайн",
            false,
            "Unicode boundary applies",
        ),
        (
            "symbols",
            &["$$$"],
            "earn $$$ now",
            true,
            "no boundary next to a symbol",
        ),
        (
            "ip_prefix",
            &["192.0.2."],
            "192.0.2.200",
            true,
            "trailing dot makes a prefix",
        ),
        (
            "ip_exact",
            &["192.0.2.1"],
            "192.0.2.100",
            false,
            "a full IP is not a prefix",
        ),
        (
            "ip_exact_hit",
            &["192.0.2.1"],
            "192.0.2.1",
            true,
            "a full IP matches itself",
        ),
        (
            "cjk",
            &["賭場"],
            "最好的賭場在這裡",
            true,
            "no boundary inside CJK text",
        ),
        (
            "regex_chars",
            &["c++ (course)"],
            "a c++ (course) deal",
            true,
            "keywords are escaped",
        ),
        (
            "at_start",
            &["casino"],
            "casino",
            true,
            "start and end of text are boundaries",
        ),
    ];

    #[test]
    fn keyword_semantics() {
        for (name, words, text, want, why) in CASES {
            let re = kw_regex(words);
            assert_eq!(re.is_match(text), *want, "{name}: {why} (regex {re})");
        }
    }

    #[test]
    fn empty_keywords_are_refused() {
        assert!(keywords_to_regex(&[]).is_err());
        for bad in ["", "   ", "*", "**", " * "] {
            let err = keywords_to_regex(&["ok".to_string(), bad.to_string()]);
            assert_eq!(err, Err("keyword #2 is empty".to_string()), "{bad:?}");
        }
    }

    #[test]
    fn zero_width_matches_count_as_empty() {
        for src in ["a*", r"\b", "foo|$", "(?m)^", r"\B", "x?"] {
            assert!(matches_empty(&Regex::new(src).expect("compiles")), "{src}");
        }
        for src in ["foo", r"\bfoo\b", "a+", r"(?i)buy\s+now"] {
            assert!(!matches_empty(&Regex::new(src).expect("compiles")), "{src}");
        }
    }
}

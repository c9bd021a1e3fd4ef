//! Text normalisation and features. Pure functions, no IO.
//!
//! Spammers hide words from filters with invisible characters, fullwidth letters and HTML;
//! normalising once, up front, means every later stage (rules, classifier, cache key) sees
//! the same canonical text.

mod features;
mod html;
mod links;
mod words;

pub use features::{
    AuthorFields, FeatureConfig, FeatureKind, FeatureView, Features, FEATURE_SEED, KINDS,
};
pub use html::strip_html;
pub use links::{domain_of, find_links, Link, LinkSource};

use unicode_normalization::UnicodeNormalization;

/// Normalised text is cut at this many bytes (twice the largest accepted comment body).
pub const MAX_NORMALIZED_BYTES: usize = 2 * crate::domain::MAX_CONTENT_BYTES;

/// A comment body after normalisation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizedText {
    /// NFKC, invisible characters removed, HTML tags removed (entities decoded), case kept.
    pub clean: String,
    /// `clean`, lower-cased, with runs of one repeated character capped at three.
    pub folded: String,
    /// Every link found: `<a href>`, BBCode `[url]`, bare `http(s)://` and `www.` URLs.
    pub links: Vec<Link>,
}

/// True for characters that render as nothing and only serve to split words for a filter.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{034F}'                // combining grapheme joiner
        | '\u{061C}'                // arabic letter mark
        | '\u{115F}' | '\u{1160}'   // hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'   // mongolian variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM/RLM
        | '\u{202A}'..='\u{202E}'   // bidi embeddings
        | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, bidi isolates
        | '\u{3164}'                // hangul filler
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{FEFF}'                // BOM / zero-width no-break space
        | '\u{FFA0}'
        | '\u{E0000}'..='\u{E007F}' // tag characters
    )
}

/// NFKC-normalises `raw` and drops invisible characters and other control characters
/// (keeping newlines and tabs as spaces).
pub fn canonicalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    // Most comments are already NFKC once invisible characters are dropped: all ASCII text
    // is, and so is ASCII with only dropped characters besides (many YouTube comments end
    // in U+FEFF). Those are copied in runs with no Unicode tables; for other text the quick
    // check skips the costly decomposition when it can.
    if !copy_visible(raw, &mut out)
        || unicode_normalization::is_nfkc_quick(raw.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        return out;
    }
    out.clear();
    raw.chars()
        .filter(|c| !is_invisible(*c))
        .nfkc()
        .for_each(|c| push_visible(&mut out, c));
    out
}

/// Appends `c` unless it is invisible or a control character (newlines and tabs become
/// spaces).
fn push_visible(out: &mut String, c: char) {
    if is_invisible(c) {
        return;
    }
    if c.is_control() {
        if matches!(c, '\n' | '\r' | '\t') {
            out.push(' ');
        }
        return;
    }
    out.push(c);
}

/// Appends `raw` to `out` as [`push_visible`] would character by character, copying runs of
/// kept characters whole. Returns whether a kept character is not ASCII.
fn copy_visible(raw: &str, out: &mut String) -> bool {
    let bytes = raw.as_bytes();
    let mut non_ascii = false;
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight printable ASCII bytes, the common case, are passed over at once.
        if let Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) = bytes.get(i..i + 8) {
            if all_printable_ascii(u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7])) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if b.is_ascii() {
            if b >= 0x20 && b != 0x7f {
                i += 1;
                continue;
            }
            out.push_str(&raw[run..i]);
            if matches!(b, b'\n' | b'\r' | b'\t') {
                out.push(' ');
            }
            i += 1;
            run = i;
            continue;
        }
        let c = raw[i..].chars().next().unwrap_or('\u{FFFD}');
        let len = c.len_utf8();
        if is_invisible(c) || c.is_control() {
            out.push_str(&raw[run..i]);
            run = i + len;
        } else {
            non_ascii = true;
        }
        i += len;
    }
    out.push_str(&raw[run..]);
    non_ascii
}

/// Whether all eight bytes of `x` are printable ASCII (0x20 to 0x7E). Exact: a byte at or
/// above 0x80 sets its top bit; the borrow tests below find a byte under 0x20 or equal to
/// 0x7F whenever there is one (they may point at the wrong byte, which does not matter here).
#[inline(always)]
fn all_printable_ascii(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let del = x ^ (0x7f * ONES);
    x & HIGH == 0
        && x.wrapping_sub(0x20 * ONES) & !x & HIGH == 0
        && del.wrapping_sub(ONES) & !del & HIGH == 0
}

/// Lower-cases and caps runs of one repeated character at three (`loooool` → `loool`), so
/// floods of one letter share features with their milder spellings.
pub fn fold(clean: &str) -> String {
    if clean.is_ascii() {
        // Bytes are characters: lower-case, then cap runs in place (capping only ever drops
        // bytes, so the write index never passes the read index), without the Unicode tables.
        let mut bytes = clean.to_ascii_lowercase().into_bytes();
        let mut kept = 0;
        let mut last = 0u8;
        let mut run = 0usize;
        for read in 0..bytes.len() {
            let b = bytes[read];
            if b == last {
                run += 1;
                if run >= 3 {
                    continue;
                }
            } else {
                last = b;
                run = 0;
            }
            bytes[kept] = b;
            kept += 1;
        }
        bytes.truncate(kept);
        return String::from_utf8(bytes).unwrap_or_default();
    }
    let lower = |c: char| -> either_lower::Lower {
        if c.is_ascii() {
            either_lower::Lower::One(c.to_ascii_lowercase())
        } else {
            either_lower::Lower::Many(c.to_lowercase())
        }
    };
    cap_runs(clean.chars().flat_map(lower), clean.len())
}

/// Collects `chars`, keeping at most three of any run of one character.
fn cap_runs(chars: impl Iterator<Item = char>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    let mut last = '\0';
    let mut run = 0usize;
    for c in chars {
        if c == last {
            run += 1;
            if run >= 3 {
                continue;
            }
        } else {
            last = c;
            run = 0;
        }
        out.push(c);
    }
    out
}

mod either_lower {
    /// Lower-casing without the general Unicode table walk for ASCII characters.
    pub enum Lower {
        One(char),
        Many(std::char::ToLowercase),
    }

    impl Iterator for Lower {
        type Item = char;
        fn next(&mut self) -> Option<char> {
            match self {
                Lower::One(c) => {
                    let out = *c;
                    *c = '\0';
                    (out != '\0').then_some(out)
                }
                Lower::Many(it) => it.next(),
            }
        }
    }
}

/// Normalises a comment body: canonical Unicode, HTML stripped with its links kept, folded.
pub fn normalize_content(raw: &str) -> NormalizedText {
    let mut canonical = canonicalize(raw);
    // NFKC can expand a character up to 18-fold (U+FDFA); past twice the largest accepted
    // body nothing more is needed to judge a comment, so the rest is not processed.
    if canonical.len() > MAX_NORMALIZED_BYTES {
        let mut end = MAX_NORMALIZED_BYTES;
        while !canonical.is_char_boundary(end) {
            end -= 1;
        }
        canonical.truncate(end);
    }
    let (mut clean, hrefs, decoded_non_ascii) = strip_html(&canonical);
    if decoded_non_ascii {
        clean = canonicalize(&clean);
    }
    let links = find_links(&clean, &hrefs);
    let folded = fold(&clean);
    NormalizedText {
        clean,
        folded,
        links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_width_and_bom_are_removed() {
        let n = normalize_content("sub\u{200B}scri\u{FEFF}be\u{2060} now\u{FEFF}");
        assert_eq!(n.clean, "subscribe now");
    }

    #[test]
    fn fullwidth_letters_become_ascii() {
        let n = normalize_content("ｃｈｅｃｋ ｏｕｔ ＭＹ ｃｈａｎｎｅｌ");
        assert_eq!(n.clean, "check out MY channel");
        assert_eq!(n.folded, "check out my channel");
    }

    #[test]
    fn html_is_stripped_but_links_kept() {
        let n = normalize_content(
            "Great post!<br>See <a href=\"https://www.Example.org/page?x=1\">this &amp; that</a>.",
        );
        assert_eq!(n.clean, "Great post! See this & that.");
        assert_eq!(n.links.len(), 1);
        assert_eq!(n.links[0].domain, "example.org");
        assert_eq!(n.links[0].source, LinkSource::Html);
    }

    #[test]
    fn entity_spelled_invisible_and_fullwidth_characters_are_normalised() {
        assert_eq!(
            normalize_content("buy vi&#173;agra vi&#8203;agra &#xFF56;iagra").clean,
            "buy viagra viagra viagra"
        );
    }

    #[test]
    fn expanding_characters_are_cut_at_the_limit() {
        let n = normalize_content(&"\u{FDFA}".repeat(20_000));
        assert!(n.clean.len() <= MAX_NORMALIZED_BYTES);
    }

    #[test]
    fn character_floods_are_capped() {
        assert_eq!(fold("LOOOOOOOL!!!!!!"), "loool!!!");
        assert_eq!(fold("aaAAab...."), "aaab...");
        assert_eq!(fold("ÀÀÀÀ x"), "ààà x");
    }

    #[test]
    fn printable_ascii_words_are_recognised_exactly() {
        let naive = |x: u64| x.to_le_bytes().iter().all(|b| (0x20..0x7f).contains(b));
        // Every byte value in every position, next to printable and unprintable neighbours.
        for fill in [b' ', b'~', b'a', 0x1f, 0x7f, 0x80] {
            for pos in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[pos] = b;
                    let x = u64::from_le_bytes(bytes);
                    assert_eq!(all_printable_ascii(x), naive(x), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn control_characters_are_dropped_and_newlines_become_spaces() {
        assert_eq!(canonicalize("a\u{0007}b\nc"), "ab c");
    }
}

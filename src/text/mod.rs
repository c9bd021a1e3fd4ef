//! Text normalisation and features. Pure functions, no IO.
//!
//! Spammers hide words from filters with invisible characters, fullwidth letters and HTML;
//! normalising once, up front, means every later stage (rules, classifier, cache key) sees
//! the same canonical text.

mod english;
mod features;
pub mod fuzzy;
mod html;
mod language;
mod links;
mod shapes;
mod words;

pub use features::{
    AuthorFields, FeatureConfig, FeatureKind, FeatureView, Features, TextShapes, FEATURE_SEED,
    KINDS,
};
pub use html::strip_html;
pub use language::LanguageCheck;
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

impl NormalizedText {
    /// True when the body carries nothing a reader could be sent to or contact: no link, no
    /// `@` (an address or handle), no domain-like word, and fewer than five digits in a row
    /// or seven in all (a phone number, a short code).
    pub fn points_nowhere(&self) -> bool {
        if !self.links.is_empty() || self.clean.contains('@') {
            return false;
        }
        // `clean` rather than `folded`, whose runs of one character are capped at three.
        let (mut run, mut digits) = (0usize, 0usize);
        let mut chars = self.clean.chars();
        let mut prev = ' ';
        while let Some(c) = chars.next() {
            if c.is_numeric() {
                run += 1;
                digits += 1;
                if run >= 5 || digits >= 7 {
                    return false;
                }
            } else {
                run = 0;
                // "name.tld": a dot after a letter or digit and before two letters.
                if c == '.' && prev.is_alphanumeric() {
                    let mut next = chars.clone();
                    if next.next().is_some_and(char::is_alphabetic)
                        && next.next().is_some_and(char::is_alphabetic)
                    {
                        return false;
                    }
                }
            }
            prev = c;
        }
        true
    }

    /// True when the body has at least one and fewer than `fewer_than` words, none holding a
    /// digit or a dot, and no `@`: a few plain words, with no number, code, domain or handle
    /// that could be a payload ("ringtoneking 84484", "adf.ly / KlD3Y", "telegram @seller").
    /// A body with no words at all is not "a few words": it is judged on its other fields.
    pub fn is_few_plain_words(&self, fewer_than: usize) -> bool {
        // Most bodies have many words: each run between ASCII spaces that holds an ASCII
        // letter or digit holds a word, so `fewer_than` such runs settle it without
        // segmenting. Text in other scripts is segmented, up to `fewer_than` words.
        let mut runs = 0;
        let mut in_run_with_alnum = false;
        for &b in self.folded.as_bytes() {
            if b.is_ascii_whitespace() {
                in_run_with_alnum = false;
            } else if b.is_ascii_alphanumeric() && !in_run_with_alnum {
                in_run_with_alnum = true;
                runs += 1;
                if runs >= fewer_than {
                    return false;
                }
            }
        }
        if self.folded.contains('@') {
            return false;
        }
        let mut count = 0;
        for (_, word) in words::word_indices(&self.folded) {
            count += 1;
            if count >= fewer_than || word.chars().any(|c| c.is_numeric() || c == '.') {
                return false;
            }
        }
        count > 0
    }
}

/// Whether an author's display name, as typed, is made of ordinary English words: a keyword
/// ("Technology", "fashion blog", "how to start a business"), the anchor text of blog spam's
/// link, rather than a person's name or handle ("Ann", "Matt Twine", "lcallot"). See
/// `english`; the list is parsed on the first call.
pub fn is_common_word_name(raw: &str) -> bool {
    english::is_common_word_phrase(&fold(&canonicalize(&decode_author_name(raw))))
}

/// Parses the word list [`is_common_word_name`] reads, if not yet done: the service calls it
/// at start so that no request waits for it.
pub fn load_word_list() {
    english::words();
}

/// Whether a website's domain holds a shop word (`shapes::is_shop_word`) as one of its
/// parts between dots and hyphens ("roofing-pros.example", "cheap-essays.example") or is
/// under a shop's top-level domain ("kim.shop"): a business's site, what blog spam's author
/// link points at. Other top-level domains are not read ("anna.design", "jane.co.uk").
pub fn is_shop_site(url: &str) -> bool {
    let domain = domain_of(url);
    let Some((name, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    matches!(tld, "shop" | "store") || name.split(['.', '-']).any(shapes::is_shop_word)
}

/// Whether a link's domain is a well-known reference: documentation, code hosting, a
/// questions-and-answers site or an encyclopedia ("docs.python.org", "github.com",
/// "stackoverflow.com", "en.wikipedia.org"). What a technical blog's readers cite, and no
/// place for a spammer's payload. Hosts of anyone's own pages ("github.io",
/// "docs.google.com", any "wiki.") are not references.
pub fn is_reference_domain(domain: &str) -> bool {
    const HOSTS: [&str; 30] = [
        "github.com",
        "gist.github.com",
        "gitlab.com",
        "bitbucket.org",
        "codeberg.org",
        "sourceforge.net",
        "stackoverflow.com",
        "superuser.com",
        "serverfault.com",
        "askubuntu.com",
        "mathoverflow.net",
        "developer.mozilla.org",
        "developer.apple.com",
        "developer.android.com",
        "learn.microsoft.com",
        "docs.microsoft.com",
        "caniuse.com",
        "whatwg.org",
        "rfc-editor.org",
        "docs.rs",
        "crates.io",
        "pypi.org",
        "npmjs.com",
        "nodejs.org",
        "php.net",
        "go.dev",
        "pkg.go.dev",
        "kernel.org",
        "arxiv.org",
        "doi.org",
    ];
    /// Every host under these: an encyclopedia's languages, a project's documentation.
    const UNDER: [&str; 9] = [
        "wikipedia.org",
        "stackexchange.com",
        "readthedocs.io",
        "python.org",
        "rust-lang.org",
        "w3.org",
        "ietf.org",
        "debian.org",
        "archlinux.org",
    ];
    HOSTS.contains(&domain)
        || UNDER.iter().any(|root| {
            domain
                .strip_suffix(root)
                .is_some_and(|head| head.is_empty() || head.ends_with('.'))
        })
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

/// An author name as every part reads it (features and rules alike): HTML entities decoded
/// and tags dropped, since some platforms and exports send names escaped ("Fun&amp;Hacks"),
/// and undecoded every such name would share the word `amp`. Borrowed when there is nothing
/// to decode, as for nearly every name.
pub fn decode_author_name(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains(['&', '<']) {
        std::borrow::Cow::Owned(strip_html(raw).0)
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
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
    nfkc_visible(raw, &mut out);
    out
}

/// Appends `raw` with invisible characters dropped, NFKC-normalised and passed through
/// [`push_visible`], normalising only the pieces around non-ASCII characters: the costly
/// decomposition then runs over a few characters (a no-break space, an ellipsis), not the
/// whole comment.
///
/// Cutting is exact: an ASCII character has no decomposition, combining class 0 and never
/// composes with what precedes it, so NFKC of a text is NFKC of the part before an ASCII
/// character followed by NFKC of the rest. Each piece starts at the ASCII character before
/// a non-ASCII run (which may compose with it, like `e` + U+0301) and ends at the next
/// ASCII character; ASCII between pieces is its own NFKC and is copied.
fn nfkc_visible(raw: &str, out: &mut String) {
    let bytes = raw.as_bytes();
    let mut done = 0;
    while let Some(offset) = bytes[done..].iter().position(|b| !b.is_ascii()) {
        let first = done + offset;
        let start = if first > done { first - 1 } else { first };
        copy_visible(&raw[done..start], out);
        let end = bytes[first..]
            .iter()
            .position(u8::is_ascii)
            .map_or(bytes.len(), |p| first + p);
        raw[start..end]
            .chars()
            .filter(|c| !is_invisible(*c))
            .nfkc()
            .for_each(|c| push_visible(out, c));
        done = end;
    }
    copy_visible(&raw[done..], out);
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

/// One lane per byte of a `u64`, for tests on eight bytes at once.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The top bit of every lane.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The top bit of each byte of `x` that equals `b`, and no other bit. Exact: the low seven
/// bits of a lane plus 0x7F reach the top bit unless they are all zero, with no carry out
/// of the lane.
#[inline(always)]
fn lanes_equal(x: u64, b: u8) -> u64 {
    let y = x ^ (ONES * u64::from(b));
    !(((y & !HIGH) + !HIGH) | y) & HIGH
}

/// Whether all eight bytes of `x` are printable ASCII (0x20 to 0x7E). Exact: a byte at or
/// above 0x80 sets its top bit; the borrow tests below find a byte under 0x20 or equal to
/// 0x7F whenever there is one (they may point at the wrong byte, which does not matter here).
#[inline(always)]
fn all_printable_ascii(x: u64) -> bool {
    let del = x ^ (0x7f * ONES);
    x & HIGH == 0
        && x.wrapping_sub(0x20 * ONES) & !x & HIGH == 0
        && del.wrapping_sub(ONES) & !del & HIGH == 0
}

/// Lower-cases, writes typographic quotes and dashes as their ASCII marks (`don’t` →
/// `don't`), and caps runs of one repeated character at three (`loooool` → `loool`), so
/// floods of one letter share features with their milder spellings.
pub fn fold(clean: &str) -> String {
    if clean.is_ascii() {
        // Bytes are characters: lower-casing is a byte map without the Unicode tables, and a
        // run of four, the only thing capping changes, is rare enough to look for first.
        let out = clean.to_ascii_lowercase();
        // Capping starts as if a NUL came before the text, so three leading NULs are a run
        // of four too.
        if has_run_of_four(out.as_bytes()) || out.starts_with("\0\0\0") {
            return cap_ascii_runs(out);
        }
        return out;
    }
    // Lower-case first, ASCII stretches whole, then cap in a second pass only if a run of
    // four characters can be there: most non-ASCII comments are mostly ASCII, and per
    // character run tracking costs more than the tests for a run.
    let mut out = String::with_capacity(clean.len());
    let bytes = clean.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let ascii_end = bytes[i..]
            .iter()
            .position(|b| !b.is_ascii())
            .map_or(bytes.len(), |p| i + p);
        let ascii = &clean[i..ascii_end];
        let from = out.len();
        // Folding has always dropped NUL from non-ASCII text (and kept it in ASCII text);
        // features hashed from folded text depend on that staying so.
        if ascii.contains('\0') {
            out.extend(ascii.chars().filter(|&c| c != '\0'));
        } else {
            out.push_str(ascii);
        }
        out[from..].make_ascii_lowercase();
        let Some(c) = clean[ascii_end..].chars().next() else {
            break;
        };
        match plain_punctuation(c) {
            Some(plain) => out.push(plain),
            None => out.extend(c.to_lowercase()),
        }
        i = ascii_end + c.len_utf8();
    }
    // A run of four of a character `k` bytes long repeats its first byte at stride `k`.
    if (1..=4).any(|stride| repeats_four_times(out.as_bytes(), stride)) {
        cap_runs(&mut out);
    }
    out
}

/// The ASCII mark a typographic quote or dash stands for. Which of the two a comment holds
/// says how it was typed (a phone's smart punctuation, a word processor) or which blog
/// software rendered it, not who wrote it: in the corpus 39% of one blog's spam has `’`
/// against 1% of the other blog's genuine comments, and a model that kept them apart
/// learned `don’t` as a spam word.
fn plain_punctuation(c: char) -> Option<char> {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => Some('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' => Some('"'),
        '\u{2010}'..='\u{2015}' => Some('-'),
        _ => None,
    }
}

/// Whether four equal bytes follow each other somewhere in `bytes`.
fn has_run_of_four(bytes: &[u8]) -> bool {
    repeats_four_times(bytes, 1)
}

/// Whether some byte is equal to the bytes `stride`, 2 × `stride` and 3 × `stride` after it.
/// Written as an OR over every position, with no early exit, so that the compiler
/// vectorises it.
fn repeats_four_times(bytes: &[u8], stride: usize) -> bool {
    let Some(n) = bytes.len().checked_sub(3 * stride) else {
        return false;
    };
    bytes[..n]
        .iter()
        .zip(&bytes[stride..])
        .zip(&bytes[2 * stride..])
        .zip(&bytes[3 * stride..])
        .fold(false, |any, (((a, b), c), d)| {
            any | ((a == b) & (b == c) & (c == d))
        })
}

/// [`cap_runs`] for ASCII text, where bytes are characters: in place on the bytes, with no
/// character decoding.
fn cap_ascii_runs(ascii: String) -> String {
    let mut bytes = ascii.into_bytes();
    let mut kept = 0;
    let (mut last, mut run) = (0u8, 0usize);
    // Capping only drops bytes, so the write index never passes the read index.
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
    // ASCII bytes with some removed are still ASCII, so this never falls back.
    String::from_utf8(bytes).unwrap_or_default()
}

/// Drops every character after the third of a run of one character, in place. Capping
/// starts as if a NUL came before the text.
fn cap_runs(s: &mut String) {
    let (mut last, mut run) = ('\0', 0usize);
    s.retain(|c| {
        if c == last {
            run += 1;
            run < 3
        } else {
            last = c;
            run = 0;
            true
        }
    });
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
    let (stripped, hrefs, decoded_non_ascii) = html::strip(&canonical);
    let mut clean = stripped.unwrap_or(canonical);
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
    fn few_plain_words() {
        // (name, body, a few plain words with fewer than 3, why)
        #[rustfmt::skip]
        let cases = [
            ("two_words", "selfie alert", true, "two letter words"),
            ("one_word_shouted", "SUBSCRIBE!!!!!!!!", true, "punctuation is no word"),
            ("empty", "", false, "no words at all: judged on the other fields"),
            ("emoji_only", "\u{1F525}\u{1F525}", false, "emoji are no words either"),
            ("three_words", "subscribe to me", false, "three words reach the bar"),
            ("short_code", "ringtoneking 84484", false, "a number is a payload"),
            ("code_in_word", "code x2b", false, "a digit inside a word too"),
            ("other_digits", "call \u{0668}\u{0664}\u{0664}", false, "digits of any script"),
            ("bare_domain", "adf.ly / KlD3Y", false, "a dotted word is a domain"),
            ("handle", "telegram @seller", false, "a handle is a payload"),
            ("hyphenated", "a-b-c", false, "one run between spaces, three words"),
            ("two_ideographs", "谢谢", true, "each ideograph is a word: two"),
            ("three_ideographs", "谢谢你", false, "three ideographs, three words"),
            ("cyrillic_two", "спасибо большое", true, "two words of another script"),
            ("long_body", "a b c d e f g", false, "counting stops at the bar"),
        ];
        for (name, body, want, why) in cases {
            let got = normalize_content(body).is_few_plain_words(3);
            assert_eq!(got, want, "case {name} ({why})");
        }
    }

    #[test]
    fn shop_sites() {
        // (name, website, a shop's site, why)
        #[rustfmt::skip]
        let cases = [
            ("trade", "https://roofing-pros.example/", true, "a trade as a part of the name"),
            ("shop_tld", "http://kim.shop/", true, "a shop's top-level domain"),
            ("essay_mill", "https://www.cheap-essays.example/order", true, "two shop words"),
            ("person", "https://anna-bakes.example.net", false, "a person's blog"),
            ("handle", "https://github.com/tomk", false, "a code host"),
            ("joined_words", "https://mydigitalblog.example/", false, "only whole parts count"),
            ("not_a_url", "n/a", false, "no domain"),
            ("bare_word", "loans", false, "a word with no top-level domain is no domain"),
            ("country_tld", "https://janesmith.co.uk/", false, "a country's domain is no shop"),
            ("word_tld", "https://anna.design/", false, "only shop and store count as top-level domains"),
            ("generic_words", "https://best-of-kim.example/", false, "a blog's generic words are no trade"),
        ];
        for (name, url, want, why) in cases {
            assert_eq!(is_shop_site(url), want, "case {name} ({why})");
        }
    }

    #[test]
    fn reference_domains() {
        // (name, domain as `domain_of` gives it, a reference, why)
        #[rustfmt::skip]
        let cases = [
            ("python_docs", "docs.python.org", true, "a language's documentation"),
            ("wikipedia_language", "de.wikipedia.org", true, "an encyclopedia in any language"),
            ("code_host", "github.com", true, "code hosting"),
            ("stack_exchange_site", "unix.stackexchange.com", true, "a questions-and-answers site"),
            ("bare_root", "wikipedia.org", true, "the root itself"),
            ("own_pages", "kim.github.io", false, "anyone's own pages"),
            ("user_documents", "docs.google.com", false, "anyone's own documents"),
            ("spam_wiki", "wiki.example.fr", false, "a wiki anyone can write to"),
            ("lookalike", "notwikipedia.org", false, "a root only counts after a dot"),
            ("suffix_trick", "wikipedia.org.example.com", false, "the root must end the domain"),
        ];
        for (name, domain, want, why) in cases {
            assert_eq!(is_reference_domain(domain), want, "case {name} ({why})");
        }
    }

    #[test]
    fn points_nowhere() {
        // (name, body, points nowhere, why)
        #[rustfmt::skip]
        let cases = [
            ("plain_praise", "Love this post. Subscribed to your newsletter.", true, "words only"),
            ("version", "Works on 3.2 too, thanks.", true, "a short number is no payload"),
            ("sentence_end", "Great post.Thanks", false, "no space after a dot reads as a domain: the safe side"),
            ("abbreviation", "Nice, e.g. the second step.", true, "one letter after the dot"),
            ("link", "Nice post https://shop.example/", false, "a link"),
            ("bare_domain", "Nice post, see shop.example", false, "a written domain"),
            ("email", "Nice post, write to me at kim@example.org", false, "an address"),
            ("handle", "telegram @seller", false, "a handle"),
            ("short_code", "text WIN to 84484", false, "five digits in a row"),
            ("phone", "call 0909 879 0123", false, "seven digits in all"),
            ("other_digits", "call \u{0668}\u{0664}\u{0664}\u{0664}\u{0664}", false, "digits of any script"),
        ];
        for (name, body, want, why) in cases {
            let got = normalize_content(body).points_nowhere();
            assert_eq!(got, want, "case {name} ({why})");
        }
    }

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
    fn typographic_quotes_and_dashes_read_as_ascii() {
        let cases = [
            (
                "apostrophe",
                "Don’t",
                "don't",
                "a phone's smart punctuation, not the writer",
            ),
            (
                "quotes",
                "“Great” ‘post’",
                "\"great\" 'post'",
                "both kinds of quote",
            ),
            (
                "dashes",
                "A – B — C",
                "a - b - c",
                "en and em dashes a word processor wrote",
            ),
            ("low quotes", "„so“", "\"so\"", "German quotation marks"),
            (
                "floods",
                "wow’’’’’",
                "wow'''",
                "mapped before runs are capped",
            ),
            (
                "guillemets kept",
                "«oui»",
                "«oui»",
                "a language's own marks, not a device's",
            ),
        ];
        for (name, raw, want, why) in cases {
            assert_eq!(fold(raw), want, "case {name} ({why})");
        }
    }

    /// `fold` as first written: lower-case every character, then cap runs.
    fn fold_reference(clean: &str) -> String {
        let lowered: Vec<char> = if clean.is_ascii() {
            clean.chars().map(|c| c.to_ascii_lowercase()).collect()
        } else {
            clean
                .chars()
                .filter(|&c| c != '\0')
                .flat_map(|c| {
                    let plain = match c {
                        '‘' | '’' | '‚' | '‛' => Some('\''),
                        '“' | '”' | '„' | '‟' => Some('"'),
                        '‐' | '‑' | '‒' | '–' | '—' | '―' => Some('-'),
                        _ => None,
                    };
                    plain.map_or_else(|| c.to_lowercase().collect::<Vec<_>>(), |p| vec![p])
                })
                .collect()
        };
        let mut out = String::new();
        let (mut last, mut run) = ('\0', 0);
        for c in lowered {
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

    #[test]
    fn fold_matches_the_reference() {
        // Characters that are alike after lower-casing, expand when lower-cased (`İ`), are
        // NUL, or are neither ASCII nor cased.
        let ascii = ['a', 'A', 'b', '.', ' ', '!', '\0'];
        let mixed = [
            'a', 'A', 'À', 'à', 'İ', 'i', 'ß', '😀', '\0', '.', '’', '\'', '—',
        ];
        let mut next = crate::testing::picker(1);
        for round in 0..20_000 {
            let alphabet: &[char] = if round % 2 == 0 { &ascii } else { &mixed };
            let len = next(24);
            let s: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            assert_eq!(fold(&s), fold_reference(&s), "{s:?}");
        }
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
    fn normalising_in_pieces_matches_the_whole_text() {
        // ASCII that composes with what follows, combining marks in and out of canonical
        // order, invisible characters between them, Hangul jamo that compose, compatibility
        // characters and controls.
        const ALPHABET: &[char] = &[
            'a', 'e', 'E', 'n', ' ', '.', '1', '\n', '\u{7}', '\u{7f}', '\u{301}', '\u{308}',
            '\u{327}', '\u{315}', '\u{316}', '\u{200B}', '\u{FEFF}', '\u{AD}', '\u{A0}',
            '\u{2026}', '\u{FF41}', '\u{212A}', '\u{1100}', '\u{1161}', '\u{11A8}', '\u{AC00}',
            '\u{FDFA}', '\u{3099}', '\u{304B}', 'é', '😀', '\u{2019}', '\u{85}',
        ];
        let whole = |raw: &str| {
            let mut out = String::new();
            raw.chars()
                .filter(|c| !is_invisible(*c))
                .nfkc()
                .for_each(|c| push_visible(&mut out, c));
            out
        };
        let mut next = crate::testing::picker(5);
        for _ in 0..50_000 {
            let len = next(12);
            let raw: String = (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect();
            let mut pieces = String::new();
            nfkc_visible(&raw, &mut pieces);
            assert_eq!(pieces, whole(&raw), "{raw:?}");
        }
    }

    #[test]
    fn control_characters_are_dropped_and_newlines_become_spaces() {
        assert_eq!(canonicalize("a\u{0007}b\nc"), "ab c");
    }
}

//! A small, allocation-light HTML stripper. Comments carry a few tags (`<a>`, `<br>`, `<b>`),
//! not documents, so a full parser would cost more than it catches; what matters is that
//! tags vanish, entities decode and every `href` survives as a link.

use super::{lanes_equal, HIGH, ONES};

/// Removes tags and decodes entities; returns the visible text and every `href` found.
///
/// A `<` only opens a tag when a letter, `/` or `!` follows and a `>` closes it within 2 KiB,
/// so text like `I <3 this` or `a < b` stays as written.
pub fn strip_html(s: &str) -> (String, Vec<String>, bool) {
    let (stripped, hrefs, decoded_non_ascii) = strip(s);
    (
        stripped.unwrap_or_else(|| s.to_string()),
        hrefs,
        decoded_non_ascii,
    )
}

/// [`strip_html`], with `None` for a text that stripping leaves as it is (most comments: no
/// tag, no entity, single spaces), so that the caller can keep the string it has instead of
/// a copy.
pub(super) fn strip(s: &str) -> (Option<String>, Vec<String>, bool) {
    strip_with::<true>(s)
}

/// [`strip`]; `BLOCKS` = false leaves out the 8-byte skip, so tests can check that the skip
/// changes nothing.
fn strip_with<const BLOCKS: bool>(s: &str) -> (Option<String>, Vec<String>, bool) {
    let mut out = Collapsing {
        out: String::new(),
        space: false,
        capacity: s.len(),
    };
    let mut hrefs = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    // Entities can spell characters that canonicalisation already removed or folded
    // (`&#8203;`, `&shy;`, `&#xFF56;`); the caller re-canonicalises when any were decoded.
    let mut decoded_non_ascii = false;
    // Where a failed search for `>` ended: the bytes before it hold no `>`, so a run of `<`s
    // is scanned once, not once per `<`.
    let mut no_close_before = 0;
    // Start of the pending run of plain characters (no whitespace, tag or entity), copied
    // whole when something else comes.
    let mut run = 0;
    // Below this the byte loop runs without trying the 8-byte skip: a block that failed
    // is not tried again byte by byte, which would cost more than it saves on text full of
    // tags, entities or non-ASCII letters.
    let mut slow_until = 0;
    while i < s.len() {
        if BLOCKS && i >= slow_until {
            match plain_block(bytes, i, i > run) {
                Some(len) => {
                    i += len;
                    continue;
                }
                None => slow_until = i + 8,
            }
        }
        let b = bytes[i];
        if is_plain(b) {
            i += 1;
            continue;
        }
        // One space between plain characters is what collapsing would write anyway.
        if b == b' ' && i > run && bytes.get(i + 1).is_some_and(|&next| is_plain(next)) {
            i += 2;
            continue;
        }
        out.push_plain(&s[run..i]);
        run = i;
        if b == b'<' {
            if let Some(end) = tag_end(s, i, &mut no_close_before) {
                let tag = &s[i + 1..end];
                if let Some(href) = attribute(tag, "href").or_else(|| attribute(tag, "src")) {
                    hrefs.push(decode_entities(href));
                }
                if is_separating(tag) {
                    out.push(' ');
                }
                i = end + 1;
                run = i;
                continue;
            }
        } else if b == b'&' {
            if let Some((decoded, len)) = entity_at(&s[i..]) {
                decoded_non_ascii |= !decoded.is_ascii();
                out.push(decoded);
                i += len;
                run = i;
                continue;
            }
        }
        if b.is_ascii() {
            // `<` or `&` as written stay in the run; whitespace is collapsed.
            if matches!(b, b'\t'..=b'\r' | b' ') {
                out.push(' ');
                run = i + 1;
            }
            i += 1;
            continue;
        }
        let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
        i += c.len_utf8();
        if c.is_whitespace() {
            out.push(c);
            run = i;
        }
    }
    // The run never ended, so the text is one run: whole, and written as it is.
    if run == 0 {
        return (None, hrefs, decoded_non_ascii);
    }
    out.push_plain(&s[run..]);
    (Some(out.out), hrefs, decoded_non_ascii)
}

/// How many bytes from `i` the byte loop would pass over without ending the run of plain
/// text (8, or 9 when the eighth is a space followed by a plain byte), when the 8 bytes
/// from `i` are printable ASCII other than `<` and `&`, with single spaces only between
/// plain bytes; `None` otherwise, or when fewer than 8 bytes are left. `in_run` says the
/// byte before `i` is plain text of the current run, so a space at `i` is between words.
///
/// Ordinary prose is mostly such blocks, and one test per block costs a few instructions
/// per byte instead of a branchy step per byte.
fn plain_block(bytes: &[u8], i: usize, in_run: bool) -> Option<usize> {
    let &[b0, b1, b2, b3, b4, b5, b6, b7] = bytes.get(i..i + 8)? else {
        return None;
    };
    let x = u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]);
    // Non-ASCII, control characters (tabs and line breaks among them), `<` and `&`. For an
    // ASCII byte adding 0x60 sets the top bit exactly when it is 0x20 or more, with no
    // carry into the next lane.
    let stop = x & HIGH
        | !x.wrapping_add(0x60 * ONES) & HIGH
        | lanes_equal(x, b'<')
        | lanes_equal(x, b'&');
    let spaces = lanes_equal(x, b' ');
    let single_spaces = spaces & (spaces >> 8) == 0;
    let starts_between_words = spaces & 0x80 == 0 || in_run;
    if stop != 0 || !single_spaces || !starts_between_words {
        return None;
    }
    if spaces >> 63 == 0 {
        Some(8)
    } else if bytes.get(i + 8).is_some_and(|&b| is_plain(b)) {
        Some(9)
    } else {
        None
    }
}

/// Whether `b` is an ASCII character copied as it is: not whitespace, `<` or `&`.
fn is_plain(b: u8) -> bool {
    b.is_ascii() && !matches!(b, b'<' | b'&' | b'\t'..=b'\r' | b' ')
}

/// Text with every run of whitespace written as one space, and none at either end: built as
/// it goes, so stripping needs no second pass.
struct Collapsing {
    out: String,
    /// Whitespace seen since the last character written.
    space: bool,
    /// Reserved on the first write; nothing is allocated for a text left as it is.
    capacity: usize,
}

impl Collapsing {
    /// Appends `text`, which holds no whitespace.
    fn push_plain(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.out.capacity() == 0 {
            self.out.reserve(self.capacity);
        }
        if self.space && !self.out.is_empty() {
            self.out.push(' ');
        }
        self.space = false;
        self.out.push_str(text);
    }

    fn push(&mut self, c: char) {
        if c.is_whitespace() {
            self.space = true;
        } else {
            if self.out.capacity() == 0 {
                self.out.reserve(self.capacity);
            }
            if self.space && !self.out.is_empty() {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push(c);
        }
    }
}

fn tag_end(s: &str, start: usize, no_close_before: &mut usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let first = *bytes.get(start + 1)?;
    if !(first.is_ascii_alphabetic() || first == b'/' || first == b'!') {
        return None;
    }
    let limit = bytes.len().min(start + 1 + 2048);
    let from = (start + 1).max(*no_close_before);
    if from >= limit {
        return None;
    }
    match bytes[from..limit].iter().position(|&b| b == b'>') {
        Some(p) => Some(from + p),
        None => {
            *no_close_before = limit;
            None
        }
    }
}

/// Only block-level tags separate words. Everything else (inline tags, `<wbr>`, comments,
/// unknown tags) is removed without a space, so `vi<wbr>agra` and `vi<!-- -->agra` still
/// read `viagra`.
fn is_separating(tag: &str) -> bool {
    let name: String = tag
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        name.as_str(),
        "br" | "p"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "pre"
            | "hr"
            | "img"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "nav"
            | "aside"
            | "figure"
            | "figcaption"
            | "iframe"
            | "video"
            | "audio"
            | "form"
            | "input"
            | "button"
    )
}

/// Value of `name="..."` (or single-quoted, or bare) inside a tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        let offset = tag.len() - value.len();
        let (quote, body_start) = match value.as_bytes().first() {
            Some(b'"') => (Some('"'), offset + 1),
            Some(b'\'') => (Some('\''), offset + 1),
            _ => (None, offset),
        };
        let body = &tag[body_start..];
        let end = match quote {
            Some(q) => body.find(q).unwrap_or(body.len()),
            None => body.find(char::is_whitespace).unwrap_or(body.len()),
        };
        let v = body[..end].trim();
        return (!v.is_empty()).then_some(v);
    }
    None
}

/// Decodes one entity at the start of `s`: named ones common in comments and numeric ones.
fn entity_at(s: &str) -> Option<(char, usize)> {
    let semi = s.as_bytes().iter().take(12).position(|&b| b == b';')?;
    let name = &s[1..semi];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "shy" => '\u{AD}',
        "zwj" => '\u{200D}',
        "zwnj" => '\u{200C}',
        "lrm" => '\u{200E}',
        "rlm" => '\u{200F}',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "rsquo" | "lsquo" => '\'',
        "rdquo" | "ldquo" => '"',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            let c = char::from_u32(code)?;
            // Invisible characters pass through for canonicalisation to drop (a space here
            // would split `vi&#173;agra` in two); other control characters become spaces.
            if c.is_control() && !super::is_invisible(c) {
                ' '
            } else {
                c
            }
        }
    };
    Some((c, semi + 1))
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s.as_bytes()[i] == b'&' {
            if let Some((c, len)) = entity_at(&s[i..]) {
                out.push(c);
                i += len;
                continue;
            }
        }
        let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn less_than_in_text_is_not_a_tag() {
        assert_eq!(strip_html("I <3 this, a < b").0, "I <3 this, a < b");
    }

    #[test]
    fn single_quoted_and_bare_hrefs_are_found() {
        let (_, hrefs, _) =
            strip_html("<a href='http://a.example/x'>a</a> <A HREF=http://b.example>b</A>");
        assert_eq!(hrefs, vec!["http://a.example/x", "http://b.example"]);
    }

    #[test]
    fn numeric_entities_decode() {
        assert_eq!(strip_html("caf&#233; &#x41;").0, "café A");
    }

    #[test]
    fn entity_encoded_invisible_characters_do_not_split_words() {
        for (input, want) in [
            ("vi&#173;agra", "vi\u{AD}agra"),
            ("vi&shy;agra", "vi\u{AD}agra"),
            ("buy vi&#8203;agra", "buy vi\u{200B}agra"),
            ("vi<wbr>agra", "viagra"),
            ("vi<!-- x -->agra", "viagra"),
        ] {
            assert_eq!(strip_html(input).0, want, "{input}");
        }
    }

    #[test]
    fn many_unclosed_angle_brackets_stay_text() {
        let input = "<a".repeat(20_000);
        assert_eq!(strip_html(&input).0, input);
    }

    #[test]
    fn the_block_skip_changes_nothing() {
        // Pieces that end or continue a run of plain text, in every combination.
        const PIECES: &[&str] = &[
            "a",
            "bc",
            "defgh",
            " ",
            "  ",
            "\t",
            "\n",
            "\u{1}",
            "\u{7f}",
            "<b>",
            "<p>",
            "</a>",
            "<",
            "&amp;",
            "&#233;",
            "&",
            "é",
            "\u{A0}",
            "x y z",
            "lorem ipsum dolor",
            "<a href=\"http://a.example\">",
            "\u{2003}",
        ];
        let mut next = crate::testing::picker(3);
        for _ in 0..20_000 {
            let len = next(30);
            let s: String = (0..len).map(|_| PIECES[next(PIECES.len())]).collect();
            let (stripped, hrefs, decoded) = strip_with::<true>(&s);
            assert_eq!(
                (stripped.clone(), hrefs, decoded),
                strip_with::<false>(&s),
                "{s:?}"
            );
            // `None` only where stripping would have written the text unchanged.
            assert_eq!(stripped.unwrap_or_else(|| s.clone()), strip_html(&s).0);
        }
    }

    #[test]
    fn unchanged_text_is_reported_as_such() {
        for s in ["", "word", "a few words, single spaces."] {
            assert_eq!(strip(s).0, None, "{s:?}");
        }
        for s in [
            " lead",
            "trail ",
            "two  spaces",
            "a<b>b",
            "&amp;",
            "line\nbreak",
            "é\u{A0}",
        ] {
            assert!(strip(s).0.is_some(), "{s:?}");
        }
    }

    #[test]
    fn lanes_equal_is_exact() {
        for fill in [0u8, b' ', b'<', 0x7f, 0x80, 0xff] {
            for pos in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[pos] = b;
                    let x = u64::from_le_bytes(bytes);
                    for want in [b' ', b'<', b'&', 0, 0xff] {
                        let naive = bytes
                            .iter()
                            .enumerate()
                            .filter(|(_, &v)| v == want)
                            .fold(0u64, |m, (k, _)| m | 0x80 << (8 * k));
                        assert_eq!(lanes_equal(x, want), naive, "{bytes:?} {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn inline_tags_do_not_split_words() {
        assert_eq!(strip_html("sub<b>scri</b>be<br/>now").0, "subscribe now");
    }
}

//! A small, allocation-light HTML stripper. Comments carry a few tags (`<a>`, `<br>`, `<b>`),
//! not documents, so a full parser would cost more than it catches; what matters is that
//! tags vanish, entities decode and every `href` survives as a link.

/// Removes tags and decodes entities; returns the visible text and every `href` found.
///
/// A `<` only opens a tag when a letter, `/` or `!` follows and a `>` closes it within 2 KiB,
/// so text like `I <3 this` or `a < b` stays as written.
pub fn strip_html(s: &str) -> (String, Vec<String>, bool) {
    let mut out = Collapsing {
        out: String::with_capacity(s.len()),
        space: false,
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
    while i < s.len() {
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
    out.push_plain(&s[run..]);
    (out.out, hrefs, decoded_non_ascii)
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
}

impl Collapsing {
    /// Appends `text`, which holds no whitespace.
    fn push_plain(&mut self, text: &str) {
        if text.is_empty() {
            return;
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
    fn inline_tags_do_not_split_words() {
        assert_eq!(strip_html("sub<b>scri</b>be<br/>now").0, "subscribe now");
    }
}

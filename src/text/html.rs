//! A small, allocation-light HTML stripper. Comments carry a few tags (`<a>`, `<br>`, `<b>`),
//! not documents, so a full parser would cost more than it catches; what matters is that
//! tags vanish, entities decode and every `href` survives as a link.

/// Removes tags and decodes entities; returns the visible text and every `href` found.
///
/// A `<` only opens a tag when a letter, `/` or `!` follows and a `>` closes it within 2 KiB,
/// so text like `I <3 this` or `a < b` stays as written.
pub fn strip_html(s: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(s.len());
    let mut hrefs = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let b = bytes[i];
        if b == b'<' {
            if let Some(end) = tag_end(s, i) {
                let tag = &s[i + 1..end];
                if let Some(href) = attribute(tag, "href").or_else(|| attribute(tag, "src")) {
                    hrefs.push(decode_entities(href));
                }
                // Block-ish tags separate words; inline ones (b, i, span) do not.
                if is_separating(tag) && !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
                i = end + 1;
                continue;
            }
        } else if b == b'&' {
            if let Some((decoded, len)) = entity_at(&s[i..]) {
                out.push(decoded);
                i += len;
                continue;
            }
        }
        let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
        out.push(c);
        i += c.len_utf8();
    }
    let collapsed = collapse_spaces(&out);
    (collapsed, hrefs)
}

fn tag_end(s: &str, start: usize) -> Option<usize> {
    let rest = &s.as_bytes()[start + 1..];
    let first = *rest.first()?;
    if !(first.is_ascii_alphabetic() || first == b'/' || first == b'!') {
        return None;
    }
    let window = &rest[..rest.len().min(2048)];
    window
        .iter()
        .position(|&b| b == b'>')
        .map(|p| start + 1 + p)
}

fn is_separating(tag: &str) -> bool {
    let name: String = tag
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    !matches!(
        name.as_str(),
        "a" | "b"
            | "i"
            | "u"
            | "em"
            | "strong"
            | "span"
            | "s"
            | "small"
            | "sup"
            | "sub"
            | "code"
            | "font"
            | "mark"
            | "del"
            | "ins"
            | "strike"
            | "tt"
            | "q"
            | "cite"
            | "abbr"
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
            if super::is_invisible(c) || (c.is_control() && c != '\n') {
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

fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
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
        let (_, hrefs) =
            strip_html("<a href='http://a.example/x'>a</a> <A HREF=http://b.example>b</A>");
        assert_eq!(hrefs, vec!["http://a.example/x", "http://b.example"]);
    }

    #[test]
    fn numeric_entities_decode() {
        assert_eq!(strip_html("caf&#233; &#x41;").0, "café A");
    }

    #[test]
    fn inline_tags_do_not_split_words() {
        assert_eq!(strip_html("sub<b>scri</b>be<br/>now").0, "subscribe now");
    }
}

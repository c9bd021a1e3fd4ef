//! Finding links in comment text and reducing them to domains.

use std::collections::HashSet;

use super::{lanes_equal, ONES};

/// Where a link was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSource {
    /// An HTML `href` (or `src`) attribute.
    Html,
    /// A BBCode `[url]` or `[url=...]` tag: forum-spam bots write these, blogs do not render them.
    BbCode,
    /// A bare `http(s)://` or `www.` URL in the text.
    Bare,
}

/// A link and its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URL as written (trailing punctuation trimmed).
    pub url: String,
    /// Lower-cased host without `www.` (empty when the URL has none).
    pub domain: String,
    /// How it was written.
    pub source: LinkSource,
}

/// Every link in `clean` text plus the `hrefs` the HTML stripper kept, in order, deduplicated
/// by URL so `<a href="X">X</a>` counts once; a URL in the text that only shows an href
/// (see [`ShownHrefs`]) is that link, not another.
pub fn find_links(clean: &str, hrefs: &[String]) -> Vec<Link> {
    let mut links: Vec<Link> = hrefs
        .iter()
        .filter(|h| looks_like_url(h))
        .map(|h| Link {
            url: h.clone(),
            domain: domain_of(h),
            source: LinkSource::Html,
        })
        .collect();
    let bytes = clean.as_bytes();
    // Almost no comment has a bare URL: the search for a marker is all most of them cost.
    let Some(mut marker) = next_url_marker(bytes, 0) else {
        return links;
    };
    // Keys borrowed from `hrefs` and `clean`, not from `links`, which grows while the set is
    // in use.
    let mut seen: HashSet<&str> = hrefs
        .iter()
        .map(String::as_str)
        .filter(|h| looks_like_url(h))
        .collect();
    // `links` holds the hrefs' links so far, first and in order.
    let mut shown = ShownHrefs::new(links.len());
    loop {
        // The whitespace-separated chunk around the marker: a marker holds no whitespace, so
        // these are exactly the chunks that contain one, in order.
        let chunk_start = clean[..marker]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let chunk_end = clean[marker..]
            .find(char::is_whitespace)
            .map_or(clean.len(), |p| marker + p);
        links_in_chunk(
            &clean[chunk_start..chunk_end],
            &mut shown,
            &mut seen,
            &mut links,
        );
        match next_url_marker(bytes, chunk_end) {
            Some(next) => marker = next,
            None => return links,
        }
    }
}

/// Appends the links of one whitespace-free `chunk` of text not already in `seen`.
fn links_in_chunk<'a>(
    chunk: &'a str,
    shown: &mut ShownHrefs,
    seen: &mut HashSet<&'a str>,
    links: &mut Vec<Link>,
) {
    let bytes = chunk.as_bytes();
    let mut from = 0;
    while let Some(start) = next_url_start(bytes, from) {
        let tail = &chunk[start..];
        let end = tail
            .find(['[', ']', '"', '\'', '<', '>'])
            .unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', '!', '?', ')', ';', ':']);
        from = start + end.max(1);
        if url.len() < 5 || !seen.insert(url) || shown.take(&tail[..end], links) {
            continue;
        }
        let before = &bytes[..start];
        let source =
            if ends_with_ignore_case(before, b"[url=") || ends_with_ignore_case(before, b"[url]") {
                LinkSource::BbCode
            } else {
                LinkSource::Bare
            };
        links.push(Link {
            url: url.to_string(),
            domain: domain_of(url),
            source,
        });
        if from >= bytes.len() {
            break;
        }
    }
}

/// Hrefs a URL written in the text may only be showing (the first `links` of
/// [`find_links`], those the hrefs made): an anchor's text is often its own
/// address, shortened ("https://x.example/lo…") or the host alone, and that is one link, not
/// two. A written URL shows an href when the href begins with it, compared without scheme,
/// `www.`, trailing slashes or ASCII case, up to a `/`, `?` or `#` of the href, or anywhere
/// when the text marks a cut with an ellipsis. Only hrefs counted as links take part, each
/// shows one written URL at most (so one anchor cannot hide several), and a comment with more
/// than [`MAX_SHOWN_HREFS`] of them gets no such allowance (it is link-stuffed whatever is
/// shown, and the comparisons stay bounded). A text naming another host than its href, a
/// deception spam uses, stays a link of its own.
struct ShownHrefs {
    /// How many of the first links are hrefs that may be shown (0 past the bound).
    hrefs: usize,
    /// Each such href's key (see [`link_key`]), `None` once it has shown a written URL.
    /// Made on the first written URL: most comments have none.
    keys: Option<Vec<Option<String>>>,
}

/// Above this many hrefs in a comment, no written URL is taken for one of them.
const MAX_SHOWN_HREFS: usize = 64;

impl ShownHrefs {
    /// For a comment whose first `hrefs` links come from hrefs.
    fn new(hrefs: usize) -> Self {
        ShownHrefs {
            hrefs: if hrefs <= MAX_SHOWN_HREFS { hrefs } else { 0 },
            keys: None,
        }
    }

    /// Whether `written` (a URL as cut from the text, trailing punctuation included) only
    /// shows an href of `links` (the comment's links so far) not yet taken; if so, that href
    /// is taken.
    fn take(&mut self, written: &str, links: &[Link]) -> bool {
        if self.hrefs == 0 {
            return false;
        }
        let written = written.trim_end_matches([',', '!', '?', ')', ';', ':']);
        let cut = written.ends_with("...") || written.ends_with('…');
        let shown = link_key(written.trim_end_matches(['.', '…']));
        if shown.is_empty() {
            return false;
        }
        let hrefs = &links[..self.hrefs];
        let keys = self
            .keys
            .get_or_insert_with(|| hrefs.iter().map(|l| Some(link_key(&l.url))).collect());
        let found = keys.iter_mut().find(|key| {
            key.as_deref().is_some_and(|href| {
                href.starts_with(&shown)
                    && (cut
                        || href.len() == shown.len()
                        || matches!(href.as_bytes()[shown.len()], b'/' | b'?' | b'#'))
            })
        });
        match found {
            Some(key) => {
                *key = None;
                true
            }
            None => false,
        }
    }
}

/// A URL reduced for comparing what it points at: ASCII lower case, no scheme, no `www.`,
/// no trailing slashes.
fn link_key(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let rest = ["http://", "https://", "//"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .unwrap_or(&url);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    rest.trim_end_matches('/').to_string()
}

/// Where the first `http` or `www.`, in any case, starts at or after `from`.
///
/// Every marker ends in `p`/`P` or `.`, which are rare in prose: those are looked for eight
/// bytes at a time, and only the four bytes ending at one are compared.
fn next_url_marker(hay: &[u8], from: usize) -> Option<usize> {
    // Setting the lower-case bit maps only `P` and `p` to `p`.
    let ends_marker = |b: u8| b | 0x20 == b'p' || b == b'.';
    // `end` is where the last byte of a candidate marker sits; the first is at `end - 3`.
    let mut end = from + 3;
    while let Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) = hay.get(end..end + 8) {
        let x = u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]);
        let mut ends = lanes_equal(x | (0x20 * ONES), b'p') | lanes_equal(x, b'.');
        while ends != 0 {
            let start = end + ends.trailing_zeros() as usize / 8 - 3;
            if marker_at(hay, start) {
                return Some(start);
            }
            ends &= ends - 1;
        }
        end += 8;
    }
    (end..hay.len())
        .find(|&end| ends_marker(hay[end]) && marker_at(hay, end - 3))
        .map(|end| end - 3)
}

/// Whether `http` or `www.` in any case starts at `start`: the four bytes read as one
/// number, with the lower-case bit set on the letters' positions (only `H`/`h` become `h`
/// that way, and so on; the `.` is compared exactly).
fn marker_at(hay: &[u8], start: usize) -> bool {
    const HTTP: u32 = u32::from_le_bytes(*b"http");
    const WWW: u32 = u32::from_le_bytes(*b"www.");
    let Some(&[a, b, c, d]) = hay.get(start..start + 4) else {
        return false;
    };
    let x = u32::from_le_bytes([a, b, c, d]);
    x | 0x2020_2020 == HTTP || x | 0x0020_2020 == WWW
}

/// Where the first `http://`, `https://` or `www.`, in any case, starts at or after `from`.
fn next_url_start(chunk: &[u8], from: usize) -> Option<usize> {
    (from..chunk.len()).find(|&i| {
        let rest = &chunk[i..];
        starts_with_ignore_case(rest, b"http://")
            || starts_with_ignore_case(rest, b"https://")
            || starts_with_ignore_case(rest, b"www.")
    })
}

fn starts_with_ignore_case(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

fn ends_with_ignore_case(hay: &[u8], suffix: &[u8]) -> bool {
    hay.len() >= suffix.len() && hay[hay.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

fn looks_like_url(s: &str) -> bool {
    let l = s.trim_start().as_bytes();
    ["http://", "https://", "www.", "//"]
        .iter()
        .any(|prefix| starts_with_ignore_case(l, prefix.as_bytes()))
}

/// The lower-cased host of a URL, without `www.`, user info or port.
pub fn domain_of(url: &str) -> String {
    let s = url.trim();
    // Only a real scheme (`https://`) counts, not a `://` inside a path or query string.
    let is_scheme = |scheme: &str| {
        let mut bytes = scheme.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
    };
    let after_scheme = match s.find("://") {
        Some(p) if is_scheme(&s[..p]) => &s[p + 3..],
        _ => s.trim_start_matches('/'),
    };
    let host_port = after_scheme
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or("");
    let host = host_port.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("").trim_end_matches('.');
    let host = host.to_lowercase();
    host.strip_prefix("www.")
        .map(str::to_string)
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_marker(hay: &[u8]) -> bool {
        next_url_marker(hay, 0).is_some()
    }

    #[test]
    fn url_marker_matches_a_case_insensitive_search() {
        // Every 4-byte string over bytes that look alike once the lower-case bit is set.
        let alphabet = b"hHtTpPwW.\x0e\x08\x10Nx";
        let naive = |hay: &[u8]| {
            hay.windows(4)
                .any(|w| w.eq_ignore_ascii_case(b"http") || w.eq_ignore_ascii_case(b"www."))
        };
        let mut hay = [0u8; 4];
        for i in 0..alphabet.len().pow(4) {
            let mut rest = i;
            for b in &mut hay {
                *b = alphabet[rest % alphabet.len()];
                rest /= alphabet.len();
            }
            assert_eq!(has_marker(&hay), naive(&hay), "{hay:?}");
        }
        assert!(has_marker(b"see WWW.example.org") && !has_marker(b"www"));
    }

    #[test]
    fn url_marker_matches_a_case_insensitive_search_in_longer_text() {
        let alphabet = b"hHtTpPwW.\x0e x";
        let naive = |hay: &[u8]| {
            hay.windows(4)
                .any(|w| w.eq_ignore_ascii_case(b"http") || w.eq_ignore_ascii_case(b"www."))
        };
        let mut next = crate::testing::picker(9);
        for _ in 0..50_000 {
            let hay: Vec<u8> = (0..next(40))
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            assert_eq!(has_marker(&hay), naive(&hay), "{hay:?}");
        }
    }

    #[test]
    fn url_marker_is_found_at_every_position() {
        for len in 0..200 {
            let filler = vec![b'x'; len];
            assert!(!has_marker(&filler), "{len}");
            for marker in [&b"hTtP"[..], b"WwW.", b"www\x0e"] {
                for at in 0..(len + 1).saturating_sub(4) {
                    let mut hay = filler.clone();
                    hay[at..at + 4].copy_from_slice(marker);
                    let want = marker != b"www\x0e";
                    assert_eq!(has_marker(&hay), want, "{len} {at} {marker:?}");
                }
            }
        }
    }

    /// `find_links` as first written: every whitespace-separated chunk, lower-cased copies
    /// and owned keys.
    fn find_links_reference(clean: &str, hrefs: &[String]) -> Vec<Link> {
        let mut links: Vec<Link> = hrefs
            .iter()
            .filter(|h| looks_like_url(h))
            .map(|h| Link {
                url: h.clone(),
                domain: domain_of(h),
                source: LinkSource::Html,
            })
            .collect();
        let mut seen: HashSet<String> = links.iter().map(|l| l.url.clone()).collect();
        // The hrefs a written URL may show, lower-cased, each usable once.
        let mut showable: Vec<Option<String>> = if links.len() <= MAX_SHOWN_HREFS {
            links.iter().map(|l| Some(l.url.clone())).collect()
        } else {
            Vec::new()
        };
        for chunk in clean.split_whitespace() {
            let lower = chunk.to_ascii_lowercase();
            let mut from = 0;
            while let Some(start) = ["http://", "https://", "www."]
                .iter()
                .filter_map(|p| lower[from..].find(p))
                .min()
                .map(|p| p + from)
            {
                let tail = &chunk[start..];
                let end = tail
                    .find(['[', ']', '"', '\'', '<', '>'])
                    .unwrap_or(tail.len());
                let url = tail[..end].trim_end_matches(['.', ',', '!', '?', ')', ';', ':']);
                from = start + end.max(1);
                if url.len() < 5 || !seen.insert(url.to_string()) {
                    continue;
                }
                if let Some(slot) = showable.iter_mut().find(|h| {
                    h.as_deref()
                        .is_some_and(|h| reference_shows(&tail[..end], h))
                }) {
                    *slot = None;
                    continue;
                }
                let before = &lower[..start];
                let source = if before.ends_with("[url=") || before.ends_with("[url]") {
                    LinkSource::BbCode
                } else {
                    LinkSource::Bare
                };
                links.push(Link {
                    url: url.to_string(),
                    domain: domain_of(url),
                    source,
                });
                if from >= lower.len() {
                    break;
                }
            }
        }
        links
    }

    /// The reference's own reading of "the written URL only shows this href": both reduced
    /// by splitting off a scheme and dropping one `www.` and the trailing slashes, then a
    /// prefix ending at a path, query or fragment of the href, or anywhere after an ellipsis.
    fn reference_shows(written: &str, href: &str) -> bool {
        fn reduce(u: &str) -> String {
            let u = u.trim().to_ascii_lowercase();
            let u = match u.split_once("://") {
                Some((scheme, rest)) if scheme == "http" || scheme == "https" => rest.to_string(),
                _ if u.get(..2) == Some("//") => u[2..].to_string(),
                _ => u,
            };
            let mut u = match u.get(..4) {
                Some("www.") => u[4..].to_string(),
                _ => u,
            };
            while u.ends_with('/') {
                u.pop();
            }
            u
        }
        let mut w = written.to_string();
        while w.ends_with([',', '!', '?', ')', ';', ':']) {
            w.pop();
        }
        let cut = w.ends_with("...") || w.ends_with('…');
        while w.ends_with(['.', '…']) {
            w.pop();
        }
        let (w, h) = (reduce(&w), reduce(href));
        if w.is_empty() || !h.starts_with(&w) {
            return false;
        }
        cut || h.len() == w.len() || "/?#".contains(h.as_bytes()[w.len()] as char)
    }

    #[test]
    fn find_links_matches_the_reference() {
        const PIECES: &[&str] = &[
            "http://",
            "HTTPS://",
            "hTtp",
            "www.",
            "WwW.",
            "[url=",
            "[URL]",
            "[/url]",
            " ",
            "\u{3000}",
            "\u{A0}",
            "a.example",
            "/p?q=1",
            ".",
            ",",
            ")",
            "\"",
            "<",
            ">",
            "[",
            "]",
            "é",
            "x",
            "p",
            "w",
            "://",
            "ww",
            "...",
            "…",
            "/",
            "a.example/p",
        ];
        let hrefs_pool = [
            "http://a.example",
            "www.a.example",
            " //b.example",
            "mailto:x@y.example",
            "https://a.example/p?q=1",
            "a.example",
            "HTTP://A.EXAMPLE/",
        ];
        let mut next = crate::testing::picker(11);
        for _ in 0..30_000 {
            let text: String = (0..next(24)).map(|_| PIECES[next(PIECES.len())]).collect();
            let hrefs: Vec<String> = (0..next(3))
                .map(|_| hrefs_pool[next(hrefs_pool.len())].to_string())
                .collect();
            assert_eq!(
                find_links(&text, &hrefs),
                find_links_reference(&text, &hrefs),
                "{text:?} {hrefs:?}"
            );
        }
    }

    #[test]
    fn bare_and_bbcode_links_are_found() {
        let links = find_links(
            "see http://a.example/x. and [url=http://b.example]b[/url] www.C.example",
            &[],
        );
        let got: Vec<(&str, &str, LinkSource)> = links
            .iter()
            .map(|l| (l.url.as_str(), l.domain.as_str(), l.source))
            .collect();
        assert_eq!(
            got,
            vec![
                ("http://a.example/x", "a.example", LinkSource::Bare),
                ("http://b.example", "b.example", LinkSource::BbCode),
                ("www.C.example", "c.example", LinkSource::Bare),
            ]
        );
    }

    #[test]
    fn href_repeated_as_text_counts_once() {
        let links = find_links("http://a.example", &["http://a.example".to_string()]);
        assert_eq!(links.len(), 1);
    }

    /// Each case: the anchor's text (as the stripped text holds it), its href, the links
    /// counted, and why.
    #[test]
    fn an_anchor_showing_its_own_address_is_one_link() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "http://lebensverrueckt.example....",
                "http://lebensverrueckt.example.org/",
                1,
                "a long address shortened with an ellipsis",
            ),
            (
                "https://blog.example/posts/…",
                "https://blog.example/posts/2024/hello",
                1,
                "shortened with the ellipsis character",
            ),
            (
                "www.Shop.example",
                "http://www.shop.example/profiles/blogs/x",
                1,
                "the host alone, in another case and without the scheme",
            ),
            (
                "http://a.example",
                "https://a.example/",
                1,
                "another scheme and a trailing slash",
            ),
            (
                "http://a.example/page",
                "http://a.example/page2",
                2,
                "cut mid-name without an ellipsis: another page",
            ),
            (
                "http://good.example",
                "http://203.0.113.7/index.php",
                2,
                "text naming another host than the link goes to",
            ),
            (
                "http://a.example.evil.example",
                "http://a.example",
                2,
                "the href begins the text, not the other way",
            ),
        ];
        for &(text, href, want, why) in cases {
            let links = find_links(text, &[href.to_string()]);
            assert_eq!(links.len(), want, "{why}: {text:?} → {href:?}: {links:?}");
        }
        let hrefs = |h: &[&str]| h.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        assert_eq!(
            find_links(
                "buy http://shop.example/pills http://b.example/x",
                &hrefs(&["shop.example/pills", "b.example/x"])
            )
            .len(),
            2,
            "an href that is not a link (no scheme) hides nothing"
        );
        assert_eq!(
            find_links(
                "http://spam.example... http://spam.exam...",
                &hrefs(&["http://spam.example.test/"])
            )
            .len(),
            2,
            "one anchor shows one written URL: the second is a link of its own"
        );
        assert_eq!(
            find_links(
                "(http://a.example/lo...)",
                &hrefs(&["http://a.example/long/path"])
            )
            .len(),
            1,
            "a cut inside parentheses is still a cut"
        );
        let many: Vec<String> = (0..=MAX_SHOWN_HREFS)
            .map(|i| format!("http://h{i}.example/"))
            .collect();
        assert_eq!(
            find_links("http://h0.example", &many).len(),
            MAX_SHOWN_HREFS + 2,
            "past the bound no written URL is taken for an href"
        );
    }

    #[test]
    fn a_url_in_the_query_is_not_the_host() {
        assert_eq!(
            domain_of("www.spam.example/?r=http://youtube.com"),
            "spam.example"
        );
        assert_eq!(
            domain_of("//good.example/?x=https://evil.example"),
            "good.example"
        );
    }

    #[test]
    fn domain_drops_userinfo_port_and_www() {
        assert_eq!(
            domain_of("https://user:pw@WWW.Example.COM:8080/p?q"),
            "example.com"
        );
    }
}

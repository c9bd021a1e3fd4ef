//! Finding links in comment text and reducing them to domains.

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
/// by URL so `<a href="X">X</a>` counts once.
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
    // Almost no comment has a bare URL; checking once spares a lowercase copy of every word.
    if !has_url_marker(clean.as_bytes()) {
        return links;
    }
    // Owned keys: `links` grows while the set is in use.
    let mut seen: std::collections::HashSet<String> = links.iter().map(|l| l.url.clone()).collect();
    for chunk in clean.split_whitespace() {
        if !has_url_marker(chunk.as_bytes()) {
            continue;
        }
        let lower = chunk.to_ascii_lowercase();
        let mut from = 0;
        while let Some(start) = next_url_start(&lower[from..]).map(|p| p + from) {
            let tail = &chunk[start..];
            let end = tail
                .find(['[', ']', '"', '\'', '<', '>'])
                .unwrap_or(tail.len());
            let url = tail[..end].trim_end_matches(['.', ',', '!', '?', ')', ';', ':']);
            from = start + end.max(1);
            if url.len() < 5 || !seen.insert(url.to_string()) {
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

/// Whether `hay` contains `http` or `www.` in any case.
///
/// Every marker ends in `p`/`P` or `.`, which are rare in prose: those are looked for eight
/// bytes at a time, and only the four bytes ending at one are compared.
fn has_url_marker(hay: &[u8]) -> bool {
    // Setting the lower-case bit maps only `P` and `p` to `p`.
    let ends_marker = |b: u8| b | 0x20 == b'p' || b == b'.';
    // `end` is where the last byte of a candidate marker sits; the first is at `end - 3`.
    let mut end = 3;
    while let Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) = hay.get(end..end + 8) {
        let x = u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]);
        let mut ends = lanes_equal(x | 0x20 * ONES, b'p') | lanes_equal(x, b'.');
        while ends != 0 {
            let lane = ends.trailing_zeros() as usize / 8;
            if marker_at(hay, end + lane - 3) {
                return true;
            }
            ends &= ends - 1;
        }
        end += 8;
    }
    (end..hay.len()).any(|end| ends_marker(hay[end]) && marker_at(hay, end - 3))
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

fn next_url_start(lower: &str) -> Option<usize> {
    ["http://", "https://", "www."]
        .iter()
        .filter_map(|p| lower.find(p))
        .min()
}

fn looks_like_url(s: &str) -> bool {
    let l = s.trim_start().to_ascii_lowercase();
    l.starts_with("http://")
        || l.starts_with("https://")
        || l.starts_with("www.")
        || l.starts_with("//")
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
            assert_eq!(has_url_marker(&hay), naive(&hay), "{hay:?}");
        }
        assert!(has_url_marker(b"see WWW.example.org") && !has_url_marker(b"www"));
    }

    #[test]
    fn url_marker_matches_a_case_insensitive_search_in_longer_text() {
        let alphabet = b"hHtTpPwW.\x0e x";
        let naive = |hay: &[u8]| {
            hay.windows(4)
                .any(|w| w.eq_ignore_ascii_case(b"http") || w.eq_ignore_ascii_case(b"www."))
        };
        let mut state = 9u64;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        for _ in 0..50_000 {
            let hay: Vec<u8> = (0..next(40)).map(|_| alphabet[next(alphabet.len())]).collect();
            assert_eq!(has_url_marker(&hay), naive(&hay), "{hay:?}");
        }
    }

    #[test]
    fn url_marker_is_found_at_every_position() {
        for len in 0..200 {
            let filler = vec![b'x'; len];
            assert!(!has_url_marker(&filler), "{len}");
            for marker in [&b"hTtP"[..], b"WwW.", b"www\x0e"] {
                for at in 0..(len + 1).saturating_sub(4) {
                    let mut hay = filler.clone();
                    hay[at..at + 4].copy_from_slice(marker);
                    let want = marker != b"www\x0e";
                    assert_eq!(has_url_marker(&hay), want, "{len} {at} {marker:?}");
                }
            }
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

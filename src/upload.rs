//! The `import` command's client: streams a file to a running service's
//! `POST /v1/admin/import` over plain HTTP/1.1 (the service speaks no TLS itself; put a
//! TLS-terminating proxy's plain side, or `localhost`, in `--url`). No HTTP client crate:
//! one request with a known length and one answer read to the end.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Where to send: `http://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path prefix before `/v1/…` (empty for none).
    pub prefix: String,
}

impl ServiceUrl {
    /// Parses `url`; only `http://` is supported.
    pub fn parse(url: &str) -> Result<ServiceUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("--url must start with http:// (put a TLS proxy's plain side here)")?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| "the port in --url is not a number")?,
            ),
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err("--url has no host".into());
        }
        Ok(ServiceUrl {
            host: host.to_owned(),
            port,
            prefix: prefix.to_owned(),
        })
    }
}

/// Percent-encodes a query value.
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The service's answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body, read to its end.
    pub body: Vec<u8>,
}

/// Sends `body` (`length` bytes) as `POST path_and_query` with `key` as the bearer key,
/// calling `sent` with the bytes sent so far; returns the answer. An answer that comes
/// before the whole body was sent (a refusal) is still read and returned.
pub fn post_stream(
    url: &ServiceUrl,
    path_and_query: &str,
    key: Option<&str>,
    mut body: impl Read,
    length: u64,
    sent: &mut dyn FnMut(u64),
) -> io::Result<Answer> {
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))?;
    stream.set_read_timeout(Some(Duration::from_secs(3600)))?;
    let mut head = format!(
        "POST {}{} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {length}\r\nConnection: close\r\n",
        url.prefix, path_and_query, url.host, url.port
    );
    if let Some(key) = key {
        head.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = body.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Err(e) = stream.write_all(&buf[..n]) {
            // The service may have answered and closed early: read what it said.
            return read_answer(stream).map_err(|_| e);
        }
        total += n as u64;
        sent(total);
    }
    read_answer(stream)
}

fn read_answer(stream: TcpStream) -> io::Result<Answer> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| io::Error::other("the service's answer is not HTTP"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-length" {
                length = value.parse().ok();
            } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::other("bad chunk in the service's answer"))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Host, port and path prefix, or `None` when the URL is refused.
    type Parsed = Option<(&'static str, u16, &'static str)>;

    #[test]
    fn service_urls_parse() {
        // (url, what it parses to, why)
        let cases: [(&str, Parsed, &str); 5] = [
            (
                "http://127.0.0.1:8080",
                Some(("127.0.0.1", 8080, "")),
                "host and port",
            ),
            (
                "http://cg.internal/",
                Some(("cg.internal", 80, "")),
                "default port",
            ),
            ("http://h:9/api/", Some(("h", 9, "/api")), "a path prefix"),
            ("https://h", None, "no TLS in this client"),
            ("http://h:x", None, "a bad port"),
        ];
        for (url, want, why) in cases {
            let got = ServiceUrl::parse(url).ok();
            let want = want.map(|(h, p, x)| ServiceUrl {
                host: h.into(),
                port: p,
                prefix: x.into(),
            });
            assert_eq!(got, want, "{why}");
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_query_value("https://blog.example/a b?c"),
            "https%3A%2F%2Fblog.example%2Fa%20b%3Fc"
        );
    }
}

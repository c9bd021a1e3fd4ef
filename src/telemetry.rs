//! The tracing subscriber, and helpers that keep personal data out of logs.
//!
//! Privacy rule for every log line in the project: never log a comment body, an author name,
//! an e-mail address, an IP or a URL the commenter typed. Log ids, lengths, verdicts and
//! [`fingerprint`]s (xxh3 hashes) instead; a fingerprint lets an operator match a log line to
//! a comment they already have without the log revealing the comment.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Filter used when `RUST_LOG` is unset or invalid.
const DEFAULT_FILTER: &str = "info";

/// Installs the global tracing subscriber, writing to stderr in `format`, filtered by
/// `RUST_LOG` (default `info`).
///
/// Logs go to stderr so that the CLI commands can keep stdout for their JSON output.
/// Fails if a subscriber is already installed.
pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // Colour codes only help a terminal; in files and collectors they are noise.
        LogFormat::Pretty => builder
            .pretty()
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}

/// A short, stable, non-reversible-in-practice identifier of `text` for logs: its xxh3-64
/// hash as 16 lowercase hex digits.
///
/// xxh3 is not a cryptographic hash; it is enough to correlate log lines, not to hide a
/// guessable value (so do not fingerprint e-mail addresses either, just leave them out).
pub fn fingerprint(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_hex() {
        let a = fingerprint("Great recipe, thanks!");
        assert_eq!(a.len(), 16);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(a, fingerprint("Great recipe, thanks!"));
        assert_ne!(a, fingerprint("Great recipe, thanks"));
    }
}

//! The tracing subscriber, and helpers that keep personal data out of logs or keep a failing
//! dependency from flooding them ([`WarnThrottle`]).
//!
//! Privacy rule for every log line in the project: never log a comment body, an author name,
//! an e-mail address, an IP or a URL the commenter typed. Log ids, lengths, verdicts and
//! [`fingerprint`]s (xxh3 hashes) instead; a fingerprint lets an operator match a log line to
//! a comment they already have without the log revealing the comment.

use std::io::IsTerminal;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Filter used when `RUST_LOG` is unset or invalid.
const DEFAULT_FILTER: &str = "info";

/// Installs the global tracing subscriber, writing to stderr in `format`, filtered by
/// `RUST_LOG` (default `info`), then the panic hook of [`install_panic_hook`].
///
/// Logs go to stderr so that the CLI commands can keep stdout for their JSON output.
/// Fails if a subscriber is already installed (and then leaves the panic hook alone).
pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colour codes only help a terminal; in files and collectors they are noise.
    let ansi = std::io::stderr().is_terminal();
    tracing::subscriber::set_global_default(subscriber(format, filter, ansi, std::io::stderr))
        .map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))?;
    install_panic_hook();
    Ok(())
}

/// The subscriber [`init`] installs, writing to `writer` instead of stderr; `ansi` only
/// matters for [`LogFormat::Pretty`].
///
/// Public so that tests can capture exactly what production would log.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .finish(),
        ),
        LogFormat::Pretty => Box::new(builder.pretty().with_ansi(ansi).finish()),
    }
}

/// Replaces Rust's default panic hook, which prints the panic message to stderr (the log
/// stream), with one that logs through tracing only where the panic happened (file:line)
/// and on which thread.
///
/// Panic messages can quote request data: a string-slicing panic, for one, quotes up to 256
/// bytes of the string, which may be a comment body. The HTTP route turns a panic into an
/// opaque 500 logged with the content hash; this hook makes sure the message itself is
/// not printed on the way.
///
/// Process-wide state: call it once, at startup ([`init`] does). Tests do not install it,
/// so their failures keep their messages.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(log_panic));
}

/// The body of the hook [`install_panic_hook`] installs: location and thread, never the
/// payload.
fn log_panic(info: &PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()));
    let thread = std::thread::current();
    tracing::error!(
        location = location.as_deref().unwrap_or("<unknown>"),
        thread = thread.name().unwrap_or("<unnamed>"),
        "panic (message withheld: it may quote request data)"
    );
}

/// A short, stable, non-reversible-in-practice identifier of `text` for logs: its xxh3-64
/// hash as 16 lowercase hex digits.
///
/// xxh3 is not a cryptographic hash; it is enough to correlate log lines, not to hide a
/// guessable value (so do not fingerprint e-mail addresses either, just leave them out).
pub fn fingerprint(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// Lets one warning through per period and counts the rest: while a dependency is down (a
/// review history store, say) every request fails the same way, and a log line per request
/// would bury the logs (the failures are all counted in the metrics anyway).
#[derive(Debug, Default)]
pub struct WarnThrottle {
    /// Unix seconds of the last warning let through (0: none yet).
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl WarnThrottle {
    /// Seconds between two warnings.
    pub const PERIOD_SECS: u64 = 10;

    /// `Some(n)` when a warning may be logged at `now_secs`, `n` being how many were held
    /// back since the last one; `None` to stay quiet.
    pub fn allow(&self, now_secs: u64) -> Option<u64> {
        let last = self.last.load(Ordering::Relaxed);
        // A clock stepped back must not silence warnings for the size of the step.
        let due =
            last == 0 || now_secs < last || now_secs >= last.saturating_add(Self::PERIOD_SECS);
        // One caller wins the slot; the others count as held back.
        if due
            && self
                .last
                .compare_exchange(last, now_secs.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// [`WarnThrottle::allow`] at the current time.
    pub fn allow_now(&self) -> Option<u64> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.allow(now)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::panic;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log sink the test can read back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    #[test]
    fn panic_hook_logs_the_location_never_the_message() {
        const THREAD: &str = "panic-hook-test";
        const SECRET: &str = "jane.secret@example.com";
        // The hook is process-wide and other tests run in parallel: ours handles panics on
        // the test's own thread only, and everything else goes to the hook that was there.
        let previous: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync> = Arc::from(panic::take_hook());
        let fallback = Arc::clone(&previous);
        panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(THREAD) {
                log_panic(info);
            } else {
                fallback(info);
            }
        }));

        let logs = Buffer::default();
        let sink = logs.clone();
        let line = std::thread::Builder::new()
            .name(THREAD.to_owned())
            .spawn(move || {
                let filter = EnvFilter::new("trace");
                let subscriber = subscriber(LogFormat::Json, filter, false, move || sink.clone());
                tracing::subscriber::with_default(subscriber, || {
                    let line = line!() + 1;
                    panic::catch_unwind(|| panic!("cannot score {SECRET}")).unwrap_err();
                    line
                })
            })
            .unwrap()
            .join()
            .unwrap();
        let _ = panic::take_hook();
        panic::set_hook(Box::new(move |info| previous(info)));

        let text = logs.text();
        assert!(!text.contains("secret"), "the message leaked: {text}");
        let event: serde_json::Value = serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("not one JSON line ({e}): {text}"));
        assert_eq!(event["level"], "ERROR", "{text}");
        assert_eq!(event["thread"], THREAD, "{text}");
        assert_eq!(event["location"], format!("{}:{line}", file!()), "{text}");
    }

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

    #[test]
    fn warnings_come_once_per_period_with_the_count_held_back() {
        let throttle = WarnThrottle::default();
        assert_eq!(throttle.allow(1000), Some(0), "the first one");
        for _ in 0..5 {
            assert_eq!(throttle.allow(1005), None);
        }
        assert_eq!(
            throttle.allow(1010),
            Some(5),
            "next period, with the five held back"
        );
        assert_eq!(throttle.allow(1011), None);
        assert_eq!(throttle.allow(900), Some(1), "a clock stepped back");
    }
}

//! Rate limits: a token bucket (GCRA, from `governor`) per API key, with per-role quotas,
//! and per client IP where no key identifies the caller (open local mode, requests with an
//! unknown key, and Akismet calls whose key is in the form body).
//!
//! Pure decisions only; `startup` applies them to requests (and exempts the probes and
//! `/metrics`), `routes::error` turns a refusal into `429 rate_limited` with `Retry-After`.
//!
//! The client IP is the TCP peer unless the peer is a configured trusted proxy
//! ([`TrustedProxies`]): behind a reverse proxy every caller would otherwise share the
//! proxy's one bucket.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::keys::Role;

/// Default sustained rate per key or IP, in requests per second.
///
/// A busy blog platform scoring every comment from one server sends a few requests per
/// second, and a spam wave or a bulk re-check a few hundred; one instance scores about
/// 3,000-5,000 comments per second on two cores. 1,000/s (burst 2,000) never limits a real
/// platform and still stops one runaway client from taking the whole instance.
pub const DEFAULT_PER_SECOND: u32 = 1000;

/// One bucket's size: `per_second` sustained, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once after a quiet period.
    pub burst: NonZeroU32,
}

impl Limit {
    /// `per_second` with the default burst of twice that.
    pub fn with_default_burst(per_second: NonZeroU32) -> Limit {
        Limit {
            per_second,
            burst: per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1)),
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s burst {}", self.per_second, self.burst)
    }
}

/// The configured limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Per client IP (open mode, unknown keys, Akismet calls without a Host key).
    pub ip: Option<Limit>,
    /// Per site key.
    pub site: Option<Limit>,
    /// Per moderator key.
    pub moderator: Option<Limit>,
    /// Per admin key.
    pub admin: Option<Limit>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        let limit = NonZeroU32::new(DEFAULT_PER_SECOND).map(Limit::with_default_burst);
        RateLimitSettings {
            ip: limit,
            site: limit,
            moderator: limit,
            admin: limit,
        }
    }
}

/// Who a request is counted against.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A valid API key: its id and role.
    Key {
        /// The key's id (never the key itself).
        key_id: &'a str,
        /// The key's role, which picks the quota.
        role: Role,
    },
    /// The client's IP address.
    Ip(IpAddr),
}

impl Subject<'_> {
    /// `key` or `ip`, for the metrics label.
    pub fn scope(&self) -> &'static str {
        match self {
            Subject::Key { .. } => "key",
            Subject::Ip(_) => "ip",
        }
    }
}

/// Reverse proxies whose `X-Forwarded-For` is believed (`COMMENTGUARD_TRUSTED_PROXIES`):
/// addresses and networks. Empty, the default, believes no header: anyone can write one, so
/// a client could otherwise pick a fresh bucket for every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of IP addresses and CIDR networks
    /// (`10.0.0.0/8, 127.0.0.1, ::1`); `None` if any item is neither.
    pub fn parse(list: &str) -> Option<TrustedProxies> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<ipnet::IpNet>()
                    .ok()
                    .or_else(|| item.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
            })
            .collect::<Option<Vec<_>>>()
            .map(TrustedProxies)
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies (or in one of their networks).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The address a request is counted against: the TCP `peer`, or, when the peer is a
    /// trusted proxy, the nearest address in its `X-Forwarded-For` lines (`forwarded_for`, in
    /// the order received) that is not itself a trusted proxy.
    ///
    /// Walked from the right because each proxy appends the address it saw: entries left of
    /// the first untrusted one were written by the client and prove nothing. An entry that
    /// is not an address stops the walk at the proxy that passed it on, so a garbled header
    /// costs the sender a shared bucket rather than giving it a new one.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for line in forwarded_for.rev() {
            for entry in line.rsplit(',') {
                let Some(ip) = forwarded_address(entry.trim()) else {
                    return client;
                };
                client = ip.to_canonical();
                if !self.trusts(client) {
                    return client;
                }
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`), as some proxies write it.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// The limiters: one keyed bucket set per role, and one by IP.
pub struct RateLimiters {
    ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Indexed by [`role_index`].
    roles: [Option<DefaultKeyedRateLimiter<u64>>; 3],
    clock: DefaultClock,
}

fn keyed<K: std::hash::Hash + Eq + Clone>(
    limit: Option<Limit>,
) -> Option<DefaultKeyedRateLimiter<K>> {
    limit.map(|l| RateLimiter::keyed(Quota::per_second(l.per_second).allow_burst(l.burst)))
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Site => 0,
        Role::Moderator => 1,
        Role::Admin => 2,
    }
}

impl RateLimiters {
    /// Empty buckets for `settings`.
    pub fn new(settings: &RateLimitSettings) -> RateLimiters {
        RateLimiters {
            ip: keyed(settings.ip),
            roles: [
                keyed(settings.site),
                keyed(settings.moderator),
                keyed(settings.admin),
            ],
            clock: DefaultClock::default(),
        }
    }

    /// Takes one token from `subject`'s bucket; `Err` carries how long until the next one.
    pub fn check(&self, subject: Subject<'_>) -> Result<(), Duration> {
        let outcome = match subject {
            Subject::Ip(ip) => match &self.ip {
                Some(limiter) => limiter.check_key(&ip),
                None => return Ok(()),
            },
            Subject::Key { key_id, role } => match &self.roles[role_index(role)] {
                // Keyed by a hash of the id rather than the id, so that no request allocates;
                // two ids sharing a 64-bit hash would share a bucket, which is harmless.
                Some(limiter) => limiter.check_key(&xxhash_rust::xxh3::xxh3_64(key_id.as_bytes())),
                None => return Ok(()),
            },
        };
        outcome.map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets buckets that are full again, so memory follows the recently active callers,
    /// not every IP ever seen; call every few seconds.
    pub fn upkeep(&self) {
        if let Some(limiter) = &self.ip {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in self.roles.iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Whole seconds to put in `Retry-After`: the wait rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_believes_only_trusted_proxies() {
        struct Case {
            name: &'static str,
            trusted: &'static str,
            peer: &'static str,
            forwarded_for: &'static [&'static str],
            client: &'static str,
            why: &'static str,
        }
        let cases = [
            Case {
                name: "no proxies trusted",
                trusted: "",
                peer: "198.51.100.7",
                forwarded_for: &["192.0.2.1"],
                client: "198.51.100.7",
                why: "by default the header is anyone's to write",
            },
            Case {
                name: "untrusted peer",
                trusted: "10.0.0.0/8",
                peer: "198.51.100.7",
                forwarded_for: &["192.0.2.1"],
                client: "198.51.100.7",
                why: "only a trusted proxy's header counts",
            },
            Case {
                name: "one proxy",
                trusted: "10.0.0.0/8",
                peer: "10.1.2.3",
                forwarded_for: &["192.0.2.1"],
                client: "192.0.2.1",
                why: "the proxy says whom it served",
            },
            Case {
                name: "spoofed left entry",
                trusted: "10.0.0.0/8",
                peer: "10.1.2.3",
                forwarded_for: &["203.0.113.9, 192.0.2.1"],
                client: "192.0.2.1",
                why: "entries left of the proxy's own were written by the client",
            },
            Case {
                name: "two proxies, two lines",
                trusted: "10.0.0.0/8, 127.0.0.1",
                peer: "127.0.0.1",
                forwarded_for: &["203.0.113.9, 192.0.2.1", "10.9.9.9"],
                client: "192.0.2.1",
                why: "trusted hops are skipped, several header lines read as one list",
            },
            Case {
                name: "all trusted",
                trusted: "10.0.0.0/8",
                peer: "10.1.2.3",
                forwarded_for: &["10.0.0.5"],
                client: "10.0.0.5",
                why: "a request from inside the proxy network counts as its first hop",
            },
            Case {
                name: "no header",
                trusted: "10.0.0.0/8",
                peer: "10.1.2.3",
                forwarded_for: &[],
                client: "10.1.2.3",
                why: "without a header the proxy itself is the client",
            },
            Case {
                name: "garbage entry",
                trusted: "10.0.0.0/8",
                peer: "10.1.2.3",
                forwarded_for: &["192.0.2.1, unknown"],
                client: "10.1.2.3",
                why: "a garbled entry is not a fresh bucket",
            },
            Case {
                name: "ports and brackets",
                trusted: "::1",
                peer: "::1",
                forwarded_for: &["[2001:db8::1]:4711"],
                client: "2001:db8::1",
                why: "some proxies write the client's port too",
            },
            Case {
                name: "mapped v4 peer",
                trusted: "127.0.0.1",
                peer: "::ffff:127.0.0.1",
                forwarded_for: &["192.0.2.1:80"],
                client: "192.0.2.1",
                why: "a dual-stack listener reports IPv4 peers as mapped IPv6",
            },
        ];
        for case in cases {
            let trusted = TrustedProxies::parse(case.trusted).unwrap();
            let got = trusted.client_ip(
                case.peer.parse().unwrap(),
                case.forwarded_for.iter().copied(),
            );
            assert_eq!(
                got,
                case.client.parse::<IpAddr>().unwrap(),
                "{}: {}",
                case.name,
                case.why
            );
        }
    }

    #[test]
    fn trusted_proxy_lists_parse_or_fail_whole() {
        assert_eq!(
            TrustedProxies::parse(" , ").unwrap(),
            TrustedProxies::default()
        );
        let list = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7 ,::1,fd00::/8").unwrap();
        assert_eq!(list.0.len(), 4);
        assert!(list.trusts("10.200.0.1".parse().unwrap()));
        assert!(!list.trusts("192.0.2.8".parse().unwrap()));
        for bad in [
            "10.0.0.0/33",
            "proxy.internal",
            "10.0.0.1, nope",
            "1.2.3.4:80",
        ] {
            assert!(TrustedProxies::parse(bad).is_none(), "{bad}");
        }
    }

    fn limit(per_second: u32, burst: u32) -> Option<Limit> {
        Some(Limit {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        })
    }

    #[test]
    fn burst_then_refusal_per_subject() {
        let limiters = RateLimiters::new(&RateLimitSettings {
            ip: limit(1, 3),
            site: limit(1, 2),
            moderator: None,
            admin: limit(1, 5),
        });
        let ip = Subject::Ip("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            assert!(limiters.check(ip).is_ok());
        }
        let wait = limiters.check(ip).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
        // Another IP has its own bucket.
        assert!(limiters
            .check(Subject::Ip("192.0.2.2".parse().unwrap()))
            .is_ok());

        let site = |key_id: &'static str| Subject::Key {
            key_id,
            role: Role::Site,
        };
        assert!(limiters.check(site("a")).is_ok());
        assert!(limiters.check(site("a")).is_ok());
        assert!(
            limiters.check(site("a")).is_err(),
            "the site role's burst is 2"
        );
        assert!(limiters.check(site("b")).is_ok(), "per key, not per role");
        let moderator = Subject::Key {
            key_id: "m",
            role: Role::Moderator,
        };
        for _ in 0..100 {
            assert!(
                limiters.check(moderator).is_ok(),
                "moderators are unlimited here"
            );
        }
        limiters.upkeep();
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }

    #[test]
    fn default_burst_is_twice_the_rate() {
        let l = Limit::with_default_burst(NonZeroU32::new(1000).unwrap());
        assert_eq!(l.burst.get(), 2000);
        assert_eq!(RateLimitSettings::default().site, Some(l));
    }
}

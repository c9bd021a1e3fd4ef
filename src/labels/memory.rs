//! Local spam memory: senders and link domains moderators confirmed as spam.
//!
//! Like Antispam Bee's local spam database: once a comment is labelled spam, its author's
//! e-mail address, IP address and link domains become signals for later comments; a ham
//! label on a comment clears every one of its keys again (a moderator vouching for a sender
//! or a domain beats any number of earlier spam labels). Pure: no IO.
//!
//! Bounded in bytes ([`MAX_MEMORY_BYTES`]): a site key's submit-spam is a label too, and one
//! 64 KiB comment can name thousands of link domains. Past the bound the keys confirmed
//! longest ago go first, one at a time; the order depends only on the labels' order, so
//! replicas replaying one log remember the same keys.

use std::collections::{HashMap, VecDeque};

use crate::domain::{Comment, Label};
use crate::rules::{RuleEffect, RuleHit};
use crate::text::{domain_of, normalize_content, NormalizedText};

/// Log-odds a confirmed spam link domain adds: a push, not a verdict, because a domain as
/// common as youtube.com can appear in spam and ham alike.
pub const DOMAIN_WEIGHT: f64 = 2.0;

/// What kind of key a memory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Email,
    Ip,
    Domain,
}

/// The keys of one comment the memory tracks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryKeys {
    /// Lower-cased author e-mail.
    pub email: Option<String>,
    /// The commenter's IP.
    pub ip: Option<String>,
    /// Link domains in the body and the author URL's domain, deduplicated.
    pub domains: Vec<String>,
}

impl MemoryKeys {
    /// The keys of `comment`.
    pub fn of(comment: &Comment) -> Self {
        Self::from_text(comment, &normalize_content(&comment.content))
    }

    /// [`MemoryKeys::of`] when the caller already has the normalised body.
    pub fn from_text(comment: &Comment, text: &NormalizedText) -> Self {
        let mut domains: Vec<String> = text
            .links
            .iter()
            .map(|l| l.domain.clone())
            .chain(comment.author_url.as_deref().map(domain_of))
            .filter(|d| !d.is_empty())
            .collect();
        domains.sort();
        domains.dedup();
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
        };
        MemoryKeys {
            email: clean(&comment.author_email),
            ip: clean(&comment.user_ip),
            domains,
        }
    }

    fn iter(&self) -> impl Iterator<Item = (Kind, &str)> {
        self.email
            .iter()
            .map(|e| (Kind::Email, e.as_str()))
            .chain(self.ip.iter().map(|i| (Kind::Ip, i.as_str())))
            .chain(self.domains.iter().map(|d| (Kind::Domain, d.as_str())))
    }
}

/// Most bytes (approximately) the spam memory keeps: about 30,000 keys.
pub const MAX_MEMORY_BYTES: usize = 4 * 1024 * 1024;

/// Bytes a key costs beyond its text (kept twice, in the map and in the order, each a heap
/// block with the allocator's header and rounding: [`heap_text`]): the map slot at its load
/// factor, the queue slot, the count and position.
const ENTRY_BYTES: usize = 112;

/// A key's text as the allocator holds it (see `cache::budget::heap`; labels stay pure).
fn heap_text(len: usize) -> usize {
    ((len + 8 + 15) & !15).max(32)
}

/// Spam counts per e-mail, IP and domain.
#[derive(Debug, Clone)]
pub struct SpamMemory {
    /// Spam labels per key, and the position of the last one.
    spam: HashMap<(Kind, String), (u32, u64)>,
    /// Keys by the position of their last spam label, oldest first; a key confirmed again
    /// appears again, and its older mention no longer matches its position and is skipped.
    order: VecDeque<((Kind, String), u64)>,
    /// Position of the last spam key counted.
    position: u64,
    bytes: usize,
    max_bytes: usize,
}

impl Default for SpamMemory {
    fn default() -> Self {
        Self::within(MAX_MEMORY_BYTES)
    }
}

impl SpamMemory {
    /// An empty memory keeping about `max_bytes`.
    pub fn within(max_bytes: usize) -> Self {
        SpamMemory {
            spam: HashMap::new(),
            order: VecDeque::new(),
            position: 0,
            bytes: 0,
            max_bytes,
        }
    }

    /// Applies one label: spam counts its keys, ham clears them.
    pub fn apply(&mut self, keys: &MemoryKeys, label: Label) {
        for (kind, key) in keys.iter() {
            let key = (kind, key.to_owned());
            match label {
                Label::Spam => {
                    self.position += 1;
                    let cost = 2 * heap_text(key.1.len()) + ENTRY_BYTES;
                    let entry = self.spam.entry(key.clone()).or_insert_with(|| {
                        self.bytes += cost;
                        (0, 0)
                    });
                    *entry = (entry.0 + 1, self.position);
                    self.order.push_back((key, self.position));
                }
                Label::Ham => {
                    if self.spam.remove(&key).is_some() {
                        self.bytes -= 2 * heap_text(key.1.len()) + ENTRY_BYTES;
                    }
                }
            }
        }
        self.evict();
    }

    /// Forgets the keys confirmed longest ago until the memory is within its bytes, and
    /// drops stale mentions so the order stays proportional to the map.
    fn evict(&mut self) {
        while self.bytes > self.max_bytes || self.order.len() > 2 * self.spam.len() + 64 {
            let Some((key, position)) = self.order.pop_front() else {
                break;
            };
            let live = self.spam.get(&key).is_some_and(|e| e.1 == position);
            if live && self.bytes > self.max_bytes {
                self.spam.remove(&key);
                self.bytes -= 2 * heap_text(key.1.len()) + ENTRY_BYTES;
            } else if live {
                // Still wanted, and in front: drop the stale mentions behind it instead.
                self.order.push_front((key, position));
                let spam = &self.spam;
                self.order
                    .retain(|(key, position)| spam.get(key).is_some_and(|e| e.1 == *position));
                break;
            }
        }
    }

    /// Approximate bytes the memory takes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of keys currently remembered as spam.
    pub fn len(&self) -> usize {
        self.spam.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.spam.is_empty()
    }

    /// The rule hits a new comment with these keys earns.
    pub fn hits(&self, keys: &MemoryKeys) -> Vec<RuleHit> {
        if self.spam.is_empty() {
            return Vec::new();
        }
        let mut hits = Vec::new();
        let count = |kind, key: &str| self.spam.get(&(kind, key.to_owned())).map(|e| e.0);
        if let Some(n) = keys.email.as_deref().and_then(|e| count(Kind::Email, e)) {
            hits.push(RuleHit {
                id: "memory.author_email".into(),
                reason: format!(
                    "a moderator confirmed {n} earlier comment(s) from this e-mail address as spam"
                ),
                effect: RuleEffect::Spam,
            });
        }
        if let Some(n) = keys.ip.as_deref().and_then(|i| count(Kind::Ip, i)) {
            // An IP can be shared (a carrier's NAT, an office): hold, don't convict.
            hits.push(RuleHit {
                id: "memory.user_ip".into(),
                reason: format!(
                    "a moderator confirmed {n} earlier comment(s) from this IP address as spam"
                ),
                effect: RuleEffect::Hold,
            });
        }
        let domains: Vec<&str> = keys
            .domains
            .iter()
            .filter(|d| count(Kind::Domain, d).is_some())
            .map(String::as_str)
            .collect();
        if !domains.is_empty() {
            hits.push(RuleHit {
                id: "memory.link_domain".into(),
                reason: format!(
                    "links to {} that a moderator confirmed as spam",
                    domains.join(", ")
                ),
                effect: RuleEffect::Weight(DOMAIN_WEIGHT),
            });
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(content: &str, email: &str, ip: &str) -> Comment {
        Comment {
            content: content.into(),
            author_email: Some(email.into()),
            user_ip: Some(ip.into()),
            ..Default::default()
        }
    }

    #[test]
    fn spam_is_remembered_and_ham_clears_it() {
        let mut memory = SpamMemory::default();
        let spam = comment(
            "cheap pills https://pills.example/buy",
            "Bot@Example.com",
            "192.0.2.7",
        );
        memory.apply(&MemoryKeys::of(&spam), Label::Spam);
        assert_eq!(memory.len(), 3);

        let later = comment(
            "hello, see www.pills.example",
            "bot@example.com",
            "192.0.2.7",
        );
        let ids: Vec<String> = memory
            .hits(&MemoryKeys::of(&later))
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(
            ids,
            [
                "memory.author_email",
                "memory.user_ip",
                "memory.link_domain"
            ],
            "e-mail matched case-insensitively, domain without www."
        );

        let stranger = comment(
            "hello https://other.example",
            "ann@example.org",
            "198.51.100.1",
        );
        assert!(memory.hits(&MemoryKeys::of(&stranger)).is_empty());

        // A ham label on a comment sharing only the IP clears the IP, nothing else.
        memory.apply(
            &MemoryKeys::of(&comment("thanks!", "ann@example.org", "192.0.2.7")),
            Label::Ham,
        );
        let ids: Vec<String> = memory
            .hits(&MemoryKeys::of(&later))
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(ids, ["memory.author_email", "memory.link_domain"]);
    }

    #[test]
    fn the_memory_stays_within_its_bytes_and_forgets_the_oldest_first() {
        const MAX: usize = 64 * 1024;
        let mut memory = SpamMemory::within(MAX);
        let keys = |i: usize| MemoryKeys {
            email: Some(format!("bot{i}@example.com")),
            ip: None,
            domains: (0..50).map(|d| format!("d{i}-{d}.example")).collect(),
        };
        let kept = MemoryKeys {
            email: Some("kept@example.com".into()),
            ..Default::default()
        };
        for i in 0..2_000 {
            memory.apply(&keys(i), Label::Spam);
            // Confirmed again and again: it never becomes the oldest.
            memory.apply(&kept, Label::Spam);
            assert!(memory.bytes() <= MAX, "label {i}: {} bytes", memory.bytes());
            assert!(memory.order.len() <= 2 * memory.len() + 64 + 51);
        }
        assert!(
            memory.len() > 300,
            "one key at a time, never all: {}",
            memory.len()
        );
        assert!(
            !memory.hits(&kept).is_empty(),
            "the repeatedly confirmed key stays"
        );
        assert!(!memory.hits(&keys(1_999)).is_empty(), "the newest stays");
        assert!(memory.hits(&keys(0)).is_empty(), "the oldest went");
        let recount = |m: &SpamMemory| {
            m.spam
                .keys()
                .map(|k| 2 * heap_text(k.1.len()) + ENTRY_BYTES)
                .sum::<usize>()
        };
        assert_eq!(memory.bytes(), recount(&memory), "the byte count is exact");
        memory.apply(&keys(1_999), Label::Ham);
        assert_eq!(
            memory.bytes(),
            recount(&memory),
            "and stays so after a ham label"
        );
    }

    #[test]
    fn hit_reasons_never_quote_the_email() {
        let mut memory = SpamMemory::default();
        let spam = comment("x", "secret@example.com", "192.0.2.1");
        memory.apply(&MemoryKeys::of(&spam), Label::Spam);
        for hit in memory.hits(&MemoryKeys::of(&spam)) {
            assert!(!hit.reason.contains("secret"), "{}", hit.reason);
        }
    }
}

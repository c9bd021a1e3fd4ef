//! Per-site layers over the shared model: a site's own labels count for that site twelve
//! times more than for any other.
//!
//! The shared model learns a site's label at [`SHARED_SHARE`] of its weight. A layer holds
//! sparse per-bucket label counts of one site; scoring a comment of that site reads every
//! bucket's counts as `shared + SITE_BOOST × site` (and the class totals likewise), so the
//! site's labels act as if the shared model had seen each of them `SHARED_SHARE +
//! SITE_BOOST` times, for that site only; other sites see the shared counts alone. Everything else (smoothing, length normalisation, calibration)
//! is the shared model's. Layers are bounded in sites and in buckets; past a bound, further
//! labels still teach the shared model but no layer.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::domain::Label;

use super::{class_index, HAM, SPAM};

/// The share of a site's label the shared model learns: every site teaches every other,
/// at a quarter of the weight (labels without a site teach it at their full weight).
pub const SHARED_SHARE: f32 = 0.25;
/// How much a site's layer counts each of the site's own labels, on top of the shared
/// model's [`SHARED_SHARE`]: for its own site a label weighs `0.25 + 2.75 = 3` times what a
/// label without a site does, for every other site `0.25`, twelve times less.
pub const SITE_BOOST: f32 = 2.75;
/// Most sites with a layer; labels of further sites teach the shared model only.
pub const MAX_SITES: usize = 10_000;
/// Most buckets one site's layer holds (about 2,000 labelled comments' worth of distinct
/// features at the defaults before it fills).
pub const MAX_SITE_BUCKETS: usize = 250_000;
/// Most buckets all layers together hold: about 100 MB at worst.
pub const MAX_LAYER_BUCKETS: usize = 4_000_000;

/// Buckets and site keys are hashes already; one multiplication spreads them over the
/// table's control bits, far cheaper than SipHash on the scoring path.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpreadHasher(u64);

impl Hasher for SpreadHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | self.0 >> 56) ^ b as u64;
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 ^= n as u64;
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

type Spread = BuildHasherDefault<SpreadHasher>;

/// One site's labels: per-bucket counts per class, their totals and how many labels.
#[derive(Debug, Clone, Default)]
pub struct SiteLayer {
    /// The site as the labels spelled it (canonical URL).
    name: String,
    /// Per bucket, per class (spam, ham): the site's own counts.
    counts: HashMap<u32, [f32; 2], Spread>,
    /// Per class: sum of `counts`.
    totals: [f64; 2],
    /// Per class: labels in force.
    labels: [u64; 2],
}

impl SiteLayer {
    /// The site's canonical URL.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Labels in force: (spam, ham).
    pub fn label_counts(&self) -> (u64, u64) {
        (self.labels[SPAM], self.labels[HAM])
    }

    /// Distinct buckets the layer holds.
    pub fn buckets(&self) -> usize {
        self.counts.len()
    }

    /// The site's (spam, ham) counts of `bucket`, already multiplied by [`SITE_BOOST`].
    #[inline(always)]
    pub(super) fn boosted(&self, bucket: u32) -> Option<[f32; 2]> {
        self.counts
            .get(&bucket)
            .map(|&[s, h]| [s * SITE_BOOST, h * SITE_BOOST])
    }

    /// The class totals, multiplied by [`SITE_BOOST`].
    pub(super) fn boosted_totals(&self) -> [f64; 2] {
        self.totals.map(|t| t * SITE_BOOST as f64)
    }

    /// Adds `weight` of one labelled comment's buckets (a negative weight takes a label
    /// back; counts never go below zero and empty buckets are dropped). Returns how many
    /// buckets the layer gained (negative: lost).
    fn learn(&mut self, buckets: &[u32], label: Label, weight: f32, room: usize) -> isize {
        let c = class_index(label);
        let before = self.counts.len() as isize;
        let mut room = room.min(MAX_SITE_BUCKETS.saturating_sub(self.counts.len()));
        for &b in buckets {
            let slot = match self.counts.get_mut(&b) {
                Some(slot) => slot,
                None if weight > 0.0 && room > 0 => {
                    room -= 1;
                    self.counts.entry(b).or_insert([0.0; 2])
                }
                None => continue,
            };
            let updated = (slot[c] + weight).max(0.0);
            self.totals[c] = (self.totals[c] + (updated - slot[c]) as f64).max(0.0);
            slot[c] = updated;
            if slot[SPAM] + slot[HAM] <= 0.0 {
                self.counts.remove(&b);
            }
        }
        let labels = &mut self.labels[c];
        *labels = if weight >= 0.0 {
            *labels + 1
        } else {
            labels.saturating_sub(1)
        };
        self.counts.len() as isize - before
    }
}

/// Every site's layer, keyed by a 64-bit hash of the site. Cloning shares the layers; a
/// learned label copies only its own site's layer (the live scorer is copied per label).
#[derive(Debug, Clone, Default)]
pub struct SiteLayers {
    sites: HashMap<u64, Arc<SiteLayer>, Spread>,
    /// Buckets held by all layers together.
    buckets: usize,
}

impl SiteLayers {
    /// No layers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no site has a layer (then scoring never hashes a site).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The layer of the site hashed to `key`, if it has one: one hash-map lookup.
    #[inline]
    pub fn get(&self, key: u64) -> Option<&SiteLayer> {
        self.sites.get(&key).map(Arc::as_ref)
    }

    /// Learns one labelled comment of site `key` (canonically spelled `name`).
    pub fn learn(&mut self, key: u64, name: &str, buckets: &[u32], label: Label, weight: f32) {
        let known = self.sites.contains_key(&key);
        if !known && (weight <= 0.0 || self.sites.len() >= MAX_SITES) {
            return;
        }
        let room = MAX_LAYER_BUCKETS.saturating_sub(self.buckets);
        let layer = self.sites.entry(key).or_insert_with(|| {
            Arc::new(SiteLayer {
                name: name.to_owned(),
                ..SiteLayer::default()
            })
        });
        let gained = Arc::make_mut(layer).learn(buckets, label, weight, room);
        self.buckets = self.buckets.saturating_add_signed(gained);
    }

    /// Every layer, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &SiteLayer> {
        self.sites.values().map(Arc::as_ref)
    }

    /// Buckets held by all layers together.
    pub fn buckets(&self) -> usize {
        self.buckets
    }
}

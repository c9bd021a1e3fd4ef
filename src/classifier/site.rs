//! Per-site layers over the shared model: a site's own labels count for that site 23 times
//! more than for any other.
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

use super::{class_index, NbModel, HAM, SPAM};

/// The share of a site's label the shared model learns: every site teaches every other,
/// at a quarter of the weight (labels without a site teach it at their full weight).
pub const SHARED_SHARE: f32 = 0.25;
/// How much a site's layer counts each of the site's own labels, on top of the shared
/// model's [`SHARED_SHARE`]: for its own site a label weighs `0.25 + 5.5 = 5.75` times what
/// a label without a site does, for every other site `0.25`, 23 times less. (2.75 before:
/// on the per-video import replays, `scripts/replay-sites.sh`, 5.5 caught more of each
/// site's spam with no more false positives; 8.25 began to cost them.)
pub const SITE_BOOST: f32 = 5.5;
/// Most sites with a layer; labels of further sites teach the shared model only.
pub const MAX_SITES: usize = 10_000;
/// Most buckets one site's layer holds (about 2,000 labelled comments' worth of distinct
/// features at the defaults before it fills).
pub const MAX_SITE_BUCKETS: usize = 250_000;
/// Most buckets all layers together hold: 24 bytes a slot, tables 35-70% full, so 140 to
/// 280 MB at worst.
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
            self.0 = self.0.rotate_left(8) ^ b as u64;
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

/// One bucket of a layer: the site's counts and the log-ratio scoring reads for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Entry {
    /// Per class (spam, ham): the site's own counts.
    pub(super) site: [f32; 2],
    /// The shared model's counts `ratio` was computed over; NaN until it is computed, so a
    /// stale entry never compares equal to any shared counts.
    pub(super) shared: [f32; 2],
    /// Log-ratio of `shared + SITE_BOOST × site`: what scoring would otherwise compute with
    /// two logarithms per feature.
    pub(super) ratio: f32,
}

/// The `shared` of an entry whose ratio is not computed yet.
const STALE: [f32; 2] = [f32::NAN; 2];

/// A new entry, and what free slots of a [`BucketMap`] hold.
const NEW_ENTRY: Entry = Entry {
    site: [0.0; 2],
    shared: STALE,
    ratio: f32::NAN,
};

/// The key of a free slot: no bucket, since models have at most 2^24 buckets.
const FREE: u32 = u32::MAX;

/// Buckets to entries, by open addressing with linear probing: the keys in one array of
/// 4 bytes each, the entries in another. Scoring probes once per feature, and here a probe
/// is a multiplication, a shift and (mostly) one comparison of a key, where the standard
/// map's group probe cost about as much again as the rest of a feature's scoring.
#[derive(Debug, Clone, Default)]
struct BucketMap {
    /// A power of two long (or empty); [`FREE`] marks a free slot.
    keys: Vec<u32>,
    entries: Vec<Entry>,
    len: usize,
    /// 32 minus log2 of the capacity: a key's home slot is the top bits of its product.
    shift: u32,
}

impl BucketMap {
    /// The slot `bucket`'s probe starts at.
    #[inline(always)]
    fn home(&self, bucket: u32) -> usize {
        (bucket.wrapping_mul(0x9E37_79B1) >> self.shift) as usize
    }

    /// The slot holding `bucket`, if any.
    #[inline(always)]
    fn find(&self, bucket: u32) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.keys.len() - 1;
        let mut i = self.home(bucket);
        loop {
            let key = self.keys[i];
            if key == bucket {
                return Some(i);
            }
            if key == FREE {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    #[inline(always)]
    fn get(&self, bucket: u32) -> Option<&Entry> {
        self.find(bucket).map(|i| &self.entries[i])
    }

    /// Adds `bucket` (absent) with `entry`; returns its slot. The table is kept at most
    /// 70% full, where a probe for an absent bucket still ends within a few slots.
    fn insert(&mut self, bucket: u32, entry: Entry) -> usize {
        debug_assert!(bucket != FREE && self.find(bucket).is_none());
        if (self.len + 1) * 10 > self.keys.len() * 7 {
            self.grow();
        }
        let mask = self.keys.len() - 1;
        let mut i = self.home(bucket);
        while self.keys[i] != FREE {
            i = (i + 1) & mask;
        }
        self.keys[i] = bucket;
        self.entries[i] = entry;
        self.len += 1;
        i
    }

    fn grow(&mut self) {
        let capacity = (self.keys.len() * 2).max(16);
        let old = std::mem::replace(
            self,
            BucketMap {
                keys: vec![FREE; capacity],
                entries: vec![NEW_ENTRY; capacity],
                len: 0,
                shift: 32 - capacity.trailing_zeros(),
            },
        );
        for (&key, &entry) in old.keys.iter().zip(&old.entries) {
            if key != FREE {
                self.insert(key, entry);
            }
        }
    }

    /// Removes `bucket` if present, moving back the entries after it that its slot kept
    /// from their home (no tombstones, so probes never lengthen).
    fn remove(&mut self, bucket: u32) {
        let Some(mut hole) = self.find(bucket) else {
            return;
        };
        let mask = self.keys.len() - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let key = self.keys[j];
            if key == FREE {
                break;
            }
            // The entry at `j` may fill the hole when the hole lies on its probe path, i.e.
            // it sits at least as far from its home as from the hole.
            let home = self.home(key);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.keys[hole] = key;
                self.entries[hole] = self.entries[j];
                hole = j;
            }
        }
        self.keys[hole] = FREE;
        self.entries[hole] = NEW_ENTRY;
        self.len -= 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Every (bucket, entry), in no particular order.
    fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut Entry)> {
        self.keys
            .iter()
            .zip(self.entries.iter_mut())
            .filter(|(&key, _)| key != FREE)
            .map(|(&key, entry)| (key, entry))
    }
}

/// One site's labels: per-bucket counts per class, their totals and how many labels.
///
/// Each bucket also keeps its combined log-ratio and the shared counts it was computed over.
/// Scoring uses the kept ratio while the shared counts are still those (one comparison), so
/// it is exact whatever the shared model learned since: a bucket another site's label moved
/// costs the two logarithms again until this site's next refresh.
#[derive(Debug, Clone, Default)]
pub struct SiteLayer {
    /// The site as the labels spelled it (canonical URL).
    name: String,
    /// Per bucket: the site's counts and their kept log-ratio.
    entries: BucketMap,
    /// Per class: sum of the site's counts.
    totals: [f64; 2],
    /// Per class: labels in force.
    labels: [u64; 2],
    /// The smoothing the kept ratios were computed with (0 before any, which no model
    /// uses): a model with another one must not read them.
    alpha: f64,
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
        self.entries.len()
    }

    /// The layer's entry for `bucket`, if it holds one: one probe.
    #[inline(always)]
    pub(super) fn entry(&self, bucket: u32) -> Option<&Entry> {
        self.entries.get(bucket)
    }

    /// Whether the kept ratios were computed with smoothing `alpha`.
    #[inline]
    pub(super) fn computed_with(&self, alpha: f64) -> bool {
        self.alpha == alpha
    }

    /// The class totals, multiplied by [`SITE_BOOST`].
    pub(super) fn boosted_totals(&self) -> [f64; 2] {
        self.totals.map(|t| t * SITE_BOOST as f64)
    }

    /// Adds `weight` of one labelled comment's buckets (a negative weight takes a label
    /// back; counts never go below zero and empty buckets are dropped); the buckets' ratios
    /// wait for [`SiteLayer::refresh`]. Returns how many buckets the layer gained
    /// (negative: lost).
    fn learn(&mut self, buckets: &[u32], label: Label, weight: f32, room: usize) -> isize {
        let c = class_index(label);
        let before = self.entries.len() as isize;
        let mut room = room.min(MAX_SITE_BUCKETS.saturating_sub(self.entries.len()));
        for &b in buckets {
            let i = match self.entries.find(b) {
                Some(i) => i,
                None if weight > 0.0 && room > 0 => {
                    room -= 1;
                    self.entries.insert(b, NEW_ENTRY)
                }
                None => continue,
            };
            let entry = &mut self.entries.entries[i];
            let slot = &mut entry.site;
            let updated = (slot[c] + weight).max(0.0);
            self.totals[c] = (self.totals[c] + (updated - slot[c]) as f64).max(0.0);
            slot[c] = updated;
            entry.shared = STALE;
            if slot[SPAM] + slot[HAM] <= 0.0 {
                self.entries.remove(b);
            }
        }
        let labels = &mut self.labels[c];
        *labels = if weight >= 0.0 {
            *labels + 1
        } else {
            labels.saturating_sub(1)
        };
        self.entries.len() as isize - before
    }

    /// Computes the ratio of every entry among `buckets` (all of them when `None`) that is
    /// stale or was computed over other shared counts than `model`'s.
    fn refresh(&mut self, model: &NbModel, buckets: Option<&[u32]>) {
        let alpha = model.params().alpha;
        let all = buckets.is_none() || !self.computed_with(alpha);
        self.alpha = alpha;
        let update = |b: u32, entry: &mut Entry| {
            let shared = model.shared_counts(b);
            if all || entry.shared != shared {
                entry.ratio = model.layered_ratio(shared, entry.site);
                entry.shared = shared;
            }
        };
        match buckets {
            Some(buckets) if !all => {
                for &b in buckets {
                    if let Some(i) = self.entries.find(b) {
                        update(b, &mut self.entries.entries[i]);
                    }
                }
            }
            _ => self.entries.iter_mut().for_each(|(b, e)| update(b, e)),
        }
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

    /// Learns one labelled comment of site `key` (canonically spelled `name`); its buckets'
    /// ratios wait for [`SiteLayers::refresh`] (scoring computes them until then).
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

    /// Brings the kept ratios of site `key`'s layer up to date with `model` (the shared
    /// model scoring will read them against): for `buckets` (one label's, just learned), or
    /// every bucket of the layer when `None` (after a batch). Nothing without a layer.
    pub fn refresh(&mut self, key: u64, model: &NbModel, buckets: Option<&[u32]>) {
        if let Some(layer) = self.sites.get_mut(&key) {
            Arc::make_mut(layer).refresh(model, buckets);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::picker;

    #[test]
    fn bucket_map_agrees_with_a_hash_map_through_inserts_and_removals() {
        let mut next = picker(11);
        let mut map = BucketMap::default();
        let mut oracle: HashMap<u32, f32> = HashMap::new();
        for step in 0..20_000u32 {
            // Few distinct buckets, so removals often hit and probe chains wrap and collide.
            let bucket = next(3_000) as u32;
            if next(3) == 0 {
                map.remove(bucket);
                oracle.remove(&bucket);
            } else if let Some(i) = map.find(bucket) {
                map.entries[i].ratio = step as f32;
                oracle.insert(bucket, step as f32);
            } else {
                let i = map.insert(bucket, NEW_ENTRY);
                map.entries[i].ratio = step as f32;
                oracle.insert(bucket, step as f32);
            }
            assert_eq!(map.len(), oracle.len(), "step {step}");
        }
        for bucket in 0..3_000 {
            assert_eq!(
                map.get(bucket).map(|e| e.ratio),
                oracle.get(&bucket).copied(),
                "bucket {bucket}"
            );
        }
        let mut listed: Vec<(u32, f32)> = map.iter_mut().map(|(b, e)| (b, e.ratio)).collect();
        listed.sort_by_key(|e| e.0);
        let mut expected: Vec<(u32, f32)> = oracle.into_iter().collect();
        expected.sort_by_key(|e| e.0);
        assert_eq!(listed, expected);
        assert!(map.keys.len() * 7 >= map.len() * 10, "at most 70% full");
    }
}

//! The sparse multinomial naive Bayes classifier: the only module that knows its maths.
//!
//! The model is per-class feature counts over `2^bits` hashed buckets. Scoring sums one
//! precomputed log-ratio per feature, so a comment costs O(features) whatever the model's
//! size, and learning one labelled comment is O(features) too: add its counts and refresh
//! those buckets' log-ratios. Raw naive Bayes log-odds are overconfident (features are far
//! from independent), so a Platt calibration fitted on out-of-fold scores at training time
//! turns them into probabilities that thresholds can mean something against.

mod artifact;
mod calibration;
mod site;
mod train;

pub use artifact::{
    parse_manifest, write_model, ArtifactError, CvMetrics, Manifest, ModelArtifact, MANIFEST_FILE,
    MODEL_FILE,
};
pub use calibration::{Calibration, Evidence, DIMS};
pub use site::{
    SiteLayer, SiteLayers, MAX_LAYER_BUCKETS, MAX_SITES, MAX_SITE_BUCKETS, SHARED_SHARE, SITE_BOOST,
};
pub use train::{
    author_fields, extract_files, source_weights, train_files, train_files_with, ExtractedDoc,
    TrainOptions, Trainer, ONE_CLASS_SOURCE_WEIGHT, SOURCE_CAP,
};

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

#[cfg(test)]
use crate::domain::Comment;
use crate::domain::{Label, TokenWeight};
use crate::text::{AuthorFields, FeatureView, Features, NormalizedText, TextShapes, KINDS};

pub use crate::text::FeatureConfig;

/// Hyper-parameters of the classifier (stored with the model).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NbParams {
    /// Feature extraction settings.
    pub features: FeatureConfig,
    /// Additive (Lidstone) smoothing of feature counts.
    pub alpha: f64,
    /// The summed evidence is divided by `features^length_power`: 0 is plain naive Bayes,
    /// 0.5 damps long comments, whose many correlated features would otherwise swamp priors.
    pub length_power: f64,
    /// Below this many training comments in either class the model gives no opinion.
    pub min_class_docs: u64,
}

impl Default for NbParams {
    fn default() -> Self {
        NbParams {
            features: FeatureConfig::default(),
            alpha: 0.1,
            length_power: 0.5,
            min_class_docs: 20,
        }
    }
}

impl NbParams {
    /// Checks the parameters a model file could carry: a bad one must be refused at load,
    /// not turn every probability into NaN or every request into a huge allocation.
    pub fn validate(&self) -> Result<(), String> {
        let f = &self.features;
        if !(8..=24).contains(&f.bits) {
            return Err(format!("bits must be 8..=24, got {}", f.bits));
        }
        if f.char_min > f.char_max || f.char_max > 8 {
            return Err(format!(
                "character n-grams must satisfy min ≤ max ≤ 8, got {}..{}",
                f.char_min, f.char_max
            ));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(format!(
                "alpha must be a positive number, got {}",
                self.alpha
            ));
        }
        if !(0.0..=2.0).contains(&self.length_power) {
            return Err(format!(
                "length_power must be 0..=2, got {}",
                self.length_power
            ));
        }
        Ok(())
    }
}

const SPAM: usize = 0;
const HAM: usize = 1;

fn class_index(label: Label) -> usize {
    match label {
        Label::Spam => SPAM,
        Label::Ham => HAM,
    }
}

/// What the classifier says of one comment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Calibrated log-odds of spam.
    pub log_odds: f64,
    /// Calibrated spam probability; `None` when the model has too few examples to judge.
    pub probability: Option<f64>,
    /// How many of the comment's features the model has seen in training.
    pub known_features: u32,
    /// Whether so few of the comment's features are known that chance explains them (see
    /// [`NbModel::is_unfamiliar`]): text in a language or script the model never learned.
    pub unfamiliar: bool,
    /// The calibrated spam probability with the author's name left out (its words and
    /// shapes), from the same pass: whether a comment is spam by its name alone. Equal to
    /// `probability` when the features record no name (as [`NbModel::predict`]'s do).
    pub without_author_name: Option<f64>,
    /// What feature extraction noticed of the comment's shape, for the moderation policy
    /// (the default when the prediction was made from bare buckets).
    pub shapes: TextShapes,
}

/// A trained sparse multinomial naive Bayes model.
#[derive(Debug, Clone)]
pub struct NbModel {
    params: NbParams,
    /// Per bucket, per class (spam, ham): how often the feature was seen. Both classes of a
    /// bucket side by side, so counting touches one cache line, not two.
    counts: Vec<[f32; 2]>,
    /// Per class: sum of `counts`.
    totals: [f64; 2],
    /// Per class: number of training comments.
    docs: [u64; 2],
    /// Buckets with any count: the vocabulary size used for smoothing.
    vocabulary: u64,
    calibration: Calibration,
    /// Per bucket: ln(count_spam + α) − ln(count_ham + α), kept in step with `counts`.
    log_ratio: Vec<f32>,
    ln: LnTable,
    /// `n^length_power` for the feature counts most comments have (see [`NbModel::length_norm`]).
    length_norms: Vec<f64>,
}

/// Feature counts whose length normalisation is looked up rather than computed.
const LENGTH_NORMS: usize = 1024;

impl NbModel {
    /// An empty model (no opinion until it has seen enough of both classes).
    pub fn new(params: NbParams) -> Self {
        let n = 1usize << params.features.bits;
        NbModel {
            params,
            counts: vec![[0.0; 2]; n],
            totals: [0.0; 2],
            docs: [0; 2],
            vocabulary: 0,
            calibration: Calibration::identity(),
            log_ratio: vec![f32::NAN; n],
            ln: LnTable::new(params.alpha),
            length_norms: (0..LENGTH_NORMS)
                .map(|n| (n as f64).powf(params.length_power))
                .collect(),
        }
    }

    /// `n^length_power`, the length normalisation of `n` known features of one namespace:
    /// from a table computed with the very same `powf` for all but huge comments, since a
    /// general power costs as much as a tenth of the evidence sum, nine times per comment.
    #[inline]
    fn length_norm(&self, n: u32) -> f64 {
        match self.length_norms.get(n as usize) {
            Some(&norm) => norm,
            None => (n as f64).powf(self.params.length_power),
        }
    }

    /// The model's hyper-parameters.
    pub fn params(&self) -> &NbParams {
        &self.params
    }

    /// Number of training comments per class: (spam, ham).
    pub fn doc_counts(&self) -> (u64, u64) {
        (self.docs[SPAM], self.docs[HAM])
    }

    /// The calibration in use.
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// Replaces the calibration (fitted by the trainer).
    pub fn set_calibration(&mut self, calibration: Calibration) {
        self.calibration = calibration;
    }

    /// Extracts features the way this model was trained.
    pub fn features(&self, text: &NormalizedText, author: AuthorFields<'_>) -> Features {
        Features::extract(&self.params.features, text, author)
    }

    /// Extracts a comment's features and [assesses](NbModel::assess) them without keeping
    /// them: what scoring does. Each feature's log-ratio is fetched from memory as soon as
    /// the feature is found, so the table reads (random, in megabytes) overlap extraction
    /// instead of stalling the sum afterwards.
    pub fn assess_text(
        &self,
        text: &NormalizedText,
        author: AuthorFields<'_>,
        k: usize,
    ) -> (Prediction, Vec<TokenWeight>) {
        self.assess_text_at(text, author, k, None)
    }

    /// [`NbModel::assess_text`] for a comment of a site with a [`SiteLayer`] (or `None`):
    /// the layer's boosted counts join the shared ones for the buckets it holds.
    pub fn assess_text_at(
        &self,
        text: &NormalizedText,
        author: AuthorFields<'_>,
        k: usize,
        site: Option<&SiteLayer>,
    ) -> (Prediction, Vec<TokenWeight>) {
        let table = self.log_ratio.as_slice();
        Features::extract_view(
            &self.params.features,
            text,
            author,
            |bucket| prefetch(table, bucket),
            |view| match site {
                None => self.assess(view, k),
                Some(layer) => self.assess_at(view, k, layer),
            },
        )
    }

    /// Adds (`weight` = 1) or removes (`weight` = −1) one labelled comment's features.
    pub fn learn(&mut self, buckets: &[u32], label: Label, weight: f32) {
        self.learn_batch([(buckets, label, weight)]);
    }

    /// Adds `weight` to bucket `b` of class `c` (never below zero), keeping the totals and
    /// the vocabulary size in step; the log-ratio is the caller's to refresh.
    #[inline]
    fn count(&mut self, c: usize, b: usize, weight: f32) {
        let slot = &mut self.counts[b];
        let before = slot[SPAM] + slot[HAM];
        let updated = (slot[c] + weight).max(0.0);
        let applied = updated - slot[c];
        slot[c] = updated;
        let after = slot[SPAM] + slot[HAM];
        self.totals[c] = (self.totals[c] + applied as f64).max(0.0);
        if before == 0.0 && after > 0.0 {
            self.vocabulary += 1;
        } else if before > 0.0 && after == 0.0 {
            self.vocabulary = self.vocabulary.saturating_sub(1);
        }
    }

    /// [`NbModel::learn`] for many documents at once, as training does: counts first, then
    /// one log-ratio per bucket touched (instead of one per occurrence, which dominated
    /// training time).
    pub fn learn_batch<'a>(&mut self, docs: impl IntoIterator<Item = (&'a [u32], Label, f32)>) {
        let touched = self.count_batch(docs);
        self.refresh_ratios(&touched);
    }

    /// Counts documents without refreshing log-ratios; returns the buckets it changed.
    fn count_batch<'a>(
        &mut self,
        docs: impl IntoIterator<Item = (&'a [u32], Label, f32)>,
    ) -> Touched {
        let mut touched = Touched::new(self.buckets());
        for (buckets, label, weight) in docs {
            let c = class_index(label);
            for &b in buckets {
                self.count(c, b as usize, weight);
                touched.mark(b);
            }
            let docs = &mut self.docs[c];
            *docs = if weight >= 0.0 {
                *docs + 1
            } else {
                docs.saturating_sub(1)
            };
        }
        touched.settle();
        touched
    }

    fn refresh_ratios(&mut self, touched: &Touched) {
        let ln = &self.ln;
        let (counts, log_ratio) = (&self.counts, &mut self.log_ratio);
        touched.for_each(|b| {
            let b = b as usize;
            log_ratio[b] = ln.ratio(counts[b][SPAM], counts[b][HAM]);
        });
    }

    /// Removes documents (as [`NbModel::learn_batch`] with their weights negated) and
    /// returns what [`NbModel::restore`] needs to put them back.
    fn unlearn_batch<'a>(
        &mut self,
        docs: impl IntoIterator<Item = (&'a [u32], Label, f32)>,
    ) -> Touched {
        let touched = self.count_batch(docs.into_iter().map(|(b, l, w)| (b, l, -w)));
        self.refresh_ratios(&touched);
        touched
    }

    /// Takes back `touched` buckets and every total from `original`, which this model was a
    /// copy of: undoes a batch exactly, without copying the whole table again.
    fn restore(&mut self, original: &NbModel, touched: &Touched) {
        touched.for_each(|b| {
            let b = b as usize;
            self.counts[b] = original.counts[b];
            self.log_ratio[b] = original.log_ratio[b];
        });
        self.totals = original.totals;
        self.docs = original.docs;
        self.vocabulary = original.vocabulary;
    }

    /// Adds counts of document sets (same parameters) to this model: training sets counted
    /// apart combine without recounting. Log-ratios are recomputed once, at the end.
    pub fn add_counts<'a>(&mut self, others: impl IntoIterator<Item = &'a ClassCounts>) {
        for other in others {
            for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
                mine[SPAM] += theirs[SPAM];
                mine[HAM] += theirs[HAM];
            }
            for c in [SPAM, HAM] {
                self.totals[c] += other.totals[c];
                self.docs[c] += other.docs[c];
            }
        }
        self.vocabulary = 0;
        let ln = &self.ln;
        for (ratio, &[spam, ham]) in self.log_ratio.iter_mut().zip(&self.counts) {
            if spam + ham > 0.0 {
                self.vocabulary += 1;
            }
            *ratio = ln.ratio(spam, ham);
        }
    }

    /// Log-ratio of the class normalisers: what every feature occurrence costs, whatever it is.
    fn per_feature_offset(&self) -> f64 {
        let v = self.vocabulary.max(1) as f64 * self.params.alpha;
        (self.totals[SPAM] + v).ln() - (self.totals[HAM] + v).ln()
    }

    /// Whether both classes have enough examples for an opinion.
    pub fn has_opinion(&self) -> bool {
        self.docs[SPAM] >= self.params.min_class_docs
            && self.docs[HAM] >= self.params.min_class_docs
    }

    /// Per-namespace evidence of a feature set: for each namespace the sum of its features'
    /// log-ratios divided by `count^length_power`, then the strongest spam and ham feature.
    /// Features never seen in training are skipped.
    pub fn evidence(&self, buckets: &[u32], kinds: &[u8]) -> Evidence {
        self.evidence_of(&self.evidence_sum(buckets, kinds))
    }

    /// The known features' log-ratios summed per namespace.
    fn evidence_sum(&self, buckets: &[u32], kinds: &[u8]) -> EvidenceSum {
        let mut sum = EvidenceSum::new();
        let n = buckets.len().min(kinds.len());
        self.for_each_known(&buckets[..n], |i, r| sum.add(r, kinds[i]));
        sum
    }

    /// Evidence from the summed log-ratios of the known features.
    fn evidence_of(&self, sum: &EvidenceSum) -> Evidence {
        self.evidence_at(sum, self.per_feature_offset())
    }

    /// [`NbModel::evidence_of`] with the per-feature offset already computed.
    fn evidence_at(&self, sum: &EvidenceSum, offset: f64) -> Evidence {
        let mut e = [0.0f64; DIMS];
        // With no known feature both stay neutral (0) rather than ±infinity.
        if sum.max.is_finite() {
            e[KINDS] = sum.max as f64 - offset;
            e[KINDS + 1] = sum.min as f64 - offset;
        }
        for ((ek, &count), &total) in e.iter_mut().zip(&sum.counts).zip(&sum.sums) {
            if count > 0 {
                let n = count as f64;
                *ek = (total as f64 - n * offset) / self.length_norm(count);
            }
        }
        e
    }

    /// Scores a feature set (`kinds` parallel to `buckets`).
    pub fn predict(&self, buckets: &[u32], kinds: &[u8]) -> Prediction {
        let sum = self.evidence_sum(buckets, kinds);
        self.prediction_of(&self.evidence_of(&sum), &sum, buckets.len())
    }

    /// The prediction from `evidence`, with what `sum` knows of the comment's `features`.
    fn prediction_of(&self, evidence: &Evidence, sum: &EvidenceSum, features: usize) -> Prediction {
        let log_odds = self.calibration.log_odds(evidence);
        let probability = self.probability_of(evidence);
        let known_features = sum.counts.iter().sum();
        Prediction {
            log_odds,
            probability,
            known_features,
            unfamiliar: self.is_unfamiliar(known_features, features),
            without_author_name: probability,
            shapes: TextShapes::default(),
        }
    }

    /// Whether `known` of a comment's `features` are few enough to be chance. A feature the
    /// model never saw still lands in a bucket some other feature filled, with a probability
    /// of the share of buckets in use (about one in six for the shipped model), and then
    /// reads as known with that feature's weight: text in a script the corpus lacks (a
    /// Chinese reader's thanks) shows about that share known, and its verdict is noise.
    /// Text in a language the model learned shows far more (English comments 80-100%,
    /// Polish, which shares many n-grams with it, about 60%). The share is judged beyond
    /// chance, `(share − occupancy) / (1 − occupancy)`, so the bar keeps its meaning however
    /// full the buckets get; with every bucket in use nothing can be told.
    pub fn is_unfamiliar(&self, known: u32, features: usize) -> bool {
        let occupancy = self.vocabulary as f64 / self.counts.len().max(1) as f64;
        if features == 0 || occupancy >= 1.0 {
            return false;
        }
        let share = known as f64 / features as f64;
        (share - occupancy) / (1.0 - occupancy) < UNFAMILIAR_BEYOND_CHANCE
    }

    fn probability_of(&self, evidence: &Evidence) -> Option<f64> {
        self.has_opinion()
            .then(|| self.calibration.probability(evidence))
    }

    /// Scores a comment's features and names the `k` strongest tokens each way, in one pass
    /// that looks each feature up once. The author-name features are one run of them, so
    /// the sums without them are a copy taken before that run, brought up to date with the
    /// few features after it: the probability without the name costs no second pass.
    pub fn assess(&self, features: FeatureView<'_>, k: usize) -> (Prediction, Vec<TokenWeight>) {
        let table = self.log_ratio.as_slice();
        self.assess_with(features, k, self.per_feature_offset(), |b| {
            table[b as usize]
        })
    }

    /// [`NbModel::assess`] for a comment of the site `layer` belongs to: each bucket the
    /// layer holds is scored on `shared + SITE_BOOST × site` counts, and the per-feature
    /// offset on the totals combined the same way (the vocabulary stays the shared one's).
    /// A bucket costs one probe of the layer more than in [`NbModel::assess`]; one it holds,
    /// the layer's kept ratio when the shared counts are still those it was computed over.
    pub fn assess_at(
        &self,
        features: FeatureView<'_>,
        k: usize,
        layer: &SiteLayer,
    ) -> (Prediction, Vec<TokenWeight>) {
        let [s, h] = layer.boosted_totals();
        let v = self.vocabulary.max(1) as f64 * self.params.alpha;
        let offset = (self.totals[SPAM] + s + v).ln() - (self.totals[HAM] + h + v).ln();
        let kept = layer.computed_with(self.params.alpha);
        self.assess_with(features, k, offset, |b| self.site_ratio(b, layer, kept))
    }

    /// Log-ratio of `bucket` with the site's boosted counts added to the shared ones: the
    /// layer's kept ratio if it may be read (`kept`) and is over the current shared counts.
    #[inline(always)]
    fn site_ratio(&self, bucket: u32, layer: &SiteLayer, kept: bool) -> f32 {
        let b = bucket as usize;
        match layer.entry(bucket) {
            None => self.log_ratio[b],
            Some(entry) => {
                let shared = self.counts[b];
                if kept && entry.shared == shared {
                    entry.ratio
                } else {
                    self.layered_ratio(shared, entry.site)
                }
            }
        }
    }

    /// The shared counts (spam, ham) of `bucket`.
    #[inline(always)]
    fn shared_counts(&self, bucket: u32) -> [f32; 2] {
        self.counts[bucket as usize]
    }

    /// Log-ratio of a bucket with shared counts `shared` and a site's counts `site`: the
    /// site's counted [`SITE_BOOST`] times more.
    #[inline]
    fn layered_ratio(&self, shared: [f32; 2], site: [f32; 2]) -> f32 {
        self.ln.ratio(
            shared[SPAM] + site[SPAM] * SITE_BOOST,
            shared[HAM] + site[HAM] * SITE_BOOST,
        )
    }

    /// The one pass of [`NbModel::assess`], with each bucket's log-ratio from `ratio` and
    /// the per-feature offset `offset`.
    #[inline(always)]
    fn assess_with(
        &self,
        features: FeatureView<'_>,
        k: usize,
        offset: f64,
        ratio: impl Fn(u32) -> f32 + Copy,
    ) -> (Prediction, Vec<TokenWeight>) {
        let mut sum = EvidenceSum::new();
        let mut strongest = Strongest::with_offset(self, k, offset);
        let name = features.author_name();
        Self::sum_range(features, 0..name.start, &mut sum, &mut strongest, ratio);
        if name.is_empty() {
            Self::sum_range(
                features,
                name.start..features.len(),
                &mut sum,
                &mut strongest,
                ratio,
            );
            let mut prediction =
                self.prediction_of(&self.evidence_at(&sum, offset), &sum, features.len());
            prediction.shapes = features.shapes();
            return (prediction, strongest.tokens(features));
        }
        let mut without = sum.clone();
        Self::sum_range(features, name.clone(), &mut sum, &mut strongest, ratio);
        let tail = name.end..features.len();
        for (bucket, kind) in features.iter_range(tail.clone()) {
            without.add_any(ratio(bucket), kind);
        }
        Self::sum_range(features, tail, &mut sum, &mut strongest, ratio);
        let mut prediction =
            self.prediction_of(&self.evidence_at(&sum, offset), &sum, features.len());
        prediction.without_author_name = self.probability_of(&self.evidence_at(&without, offset));
        prediction.shapes = features.shapes();
        (prediction, strongest.tokens(features))
    }

    /// Adds the features in `range` to `sum` and offers them to `strongest`: per known
    /// feature this is the whole cost besides the lookup, so it is written for the common
    /// case. Everything it compares against lives in locals (registers), one comparison
    /// each way decides whether the feature can be among the strongest, and only a feature
    /// that can calls out to the sorted lists.
    #[inline(always)]
    fn sum_range(
        features: FeatureView<'_>,
        range: std::ops::Range<usize>,
        sum: &mut EvidenceSum,
        strongest: &mut Strongest,
        ratio: impl Fn(u32) -> f32,
    ) {
        let (offset, trust) = (strongest.offset, strongest.trust);
        let (mut top_bar, mut bottom_bar) = (strongest.top.bar, strongest.bottom.bar);
        let (mut max, mut min) = (sum.max, sum.min);
        let first = range.start;
        for (i, (bucket, kind)) in features.iter_range(range).enumerate() {
            let i = first + i;
            // Buckets come from masking with the model's own `bits`: indexing cannot fail.
            let r = ratio(bucket);
            // A feature never seen in training (NaN) adds nothing. Which features those are
            // follows no pattern a processor can predict, so nothing branches on it: an
            // unknown one adds +0.0 (which leaves every sum as it was, bit for bit; no sum
            // is ever −0.0) and 0 to the count, and a NaN fails every comparison below.
            let known = !r.is_nan();
            let kind = kind as usize;
            sum.sums[kind] += known_or_zero(r);
            sum.counts[kind] += known as u32;
            max = if r > max { r } else { max };
            min = if r < min { r } else { min };
            let w = (r - offset) * trust[kind];
            if w > top_bar {
                top_bar = strongest.top.push(w, i);
            } else if -w > bottom_bar {
                bottom_bar = strongest.bottom.push(-w, i);
            }
        }
        (sum.max, sum.min) = (max, min);
    }

    /// Calls `f(i, log_ratio)` for every feature `i` seen in training, in order. The ratios
    /// are gathered a block at a time in a loop that does nothing else, so the processor
    /// has many of these random reads in a table of megabytes in flight at once.
    #[inline(always)]
    fn for_each_known(&self, buckets: &[u32], mut f: impl FnMut(usize, f32)) {
        const BLOCK: usize = 64;
        let mut ratios = [0.0f32; BLOCK];
        for (block, chunk) in buckets.chunks(BLOCK).enumerate() {
            // Buckets come from masking with the model's own `bits`, so indexing cannot fail.
            for (r, &b) in ratios.iter_mut().zip(chunk) {
                *r = self.log_ratio[b as usize];
            }
            for (j, &r) in ratios[..chunk.len()].iter().enumerate() {
                if !r.is_nan() {
                    f(block * BLOCK + j, r);
                }
            }
        }
    }

    /// The `k` strongest features each way, strongest first: positive weights push to spam.
    /// A feature's weight is its log-ratio scaled by how much the calibration trusts its
    /// namespace. Only the winners are turned into strings.
    pub fn strongest_tokens(&self, features: &Features, k: usize) -> Vec<TokenWeight> {
        let mut strongest = Strongest::new(self, k);
        self.for_each_known(features.buckets(), |i, r| {
            strongest.offer(r, features.kinds()[i], i)
        });
        strongest.tokens(features.view())
    }

    /// Joint log-likelihood of each class (spam, ham) for per-bucket counts `x`, without length
    /// normalisation: the textbook multinomial NB quantity, used to check the maths against
    /// an independent implementation.
    pub fn joint_log_likelihood(&self, x: &[(u32, f64)]) -> (f64, f64) {
        let v = self.vocabulary.max(1) as f64 * self.params.alpha;
        let total_docs = (self.docs[SPAM] + self.docs[HAM]) as f64;
        let mut out = [0.0f64; 2];
        for (c, o) in out.iter_mut().enumerate() {
            *o = (self.docs[c] as f64 / total_docs).ln();
            let norm = (self.totals[c] + v).ln();
            for &(b, n) in x {
                *o += n * ((self.counts[b as usize][c] as f64 + self.params.alpha).ln() - norm);
            }
        }
        (out[SPAM], out[HAM])
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.log_ratio.len()
    }

    /// Non-zero (bucket, spam count, ham count) triples, for the artifact.
    fn sparse_counts(&self) -> Vec<(u32, f32, f32)> {
        (0..self.buckets())
            .filter(|&b| self.counts[b][SPAM] > 0.0 || self.counts[b][HAM] > 0.0)
            .map(|b| (b as u32, self.counts[b][SPAM], self.counts[b][HAM]))
            .collect()
    }

    /// Rebuilds a model from sparse counts (the artifact's form).
    fn from_sparse(
        params: NbParams,
        docs: (u64, u64),
        calibration: Calibration,
        counts: &[(u32, f32, f32)],
    ) -> Result<Self, String> {
        params.validate()?;
        if !calibration
            .weights
            .iter()
            .chain([&calibration.intercept])
            .all(|w| w.is_finite())
        {
            return Err("calibration has a non-finite weight".into());
        }
        let mut model = NbModel::new(params);
        let mut previous: Option<u32> = None;
        for &(b, s, h) in counts {
            let i = b as usize;
            // Strictly increasing buckets: a repeated entry would count twice in the totals.
            if previous.is_some_and(|p| b <= p) {
                return Err(format!(
                    "count entries not strictly increasing at bucket {b}"
                ));
            }
            previous = Some(b);
            if i >= model.buckets() || !s.is_finite() || !h.is_finite() || s < 0.0 || h < 0.0 {
                return Err(format!("bad count entry for bucket {b}"));
            }
            model.counts[i] = [s, h];
            model.totals[SPAM] += s as f64;
            model.totals[HAM] += h as f64;
            if s + h > 0.0 {
                model.vocabulary += 1;
            }
            model.log_ratio[i] = model.ln.ratio(s, h);
        }
        model.docs = [docs.0, docs.1];
        model.calibration = calibration;
        Ok(model)
    }
}

/// Per-class feature counts of a set of documents, without log-ratios: what training counts
/// part by part and then adds into one [`NbModel`] (a third smaller, and no logarithms).
#[derive(Debug, Clone)]
pub struct ClassCounts {
    counts: Vec<[f32; 2]>,
    totals: [f64; 2],
    docs: [u64; 2],
}

impl ClassCounts {
    /// No documents, for models with `params`.
    pub fn new(params: &NbParams) -> Self {
        let n = 1usize << params.features.bits;
        ClassCounts {
            counts: vec![[0.0; 2]; n],
            totals: [0.0; 2],
            docs: [0; 2],
        }
    }

    /// Counts documents `(buckets, label, weight)`; a weight is how many examples a
    /// document counts as, and a negative one counts as none.
    pub fn add<'a>(&mut self, docs: impl IntoIterator<Item = (&'a [u32], Label, f32)>) {
        for (buckets, label, weight) in docs {
            let c = class_index(label);
            // Training sets only add; a negative weight here would be a caller's bug.
            debug_assert!(weight >= 0.0, "a negative weight counted as none: {weight}");
            let weight = weight.max(0.0);
            for &b in buckets {
                // Summed per occurrence, as `NbModel::count` does, so a model built from
                // parts has the very totals one counted in one go would.
                let slot = &mut self.counts[b as usize][c];
                let updated = *slot + weight;
                self.totals[c] += (updated - *slot) as f64;
                *slot = updated;
            }
            self.docs[c] += 1;
        }
    }
}

/// `ln(count + α)` and log-ratios, with the logarithms of small whole counts (what almost
/// every bucket holds) from a table: training takes millions of them, and the table holds
/// exactly the value the logarithm gives.
#[derive(Debug, Clone)]
struct LnTable {
    alpha: f64,
    table: Vec<f64>,
}

impl LnTable {
    const SIZE: usize = 1024;

    fn new(alpha: f64) -> Self {
        LnTable {
            alpha,
            table: (0..Self::SIZE).map(|n| (n as f64 + alpha).ln()).collect(),
        }
    }

    #[inline(always)]
    fn ln(&self, count: f32) -> f64 {
        // `as` saturates (NaN and negatives become 0), and the comparison then fails for
        // anything that is not exactly a small whole number.
        let n = count as usize;
        match self.table.get(n) {
            Some(&v) if n as f32 == count => v,
            _ => (count as f64 + self.alpha).ln(),
        }
    }

    /// NaN marks a bucket never seen in training. Unseen features are skipped rather than
    /// scored: with smoothing they would each add the class-normaliser gap, pushing every
    /// unfamiliar word (a language or topic absent from the corpus) towards the smaller class.
    #[inline(always)]
    fn ratio(&self, spam: f32, ham: f32) -> f32 {
        if spam + ham <= 0.0 {
            return f32::NAN;
        }
        (self.ln(spam) - self.ln(ham)) as f32
    }
}

/// Buckets a batch changed: a sorted list while few, a bitmap once many (sorting a training
/// batch's million occurrences cost more than counting them).
struct Touched {
    list: Vec<u32>,
    bits: Option<Vec<u64>>,
    buckets: usize,
}

impl Touched {
    fn new(buckets: usize) -> Self {
        Touched {
            list: Vec::new(),
            bits: None,
            buckets,
        }
    }

    #[inline(always)]
    fn mark(&mut self, b: u32) {
        if let Some(bits) = &mut self.bits {
            bits[(b >> 6) as usize] |= 1 << (b & 63);
            return;
        }
        self.list.push(b);
        // Past one entry per 64 buckets, scanning a bitmap is cheaper than sorting.
        if self.list.len() > self.buckets / 64 {
            let mut bits = vec![0u64; self.buckets.div_ceil(64)];
            for b in self.list.drain(..) {
                bits[(b >> 6) as usize] |= 1 << (b & 63);
            }
            self.bits = Some(bits);
        }
    }

    /// Sorts and deduplicates the list form, once, before it is walked.
    fn settle(&mut self) {
        self.list.sort_unstable();
        self.list.dedup();
    }

    /// Calls `f` once per changed bucket, in increasing order.
    fn for_each(&self, mut f: impl FnMut(u32)) {
        match &self.bits {
            None => self.list.iter().for_each(|&b| f(b)),
            Some(bits) => {
                for (w, &word) in bits.iter().enumerate() {
                    let mut word = word;
                    while word != 0 {
                        f((w as u32) << 6 | word.trailing_zeros());
                        word &= word - 1;
                    }
                }
            }
        }
    }
}

/// Starts moving the cache line holding `table[bucket]` towards the processor; a hint that
/// changes no result. Not bounds-checked: it runs for every feature, and a prefetch of any
/// address, even one outside the table, never faults and reads nothing.
#[inline(always)]
fn prefetch(table: &[f32], bucket: u32) {
    #[cfg(target_arch = "x86_64")]
    {
        let r = table.as_ptr().wrapping_add(bucket as usize);
        // SAFETY: a prefetch never faults and reads nothing the program can observe, whatever
        // the address; the pointer is computed with wrapping arithmetic and never read.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(r.cast::<i8>())
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (table, bucket);
}

/// Whether two strings are equal: most evidence tokens that read the same are one slice of
/// the comment (a word and its n-grams), which the addresses settle without comparing bytes.
#[inline(always)]
fn same_text(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.as_ptr() == b.as_ptr() {
        return true;
    }
    // Prefixes and n-grams, most of what is compared, are a few bytes: a loop here costs
    // less than a call to `memcmp`.
    if a.len() <= 8 {
        a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

/// `r`, or +0.0 when `r` is NaN, without a branch (the compiler turns the plain `if` into
/// one, since SSE has no conditional move).
#[inline(always)]
fn known_or_zero(r: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_and_ps, _mm_cmpord_ss, _mm_cvtss_f32, _mm_set_ss};
        // SAFETY: SSE is part of every x86_64 processor, and these only compute on values.
        unsafe {
            let v = _mm_set_ss(r);
            _mm_cvtss_f32(_mm_and_ps(_mm_cmpord_ss(v, v), v))
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    if r.is_nan() {
        0.0
    } else {
        r
    }
}

/// Running per-namespace sums of known features' log-ratios (f32, in feature order).
#[derive(Clone)]
struct EvidenceSum {
    sums: [f32; KINDS],
    counts: [u32; KINDS],
    max: f32,
    min: f32,
}

impl EvidenceSum {
    fn new() -> Self {
        EvidenceSum {
            sums: [0.0; KINDS],
            counts: [0; KINDS],
            max: f32::NEG_INFINITY,
            min: f32::INFINITY,
        }
    }

    #[inline(always)]
    fn add(&mut self, r: f32, kind: u8) {
        // Kinds are < KINDS by construction.
        self.sums[kind as usize] += r;
        self.counts[kind as usize] += 1;
        // `r` is never NaN, so plain comparisons give what `f32::max`/`min` would.
        if r > self.max {
            self.max = r;
        }
        if r < self.min {
            self.min = r;
        }
    }

    /// [`EvidenceSum::add`] for a log-ratio that may be NaN (a feature never seen in
    /// training), which adds nothing: the same sums, bit for bit, as [`NbModel::assess`].
    #[inline(always)]
    fn add_any(&mut self, r: f32, kind: u8) {
        self.sums[kind as usize] += known_or_zero(r);
        self.counts[kind as usize] += !r.is_nan() as u32;
        self.max = if r > self.max { r } else { self.max };
        self.min = if r < self.min { r } else { self.min };
    }
}

/// A comment is [unfamiliar](NbModel::is_unfamiliar) when the share of its features known
/// beyond what bucket collisions give is below this: a fifth, so that a few features known in
/// any language (the author's name, a number's shape) do not make chance look familiar. For
/// the shipped model (15.9% of buckets in use) that is under 33% known.
pub const UNFAMILIAR_BEYOND_CHANCE: f64 = 0.2;

/// Most evidence tokens named each way; a larger `k` is cut to this.
pub const MAX_EVIDENCE_TOKENS: usize = 16;

/// One side's strongest features so far, strongest first with ties in feature order; weights
/// made positive (a ham side holds negated weights), so both sides keep the largest. A fixed
/// array: the insertions are most of what naming the evidence costs, and until the list is
/// full nearly every feature of the right sign enters it.
struct Side {
    keep: usize,
    len: usize,
    /// A weight must be above this to enter: 0 until the list is full, then its weakest
    /// weight (+∞ when `keep` is 0, so nothing enters).
    bar: f32,
    list: [(f32, u32); 2 * MAX_EVIDENCE_TOKENS],
}

impl Side {
    fn new(keep: usize) -> Self {
        let keep = keep.min(2 * MAX_EVIDENCE_TOKENS);
        Side {
            keep,
            len: 0,
            bar: if keep == 0 { f32::INFINITY } else { 0.0 },
            list: [(0.0, 0); 2 * MAX_EVIDENCE_TOKENS],
        }
    }

    /// Inserts feature `i` of weight `w` (the caller checked `w > bar`) after every entry at
    /// least as strong, dropping the weakest past `keep`; returns the new bar.
    #[inline(always)]
    fn push(&mut self, w: f32, i: usize) -> f32 {
        if self.len < self.keep {
            self.len += 1;
        }
        let list = &mut self.list[..self.len];
        let mut j = list.len() - 1;
        while j > 0 && list[j - 1].0 < w {
            list[j] = list[j - 1];
            j -= 1;
        }
        list[j] = (w, i as u32);
        if self.len == self.keep {
            self.bar = list[self.len - 1].0;
        }
        self.bar
    }

    /// The kept features, strongest first.
    fn sorted(&self) -> &[(f32, u32)] {
        &self.list[..self.len]
    }
}

/// The strongest features each way: twice `k` of them each way, so duplicates of one token
/// string can be skipped.
struct Strongest {
    k: usize,
    offset: f32,
    /// The calibration's weight of each namespace, as the f32 the weights are computed in.
    trust: [f32; DIMS],
    top: Side,
    /// Negated weights of the ham side.
    bottom: Side,
}

impl Strongest {
    fn new(model: &NbModel, k: usize) -> Self {
        Self::with_offset(model, k, model.per_feature_offset())
    }

    fn with_offset(model: &NbModel, k: usize, offset: f64) -> Self {
        let k = k.min(MAX_EVIDENCE_TOKENS);
        Strongest {
            k,
            offset: offset as f32,
            trust: model.calibration.weights.map(|w| w as f32),
            top: Side::new(2 * k),
            bottom: Side::new(2 * k),
        }
    }

    /// Considers feature `i`, whose log-ratio `r` is known.
    #[inline(always)]
    fn offer(&mut self, r: f32, kind: u8, i: usize) {
        let w = (r - self.offset) * self.trust[kind as usize];
        if w > self.top.bar {
            self.top.push(w, i);
        } else if -w > self.bottom.bar {
            self.bottom.push(-w, i);
        }
    }

    /// The winners as tokens: up to `k` distinct token strings each way, strongest first. A
    /// character n-gram is named by the body word it was cut from (`w:` and the word), so a
    /// word and its n-grams make one entry whose weight is their sum. Only the handful of
    /// winners is named, as slices of the comment in arrays on the stack; only the `k` kept
    /// each way become strings, so this costs nothing per feature and allocates once per token.
    fn tokens(self, features: FeatureView<'_>) -> Vec<TokenWeight> {
        const MOST: usize = 2 * MAX_EVIDENCE_TOKENS;
        let mut out: Vec<TokenWeight> = Vec::with_capacity(2 * self.k);
        // Words already found: most winning n-grams are cut from a word another one was.
        // Inline vectors rather than arrays: their unused room is never written, and zeroing
        // two kilobytes of arrays per comment showed in the profile.
        let mut words: SmallVec<[&str; 2 * MOST]> = SmallVec::new();
        let within = |outer: &str, inner: &str| {
            let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
            o <= i && i + inner.len() <= o + outer.len()
        };
        for (side, sign) in [(&self.top, 1.0f32), (&self.bottom, -1.0)] {
            // One side's entries: prefix, text and summed weight.
            let mut named: SmallVec<[(&str, &str, f64); MOST]> = SmallVec::new();
            for &(w, i) in side.sorted() {
                let i = i as usize;
                let (prefix, body) = features.token_parts(i);
                // Only a character n-gram is named by its word: other features skip the search.
                let word = if features.is_char_ngram(i) {
                    match words.iter().find(|word| within(word, body)) {
                        Some(word) => Some(*word),
                        None => features.word_of(i).inspect(|word| words.push(word)),
                    }
                } else {
                    None
                };
                let (prefix, body) = word.map_or((prefix, body), |word| ("w:", word));
                let weight = (sign * w) as f64;
                match named
                    .iter_mut()
                    .find(|t| same_text(t.0, prefix) && same_text(t.1, body))
                {
                    Some(t) => t.2 += weight,
                    None => named.push((prefix, body, weight)),
                }
            }
            named.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
            for &(prefix, body, weight) in named.iter().take(self.k) {
                let mut token = String::with_capacity(prefix.len() + body.len());
                token.push_str(prefix);
                token.push_str(body);
                out.push(TokenWeight {
                    token,
                    weight: (weight * 1000.0).round() / 1000.0,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;

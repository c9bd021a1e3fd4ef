//! Training: counting features of labelled comments and calibrating on held-out folds.

use std::borrow::Borrow;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use super::artifact::{write_model, Manifest};
use super::{Calibration, Evidence, NbModel, NbParams};
use crate::corpus::{file_len, read_jsonl, LabelledComment};
use crate::domain::{Comment, Label};
use crate::text::{normalize_content, AuthorFields, Features, NormalizedText};

/// A labelled comment reduced to its feature buckets.
#[derive(Debug, Clone)]
pub struct ExtractedDoc {
    /// Feature buckets (with repeats unless the model uses presence).
    pub buckets: Vec<u32>,
    /// Namespace of each bucket.
    pub kinds: Vec<u8>,
    /// Ground truth.
    pub label: Label,
    /// How many examples it counts as (1 for the corpus; moderator labels count more).
    pub weight: f32,
}

/// How to train.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Model hyper-parameters.
    pub params: NbParams,
    /// Folds for fitting the calibration on out-of-fold scores (< 2 skips calibration).
    pub calibration_folds: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            params: NbParams::default(),
            calibration_folds: 5,
        }
    }
}

/// Builds models from labelled comments.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trainer {
    /// Training options.
    pub options: TrainOptions,
}

/// The author fields of a comment, as features see them.
pub fn author_fields(comment: &Comment) -> AuthorFields<'_> {
    AuthorFields {
        name: comment.author.as_deref(),
        email: comment.author_email.as_deref(),
        url: comment.author_url.as_deref(),
    }
}

/// Most documents' worth one source may count for in a class that has several (see
/// [`source_weights`]). Chosen by the cross-source table (`scripts/xsource.sh`): with 500,
/// 700, 1,000, 1,500 and 2,000 every YouTube and SMS F1 rose, and 1,000 kept the most of it
/// at the least FPR; it caps two of the shipped sources (SMS genuine messages, one blog's
/// spam). Capping only one class did worse than both.
pub const SOURCE_CAP: f64 = 1000.0;

/// How much a row counts when its source supplies one class only (a blog whose spam alone
/// was kept, another whose genuine comments alone), within a class other sources also
/// supply. Such a source ties its site to its class: its topic, its style and the words any
/// comment on a blog uses ("post", "article", "site") are learned as that class, and a new
/// blog is judged by which of the two it resembles. Chosen by the cross-source table
/// (`scripts/xsource.sh`, docs/performance.md): from 0.7 down to 0.1 every YouTube F1 rose
/// and the blog-mademistakes FPR fell (0.39 to 0.30 at 0.4); below 0.4 the SMS FPR rose
/// faster. Trusting only spam-only sources less did as well on the table but lost 3 points
/// more of the never-seen genuine tweets.
pub const ONE_CLASS_SOURCE_WEIGHT: f64 = 0.4;

/// The training weight of each row from its source and label: within a label that more
/// than one source supplies, a source with more than [`SOURCE_CAP`] rows counts as
/// `SOURCE_CAP` of them (each row a share), and a source of that one label only counts
/// [`ONE_CLASS_SOURCE_WEIGHT`] of that; every other row counts 1. Naive Bayes learns
/// what a class's words look like from the sum of its sources, so one large source (4,518
/// SMS messages among the genuine comments, one blog's 2,738 spam comments) would teach it
/// that source's topic and style as the class's: a site it has never seen is then judged by
/// how much it resembles that one source. Rows without a source count 1 and are not
/// counted (moderator labels: a site's own labels are meant to weigh).
pub fn source_weights<'a>(
    rows: impl Iterator<Item = (Option<&'a str>, Label)> + Clone,
) -> Vec<f32> {
    use std::collections::HashMap;
    let mut sizes: HashMap<(&str, Label), f64> = HashMap::new();
    for (source, label) in rows.clone() {
        if let Some(source) = source {
            *sizes.entry((source, label)).or_default() += 1.0;
        }
    }
    let sources = |label: Label| sizes.keys().filter(|(_, l)| *l == label).count();
    let several = [Label::Spam, Label::Ham].map(|l| sources(l) >= 2);
    let one_class = |source: &str| {
        !(sizes.contains_key(&(source, Label::Spam)) && sizes.contains_key(&(source, Label::Ham)))
    };
    rows.map(|(source, label)| match source {
        Some(source) if several[(label == Label::Ham) as usize] => {
            let share = (SOURCE_CAP / sizes[&(source, label)]).min(1.0);
            let trust = if one_class(source) {
                ONE_CLASS_SOURCE_WEIGHT
            } else {
                1.0
            };
            (share * trust) as f32
        }
        _ => 1.0,
    })
    .collect()
}

/// Below this many documents [`Trainer::extract_many`] works on the calling thread.
const INLINE_EXTRACTION: usize = 8;

impl Trainer {
    /// A trainer with these options.
    pub fn new(options: TrainOptions) -> Self {
        Trainer { options }
    }

    /// Normalises a comment and extracts its features as this trainer's models will.
    pub fn features_of(&self, comment: &Comment, text: &NormalizedText) -> Features {
        Features::extract(&self.options.params.features, text, author_fields(comment))
    }

    /// Extracts one labelled comment.
    pub fn extract(&self, labelled: &LabelledComment) -> ExtractedDoc {
        self.extract_comment(&labelled.to_comment(), labelled.label, 1.0)
    }

    /// Extracts a comment with all its fields, counting `weight` examples.
    pub fn extract_comment(&self, comment: &Comment, label: Label, weight: f32) -> ExtractedDoc {
        let text = normalize_content(&comment.content);
        let features = self.features_of(comment, &text);
        ExtractedDoc {
            buckets: features.buckets().to_vec(),
            kinds: features.kinds().to_vec(),
            label,
            weight,
        }
    }

    /// [`Trainer::extract_comment`] for many documents, in order, on two threads (what the
    /// service's machine has; one for a handful, see `INLINE_EXTRACTION`): training and
    /// replaying labels spend most of their time here.
    pub fn extract_many<C: Borrow<Comment> + Sync>(
        &self,
        docs: &[(C, Label, f32)],
    ) -> Vec<ExtractedDoc> {
        let extract = |part: &[(C, Label, f32)]| -> Vec<ExtractedDoc> {
            part.iter()
                .map(|(c, l, w)| self.extract_comment(c.borrow(), *l, *w))
                .collect()
        };
        // A few labels learnt online take less time than starting a thread.
        if docs.len() < INLINE_EXTRACTION {
            return extract(docs);
        }
        let (first, second) = docs.split_at(docs.len() / 2);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| extract(second));
            let mut out = extract(first);
            // A panic in extraction is a bug: it surfaces in the caller as it would inline.
            out.extend(
                other
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
            out
        })
    }

    /// Counts every document into a fresh, uncalibrated model.
    pub fn count<D: Borrow<ExtractedDoc>>(&self, docs: &[D]) -> NbModel {
        let mut model = NbModel::new(self.options.params);
        model.learn_batch(
            docs.iter()
                .map(Borrow::borrow)
                .map(|d| (d.buckets.as_slice(), d.label, d.weight)),
        );
        model
    }

    /// Trains and calibrates: the calibration is fitted on scores each document got from a
    /// model that did not see it (k-fold), so it reflects how the model does on new comments.
    ///
    /// Takes documents or references to them, so a caller combining sets need not copy.
    pub fn fit<D: Borrow<ExtractedDoc>>(&self, docs: &[D]) -> NbModel {
        let mut model = self.count(docs);
        let calibration = Calibration::fit(&self.out_of_fold_evidence(&model, docs));
        model.set_calibration(calibration);
        model
    }

    /// Out-of-fold evidence for every document (fold = index mod k), given the model counted
    /// on all of them: each fold's counts are subtracted from one working copy and then
    /// restored, which is cheaper than recounting or copying the model per fold.
    pub fn out_of_fold_evidence<D: Borrow<ExtractedDoc>>(
        &self,
        full: &NbModel,
        docs: &[D],
    ) -> Vec<(Evidence, bool)> {
        let k = self.options.calibration_folds;
        if k < 2 || docs.len() < k {
            return Vec::new();
        }
        let mut scores = vec![([0.0; super::DIMS], false); docs.len()];
        let mut model = full.clone();
        for fold in 0..k {
            let in_fold = || {
                docs.iter()
                    .map(Borrow::borrow)
                    .enumerate()
                    .skip(fold)
                    .step_by(k)
            };
            let touched = model
                .unlearn_batch(in_fold().map(|(_, d)| (d.buckets.as_slice(), d.label, d.weight)));
            for (i, d) in in_fold() {
                scores[i] = (model.evidence(&d.buckets, &d.kinds), d.label == Label::Spam);
            }
            model.restore(full, &touched);
        }
        scores
    }
}

/// Reads labelled JSON Lines files, extracting features as it goes; returns the documents
/// and a hash of the corpus (texts, authors and labels in order).
pub fn extract_files(
    trainer: &Trainer,
    inputs: &[PathBuf],
    show_progress: bool,
) -> anyhow::Result<(Vec<ExtractedDoc>, String)> {
    let total: u64 = inputs.iter().map(|p| file_len(p)).sum();
    let bar = if show_progress && total > 4 * 1024 * 1024 {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let mut hasher = Xxh3::new();
    let mut docs = Vec::new();
    let mut sources = Vec::new();
    for path in inputs {
        for row in read_jsonl(path)? {
            let row = row?;
            hasher.update(row.text.as_bytes());
            hasher.update(&[0]);
            hasher.update(row.author.as_deref().unwrap_or("").as_bytes());
            hasher.update(if row.label == Label::Spam {
                b"\0s\n"
            } else {
                b"\0h\n"
            });
            if let Some(bar) = &bar {
                bar.inc(row.text.len() as u64 + 40);
            }
            docs.push(trainer.extract(&row));
            sources.push((row.source, row.label));
        }
    }
    let weights = source_weights(sources.iter().map(|(s, l)| (s.as_deref(), *l)));
    for (doc, weight) in docs.iter_mut().zip(weights) {
        doc.weight *= weight;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((docs, format!("{:032x}", hasher.digest128())))
}

/// Trains the shipped pipeline's model from labelled JSON Lines files and writes the
/// artifact and manifest into `out`.
pub fn train_files(
    inputs: &[PathBuf],
    out: &Path,
    show_progress: bool,
) -> anyhow::Result<Manifest> {
    train_files_with(Trainer::default(), inputs, out, show_progress)
}

/// [`train_files`] with given options (for experiments with other hyper-parameters).
pub fn train_files_with(
    trainer: Trainer,
    inputs: &[PathBuf],
    out: &Path,
    show_progress: bool,
) -> anyhow::Result<Manifest> {
    if inputs.is_empty() {
        anyhow::bail!("no --input files given");
    }
    let (docs, corpus_hash) = extract_files(&trainer, inputs, show_progress)?;
    let model = trainer.fit(&docs);
    let cv = super::artifact::CvMetrics::from_scores(
        &trainer.out_of_fold_evidence(&model, &docs),
        &model,
        trainer.options.calibration_folds,
    );
    let sources = inputs.iter().map(|p| p.display().to_string()).collect();
    write_model(&model, out, corpus_hash, sources, cv)
}

//! The model artifact (postcard) and its JSON manifest.
//!
//! The artifact holds only non-zero counts, so it is a few MB however many buckets the model
//! has; the manifest is what people and the registry read. The manifest records the
//! artifact's hash so a truncated or corrupted file is refused at load instead of scoring
//! with garbage.

use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use super::{Calibration, Evidence, NbModel, NbParams};

/// File name of the artifact inside a models directory.
pub const MODEL_FILE: &str = "model.postcard";
/// File name of the manifest inside a models directory.
pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: u32 = 1;

/// The serialised model.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelArtifact {
    format: u32,
    params: NbParams,
    docs: (u64, u64),
    calibration: Calibration,
    counts: Vec<(u32, f32, f32)>,
}

/// Cross-validated figures of the classifier alone on its training corpus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CvMetrics {
    /// Folds used.
    pub folds: usize,
    /// Out-of-fold ROC AUC of the calibrated score.
    pub auc: f64,
    /// Out-of-fold log loss of the calibrated probability.
    pub log_loss: f64,
}

impl CvMetrics {
    /// Computes the metrics from out-of-fold (log-odds, is_spam) pairs.
    ///
    /// The calibration was fitted on these same out-of-fold scores, so the log loss is a
    /// little optimistic; the AUC does not depend on it.
    pub fn from_scores(evidence: &[(Evidence, bool)], model: &NbModel, folds: usize) -> Self {
        if evidence.is_empty() {
            return CvMetrics::default();
        }
        let cal = model.calibration();
        let scores: Vec<(f64, bool)> = evidence
            .iter()
            .map(|(e, y)| (cal.log_odds(e), *y))
            .collect();
        let mut sorted: Vec<&(f64, bool)> = scores.iter().collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut rank_sum, mut pos) = (0.0, 0.0);
        for (i, s) in sorted.iter().enumerate() {
            if s.1 {
                rank_sum += (i + 1) as f64;
                pos += 1.0;
            }
        }
        let neg = scores.len() as f64 - pos;
        let auc = if pos > 0.0 && neg > 0.0 {
            (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
        } else {
            0.0
        };
        let log_loss = scores
            .iter()
            .map(|&(x, y)| {
                let p = (1.0 / (1.0 + (-x).exp())).clamp(1e-12, 1.0 - 1e-12);
                if y {
                    -p.ln()
                } else {
                    -(1.0 - p).ln()
                }
            })
            .sum::<f64>()
            / scores.len() as f64;
        let round = |v: f64| (v * 1e6).round() / 1e6;
        CvMetrics {
            folds,
            auc: round(auc),
            log_loss: round(log_loss),
        }
    }
}

/// What is known about a model version, stored as JSON beside the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version id: derived from the artifact's bytes, so the same training gives the same id.
    pub version: String,
    /// When it was trained (RFC 3339).
    pub created_at: String,
    /// xxh3-128 of the training corpus (texts, authors, labels in order).
    pub corpus_hash: String,
    /// Training files.
    pub sources: Vec<String>,
    /// Training comments: spam.
    pub spam_docs: u64,
    /// Training comments: ham.
    pub ham_docs: u64,
    /// Hyper-parameters.
    pub params: NbParams,
    /// The calibration fitted at training time.
    pub calibration: Calibration,
    /// Cross-validated metrics on the training corpus.
    pub cv: CvMetrics,
    /// xxh3-128 of the artifact file, checked at load.
    pub artifact_hash: String,
}

/// Why a model could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the right shape.
    #[error("manifest: {0}")]
    Manifest(String),
    /// The artifact's bytes do not match the manifest's hash.
    #[error("artifact hash {actual} does not match the manifest's {expected}: the file is corrupt or from another version")]
    HashMismatch {
        /// Hash recorded in the manifest.
        expected: String,
        /// Hash of the bytes read.
        actual: String,
    },
    /// The artifact does not decode into a valid model.
    #[error("artifact: {0}")]
    Decode(String),
}

fn hash_hex(bytes: &[u8]) -> String {
    format!("{:032x}", xxh3_128(bytes))
}

impl ModelArtifact {
    /// Serialises a model.
    pub fn encode(model: &NbModel) -> Result<Vec<u8>, ArtifactError> {
        let artifact = ModelArtifact {
            format: FORMAT,
            params: *model.params(),
            docs: model.doc_counts(),
            calibration: model.calibration(),
            counts: model.sparse_counts(),
        };
        postcard::to_stdvec(&artifact).map_err(|e| ArtifactError::Decode(e.to_string()))
    }

    /// Decodes and validates a model, checking the bytes against the manifest's hash.
    pub fn decode(bytes: &[u8], manifest: &Manifest) -> Result<NbModel, ArtifactError> {
        let actual = hash_hex(bytes);
        if actual != manifest.artifact_hash {
            return Err(ArtifactError::HashMismatch {
                expected: manifest.artifact_hash.clone(),
                actual,
            });
        }
        let a: ModelArtifact =
            postcard::from_bytes(bytes).map_err(|e| ArtifactError::Decode(e.to_string()))?;
        if a.format != FORMAT {
            return Err(ArtifactError::Decode(format!(
                "format {} is not {FORMAT}",
                a.format
            )));
        }
        NbModel::from_sparse(a.params, a.docs, a.calibration, &a.counts)
            .map_err(ArtifactError::Decode)
    }

    /// Reads a model and its manifest from a models directory.
    pub fn read_dir(dir: &Path) -> Result<(NbModel, Manifest), ArtifactError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| ArtifactError::Io {
                path: path.display().to_string(),
                source,
            })
        };
        let manifest = parse_manifest(&read(MANIFEST_FILE)?)?;
        let model = Self::decode(&read(MODEL_FILE)?, &manifest)?;
        Ok((model, manifest))
    }
}

/// Parses a manifest from JSON bytes.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, ArtifactError> {
    serde_json::from_slice(bytes).map_err(|e| ArtifactError::Manifest(e.to_string()))
}

/// Writes the artifact and manifest into `out` (each via a temporary file, fsync and a
/// rename, so a crash never leaves a half-written model under the real name).
pub fn write_model(
    model: &NbModel,
    out: &Path,
    corpus_hash: String,
    sources: Vec<String>,
    cv: CvMetrics,
) -> anyhow::Result<Manifest> {
    let bytes = ModelArtifact::encode(model)?;
    let artifact_hash = hash_hex(&bytes);
    let (spam_docs, ham_docs) = model.doc_counts();
    let created_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let manifest = Manifest {
        version: format!("nb-{}", &artifact_hash[..12]),
        created_at,
        corpus_hash,
        sources,
        spam_docs,
        ham_docs,
        params: *model.params(),
        calibration: model.calibration(),
        cv,
        artifact_hash,
    };
    std::fs::create_dir_all(out)?;
    write_atomically(&out.join(MODEL_FILE), &bytes)?;
    let mut json = serde_json::to_vec_pretty(&manifest)?;
    json.push(b'\n');
    write_atomically(&out.join(MANIFEST_FILE), &json)?;
    Ok(manifest)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    // The rename itself is durable only once the directory is.
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

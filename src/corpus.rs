//! Labelled comments in JSON Lines, the format of the shared evaluation splits:
//! one `{"id", "author", "text", "label": "spam"|"ham"}` object per line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use crate::domain::{Comment, Label};

/// One labelled comment from a corpus file.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelledComment {
    /// Identifier in the source data, if any.
    #[serde(default)]
    pub id: Option<String>,
    /// Author display name.
    #[serde(default)]
    pub author: Option<String>,
    /// Comment body.
    pub text: String,
    /// Ground truth.
    pub label: Label,
    /// The collection the comment comes from (a site, a video, a message set), when known:
    /// training keeps one source from outweighing the others of its class
    /// ([`crate::classifier::source_weights`]).
    #[serde(default)]
    pub source: Option<String>,
}

impl LabelledComment {
    /// The comment as the scorer sees it.
    pub fn to_comment(&self) -> Comment {
        Comment::from_text(
            self.text.clone(),
            self.author.clone().filter(|a| !a.is_empty()),
        )
    }
}

/// Why a corpus file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A line is not a labelled comment.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// File path.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
}

/// Streams the labelled comments of a JSON Lines file; blank lines are skipped.
pub fn read_jsonl(
    path: &Path,
) -> Result<impl Iterator<Item = Result<LabelledComment, CorpusError>>, CorpusError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| CorpusError::Io {
        path: name.clone(),
        source,
    })?;
    let lines = BufReader::new(file).lines().enumerate();
    Ok(lines.filter_map(move |(i, line)| match line {
        Err(source) => Some(Err(CorpusError::Io {
            path: name.clone(),
            source,
        })),
        Ok(l) if l.trim().is_empty() => None,
        Ok(l) => {
            Some(
                serde_json::from_str::<LabelledComment>(&l).map_err(|e| CorpusError::Parse {
                    path: name.clone(),
                    line: i + 1,
                    message: e.to_string(),
                }),
            )
        }
    }))
}

/// Reads a whole JSON Lines file into memory.
pub fn load_jsonl(path: &Path) -> Result<Vec<LabelledComment>, CorpusError> {
    read_jsonl(path)?.collect()
}

/// Size of a file in bytes, for progress bars; 0 when unknown.
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The shipped training corpus (fixtures/corpus), compiled in so retraining needs no files:
/// the same three files `scripts/rebuild-models.sh` trains the shipped model on.
const SHIPPED_CORPUS: [&str; 3] = [
    include_str!("../fixtures/corpus/youtube.jsonl"),
    include_str!("../fixtures/corpus/sms.jsonl"),
    include_str!("../fixtures/corpus/blog.jsonl"),
];

/// Every comment of the shipped corpus, in file order.
pub fn shipped_corpus() -> Vec<LabelledComment> {
    SHIPPED_CORPUS
        .iter()
        .flat_map(|text| text.lines())
        .filter(|line| !line.trim().is_empty())
        // The files are checked in and parsed by the tests; a bad line cannot ship.
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[cfg(test)]
mod shipped_tests {
    #[test]
    fn the_shipped_corpus_parses_whole() {
        let rows = super::shipped_corpus();
        let lines: usize = super::SHIPPED_CORPUS
            .iter()
            .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
            .sum();
        assert_eq!(rows.len(), lines, "every line parses");
        assert!(rows.len() > 10_000);
        // What retraining learns from must be what the shipped model was trained on
        // (scripts/rebuild-models.sh): every source, and each row's source for balancing.
        let sources: std::collections::BTreeSet<&str> =
            rows.iter().filter_map(|r| r.source.as_deref()).collect();
        for source in ["youtube-psy", "sms", "blog-umd", "blog-mademistakes"] {
            assert!(
                sources.contains(source),
                "{source} missing from {sources:?}"
            );
        }
        assert!(
            rows.iter().all(|r| r.source.is_some()),
            "a row without its source"
        );
    }
}

//! The append-only label log: one JSON object per line, fsync'd before a label is
//! acknowledged, replayed at start.
//!
//! A crash can leave at most the line being written incomplete, and that label was never
//! acknowledged (the fsync comes after the whole line). Opening the log therefore drops an
//! unterminated *last* line with a warning and truncates it away, so the next
//! append starts on a clean line. A bad line in the middle cannot come from a crash; it is
//! skipped with an error in the log rather than refusing to start, and kept on disk for a
//! human to look at.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::LabelRecord;

/// Name of the log inside the data directory.
pub const LABELS_FILE: &str = "labels.jsonl";

/// What opening the log found besides the records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayReport {
    /// Records replayed.
    pub records: u64,
    /// Bytes of an incomplete last line that were cut off.
    pub torn_bytes: u64,
    /// Unparsable lines before the last one (skipped, left on disk).
    pub corrupt_lines: u64,
}

/// The open log, positioned for appending.
#[derive(Debug)]
pub struct LabelLog {
    path: PathBuf,
    file: File,
    /// (seq, byte offset) of each readable record, in order, for paging through exports.
    offsets: Vec<(u64, u64)>,
    /// Length of the durable part of the file.
    end: u64,
    /// Set when a failed append could not be cut off again: appending more would glue a
    /// good label onto a fragment, so the log refuses writes until it is reopened.
    broken: bool,
}

impl LabelLog {
    /// Opens (creating) the log in `data_dir` and streams every record to `replay`, in order.
    pub fn open(
        data_dir: &Path,
        mut replay: impl FnMut(LabelRecord),
    ) -> io::Result<(LabelLog, ReplayReport)> {
        let path = data_dir.join(LABELS_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut report = ReplayReport::default();
        let mut offsets = Vec::new();
        let mut reader = BufReader::new(&mut file);
        let mut line = Vec::new();
        let mut offset = 0u64;
        // An unterminated line; only the last line can be one.
        let mut pending_bad: Option<(u64, u64)> = None;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)? as u64;
            if n == 0 {
                break;
            }
            let complete = line.last() == Some(&b'\n');
            match serde_json::from_slice::<LabelRecord>(&line) {
                Ok(record) if complete => {
                    offsets.push((record.seq, offset));
                    report.records += 1;
                    replay(record);
                }
                // Only an unterminated line can be a write cut short.
                _ if !complete => pending_bad = Some((offset, n)),
                _ => {
                    report.corrupt_lines += 1;
                    tracing::error!(
                        file = %path.display(),
                        offset,
                        bytes = n,
                        "skipping an unreadable line in the label log"
                    );
                }
            }
            offset += n;
        }
        drop(reader);
        let mut end = offset;
        if let Some((bad_offset, bad_len)) = pending_bad {
            tracing::warn!(
                file = %path.display(),
                offset = bad_offset,
                bytes = bad_len,
                "the label log ends in an incomplete line (a write cut short by a crash; \
                 it was never acknowledged); cutting it off"
            );
            file.set_len(bad_offset)?;
            file.sync_all()?;
            report.torn_bytes = bad_len;
            end = bad_offset;
        }
        file.seek(SeekFrom::End(0))?;
        Ok((
            LabelLog {
                path,
                file,
                offsets,
                end,
                broken: false,
            },
            report,
        ))
    }

    /// Appends one record and makes it durable (data fsync) before returning.
    pub fn append(&mut self, record: &LabelRecord) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier failed write could not be undone; restart to repair the label log",
            ));
        }
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        if let Err(e) = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
        {
            // Whatever part reached the file is cut off again, so the log stays whole lines
            // and the next append does not glue onto a fragment.
            if self.file.set_len(self.end).is_err() {
                self.broken = true;
            }
            return Err(e);
        }
        self.offsets.push((record.seq, self.end));
        self.end += line.len() as u64;
        Ok(())
    }

    /// Appends `records` in order and makes them durable with one fsync: all of them or,
    /// on an error, none (whatever part reached the file is cut off again).
    pub fn append_many(&mut self, records: &[LabelRecord]) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier failed write could not be undone; restart to repair the label log",
            ));
        }
        let mut bytes = Vec::new();
        let mut starts = Vec::with_capacity(records.len());
        for record in records {
            starts.push((record.seq, self.end + bytes.len() as u64));
            serde_json::to_writer(&mut bytes, record).map_err(io::Error::other)?;
            bytes.push(b'\n');
        }
        if let Err(e) = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
        {
            if self.file.set_len(self.end).is_err() {
                self.broken = true;
            }
            return Err(e);
        }
        self.offsets.extend(starts);
        self.end += bytes.len() as u64;
        Ok(())
    }

    /// Number of readable records in the log.
    pub fn len(&self) -> u64 {
        self.offsets.len() as u64
    }

    /// The highest position in the log (0 when empty); the next label gets the one after.
    /// Not `len()`: an unreadable middle line still used up its position.
    pub fn last_seq(&self) -> u64 {
        self.offsets.last().map_or(0, |&(seq, _)| seq)
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Reads records in order starting at `seq` (1-based), stopping after `limit` records
    /// that `keep` accepts or at the end of the durable part.
    pub fn read_from(
        &self,
        seq: u64,
        limit: usize,
        keep: impl FnMut(&LabelRecord) -> bool,
    ) -> io::Result<Vec<LabelRecord>> {
        self.read_as(seq, limit, |r: &LabelRecord| r.seq, keep)
    }

    /// [`LabelLog::read_from`] parsing only each record's position and fingerprint, which
    /// skips building the comment's strings.
    pub fn read_heads_from(&self, seq: u64, limit: usize) -> io::Result<Vec<RecordHead>> {
        self.read_as(seq, limit, |r: &RecordHead| r.seq, |_| true)
    }

    fn read_as<T: serde::de::DeserializeOwned>(
        &self,
        seq: u64,
        limit: usize,
        seq_of: impl Fn(&T) -> u64,
        mut keep: impl FnMut(&T) -> bool,
    ) -> io::Result<Vec<T>> {
        // The first record at or after `seq` (positions may have gaps).
        let first = self.offsets.partition_point(|&(s, _)| s < seq);
        let Some(&(_, start)) = self.offsets.get(first) else {
            return Ok(Vec::new());
        };
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(start))?;
        let mut reader = BufReader::new(file.take(self.end - start));
        let mut out = Vec::new();
        let mut line = Vec::new();
        let (mut position, mut accepted) = (start, first);
        while out.len() < limit {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)? as u64;
            if n == 0 {
                break;
            }
            let at = position;
            position += n;
            // Only the lines `open` and `append` accepted as whole records: a damaged line
            // that a lighter `T` would still parse must not count in one pass over the log
            // and be missing from another.
            if self.offsets.get(accepted).map(|&(_, o)| o) != Some(at) {
                continue;
            }
            accepted += 1;
            if let Ok(record) = serde_json::from_slice::<T>(&line) {
                if seq_of(&record) >= seq && keep(&record) {
                    out.push(record);
                }
            }
        }
        Ok(out)
    }
}

/// A record's position and fingerprint: all the first pass over the log needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RecordHead {
    /// Position in the log.
    pub seq: u64,
    /// The comment's fingerprint, hex.
    pub fingerprint: String,
}

//! Reading moderation history exported from other platforms: WordPress database dumps,
//! WP-CLI's JSON, WordPress's WXR export, Disqus's XML export and this project's labelled
//! JSON Lines. Each parser streams: it reads from any [`Read`], holds one record at a time
//! (plus, for Disqus, each thread's link) and hands every record to a sink as it goes, so a
//! file of any size needs only a few megabytes.
//!
//! This module is the pure half: formats, detection, parsing and the statuses' meaning. It
//! writes nothing; `service::import` feeds what it yields into the label book in batches.
//!
//! Positions in errors are of the uncompressed data (a gzip file is read through its
//! decoder): a line number where the format has lines, always a byte offset. Messages never
//! quote the input (it holds comments and e-mail addresses).

mod json;
mod sql;
mod xml;

use std::io::{self, BufRead, BufReader, Read};

use serde::Serialize;

use crate::domain::{Comment, CommentError, Label};
use crate::keys::normalize_site;

/// Bytes looked at to tell the format (and gzip) apart.
const SNIFF_BYTES: usize = 64 * 1024;
/// Buffer of the readers the parsers read through.
const READ_BUFFER: usize = 256 * 1024;

/// A format this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `mysqldump` / `mariadb-dump` output holding a WordPress `*_comments` table.
    WordpressDump,
    /// `wp comment list --format=json` output.
    WpCli,
    /// WordPress's own export (WXR, Tools → Export).
    Wxr,
    /// Disqus's XML export.
    Disqus,
    /// This project's labelled JSON Lines (`label` plus score request fields).
    Jsonl,
}

impl Format {
    /// Every format, in the order detection tries them.
    pub const ALL: [Format; 5] = [
        Format::WordpressDump,
        Format::WpCli,
        Format::Wxr,
        Format::Disqus,
        Format::Jsonl,
    ];

    /// The name used in `format=` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::WordpressDump => "wordpress-dump",
            Format::WpCli => "wp-cli",
            Format::Wxr => "wxr",
            Format::Disqus => "disqus",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format named `name` (as [`Format::name`] spells it).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The origin imported labels are marked with, e.g. `import:wordpress-dump`.
    pub fn origin(self) -> String {
        format!("import:{}", self.name())
    }
}

/// Why a record was read but not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Awaiting moderation (`comment_approved` `0`): nobody decided.
    Pending,
    /// In the bin (`trash`): a moderator's removal, not a spam label.
    Trash,
    /// Its post was binned (`post-trashed`).
    PostTrashed,
    /// Another status than 1, 0, spam, trash or post-trashed.
    OtherStatus,
    /// A pingback: machine-made, not a comment.
    Pingback,
    /// A trackback: machine-made, not a comment.
    Trackback,
    /// Deleted on Disqus.
    Deleted,
    /// Empty body.
    EmptyContent,
    /// Body or another field over the score request's limits.
    TooLong,
}

impl SkipReason {
    /// The reason for a comment that fails [`Comment::validate`].
    fn of_invalid(error: &CommentError) -> SkipReason {
        match error {
            CommentError::EmptyContent => SkipReason::EmptyContent,
            CommentError::ContentTooLong(_) | CommentError::FieldTooLong(_) => SkipReason::TooLong,
        }
    }
}

/// One record of an export.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A comment with the label its platform gave it.
    Labelled(Box<Comment>, Label),
    /// A record that is not imported, and why.
    Skipped(SkipReason),
}

/// Bad input: what and where. The message never quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, thiserror::Error)]
#[error("{message}{}", position(*.line, *.offset))]
pub struct BadInput {
    /// Stable code: `unknown_format`, `invalid_import`, `truncated_import`, `site_required`,
    /// `upload_interrupted`.
    pub code: &'static str,
    /// What is wrong, in words.
    pub message: String,
    /// 1-based line of the (uncompressed) input, where the format has lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Byte offset in the (uncompressed) input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

fn position(line: Option<u64>, offset: Option<u64>) -> String {
    match (line, offset) {
        (Some(l), Some(o)) => format!(" (line {l}, byte {o})"),
        (Some(l), None) => format!(" (line {l})"),
        (None, Some(o)) => format!(" (byte {o})"),
        (None, None) => String::new(),
    }
}

impl BadInput {
    /// Malformed input at `offset` (and `line`, when known).
    pub fn invalid(message: impl Into<String>, line: Option<u64>, offset: u64) -> BadInput {
        BadInput {
            code: "invalid_import",
            message: message.into(),
            line,
            offset: Some(offset),
        }
    }

    /// The input ended inside a record or statement.
    pub fn truncated(what: &str, line: Option<u64>, offset: u64) -> BadInput {
        BadInput {
            code: "truncated_import",
            message: format!("the file ends inside {what}: it was cut short"),
            line,
            offset: Some(offset),
        }
    }

    /// A read of the input failed: a damaged gzip stream, or the upload broke off.
    pub fn from_io(error: &io::Error, line: Option<u64>, offset: u64) -> BadInput {
        let (code, message) = match error.kind() {
            io::ErrorKind::UnexpectedEof => (
                "truncated_import",
                "the compressed file ends early: it was cut short".to_owned(),
            ),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                ("invalid_import", "the gzip stream is damaged".to_owned())
            }
            _ => (
                "upload_interrupted",
                format!("reading the input failed: {error}"),
            ),
        };
        BadInput {
            code,
            message,
            line,
            offset: Some(offset),
        }
    }
}

/// Why parsing stopped early.
#[derive(Debug)]
pub enum Stop {
    /// The input is bad.
    Input(BadInput),
    /// The sink refused a record (the label store failed); its error.
    Sink(anyhow::Error),
}

impl From<BadInput> for Stop {
    fn from(e: BadInput) -> Self {
        Stop::Input(e)
    }
}

/// Where parsed records go; an error stops the parse.
pub type Sink<'a> = dyn FnMut(Record) -> Result<(), Stop> + 'a;

/// An input whose format is known, ready to parse.
pub struct Opened<'a> {
    /// The format named or detected.
    pub format: Format,
    reader: Box<dyn BufRead + 'a>,
}

impl std::fmt::Debug for Opened<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("format", &self.format)
            .finish()
    }
}

/// Opens `input` (gzip or not, told by its first bytes) and settles its format: the one
/// `format` names, else the one its content shows.
pub fn open<'a>(input: impl Read + 'a, format: Option<Format>) -> Result<Opened<'a>, BadInput> {
    let mut raw = BufReader::with_capacity(READ_BUFFER, input);
    let head = sniff(&mut raw)?;
    let mut reader: Box<dyn BufRead + 'a> = if head.starts_with(&[0x1f, 0x8b]) {
        let decoder = flate2::bufread::MultiGzDecoder::new(raw);
        Box::new(BufReader::with_capacity(READ_BUFFER, decoder))
    } else {
        Box::new(raw)
    };
    let format = match format {
        Some(format) => format,
        None => detect(&sniff(&mut reader)?).ok_or_else(|| BadInput {
            code: "unknown_format",
            message: format!(
                "cannot tell the format from the content; name it with format= ({})",
                Format::ALL.map(Format::name).join(", ")
            ),
            line: None,
            offset: Some(0),
        })?,
    };
    Ok(Opened { format, reader })
}

impl Opened<'_> {
    /// Reads the input to its end, handing each record to `sink`. `site` (a normalised blog
    /// URL) is every comment's site; formats that name their own (WXR's channel, Disqus's
    /// threads, rows of JSON Lines) use theirs when it is absent.
    pub fn parse(mut self, site: Option<&str>, sink: &mut Sink<'_>) -> Result<(), Stop> {
        let input = &mut *self.reader;
        match self.format {
            Format::WordpressDump => sql::parse(input, required_site(site, self.format)?, sink),
            Format::WpCli => json::parse_wp_cli(input, required_site(site, self.format)?, sink),
            Format::Jsonl => json::parse_jsonl(input, site, sink),
            Format::Wxr => xml::parse_wxr(input, site, sink),
            Format::Disqus => xml::parse_disqus(input, site, sink),
        }
    }
}

/// [`open`] then [`Opened::parse`]; returns the format read.
pub fn parse(
    input: impl Read,
    format: Option<Format>,
    site: Option<&str>,
    sink: &mut Sink<'_>,
) -> Result<Format, Stop> {
    let opened = open(input, format)?;
    let format = opened.format;
    opened.parse(site, sink)?;
    Ok(format)
}

fn required_site(site: Option<&str>, format: Format) -> Result<&str, BadInput> {
    site.ok_or_else(|| BadInput {
        code: "site_required",
        message: format!(
            "a {} file does not say which site it is from; give site=URL",
            format.name()
        ),
        line: None,
        offset: None,
    })
}

/// The first bytes of `input`, without consuming them (up to [`SNIFF_BYTES`], fewer only at
/// the end of the input).
fn sniff(input: &mut dyn BufRead) -> Result<Vec<u8>, BadInput> {
    let buffer = input
        .fill_buf()
        .map_err(|e| BadInput::from_io(&e, None, 0))?;
    // One fill is enough for detection in practice; the buffer is far larger than a header.
    Ok(buffer[..buffer.len().min(SNIFF_BYTES)].to_vec())
}

/// The format of a file that starts with `head`, or `None`.
pub fn detect(head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('[') {
        return Some(Format::WpCli);
    }
    if trimmed.starts_with('{') {
        return Some(Format::Jsonl);
    }
    if trimmed.starts_with('<') {
        if trimmed.contains("<disqus") {
            return Some(Format::Disqus);
        }
        if trimmed.contains("wordpress.org/export/") || trimmed.contains("<wp:wxr_version") {
            return Some(Format::Wxr);
        }
        return None;
    }
    let upper = trimmed
        .get(..trimmed.len().min(SNIFF_BYTES))
        .unwrap_or(trimmed);
    let sql_markers = [
        "-- MySQL dump",
        "-- MariaDB dump",
        "CREATE TABLE",
        "INSERT INTO",
        "DROP TABLE",
        "SET NAMES",
        "/*!40",
    ];
    if sql_markers.iter().any(|m| upper.contains(m)) {
        return Some(Format::WordpressDump);
    }
    None
}

/// The label a WordPress status (`comment_approved`) gives, or why it gives none.
pub fn wordpress_status(approved: &str) -> Result<Label, SkipReason> {
    match approved.trim() {
        "1" | "approve" | "approved" => Ok(Label::Ham),
        "spam" => Ok(Label::Spam),
        "0" | "hold" | "unapproved" => Err(SkipReason::Pending),
        "trash" => Err(SkipReason::Trash),
        "post-trashed" => Err(SkipReason::PostTrashed),
        _ => Err(SkipReason::OtherStatus),
    }
}

/// Pingbacks and trackbacks are skipped; anything else is a comment. WordPress before 5.5
/// stored comments with an empty type.
pub fn wordpress_type(comment_type: &str) -> Result<Option<String>, SkipReason> {
    match comment_type.trim() {
        "pingback" => Err(SkipReason::Pingback),
        "trackback" => Err(SkipReason::Trackback),
        "" | "comment" => Ok(Some("comment".to_owned())),
        other => Ok(Some(other.to_owned())),
    }
}

/// The record for `comment` labelled `label`: skipped when it breaks the score request's
/// limits (an import takes only what the API would take).
pub fn labelled(comment: Comment, label: Label) -> Record {
    match comment.validate() {
        Ok(()) => Record::Labelled(Box::new(comment), label),
        Err(e) => Record::Skipped(SkipReason::of_invalid(&e)),
    }
}

/// `value` as an optional field: empty means absent.
fn field(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The site of a post or thread URL: its scheme and host.
pub fn site_of_url(url: &str) -> Option<String> {
    let normalized = normalize_site(url)?;
    let (scheme, rest) = normalized.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests;

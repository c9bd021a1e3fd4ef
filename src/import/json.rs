//! WP-CLI's `wp comment list --format=json` (one JSON array, read element by element) and
//! this project's labelled JSON Lines (one row per line).

use std::fmt;
use std::io::{self, BufRead, Read};

use serde::de::{self, Deserializer as _, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::Comment;
use crate::evaluation::decode_labelled_row;
use crate::import::{
    field, labelled, wordpress_status, wordpress_type, BadInput, Record, Sink, Stop,
};

/// Longest line of JSON Lines (a row holds at most a 64 KiB body and small fields).
const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The fields WP-CLI must be asked for (its default fields leave the body out).
pub const WP_CLI_FIELDS: &str = "comment_ID,comment_author,comment_author_email,comment_author_url,comment_author_IP,comment_agent,comment_content,comment_approved,comment_type";

/// One element of WP-CLI's array; values may be strings or numbers.
#[derive(Debug, Deserialize)]
struct WpCliRow {
    #[serde(rename = "comment_ID")]
    id: Option<Value>,
    comment_author: Option<Value>,
    comment_author_email: Option<Value>,
    comment_author_url: Option<Value>,
    #[serde(rename = "comment_author_IP")]
    comment_author_ip: Option<Value>,
    comment_agent: Option<Value>,
    comment_content: Option<Value>,
    comment_approved: Option<Value>,
    comment_type: Option<Value>,
}

fn text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl WpCliRow {
    fn record(self, site: &str) -> Result<Record, String> {
        let (Some(content), Some(approved)) = (self.comment_content, self.comment_approved) else {
            return Err(format!(
                "the WP-CLI rows lack comment_content or comment_approved; export with \
                 `wp comment list --format=json --fields={WP_CLI_FIELDS}`"
            ));
        };
        let label = match wordpress_status(&text(Some(approved)).unwrap_or_default()) {
            Ok(label) => label,
            Err(reason) => return Ok(Record::Skipped(reason)),
        };
        let comment_type = match wordpress_type(&text(self.comment_type).unwrap_or_default()) {
            Ok(kind) => kind,
            Err(reason) => return Ok(Record::Skipped(reason)),
        };
        let comment = Comment {
            content: text(Some(content)).unwrap_or_default(),
            author: field(text(self.comment_author)),
            author_email: field(text(self.comment_author_email)),
            author_url: field(text(self.comment_author_url)),
            user_ip: field(text(self.comment_author_ip)),
            user_agent: field(text(self.comment_agent)),
            comment_type,
            site: Some(site.to_owned()),
            id: field(text(self.id)),
            ..Comment::default()
        };
        Ok(labelled(comment, label))
    }
}

/// Counts the bytes read through it, for error offsets.
struct Counting<'a> {
    inner: &'a mut dyn BufRead,
    read: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Hands each element of the array to the sink as soon as it is read.
struct Rows<'s, 'a> {
    site: &'s str,
    sink: &'s mut Sink<'a>,
    stopped: &'s mut Option<Stop>,
}

impl<'de> Visitor<'de> for Rows<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of comments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<WpCliRow>()? {
            let record = row.record(self.site).map_err(de::Error::custom)?;
            if let Err(stop) = (self.sink)(record) {
                *self.stopped = Some(stop);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// Reads WP-CLI's JSON array to its end.
pub fn parse_wp_cli(input: &mut dyn BufRead, site: &str, sink: &mut Sink<'_>) -> Result<(), Stop> {
    let mut counting = Counting {
        inner: input,
        read: 0,
    };
    let mut stopped = None;
    let result = {
        let mut de = serde_json::Deserializer::from_reader(&mut counting);
        de.deserialize_seq(Rows {
            site,
            sink,
            stopped: &mut stopped,
        })
        .and_then(|()| de.end())
    };
    if let Some(stop) = stopped {
        return Err(stop);
    }
    result.map_err(|e| {
        let (line, offset) = (Some(e.line() as u64), counting.read);
        let input = if e.is_eof() {
            BadInput::truncated("the JSON array", line, offset)
        } else if e.is_io() {
            BadInput::from_io(&io::Error::other(e.to_string()), line, offset)
        } else {
            // serde_json's messages name positions and expectations, never the values.
            BadInput::invalid(strip_position(&e.to_string()), line, offset)
        };
        Stop::Input(input)
    })
}

/// serde_json's message without its " at line L column C" (the error has its own).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Reads labelled JSON Lines to the end; a row without `site` gets `site`.
pub fn parse_jsonl(
    input: &mut dyn BufRead,
    site: Option<&str>,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let mut line = Vec::new();
    let (mut number, mut offset) = (0u64, 0u64);
    loop {
        line.clear();
        let n = input
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| BadInput::from_io(&e, Some(number + 1), offset))?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        if line.len() > MAX_LINE_BYTES {
            return Err(
                BadInput::invalid("the line is longer than 1 MiB", Some(number), offset).into(),
            );
        }
        let at = offset;
        offset += n as u64;
        let complete = line.last() == Some(&b'\n');
        let Ok(text) = std::str::from_utf8(&line) else {
            return Err(BadInput::invalid("the line is not UTF-8", Some(number), at).into());
        };
        if text.trim().is_empty() {
            continue;
        }
        let (mut comment, label) = decode_labelled_row(text).map_err(|message| {
            if complete {
                BadInput::invalid(strip_position(&message), Some(number), at)
            } else {
                BadInput::truncated("the last line", Some(number), at)
            }
        })?;
        if comment.site.is_none() {
            comment.site = site.map(str::to_owned);
        }
        sink(labelled(comment, label))?;
    }
}

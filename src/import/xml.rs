//! WordPress's WXR export and Disqus's XML export, read with quick-xml's streaming reader:
//! one element at a time, keeping only the fields of the record being read.
//!
//! WXR: each `<item>` (a post) holds its `<wp:comment>`s. WordPress leaves spam out of the
//! export, so what it holds is approved (ham) or skipped by status like a dump's rows. The
//! channel's `<link>` is the blog's URL.
//!
//! Disqus: `<thread dsq:id>`s (with their `<link>`) come first, then `<post>`s, each naming
//! its thread; `isSpam` labels it, `isDeleted` skips it. Only the threads' links are kept
//! for the whole file.

use std::collections::HashMap;
use std::io::BufRead;

use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::domain::{Comment, Label};
use crate::import::{
    field, labelled, site_of_url, wordpress_status, wordpress_type, BadInput, Record, Sink,
    SkipReason, Stop,
};
use crate::keys::normalize_site;

/// Longest text of one element kept (a body over the comment limit is skipped later).
const MAX_TEXT_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// What one element meant, as the walker reports it.
enum Step {
    /// An element opened (not an empty one): its qualified name.
    Open(Vec<u8>),
    /// An element closed; its qualified name and the text it held (when kept).
    Close(Vec<u8>, String),
    /// An empty element (`<x/>`).
    Empty(Vec<u8>),
    /// The end of the document.
    End,
}

/// Walks the document's elements, collecting the text of the elements `keep` says to.
struct Walker<'a> {
    reader: Reader<&'a mut dyn BufRead>,
    buf: Vec<u8>,
    depth: usize,
    keeping: bool,
    text: String,
    /// The attributes of the last opened or empty element, as (name, value).
    attributes: Vec<(Vec<u8>, String)>,
}

impl<'a> Walker<'a> {
    fn new(input: &'a mut dyn BufRead) -> Self {
        let mut reader = Reader::from_reader(input);
        reader.config_mut().check_end_names = true;
        Walker {
            reader,
            buf: Vec::new(),
            depth: 0,
            keeping: false,
            text: String::new(),
            attributes: Vec::new(),
        }
    }

    fn offset(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn invalid(&self, message: impl Into<String>) -> Stop {
        Stop::Input(BadInput::invalid(message, None, self.offset()))
    }

    /// The value of the attribute `name` of the last element opened.
    fn attribute(&self, name: &[u8]) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn read_attributes(&mut self, start: &BytesStart<'_>) -> Result<(), Stop> {
        self.attributes.clear();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| self.invalid(format!("bad attribute: {e}")))?;
            let value = attribute
                .unescape_value()
                .map_err(|e| self.invalid(format!("bad attribute value: {e}")))?;
            self.attributes
                .push((attribute.key.as_ref().to_vec(), value.into_owned()));
        }
        Ok(())
    }

    /// The next element event; `keep(name)` says whether to collect an opened element's text.
    fn step(&mut self, keep: impl Fn(&[u8]) -> bool) -> Result<Step, Stop> {
        let mut buf = std::mem::take(&mut self.buf);
        let step = self.step_with(&mut buf, keep);
        self.buf = buf;
        step
    }

    fn step_with(&mut self, buf: &mut Vec<u8>, keep: impl Fn(&[u8]) -> bool) -> Result<Step, Stop> {
        loop {
            buf.clear();
            let event = self.reader.read_event_into(buf);
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    let offset = self.reader.error_position();
                    return Err(Stop::Input(match e {
                        XmlError::Syntax(
                            SyntaxError::UnclosedCData
                            | SyntaxError::UnclosedComment
                            | SyntaxError::UnclosedDoctype
                            | SyntaxError::UnclosedPIOrXmlDecl
                            | SyntaxError::UnclosedTag,
                        ) => BadInput::truncated("an element", None, offset),
                        XmlError::Io(io) => BadInput::from_io(&io, None, offset),
                        other => BadInput::invalid(format!("malformed XML: {other}"), None, offset),
                    }));
                }
            };
            match event {
                Event::Start(start) => {
                    let name = start.name().as_ref().to_vec();
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(self.invalid("elements are nested too deeply"));
                    }
                    self.read_attributes(&start)?;
                    self.keeping = keep(&name);
                    self.text.clear();
                    return Ok(Step::Open(name));
                }
                Event::Empty(start) => {
                    let name = start.name().as_ref().to_vec();
                    self.read_attributes(&start)?;
                    return Ok(Step::Empty(name));
                }
                Event::End(end) => {
                    self.depth -= 1;
                    let text = std::mem::take(&mut self.text);
                    self.keeping = false;
                    return Ok(Step::Close(end.name().as_ref().to_vec(), text));
                }
                Event::Text(t) if self.keeping => {
                    let text = t.decode().map_err(|_| self.invalid("text is not UTF-8"))?;
                    self.push_text(&text)?;
                }
                Event::CData(t) if self.keeping => {
                    let text = t.decode().map_err(|_| self.invalid("text is not UTF-8"))?;
                    self.push_text(&text)?;
                }
                Event::GeneralRef(r) if self.keeping => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => {
                            let name = r.decode().map_err(|_| self.invalid("bad reference"))?;
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| self.invalid("an unknown entity reference"))?
                                .to_owned()
                        }
                        Err(_) => return Err(self.invalid("a bad character reference")),
                    };
                    self.push_text(&resolved)?;
                }
                Event::Eof if self.depth > 0 => {
                    return Err(Stop::Input(BadInput::truncated(
                        "an element",
                        None,
                        self.offset(),
                    )))
                }
                Event::Eof => return Ok(Step::End),
                _ => {}
            }
        }
    }

    fn push_text(&mut self, text: &str) -> Result<(), Stop> {
        if self.text.len() + text.len() > MAX_TEXT_BYTES {
            return Err(self.invalid("an element's text is too long"));
        }
        self.text.push_str(text);
        Ok(())
    }
}

/// The fields of a WXR comment.
#[derive(Default)]
struct WxrComment {
    id: Option<String>,
    author: Option<String>,
    email: Option<String>,
    url: Option<String>,
    ip: Option<String>,
    content: Option<String>,
    approved: Option<String>,
    kind: Option<String>,
}

/// Reads a WXR file to its end.
pub fn parse_wxr(
    input: &mut dyn BufRead,
    site: Option<&str>,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let mut walker = Walker::new(input);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut channel_site: Option<String> = None;
    let mut post_link: Option<String> = None;
    let mut comment: Option<WxrComment> = None;
    let mut seen_rss = false;
    loop {
        let in_comment = comment.is_some();
        let depth = path.len();
        let step = walker.step(|name| {
            name == b"link" && depth <= 3 || in_comment && depth == 4 && name.starts_with(b"wp:")
        })?;
        match step {
            Step::Open(name) => {
                if path.is_empty() {
                    if name != b"rss" {
                        return Err(walker.invalid("a WXR file starts with <rss>"));
                    }
                    seen_rss = true;
                }
                if name == b"wp:comment" && path.len() == 3 {
                    comment = Some(WxrComment::default());
                }
                if name == b"item" {
                    post_link = None;
                }
                path.push(name);
            }
            Step::Close(name, text) => {
                path.pop();
                match (path.len(), name.as_slice()) {
                    (2, b"link") => channel_site = normalize_site(&text),
                    (3, b"link") => post_link = field(Some(text)),
                    (3, b"wp:comment") => {
                        let Some(c) = comment.take() else { continue };
                        let site = match site.map(str::to_owned).or_else(|| channel_site.clone()) {
                            Some(site) => site,
                            None => {
                                return Err(Stop::Input(BadInput {
                                    code: "site_required",
                                    message: "the export's channel has no <link>; give site=URL"
                                        .into(),
                                    line: None,
                                    offset: Some(walker.offset()),
                                }))
                            }
                        };
                        sink(wxr_record(c, site, post_link.clone()))?;
                    }
                    (4, field_name) => {
                        if let Some(c) = comment.as_mut() {
                            let slot = match field_name {
                                b"wp:comment_id" => &mut c.id,
                                b"wp:comment_author" => &mut c.author,
                                b"wp:comment_author_email" => &mut c.email,
                                b"wp:comment_author_url" => &mut c.url,
                                b"wp:comment_author_IP" => &mut c.ip,
                                b"wp:comment_content" => &mut c.content,
                                b"wp:comment_approved" => &mut c.approved,
                                b"wp:comment_type" => &mut c.kind,
                                _ => continue,
                            };
                            *slot = Some(text);
                        }
                    }
                    _ => {}
                }
            }
            Step::Empty(_) => {}
            Step::End if !seen_rss => {
                return Err(walker.invalid("no <rss> element: not a WXR file"))
            }
            Step::End => return Ok(()),
        }
    }
}

fn wxr_record(c: WxrComment, site: String, permalink: Option<String>) -> Record {
    let label = match wordpress_status(c.approved.as_deref().unwrap_or("")) {
        Ok(label) => label,
        Err(reason) => return Record::Skipped(reason),
    };
    let comment_type = match wordpress_type(c.kind.as_deref().unwrap_or("")) {
        Ok(kind) => kind,
        Err(reason) => return Record::Skipped(reason),
    };
    labelled(
        Comment {
            content: c.content.unwrap_or_default(),
            author: field(c.author),
            author_email: field(c.email),
            author_url: field(c.url),
            user_ip: field(c.ip),
            comment_type,
            permalink,
            site: Some(site),
            id: field(c.id),
            ..Comment::default()
        },
        label,
    )
}

/// The fields of a Disqus post.
#[derive(Default)]
struct DisqusPost {
    id: Option<String>,
    message: Option<String>,
    name: Option<String>,
    email: Option<String>,
    ip: Option<String>,
    spam: bool,
    deleted: bool,
    thread: Option<String>,
}

/// Reads a Disqus export to its end.
pub fn parse_disqus(
    input: &mut dyn BufRead,
    site: Option<&str>,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let mut walker = Walker::new(input);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut thread: Option<String> = None;
    let mut post: Option<DisqusPost> = None;
    let mut seen_root = false;
    loop {
        let depth = path.len();
        let step = walker.step(|_| depth >= 2)?;
        match step {
            Step::Open(name) => {
                if path.is_empty() {
                    if name != b"disqus" {
                        return Err(walker.invalid("a Disqus export starts with <disqus>"));
                    }
                    seen_root = true;
                }
                if path.len() == 1 {
                    let id = walker.attribute(b"dsq:id").map(str::to_owned);
                    match name.as_slice() {
                        b"thread" => thread = id,
                        b"post" => {
                            post = Some(DisqusPost {
                                id,
                                ..DisqusPost::default()
                            })
                        }
                        _ => {}
                    }
                }
                if path.len() == 2 && name == b"thread" {
                    if let Some(p) = post.as_mut() {
                        p.thread = walker.attribute(b"dsq:id").map(str::to_owned);
                    }
                }
                path.push(name);
            }
            Step::Empty(name) => {
                if path.len() == 2 && name == b"thread" {
                    if let Some(p) = post.as_mut() {
                        p.thread = walker.attribute(b"dsq:id").map(str::to_owned);
                    }
                }
            }
            Step::Close(name, text) => {
                path.pop();
                let parent = path.last().map(Vec::as_slice);
                match (path.len(), parent, name.as_slice()) {
                    (2, Some(b"thread"), b"link") => {
                        if let Some(id) = thread.clone() {
                            if links.len() < 10_000_000 {
                                links.insert(id, text);
                            }
                        }
                    }
                    (1, _, b"thread") => thread = None,
                    (2, Some(b"post"), field_name) => {
                        if let Some(p) = post.as_mut() {
                            let yes = || text.trim().eq_ignore_ascii_case("true");
                            match field_name {
                                b"message" => p.message = Some(text),
                                b"ipAddress" => p.ip = Some(text),
                                b"isSpam" => p.spam = yes(),
                                b"isDeleted" => p.deleted = yes(),
                                _ => {}
                            }
                        }
                    }
                    (3, Some(b"author"), field_name)
                        if path.get(1).map(Vec::as_slice) == Some(b"post") =>
                    {
                        if let Some(p) = post.as_mut() {
                            match field_name {
                                b"name" => p.name = Some(text),
                                b"email" => p.email = Some(text),
                                _ => {}
                            }
                        }
                    }
                    (1, _, b"post") => {
                        let Some(p) = post.take() else { continue };
                        let offset = walker.offset();
                        sink(disqus_record(p, site, &links, offset)?)?;
                    }
                    _ => {}
                }
            }
            Step::End if !seen_root => {
                return Err(walker.invalid("no <disqus> element: not a Disqus export"))
            }
            Step::End => return Ok(()),
        }
    }
}

fn disqus_record(
    p: DisqusPost,
    site: Option<&str>,
    links: &HashMap<String, String>,
    offset: u64,
) -> Result<Record, Stop> {
    if p.deleted {
        return Ok(Record::Skipped(SkipReason::Deleted));
    }
    let link = p.thread.as_ref().and_then(|t| links.get(t)).cloned();
    let site = match site
        .map(str::to_owned)
        .or_else(|| link.as_deref().and_then(site_of_url))
    {
        Some(site) => site,
        None => {
            return Err(Stop::Input(BadInput {
                code: "site_required",
                message: "a post's thread has no link in the export; give site=URL".into(),
                line: None,
                offset: Some(offset),
            }))
        }
    };
    let label = if p.spam { Label::Spam } else { Label::Ham };
    Ok(labelled(
        Comment {
            content: p.message.unwrap_or_default(),
            author: field(p.name),
            author_email: field(p.email),
            user_ip: field(p.ip),
            comment_type: Some("comment".into()),
            permalink: link,
            site: Some(site),
            id: field(p.id),
            ..Comment::default()
        },
        label,
    ))
}

//! WordPress database dumps (`mysqldump`, `mariadb-dump`): the rows of every `*_comments`
//! table, whatever the table prefix, from a dump of that table or of the whole site.
//!
//! A small streaming lexer for the SQL these tools write: statements end at `;` outside
//! strings; `--`, `#` and `/* */` comments (the `/*!40101 … */` version comments hold only
//! settings); strings with MySQL's backslash escapes and doubled quotes; `NULL`; numbers;
//! hex literals; charset introducers (`_binary '…'`). `CREATE TABLE` gives a table's column
//! order, an `INSERT` may name its columns itself, and without either the rows are read in
//! WordPress's own column order. Every other statement (and other tables' rows) is skipped
//! without keeping its strings.

use std::collections::HashMap;
use std::io::Read;

use crate::domain::Comment;
use crate::import::{
    field, labelled, wordpress_status, wordpress_type, BadInput, Record, Sink, Stop,
};

/// WordPress's `wp_comments` columns in table order (wp-admin/includes/schema.php).
const WORDPRESS_COLUMNS: [&str; 15] = [
    "comment_ID",
    "comment_post_ID",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "comment_author_IP",
    "comment_date",
    "comment_date_gmt",
    "comment_content",
    "comment_karma",
    "comment_approved",
    "comment_agent",
    "comment_type",
    "comment_parent",
    "user_id",
];

/// Longest string or word kept (a field over the comment limits is skipped later anyway;
/// this only bounds memory against a hostile file).
const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// Most values in one row.
const MAX_ROW_VALUES: usize = 256;
/// Read size of the lexer.
const CHUNK: usize = 256 * 1024;

/// Reads a dump to its end; see the module docs.
pub fn parse(input: &mut dyn Read, site: &str, sink: &mut Sink<'_>) -> Result<(), Stop> {
    let mut parser = Parser {
        lex: Lexer::new(input),
        columns: HashMap::new(),
        site,
    };
    parser.run(sink)
}

/// A token of the dump.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A bare word: keyword, number, `NULL`, hex literal, unquoted name.
    Word(Vec<u8>),
    /// A `backquoted` name.
    Name(Vec<u8>),
    /// A quoted string, unescaped.
    Str(Vec<u8>),
    /// `(`, `)`, `,`, `;`, `.`, `=` and other single bytes.
    Punct(u8),
    /// The end of the input.
    End,
}

impl Token {
    fn is_word(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword.as_bytes()))
    }
}

/// What a table's rows mean: the position of each column we read.
#[derive(Debug, Clone, Default)]
struct Layout {
    id: Option<usize>,
    author: Option<usize>,
    email: Option<usize>,
    url: Option<usize>,
    ip: Option<usize>,
    content: Option<usize>,
    approved: Option<usize>,
    agent: Option<usize>,
    kind: Option<usize>,
    width: usize,
}

impl Layout {
    fn of<S: AsRef<str>>(columns: &[S]) -> Layout {
        let at = |name: &str| {
            columns
                .iter()
                .position(|c| c.as_ref().eq_ignore_ascii_case(name))
        };
        Layout {
            id: at("comment_ID"),
            author: at("comment_author"),
            email: at("comment_author_email"),
            url: at("comment_author_url"),
            ip: at("comment_author_IP"),
            content: at("comment_content"),
            approved: at("comment_approved"),
            agent: at("comment_agent"),
            kind: at("comment_type"),
            width: columns.len(),
        }
    }
}

/// Whether a table holds WordPress comments: `wp_comments`, `blog7_comments`, `wp_2_comments`.
fn is_comments_table(name: &[u8]) -> bool {
    name.len() >= 8 && name[name.len() - 8..].eq_ignore_ascii_case(b"comments")
}

struct Parser<'a, 'b> {
    lex: Lexer<'a>,
    /// Column names of the comments tables created so far.
    columns: HashMap<Vec<u8>, Vec<String>>,
    site: &'b str,
}

impl Parser<'_, '_> {
    fn run(&mut self, sink: &mut Sink<'_>) -> Result<(), Stop> {
        loop {
            let start = self.lex.next(true)?;
            if start == Token::End {
                return Ok(());
            }
            if start.is_word("CREATE") {
                self.create()?;
            } else if start.is_word("INSERT") || start.is_word("REPLACE") {
                self.insert(sink)?;
            } else if start.is_word("DELIMITER") {
                self.lex.skip_delimiter_block()?;
            } else if start != Token::Punct(b';') {
                self.skip_statement()?;
            }
        }
    }

    /// Skips to the end of the current statement.
    fn skip_statement(&mut self) -> Result<(), Stop> {
        loop {
            match self.lex.next(false)? {
                Token::Punct(b';') => return Ok(()),
                Token::End => return Ok(()),
                _ => {}
            }
        }
    }

    /// `CREATE TABLE [IF NOT EXISTS] name (col …, …)`: keeps a comments table's columns.
    fn create(&mut self) -> Result<(), Stop> {
        let mut token = self.lex.next(true)?;
        while token.is_word("OR") || token.is_word("REPLACE") || token.is_word("TEMPORARY") {
            token = self.lex.next(true)?;
        }
        if !token.is_word("TABLE") {
            return self.skip_statement();
        }
        let mut token = self.lex.next(true)?;
        if token.is_word("IF") {
            self.lex.next(false)?; // NOT
            self.lex.next(false)?; // EXISTS
            token = self.lex.next(true)?;
        }
        let name = self.table_name(token)?;
        if !is_comments_table(&name) {
            return self.skip_statement();
        }
        if self.lex.next(false)? != Token::Punct(b'(') {
            return self.skip_statement();
        }
        let mut columns = Vec::new();
        let mut depth = 1usize;
        let mut element_start = true;
        while depth > 0 {
            let token = self.lex.next(true)?;
            match &token {
                Token::End => return Err(self.truncated("a CREATE TABLE statement")),
                Token::Punct(b'(') => depth += 1,
                Token::Punct(b')') => depth -= 1,
                Token::Punct(b',') if depth == 1 => {
                    element_start = true;
                    continue;
                }
                Token::Name(n) if element_start => {
                    columns.push(String::from_utf8_lossy(n).into_owned());
                }
                _ => {}
            }
            element_start = false;
        }
        self.columns.insert(name, columns);
        self.skip_statement()
    }

    /// A table name, possibly qualified (`db`.`table`): the last part.
    fn table_name(&mut self, first: Token) -> Result<Vec<u8>, Stop> {
        let mut name = match first {
            Token::Name(n) | Token::Word(n) => n,
            Token::End => return Err(self.truncated("a statement")),
            _ => return Err(self.invalid("expected a table name")),
        };
        while self.lex.peek_byte()? == Some(b'.') {
            self.lex.next(false)?;
            match self.lex.next(true)? {
                Token::Name(n) | Token::Word(n) => name = n,
                _ => return Err(self.invalid("expected a table name after `.`")),
            }
        }
        Ok(name)
    }

    /// `INSERT [modifiers] [INTO] name [(columns)] VALUES (…), (…) [ON DUPLICATE …];`
    fn insert(&mut self, sink: &mut Sink<'_>) -> Result<(), Stop> {
        let mut token = self.lex.next(true)?;
        while ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"]
            .iter()
            .any(|k| token.is_word(k))
        {
            token = self.lex.next(true)?;
        }
        let name = self.table_name(token)?;
        if !is_comments_table(&name) {
            return self.skip_statement();
        }
        let mut token = self.lex.next(true)?;
        let layout = if token == Token::Punct(b'(') {
            let mut named = Vec::new();
            loop {
                match self.lex.next(true)? {
                    Token::Name(n) | Token::Word(n) => {
                        named.push(String::from_utf8_lossy(&n).into_owned())
                    }
                    Token::Punct(b',') => {}
                    Token::Punct(b')') => break,
                    Token::End => return Err(self.truncated("a column list")),
                    _ => return Err(self.invalid("unexpected token in a column list")),
                }
            }
            token = self.lex.next(true)?;
            Layout::of(&named)
        } else {
            match self.columns.get(&name) {
                Some(columns) => Layout::of(columns),
                None => Layout::of(&WORDPRESS_COLUMNS),
            }
        };
        if layout.content.is_none() || layout.approved.is_none() {
            // Not WordPress's comments table after all (no body or status): not ours.
            return self.skip_statement();
        }
        if !(token.is_word("VALUES") || token.is_word("VALUE")) {
            return self.skip_statement();
        }
        let mut row: Vec<Option<Vec<u8>>> = Vec::with_capacity(layout.width);
        loop {
            match self.lex.next(true)? {
                Token::Punct(b'(') => {}
                Token::End => return Err(self.truncated("an INSERT statement")),
                _ => return Err(self.invalid("expected `(` to open a row")),
            }
            let row_offset = self.lex.offset();
            self.row(&mut row)?;
            if row.len() != layout.width {
                return Err(Stop::Input(BadInput::invalid(
                    format!(
                        "a row has {} values, the table has {} columns",
                        row.len(),
                        layout.width
                    ),
                    Some(self.lex.line_at(row_offset)),
                    row_offset,
                )));
            }
            sink(self.record(&layout, &mut row))?;
            match self.lex.next(true)? {
                Token::Punct(b',') => {}
                Token::Punct(b';') => return Ok(()),
                Token::End => return Err(self.truncated("an INSERT statement")),
                t if t.is_word("ON") => return self.skip_statement(),
                _ => return Err(self.invalid("expected `,` or `;` after a row")),
            }
        }
    }

    /// The values of one row, after its `(`, through its `)`.
    fn row(&mut self, row: &mut Vec<Option<Vec<u8>>>) -> Result<(), Stop> {
        row.clear();
        loop {
            let value = match self.lex.next(true)? {
                Token::Str(s) => Some(s),
                Token::Word(w) if w.eq_ignore_ascii_case(b"NULL") => None,
                Token::Word(w) if w.first() == Some(&b'_') => {
                    // A charset introducer: the string follows.
                    match self.lex.next(true)? {
                        Token::Str(s) => Some(s),
                        _ => return Err(self.invalid("expected a string after a charset name")),
                    }
                }
                Token::Word(w) => Some(hex_literal(&w).unwrap_or(w)),
                Token::Punct(b')') if row.is_empty() => return Ok(()),
                Token::End => return Err(self.truncated("a row")),
                _ => return Err(self.invalid("expected a value")),
            };
            if row.len() == MAX_ROW_VALUES {
                return Err(self.invalid("a row has too many values"));
            }
            row.push(value);
            match self.lex.next(false)? {
                Token::Punct(b',') => {}
                Token::Punct(b')') => return Ok(()),
                Token::End => return Err(self.truncated("a row")),
                _ => return Err(self.invalid("expected `,` or `)` after a value")),
            }
        }
    }

    /// The record a row makes.
    fn record(&self, layout: &Layout, row: &mut [Option<Vec<u8>>]) -> Record {
        let mut take = |at: Option<usize>| -> Option<String> {
            at.and_then(|i| row[i].take()).map(|bytes| {
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            })
        };
        let label = match wordpress_status(take(layout.approved).as_deref().unwrap_or("")) {
            Ok(label) => label,
            Err(reason) => return Record::Skipped(reason),
        };
        let comment_type = match wordpress_type(take(layout.kind).as_deref().unwrap_or("")) {
            Ok(kind) => kind,
            Err(reason) => return Record::Skipped(reason),
        };
        let comment = Comment {
            content: take(layout.content).unwrap_or_default(),
            author: field(take(layout.author)),
            author_email: field(take(layout.email)),
            author_url: field(take(layout.url)),
            user_ip: field(take(layout.ip)),
            user_agent: field(take(layout.agent)),
            comment_type,
            site: Some(self.site.to_owned()),
            id: field(take(layout.id)),
            ..Comment::default()
        };
        labelled(comment, label)
    }

    fn invalid(&self, message: &str) -> Stop {
        Stop::Input(BadInput::invalid(
            message,
            Some(self.lex.line()),
            self.lex.offset(),
        ))
    }

    fn truncated(&self, what: &str) -> Stop {
        Stop::Input(BadInput::truncated(
            what,
            Some(self.lex.line()),
            self.lex.offset(),
        ))
    }
}

/// The bytes of a `0x…` literal (`--hex-blob`), or `None` for any other word.
fn hex_literal(word: &[u8]) -> Option<Vec<u8>> {
    let digits = word.strip_prefix(b"0x")?;
    if digits.len() % 2 != 0 {
        return None;
    }
    let nibble = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    digits
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// The streaming lexer: its own buffer over the input, with the position of the next byte.
struct Lexer<'a> {
    input: &'a mut dyn Read,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Offset in the input of `buf[0]`.
    base: u64,
    /// Newlines in the input before `buf[counted]`; the line of the next byte is counted
    /// from there when an error needs it, not byte by byte.
    lines_before: u64,
    counted: usize,
    eof: bool,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a mut dyn Read) -> Self {
        Lexer {
            input,
            buf: vec![0; CHUNK],
            pos: 0,
            len: 0,
            base: 0,
            lines_before: 0,
            counted: 0,
            eof: false,
        }
    }

    /// Offset in the input of the next byte.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// 1-based line of the next byte.
    fn line(&self) -> u64 {
        self.line_at(self.offset())
    }

    /// 1-based line of the byte at `offset`, for an error: exact while that byte is still in
    /// the buffer (a record's start almost always is), else the line of the next byte.
    fn line_at(&self, offset: u64) -> u64 {
        let at = offset
            .checked_sub(self.base)
            .map(|i| i as usize)
            .filter(|&i| i >= self.counted && i <= self.len)
            .unwrap_or(self.pos.max(self.counted));
        1 + self.lines_before
            + memchr::memchr_iter(b'\n', &self.buf[self.counted..at]).count() as u64
    }

    /// Makes at least `n` bytes available from `pos` unless the input ends first; returns
    /// how many are.
    #[inline]
    fn fill(&mut self, n: usize) -> Result<usize, Stop> {
        if self.len - self.pos >= n {
            return Ok(self.len - self.pos);
        }
        self.refill(n)
    }

    #[cold]
    fn refill(&mut self, n: usize) -> Result<usize, Stop> {
        while self.len - self.pos < n && !self.eof {
            if self.pos > 0 {
                self.lines_before +=
                    memchr::memchr_iter(b'\n', &self.buf[self.counted..self.pos]).count() as u64;
                self.counted = 0;
                self.buf.copy_within(self.pos..self.len, 0);
                self.base += self.pos as u64;
                self.len -= self.pos;
                self.pos = 0;
            }
            if self.len == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let read = loop {
                match self.input.read(&mut self.buf[self.len..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Err(Stop::Input(BadInput::from_io(
                            &e,
                            Some(self.line()),
                            self.offset(),
                        )))
                    }
                }
            };
            if read == 0 {
                self.eof = true;
            }
            self.len += read;
        }
        Ok(self.len - self.pos)
    }

    fn peek_byte(&mut self) -> Result<Option<u8>, Stop> {
        self.skip_space()?;
        Ok((self.fill(1)? > 0).then(|| self.buf[self.pos]))
    }

    fn peek_at(&mut self, i: usize) -> Result<Option<u8>, Stop> {
        Ok((self.fill(i + 1)? > i).then(|| self.buf[self.pos + i]))
    }

    fn bump(&mut self) {
        self.pos += 1;
    }

    /// Skips whitespace and comments.
    fn skip_space(&mut self) -> Result<(), Stop> {
        loop {
            let Some(b) = self.peek_at(0)? else {
                return Ok(());
            };
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.bump(),
                b'#' => self.skip_line()?,
                b'-' if self.peek_at(1)? == Some(b'-')
                    && self.peek_at(2)?.is_none_or(|c| c.is_ascii_whitespace()) =>
                {
                    self.skip_line()?
                }
                b'/' if self.peek_at(1)? == Some(b'*') => self.skip_block_comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) -> Result<(), Stop> {
        loop {
            if self.fill(1)? == 0 {
                return Ok(());
            }
            let window = &self.buf[self.pos..self.len];
            if let Some(i) = memchr::memchr(b'\n', window) {
                self.pos += i + 1;
                return Ok(());
            }
            self.pos = self.len;
        }
    }

    fn skip_block_comment(&mut self) -> Result<(), Stop> {
        let offset = self.offset();
        self.pos += 2;
        loop {
            if self.fill(2)? < 2 {
                return Err(Stop::Input(BadInput::truncated(
                    "a comment",
                    Some(self.line_at(offset)),
                    offset,
                )));
            }
            if self.buf[self.pos] == b'*' && self.buf[self.pos + 1] == b'/' {
                self.pos += 2;
                return Ok(());
            }
            self.bump();
        }
    }

    /// `DELIMITER x` (around triggers and routines): skips to the `DELIMITER ;` that ends the
    /// block; nothing between is a comments row.
    fn skip_delimiter_block(&mut self) -> Result<(), Stop> {
        let mut line = Vec::new();
        self.read_line(&mut line)?;
        if line.trim_ascii() == b";" {
            return Ok(());
        }
        loop {
            line.clear();
            if !self.read_line(&mut line)? {
                return Ok(());
            }
            let text = line.trim_ascii();
            if text.len() >= 9
                && text[..9].eq_ignore_ascii_case(b"DELIMITER")
                && text[9..].trim_ascii() == b";"
            {
                return Ok(());
            }
        }
    }

    /// The rest of the current line into `out`; false at the end of the input.
    fn read_line(&mut self, out: &mut Vec<u8>) -> Result<bool, Stop> {
        loop {
            if self.fill(1)? == 0 {
                return Ok(!out.is_empty());
            }
            let window = &self.buf[self.pos..self.len];
            if let Some(i) = memchr::memchr(b'\n', window) {
                out.extend_from_slice(&window[..i]);
                self.pos += i + 1;
                return Ok(true);
            }
            out.extend_from_slice(window);
            self.pos = self.len;
            if out.len() > MAX_VALUE_BYTES {
                return Err(Stop::Input(BadInput::invalid(
                    "a line is too long",
                    Some(self.line()),
                    self.offset(),
                )));
            }
        }
    }

    /// The next token; strings and names are kept only when `keep` (skipped statements
    /// need their bounds, not their text).
    fn next(&mut self, keep: bool) -> Result<Token, Stop> {
        self.skip_space()?;
        let Some(b) = self.peek_at(0)? else {
            return Ok(Token::End);
        };
        match b {
            b'\'' | b'"' => {
                let mut out = Vec::new();
                self.string(b, keep.then_some(&mut out))?;
                Ok(Token::Str(out))
            }
            b'`' => {
                let mut out = Vec::new();
                self.quoted_name(&mut out)?;
                Ok(Token::Name(out))
            }
            b if is_word_byte(b) => {
                let mut out = Vec::new();
                loop {
                    let available = self.fill(1)?;
                    if available == 0 {
                        break;
                    }
                    let window = &self.buf[self.pos..self.len];
                    let n = window
                        .iter()
                        .position(|&c| !is_word_byte(c))
                        .unwrap_or(window.len());
                    out.extend_from_slice(&window[..n]);
                    self.pos += n;
                    if n < window.len() {
                        break;
                    }
                    if out.len() > MAX_VALUE_BYTES {
                        return Err(Stop::Input(BadInput::invalid(
                            "a value is too long",
                            Some(self.line()),
                            self.offset(),
                        )));
                    }
                }
                Ok(Token::Word(out))
            }
            _ => {
                self.bump();
                Ok(Token::Punct(b))
            }
        }
    }

    /// A `quote`d string with MySQL's escapes, into `out` when given.
    fn string(&mut self, quote: u8, mut out: Option<&mut Vec<u8>>) -> Result<(), Stop> {
        let offset = self.offset();
        let cut = |lex: &Self| {
            Stop::Input(BadInput::truncated(
                "a string",
                Some(lex.line_at(offset)),
                offset,
            ))
        };
        self.pos += 1;
        loop {
            if self.fill(1)? == 0 {
                return Err(cut(self));
            }
            let window = &self.buf[self.pos..self.len];
            let Some(i) = memchr::memchr2(quote, b'\\', window) else {
                if let Some(out) = out.as_deref_mut() {
                    out.extend_from_slice(window);
                }
                self.pos = self.len;
                self.check_size(&out, offset)?;
                continue;
            };
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&window[..i]);
            }
            self.pos += i;
            let available = self.fill(2)?;
            let b = self.buf[self.pos];
            if available < 2 {
                if b == quote {
                    self.pos += 1;
                    return Ok(());
                }
                return Err(cut(self));
            }
            let next = self.buf[self.pos + 1];
            if b == b'\\' {
                let unescaped: &[u8] = match next {
                    b'0' => b"\0",
                    b'b' => b"\x08",
                    b'n' => b"\n",
                    b'r' => b"\r",
                    b't' => b"\t",
                    b'Z' => b"\x1a",
                    // LIKE wildcards keep their backslash in MySQL.
                    b'%' => b"\\%",
                    b'_' => b"\\_",
                    _ => &self.buf[self.pos + 1..self.pos + 2],
                };
                if let Some(out) = out.as_deref_mut() {
                    out.extend_from_slice(unescaped);
                }
                self.pos += 2;
            } else if next == quote {
                // A doubled quote stands for one.
                if let Some(out) = out.as_deref_mut() {
                    out.push(quote);
                }
                self.pos += 2;
            } else {
                self.pos += 1;
                return Ok(());
            }
            self.check_size(&out, offset)?;
        }
    }

    fn check_size(&self, out: &Option<&mut Vec<u8>>, offset: u64) -> Result<(), Stop> {
        if out.as_ref().is_some_and(|o| o.len() > MAX_VALUE_BYTES) {
            return Err(Stop::Input(BadInput::invalid(
                "a string is too long",
                Some(self.line_at(offset)),
                offset,
            )));
        }
        Ok(())
    }

    /// A `backquoted` name (a doubled backquote stands for one).
    fn quoted_name(&mut self, out: &mut Vec<u8>) -> Result<(), Stop> {
        let offset = self.offset();
        self.pos += 1;
        loop {
            if self.fill(2)? == 0 {
                return Err(Stop::Input(BadInput::truncated(
                    "a name",
                    Some(self.line_at(offset)),
                    offset,
                )));
            }
            let b = self.buf[self.pos];
            if b == b'`' {
                if self.peek_at(1)? == Some(b'`') {
                    out.push(b'`');
                    self.pos += 2;
                    continue;
                }
                self.pos += 1;
                return Ok(());
            }
            out.push(b);
            self.bump();
            if out.len() > 1024 {
                return Err(Stop::Input(BadInput::invalid(
                    "a name is too long",
                    Some(self.line_at(offset)),
                    offset,
                )));
            }
        }
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.' | b'-' | b'+')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(sql: &str) -> Vec<Token> {
        let mut bytes = sql.as_bytes();
        let mut lex = Lexer::new(&mut bytes);
        let mut out = Vec::new();
        loop {
            match lex.next(true).expect("lexes") {
                Token::End => return out,
                t => out.push(t),
            }
        }
    }

    #[test]
    fn strings_unescape_like_mysql() {
        // (input, expected bytes, reason)
        let cases: [(&str, &[u8], &str); 7] = [
            (r"'it\'s'", b"it's", "backslash quote"),
            (r"'it''s'", b"it's", "doubled quote"),
            (r"'a\nb\r\tc'", b"a\nb\r\tc", "control escapes"),
            (r"'nul\0 sub\Z'", b"nul\0 sub\x1a", "NUL and ^Z"),
            (r"'back\\slash'", b"back\\slash", "escaped backslash"),
            (
                r"'100\% \_x'",
                b"100\\% \\_x",
                "LIKE wildcards keep the backslash",
            ),
            (
                r#""dq \"in\" it""#,
                b"dq \"in\" it",
                "double-quoted strings",
            ),
        ];
        for (sql, want, why) in cases {
            assert_eq!(tokens(sql), [Token::Str(want.to_vec())], "{why}");
        }
    }

    #[test]
    fn comments_and_negative_numbers_are_told_apart() {
        let t = tokens("-- a comment\n/*!40101 SET x=1 */; # hash\n(-1,--2\n)");
        assert_eq!(
            t,
            [
                Token::Punct(b';'),
                Token::Punct(b'('),
                Token::Word(b"-1".to_vec()),
                Token::Punct(b','),
                Token::Word(b"--2".to_vec()),
                Token::Punct(b')'),
            ]
        );
    }

    #[test]
    fn hex_literals_decode() {
        assert_eq!(hex_literal(b"0x6869"), Some(b"hi".to_vec()));
        assert_eq!(hex_literal(b"0x6"), None);
        assert_eq!(hex_literal(b"12"), None);
    }
}

//! Turning a normalised comment into hashed, namespaced features.
//!
//! Each feature is a namespace plus a string (`w:subscribe`, `d:bit.ly`, `a:john`), hashed
//! with xxh3 into `2^bits` buckets. Hashing keeps the model a fixed size however much it
//! learns online; namespaces keep an author called "Free" apart from the word "free".
//! Strings are not built on the hot path: a feature remembers where it came from, and only
//! the handful shown as evidence are turned back into text.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::{domain_of, shapes, NormalizedText};

/// Seed for feature hashing; part of the model's identity (changing it invalidates models).
pub const FEATURE_SEED: u64 = 0x636f_6d6d_656e_7467; // "commentg"

/// Which namespace a feature belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeatureKind {
    /// A word of the body.
    Word,
    /// Two consecutive words of the body.
    Bigram,
    /// A character n-gram of up to 3 characters inside one word (padded with spaces at the
    /// word's edges).
    Chars,
    /// A link or bare-domain host, or an e-mail domain, in the body.
    Domain,
    /// A shape: number length, e-mail, phone number, link count.
    Shape,
    /// A word of the author's name.
    Author,
    /// The author's URL or e-mail domain, or a shape of the author fields.
    AuthorMeta,
    /// A character n-gram of 4 characters (its own namespace so the calibration can weigh
    /// short and long n-grams differently; hashed like [`FeatureKind::Chars`]).
    Chars4,
    /// A character n-gram of 5 or more characters.
    Chars5,
}

/// Number of feature namespaces.
pub const KINDS: usize = 9;

impl FeatureKind {
    /// Dense index of the namespace, `0..KINDS`.
    pub fn index(self) -> usize {
        self as usize
    }

    fn prefix(self) -> &'static str {
        match self {
            FeatureKind::Word => "w:",
            FeatureKind::Bigram => "b:",
            FeatureKind::Chars | FeatureKind::Chars4 | FeatureKind::Chars5 => "c:",
            FeatureKind::Domain => "d:",
            FeatureKind::Shape => "s:",
            FeatureKind::Author => "a:",
            FeatureKind::AuthorMeta => "am:",
        }
    }

    const fn salt(self) -> u64 {
        let salted = match self {
            FeatureKind::Chars4 | FeatureKind::Chars5 => FeatureKind::Chars,
            other => other,
        };
        FEATURE_SEED.wrapping_add((salted as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// How features are extracted; stored with the model so training and serving agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// The model has `2^bits` buckets.
    pub bits: u8,
    /// Shortest character n-gram (0 disables character n-grams).
    pub char_min: u8,
    /// Longest character n-gram.
    pub char_max: u8,
    /// Whether word bigrams are features.
    pub bigrams: bool,
    /// Whether a feature counts once per comment however often it occurs.
    pub presence: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            bits: 20,
            char_min: 2,
            char_max: 5,
            bigrams: true,
            presence: true,
        }
    }
}

/// One feature as extracted: its bucket, namespace and where its text comes from.
#[derive(Debug, Clone, Copy)]
struct Origin {
    bucket: u32,
    /// Byte offset in `Features::text`, or in `Features::extras` when `extra`.
    start: u32,
    /// Byte length.
    len: u16,
    kind: FeatureKind,
    extra: bool,
}

impl Origin {
    /// Filler for scratch space; always overwritten before it is read.
    const EMPTY: Origin = Origin {
        bucket: 0,
        start: 0,
        len: 0,
        kind: FeatureKind::Chars,
        extra: false,
    };
}

/// The features kept so far: the first `len` of `buf`. The rest of `buf` is space already
/// written once (it only grows), so the n-gram loop can write a word's n-grams straight into
/// place and keep some of them, with neither a copy afterwards nor a fill beforehand.
struct Kept {
    buf: Vec<Origin>,
    len: usize,
}

impl Kept {
    /// The kept features.
    #[inline(always)]
    fn as_slice(&self) -> &[Origin] {
        &self.buf[..self.len]
    }

    /// Keeps `e` after the others.
    #[inline(always)]
    fn push(&mut self, e: Origin) {
        match self.buf.get_mut(self.len) {
            Some(slot) => *slot = e,
            None => self.buf.push(e),
        }
        self.len += 1;
    }

    /// Room for `n` more features past the kept ones, to be [committed](Kept::commit).
    #[inline(always)]
    fn spare(&mut self, n: usize) -> &mut [Origin] {
        if self.buf.len() < self.len + n {
            self.buf.resize(self.len + n, Origin::EMPTY);
        }
        &mut self.buf[self.len..self.len + n]
    }

    /// Keeps the first `n` features written to [`Kept::spare`].
    #[inline(always)]
    fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(self.buf.len());
    }
}

/// The features of one comment: bucket indices plus where each came from.
#[derive(Debug, Clone, Default)]
pub struct Features {
    buckets: Vec<u32>,
    kinds: Vec<u8>,
    origins: Vec<Origin>,
    text: String,
    /// Values of features not found verbatim in `text` (domains, shapes, author words).
    extras: String,
    /// The features that come from the author's name (see [`FeatureView::author_name`]).
    name: (u32, u32),
    shapes: TextShapes,
}

/// What extraction noticed of a comment's shape that the moderation policy asks about: the
/// word passes that find it are the ones that make the features, so it costs nothing more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextShapes {
    /// The body is templated praise of the page that names no payload (no "my site", no
    /// "click the link"): "Love this post. Subscribed to your newsletter."
    pub page_praise: bool,
    /// The author's name is keyword-shaped or a web address: a link's anchor text rather
    /// than a person's name or handle.
    pub keyword_name: bool,
    /// The narrower sign among those: the author's name holds a shop or directory word
    /// (`shapes::is_shop_name_word`: "escort in Mumbai", "Pest Control Leeds", "travel
    /// online") or a web address (`http`, `www.` or `.com` in it). A lower-case phrase alone
    /// is not one, since many readers type their name that way.
    pub shop_name: bool,
    /// The body names the writer's own site ("my blog", "my website"; not a video site's
    /// channel) and points at no link with words ("click the link").
    pub own_site: bool,
}

/// Upper bound on the features reserved up front for one comment.
const MAX_INITIAL_CAPACITY: usize = 1 << 16;

/// Generation step of the presence set's slots: a slot holds `generation | bucket`.
const GENERATION: u64 = 1 << 32;

/// Words remembered per comment to skip the n-grams of their repeats (see
/// [`Builder::ngrams_done`]).
const MAX_WORDS_REMEMBERED: usize = 256;

/// A thread's presence table beyond this many slots is not kept for the next comment.
const MAX_KEPT_SLOTS: usize = 1 << 16;

/// What one extraction needs besides its result, kept per thread so that scoring a comment
/// neither allocates nor clears these again: the presence table (several kilobytes, which
/// zeroing for every comment used to cost as much as a quarter of feature extraction) and
/// the kept features. Thread-local rather than global, so threads never share or wait;
/// nothing in it survives from one extraction to the next except capacity, since slots from
/// an older generation read as empty.
#[derive(Default)]
struct Scratch {
    entries: Vec<Origin>,
    char_starts: Vec<usize>,
    words: Vec<(u64, u32, u32)>,
    seen: Vec<u64>,
    extras: String,
    /// The generation of the latest extraction, in the high 32 bits.
    generation: u64,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Fields besides the body that yield features.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorFields<'a> {
    /// Author display name.
    pub name: Option<&'a str>,
    /// Author e-mail.
    pub email: Option<&'a str>,
    /// Author website.
    pub url: Option<&'a str>,
}

impl Features {
    /// Extracts the features of a normalised body and its author fields.
    pub fn extract(
        config: &FeatureConfig,
        body: &NormalizedText,
        author: AuthorFields<'_>,
    ) -> Self {
        Self::extract_view(
            config,
            body,
            author,
            |_| {},
            |view| Features {
                buckets: view.origins.iter().map(|e| e.bucket).collect(),
                kinds: view.origins.iter().map(|e| e.kind as u8).collect(),
                origins: view.origins.to_vec(),
                text: view.text.to_owned(),
                extras: view.extras.to_owned(),
                name: view.name,
                shapes: view.shapes,
            },
        )
    }

    /// Extracts the features of a normalised body and its author fields and hands `use_them`
    /// a view of them in this thread's scratch space, so scoring keeps nothing and copies
    /// nothing. `kept` is told each feature's bucket as soon as it is kept, which lets a
    /// model start fetching its weights while extraction goes on.
    pub fn extract_view<R>(
        config: &FeatureConfig,
        body: &NormalizedText,
        author: AuthorFields<'_>,
        kept: impl Fn(u32),
        use_them: impl FnOnce(FeatureView<'_>) -> R,
    ) -> R {
        // About one n-gram per character per length, plus words, bigrams and shapes: sized so
        // the hot loop rarely reallocates, and capped so a huge comment cannot reserve
        // memory it would not use.
        let capacity = (body.folded.len()
            * (config.char_max.saturating_sub(config.char_min) as usize + 2)
            + 64)
            .min(MAX_INITIAL_CAPACITY);
        // Sized for the distinct features of a typical comment (two to three per character)
        // at most half full; it grows when it would be fuller.
        let slots = if config.presence {
            (6 * body.folded.len() + 64)
                .min(MAX_INITIAL_CAPACITY)
                .next_power_of_two()
        } else {
            0
        };
        let extract_with = |scratch: &mut Scratch| {
            let mut b = Builder::new(config, scratch, capacity, slots);
            b.body_words(config, &body.folded, &kept);
            b.body_links(body);
            b.author(author);
            let result = use_them(FeatureView {
                origins: b.entries.as_slice(),
                text: &body.folded,
                extras: &b.extras,
                name: b.name,
                shapes: b.shapes,
            });
            b.finish(scratch);
            result
        };
        // The scratch is taken out of the thread's cell while in use and put back after, so a
        // nested extraction (none exists) would simply get a fresh one.
        match SCRATCH.try_with(|cell| {
            cell.try_borrow_mut()
                .ok()
                .map(|mut s| std::mem::take(&mut *s))
        }) {
            Ok(Some(mut scratch)) => {
                let result = extract_with(&mut scratch);
                let _ = SCRATCH.try_with(|cell| {
                    if let Ok(mut s) = cell.try_borrow_mut() {
                        *s = scratch;
                    }
                });
                result
            }
            _ => extract_with(&mut Scratch::default()),
        }
    }

    /// A view of these features, as [`Features::extract_view`] gives.
    pub fn view(&self) -> FeatureView<'_> {
        FeatureView {
            origins: &self.origins,
            text: &self.text,
            extras: &self.extras,
            name: self.name,
            shapes: self.shapes,
        }
    }

    /// Bucket index of every feature occurrence.
    pub fn buckets(&self) -> &[u32] {
        &self.buckets
    }

    /// Namespace index ([`FeatureKind::index`]) of every feature occurrence.
    pub fn kinds(&self) -> &[u8] {
        &self.kinds
    }

    /// Number of feature occurrences.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether there are no features.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The readable form of feature `i`, e.g. `w:subscribe`.
    pub fn token(&self, i: usize) -> String {
        let (prefix, body) = self.token_parts(i);
        let mut token = String::with_capacity(prefix.len() + body.len());
        token.push_str(prefix);
        token.push_str(body);
        token
    }

    /// The readable form of feature `i` as its namespace prefix and its text, without
    /// building a string (`token(i)` is their concatenation).
    pub(crate) fn token_parts(&self, i: usize) -> (&'static str, &str) {
        self.view().token_parts(i)
    }
}

/// Borrowed features of one comment: what scoring reads, straight from the extraction's
/// scratch space ([`Features::extract_view`]) or from [`Features::view`].
#[derive(Debug, Clone, Copy)]
pub struct FeatureView<'a> {
    origins: &'a [Origin],
    text: &'a str,
    extras: &'a str,
    /// Start and end of the features made from the author's name.
    name: (u32, u32),
    shapes: TextShapes,
}

impl<'a> FeatureView<'a> {
    /// What the extraction noticed of the comment's shape.
    pub fn shapes(&self) -> TextShapes {
        self.shapes
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    /// Whether there are no features.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// The features made from the author's name (its words and its shapes: `a:`,
    /// `am:name:*`, `am:name_is_url`, `am:name_digits`), one run of indices: what the
    /// first-day policy leaves out to ask whether a comment is spam by its name alone.
    pub fn author_name(&self) -> std::ops::Range<usize> {
        let (start, end) = (self.name.0 as usize, self.name.1 as usize);
        start.min(self.len())..end.min(self.len())
    }

    /// Bucket of feature `i`.
    #[inline(always)]
    pub fn bucket(&self, i: usize) -> u32 {
        self.origins[i].bucket
    }

    /// Namespace index ([`FeatureKind::index`]) of feature `i`.
    #[inline(always)]
    pub fn kind(&self, i: usize) -> u8 {
        self.origins[i].kind as u8
    }

    /// Bucket and namespace index of every feature, in order.
    #[inline(always)]
    pub fn iter(&self) -> impl Iterator<Item = (u32, u8)> + 'a {
        self.origins.iter().map(|o| (o.bucket, o.kind as u8))
    }

    /// Bucket and namespace index of the features in `range` (cut to the features there
    /// are), in order.
    #[inline(always)]
    pub fn iter_range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (u32, u8)> + 'a {
        let end = range.end.min(self.origins.len());
        self.origins[range.start.min(end)..end]
            .iter()
            .map(|o| (o.bucket, o.kind as u8))
    }

    /// The readable form of feature `i` as its namespace prefix and its text.
    pub(crate) fn token_parts(&self, i: usize) -> (&'static str, &'a str) {
        let o = self.origins[i];
        let source = if o.extra { self.extras } else { self.text };
        let start = o.start as usize;
        let body = source.get(start..start + o.len as usize).unwrap_or("");
        (o.kind.prefix(), body)
    }

    /// Whether feature `i` is a character n-gram of the body.
    #[inline(always)]
    pub(crate) fn is_char_ngram(&self, i: usize) -> bool {
        let o = self.origins[i];
        !o.extra
            && matches!(
                o.kind,
                FeatureKind::Chars | FeatureKind::Chars4 | FeatureKind::Chars5
            )
    }

    /// For a character n-gram of the body, the body word it was cut from (what a moderator
    /// can read); `None` for any other feature. Words never hold whitespace, so only the
    /// run of non-space text around the n-gram is split into words again. The word is a
    /// slice of the body, so a caller can tell whether another n-gram lies inside it.
    pub(crate) fn word_of(&self, i: usize) -> Option<&'a str> {
        if !self.is_char_ngram(i) {
            return None;
        }
        let start = self.origins[i].start as usize;
        // ASCII whitespace bounds the window (bytes, so no decoding); any other space
        // inside it is a word boundary the split below finds anyway.
        let bytes = self.text.as_bytes();
        let from = bytes
            .get(..start)?
            .iter()
            .rposition(u8::is_ascii_whitespace)
            .map_or(0, |w| w + 1);
        let to = bytes[start..]
            .iter()
            .position(u8::is_ascii_whitespace)
            .map_or(bytes.len(), |w| start + w);
        // Letters and digits alone make one word (Unicode word boundaries never split
        // them), so most runs need no segmenting.
        if bytes[from..to].iter().all(u8::is_ascii_alphanumeric) {
            return Some(&self.text[from..to]);
        }
        super::words::word_indices(&self.text[from..to])
            .map(|(s, word)| (from + s, word))
            .find(|&(s, word)| s <= start && start < s + word.len())
            .map(|(_, word)| word)
    }
}

/// Features being extracted: the kept ones in order, and the set of buckets already kept.
struct Builder {
    entries: Kept,
    char_starts: Vec<usize>,
    /// Hash, start and end of each word whose n-grams were made, to skip its repeats.
    words: Vec<(u64, u32, u32)>,
    /// Open-addressing set of the buckets in `entries`: its first `slots` slots (a power of
    /// two; none when counting occurrences), kept at most half full by [`Builder::reserve`]
    /// so probes stay short and always end. A slot is in the set when it holds
    /// `generation | bucket`; anything below `generation` is an empty slot.
    seen: Vec<u64>,
    slots: usize,
    generation: u64,
    presence: bool,
    extras: String,
    mask: u32,
    /// Start and end of the author-name features in `entries`.
    name: (u32, u32),
    shapes: TextShapes,
}

/// Where `bucket` starts probing in a presence table of `smask + 1` slots.
#[inline(always)]
fn first_slot(bucket: u32, smask: usize) -> usize {
    (bucket.wrapping_mul(0x9E37_79B9) >> 7) as usize & smask
}

/// Adds `bucket` to the presence set `seen` (slots of generation `generation`) and says
/// whether it was new; an empty `seen` holds nothing, so every bucket is new. The caller has
/// reserved room: `seen` is less than half full, so the probe ends.
#[inline(always)]
fn insert(seen: &mut [u64], generation: u64, bucket: u32) -> bool {
    if seen.is_empty() {
        return true;
    }
    let smask = seen.len() - 1;
    let key = generation | bucket as u64;
    let mut slot = first_slot(bucket, smask);
    loop {
        let Some(x) = seen.get_mut(slot) else {
            return true;
        };
        if *x == key {
            return false;
        }
        if *x < generation {
            *x = key;
            return true;
        }
        slot = (slot + 1) & smask;
    }
}

/// Keeps `e` unless its bucket is already in `seen` (see [`insert`]). The set is probed as
/// features are made, so duplicates are never stored at all.
#[inline(always)]
fn keep(entries: &mut Kept, seen: &mut [u64], generation: u64, e: Origin) {
    if insert(seen, generation, e.bucket) {
        entries.push(e);
    }
}

impl Builder {
    /// Starts an extraction with the thread's scratch space (taken, and given back by
    /// [`Builder::finish`]), room for `capacity` features and a presence table of `slots`.
    fn new(config: &FeatureConfig, scratch: &mut Scratch, capacity: usize, slots: usize) -> Self {
        scratch.words.clear();
        let mut buf = std::mem::take(&mut scratch.entries);
        buf.reserve(capacity.saturating_sub(buf.len()));
        let mut b = Builder {
            entries: Kept { buf, len: 0 },
            char_starts: std::mem::take(&mut scratch.char_starts),
            words: std::mem::take(&mut scratch.words),
            seen: std::mem::take(&mut scratch.seen),
            slots: 0,
            generation: scratch.generation,
            presence: config.presence,
            extras: {
                let mut extras = std::mem::take(&mut scratch.extras);
                extras.clear();
                extras
            },
            mask: (1u32 << config.bits) - 1,
            name: (0, 0),
            shapes: TextShapes::default(),
        };
        b.new_generation(slots);
        b
    }

    /// Empties the presence set and sizes it to `slots`: a new generation makes every slot
    /// empty without writing to it.
    fn new_generation(&mut self, slots: usize) {
        if self.generation >= u64::MAX - GENERATION {
            // Once per 2^32 extractions on a thread: start the count again.
            self.seen.iter_mut().for_each(|x| *x = 0);
            self.generation = 0;
        }
        self.generation += GENERATION;
        if self.seen.len() < slots {
            self.seen.resize(slots, 0);
        }
        self.slots = slots;
    }

    /// Gives the scratch space back for the next extraction on this thread (a table grown
    /// for a huge comment is dropped rather than kept).
    fn finish(self, scratch: &mut Scratch) {
        scratch.entries = if self.entries.buf.capacity() > MAX_KEPT_SLOTS {
            Vec::new()
        } else {
            self.entries.buf
        };
        scratch.char_starts = self.char_starts;
        scratch.words = self.words;
        scratch.extras = if self.extras.capacity() > MAX_KEPT_SLOTS {
            String::new()
        } else {
            self.extras
        };
        scratch.seen = if self.seen.len() > MAX_KEPT_SLOTS {
            Vec::new()
        } else {
            self.seen
        };
        scratch.generation = self.generation;
    }

    /// Makes room in the presence set for `more` features.
    #[inline(always)]
    fn reserve(&mut self, more: usize) {
        if self.presence && 2 * (self.entries.len + more) > self.slots {
            self.grow_seen(more);
        }
    }

    #[cold]
    #[inline(never)]
    fn grow_seen(&mut self, more: usize) {
        let size = (4 * (self.entries.len + more)).next_power_of_two();
        self.new_generation(size);
        let generation = self.generation;
        let seen = &mut self.seen[..size];
        for e in self.entries.as_slice() {
            insert(seen, generation, e.bucket);
        }
    }

    /// Adds a feature whose text is `text[start..end]`; says whether it was kept (new).
    /// Inlined: it runs twice per word (the word and its bigram).
    #[inline(always)]
    fn push_text(
        &mut self,
        kind: FeatureKind,
        start: usize,
        end: usize,
        hash: u64,
        kept: &impl Fn(u32),
    ) -> bool {
        self.reserve(1);
        let e = Origin {
            bucket: hash as u32 & self.mask,
            start: start as u32,
            len: (end - start).min(u16::MAX as usize) as u16,
            kind,
            extra: false,
        };
        let generation = self.generation;
        let slots = self.slots.min(self.seen.len());
        let before = self.entries.len;
        keep(&mut self.entries, &mut self.seen[..slots], generation, e);
        let fresh = self.entries.len > before;
        if fresh {
            kept(e.bucket);
        }
        fresh
    }

    /// Whether `word` (at `text[start..]`, hash `wh`) already had its character n-grams made:
    /// then every one of them is already in the presence set and making them again would
    /// keep nothing. About a fifth of the words of a comment repeat an earlier one.
    fn ngrams_done(&self, text: &str, wh: u64, word: &str) -> bool {
        // Bounded so a huge comment of distinct words cannot make this quadratic.
        self.words.len() <= MAX_WORDS_REMEMBERED
            && self
                .words
                .iter()
                .any(|&(h, s, e)| h == wh && text.get(s as usize..e as usize) == Some(word))
    }

    fn push_extra(&mut self, kind: FeatureKind, value: &str) {
        self.reserve(1);
        let e = Origin {
            bucket: xxh3_64_with_seed(value.as_bytes(), kind.salt()) as u32 & self.mask,
            start: self.extras.len() as u32,
            len: value.len().min(u16::MAX as usize) as u16,
            kind,
            extra: true,
        };
        let before = self.entries.len;
        let generation = self.generation;
        let slots = self.slots.min(self.seen.len());
        keep(&mut self.entries, &mut self.seen[..slots], generation, e);
        if self.entries.len > before {
            self.extras.push_str(value);
        }
    }

    fn body_words(&mut self, config: &FeatureConfig, text: &str, kept: &impl Fn(u32)) {
        let mut prev: Option<(usize, u64)> = None;
        let mut pad = [0u8; PAD];
        let mut template = shapes::Template::default();
        let mut praise = shapes::PagePraise::default();
        for (start, word) in super::words::word_indices(text) {
            let class = shapes::word_class(word);
            template.push(class);
            praise.push(class);
            let end = start + word.len();
            let wh = xxh3_64_with_seed(word.as_bytes(), FeatureKind::Word.salt());
            let fresh = self.push_text(FeatureKind::Word, start, end, wh, kept);
            if config.bigrams {
                if let Some((pstart, ph)) = prev {
                    let bh = ph.rotate_left(17) ^ wh.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    self.push_text(
                        FeatureKind::Bigram,
                        pstart,
                        end,
                        bh ^ FeatureKind::Bigram.salt(),
                        kept,
                    );
                }
                prev = Some((start, wh));
            }
            self.word_shapes(word);
            // A word seen before yields only n-grams already kept, when each is kept once. Its
            // own feature is new unless its bucket is taken, so only then is the list searched.
            if config.char_min > 0
                && word.len() <= 64
                && !(self.presence && !fresh && self.ngrams_done(text, wh, word))
            {
                self.char_ngrams(config, word, start, &mut pad, kept);
                if self.presence && self.words.len() <= MAX_WORDS_REMEMBERED {
                    self.words.push((wh, start as u32, end as u32));
                }
            }
        }
        template.finish(|shape| self.push_shape(FeatureKind::Shape, shape));
        self.shapes.page_praise = praise.found();
        self.shapes.own_site = praise.names_own_site();
    }

    /// Adds a cross-site shape ([`shapes`]) as a feature of `kind`.
    fn push_shape(&mut self, kind: FeatureKind, shape: &'static str) {
        self.push_extra(kind, shape);
    }

    /// Character n-grams of " word " (the spaces mark the word's edges). Hashed with a
    /// rolling FNV-1a over the bytes, finished by a multiply-xorshift so the low bits used as
    /// bucket index are well mixed: one pass per start position serves every length, which
    /// is what keeps feature extraction within a few microseconds.
    fn char_ngrams(
        &mut self,
        config: &FeatureConfig,
        word: &str,
        start: usize,
        pad: &mut [u8; PAD],
        kept: &impl Fn(u32),
    ) {
        let n = word.len();
        pad[0] = b' ';
        pad[1..=n].copy_from_slice(word.as_bytes());
        pad[n + 1] = b' ';
        let padded = &pad[..n + 2];
        let (min, max) = (config.char_min as usize, config.char_max as usize);
        // At most this many n-grams, a few more than there can be (a start position for
        // every length, even where it would run past the end; bytes bound characters).
        let most = (n + 2) * (max + 1).saturating_sub(min);
        self.reserve(most);
        let mask = self.mask;
        if word.is_ascii() {
            // One byte per character: the same hashes as below without the boundary table.
            let slots = self.slots.min(self.seen.len());
            let out = self.entries.spare(most);
            let new = ascii_ngrams(
                pad,
                padded.len(),
                start,
                (min, max),
                mask,
                (&mut self.seen[..slots], self.generation),
                out,
            );
            // Announced after the word rather than inside the loop: the loop is the hottest
            // of scoring and compiles worse with the call in it.
            for e in &out[..new] {
                kept(e.bucket);
            }
            self.entries.commit(new);
            return;
        }
        let generation = self.generation;
        let slots = self.slots.min(self.seen.len());
        let (entries, seen, char_starts) = (
            &mut self.entries,
            &mut self.seen[..slots],
            &mut self.char_starts,
        );
        char_starts.clear();
        char_starts.extend((0..padded.len()).filter(|&i| !is_continuation(padded[i])));
        char_starts.push(padded.len());
        let chars = char_starts.len() - 1;
        for i in 0..chars {
            let mut h = CHARS_SALT;
            let mut byte = char_starts[i];
            for len in 1..=max.min(chars - i) {
                let end = char_starts[i + len];
                while byte < end {
                    h = fnv(h, padded[byte]);
                    byte += 1;
                }
                if len < min {
                    continue;
                }
                // Map the padded range back to the word's range in `text`.
                let ts = char_starts[i].saturating_sub(1).min(n);
                let te = end.saturating_sub(1).min(n).max(ts);
                let e = Origin {
                    bucket: finish(h) as u32 & mask,
                    start: (start + ts) as u32,
                    len: (te - ts) as u16,
                    kind: ngram_kind(len),
                    extra: false,
                };
                if insert(seen, generation, e.bucket) {
                    entries.push(e);
                    kept(e.bucket);
                }
            }
        }
    }

    fn word_shapes(&mut self, word: &str) {
        // One pass settles most words (short, no digits, no dot): both checks below need one.
        let (mut digits, mut dot) = (0usize, false);
        for b in word.bytes() {
            digits += b.is_ascii_digit() as usize;
            dot |= b == b'.';
        }
        if digits >= 3 {
            let all_digits = digits == word.len();
            let shape = match digits {
                3..=4 if all_digits => "num3-4",
                3..=4 => "alnum3-4",
                5..=7 if all_digits => "num5-7",
                5..=7 => "alnum5-7",
                8..=11 if all_digits => "num8-11",
                8..=11 => "alnum8-11",
                _ if all_digits => "num12+",
                _ => "alnum12+",
            };
            self.push_extra(FeatureKind::Shape, shape);
        }
        // A bare domain like `murdev.com`: words with a dot and an alphabetic last label.
        if let Some((head, tld)) = dot.then(|| word.rsplit_once('.')).flatten() {
            if !head.is_empty()
                && (2..=6).contains(&tld.len())
                && tld.bytes().all(|b| b.is_ascii_lowercase())
                && head.bytes().any(|b| b.is_ascii_alphabetic())
            {
                self.push_extra(FeatureKind::Domain, word.trim_start_matches("www."));
            }
        }
    }

    fn body_links(&mut self, body: &NormalizedText) {
        for link in &body.links {
            if !link.domain.is_empty() {
                self.push_extra(FeatureKind::Domain, &link.domain);
            }
        }
        let links = match body.links.len() {
            0 => None,
            1 => Some("links1"),
            2 => Some("links2"),
            _ => Some("links3+"),
        };
        if let Some(l) = links {
            self.push_extra(FeatureKind::Shape, l);
            let ends_with_link = body
                .clean
                .split_whitespace()
                .next_back()
                .is_some_and(|last| {
                    let last = last.to_ascii_lowercase();
                    last.contains("http")
                        || last.contains("www.")
                        || body.links.last().is_some_and(|l| {
                            !l.domain.is_empty() && last.contains(l.domain.as_str())
                        })
                });
            shapes::links(
                body.links.iter().map(|l| l.domain.as_str()),
                ends_with_link,
                |shape| self.push_shape(FeatureKind::Shape, shape),
            );
        }
        // E-mail and phone shapes are written across word boundaries, so scan the text.
        let text = &body.folded;
        // Most comments have no `@`: one search instead of splitting the whole text.
        if text.contains('@') {
            for chunk in text.split_whitespace() {
                if let Some((local, domain)) = chunk.split_once('@') {
                    let domain = domain.trim_end_matches(|c: char| !c.is_alphanumeric());
                    if !local.is_empty() && domain.contains('.') {
                        self.push_extra(FeatureKind::Shape, "email");
                        self.push_extra(FeatureKind::Domain, domain);
                    }
                }
            }
        }
        if has_phone_number(text) {
            self.push_extra(FeatureKind::Shape, "phone");
            if shapes::support_line(text) {
                self.push_shape(FeatureKind::Shape, "phone:support");
            }
        }
    }

    fn author(&mut self, author: AuthorFields<'_>) {
        let name_start = self.entries.len as u32;
        if let Some(name) = author.name.filter(|n| !n.trim().is_empty()) {
            let canonical = super::canonicalize(&super::decode_author_name(name));
            let folded = super::fold(&canonical);
            for (_, word) in super::words::word_indices(&folded) {
                self.push_extra(FeatureKind::Author, word);
            }
            let (mut keyword, mut commercial) = (false, false);
            shapes::author_name(&canonical, &folded, |shape| {
                keyword |= shapes::is_keyword_shape(shape);
                commercial |= shape == "name:shop_word";
                self.push_shape(FeatureKind::AuthorMeta, shape)
            });
            // Read again only for the few names with a commerce word, to leave out places.
            let mut shop = commercial
                && super::words::word_indices(&folded).any(|(_, w)| shapes::is_shop_name_word(w));
            if names_an_address(&folded) {
                (keyword, shop) = (true, true);
                self.push_extra(FeatureKind::AuthorMeta, "name_is_url");
            }
            self.shapes.keyword_name = keyword;
            self.shapes.shop_name = shop;
            if folded.bytes().filter(u8::is_ascii_digit).count() >= 3 {
                self.push_extra(FeatureKind::AuthorMeta, "name_digits");
            }
        }
        self.name = (name_start, self.entries.len as u32);
        if let Some(url) = author.url.filter(|u| !u.trim().is_empty()) {
            self.push_extra(FeatureKind::AuthorMeta, &format!("url:{}", domain_of(url)));
        }
        if let Some(email) = author.email.and_then(|e| e.rsplit_once('@')) {
            self.push_extra(
                FeatureKind::AuthorMeta,
                &format!("email:{}", email.1.to_lowercase()),
            );
        }
    }
}

/// Room for a word of 64 bytes, the space each side, and the longest valid n-gram (8) past
/// its end, so every start position can read a full-length window.
const PAD: usize = 66 + 8;

/// The character n-grams of one ASCII word padded with a space each side (`pad[..len]`, the
/// word at byte `start` of the text; bytes past `len` are ignored), lengths `min..=max`, in
/// order of start then length; those whose bucket `seen` lacks are added to it and written
/// to `out` (room for every n-gram). Returns how many were written.
///
/// This is the hottest loop of scoring, so it is kept apart from everything else: its own
/// function with every value it needs in a local (nothing to reload from `Builder`), writes to
/// a slice by index rather than `Vec::push`, and one pass per start position that serves
/// every length (FNV-1a rolls along the bytes; [`finish`] mixes each length's state). The
/// default lengths (2 to 5) get their own copy, unrolled by hand ([`ascii_ngrams_2_to_5`]).
#[inline(never)]
fn ascii_ngrams(
    pad: &[u8; PAD],
    len: usize,
    start: usize,
    (min, max): (usize, usize),
    mask: u32,
    seen: (&mut [u64], u64),
    out: &mut [Origin],
) -> usize {
    if (min, max) == (2, 5) {
        ascii_ngrams_2_to_5(pad, len, start, mask, seen, out)
    } else {
        ascii_ngrams_with(pad, len, start, (min, max), mask, seen, out)
    }
}

/// [`ascii_ngrams`] for the default lengths, 2 to 5, unrolled by hand: each start reads a
/// window of five bytes (even past the word's end; `pad` has room) and keeps the n-grams
/// that end inside the word. Left to the compiler, whether this loop got unrolled changed
/// with unrelated code elsewhere in the crate, and with it half the cost of extraction.
#[inline(always)]
fn ascii_ngrams_2_to_5(
    pad: &[u8; PAD],
    len: usize,
    start: usize,
    mask: u32,
    (seen, generation): (&mut [u64], u64),
    out: &mut [Origin],
) -> usize {
    let n = len.saturating_sub(2);
    let mut sink = NgramSink::new(start, n, mask, seen, generation, out);
    let mut emit = |h: u64, i: usize, j: usize, ts: usize| sink.emit(h, i, j, ts);
    for i in 0..len.saturating_sub(1) {
        let Some(&[b0, b1, b2, b3, b4]) = pad.get(i..i + 5) else {
            break;
        };
        let ts = i.saturating_sub(1).min(n);
        let h = fnv(fnv(CHARS_SALT, b0), b1);
        emit(h, i, 1, ts);
        let h = fnv(h, b2);
        if i + 2 < len {
            emit(h, i, 2, ts);
        }
        let h = fnv(h, b3);
        if i + 3 < len {
            emit(h, i, 3, ts);
        }
        let h = fnv(h, b4);
        if i + 4 < len {
            emit(h, i, 4, ts);
        }
    }
    sink.kept
}

/// [`ascii_ngrams`] for any lengths.
#[inline(always)]
fn ascii_ngrams_with(
    pad: &[u8; PAD],
    len: usize,
    start: usize,
    (min, max): (usize, usize),
    mask: u32,
    (seen, generation): (&mut [u64], u64),
    out: &mut [Origin],
) -> usize {
    let n = len.saturating_sub(2);
    let mut sink = NgramSink::new(start, n, mask, seen, generation, out);
    // Start positions with at least `min` bytes left.
    for i in 0..(len + 1).saturating_sub(min) {
        // The padded range mapped back to the word's range in the text.
        let ts = i.saturating_sub(1).min(n);
        let mut h = CHARS_SALT;
        // A window of constant length in the default copy (only an invalid `max` of more
        // than 8 falls back to the rest of the buffer).
        let window = pad.get(i..i + max).unwrap_or(&pad[i..]);
        for (j, &b) in window.iter().enumerate() {
            h = fnv(h, b);
            // Shorter lengths only feed the rolling hash; longer ones must end in the word.
            if j + 1 >= min && i + j < len {
                sink.emit(h, i, j, ts);
            }
        }
    }
    sink.kept
}

/// Whether a folded author name holds `http`, `www.` or `.com` (a web address for a name):
/// one pass over its few bytes, where three substring searches cost more to set up than the
/// name is long.
fn names_an_address(folded: &str) -> bool {
    folded
        .as_bytes()
        .windows(4)
        .any(|w| matches!(w, b"http" | b"www." | b".com"))
}

/// Where the n-gram loops put what they keep: the presence set and the output slice.
struct NgramSink<'a> {
    start: usize,
    n: usize,
    mask: u32,
    seen: &'a mut [u64],
    generation: u64,
    out: &'a mut [Origin],
    kept: usize,
}

impl<'a> NgramSink<'a> {
    #[inline(always)]
    fn new(
        start: usize,
        n: usize,
        mask: u32,
        seen: &'a mut [u64],
        generation: u64,
        out: &'a mut [Origin],
    ) -> Self {
        NgramSink {
            start,
            n,
            mask,
            seen,
            generation,
            out,
            kept: 0,
        }
    }

    /// Keeps the n-gram of `j + 1` bytes at padded offset `i` with hash state `h` unless its
    /// bucket is already in the set; `ts` is where it starts in the word (its text ends at
    /// `min(i + j, n)`, never before `ts`).
    #[inline(always)]
    fn emit(&mut self, h: u64, i: usize, j: usize, ts: usize) {
        let bucket = finish(h) as u32 & self.mask;
        if insert(self.seen, self.generation, bucket) {
            if let Some(o) = self.out.get_mut(self.kept) {
                *o = Origin {
                    bucket,
                    start: (self.start + ts) as u32,
                    len: ((i + j).min(self.n) - ts) as u16,
                    kind: NGRAM_KINDS[j.min(NGRAM_KINDS.len() - 1)],
                    extra: false,
                };
                self.kept += 1;
            }
        }
    }
}

/// The namespace of a character n-gram of `len + 1` characters, for every length a valid
/// configuration allows (at most 8; longer ones are [`FeatureKind::Chars5`] too).
const NGRAM_KINDS: [FeatureKind; 8] = [
    FeatureKind::Chars,
    FeatureKind::Chars,
    FeatureKind::Chars,
    FeatureKind::Chars4,
    FeatureKind::Chars5,
    FeatureKind::Chars5,
    FeatureKind::Chars5,
    FeatureKind::Chars5,
];

/// The namespace of a character n-gram of `len` characters.
#[inline(always)]
fn ngram_kind(len: usize) -> FeatureKind {
    match len {
        0..=3 => FeatureKind::Chars,
        4 => FeatureKind::Chars4,
        _ => FeatureKind::Chars5,
    }
}

/// Start of every character n-gram's rolling hash.
const CHARS_SALT: u64 = FeatureKind::Chars.salt() ^ 0xcbf2_9ce4_8422_2325;

/// One FNV-1a step.
#[inline(always)]
fn fnv(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
}

/// Final avalanche of a rolling hash (the splitmix64 finaliser).
#[inline(always)]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Seven or more digits written as one number, possibly with spaces, dashes, dots or
/// brackets, that is not a count grouped in thousands ("2.126.521.750 views", as YouTube
/// comments quote view counts: read as a phone number, such a comment looked like spam).
fn has_phone_number(text: &str) -> bool {
    // Most comments hold fewer than seven digits in all, which a counting pass (one the
    // compiler vectorises) settles without looking for numbers.
    if text.bytes().filter(u8::is_ascii_digit).count() < 7 {
        return false;
    }
    let bytes = text.as_bytes();
    let separator = |b: u8| matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+');
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // One number: digit groups joined by single separators.
        let start = i;
        loop {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < bytes.len() && separator(bytes[i]) && bytes[i + 1].is_ascii_digit() {
                i += 1;
            } else {
                break;
            }
        }
        let number = &bytes[start..i];
        if number.iter().filter(|b| b.is_ascii_digit()).count() >= 7 && !thousands(number) {
            return true;
        }
    }
    false
}

/// `number` (digits and single separators) is written as a count in thousands: groups of
/// digits split by dots, every one after the first of three, the first of one or two digits
/// or followed by three groups or more ("1.000.000", "2.126.521.750"). A phone number's
/// last group has four digits or its separators vary ("555.123.4567"), and a nine-digit one
/// dotted in threes ("612.345.678", as Spain and Portugal write them) stays a phone number.
fn thousands(number: &[u8]) -> bool {
    let digits = |g: &[u8]| g.iter().all(u8::is_ascii_digit);
    let mut groups = number.split(|&b| b == b'.');
    let Some(first) = groups.next() else {
        return false;
    };
    let mut rest = 0;
    for group in groups {
        if group.len() != 3 || !digits(group) {
            return false;
        }
        rest += 1;
    }
    rest >= 1 && (1..=3).contains(&first.len()) && digits(first) && (first.len() <= 2 || rest >= 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize_content;

    fn tokens(text: &str, author: Option<&str>) -> Vec<String> {
        let config = FeatureConfig {
            char_min: 0,
            ..FeatureConfig::default()
        };
        let f = Features::extract(
            &config,
            &normalize_content(text),
            AuthorFields {
                name: author,
                ..Default::default()
            },
        );
        (0..f.len()).map(|i| f.token(i)).collect()
    }

    #[test]
    fn words_bigrams_domains_and_author_are_namespaced() {
        let t = tokens("Visit http://Spam.example/x now", Some("Free Money"));
        for want in [
            "w:visit",
            "b:visit http",
            "d:spam.example",
            "s:links1",
            "a:free",
            "a:money",
        ] {
            assert!(t.iter().any(|x| x == want), "missing {want} in {t:?}");
        }
    }

    #[test]
    fn non_latin_scripts_tokenize() {
        let t = tokens("Привет мир, это спам", None);
        assert!(t.contains(&"w:привет".to_string()), "{t:?}");
        let t = tokens("素晴らしい動画です", None);
        assert!(
            t.iter().filter(|x| x.starts_with("w:")).count() >= 3,
            "{t:?}"
        );
    }

    #[test]
    fn extraction_reports_page_praise_and_keyword_names() {
        // (name, body, author, page praise, keyword name, shop name, why)
        #[rustfmt::skip]
        let cases = [
            ("reader", "Love this post. Subscribed to your newsletter.", "Kim", true, false, false, "praise from a person's name"),
            ("shop_name", "I will bookmark your blog", "cheap flight deals", true, true, true, "a keyword phrase as the name"),
            ("domain_name", "I will bookmark your blog", "deals-shop.com", true, true, true, "a web address as the name"),
            ("lower_case_reader", "Step 2 fails on Windows", "john smith", false, true, false, "a lower-case name is keyword-shaped, not a shop"),
            ("place_in_name", "Step 2 fails on Windows", "Jane (UK)", false, true, false, "a place is no shop, though the feature counts it"),
            ("trade_name", "Thanks", "Pest Control Leeds", false, true, true, "a trade as the name"),
            ("no_praise", "Step 2 fails on Windows", "Ann", false, false, false, "a question about the post"),
            ("no_name", "Nice blog, bookmarked", "", true, false, false, "no name is no keyword"),
        ];
        for (name, body, author, praise, keyword, shop, why) in cases {
            let f = Features::extract(
                &FeatureConfig::default(),
                &normalize_content(body),
                AuthorFields {
                    name: Some(author),
                    ..Default::default()
                },
            );
            let got = f.view().shapes();
            assert_eq!(got.page_praise, praise, "case {name} ({why}): page praise");
            assert_eq!(
                got.keyword_name, keyword,
                "case {name} ({why}): keyword name"
            );
            assert_eq!(got.shop_name, shop, "case {name} ({why}): shop name");
        }
    }

    #[test]
    fn phone_email_and_number_shapes() {
        let t = tokens("call 0906-170-1461 or mail win@prize.example", None);
        for want in ["s:phone", "s:email", "d:prize.example", "s:num3-4"] {
            assert!(t.iter().any(|x| x == want), "missing {want} in {t:?}");
        }
    }

    #[test]
    fn escaped_author_names_are_decoded() {
        let t = tokens("hi", Some("Romix &amp; Muffy"));
        assert!(t.iter().any(|x| x == "a:romix"), "{t:?}");
        assert!(!t.iter().any(|x| x == "a:amp"), "{t:?}");
    }

    #[test]
    fn phone_numbers_against_counts() {
        // (case, text, a phone number, why)
        let cases = [
            (
                "dashed",
                "call 0906-170-1461 now",
                true,
                "dashes join the groups",
            ),
            (
                "bracketed",
                "ring (555) 123-4567",
                true,
                "seven digits after the bracket",
            ),
            (
                "dotted_us",
                "555.123.4567",
                true,
                "a last group of four is no count",
            ),
            (
                "plain",
                "text 8007777 today",
                true,
                "seven digits in one run",
            ),
            (
                "views",
                "2.126.521.750 views",
                false,
                "a count grouped in thousands",
            ),
            (
                "million",
                "1.000.000 every day.",
                false,
                "a count, with a full stop after",
            ),
            (
                "dotted_spanish",
                "llámame al 612.345.678",
                true,
                "nine digits dotted in threes is how Spain writes a phone",
            ),
            (
                "spaced_first_group",
                "1 2.345.678",
                true,
                "a first group with a space in it is no count",
            ),
            (
                "commas",
                "2,126,521,750 views",
                false,
                "commas split the digits",
            ),
            ("short", "room 12-3456", false, "seven digits at least"),
            (
                "dotted_first_long",
                "1234.567.890",
                true,
                "a first group of four is no count",
            ),
            (
                "two_numbers",
                "1.000.000 or 0906 170 1461",
                true,
                "the second is a phone",
            ),
        ];
        for (name, text, phone, why) in cases {
            assert_eq!(has_phone_number(text), phone, "{name}: {why}");
        }
    }

    #[test]
    fn character_ngrams_stay_inside_words() {
        let config = FeatureConfig {
            bigrams: false,
            ..FeatureConfig::default()
        };
        let f = Features::extract(
            &config,
            &normalize_content("ab cd"),
            AuthorFields::default(),
        );
        let t: Vec<String> = (0..f.len()).map(|i| f.token(i)).collect();
        assert!(
            t.contains(&"c:ab".to_string()) && !t.iter().any(|x| x == "c:b c"),
            "{t:?}"
        );
    }

    #[test]
    fn many_link_and_author_features_do_not_overflow_the_presence_set() {
        // A short body with hundreds of distinct link domains and author words: more distinct
        // features than the body's length predicts (this once made the probe loop spin forever).
        let body: String = (0..400)
            .map(|i| format!("<a href=\"http://d{i}.example/\"></a>"))
            .collect();
        let author: String = (0..300).map(|i| format!("w{i} ")).collect();
        let f = Features::extract(
            &FeatureConfig::default(),
            &normalize_content(&format!("hi{body}")),
            AuthorFields {
                name: Some(&author),
                ..Default::default()
            },
        );
        assert!(f.len() > 700, "{}", f.len());
        let mut b = f.buckets().to_vec();
        b.sort_unstable();
        b.dedup();
        assert_eq!(b.len(), f.len(), "presence keeps each bucket once");
    }

    #[test]
    fn presence_counts_a_repeated_word_once() {
        let config = FeatureConfig {
            char_min: 0,
            bigrams: false,
            ..FeatureConfig::default()
        };
        let f = Features::extract(
            &config,
            &normalize_content("spam spam spam"),
            AuthorFields::default(),
        );
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn address_in_a_name() {
        // (name, folded author name, want, why)
        let cases = [
            ("scheme", "http://a.example", true, "a URL as the name"),
            ("www", "www.bestdeals", true, "a host without a scheme"),
            ("dot_com", "emeryeps.com", true, "a domain"),
            ("end", "shop.com", true, "the address at the very end"),
            ("person", "anna lindqvist", false, "a person's name"),
            ("short", "htt", false, "shorter than any address"),
            ("initials", "j.r. comstock", false, "dots, no address"),
        ];
        for (name, folded, want, why) in cases {
            assert_eq!(names_an_address(folded), want, "case {name} ({why})");
        }
    }
}

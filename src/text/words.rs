//! Words of a text, exactly as `unicode_segmentation`'s `unicode_word_indices` finds them,
//! without its per-segment overhead for ASCII text.
//!
//! The crate splits ASCII text into every UAX #29 segment (each space run and punctuation
//! byte is one) and then filters out those without a letter or digit, re-scanning each
//! segment through `chars()` to decide. Nearly every comment is ASCII once normalised, so
//! here the segments that cannot be words are skipped in one pass and only letter-digit
//! runs are cut out. Other text goes to the crate unchanged: a non-ASCII character can
//! join or split its neighbours (`café`, `a·b`), so mixing the two paths is not safe.

use unicode_segmentation::{UnicodeSegmentation, UnicodeWordIndices};

/// UAX #29 ALetter (for ASCII: the letters).
const ALETTER: u8 = 1;
/// UAX #29 Numeric (for ASCII: the digits).
const NUMERIC: u8 = 2;
/// UAX #29 ExtendNumLet (for ASCII: `_`).
const EXTEND_NUM_LET: u8 = 4;
/// Bytes that never end a word: WB5, WB8-10 and WB13a/b join them to either side.
const CORE: u8 = ALETTER | NUMERIC | EXTEND_NUM_LET;
/// The infix joins two letters (WB6/7): MidLetter `:` and MidNumLetQ `.` and `'`.
const JOINS_LETTERS: u8 = ALETTER << 4;
/// The infix joins two digits (WB11/12): MidNum `,` and `;` and MidNumLetQ `.` and `'`.
const JOINS_DIGITS: u8 = NUMERIC << 4;

/// Word-boundary class of every byte. An infix's high nibble holds the classes it joins,
/// so one AND with its neighbours' classes tells whether it stays inside the word.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            ALETTER
        } else if c.is_ascii_digit() {
            NUMERIC
        } else {
            match c {
                b'_' => EXTEND_NUM_LET,
                b'.' | b'\'' => JOINS_LETTERS | JOINS_DIGITS,
                b':' => JOINS_LETTERS,
                b',' | b';' => JOINS_DIGITS,
                _ => 0,
            }
        };
        b += 1;
    }
    t
};

/// Words of `text` with their byte offsets, the same as `text.unicode_word_indices()`.
pub(crate) fn word_indices(text: &str) -> WordIndices<'_> {
    if text.is_ascii() {
        WordIndices::Ascii(AsciiWords { text, pos: 0 })
    } else {
        WordIndices::Unicode(text.unicode_word_indices())
    }
}

/// Iterator returned by [`word_indices`].
pub(crate) enum WordIndices<'a> {
    /// Pure ASCII text, split here.
    Ascii(AsciiWords<'a>),
    /// Any other text, split by `unicode_segmentation`.
    Unicode(UnicodeWordIndices<'a>),
}

impl<'a> Iterator for WordIndices<'a> {
    type Item = (usize, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            WordIndices::Ascii(words) => words.next(),
            WordIndices::Unicode(words) => words.next(),
        }
    }
}

/// Words of an ASCII text, from byte `pos` on.
pub(crate) struct AsciiWords<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for AsciiWords<'a> {
    type Item = (usize, &'a str);

    // Inlined into the callers' loops, a word costs about ten instructions less (callgrind
    // on the score bench: some 200 per comment).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let mut i = self.pos;
        loop {
            // Outside letter-digit runs every UAX #29 segment (space runs, CR LF, any other
            // byte alone) lacks a letter or digit, so the filter drops it: skip straight on.
            while i < len && CLASS[bytes[i] as usize] & CORE == 0 {
                i += 1;
            }
            if i == len {
                self.pos = len;
                return None;
            }
            let start = i;
            i += 1;
            while i < len {
                let class = CLASS[bytes[i] as usize];
                if class & CORE != 0 {
                    i += 1;
                    continue;
                }
                // An infix needs the same kind on both sides, and only the byte before it
                // counts (the crate, like WB6/7 and WB11/12, looks no further): `a1.b` and
                // `a_.b` split at the dot. The run always starts with a core byte, so
                // `i - 1` is inside it.
                if i + 1 < len
                    && (class >> 4) & CLASS[bytes[i - 1] as usize] & CLASS[bytes[i + 1] as usize]
                        != 0
                {
                    // The byte after the infix is a letter or digit: take it too.
                    i += 2;
                    continue;
                }
                break;
            }
            // A run with no letter or digit is all underscores: infixes only join letters
            // or digits. It is a segment, but not a word.
            if bytes[start] != b'_' || bytes[start..i].iter().any(|&b| b != b'_') {
                self.pos = i;
                return Some((start, &self.text[start..i]));
            }
        }
    }
}

impl std::iter::FusedIterator for AsciiWords<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `unicode_segmentation` says, to compare with.
    fn expected(text: &str) -> Vec<(usize, &str)> {
        text.unicode_word_indices().collect()
    }

    /// The crate's table-driven UAX #29 segmenter, which its own ASCII path bypasses.
    fn by_tables(text: &str) -> Vec<(usize, &str)> {
        text.split_word_bound_indices()
            .filter(|(_, w)| w.chars().any(char::is_alphanumeric))
            .collect()
    }

    /// Asserts [`word_indices`] agrees with both of the crate's word iterators on `text`.
    fn assert_same(text: &str) {
        let ours: Vec<(usize, &str)> = word_indices(text).collect();
        assert_eq!(ours, expected(text), "word indices of {text:?}");
        let words: Vec<&str> = ours.iter().map(|&(_, w)| w).collect();
        assert_eq!(
            words,
            text.unicode_words().collect::<Vec<_>>(),
            "words of {text:?}"
        );
    }

    /// Input, the words expected, and why the case is here.
    #[rustfmt::skip]
    const CASES: &[(&str, &[&str], &str)] = &[
        ("", &[], "empty text has no words"),
        ("   \t\r\n ", &[], "whitespace alone has no words"),
        ("hello world", &["hello", "world"], "a space splits"),
        ("Hello WORLD", &["Hello", "WORLD"], "upper case is kept as is"),
        ("don't", &["don't"], "an apostrophe between letters joins (WB6/7)"),
        ("'quoted'", &["quoted"], "an apostrophe at a word's edge is not part of it"),
        ("rock'n'roll", &["rock'n'roll"], "apostrophes chain between letters"),
        ("it''s", &["it", "s"], "two infixes in a row split"),
        ("3.14", &["3.14"], "a dot between digits joins (WB11/12)"),
        ("1,000", &["1,000"], "a comma between digits joins (MidNum)"),
        ("1;2", &["1;2"], "a semicolon between digits joins (MidNum)"),
        ("1'000", &["1'000"], "an apostrophe between digits joins (MidNumLetQ)"),
        ("a,b", &["a", "b"], "a comma between letters splits (MidNum only joins digits)"),
        ("a;b", &["a", "b"], "a semicolon between letters splits"),
        ("1:2", &["1", "2"], "a colon between digits splits (MidLetter only joins letters)"),
        ("10:30pm", &["10", "30pm"], "times split at the colon"),
        ("a:b", &["a:b"], "a colon between letters joins (MidLetter)"),
        ("a.b.c", &["a.b.c"], "dots chain between letters"),
        ("e.g.", &["e.g"], "the final dot has no letter after it"),
        ("end.", &["end"], "a trailing dot is not part of the word"),
        ("1.", &["1"], "a trailing dot after a digit is not part of it"),
        (".5", &["5"], "a leading dot is not part of the number"),
        ("a..b", &["a", "b"], "two dots split"),
        ("co.uk", &["co.uk"], "a domain is one word"),
        ("127.0.0.1:80", &["127.0.0.1", "80"], "an address joins, the port splits off"),
        ("foo_bar", &["foo_bar"], "an underscore joins letters (WB13a/b)"),
        ("_x_", &["_x_"], "underscores join at both edges (WB13a/b)"),
        ("___", &[], "underscores alone are a segment but not a word"),
        ("__ a __", &["a"], "underscore-only runs are dropped around a word"),
        ("a_1", &["a_1"], "an underscore joins a letter and a digit"),
        ("a_.b", &["a_", "b"], "a dot after an underscore splits: it is not a letter"),
        ("a1.b", &["a1", "b"], "a dot after a digit, before a letter, splits"),
        ("a.1", &["a", "1"], "a dot between a letter and a digit splits"),
        ("1.a", &["1", "a"], "a dot between a digit and a letter splits"),
        ("x1.2", &["x1.2"], "only the byte before the dot counts: digit.digit joins"),
        ("2nd", &["2nd"], "digits then letters are one word (WB10)"),
        ("abc123", &["abc123"], "letters then digits are one word (WB9)"),
        ("1,2.3'4;5", &["1,2.3'4;5"], "every numeric infix chains between digits"),
        ("a-b", &["a", "b"], "a hyphen splits"),
        ("a/b", &["a", "b"], "a slash splits"),
        ("a\"b", &["a", "b"], "a double quote splits (it only joins Hebrew letters)"),
        ("a\r\nb", &["a", "b"], "CR LF splits"),
        ("#tag @user", &["tag", "user"], "symbols before a word are not part of it"),
        ("$9.99!", &["9.99"], "symbols around a number are not part of it"),
        (
            "http://x.com/a?b=c",
            &["http", "x.com", "a", "b", "c"],
            "a URL: the colon is not between letters, the dot is",
        ),
        (
            "www.example.com/watch?v=a_B-9",
            &["www.example.com", "watch", "v", "a_B", "9"],
            "a typical spam link",
        ),
        (
            "check out my channel!!! :)",
            &["check", "out", "my", "channel"],
            "a typical spam comment",
        ),
    ];

    #[test]
    fn tricky_boundaries() {
        for &(text, words, why) in CASES {
            let ours: Vec<&str> = word_indices(text).map(|(_, w)| w).collect();
            assert_eq!(ours, words, "{text:?}: {why}");
            assert_same(text);
        }
    }

    #[test]
    fn long_words_and_gaps_split_at_every_position() {
        for text in [
            "abcdefghijklmnopqrstuvwxyz0123456789_abc",
            "                 word                  ",
            "a.b.c.d.e.f.g.h.i.j.k.l 1,2,3,4,5,6,7,8,9",
            "sevench eightchr ninechars tencharsss x",
            "________ _________a a_________ ____",
            "!!!!!!!!!!!!!!!!!!!!!!!!x!!!!!!!!!!!!!!!!!!!!",
        ] {
            for cut in 0..text.len() {
                assert_same(&text[cut..]);
                assert_same(&text[..cut]);
            }
        }
    }

    #[test]
    fn offsets_point_at_the_words() {
        let text = "  Don't  stop, 3.14!";
        let words: Vec<(usize, &str)> = word_indices(text).collect();
        assert_eq!(words, [(2, "Don't"), (9, "stop"), (15, "3.14")]);
        for (start, word) in words {
            assert_eq!(&text[start..start + word.len()], word);
        }
    }

    #[test]
    fn non_ascii_text_goes_to_unicode_segmentation() {
        for text in [
            "café au lait",
            "naïve's résumé",
            "l'été 1,5 €",
            "日本語のテキスト and ascii",
            "a\u{00B7}b c\u{2019}d",
            "emoji 👍🏽 here",
            "ｆｕｌｌ width",
            "x.é y:ß 1.٣",
        ] {
            assert!(matches!(word_indices(text), WordIndices::Unicode(_)));
            assert_same(text);
        }
        // U+2019 is MidNumLet like `'`, and a non-ASCII letter joins across an ASCII infix:
        // neither is known to the ASCII path, hence the fallback for the whole text.
        assert_eq!(
            word_indices("don’t dont't é.b")
                .map(|(_, w)| w)
                .collect::<Vec<_>>(),
            ["don’t", "dont't", "é.b"]
        );
    }

    #[test]
    fn every_corpus_comment_splits_as_unicode_segmentation_does() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corpus");
        let mut files = 0;
        let mut comments = 0;
        for entry in std::fs::read_dir(&dir).expect("fixtures/corpus is readable") {
            let path = entry.expect("directory entry").path();
            if path.extension().is_none_or(|e| e != "jsonl") {
                continue;
            }
            files += 1;
            for row in crate::corpus::load_jsonl(&path).expect("corpus file parses") {
                comments += 1;
                let folded = super::super::normalize_content(&row.text).folded;
                for text in [row.text.clone(), row.text.to_lowercase(), folded] {
                    assert_same(&text);
                }
                if let Some(author) = &row.author {
                    assert_same(author);
                    assert_same(&super::super::fold(&super::super::canonicalize(author)));
                }
            }
        }
        assert!(
            files >= 2 && comments > 7000,
            "{files} files, {comments} comments"
        );
    }

    #[test]
    fn every_short_text_of_every_class_splits_as_unicode_segmentation_does() {
        // Each boundary depends on at most two bytes either side of it, so all texts of five
        // bytes, drawn from one byte per UAX #29 class that ASCII has, cover every context.
        const ALPHABET: &[u8] = b"aZ7_.':,; \r\n-";
        let mut text = Vec::new();
        for len in 0..=5u32 {
            for mut n in 0..ALPHABET.len().pow(len) {
                text.clear();
                for _ in 0..len {
                    text.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                let text = std::str::from_utf8(&text).expect("ASCII");
                let ours: Vec<(usize, &str)> = word_indices(text).collect();
                assert_eq!(ours, expected(text), "{text:?}");
                assert_eq!(ours, by_tables(text), "{text:?}");
                // Three times over, each context is also met mid-text.
                let thrice = text.repeat(3);
                let ours: Vec<(usize, &str)> = word_indices(&thrice).collect();
                assert_eq!(ours, expected(&thrice), "{thrice:?}");
            }
        }
    }

    /// Letters, digits and every byte UAX #29 treats specially in ASCII, the separators
    /// weighted up so that runs like `a.'b` and `1,;2` come up often.
    fn ascii_text() -> impl Strategy<Value = String> {
        const ALPHABET: &[char] = &[
            'a', 'b', 'Z', '0', '9', '_', '_', '.', '.', '.', ',', ',', ';', ':', ':', '\'', '\'',
            '"', ' ', ' ', '\r', '\n', '\t', '\u{b}', '\u{c}', '-', '/', '@', '\0', '\u{7f}',
        ];
        proptest::collection::vec(proptest::sample::select(ALPHABET), 0..80)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn ascii_text_splits_as_unicode_segmentation_does(text in ascii_text()) {
            let ours: Vec<(usize, &str)> = word_indices(&text).collect();
            prop_assert_eq!(&ours, &expected(&text));
            prop_assert_eq!(ours, by_tables(&text));
        }

        #[test]
        fn any_ascii_text_splits_as_unicode_segmentation_does(
            text in proptest::collection::vec(0u8..=127, 0..64)
                .prop_map(|b| b.into_iter().map(char::from).collect::<String>())
        ) {
            let ours: Vec<(usize, &str)> = word_indices(&text).collect();
            prop_assert_eq!(ours, expected(&text));
        }

        #[test]
        fn mixed_text_splits_as_unicode_segmentation_does(
            text in proptest::collection::vec(
                proptest::sample::select(&['a', '1', '.', '\'', ' ', '_', 'é', '’', '٣', '·'][..]),
                0..32,
            ).prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            let ours: Vec<(usize, &str)> = word_indices(&text).collect();
            prop_assert_eq!(ours, expected(&text));
        }
    }
}

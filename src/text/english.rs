//! Ordinary English words, to tell an author name made of them from a person's name.
//!
//! Blog spam signs with its keyword: "Technology", "Pets", "fashion blog", "how to start a
//! business", the anchor text of the author's link. Readers sign with a given name, a full
//! name or a handle ("Ann", "Matt Twine", "lcallot"). A dictionary tells the two apart
//! without any site's comments: every word of a keyword is one the dictionary writes in
//! lower case, while a person's name starts with one it writes capitalised ("Matt", "Will")
//! or holds one it lacks ("Rummel", "picajoso"). The list is SCOWL's, compiled in
//! (`models/english-words.txt`, written by `scripts/english-words.py`).

use std::sync::OnceLock;

use super::words::word_indices;

/// The word list: one word a line, `*` after a word that is a name too, `#` comment lines.
const LIST: &str = include_str!("../../models/english-words.txt");

/// Placeholders a reader signs with when they give no name: ordinary words, yet no keyword
/// when they are all the name is.
const PLACEHOLDERS: [&str; 9] = [
    "anonymous",
    "anon",
    "guest",
    "reader",
    "visitor",
    "unknown",
    "someone",
    "nobody",
    "user",
];

/// Kin and site roles: ordinary words that make a name a person's wherever they stand
/// ("Grandma Bee", "Proud Mom", "Teacher Tom", "admin").
const PERSONAL: [&str; 26] = [
    "mom",
    "mum",
    "mommy",
    "mummy",
    "mama",
    "mother",
    "dad",
    "daddy",
    "papa",
    "father",
    "grandma",
    "grandpa",
    "granny",
    "grandmother",
    "grandfather",
    "aunt",
    "uncle",
    "sister",
    "brother",
    "wife",
    "husband",
    "teacher",
    "admin",
    "administrator",
    "moderator",
    "author",
];

/// The list's words in byte order, each with whether it is a name too.
pub(super) struct EnglishWords {
    words: Vec<(&'static str, bool)>,
}

impl EnglishWords {
    /// Reads the list as the script writes it, sorted (a unit test holds it to that).
    fn parse(list: &'static str) -> Self {
        let words = list
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.strip_suffix('*') {
                Some(word) => (word, true),
                None => (l, false),
            })
            .collect();
        EnglishWords { words }
    }

    /// `Some(is_name)` for a word of the list, `None` for any other.
    fn look_up(&self, word: &str) -> Option<bool> {
        self.words
            .binary_search_by(|(w, _)| (*w).cmp(word))
            .ok()
            .map(|i| self.words[i].1)
    }
}

/// The list, parsed on first use (about 64,000 words, 1.5 MB).
pub(super) fn words() -> &'static EnglishWords {
    static WORDS: OnceLock<EnglishWords> = OnceLock::new();
    WORDS.get_or_init(|| EnglishWords::parse(LIST))
}

/// Whether a folded author name (`text::fold` of the canonical name) is made of ordinary
/// English words, a keyword rather than a person's name or handle: every word is in the
/// list, none is a single letter but "a" (an initial), the first is not also a name
/// ("Mike Music", "Will Travel" are people), none is a kin or role word ("Grandma Bee"),
/// and the name is not only a placeholder ("Guest").
pub(super) fn is_common_word_phrase(folded: &str) -> bool {
    let words = words();
    let mut count = 0;
    let mut placeholders = 0;
    for (_, word) in word_indices(folded) {
        // A lone letter is an initial ("Lucky D."), but for the article.
        if word.chars().nth(1).is_none() && word != "a" {
            return false;
        }
        match words.look_up(word) {
            None => return false,
            Some(true) if count == 0 => return false,
            Some(_) if PERSONAL.contains(&word) => return false,
            Some(_) => {}
        }
        count += 1;
        placeholders += PLACEHOLDERS.contains(&word) as usize;
    }
    count > 0 && placeholders < count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_word_names() {
        // (name, folded author name, want, why)
        let cases = [
            (
                "category",
                "technology",
                true,
                "a directory category, blog spam's commonest name",
            ),
            (
                "plural_category",
                "pets",
                true,
                "inflected forms are in the list",
            ),
            ("keyword_phrase", "fashion blog", true, "a two-word keyword"),
            (
                "how_to",
                "how to start a business",
                true,
                "function words are ordinary words too",
            ),
            (
                "separator",
                "pets/animal",
                true,
                "punctuation between the words is not a word",
            ),
            (
                "shop_phrase",
                "cheap flights",
                true,
                "a shop phrase is ordinary words",
            ),
            (
                "given_name",
                "ann",
                false,
                "written capitalised only: a name",
            ),
            (
                "given_name_and_word",
                "matt twine",
                false,
                "a first word that is a name too",
            ),
            (
                "ambiguous_single",
                "will",
                false,
                "a word that is a name too, alone",
            ),
            (
                "full_name",
                "justin rummel",
                false,
                "a surname the list lacks",
            ),
            ("handle", "lcallot", false, "a handle is no word"),
            ("handle_with_digits", "mudz69", false, "digits make no word"),
            (
                "initial",
                "lucky d.",
                false,
                "an initial marks a person's name",
            ),
            (
                "placeholder",
                "guest",
                false,
                "a reader without a name, not a keyword",
            ),
            (
                "two_placeholders",
                "anonymous reader",
                false,
                "placeholders only",
            ),
            (
                "accented_name",
                "suzé gilbert",
                false,
                "a name in another language",
            ),
            (
                "domain",
                "emeryeps.com",
                false,
                "a web address is its own shape",
            ),
            ("empty", "", false, "no name"),
        ];
        for (name, folded, want, why) in cases {
            assert_eq!(is_common_word_phrase(folded), want, "case {name} ({why})");
        }
    }

    #[test]
    fn list_is_sorted_and_marks_names() {
        let words = words();
        assert!(words.words.len() > 60_000, "the whole list is compiled in");
        assert!(
            words.words.windows(2).all(|w| w[0].0 < w[1].0),
            "models/english-words.txt is sorted, as binary search needs"
        );
        assert_eq!(words.look_up("will"), Some(true));
        assert_eq!(words.look_up("technology"), Some(false));
        assert_eq!(words.look_up("rummel"), None);
    }
}

//! Whether a comment is written in a language other than English, the one language of the
//! training corpus. Pure.
//!
//! A naive Bayes model knows a language through the comments it learned from. The shipped
//! corpus is English; the few other-language comments in it are nearly all spam, so a
//! reader's "Obrigado" or "Merci" weighs towards spam on a handful of examples, and a
//! Chinese sentence around an English error message is judged by the English words and by
//! hash collisions. The moderation policy holds such a comment rather than call it spam
//! (`moderation::Context::foreign_language`); this module tells which comments those are.
//!
//! Telling a language apart is `whatlang`'s trigram and script detection. It costs tens of
//! microseconds, several times a whole score, so it only runs where the answer can change a
//! verdict (the scorer asks for it only when the classifier leans to spam and the body
//! points nowhere), and after a pass over the words that rules out most English: a body
//! that uses an English function word in mostly Latin letters is English enough for this.

use whatlang::{Detector, Lang};

use super::NormalizedText;

/// The languages told apart: English and the languages blog readers commonly write in. A
/// short English slang comment ("u r gr8") looks like some rarely written language to a
/// detector given all 69, and is far more likely English.
const LANGUAGES: [Lang; 42] = [
    Lang::Eng,
    Lang::Cmn,
    Lang::Jpn,
    Lang::Kor,
    Lang::Rus,
    Lang::Ukr,
    Lang::Spa,
    Lang::Por,
    Lang::Fra,
    Lang::Deu,
    Lang::Ita,
    Lang::Nld,
    Lang::Pol,
    Lang::Tur,
    Lang::Ind,
    Lang::Vie,
    Lang::Ara,
    Lang::Heb,
    Lang::Hin,
    Lang::Tha,
    Lang::Ell,
    Lang::Ces,
    Lang::Swe,
    Lang::Dan,
    Lang::Nob,
    Lang::Fin,
    Lang::Ron,
    Lang::Hun,
    Lang::Pes,
    Lang::Ben,
    Lang::Bul,
    Lang::Cat,
    Lang::Hrv,
    Lang::Srp,
    Lang::Slk,
    Lang::Slv,
    Lang::Lit,
    Lang::Lav,
    Lang::Est,
    Lang::Urd,
    Lang::Tam,
    Lang::Tgl,
];

/// Below this confidence the detector's guess is not taken. Short English slang reaches
/// about 0.55 for some other language; a reader's five words of Portuguese about 0.6.
const MIN_CONFIDENCE: f64 = 0.6;

/// The detector reads at most this many bytes of a body: the opening is enough to tell a
/// language, and the cost grows with the length.
const SAMPLE_BYTES: usize = 400;

/// Tells whether a comment is in a language other than English.
#[derive(Debug, Clone)]
pub struct LanguageCheck {
    detector: Detector,
}

impl Default for LanguageCheck {
    fn default() -> Self {
        LanguageCheck {
            detector: Detector::with_allowlist(LANGUAGES.to_vec()),
        }
    }
}

impl LanguageCheck {
    /// Whether `text` is written, with confidence, in a language other than English.
    pub fn is_foreign(&self, text: &NormalizedText) -> bool {
        if !might_be_foreign(text) {
            return false;
        }
        let mut end = text.clean.len().min(SAMPLE_BYTES);
        while !text.clean.is_char_boundary(end) {
            end -= 1;
        }
        self.detector
            .detect(&text.clean[..end])
            .is_some_and(|info| info.lang() != Lang::Eng && info.confidence() >= MIN_CONFIDENCE)
    }
}

/// The cheap test first: a body in mostly Latin letters that uses an English function word
/// is English enough, whatever else it holds.
fn might_be_foreign(text: &NormalizedText) -> bool {
    let (mut latin, mut other) = (0usize, 0usize);
    for c in text.clean.chars().filter(|c| c.is_alphabetic()) {
        // Basic Latin through Latin Extended-B: English and the Latin-script languages.
        if c <= '\u{024F}' {
            latin += 1;
        } else {
            other += 1;
        }
    }
    other > latin || !super::words::word_indices(&text.folded).any(|(_, w)| is_english_function_word(w))
}

/// Words English cannot do without and other languages do not write: "in", "on", "a",
/// "so", "was", "to" and "die" are words of German, French, Spanish or Polish too.
fn is_english_function_word(word: &str) -> bool {
    matches!(
        word,
        "the"
            | "and"
            | "you"
            | "your"
            | "this"
            | "that"
            | "these"
            | "those"
            | "is"
            | "are"
            | "it"
            | "its"
            | "it's"
            | "of"
            | "for"
            | "with"
            | "have"
            | "has"
            | "had"
            | "not"
            | "but"
            | "what"
            | "my"
            | "we"
            | "our"
            | "they"
            | "their"
            | "just"
            | "can"
            | "from"
            | "if"
            | "at"
            | "be"
            | "been"
            | "would"
            | "could"
            | "should"
            | "i'm"
            | "don't"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize_content;

    #[test]
    fn foreign_or_english() {
        // (name, body, written in a language other than English, why)
        #[rustfmt::skip]
        let cases = [
            ("portuguese_thanks", "Obrigado! Funcionou perfeitamente no meu Ubuntu 22.04.", true, "five words of Portuguese"),
            ("french_note", "Merci pour ce tutoriel, très clair. Une petite coquille dans le deuxième exemple.", true, "French"),
            ("german_thanks", "Danke für den Artikel! Bei mir hat es erst nach einem Neustart funktioniert.", true, "German"),
            ("spanish_question", "Muy buen artículo, me ayudó mucho. ¿Tienes el código en GitHub?", true, "Spanish with a product name"),
            ("chinese_around_english", "博主你好，第三步的命令在我的机器上报错：permission denied，是不是需要 sudo？", true, "Chinese around an English error message: the Chinese is the language"),
            ("russian", "Спасибо, очень полезно. А как быть, если версия Python старше 3.8?", true, "Cyrillic script"),
            ("japanese", "とても分かりやすい記事でした。ありがとうございます。", true, "Japanese script"),
            ("english_thanks", "Thanks, this helped our team a lot.", false, "an English function word ends it before the detector"),
            ("english_without_function_words", "Nice post, thanks!", false, "too little for the detector to be sure of another language"),
            ("sms_slang", "Thanx u darlin!im cool thanx. A few bday drinks 2 nite.", false, "English slang that no allowed language explains with confidence"),
            ("english_spam", "Pretty section of content. I just stumbled upon your blog.", false, "English"),
            ("empty", "", false, "nothing to tell"),
        ];
        let check = LanguageCheck::default();
        for (name, body, want, why) in cases {
            let text = normalize_content(body);
            assert_eq!(check.is_foreign(&text), want, "case {name} ({why})");
        }
    }
}

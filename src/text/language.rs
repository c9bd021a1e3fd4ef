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

/// Below [`MIN_CONFIDENCE`], the detector's guess is still taken when, asked to choose
/// between it and English alone, it is this sure. A borrowed word ("Café recommendations:
/// try Blue Bottle") reaches 0.75 against English; a reader's Portuguese 1.0.
const MIN_LEAD_OVER_ENGLISH: f64 = 0.95;

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
        self.is_foreign_and(text, || true)
    }

    /// [`LanguageCheck::is_foreign`] and `also`, where `also` costs less than the detector
    /// and more than the cheap test before it: it is asked between the two.
    pub fn is_foreign_and(&self, text: &NormalizedText, also: impl FnOnce() -> bool) -> bool {
        if !might_be_foreign(text) || !also() {
            return false;
        }
        let mut end = text.clean.len().min(SAMPLE_BYTES);
        while !text.clean.is_char_boundary(end) {
            end -= 1;
        }
        let sample = &text.clean[..end];
        let Some(info) = self.detector.detect(sample) else {
            return false;
        };
        if info.lang() == Lang::Eng {
            return false;
        }
        // Confidence is the lead over the runner-up, and a sister language is close:
        // "Obrigado pelo post! Funcionou perfeitamente aqui." is Portuguese by 0.39 over
        // Spanish, and English far behind both. What matters here is the lead over English,
        // asked of a detector told only the two (made here: this path is rare, and the
        // detection costs far more than the allowlist).
        info.confidence() >= MIN_CONFIDENCE
            || Detector::with_allowlist(vec![Lang::Eng, info.lang()])
                .detect(sample)
                .is_some_and(|pair| {
                    pair.lang() != Lang::Eng && pair.confidence() >= MIN_LEAD_OVER_ENGLISH
                })
    }
}

/// The cheap test first: the detector is asked only about a body of at least
/// [`MIN_WORDS`] words in mostly another script, or in Latin letters with no English
/// function word and some sign of another language (a letter beyond ASCII, a common word
/// of another language). Most short English comments without a function word ("Subscribe
/// to me plz", "2 billion views") stop here.
fn might_be_foreign(text: &NormalizedText) -> bool {
    // Most comments are ASCII, which says as much as counting would.
    let (latin, other, beyond_ascii) = if text.clean.is_ascii() {
        (0, 0, false)
    } else {
        letters_by_script(text.clean.as_bytes())
    };
    let mut words = super::words::word_indices(&text.folded);
    if other > latin {
        return words.nth(MIN_WORDS - 1).is_some();
    }
    let (mut count, mut sign) = (0usize, beyond_ascii);
    for (_, w) in words {
        count += 1;
        // English text shows a function word within its first few words.
        if is_english_function_word(w) {
            return false;
        }
        sign = sign || is_other_language_word(w);
    }
    count >= MIN_WORDS && sign
}

/// Letters in Latin script, letters of other scripts, and whether a Latin letter is beyond
/// ASCII, read off the UTF-8 lead bytes alone (a byte loop; decoding every character cost as
/// much as the rest of the test): ASCII letters and the leads of U+00C0-U+024F are Latin;
/// the leads of U+0340-U+07FF (Greek, Cyrillic, Hebrew, Arabic), U+0800-U+1FFF (the Indic
/// scripts, Thai, Georgian, Hangul Jamo) and U+3000-U+DFFF (kana, CJK, Hangul) are others.
/// Punctuation, symbols and emoji (U+2000-U+2FFF, U+E000 on, four-byte characters) are
/// neither, nor are the combining marks NFKC has not composed.
fn letters_by_script(bytes: &[u8]) -> (usize, usize, bool) {
    let (mut latin, mut other, mut extended) = (0usize, 0usize, 0usize);
    for &b in bytes {
        latin += b.is_ascii_alphabetic() as usize;
        extended += (0xC3..=0xC9).contains(&b) as usize;
        other += matches!(b, 0xCD..=0xDF | 0xE0 | 0xE1 | 0xE3..=0xED) as usize;
    }
    (latin + extended, other, extended > 0)
}

/// Fewer words than this say too little for a detector, and the policy's few-words hold
/// covers them.
const MIN_WORDS: usize = 3;

/// Common words of the languages blog readers write in besides English, without accents
/// (a letter beyond ASCII is a sign of its own). Only a reason to ask the detector, so a
/// word English shares now and then ("de", "la") costs a detection, not a verdict.
fn is_other_language_word(word: &str) -> bool {
    matches!(
        word,
        // Spanish, Portuguese
        "que" | "los" | "las" | "del" | "por" | "para" | "una" | "pero" | "muy" | "gracias"
            | "hola" | "esta" | "este" | "como" | "con" | "el" | "la" | "de" | "en" | "lo"
            | "es" | "uma" | "muito" | "obrigado" | "obrigada" | "meu" | "minha" | "isso"
            | "com" | "pra" | "mais" | "os" | "da" | "do"
            // French
            | "les" | "des" | "est" | "une" | "pour" | "pas" | "dans" | "avec" | "sur"
            | "merci" | "vous" | "nous" | "cette" | "je" | "qui" | "ce" | "du"
            | "au" | "et" | "le"
            // German, Dutch
            | "und" | "der" | "das" | "ist" | "nicht" | "ich" | "mit" | "auch" | "danke"
            | "sehr" | "eine" | "einen" | "einem" | "bei" | "mir" | "sich" | "auf" | "wie"
            | "aber" | "noch" | "nach" | "dem" | "habe" | "het" | "een" | "niet" | "ik"
            | "bedankt" | "voor" | "ook" | "maar" | "zijn" | "wel"
            // Italian
            | "che" | "non" | "sono" | "della" | "grazie" | "molto" | "questo" | "questa"
            | "anche" | "il" | "di"
            // Indonesian, Malay, Tagalog
            | "yang" | "dan" | "ini" | "itu" | "tidak" | "dengan" | "saya" | "untuk"
            | "terima" | "kasih" | "bisa" | "sangat" | "ada" | "ang" | "ng" | "mga" | "sa"
            | "ako" | "salamat"
            // Turkish, Polish, Scandinavian
            | "bir" | "ve" | "bu" | "ama" | "nie" | "jest" | "bardzo" | "jak" | "och" | "att"
            | "det" | "jeg" | "og" | "ikke" | "tack" | "takk"
    )
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
    fn letters_by_script_agrees_with_decoding() {
        // (name, text, why)
        #[rustfmt::skip]
        let cases = [
            ("ascii", "Nice post, thanks!", "ASCII letters only"),
            ("accents", "Très clair, ça marche. Grüße!", "Latin letters beyond ASCII"),
            ("cyrillic", "Спасибо, очень полезно", "another script"),
            ("chinese_with_english", "报错：permission denied，是不是", "two scripts"),
            ("japanese", "とても分かりやすい記事", "kana and kanji"),
            ("punctuation_and_emoji", "don’t “quote” … 👍🏠 ©", "neither letters nor another script"),
        ];
        for (name, text, why) in cases {
            let (mut latin, mut other) = (0, 0);
            for c in text.chars().filter(|c| c.is_alphabetic()) {
                if c <= '\u{024F}' {
                    latin += 1;
                } else {
                    other += 1;
                }
            }
            let beyond = text
                .chars()
                .any(|c| c.is_alphabetic() && !c.is_ascii() && c <= '\u{024F}');
            assert_eq!(
                letters_by_script(text.as_bytes()),
                (latin, other, beyond),
                "case {name} ({why})"
            );
        }
    }

    #[test]
    fn foreign_or_english() {
        // (name, body, written in a language other than English, why)
        #[rustfmt::skip]
        let cases = [
            ("portuguese_thanks", "Obrigado! Funcionou perfeitamente no meu Ubuntu 22.04.", true, "five words of Portuguese"),
            ("portuguese_close_to_spanish", "Obrigado pelo post! Funcionou perfeitamente aqui.", true, "Portuguese only 0.39 ahead of Spanish, far ahead of English"),
            ("portuguese_without_accents", "Funcionou perfeitamente aqui, obrigado pela dica.", true, "0.18 ahead of the runner-up, all of it ahead of English"),
            ("italian_short", "Grazie mille, molto utile.", false, "too few words for the detector to be sure against English: the few-words hold covers them"),
            ("french_note", "Merci pour ce tutoriel, très clair. Une petite coquille dans le deuxième exemple.", true, "French"),
            ("german_thanks", "Danke für den Artikel! Bei mir hat es erst nach einem Neustart funktioniert.", true, "German"),
            ("spanish_question", "Muy buen artículo, me ayudó mucho. ¿Tienes el código en GitHub?", true, "Spanish with a product name"),
            ("chinese_around_english", "博主你好，第三步的命令在我的机器上报错：permission denied，是不是需要 sudo？", true, "Chinese around an English error message: the Chinese is the language"),
            ("russian", "Спасибо, очень полезно. А как быть, если версия Python старше 3.8?", true, "Cyrillic script"),
            ("japanese", "とても分かりやすい記事でした。ありがとうございます。", true, "Japanese script"),
            ("english_thanks", "Thanks, this helped our team a lot.", false, "an English function word ends it before the detector"),
            ("english_without_function_words", "Nice post, thanks! Great stuff.", false, "no sign of another language: the detector is not asked"),
            ("youtube_plea", "Subscribe to me plz plz plz", false, "English without a function word, and no sign of another language"),
            ("sms_slang", "Thanx u darlin!im cool thanx. A few bday drinks 2 nite.", false, "slang, but nothing beyond ASCII and no other language's word"),
            ("english_with_an_accent", "Café recommendations: try Blue Bottle, amazing espresso!", false, "a borrowed accent: the detector is asked and finds English"),
            ("two_foreign_words", "Danke schön!", false, "too few words to tell; the few-words hold covers them"),
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

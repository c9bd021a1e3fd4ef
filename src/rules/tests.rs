//! Tests of the rule file, the built-in checks and evaluation, mostly as tables of cases
//! with a name and a one-line reason.

use time::{Duration, OffsetDateTime};

use super::*;
use crate::text::normalize_content;

const SHIPPED: &str = include_str!("../../models/rules.toml");

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("valid timestamp")
}

fn rules(src: &str) -> RuleSet {
    match RuleSet::from_toml(src) {
        Ok(r) => r,
        Err(e) => panic!("rules should load: {e}\n{src}"),
    }
}

fn run(set: &RuleSet, comment: &Comment) -> Vec<RuleHit> {
    let text = normalize_content(&comment.content);
    set.evaluate(&RuleInput {
        comment,
        text: &text,
        now: now(),
    })
}

fn body(content: &str) -> Comment {
    Comment {
        content: content.to_string(),
        ..Default::default()
    }
}

/// A one-rule file with a built-in check, `extra` holding its parameters.
fn check_rule(check: &str, extra: &str) -> RuleSet {
    rules(&format!(
        "[[rule]]\nid = \"t.check\"\ncheck = \"{check}\"\n{extra}\naction = \"hold\"\nreason = \"r\"\n"
    ))
}

struct CheckCase {
    name: &'static str,
    why: &'static str,
    check: &'static str,
    params: &'static str,
    comment: Comment,
    /// `Some(detail)` when the rule must fire with reason "r (detail)".
    expect: Option<&'static str>,
}

fn rendered(secs_ago: f64) -> Option<OffsetDateTime> {
    Some(now() - Duration::seconds_f64(secs_ago))
}

fn check_cases() -> Vec<CheckCase> {
    let c = |content: &str| body(content);
    vec![
        CheckCase {
            name: "links_two",
            why: "two links reach the default minimum of 2",
            check: "link_count",
            params: "",
            comment: c("see https://a.example/x and <a href=\"https://b.example\">b</a>"),
            expect: Some("2 links"),
        },
        CheckCase {
            name: "links_one",
            why: "a single link is normal in a reply",
            check: "link_count",
            params: "",
            comment: c("see https://a.example/x for details"),
            expect: None,
        },
        CheckCase {
            name: "links_min_param",
            why: "`min` raises the threshold",
            check: "link_count",
            params: "min = 3",
            comment: c("https://a.example https://b.example"),
            expect: None,
        },
        CheckCase {
            name: "links_same_url_once",
            why: "an href repeated as its own text is one link",
            check: "link_count",
            params: "",
            comment: c("<a href=\"https://a.example\">https://a.example</a>"),
            expect: None,
        },
        CheckCase {
            name: "bbcode_link",
            why: "a [url=] link is BBCode",
            check: "bbcode_links",
            params: "",
            comment: c("Nice! [url=https://w.example]watches[/url]"),
            expect: Some("1 BBCode link"),
        },
        CheckCase {
            name: "bbcode_bare_tag",
            why: "a [URL] tag without a parsable link still counts",
            check: "bbcode_links",
            params: "",
            comment: c("Nice! [URL]not a link[/URL]"),
            expect: Some("[url] tag"),
        },
        CheckCase {
            name: "bbcode_none",
            why: "HTML and bare links are not BBCode; brackets alone are not a tag",
            check: "bbcode_links",
            params: "",
            comment: c("see [1] and https://a.example and <a href=\"https://b.example\">b</a>"),
            expect: None,
        },
        CheckCase {
            name: "honeypot_filled",
            why: "bots fill every field",
            check: "honeypot",
            params: "",
            comment: Comment {
                honeypot: Some("https://x.example".into()),
                ..c("hello")
            },
            expect: Some("17 characters"),
        },
        CheckCase {
            name: "honeypot_blank",
            why: "whitespace is trimmed; some platforms send a space",
            check: "honeypot",
            params: "",
            comment: Comment {
                honeypot: Some("  \n".into()),
                ..c("hello")
            },
            expect: None,
        },
        CheckCase {
            name: "honeypot_absent",
            why: "platforms without a honeypot send nothing",
            check: "honeypot",
            params: "",
            comment: c("hello"),
            expect: None,
        },
        CheckCase {
            name: "too_fast_one_second",
            why: "nobody reads and types in one second",
            check: "too_fast",
            params: "",
            comment: Comment {
                form_rendered_at: rendered(1.0),
                ..c("Great post!")
            },
            expect: Some("sent 1.0 s after the form was shown"),
        },
        CheckCase {
            name: "too_fast_ninety_seconds",
            why: "ninety seconds is a normal time to write a comment",
            check: "too_fast",
            params: "",
            comment: Comment {
                form_rendered_at: rendered(90.0),
                ..c("Great post!")
            },
            expect: None,
        },
        CheckCase {
            name: "too_fast_boundary",
            why: "exactly `seconds` is not faster than `seconds`",
            check: "too_fast",
            params: "seconds = 3",
            comment: Comment {
                form_rendered_at: rendered(3.0),
                ..c("Great post!")
            },
            expect: None,
        },
        CheckCase {
            name: "too_fast_overnight",
            why: "a tab left open for hours is normal",
            check: "too_fast",
            params: "",
            comment: Comment {
                form_rendered_at: rendered(50_400.0),
                ..c("Sorry for the late reply")
            },
            expect: None,
        },
        CheckCase {
            name: "too_fast_future",
            why: "a form time in the future is forged or a broken clock",
            check: "too_fast",
            params: "",
            comment: Comment {
                form_rendered_at: rendered(-600.0),
                ..c("Great post!")
            },
            expect: Some("form time 600.0 s in the future"),
        },
        CheckCase {
            name: "too_fast_no_time",
            why: "platforms that do not send a form time are not penalised",
            check: "too_fast",
            params: "",
            comment: c("Great post!"),
            expect: None,
        },
        CheckCase {
            name: "too_fast_fractional",
            why: "fractional seconds are allowed",
            check: "too_fast",
            params: "seconds = 0.5",
            comment: Comment {
                form_rendered_at: rendered(1.0),
                ..c("Great post!")
            },
            expect: None,
        },
        CheckCase {
            name: "shouting_rant",
            why: "a long all-caps rant shouts",
            check: "shouting",
            params: "",
            comment: c("WHY DOES EVERY RECIPE SITE MAKE ME SCROLL THROUGH A LIFE STORY"),
            expect: Some("100% capitals"),
        },
        CheckCase {
            name: "shouting_short",
            why: "\"OK LOL\" has too few letters to count",
            check: "shouting",
            params: "",
            comment: c("OK LOL"),
            expect: None,
        },
        CheckCase {
            name: "shouting_acronyms",
            why: "a few acronyms in normal text are not shouting",
            check: "shouting",
            params: "",
            comment: c("The NASA and ESA teams used HTTP and JSON for the API, which is normal."),
            expect: None,
        },
        CheckCase {
            name: "shouting_japanese",
            why: "kana and kanji count as letters, so Latin acronyms are diluted",
            check: "shouting",
            params: "",
            comment: c("とても分かりやすい記事でした。API と JSON と HTTP の説明が良かったです。"),
            expect: None,
        },
        CheckCase {
            name: "shouting_ratio_param",
            why: "`ratio` lowers the bar",
            check: "shouting",
            params: "ratio = 0.5\nmin_letters = 4",
            comment: c("GREAT post"),
            expect: Some("56% capitals"),
        },
        CheckCase {
            name: "flood_exclamation",
            why: "a long run of one punctuation mark is a flood",
            check: "char_flood",
            params: "",
            comment: c(&format!("Best banana bread ever{}", "!".repeat(12))),
            expect: Some("a character repeated 12 times"),
        },
        CheckCase {
            name: "flood_letters",
            why: "stretched letters are a flood",
            check: "char_flood",
            params: "",
            comment: c(&format!("l{}l", "o".repeat(12))),
            expect: Some("a character repeated 12 times"),
        },
        CheckCase {
            name: "flood_spaces_ignored",
            why: "runs of spaces are layout, not a flood",
            check: "char_flood",
            params: "",
            comment: c("a                      b"),
            expect: None,
        },
        CheckCase {
            name: "flood_nine",
            why: "nine in a row stays below the default run of 10",
            check: "char_flood",
            params: "",
            comment: c(&format!("wait for it{}done", ".".repeat(9))),
            expect: None,
        },
        CheckCase {
            name: "flood_emoji",
            why: "a few emoji are friendly, not a flood",
            check: "char_flood",
            params: "",
            comment: c("Made these 🎂🎉 and they were gone 😄😄😄"),
            expect: None,
        },
        CheckCase {
            name: "author_url",
            why: "a full URL is never a person's name",
            check: "author_is_url",
            params: "",
            comment: Comment {
                author: Some("http://best-seo.example.net".into()),
                ..c("hi")
            },
            expect: Some("URL of best-seo.example.net"),
        },
        CheckCase {
            name: "author_www",
            why: "www. without a scheme is still a URL",
            check: "author_is_url",
            params: "",
            comment: Comment {
                author: Some("WWW.Cheap-Pills.example".into()),
                ..c("hi")
            },
            expect: Some("URL of cheap-pills.example"),
        },
        CheckCase {
            name: "author_domain",
            why: "a bare domain as the name is an SEO trick",
            check: "author_is_url",
            params: "",
            comment: Comment {
                author: Some("cheap-loans.com".into()),
                ..c("hi")
            },
            expect: Some("domain cheap-loans.com"),
        },
        CheckCase {
            name: "author_fullwidth_domain",
            why: "the name is NFKC-normalised first",
            check: "author_is_url",
            params: "",
            comment: Comment {
                author: Some("ｃｈｅａｐ.ｃｏｍ".into()),
                ..c("hi")
            },
            expect: Some("domain cheap.com"),
        },
        CheckCase {
            name: "author_initial",
            why: "an initial with a dot is a name",
            check: "author_is_url",
            params: "",
            comment: Comment {
                author: Some("Priya N.".into()),
                ..c("hi")
            },
            expect: None,
        },
        CheckCase {
            name: "author_word_tld",
            why: "TLDs that are English words are ignored",
            check: "author_is_url",
            params: "",
            comment: Comment {
                author: Some("just.me".into()),
                ..c("hi")
            },
            expect: None,
        },
        CheckCase {
            name: "author_dotted_name",
            why: "dotted handles and initials are common",
            check: "author_is_url",
            params: "",
            comment: Comment {
                author: Some("J.R.R. Tolkien fan, john.smith".into()),
                ..c("hi")
            },
            expect: None,
        },
        CheckCase {
            name: "author_absent",
            why: "anonymous comments have no author",
            check: "author_is_url",
            params: "",
            comment: c("hi"),
            expect: None,
        },
    ]
}

#[test]
fn builtin_checks_fire_and_do_not_fire() {
    for case in check_cases() {
        let set = check_rule(case.check, case.params);
        let hits = run(&set, &case.comment);
        let want: Vec<RuleHit> = case
            .expect
            .map(|detail| RuleHit {
                id: "t.check".into(),
                reason: format!("r ({detail})"),
                effect: RuleEffect::Hold,
            })
            .into_iter()
            .collect();
        assert_eq!(hits, want, "{}: {}", case.name, case.why);
    }
}

/// A rule file that must be refused, the id the error must name, and the kind of error.
struct Reject {
    name: &'static str,
    why: &'static str,
    toml: &'static str,
    rule_id: &'static str,
    kind: fn(&RuleError) -> bool,
}

fn is_invalid(e: &RuleError) -> bool {
    matches!(e, RuleError::Invalid { .. })
}
fn is_too_big(e: &RuleError) -> bool {
    matches!(e, RuleError::RegexTooBig { .. })
}
fn is_empty_match(e: &RuleError) -> bool {
    matches!(e, RuleError::MatchesEmpty { .. })
}

const OK_RULE: &str = "[[rule]]\nid = \"ok.first\"\nfields = [\"content\"]\nkeywords = [\"a\"]\naction = \"hold\"\nreason = \"r\"\n";

const REJECTS: &[Reject] = &[
    Reject {
        name: "bad_regex",
        why: "an unclosed group does not compile",
        toml: "[[rule]]\nid = \"x.bad\"\nfields = [\"content\"]\nregex = \"(abc\"\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.bad",
        kind: is_invalid,
    },
    Reject {
        name: "regex_matches_empty",
        why: "a regex matching \"\" fires on every comment",
        toml: "[[rule]]\nid = \"x.empty\"\nfields = [\"content\"]\nregex = \"a*\"\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.empty",
        kind: is_empty_match,
    },
    Reject {
        name: "regex_empty_at_boundary",
        why: "a bare \\b matches nothing but fires next to any word",
        toml: "[[rule]]\nid = \"x.wb\"\nfields = [\"content\"]\nregex = '\\b'\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.wb",
        kind: is_empty_match,
    },
    Reject {
        name: "regex_too_big",
        why: "nested Unicode repetition exceeds the size limit",
        toml: "[[rule]]\nid = \"x.big\"\nfields = [\"content\"]\nregex = '\\w{1000}{1000}'\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.big",
        kind: is_too_big,
    },
    Reject {
        name: "duplicate_id",
        why: "ids must be unique so hits can be told apart",
        toml: "[[rule]]\nid = \"ok.first\"\ncheck = \"honeypot\"\naction = \"discard\"\nreason = \"r\"",
        rule_id: "ok.first",
        kind: is_invalid,
    },
    Reject {
        name: "unknown_field",
        why: "a typo in a field name must not silently read nothing",
        toml: "[[rule]]\nid = \"x.field\"\nfields = [\"body\"]\nkeywords = [\"a\"]\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.field",
        kind: is_invalid,
    },
    Reject {
        name: "unknown_check",
        why: "a misspelt check must not be ignored",
        toml: "[[rule]]\nid = \"x.check\"\ncheck = \"link_cuont\"\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.check",
        kind: is_invalid,
    },
    Reject {
        name: "action_and_weight",
        why: "a rule asks for one thing",
        toml: "[[rule]]\nid = \"x.both\"\ncheck = \"honeypot\"\naction = \"hold\"\nweight = 1.0\nreason = \"r\"",
        rule_id: "x.both",
        kind: is_invalid,
    },
    Reject {
        name: "neither_action_nor_weight",
        why: "a rule that asks for nothing is a mistake",
        toml: "[[rule]]\nid = \"x.none\"\ncheck = \"honeypot\"\nreason = \"r\"",
        rule_id: "x.none",
        kind: is_invalid,
    },
    Reject {
        name: "non_finite_weight",
        why: "nan or inf would poison the score",
        toml: "[[rule]]\nid = \"x.nan\"\ncheck = \"honeypot\"\nweight = nan\nreason = \"r\"",
        rule_id: "x.nan",
        kind: is_invalid,
    },
    Reject {
        name: "huge_weight",
        why: "weights beyond ±20 are typos; use an action",
        toml: "[[rule]]\nid = \"x.huge\"\ncheck = \"honeypot\"\nweight = 1e6\nreason = \"r\"",
        rule_id: "x.huge",
        kind: is_invalid,
    },
    Reject {
        name: "unknown_action",
        why: "only hold, spam and discard exist",
        toml: "[[rule]]\nid = \"x.act\"\ncheck = \"honeypot\"\naction = \"delete\"\nreason = \"r\"",
        rule_id: "x.act",
        kind: is_invalid,
    },
    Reject {
        name: "empty_keywords",
        why: "an empty list matches nothing and hides a mistake",
        toml: "[[rule]]\nid = \"x.kw\"\nfields = [\"content\"]\nkeywords = []\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.kw",
        kind: is_invalid,
    },
    Reject {
        name: "blank_keyword",
        why: "a blank keyword would match at every word boundary",
        toml: "[[rule]]\nid = \"x.blank\"\nfields = [\"content\"]\nkeywords = [\"ok\", \" \"]\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.blank",
        kind: is_invalid,
    },
    Reject {
        name: "regex_and_keywords",
        why: "exactly one matcher per rule",
        toml: "[[rule]]\nid = \"x.two\"\nfields = [\"content\"]\nregex = \"a\"\nkeywords = [\"a\"]\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.two",
        kind: is_invalid,
    },
    Reject {
        name: "no_matcher",
        why: "a rule must look at something",
        toml: "[[rule]]\nid = \"x.nothing\"\nfields = [\"content\"]\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.nothing",
        kind: is_invalid,
    },
    Reject {
        name: "regex_without_fields",
        why: "a regex must say which fields it reads",
        toml: "[[rule]]\nid = \"x.nofields\"\nregex = \"a\"\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.nofields",
        kind: is_invalid,
    },
    Reject {
        name: "check_wrong_field",
        why: "shouting reads the body only; claiming the author misleads",
        toml: "[[rule]]\nid = \"x.cf\"\nfields = [\"author\"]\ncheck = \"shouting\"\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.cf",
        kind: is_invalid,
    },
    Reject {
        name: "check_param_typo",
        why: "a misspelt parameter must not leave the default silently",
        toml: "[[rule]]\nid = \"x.typo\"\ncheck = \"link_count\"\nmni = 3\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.typo",
        kind: is_invalid,
    },
    Reject {
        name: "check_param_range",
        why: "a run of 2 would flag every double letter",
        toml: "[[rule]]\nid = \"x.run\"\ncheck = \"char_flood\"\nrun = 2\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.run",
        kind: is_invalid,
    },
    Reject {
        name: "regex_with_param",
        why: "regex rules take no extra keys",
        toml: "[[rule]]\nid = \"x.extra\"\nfields = [\"content\"]\nregex = \"a\"\nmin = 2\naction = \"hold\"\nreason = \"r\"",
        rule_id: "x.extra",
        kind: is_invalid,
    },
    Reject {
        name: "bad_id",
        why: "ids are [a-z0-9_.]+",
        toml: "[[rule]]\nid = \"Bad Id\"\ncheck = \"honeypot\"\naction = \"hold\"\nreason = \"r\"",
        rule_id: "Bad Id",
        kind: is_invalid,
    },
    Reject {
        name: "missing_id",
        why: "without an id the error names the rule's position",
        toml: "[[rule]]\ncheck = \"honeypot\"\naction = \"hold\"\nreason = \"r\"",
        rule_id: "#2",
        kind: is_invalid,
    },
    Reject {
        name: "missing_reason",
        why: "moderators need to know why",
        toml: "[[rule]]\nid = \"x.why\"\ncheck = \"honeypot\"\naction = \"hold\"",
        rule_id: "x.why",
        kind: is_invalid,
    },
    Reject {
        name: "wrong_type",
        why: "type errors still name the rule",
        toml: "[[rule]]\nid = \"x.type\"\ncheck = \"honeypot\"\naction = \"hold\"\nreason = 3",
        rule_id: "x.type",
        kind: is_invalid,
    },
];

#[test]
fn invalid_rule_files_are_refused_naming_the_rule() {
    for case in REJECTS {
        // A valid rule first, so errors must come from the rule under test.
        let src = format!("{OK_RULE}\n{}\n", case.toml);
        let err = match RuleSet::from_toml(&src) {
            Ok(_) => panic!("{}: should be refused: {}", case.name, case.why),
            Err(e) => e,
        };
        assert!(
            (case.kind)(&err),
            "{}: wrong error kind {err:?} ({})",
            case.name,
            case.why
        );
        assert_eq!(err.rule_id(), Some(case.rule_id), "{}: {err}", case.name);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("`{}`", case.rule_id)),
            "{}: message {msg:?}",
            case.name
        );
        assert!(
            !msg.contains('\n'),
            "{}: message should be one line: {msg:?}",
            case.name
        );
    }
}

#[test]
fn error_messages_are_stable() {
    let cases: &[(&str, &str)] = &[
        (REJECTS[0].toml, "rule `x.bad`: invalid regex: unclosed group"),
        (REJECTS[1].toml, "rule `x.empty`: regex matches the empty string, so it would fire on every comment"),
        (REJECTS[3].toml, "rule `x.big`: regex is larger than the 1048576-byte compiled size limit"),
        (REJECTS[5].toml, "rule `x.field`: unknown field `body` (known: content, author, author_email, author_url, user_ip, user_agent, referrer)"),
        (REJECTS[7].toml, "rule `x.both`: has both `action` and `weight`; give one"),
    ];
    for (src, want) in cases {
        let err = RuleSet::from_toml(src).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(*want));
    }
}

#[test]
fn toml_syntax_errors_give_a_line() {
    let err = RuleSet::from_toml("[[rule]]\nid = \"a\"\nreason = \n")
        .err()
        .map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(err.starts_with("rule file is not valid: line 3:"), "{err}");
    let err = RuleSet::from_toml("[[rules]]\nid = \"a\"\n")
        .err()
        .map(|e| e.to_string());
    assert!(err.unwrap_or_default().contains("unknown field `rules`"));
}

#[test]
fn shipped_rules_load() {
    let set = rules(SHIPPED);
    assert!(set.len() >= 11, "{} rules", set.len());
    let ids: Vec<&str> = set.ids().collect();
    for id in [
        "content.too_many_links",
        "content.bbcode_link",
        "form.honeypot",
        "form.too_fast",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/rules.toml");
    assert_eq!(RuleSet::load(&path).map(|s| s.len()).ok(), Some(set.len()));
}

#[test]
fn load_reports_the_path() {
    let err = RuleSet::load(std::path::Path::new("/nonexistent/rules.toml")).err();
    assert!(matches!(err, Some(RuleError::Io { .. })));
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.starts_with("cannot read rule file `/nonexistent/rules.toml`"),
        "{msg}"
    );
}

/// Shipped rules on hand-written comments: (name, why, comment, ids expected to fire).
#[test]
fn shipped_rules_on_sample_comments() {
    let set = rules(SHIPPED);
    let aged = |content: &str, secs: f64| Comment {
        form_rendered_at: rendered(secs),
        ..body(content)
    };
    let cases: Vec<(&str, &str, Comment, Vec<&str>)> = vec![
        (
            "plain_ham",
            "an ordinary reply trips nothing",
            Comment {
                author: Some("Maria Okafor".into()),
                author_email: Some("maria@example.org".into()),
                author_url: Some("https://maria.example.net".into()),
                user_ip: Some("198.51.100.23".into()),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into()),
                ..aged("Thanks, I tried it with a specialist flour from Essex and it worked. One link: https://flour.example", 240.0)
            },
            vec![],
        ),
        (
            "ham_subscribe_question",
            "asking how to subscribe to the blog is not self-promotion",
            aged("Is there a way to subscribe to new posts by email?", 60.0),
            vec![],
        ),
        (
            "pharma_spam",
            "commercial pharma phrase plus a drug name",
            aged("Cheap viagra and cialis online, no prescription needed!!! https://p.example", 4.0),
            vec!["keys.disallowed", "keys.moderation"],
        ),
        (
            "bot_everything",
            "a bot trips the form, link and BBCode rules",
            Comment {
                honeypot: Some("x".into()),
                author: Some("best-casino.xyz".into()),
                ..aged("[url=https://a.example]casino bonus[/url] https://b.example", 0.5)
            },
            vec![
                "content.too_many_links",
                "content.bbcode_link",
                "form.honeypot",
                "form.too_fast",
                "author.is_url",
                "keys.moderation",
                "keys.money",
            ],
        ),
        (
            "keyword_in_email_only",
            "WordPress keys also read the e-mail address",
            Comment { author_email: Some("sales@payday-loans.example".into()), ..aged("Nice post.", 30.0) },
            vec!["keys.moderation"],
        ),
    ];
    for (name, why, comment, want) in cases {
        let got: Vec<String> = run(&set, &comment).into_iter().map(|h| h.id).collect();
        assert_eq!(got, want, "{name}: {why}");
    }
}

#[test]
fn author_rule_reads_only_the_author() {
    let set = rules(
        "[[rule]]\nid = \"a.only\"\nfields = [\"author\"]\nkeywords = [\"casino\"]\naction = \"hold\"\nreason = \"Casino name\"\n",
    );
    let in_body = Comment {
        author_email: Some("casino@x.example".into()),
        author_url: Some("https://casino.example".into()),
        ..body("casino casino casino")
    };
    assert_eq!(
        run(&set, &in_body),
        vec![],
        "the word outside the author field must not fire"
    );
    let in_author = Comment {
        author: Some("Casino Royale".into()),
        ..body("hello")
    };
    assert_eq!(
        run(&set, &in_author),
        vec![RuleHit {
            id: "a.only".into(),
            reason: "Casino name (in author)".into(),
            effect: RuleEffect::Hold
        }]
    );
}

#[test]
fn regex_rules_read_canonical_text() {
    let set = rules(
        "[[rule]]\nid = \"r.sub\"\nfields = [\"content\", \"user_agent\"]\nregex = '(?i)subscribe\\s+to\\s+my'\nweight = 2.5\nreason = \"Promo\"\n",
    );
    // Zero-width characters, fullwidth letters and HTML are gone before matching.
    let hidden = body("<b>sub\u{200B}scribe</b> to ｍｙ channel");
    assert_eq!(
        run(&set, &hidden),
        vec![RuleHit {
            id: "r.sub".into(),
            reason: "Promo (in content)".into(),
            effect: RuleEffect::Weight(2.5)
        }]
    );
    let ua = Comment {
        user_agent: Some("Bot/1.0 (subscribe\u{FEFF} to my feed)".into()),
        ..body("hello")
    };
    assert_eq!(
        run(&set, &ua).first().map(|h| h.reason.as_str()),
        Some("Promo (in user_agent)")
    );
    let both = Comment {
        user_agent: Some("subscribe to my".into()),
        ..body("subscribe to my")
    };
    let hits = run(&set, &both);
    assert_eq!(hits.len(), 1, "one hit per rule, however many fields match");
    assert_eq!(hits[0].reason, "Promo (in content, user_agent)");
}

#[test]
fn hits_follow_file_order_and_disabled_rules_are_skipped() {
    let set = rules(
        "[[rule]]\nid = \"z.last\"\ncheck = \"honeypot\"\naction = \"discard\"\nreason = \"h\"\n\
         [[rule]]\nid = \"m.off\"\nenabled = false\nfields = [\"content\"]\nkeywords = [\"spam\"]\naction = \"spam\"\nreason = \"k\"\n\
         [[rule]]\nid = \"a.first\"\nfields = [\"content\"]\nregex = \"spam\"\nweight = -1\nreason = \"w\"\n",
    );
    assert_eq!(set.len(), 2);
    let comment = Comment {
        honeypot: Some("1".into()),
        ..body("spam")
    };
    let ids: Vec<String> = run(&set, &comment).into_iter().map(|h| h.id).collect();
    assert_eq!(ids, ["z.last", "a.first"]);
}

#[test]
fn disabled_rules_are_still_validated() {
    let err = RuleSet::from_toml(
        "[[rule]]\nid = \"off.bad\"\nenabled = false\nfields = [\"content\"]\nregex = \"(\"\naction = \"hold\"\nreason = \"r\"\n",
    )
    .err();
    assert_eq!(err.as_ref().and_then(RuleError::rule_id), Some("off.bad"));
}

#[test]
fn reasons_never_quote_the_comment_or_email() {
    let set = rules(SHIPPED);
    let secret_email = "viagra.secret.person@example.org";
    let comment = Comment {
        author: Some("http://secret-person.example.com/viagra".into()),
        author_email: Some(secret_email.into()),
        honeypot: Some("secret honeypot value".into()),
        form_rendered_at: rendered(0.2),
        ..body("SECRET BODY TEXT!!!!!!!!!!!! VIAGRA [url=https://secret.example]x[/url] https://y.example")
    };
    let hits = run(&set, &comment);
    assert!(hits.len() >= 6, "{hits:?}");
    for hit in hits {
        let r = hit.reason.to_lowercase();
        assert!(
            !r.contains("secret body")
                && !r.contains(secret_email)
                && !r.contains("honeypot value"),
            "{r}"
        );
    }
}

#[test]
fn empty_file_is_an_empty_rule_set() {
    let set = rules("# nothing yet\n");
    assert!(set.is_empty());
    assert_eq!(set.len(), 0);
    assert!(run(&set, &body("anything")).is_empty());
    assert!(RuleSet::default().is_empty());
}

#[test]
fn rule_set_is_shareable() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<RuleSet>();
}

#[test]
fn effect_serialises_in_lowercase() {
    let json =
        serde_json::to_string(&[RuleEffect::Hold, RuleEffect::Weight(1.5)]).unwrap_or_default();
    assert_eq!(json, r#"["hold",{"weight":1.5}]"#);
}

#[test]
fn fields_too_big_together_are_refused_naming_the_field() {
    let one = |id: &str| {
        format!("[[rule]]\nid = \"{id}\"\nfields = [\"content\"]\nregex = '\\w{{10}}'\nweight = 1\nreason = \"r\"\n")
    };
    assert!(RuleSet::from_toml(&one("big.a")).is_ok(), "one alone fits");
    let src = [one("big.a"), one("big.b"), one("big.c")].concat();
    let err = RuleSet::from_toml(&src).err();
    assert!(
        matches!(err, Some(RuleError::SetTooBig { field: "content" })),
        "{err:?}"
    );
}

#[test]
fn canonical_fast_path_agrees_with_canonicalize() {
    let samples = [
        "plain ascii",
        "Jürgen Weiß",
        "ｆｕｌｌｗｉｄｔｈ",
        "zero\u{200B}width",
        "tab\there\nnewline",
        "e\u{301} combining",
        "Ольга",
        "佐藤 健",
        "ﬁ ligature",
    ];
    for s in samples {
        assert_eq!(canonical(s), crate::text::canonicalize(s), "{s:?}");
    }
}

#[test]
fn escaped_author_names_are_read_decoded_as_the_classifier_reads_them() {
    let set = rules(
        "[[rule]]\nid = \"x.amp\"\nfields = [\"author\"]\nkeywords = [\"amp\"]\naction = \"hold\"\nreason = \"r\"\n\
         [[rule]]\nid = \"x.name\"\nfields = [\"author\"]\nkeywords = [\"romix & muffy\"]\naction = \"hold\"\nreason = \"r\"\n",
    );
    // (name, author, rules that fire, why)
    let cases: [(&str, &str, &[&str], &str); 3] = [
        (
            "escaped",
            "Romix &amp; Muffy",
            &["x.name"],
            "the entity is the ampersand, not a word",
        ),
        (
            "plain",
            "Romix & Muffy",
            &["x.name"],
            "the same name written plainly",
        ),
        (
            "amp_word",
            "Amp Muffy",
            &["x.amp"],
            "a real word amp still counts",
        ),
    ];
    for (name, author, want, why) in cases {
        let comment = Comment {
            author: Some(author.into()),
            ..body("hello")
        };
        let got: Vec<String> = run(&set, &comment).into_iter().map(|h| h.id).collect();
        assert_eq!(got, want, "{name}: {why}");
    }
}

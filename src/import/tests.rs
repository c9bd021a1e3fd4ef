use std::collections::BTreeMap;
use std::io::Write;

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/import")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a parse yielded: the format, the labelled comments, the skips by reason.
#[derive(Debug, Default)]
struct Parsed {
    format: Option<Format>,
    labelled: Vec<(Comment, Label)>,
    skipped: BTreeMap<SkipReason, u64>,
}

fn parse_all(bytes: &[u8], format: Option<Format>, site: Option<&str>) -> Result<Parsed, BadInput> {
    let mut parsed = Parsed::default();
    let mut sink = |record: Record| -> Result<(), Stop> {
        match record {
            Record::Labelled(c, l) => parsed.labelled.push((*c, l)),
            Record::Skipped(r) => *parsed.skipped.entry(r).or_default() += 1,
        }
        Ok(())
    };
    match parse(bytes, format, site, &mut sink) {
        Ok(f) => {
            parsed.format = Some(f);
            Ok(parsed)
        }
        Err(Stop::Input(e)) => Err(e),
        Err(Stop::Sink(e)) => panic!("sink: {e}"),
    }
}

const SITE: &str = "https://blog.example.com";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// (id, content, author, e-mail, label) of every labelled comment, by id.
fn by_id(parsed: &Parsed) -> BTreeMap<String, (String, Option<String>, Option<String>, Label)> {
    parsed
        .labelled
        .iter()
        .map(|(c, l)| {
            (
                c.id.clone().expect("an id"),
                (
                    c.content.clone(),
                    c.author.clone(),
                    c.author_email.clone(),
                    *l,
                ),
            )
        })
        .collect()
}

fn skips(pairs: &[(SkipReason, u64)]) -> BTreeMap<SkipReason, u64> {
    pairs.iter().copied().collect()
}

#[test]
fn every_fixture_is_detected_and_read_with_its_statuses() {
    use SkipReason::*;
    let wordpress_skips = skips(&[
        (Pending, 2),
        (Trash, 1),
        (PostTrashed, 1),
        (Pingback, 1),
        (Trackback, 1),
    ]);
    // (file, format, spam, ham, skipped, why)
    let cases = [
        (
            "wp_comments.sql",
            Format::WordpressDump,
            23,
            35,
            wordpress_skips.clone(),
            "mariadb-dump of the table, extended inserts",
        ),
        (
            "wp_comments-complete-insert.sql",
            Format::WordpressDump,
            23,
            35,
            wordpress_skips.clone(),
            "column lists, one row per INSERT",
        ),
        (
            "site-blog7.sql",
            Format::WordpressDump,
            23,
            35,
            wordpress_skips.clone(),
            "a whole site with the prefix blog7_",
        ),
        (
            "wp-cli.json",
            Format::WpCli,
            23,
            35,
            wordpress_skips.clone(),
            "WP-CLI's JSON",
        ),
        (
            "wxr.xml",
            Format::Wxr,
            0,
            35,
            wordpress_skips.clone(),
            "WordPress's export leaves spam out",
        ),
        (
            "disqus.xml",
            Format::Disqus,
            23,
            35,
            skips(&[(Deleted, 1)]),
            "Disqus: isSpam and isDeleted",
        ),
        (
            "labelled.jsonl",
            Format::Jsonl,
            23,
            35,
            skips(&[]),
            "our own JSON Lines",
        ),
    ];
    for (file, format, spam, ham, skipped, why) in cases {
        let parsed =
            parse_all(&fixture(file), None, Some(SITE)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(parsed.format, Some(format), "{file}: detected ({why})");
        let count = |want: Label| parsed.labelled.iter().filter(|(_, l)| *l == want).count();
        assert_eq!(
            (count(Label::Spam), count(Label::Ham)),
            (spam, ham),
            "{file}: {why}"
        );
        assert_eq!(parsed.skipped, skipped, "{file}: {why}");
        for (comment, _) in &parsed.labelled {
            assert!(comment.validate().is_ok(), "{file}");
        }
    }
}

#[test]
fn every_format_yields_the_same_comments_as_the_dump() {
    let dump = by_id(&parse_all(&fixture("wp_comments.sql"), None, Some(SITE)).unwrap());
    for file in [
        "wp_comments-complete-insert.sql",
        "site-blog7.sql",
        "wp-cli.json",
        "labelled.jsonl",
    ] {
        let other = by_id(&parse_all(&fixture(file), None, Some(SITE)).unwrap());
        assert_eq!(other, dump, "{file}");
    }
    // WXR holds the ham only; its comment ids are WordPress's own, so compare by content.
    let wxr = parse_all(&fixture("wxr.xml"), None, None).unwrap();
    let mut wxr_texts: Vec<_> = wxr
        .labelled
        .iter()
        .map(|(c, _)| c.content.clone())
        .collect();
    let mut dump_ham: Vec<_> = dump
        .values()
        .filter(|v| v.3 == Label::Ham)
        .map(|v| v.0.clone())
        .collect();
    wxr_texts.sort();
    dump_ham.sort();
    assert_eq!(wxr_texts, dump_ham);
}

#[test]
fn escapes_and_fields_survive_the_dump() {
    let parsed = parse_all(&fixture("wp_comments.sql"), None, Some(SITE)).unwrap();
    let first = &parsed.labelled[0].0;
    assert!(
        first
            .content
            .ends_with("\nIt's a \"quoted\" back\\slash\ttab."),
        "quotes, backslash, tab, newline"
    );
    assert_eq!(first.id.as_deref(), Some("1"));
    assert_eq!(first.user_ip.as_deref(), Some("2001:db8::0"));
    assert_eq!(first.author_email.as_deref(), Some("naufalmir@example.org"));
    assert!(first
        .user_agent
        .as_deref()
        .unwrap()
        .starts_with("Mozilla/5.0"));
    assert_eq!(first.site.as_deref(), Some(SITE));
    assert_eq!(first.comment_type.as_deref(), Some("comment"));
    assert_eq!(first.author_url, None, "an empty URL is absent");
    assert!(
        parsed.labelled[1].0.content.ends_with("naïve café ✓ 🎉"),
        "UTF-8 kept"
    );
}

#[test]
fn the_site_comes_from_the_export_when_not_given() {
    let wxr = parse_all(&fixture("wxr.xml"), None, None).unwrap();
    assert!(wxr
        .labelled
        .iter()
        .all(|(c, _)| c.site.as_deref() == Some(SITE)));
    assert!(wxr
        .labelled
        .iter()
        .all(|(c, _)| c.permalink.as_deref().is_some_and(|p| p.starts_with(SITE))));
    let disqus = parse_all(&fixture("disqus.xml"), None, None).unwrap();
    assert!(disqus
        .labelled
        .iter()
        .all(|(c, _)| c.site.as_deref() == Some(SITE)));
    // A given site wins.
    let given = parse_all(&fixture("wxr.xml"), None, Some("https://other.example")).unwrap();
    assert_eq!(
        given.labelled[0].0.site.as_deref(),
        Some("https://other.example")
    );
    // A dump names no site.
    let err = parse_all(&fixture("wp_comments.sql"), None, None).unwrap_err();
    assert_eq!(err.code, "site_required");
}

#[test]
fn gzip_is_read_through_and_a_named_format_is_used() {
    let plain = parse_all(&fixture("wp_comments.sql"), None, Some(SITE)).unwrap();
    let gz = parse_all(&gzip(&fixture("wp_comments.sql")), None, Some(SITE)).unwrap();
    assert_eq!(by_id(&gz), by_id(&plain));
    // Two gzip members one after the other (as `cat a.gz b.gz` makes) are one stream.
    let mut twice = gzip(&fixture("labelled.jsonl"));
    twice.extend(gzip(&fixture("labelled.jsonl")));
    assert_eq!(parse_all(&twice, None, None).unwrap().labelled.len(), 116);
    // A wrong named format is refused, not guessed around.
    let err = parse_all(&fixture("labelled.jsonl"), Some(Format::Wxr), None).unwrap_err();
    assert_eq!(err.code, "invalid_import");
}

#[test]
fn detection_needs_a_known_shape() {
    // (head, format, why)
    let cases: [(&str, Option<Format>, &str); 8] = [
        (
            "\u{feff}  [{\"comment_ID\":\"1\"}]",
            Some(Format::WpCli),
            "a BOM and blanks first",
        ),
        (
            "{\"label\":\"ham\"}\n",
            Some(Format::Jsonl),
            "one object per line",
        ),
        (
            "<?xml version=\"1.0\"?><disqus xmlns=\"http://disqus.com\">",
            Some(Format::Disqus),
            "Disqus's root",
        ),
        (
            "<?xml version=\"1.0\"?><rss xmlns:wp=\"http://wordpress.org/export/1.2/\">",
            Some(Format::Wxr),
            "WXR's namespace",
        ),
        (
            "-- MySQL dump 10.13\n",
            Some(Format::WordpressDump),
            "mysqldump's header",
        ),
        (
            "INSERT INTO `wp_comments` VALUES (1)",
            Some(Format::WordpressDump),
            "a bare INSERT",
        ),
        ("<html><body>", None, "other XML"),
        ("id,author,text\n", None, "CSV is not a format we read"),
    ];
    for (head, want, why) in cases {
        assert_eq!(detect(head.as_bytes()), want, "{why}");
    }
    let err = parse_all(b"id,author,text\n1,a,b\n", None, None).unwrap_err();
    assert_eq!((err.code, err.offset), ("unknown_format", Some(0)));
}

fn dump(rows: &str) -> String {
    format!(
        "-- MySQL dump\nCREATE TABLE `x_comments` (\n  `comment_ID` bigint NOT NULL,\n  `comment_content` text,\n  `comment_approved` varchar(20),\n  `comment_author` tinytext,\n  PRIMARY KEY (`comment_ID`),\n  KEY `a` (`comment_approved`)\n);\nINSERT INTO `x_comments` VALUES {rows};\n"
    )
}

#[test]
fn a_dump_follows_its_create_table_and_reads_null_and_mysql_escapes() {
    let sql = dump(
        r"(1,'a\0b \Z c\\d \'e\' ''f''','1',NULL),(2,_utf8mb4'spam here','spam','Bob'),(3,0x6869,'1','x')",
    );
    let parsed = parse_all(sql.as_bytes(), None, Some(SITE)).unwrap();
    let rows: Vec<_> = parsed
        .labelled
        .iter()
        .map(|(c, l)| (c.content.as_str(), c.author.as_deref(), *l))
        .collect();
    assert_eq!(
        rows,
        [
            ("a\0b \u{1a} c\\d 'e' 'f'", None, Label::Ham),
            ("spam here", Some("Bob"), Label::Spam),
            ("hi", Some("x"), Label::Ham),
        ]
    );
}

#[test]
fn other_tables_and_odd_statements_are_skipped() {
    let sql = "/*M!999999\\- enable the sandbox mode */\n\
        INSERT INTO `wp_commentmeta` VALUES (1,1,'k','v');\n\
        INSERT INTO `wp_posts` VALUES (1,'it''s; a (post)');\n\
        DELIMITER ;;\nCREATE TRIGGER t BEFORE INSERT ON wp_comments FOR EACH ROW BEGIN SET @x = 1; END ;;\nDELIMITER ;\n\
        INSERT IGNORE INTO `db`.`wp_comments` (`comment_ID`, `comment_content`, `comment_approved`, `comment_type`) VALUES (7,'hello there','1','comment'),(8,'ping','1','pingback');\n";
    let parsed = parse_all(sql.as_bytes(), None, Some(SITE)).unwrap();
    assert_eq!(parsed.labelled.len(), 1);
    assert_eq!(parsed.labelled[0].0.id.as_deref(), Some("7"));
    assert_eq!(parsed.skipped, skips(&[(SkipReason::Pingback, 1)]));
}

#[test]
fn bad_and_truncated_input_is_refused_with_its_position() {
    let whole = fixture("wp_comments.sql");
    // (bytes, code, why)
    let mut cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            whole[..whole.len() * 2 / 3].to_vec(),
            "truncated_import",
            "a dump cut in a row",
        ),
        (
            gzip(&whole)[..2000].to_vec(),
            "truncated_import",
            "a gzip file cut short",
        ),
        (
            fixture("wxr.xml")[..30_000].to_vec(),
            "truncated_import",
            "a WXR file cut short",
        ),
        (
            fixture("wp-cli.json")[..20_000].to_vec(),
            "truncated_import",
            "a JSON array cut short",
        ),
        (
            dump("(1,'a','1')x").into_bytes(),
            "invalid_import",
            "junk after a row",
        ),
        (
            dump("(1,'a','1')")
                .replace("VALUES (1,'a','1')", "VALUES (1,'a')")
                .into_bytes(),
            "invalid_import",
            "a row short of columns",
        ),
        (
            b"{\"label\":\"ham\",\"content\":\"ok\"}\n{\"label\":\"maybe\",\"content\":\"x\"}\n"
                .to_vec(),
            "invalid_import",
            "a bad label on line 2",
        ),
    ];
    let mut damaged = gzip(&whole);
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    damaged[middle + 1] ^= 0xff;
    cases.push((damaged, "invalid_import", "a damaged gzip stream"));
    for (bytes, code, why) in cases {
        let err = parse_all(&bytes, None, Some(SITE)).expect_err(why);
        assert_eq!(err.code, code, "{why}: {err}");
        assert!(err.offset.is_some(), "{why}: a position");
    }
    let err = parse_all(
        b"{\"label\":\"ham\",\"content\":\"ok\"}\n{\"label\":\"maybe\",\"content\":\"x\"}\n",
        None,
        None,
    )
    .unwrap_err();
    assert_eq!(
        (err.line, err.offset),
        (Some(2), Some(31)),
        "line and byte of the bad row"
    );
    let err = parse_all(dump("(1,'a','1')x").as_bytes(), None, Some(SITE)).unwrap_err();
    assert_eq!(err.line, Some(10), "the line of the INSERT");
}

#[test]
fn messages_never_quote_the_input() {
    let secret = "jane.secret@example.com";
    let inputs = [
        format!("{{\"label\":\"{secret}\",\"content\":\"x\"}}\n"),
        dump(&format!("(1,'{secret}','1')oops")),
        format!("<?xml version=\"1.0\"?><rss xmlns:wp=\"http://wordpress.org/export/1.2/\"><channel><{secret}>"),
        format!("[{{\"comment_content\":\"{secret}\",\"comment_approved\":1}} {secret}]"),
    ];
    for input in inputs {
        let err = parse_all(input.as_bytes(), None, Some(SITE)).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}

#[test]
fn overlong_comments_are_skipped_not_fatal() {
    let long = "x".repeat(crate::domain::MAX_CONTENT_BYTES + 1);
    let sql = dump(&format!(
        "(1,'{long}','1',NULL),(2,'   ','1',NULL),(3,'fine','1',NULL)"
    ));
    let parsed = parse_all(sql.as_bytes(), None, Some(SITE)).unwrap();
    assert_eq!(parsed.labelled.len(), 1);
    assert_eq!(
        parsed.skipped,
        skips(&[(SkipReason::TooLong, 1), (SkipReason::EmptyContent, 1)])
    );
}

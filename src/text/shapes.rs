//! Shapes of a comment that carry from one site to another: what an author name looks like,
//! how links sit in the body, and the stock phrases of templated praise.
//!
//! Words are site-specific (a music video's spam is not a blog's), but these shapes are not:
//! a keyword phrase as the author's name ("payday loans uk"), a link as the last thing
//! said, "bookmark your blog" in place of anything about the post. Each shape becomes a
//! feature value ([`super::features`] namespaces it) whose weight the classifier learns like
//! any other. Nothing here decides a verdict: the first-day policy reads a few of them
//! (page praise, a keyword or shop name, a shop's website) as `text::TextShapes` reports them.

/// Commerce and SEO vocabulary: the words a name chosen as a link's anchor text is made of,
/// the trades and goods of [`is_shop_word`] and the shop talk and directory categories
/// besides. Written from general knowledge of keyword spam, not from any test comment. A
/// person may be called Price or Law: the classifier weighs the shape, and the policy holds
/// a comment on one such word only with a website beside it ([`is_shop_name_word`]).
fn is_commercial(word: &str) -> bool {
    is_shop_word(word)
        || matches!(
            word,
            "deal"
                | "sale"
                | "sales"
                | "price"
                | "prices"
                | "online"
                | "shopping"
                | "reviews"
                | "order"
                | "best"
                | "top"
                | "free"
                | "uk"
                | "usa"
                | "credit"
                | "finance"
                | "financial"
                | "trading"
                | "marketing"
                | "services"
                | "service"
                | "company"
                | "solutions"
                | "consulting"
                | "software"
                | "digital"
                | "travel"
                | "flight"
                | "hotel"
                | "vacation"
                | "tours"
                | "airline"
                | "airlines"
                | "rental"
                | "auto"
                | "automotive"
                | "parts"
                | "health"
                | "fitness"
                | "weight"
                | "loss"
                | "diet"
                | "supplement"
                | "skin"
                | "beauty"
                | "fashion"
                | "shoes"
                | "boots"
                | "bags"
                | "watches"
                | "dresses"
                | "clothing"
                | "wedding"
                | "bridal"
                | "home"
                | "improvement"
                | "furniture"
                | "mattress"
                | "mattresses"
                | "kitchen"
                | "garden"
                | "cleaning"
                | "construction"
                | "estate"
                | "property"
                | "apartments"
                | "legal"
                | "technology"
                | "business"
                | "education"
                | "jobs"
                | "career"
                | "games"
                | "download"
                | "movies"
                | "streaming"
                | "dating"
                | "gifts"
                | "electronics"
                | "tutoring"
                | "computer"
                | "internet"
                | "website"
                | "design"
                | "development"
                | "pharma"
                | "likes"
                | "cars"
                | "car"
        )
}

/// Shapes of an author's display name: `raw` as typed (case kept), `folded` lower-cased.
/// Calls `emit` with each shape that applies.
pub(super) fn author_name(raw: &str, folded: &str, mut emit: impl FnMut(&'static str)) {
    let (mut words, mut lower, mut title, mut numbers, mut commercial) = (0, 0, 0, 0, 0);
    for w in raw.split_whitespace() {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        if w.is_empty() {
            continue;
        }
        words += 1;
        let mut chars = w.chars();
        let first = chars.next().unwrap_or(' ');
        if w.bytes().all(|b| b.is_ascii_digit()) {
            numbers += 1;
        } else if w.chars().all(|c| c.is_lowercase()) {
            lower += 1;
        } else if first.is_uppercase() && chars.all(|c| c.is_lowercase() || c == '.') {
            title += 1;
        }
    }
    for (_, w) in super::words::word_indices(folded) {
        commercial += is_commercial(w) as usize;
    }
    if commercial > 0 {
        emit("name:shop_word");
        if commercial >= 2 || (commercial == 1 && words == 1) {
            emit("name:shop_phrase");
        }
    }
    if words >= 2 && lower == words {
        emit("name:lower_phrase");
    }
    if numbers > 0 && numbers < words {
        emit("name:words_and_number");
    }
    if words >= 4 {
        emit("name:long");
    }
    // A person's name, as most readers write it: two or three capitalised words.
    if (2..=3).contains(&words) && title == words && commercial == 0 {
        emit("name:person");
    }
}

/// Whether a word of an author's name makes it a shop's (`TextShapes::shop_name`): the
/// commerce and directory vocabulary of [`is_commercial`] but for place names ("Jane (UK)").
pub(super) fn is_shop_name_word(word: &str) -> bool {
    is_commercial(word) && !matches!(word, "uk" | "usa")
}

/// The shop words the moderation policy reads in a website's domain (`text::is_shop_site`):
/// trades and goods sold by keyword spam, narrower than [`is_commercial`]. A blogger's own
/// site is named for its topic ("travel-with-anna", "best-health-tips"), so the directory
/// categories and generic words are left out here.
pub(super) fn is_shop_word(word: &str) -> bool {
    matches!(
        word,
        "buy"
            | "cheap"
            | "cheapest"
            | "discount"
            | "deals"
            | "wholesale"
            | "outlet"
            | "replica"
            | "coupon"
            | "coupons"
            | "promo"
            | "shop"
            | "shops"
            | "store"
            | "stores"
            | "loan"
            | "loans"
            | "payday"
            | "mortgage"
            | "insurance"
            | "debt"
            | "casino"
            | "poker"
            | "betting"
            | "slots"
            | "gambling"
            | "lottery"
            | "forex"
            | "bitcoin"
            | "crypto"
            | "seo"
            | "agency"
            | "hosting"
            | "flights"
            | "tickets"
            | "hotels"
            | "booking"
            | "rentals"
            | "repair"
            | "tires"
            | "pills"
            | "supplements"
            | "viagra"
            | "cialis"
            | "pharmacy"
            | "dental"
            | "dentist"
            | "clinic"
            | "cbd"
            | "cosmetics"
            | "sneakers"
            | "handbags"
            | "jewelry"
            | "jewellery"
            | "roofing"
            | "plumbing"
            | "plumber"
            | "movers"
            | "pest"
            | "contractor"
            | "lawyer"
            | "lawyers"
            | "attorney"
            | "attorneys"
            | "injury"
            | "essay"
            | "essays"
            | "homework"
            | "escort"
            | "escorts"
            | "vape"
            | "followers"
    )
}

/// Whether a name shape from [`author_name`] is one of a keyword name: the anchor text of a
/// link (a shop word, a lower-case phrase, words and a number, four words or more) rather
/// than a person's name or handle.
pub(super) fn is_keyword_shape(shape: &str) -> bool {
    matches!(
        shape,
        "name:shop_word" | "name:lower_phrase" | "name:words_and_number" | "name:long"
    )
}

/// Word classes of templated praise, as bit flags (see [`Template`]).
const RETURN: u16 = 1;
const CONTAINER: u16 = 2;
const POINTER: u16 = 4;
const MINE: u16 = 8;
const WEBMASTER: u16 = 16;
/// A class word that a video site or a social network uses too ("subscribe", "channel",
/// "page"), where self-promotion asks for its payload, the author's channel or page.
const ELSEWHERE: u16 = 32;
/// A word that points at a link ("click", "link"): a payload's pointer.
const LINK_WORD: u16 = 64;
/// A blog's own mailing ("newsletter"): subscribing to it is a promise to come back, read
/// by [`PagePraise`] only, as [`Template`]'s features were learned without it.
const MAILING: u16 = 128;
/// "Subscribed": what a reader did, a promise to come back, unless a request to subscribe
/// in return follows ([`SWAP`]). Read by [`PagePraise`] only.
const DONE: u16 = 256;
/// "Back", "me": after "subscribe", a video site's swap ("subscribe back", "sub me").
const SWAP: u16 = 512;

/// The class of one folded body word, or 0: a few comparisons by length, then bytes.
#[inline]
pub(super) fn word_class(word: &str) -> u16 {
    match word {
        // Promises to come back, or requests to: the close of spun praise ("I'll bookmark
        // your blog") and of self-promotion ("check out my channel") alike.
        "bookmark" | "bookmarked" | "bookmarking" | "bookmarks" | "rss" | "revisit"
        | "stumbled" | "stumbleupon" | "surfing" | "browsing" | "googling" => RETURN,
        "subscribe" | "subscribing" | "visit" | "visiting" => RETURN | ELSEWHERE,
        "subscribed" => RETURN | ELSEWHERE | DONE,
        // What generic praise praises: the page itself rather than anything on it.
        "blog" | "blogs" | "post" | "posts" | "posting" | "article" | "articles" | "site"
        | "website" | "websites" | "webpage" | "weblog" | "content" | "writing" => CONTAINER,
        "channel" | "video" | "videos" | "homepage" | "page" => CONTAINER | ELSEWHERE,
        "link" | "links" | "click" => LINK_WORD,
        "newsletter" | "newsletters" => MAILING,
        "back" | "me" => SWAP,
        "your" | "this" => POINTER,
        "my" => MINE,
        "webmaster" | "webmasters" | "blogger" | "bloggers" | "blogging" | "blogosphere" => {
            WEBMASTER
        }
        _ => 0,
    }
}

/// Stock phrases of templated praise and self-promotion seen so far in a body: fed each
/// word's [`word_class`] in order.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Template {
    prev: u16,
    seen: u16,
}

/// Flags of [`Template::seen`] (a set of its own, apart from the word classes): a pointer
/// or "my" followed by a container, "your blog", "this article", "my site".
const ADDRESSED: u16 = 32;
const OWN: u16 = 64;

impl Template {
    /// Takes the next word's class.
    #[inline]
    pub(super) fn push(&mut self, class: u16) {
        if class & CONTAINER != 0 {
            if self.prev & POINTER != 0 {
                self.seen |= ADDRESSED;
            } else if self.prev & MINE != 0 {
                self.seen |= OWN;
            }
        }
        self.seen |= class & (RETURN | WEBMASTER);
        self.prev = class;
    }

    /// The shapes found, for `emit`.
    pub(super) fn finish(self, mut emit: impl FnMut(&'static str)) {
        for (flag, shape) in [
            (RETURN, "tpl:come_back"),
            (ADDRESSED, "tpl:your_page"),
            (OWN, "tpl:my_page"),
            (WEBMASTER, "tpl:webmasters"),
        ] {
            if self.seen & flag != 0 {
                emit(shape);
            }
        }
    }
}

/// Whether a body is a blog's templated praise of the page ("Love this post. Subscribed to
/// your newsletter.", "I'll bookmark your blog") that names no payload: no "my site", no
/// "click the link", none of the words a video site's self-promotion shares with a blog's
/// praise. Fed each word's [`word_class`] in order, beside [`Template`].
///
/// Such a comment is what blog spam sends first to be approved, its link in the author's
/// URL, and what a pleased reader writes: the words cannot tell them apart, the payload
/// can (see `moderation::Context::praise_without_payload`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PagePraise {
    template: Template,
    link_word: bool,
    /// "my" before any page word, a video site's too ("my site", "my channel"):
    /// self-promotion. Read here rather than from the template, which never sees a video
    /// site's page words.
    own: bool,
    after_my: bool,
    /// A subscribe or visit word within the last two words, and whether a swap ("back",
    /// "me") followed one.
    since_subscribe: u8,
    swap: bool,
    /// "my" before a blog's page word ("my site", "my blog"), not a video site's.
    own_site: bool,
}

impl PagePraise {
    /// Takes the next word's class.
    #[inline]
    pub(super) fn push(&mut self, class: u16) {
        self.link_word |= class & LINK_WORD != 0;
        self.own |= self.after_my && class & CONTAINER != 0;
        self.own_site |= self.after_my && class & CONTAINER != 0 && class & ELSEWHERE == 0;
        self.after_my = class & MINE != 0;
        self.swap |= self.since_subscribe > 0 && class & SWAP != 0;
        self.since_subscribe = if class & RETURN != 0 && class & ELSEWHERE != 0 {
            2
        } else {
            self.since_subscribe.saturating_sub(1)
        };
        let class = if class & (MAILING | DONE) != 0 {
            RETURN
        } else if class & ELSEWHERE != 0 {
            0
        } else {
            class
        };
        self.template.push(class);
    }

    /// Whether the body read so far names the writer's own site ("my blog", "my website")
    /// and no pointer at a link: what a blog's readers say of their own sites, and what
    /// self-promotion says before its link.
    pub(super) fn names_own_site(&self) -> bool {
        self.own_site && !self.link_word && !self.swap
    }

    /// Whether the body read so far is page praise that names no payload.
    pub(super) fn found(&self) -> bool {
        let seen = self.template.seen;
        !self.link_word && !self.own && !self.swap && seen & (RETURN | ADDRESSED | WEBMASTER) != 0
    }
}

/// Hosts that only redirect elsewhere: a link that hides where it goes.
fn is_shortener(domain: &str) -> bool {
    matches!(
        domain,
        "bit.ly"
            | "goo.gl"
            | "tinyurl.com"
            | "t.co"
            | "ow.ly"
            | "is.gd"
            | "buff.ly"
            | "adf.ly"
            | "rebrand.ly"
            | "cutt.ly"
            | "shorturl.at"
            | "tiny.cc"
            | "rb.gy"
            | "t.ly"
            | "s.id"
            | "v.gd"
            | "bl.ink"
            | "shorte.st"
    )
}

/// Shapes of the links in a body: `domains` in order, `ends_with_link` when the text's last
/// word is part of a link.
pub(super) fn links<'a>(
    domains: impl Iterator<Item = &'a str>,
    ends_with_link: bool,
    mut emit: impl FnMut(&'static str),
) {
    let (mut distinct, mut last, mut shortener, mut ip) = (0usize, "", false, false);
    let mut seen: [&str; 4] = [""; 4];
    for d in domains {
        shortener |= is_shortener(d);
        ip |= !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if d != last && !seen[..distinct.min(4)].contains(&d) {
            if distinct < 4 {
                seen[distinct] = d;
            }
            distinct += 1;
        }
        last = d;
    }
    if distinct >= 2 {
        emit("link:domains2+");
    }
    if shortener {
        emit("link:shortener");
    }
    if ip {
        emit("link:ip_host");
    }
    if ends_with_link {
        emit("link:at_end");
    }
}

/// Whether a phone number sits near words of a fake support line ("toll-free", "helpline",
/// "customer care"): the scam of listing a number as a company's support. `text` is folded.
pub(super) fn support_line(text: &str) -> bool {
    [
        "support",
        "helpline",
        "help line",
        "toll free",
        "toll-free",
        "customer care",
        "customer service",
        "tech support",
    ]
    .iter()
    .any(|w| text.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_shapes(name: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        author_name(name, &name.to_lowercase(), |s| out.push(s));
        out
    }

    #[test]
    fn author_name_shapes() {
        let cases: &[(&str, &str, &str, &[&str])] = &[
            (
                "keyword_phrase",
                "a shop phrase, all lower case",
                "payday loans uk",
                &["name:shop_phrase", "name:lower_phrase"],
            ),
            (
                "model_number",
                "a product and its model number",
                "asics gel nimbus 21",
                &["name:words_and_number", "name:long"],
            ),
            (
                "person",
                "a given name and a surname",
                "Maria Okafor",
                &["name:person"],
            ),
            (
                "one_category",
                "a lone shop word as a name",
                "Technology",
                &["name:shop_phrase"],
            ),
        ];
        for (case, why, name, want) in cases {
            let got = name_shapes(name);
            for w in *want {
                assert!(got.contains(w), "{case} ({why}): {w} missing from {got:?}");
            }
        }
        assert!(
            !name_shapes("Ann").iter().any(|s| s.contains("shop")),
            "a plain first name has no shop shape"
        );
        assert!(!name_shapes("Maria Okafor").contains(&"name:lower_phrase"));
    }

    #[test]
    fn template_phrases() {
        let mut t = Template::default();
        for w in "i will bookmark your blog".split(' ') {
            t.push(word_class(w));
        }
        let mut got = Vec::new();
        t.finish(|s| got.push(s));
        assert_eq!(got, vec!["tpl:come_back", "tpl:your_page"]);
    }

    #[test]
    fn template_features_ignore_the_page_praise_bits() {
        // The shipped model was trained on the `s:tpl:*` features: the bits `PagePraise`
        // reads must not change what `Template` finds.
        for body in [
            "please subscribe to my channel",
            "check out this video",
            "click the link",
            "subscribed to the newsletter",
        ] {
            let (mut plain, mut tagged) = (Template::default(), Template::default());
            for w in body.split(' ') {
                let class = word_class(w);
                plain.push(class & (RETURN | CONTAINER | POINTER | MINE | WEBMASTER));
                tagged.push(class);
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            plain.finish(|s| a.push(s));
            tagged.finish(|s| b.push(s));
            assert_eq!(a, b, "{body}");
        }
    }

    /// A folded body read word by word, as extraction reads it.
    fn read_praise(body: &str) -> PagePraise {
        let mut praise = PagePraise::default();
        for (_, w) in super::super::words::word_indices(body) {
            praise.push(word_class(w));
        }
        praise
    }

    #[test]
    fn page_praise() {
        // (name, folded body, page praise that names no payload, why)
        #[rustfmt::skip]
        let cases = [
            ("subscribed_reader", "love this post. subscribed to your newsletter.", true, "praise of the page and a promise to come back"),
            ("bookmark_template", "i will bookmark your blog", true, "the close of spun praise"),
            ("webmasters", "you are a very skilled blogger", true, "words to the webmaster"),
            ("on_topic", "the second step failed on windows", false, "about the post, not praise of it"),
            ("own_site", "great post, visit my site", false, "\"my site\" is self-promotion"),
            ("link_word", "great post, click the link below", false, "a pointer at a link"),
            ("video_channel", "please subscribe to my channel", false, "a video site's words"),
            ("this_video", "check out this video", false, "a video is not a blog's page"),
            ("your_page", "leave likes on your page", false, "a social page either"),
            ("newsletter", "thanks! this saved me hours. subscribed to the newsletter.", true, "a blog's mailing is where a reader comes back from"),
            ("subscribed_reader_alone", "subscribed! can't wait for the next part.", true, "what a reader did, on any page"),
            ("subscribe_to_me", "i subscribed to you, now subscribe to me", false, "a swap asked for, two words on"),
            ("subscribed_back", "i subscribed to your channel, please subscribe back", false, "a video site's subscription swap"),
            ("own_channel", "great blog post, bookmarked! check out my channel too", false, "\"my channel\" is self-promotion"),
        ];
        for (name, body, want, why) in cases {
            assert_eq!(read_praise(body).found(), want, "case {name} ({why})");
        }
    }

    #[test]
    fn own_site() {
        // (name, folded body, names the writer's own site and no pointer at a link, why)
        #[rustfmt::skip]
        let cases = [
            ("my_blog", "amazing theme. this is how my blog looks now", true, "a reader's own blog"),
            ("my_website", "i am revamping my website and moving to jekyll", true, "\"my\" right before the page word"),
            ("my_channel", "please subscribe to my channel", false, "a video site's channel is not a site of one's own"),
            ("your_site", "love your site", false, "someone else's site"),
            ("my_site_link", "my site is at the link below", false, "a pointer at a link"),
            ("my_site_swap", "i visited your site, now visit me back on my site", false, "a swap asked for"),
            ("my_web_blog", "visit my web blog", false, "\"my\" not right before the page word"),
        ];
        for (name, body, want, why) in cases {
            assert_eq!(
                read_praise(body).names_own_site(),
                want,
                "case {name} ({why})"
            );
        }
    }

    #[test]
    fn link_shapes() {
        let mut got = Vec::new();
        links(
            ["bit.ly", "a.example", "203.0.113.9"].into_iter(),
            true,
            |s| got.push(s),
        );
        assert_eq!(
            got,
            vec![
                "link:domains2+",
                "link:shortener",
                "link:ip_host",
                "link:at_end"
            ]
        );
    }
}

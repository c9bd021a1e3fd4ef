//! The moderator console: one HTML page, its script and its style sheet, compiled into the
//! binary (`src/console/assets/` in the repository), so the console needs no CDN, no build step and no
//! network beyond this service. The page holds no secrets: the moderator's key is typed in,
//! kept in the tab's session storage and sent as a bearer header to the JSON API.
//!
//! Served by `routes::console` with a strict Content-Security-Policy: scripts and styles
//! only from this origin (no inline code at all), requests only to this origin, no frames.

/// One embedded file of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// Where it is served.
    pub path: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static str,
}

/// The console's files.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/console",
        content_type: "text/html; charset=utf-8",
        body: include_str!("assets/index.html"),
    },
    Asset {
        path: "/console/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
    Asset {
        path: "/console/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/app.css"),
    },
];

/// The Content-Security-Policy of every console response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets_and_has_no_inline_code() {
        let page = ASSETS[0].body;
        for asset in &ASSETS[1..] {
            assert!(
                page.contains(asset.path),
                "the page does not load {}",
                asset.path
            );
        }
        for inline in [
            "<script>",
            "style=",
            "onclick",
            "onload",
            "javascript:",
            "http://",
            "https://",
        ] {
            assert!(
                !page.contains(inline),
                "inline code or a remote URL in the page: {inline}"
            );
        }
        // The script never turns text into markup.
        let script = ASSETS[1].body;
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.contains(sink), "the script uses {sink}");
        }
    }
}

//! Who is calling: the API key of a request, checked against the keyring, and what its role
//! and site allow. Every handler except the health probes calls [`authorize`] first.

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::domain::Comment;
use crate::keys::{normalize_site, KeyCheck, Principal, Role};
use crate::routes::error::ApiError;
use crate::startup::AppState;

/// Header that carries a key for clients that cannot set `Authorization`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The key a request presents: `Authorization: Bearer KEY`, else `X-Api-Key: KEY`.
pub fn presented_key(request: &HttpRequest) -> Option<&str> {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    bearer
        .or_else(|| {
            headers
                .get(API_KEY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|k| !k.is_empty())
}

/// Checks that the request's key (or open local mode) allows role `need`.
pub fn authorize(
    request: &HttpRequest,
    state: &AppState,
    need: Role,
) -> Result<Principal, ApiError> {
    authorize_key(presented_key(request), state, need)
}

/// [`authorize`] for a key found elsewhere (the Akismet protocol sends it in the form).
pub fn authorize_key(
    key: Option<&str>,
    state: &AppState,
    need: Role,
) -> Result<Principal, ApiError> {
    let principal = match state.keys.check(key) {
        KeyCheck::Open => return Ok(Principal::open()),
        KeyCheck::Valid(principal) => principal,
        KeyCheck::Invalid if key.is_none() => return Err(ApiError::MissingKey),
        KeyCheck::Invalid => return Err(ApiError::InvalidKey),
    };
    if principal.role < need {
        return Err(ApiError::Forbidden(format!(
            "this needs a {need} key; this key's role is {}",
            principal.role
        )));
    }
    Ok(principal)
}

/// Holds a site key to its own site: a comment without a site gets the key's; a comment for
/// another site is refused. Other keys may score for any site.
pub fn scope_to_site(principal: &Principal, comment: &mut Comment) -> Result<(), ApiError> {
    let Some(own) = principal.site.as_deref() else {
        return Ok(());
    };
    match comment.site.as_deref() {
        None => {
            comment.site = Some(own.to_owned());
            Ok(())
        }
        Some(site) if normalize_site(site).as_deref() == Some(own) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(format!(
            "this key may only score comments for {own}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_key(site: &str) -> Principal {
        Principal {
            key_id: Some("k1".into()),
            role: Role::Site,
            site: Some(site.into()),
        }
    }

    #[test]
    fn site_keys_score_only_their_site() {
        let key = site_key("https://blog.example.com");
        // (comment site, allowed, why)
        let cases = [
            (None, true, "filled in from the key"),
            (
                Some("https://Blog.Example.com/"),
                true,
                "spelled differently, same site",
            ),
            (Some("https://other.example.com"), false, "another site"),
            (Some("not a url"), false, "not a site at all"),
        ];
        for (site, ok, why) in cases {
            let mut comment = Comment {
                content: "hi".into(),
                site: site.map(str::to_owned),
                ..Default::default()
            };
            let result = scope_to_site(&key, &mut comment);
            assert_eq!(result.is_ok(), ok, "{why}");
            if ok {
                assert!(comment.site.is_some(), "{why}");
            } else {
                assert_eq!(result.unwrap_err().code(), "forbidden");
            }
        }
        let mut comment = Comment {
            content: "hi".into(),
            site: Some("https://anywhere.example".into()),
            ..Default::default()
        };
        assert!(scope_to_site(&Principal::open(), &mut comment).is_ok());
    }
}

//! Who is calling: the API key of a request, checked once by the request middleware (see
//! [`crate::startup`]) and put into the request as a [`Caller`]; handlers ask it for the
//! role they need. The Akismet routes carry their key in the form body, which the
//! middleware does not read, and check it with [`authorize_key`].

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::domain::Comment;
use crate::keys::{normalize_site, KeyCheck, Keyring, Principal, Role};
use crate::routes::error::ApiError;

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

/// The caller of a request as the middleware found it: the checked key (or open local
/// mode), and whether a key was presented at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    check: KeyCheck,
    presented: bool,
}

impl Caller {
    /// Checks `key` (as presented, if at all) against the keyring.
    pub fn check(keys: &Keyring, key: Option<&str>) -> Caller {
        Caller {
            check: keys.check(key),
            presented: key.is_some(),
        }
    }

    /// The principal of a valid key (not in open local mode: it has no key to count).
    pub fn key_principal(&self) -> Option<&Principal> {
        match &self.check {
            KeyCheck::Valid(principal) => Some(principal),
            KeyCheck::Open | KeyCheck::Invalid => None,
        }
    }

    /// The principal, if its role allows `need`.
    pub fn require(&self, need: Role) -> Result<Principal, ApiError> {
        let principal = match &self.check {
            KeyCheck::Open => return Ok(Principal::open()),
            KeyCheck::Valid(principal) => principal,
            KeyCheck::Invalid if !self.presented => return Err(ApiError::MissingKey),
            KeyCheck::Invalid => return Err(ApiError::InvalidKey),
        };
        if principal.role < need {
            return Err(ApiError::Forbidden(format!(
                "this needs a {need} key; this key's role is {}",
                principal.role
            )));
        }
        Ok(principal.clone())
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The middleware runs before every handler; a request without a caller is a route
        // registered outside it, a bug to see rather than a door to leave open.
        ready(
            request
                .extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no caller in the request"))),
        )
    }
}

/// Checks a key found outside the headers (the Akismet protocol sends it in the form).
pub fn authorize_key(keys: &Keyring, key: Option<&str>, need: Role) -> Result<Principal, ApiError> {
    Caller::check(keys, key).require(need)
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

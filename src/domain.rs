//! Plain domain types shared by every layer: what a comment is, what a verdict says.
//!
//! No IO and no async here, so the moderation policy and the classifier can be tested
//! without a server.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Largest comment body we accept, in bytes (Akismet and WordPress accept 64 KiB too).
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// Largest value of any other text field, in bytes.
pub const MAX_FIELD_BYTES: usize = 2 * 1024;

/// A comment as a blog platform submits it, validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comment {
    /// The comment body (HTML allowed); never empty.
    pub content: String,
    /// Display name the commenter typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// E-mail address the commenter typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_email: Option<String>,
    /// Website URL the commenter typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_url: Option<String>,
    /// Commenter's IP address as the platform saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ip: Option<String>,
    /// Commenter's browser user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// HTTP referrer of the comment form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// URL of the post being commented on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
    /// `comment`, `reply`, `trackback`, `pingback`, `forum-post`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_type: Option<String>,
    /// The site (blog URL) the comment was posted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Language(s) of the site, e.g. `en` or `en, fr_ca`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The platform's own comment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Value of the hidden honeypot field; humans leave it empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honeypot: Option<String>,
    /// When the comment form was rendered, to catch bots that submit instantly.
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub form_rendered_at: Option<OffsetDateTime>,
}

/// Why a comment was refused before scoring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentError {
    /// `content` is missing, empty or only whitespace.
    #[error("content must not be empty")]
    EmptyContent,
    /// `content` is longer than [`MAX_CONTENT_BYTES`].
    #[error("content is {0} bytes; the limit is {MAX_CONTENT_BYTES}")]
    ContentTooLong(usize),
    /// Another field is longer than [`MAX_FIELD_BYTES`].
    #[error("field `{0}` is longer than {MAX_FIELD_BYTES} bytes")]
    FieldTooLong(&'static str),
}

impl Comment {
    /// A comment with only a body, as the training corpus has them.
    pub fn from_text(content: impl Into<String>, author: Option<String>) -> Self {
        Comment {
            content: content.into(),
            author,
            ..Default::default()
        }
    }

    /// Checks the size limits and that there is something to score.
    pub fn validate(&self) -> Result<(), CommentError> {
        if self.content.trim().is_empty() {
            return Err(CommentError::EmptyContent);
        }
        if self.content.len() > MAX_CONTENT_BYTES {
            return Err(CommentError::ContentTooLong(self.content.len()));
        }
        let fields: [(&'static str, &Option<String>); 12] = [
            ("author", &self.author),
            ("author_email", &self.author_email),
            ("author_url", &self.author_url),
            ("user_ip", &self.user_ip),
            ("user_agent", &self.user_agent),
            ("referrer", &self.referrer),
            ("permalink", &self.permalink),
            ("comment_type", &self.comment_type),
            ("site", &self.site),
            ("lang", &self.lang),
            ("id", &self.id),
            ("honeypot", &self.honeypot),
        ];
        for (name, value) in fields {
            if value.as_ref().is_some_and(|v| v.len() > MAX_FIELD_BYTES) {
                return Err(CommentError::FieldTooLong(name));
            }
        }
        Ok(())
    }
}

/// What to do with a comment.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Publish it.
    Approve,
    /// Keep it for a moderator.
    Hold,
    /// Put it in the spam queue.
    Spam,
    /// Blatant spam: drop it without showing anyone.
    Discard,
}

impl Verdict {
    /// The verdict's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Hold => "hold",
            Verdict::Spam => "spam",
            Verdict::Discard => "discard",
        }
    }

    /// Whether the comment is treated as spam (spam or discard).
    pub fn is_spam(self) -> bool {
        matches!(self, Verdict::Spam | Verdict::Discard)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "approve" => Ok(Verdict::Approve),
            "hold" => Ok(Verdict::Hold),
            "spam" => Ok(Verdict::Spam),
            "discard" => Ok(Verdict::Discard),
            other => Err(format!("unknown verdict `{other}`")),
        }
    }
}

/// A training or correction label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Unwanted comment.
    Spam,
    /// Legitimate comment.
    Ham,
}

/// One reason in a verdict: which rule or signal fired and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    /// Stable id of the rule or signal (e.g. `links.too_many`, `classifier`).
    pub id: String,
    /// Human-readable explanation.
    pub detail: String,
}

/// A token and how strongly it pushed towards spam (positive) or ham (negative).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenWeight {
    /// The evidence in words: `subscribe`, `my channel`, `bit.ly`, `author: ann`, `(2 links)`.
    pub token: String,
    /// Log-likelihood ratio contribution; > 0 is spammy.
    pub weight: f64,
}

/// The full answer for one comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assessment {
    /// The decision.
    pub verdict: Verdict,
    /// Calibrated spam probability from the classifier, 0..1 (0.5 when it has no opinion).
    pub spam_probability: f64,
    /// Rules that fired and the classifier's own reason, strongest first.
    pub reasons: Vec<Reason>,
    /// Strongest tokens each way.
    pub tokens: Vec<TokenWeight>,
    /// Version of the model that scored it.
    pub model_version: String,
}

//! HTTP handlers, one file per resource, and [`error`], the one place errors become HTTP.

pub mod comments;
pub mod error;
pub mod health;
pub mod score;

pub use error::ApiError;

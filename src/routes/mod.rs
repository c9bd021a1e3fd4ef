//! HTTP handlers, one file per resource, and [`error`], the one place errors become HTTP.
//! [`auth`] checks keys; every handler but the health probes calls it first.

pub mod admin;
pub mod akismet;
pub mod auth;
pub mod comments;
pub mod console;
pub mod error;
pub mod feedback;
pub mod health;
pub mod keys;
pub mod labels;
pub mod metrics;
pub mod openapi;
pub mod review;
pub mod score;

pub use error::ApiError;

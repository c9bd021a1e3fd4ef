//! API tests: each spawns the real application on a free port and talks HTTP to it.

mod akismet;
mod auth;
mod comments;
mod health;
mod helpers;
mod labels;
mod redis_cache;
mod redis_server;
mod retrain;
mod score;

//! API tests: each spawns the real application on a free port and talks HTTP to it.

mod akismet;
mod auth;
mod comments;
mod compose;
mod console;
mod fuzz;
mod fuzzy;
mod hardening;
mod health;
mod helpers;
mod ids;
mod import;
mod labels;
mod openapi;
mod ops;
mod postgres;
mod postgres_server;
mod redis_cache;
mod redis_cluster;
mod redis_server;
mod report;
mod retrain;
mod review;
mod score;
mod shutdown;
mod sites;

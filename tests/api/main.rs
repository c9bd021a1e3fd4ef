//! API tests: each spawns the real application on a free port and talks HTTP to it.

mod health;
mod helpers;
mod score;

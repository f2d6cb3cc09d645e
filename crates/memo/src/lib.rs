//! The memo app's server: the original Flask memo API (Flask-JWT-Extended
//! with tokens in cookies) rebuilt on axum and `jwt-extended`, with SQLite or
//! PostgreSQL storage and the Vue SPA embedded.
//!
//! The binary is a thin shell over this library so that the integration
//! tests can start the real server in-process on a random port:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use memo::{App, Config, config::Secret};
//! let config = Config::new("sqlite://data/memo.db", Secret::new(*b"0123456789abcdef0123456789abcdef"));
//! let app = App::build(config).await?;
//! println!("memo listening on http://{}", app.local_addr());
//! app.run_until_stopped().await?;
//! # Ok(()) }
//! ```

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod files;
pub mod http;
pub mod limits;
pub mod password;
mod redis_client;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod tokens;

pub use app::{App, StartupError};
pub use config::Config;

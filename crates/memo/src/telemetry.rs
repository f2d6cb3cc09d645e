//! Logging. Logs go to standard error so that standard output carries only
//! the one `memo listening on ...` line that scripts and tests parse.

use std::io::IsTerminal as _;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt as _, util::SubscriberInitExt as _};

use crate::cli::LogFormat;

/// Installs the global subscriber: level from RUST_LOG (default `info`).
/// Colours only on a terminal: in a file they are noise, and formatting them
/// was a measurable part of every request's cost.
/// Does nothing if one is already installed (tests call it repeatedly).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
}

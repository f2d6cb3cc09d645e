//! Logging. Logs go to standard error so that standard output carries only
//! the one `memo listening on ...` line that scripts and tests parse.

use std::io::IsTerminal as _;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt as _, util::SubscriberInitExt as _};

use self::plain_text::{PlainFields, PlainFormat, SystemTimeBySecond};
use crate::cli::LogFormat;

mod log_batch;
mod plain_text;

pub use log_batch::BatchGuard;

/// Installs the global subscriber: level from RUST_LOG (default `info`).
/// Installs nothing if one is already installed (tests call it repeatedly);
/// the returned guard's writer then just sleeps.
///
/// Lines are written in batches by a background thread (see `log_batch.rs`), so a
/// request neither waits for the `write` of its access-log line nor wakes a
/// thread for it; when that thread falls behind, the requests wait rather
/// than lose lines. Keep the returned guard until exit: dropping it writes
/// what is queued. Colours only on a terminal: in a file they are noise.
/// Elsewhere the same lines are written by a leaner formatter (see
/// `plain_text.rs`): formatting was a sixth of a status request's cost.
///
/// # Errors
/// When the writer thread cannot be started.
pub fn init(format: LogFormat) -> std::io::Result<BatchGuard> {
    let (writer, guard) = log_batch::batch_sink(std::io::stderr())?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text if std::io::stderr().is_terminal() => {
            registry.with(fmt::layer().with_writer(writer)).try_init()
        }
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .fmt_fields(PlainFields)
                    .event_format(PlainFormat::new(SystemTimeBySecond))
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(writer))
            .try_init(),
    };
    Ok(guard)
}

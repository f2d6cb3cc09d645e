//! The clock, read the way PyJWT reads it: seconds since the epoch as a float, so that the
//! `exp`/`nbf`/`iat` comparisons (and the `fresh` timestamp) round like Flask's.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, with the fraction.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whole seconds since the epoch (what `iat`, `nbf` and `exp` hold).
pub(crate) fn now_secs() -> i64 {
    now() as i64
}

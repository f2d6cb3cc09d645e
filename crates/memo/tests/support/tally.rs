//! How many tests ran on each backend, printed when the test binary exits:
//! a green run that skipped PostgreSQL or Redis shows it in its last lines.
//!
//! libtest has no end-of-run hook and Rust runs no destructor at exit, so
//! the report is registered with the C library's `atexit`.

use std::sync::{
    Once,
    atomic::{AtomicUsize, Ordering},
};

use super::say;

/// What a test ran on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
    Redis,
}

static RAN: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
static SKIPPED: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

/// Counts a test that runs on `backend`.
pub fn ran(backend: Backend) {
    report_at_exit();
    RAN[backend as usize].fetch_add(1, Ordering::Relaxed);
}

/// Counts a test that was skipped because `backend` is unreachable.
pub fn skipped(backend: Backend) {
    report_at_exit();
    SKIPPED[backend as usize].fetch_add(1, Ordering::Relaxed);
}

fn report_at_exit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `report` is a plain `extern "C" fn` without arguments that
        // only reads atomics and writes to standard error, which is what
        // atexit requires of a handler.
        #[allow(unsafe_code)]
        let registered = unsafe { libc::atexit(report) };
        if registered != 0 {
            say("warning: the per-backend test counts cannot be reported");
        }
    });
}

extern "C" fn report() {
    let count =
        |list: &[AtomicUsize; 3], backend: Backend| list[backend as usize].load(Ordering::Relaxed);
    let mut line = format!(
        "memo tests by backend: {} ran on SQLite, {} on PostgreSQL, {} with Redis",
        count(&RAN, Backend::Sqlite),
        count(&RAN, Backend::Postgres),
        count(&RAN, Backend::Redis),
    );
    let (postgres, redis) = (
        count(&SKIPPED, Backend::Postgres),
        count(&SKIPPED, Backend::Redis),
    );
    if postgres + redis > 0 {
        line.push_str(&format!(
            "; SKIPPED {postgres} on PostgreSQL and {redis} with Redis (unreachable)"
        ));
    }
    say(&line);
}

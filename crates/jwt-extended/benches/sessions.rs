//! "Log out everywhere" at a real user's size: `JwtManager::end_other_sessions` for a user with
//! 300 logins, in an `SqlStore` on a SQLite file with `synchronous=FULL` (every commit waits
//! for the disk), as memo keeps its sessions.
//!
//! `cargo bench -p jwt-extended --features sqlite --bench sessions`. Each sample logs the user
//! in 300 times (not timed), then times ending 299 of those logins. Revoked one after another
//! (`CONCURRENT_REVOCATIONS` set to 1), each family waited for its own commit: 87.5 ms
//! (70-107) on the 2-core machine of 2026-12-06 while it also ran the test suite; revoked 8 at
//! a time, they share the writer's group commits: 17.3 ms (15-20), measured right after.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use jwt_extended::{JsonObject, JwtConfig, JwtManager, SqlStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

const LOGINS: usize = 300;

async fn manager(file: &std::path::Path) -> JwtManager {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("a SQLite file");
    let store = SqlStore::sqlite(pool);
    store.migrate().await.expect("migrate");
    let config = JwtConfig::default().with_secret_key("a long random secret, 32 bytes or more");
    JwtManager::builder(config)
        .session_store(store)
        .build()
        .expect("a manager")
}

/// Logs user 7 in [`LOGINS`] times and returns the last login's family.
async fn logins(jwt: &JwtManager) -> String {
    let mut last = None;
    for _ in 0..LOGINS {
        last = jwt
            .login("7", JsonObject::new(), None)
            .await
            .expect("login")
            .family;
    }
    last.expect("a family")
}

fn end_other_sessions(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = std::env::temp_dir().join(format!("jwt-bench-sessions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let jwt = runtime.block_on(manager(&dir.join("sessions.db")));
    let mut group = c.benchmark_group("sessions");
    group.sample_size(10);
    group.bench_function("end_other_sessions_of_300_sqlite_file", |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                let keep = runtime.block_on(logins(&jwt));
                let started = Instant::now();
                let ended = runtime.block_on(jwt.end_other_sessions("7", &keep));
                spent += started.elapsed();
                assert_eq!(ended.expect("ended"), LOGINS - 1);
                runtime.block_on(jwt.end_all_sessions("7")).expect("ended");
            }
            spent
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, end_other_sessions);
criterion_main!(benches);

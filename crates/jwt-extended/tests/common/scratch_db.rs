//! A PostgreSQL database of a test's own, with a random name, dropped by the test: from
//! `POSTGRES_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/test`). Without
//! PostgreSQL the test says so and passes, except under `CI=true`, where it fails. A test
//! that fails before it drops its database (a panicking assertion) drops it all the same;
//! only a killed test process leaves its database on the shared server.

use sqlx::{Connection, Executor, PgConnection};

pub fn admin_url() -> String {
    std::env::var("POSTGRES_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub struct ScratchDatabase {
    pub name: String,
    pub url: String,
    dropped: bool,
}

impl ScratchDatabase {
    /// A new database named `<prefix>_<random>`; `None` when PostgreSQL is unreachable.
    pub async fn create(prefix: &str) -> Option<Self> {
        let admin = admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL is required under CI=true: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no PostgreSQL ({e})");
                return None;
            }
        };
        let Some((base, _)) = admin.rsplit_once('/') else {
            panic!("POSTGRES_ADMIN_URL names no database: {admin}");
        };
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let url = format!("{base}/{name}");
        Some(Self {
            name,
            url,
            dropped: false,
        })
    }

    /// Drops the database, ending the connections still open to it.
    pub async fn drop_now(mut self) {
        drop_database(&self.name).await;
        self.dropped = true;
    }
}

async fn drop_database(name: &str) {
    if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = conn.execute(drop.as_str()).await;
    }
}

/// The database of a test that did not reach its `drop_now` (it panicked), dropped from a
/// thread of its own: this runs inside the test's runtime, which cannot be blocked on.
impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let name = std::mem::take(&mut self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(drop_database(&name));
            }
        })
        .join();
    }
}

//! A PostgreSQL database of the test's own: `memo_test_<uuid>` on the
//! server at `MEMO_TEST_POSTGRES_URL`, dropped (`WITH (FORCE)`) when the
//! [`TempDatabase`] is.

use std::{sync::OnceLock, time::Duration};

use super::{ci, say, tally};

/// Where the test databases are created unless `MEMO_TEST_POSTGRES_URL` says.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database created for one test.
#[derive(Debug)]
pub struct TempDatabase {
    admin_url: String,
    name: String,
    url: String,
    drop_on_drop: bool,
}

impl TempDatabase {
    /// Creates the database. `None` when the server is unreachable (the
    /// test is then skipped, and says so once), except under `CI=true`,
    /// where it panics.
    pub async fn create() -> Option<Self> {
        use sqlx::Connection as _;
        let admin_url = admin_url();
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(&admin_url),
        )
        .await;
        let mut admin = match connected {
            Ok(Ok(admin)) => admin,
            Ok(Err(err)) => return skip(&admin_url, &err.to_string()),
            Err(_) => return skip(&admin_url, "timed out"),
        };
        let name = format!("memo_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        let _ = admin.close().await;
        Some(Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
            drop_on_drop: true,
        })
    }

    /// The database's URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin URL and the database's name; the caller drops it.
    #[must_use]
    pub fn into_parts(mut self) -> (String, String) {
        self.drop_on_drop = false;
        (self.admin_url.clone(), self.name.clone())
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        if self.drop_on_drop {
            drop_database(&self.admin_url, &self.name);
        }
    }
}

/// `MEMO_TEST_POSTGRES_URL`, or the default.
#[must_use]
pub fn admin_url() -> String {
    std::env::var("MEMO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// Drops `name` from a thread of its own: this may run inside a test's
/// runtime, which cannot be blocked on.
pub fn drop_database(admin_url: &str, name: &str) {
    let (admin_url, database) = (admin_url.to_owned(), name.to_owned());
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
            sqlx::query(&format!(
                r#"DROP DATABASE IF EXISTS "{database}" WITH (FORCE)"#
            ))
            .execute(&mut admin)
            .await
            .ok()
        })
    })
    .join();
    if !matches!(dropped, Ok(Some(_))) {
        say(&format!("warning: could not drop the test database {name}"));
    }
}

fn skip(url: &str, why: &str) -> Option<TempDatabase> {
    assert!(
        !ci(),
        "PostgreSQL is unreachable at {url} ({why}), and CI=true requires the PostgreSQL tests to run"
    );
    tally::skipped(tally::Backend::Postgres);
    static SAID: OnceLock<()> = OnceLock::new();
    SAID.get_or_init(|| {
        say(&format!(
            "SKIPPING the PostgreSQL tests: PostgreSQL is unreachable at {url} ({why}); set CI=true to make this an error"
        ));
    });
    None
}

/// The admin URL with its database name replaced.
#[must_use]
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

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

/// A PostgreSQL server of the test's own, for tests that stop it: `initdb`
/// in a temporary folder, its own port on 127.0.0.1 and socket folder, trust
/// authentication. The shared server is never touched. As root, the server
/// runs as the `postgres` user (PostgreSQL refuses root). Dropping it stops
/// it at once and removes its files.
///
/// Its methods block (they run `initdb` and `pg_ctl`): call them in
/// `tokio::task::block_in_place`.
#[derive(Debug)]
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// Creates and starts one; `None` (said) without PostgreSQL's programs,
    /// except under `CI=true`, where that fails.
    #[must_use]
    pub fn start() -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Self { dir, port };
        if as_root() {
            let owned = std::process::Command::new("chown")
                .args(["-R", "postgres"])
                .arg(server.dir.path())
                .status();
            assert!(matches!(owned, Ok(s) if s.success()), "chown to postgres");
        }
        let data = server.data();
        if let Err(why) = server.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
        ) {
            assert!(
                !ci(),
                "initdb failed ({why}), and CI=true requires this test to run"
            );
            say(&format!(
                "SKIPPING a test that needs a PostgreSQL of its own: {why}"
            ));
            return None;
        }
        server.start_again();
        Some(server)
    }

    /// The URL of its `postgres` database.
    #[must_use]
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it as an administrator would (`pg_ctl stop -m fast`: sessions
    /// are ended, then the server shuts down).
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]).expect("pg_ctl stop");
    }

    /// Starts it (again) on the same port and data, and waits until it
    /// accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.pg_ctl(&["-l", &log, "-o", &options, "start"])
            .expect("pg_ctl start");
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let data = self.data();
        let mut all = vec!["-D", &data, "-w"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    /// Runs one of PostgreSQL's programs, as `postgres` when root.
    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let mut command = if as_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--", program]);
            command
        } else {
            std::process::Command::new(program)
        };
        let output = command
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "{program}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}

fn as_root() -> bool {
    rustix::process::geteuid().is_root()
}

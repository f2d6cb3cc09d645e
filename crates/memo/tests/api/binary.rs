//! The `memo` binary itself, as scripts and the end-to-end tests use it: the
//! one stdout line with the real port, the generated secret, `memo user
//! add` from standard input, refusal of unsafe production settings, and a
//! clean exit on SIGTERM.

use std::{
    io::{Read as _, Write as _},
    path::Path,
    process::{Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::process::MemoProcess;

/// `memo` with a clean environment: only what the test passes.
fn memo(data_dir: &Path) -> Command {
    MemoProcess::command(data_dir)
}

/// Starts `memo serve` on a free port.
fn serve(command: &mut Command) -> MemoProcess {
    MemoProcess::start(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memo_serves_on_the_port_it_prints_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let added = user_add(
        &mut memo(dir.path()),
        &["boss", "--manager", "--department", "CTO Office"],
        b"boss password\n",
    );
    assert!(added.status.success());
    assert!(String::from_utf8_lossy(&added.stdout).contains("created user \"boss\""));

    let mut server = serve(memo(dir.path()).stderr(Stdio::null()));
    let address = server.address.clone();
    assert!(
        address.starts_with("http://127.0.0.1:") && !address.ends_with(":0"),
        "{address}"
    );

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("a client");
    let health = client
        .get(format!("{address}/api/health"))
        .send()
        .await
        .expect("answer");
    assert_eq!(health.status(), StatusCode::OK);
    let login = client
        .post(format!("{address}/api/auth/login"))
        .json(&json!({"user_name": "boss", "password": "boss password"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(login.status(), StatusCode::OK);
    let users = client
        .get(format!("{address}/api/admin/users"))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        users.status(),
        StatusCode::OK,
        "the user added from the command line is a manager"
    );

    server.terminate();
    let status = server.wait();
    assert!(status.success(), "a clean exit on SIGTERM: {status}");
    let mut rest = String::new();
    server
        .stdout
        .read_to_string(&mut rest)
        .expect("the rest of stdout");
    assert_eq!(rest, "", "exactly one line on stdout");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let secret = dir.path().join(memo::config::SECRET_FILE_NAME);
        let mode = std::fs::metadata(secret)
            .expect("the generated secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn production_without_a_long_secret_refuses_to_start() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for secret in [None, Some("too short")] {
        let mut command = memo(dir.path());
        command
            .args(["--bind", "127.0.0.1:0"])
            .env("MEMO_ENV", "production");
        if let Some(secret) = secret {
            command.env("JWT_SECRET_KEY", secret);
        }
        let output = command.output().expect("memo runs");
        assert!(!output.status.success());
        assert!(output.stdout.is_empty(), "no listening line");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("JWT_SECRET_KEY") && stderr.contains("32"),
            "{stderr}"
        );
    }
}

#[test]
fn a_bad_frontend_origin_is_a_start_up_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let output = memo(dir.path())
        .args(["--bind", "127.0.0.1:0"])
        .env("FRONTEND_ORIGIN", "localhost:5173")
        .output()
        .expect("memo runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("FRONTEND_ORIGIN") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// Every value that must stay secret: the JWT secret, passwords (right and
/// wrong), the tokens and CSRF values of the cookies, is nowhere in the log
/// of a whole session, even at DEBUG, while the requests themselves are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_of_a_whole_session_holds_no_secret_password_or_token() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let log_path = dir.path().join("memo.log");
    let log = std::fs::File::create(&log_path).expect("the log file");
    let secret = "log-test-secret-0123456789abcdefghijklmnopqrstuv";
    let mut server = serve(
        memo(dir.path())
            .env("JWT_SECRET_KEY", secret)
            .env("RUST_LOG", "debug")
            .env("MEMO_RATE_LIMITS", "off")
            .stderr(log),
    );
    let address = server.address.clone();
    let url = |path: &str| format!("{address}{path}");

    let client = reqwest::Client::new();
    let password = "correct horse battery staple";
    let wrong = "wrong horse battery staple";
    let credentials = |password: &str| json!({"user_name": "leaky", "password": password});
    let registered = client
        .post(url("/api/auth/register"))
        .json(&credentials(password));
    assert_eq!(
        registered.send().await.expect("answer").status(),
        StatusCode::CREATED
    );
    let refused = client
        .post(url("/api/auth/login"))
        .json(&credentials(wrong));
    assert_eq!(
        refused.send().await.expect("answer").status(),
        StatusCode::UNAUTHORIZED
    );
    let login = client
        .post(url("/api/auth/login"))
        .json(&credentials(password))
        .send()
        .await
        .expect("answer");
    assert_eq!(login.status(), StatusCode::OK);
    let cookies: Vec<(String, String)> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next()?.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    assert_eq!(cookies.len(), 4, "{cookies:?}");
    let value = |name: &str| {
        cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .expect("the cookie")
    };
    let jar = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{n}={}", value(n)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let access = jar(&["access_token_cookie", "csrf_access_token"]);
    let created = client
        .post(url("/api/memos"))
        .header("cookie", &access)
        .header("X-CSRF-TOKEN", value("csrf_access_token"))
        .json(&json!({"title": "t", "content": "c"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(created.status(), StatusCode::CREATED);
    // A tampered token and a wrong CSRF value: the rejections must not echo them.
    let tampered = format!("access_token_cookie={}x", value("access_token_cookie"));
    let rejected = client.get(url("/api/memos")).header("cookie", tampered);
    assert_eq!(
        rejected.send().await.expect("answer").status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let wrong_csrf = client
        .post(url("/api/memos"))
        .header("cookie", &access)
        .header("X-CSRF-TOKEN", "not-the-csrf-value-0123456789")
        .json(&json!({"title": "t"}));
    assert_eq!(
        wrong_csrf.send().await.expect("answer").status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = client
        .post(url("/api/auth/refresh"))
        .header(
            "cookie",
            jar(&["refresh_token_cookie", "csrf_refresh_token"]),
        )
        .header("X-CSRF-TOKEN", value("csrf_refresh_token"))
        .send()
        .await
        .expect("answer");
    assert_eq!(refreshed.status(), StatusCode::OK);
    let logout = client
        .post(url("/api/auth/logout"))
        .header(
            "cookie",
            jar(&[
                "access_token_cookie",
                "csrf_access_token",
                "refresh_token_cookie",
            ]),
        )
        .header("X-CSRF-TOKEN", value("csrf_access_token"))
        .send()
        .await
        .expect("answer");
    assert_eq!(logout.status(), StatusCode::OK);

    server.terminate();
    assert!(server.wait().success());
    let text = std::fs::read_to_string(&log_path).expect("the log");
    assert!(
        text.contains("/api/auth/refresh"),
        "the requests are logged:\n{text}"
    );
    let mut secrets = vec![secret.to_owned(), password.to_owned(), wrong.to_owned()];
    secrets.extend(cookies.iter().map(|(_, v)| v.clone()));
    for (name, _) in &cookies {
        // Each JWT's signature part alone must not leak either.
        if let Some(signature) = value(name).rsplit('.').next().filter(|s| s.len() > 20) {
            secrets.push(signature.to_owned());
        }
    }
    for secret in secrets {
        assert!(!text.contains(&secret), "the log holds {secret:?}:\n{text}");
    }
}

/// The mode bits of `path`.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Another local user must not read the accounts or memos: the data dir
/// memo creates is 0700, and the database (with its `-wal` and `-shm`) and
/// the secret are 0600, even under `umask 000`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_memo_creates_in_its_data_dir_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = dir.path().join("data");
    let server = MemoProcess::start(
        MemoProcess::command_after_sh(&data, "umask 000")
            .env("MEMO_RATE_LIMITS", "off")
            .stderr(Stdio::null()),
    );
    let registered = reqwest::Client::new()
        .post(server.url("/api/auth/register"))
        .json(&json!({"user_name": "private", "password": "private password"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(registered.status(), StatusCode::CREATED);
    assert_eq!(mode(&data), 0o700, "the data dir");
    for file in ["memo.db", "memo.db-wal", memo::config::SECRET_FILE_NAME] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    // The process holds the file alone, so SQLite keeps the WAL's index in
    // memory, not in a file others could map.
    assert!(!data.join("memo.db-shm").exists());
}

/// A data dir or database that others can read (made before this version,
/// or by hand) is left as it is, with a warning at start.
#[cfg(unix)]
#[test]
fn a_data_dir_readable_by_others_is_warned_about_at_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("the data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(data.join("memo.db"), b"").expect("an empty database");
    std::fs::set_permissions(data.join("memo.db"), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let log = dir.path().join("memo.log");
    let mut server =
        MemoProcess::start(memo(&data).stderr(std::fs::File::create(&log).expect("the log file")));
    server.terminate();
    assert!(server.wait().success());
    let text = std::fs::read_to_string(&log).expect("the log");
    for path in [data.clone(), data.join("memo.db")] {
        let line = text.lines().find(|line| {
            line.contains("other users can read") && line.contains(&*path.to_string_lossy())
        });
        assert!(
            line.is_some(),
            "no warning about {}:\n{text}",
            path.display()
        );
    }
    assert_eq!(mode(&data), 0o755, "left as it was");
}

/// `web/dist` is watched by the build even before the SPA is built, so a
/// `cargo build` made first reruns after `npm run build` (cargo reads these
/// lines from the build script's output).
#[test]
fn the_build_watches_web_dist_even_before_the_spa_is_built() {
    let output = Path::new(env!("OUT_DIR"))
        .parent()
        .expect("the build script's folder")
        .join("output");
    let text = std::fs::read_to_string(&output).expect("the build script's output");
    let dist = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace")
        .join("web/dist");
    let dist = dist.to_string_lossy();
    assert!(
        text.lines()
            .any(|l| l == format!("cargo::rerun-if-changed={dist}")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == format!("cargo::rustc-env=MEMO_WEB_DIST={dist}")),
        "{text}"
    );
}

/// A binary without the SPA says so when it starts, instead of quietly
/// serving "the web app is not built".
#[test]
fn serve_warns_at_start_when_no_spa_is_embedded() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let log = dir.path().join("memo.log");
    let mut server = MemoProcess::start(
        memo(dir.path()).stderr(std::fs::File::create(&log).expect("the log file")),
    );
    server.terminate();
    assert!(server.wait().success());
    let text = std::fs::read_to_string(&log).expect("the log");
    let warned = text.contains("WARN") && text.contains("web/dist is not built");
    assert_eq!(warned, !memo::http::spa_is_built(), "{text}");
}

/// `command user add ARGS...`, the password written to its standard input.
fn user_add(command: &mut Command, args: &[&str], password: &[u8]) -> std::process::Output {
    let mut add = command
        .args(["user", "add"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("memo user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(password)
        .expect("the password");
    add.wait_with_output().expect("memo user add ends")
}

/// `memo user add NAME` on `data_dir`, with `DATABASE_URL` when given: its
/// exit status and stderr.
fn add_user(data_dir: &Path, name: &str, database_url: Option<&str>) -> (bool, String) {
    let mut command = memo(data_dir);
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let added = user_add(&mut command, &[name], b"a long enough password\n");
    (
        added.status.success(),
        String::from_utf8_lossy(&added.stderr).into_owned(),
    )
}

/// The child's exit status if it exits within `limit` (polled every 50 ms).
fn exit_within(child: &mut std::process::Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("the child's status") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn a_served_sqlite_file_is_refused_to_other_processes_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut server = serve(memo(dir.path()).stderr(Stdio::null()));

    let (added, stderr) = add_user(dir.path(), "second", None);
    assert!(!added, "another process cannot open the file memo serves");
    assert!(
        stderr.contains("is in use by another process") && stderr.contains("?vfs=unix"),
        "says why and what to do: {stderr}"
    );
    let mut second = memo(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("a second memo serve");
    let exited = exit_within(&mut second, Duration::from_secs(30));
    let mut stderr = String::new();
    if exited.is_none() {
        let _ = second.kill();
        let _ = second.wait();
    }
    second
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("its stderr");
    assert!(
        exited.is_some_and(|status| !status.success())
            && stderr.contains("is in use by another process"),
        "a second server on the file, which would answer revocations from its own memory, \
         stops at start: {stderr}"
    );

    server.terminate();
    assert!(server.wait().success());
    let (added, stderr) = add_user(dir.path(), "after", None);
    assert!(
        added,
        "the file is free once memo serve has stopped: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_that_all_name_the_unix_vfs_share_the_sqlite_file() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}?vfs=unix", dir.path().join("memo.db").display());
    let mut server = serve(
        memo(dir.path())
            .env("DATABASE_URL", &url)
            .stderr(Stdio::null()),
    );
    let (added, stderr) = add_user(dir.path(), "beside", Some(&url));
    assert!(added, "memo user add runs beside memo serve: {stderr}");
    let login = reqwest::Client::new()
        .post(format!("{}/api/auth/login", server.address))
        .json(&json!({"user_name": "beside", "password": "a long enough password"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "the running server sees the user added beside it"
    );
    server.terminate();
    assert!(server.wait().success());
}

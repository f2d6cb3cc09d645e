//! The test rig: a real `memo` server on 127.0.0.1:0 with its own database
//! (a temporary SQLite file, or a PostgreSQL database created for the test
//! and dropped after it), and a `reqwest` client with a cookie store, like a
//! browser.

use std::{sync::Arc, time::Duration};

use memo::{
    App, Config,
    config::Secret,
    db::{Db, NewUser},
    domain::Password,
    password::Passwords,
};
use reqwest::{
    Method, Response, StatusCode,
    cookie::{CookieStore as _, Jar},
    header::HeaderMap,
};
use serde_json::Value;
use tokio::sync::oneshot;

// Kept for tests that build PostgreSQL URLs by hand.
#[allow(unused_imports)]
pub use crate::support::postgres::with_database;
use crate::support::{
    postgres::TempDatabase,
    tally::{self, Backend as Counted},
};

/// The backend a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares each scenario once per backend: `sqlite::name` and
/// `postgres::name`, each starting its own server and database.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use backend_tests;

/// The test's database; dropping it removes it.
enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] TempDatabase),
}

/// The server's lifetime: dropping the last handle stops the server, then
/// removes its database (a second instance keeps the first one's database
/// alive through `_first`).
struct ServerGuard {
    shutdown: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    _db: Option<TestDb>,
    _first: Option<Arc<ServerGuard>>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.lock().ok().and_then(|mut s| s.take()) {
            let _ = shutdown.send(());
        }
    }
}

/// A running server and a browser-like client.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub database_url: String,
    pub secret: Vec<u8>,
    _server: Arc<ServerGuard>,
}

/// A user of the rig.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub user_name: String,
    pub password: String,
}

impl TestUser {
    pub fn generate() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            user_name: format!("user-{}", &id[..12]),
            password: format!("pw-{id}"),
        }
    }

    pub fn credentials(&self) -> Value {
        serde_json::json!({ "user_name": self.user_name, "password": self.password })
    }
}

/// Which CSRF value a request sends in `X-CSRF-TOKEN`.
#[derive(Clone, Debug)]
pub enum Csrf {
    /// None.
    Off,
    /// The `csrf_access_token` cookie's value (what the SPA sends).
    Access,
    /// The `csrf_refresh_token` cookie's value.
    Refresh,
    /// This value.
    Value(String),
}

/// Starts a server with the test defaults; `None` when the backend is
/// PostgreSQL and no server answers (outside CI).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Starts a server after `tweak` has adjusted its configuration.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    init_logs();
    let (database_url, db) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let url = format!("sqlite://{}", dir.path().join("memo.db").display());
            tally::ran(Counted::Sqlite);
            (url, TestDb::Sqlite(dir))
        }
        Backend::Postgres => {
            let database = TempDatabase::create().await?;
            tally::ran(Counted::Postgres);
            (database.url().to_owned(), TestDb::Postgres(database))
        }
    };
    let secret: Vec<u8> = (0..48).map(|_| rand::random::<u8>()).collect();
    let mut config = Config::new(database_url.clone(), Secret::new(secret.clone()));
    config.rate_limits = test_rate_limits();
    tweak(&mut config);
    Some(start(config, Some(db), None).await)
}

/// Starts a server on a database the test runs itself (a private PostgreSQL
/// it stops, say), after `tweak`.
pub async fn spawn_app_on(database_url: &str, tweak: impl FnOnce(&mut Config)) -> TestApp {
    init_logs();
    let secret: Vec<u8> = (0..48).map(|_| rand::random::<u8>()).collect();
    let mut config = Config::new(database_url.to_owned(), Secret::new(secret));
    config.rate_limits = test_rate_limits();
    tweak(&mut config);
    start(config, None, None).await
}

/// The production limits, set explicitly; the Redis keys get a prefix of
/// their own so that tests (and earlier runs) never share counters.
fn test_rate_limits() -> memo::limits::RateLimitConfig {
    memo::limits::RateLimitConfig {
        redis_prefix: format!("memo-test-{}:limits", uuid::Uuid::new_v4().simple()),
        ..memo::limits::RateLimitConfig::default()
    }
}

async fn start(config: Config, db: Option<TestDb>, first: Option<Arc<ServerGuard>>) -> TestApp {
    let database_url = config.database_url.clone();
    let secret = config
        .jwt
        .config
        .secret_key()
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let app = App::build(config).await.expect("the server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let (client, jar) = browser();
    let server = Arc::new(ServerGuard {
        shutdown: std::sync::Mutex::new(Some(shutdown)),
        _db: db,
        _first: first,
    });
    TestApp {
        address,
        client,
        jar,
        database_url,
        secret,
        _server: server,
    }
}

/// A client with a cookie store of its own, like a browser.
fn browser() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    (client, jar)
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        // The log writer lives as long as the test process.
        std::mem::forget(memo::telemetry::init(memo::cli::LogFormat::Text));
    }
}

/// Creates `memo_test_<uuid>` on the PostgreSQL server and returns the admin
/// URL and the name; the caller drops it. Prefer
/// [`TempDatabase`](crate::support::postgres::TempDatabase), which drops
/// itself. `None` (skipped) when the server is unreachable, except under
/// `CI=true`.
#[allow(dead_code)]
pub async fn create_postgres_database() -> Option<(String, String)> {
    Some(TempDatabase::create().await?.into_parts())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The value of a cookie the client would send to `path`.
    pub fn cookie_for(&self, path: &str, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.url(path)).expect("a URL");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    }

    pub fn csrf_access(&self) -> Option<String> {
        self.cookie_for("/", "csrf_access_token")
    }

    /// Sends a request with the cookie store and the chosen CSRF header.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        csrf: Csrf,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        let csrf = match csrf {
            Csrf::Off => None,
            Csrf::Access => self.csrf_access(),
            Csrf::Refresh => self.cookie_for("/", "csrf_refresh_token"),
            Csrf::Value(value) => Some(value),
        };
        if let Some(csrf) = csrf {
            request = request.header("X-CSRF-TOKEN", csrf);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the server answers")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None, Csrf::Off).await
    }

    /// A request as the SPA makes it: JSON body and the access CSRF header.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        self.send(method, path, body, Csrf::Access).await
    }

    pub async fn register(&self, user: &TestUser) -> Response {
        self.send(
            Method::POST,
            "/api/auth/register",
            Some(&user.credentials()),
            Csrf::Off,
        )
        .await
    }

    pub async fn login(&self, user: &TestUser) -> Response {
        self.send(
            Method::POST,
            "/api/auth/login",
            Some(&user.credentials()),
            Csrf::Off,
        )
        .await
    }

    /// Registers and logs in a new user; returns it with its id.
    pub async fn signed_in_user(&self) -> (TestUser, i64) {
        let user = TestUser::generate();
        let registered = self.register(&user).await;
        assert_eq!(registered.status(), StatusCode::CREATED);
        let id = json(registered).await["id"].as_i64().expect("an id");
        assert_eq!(self.login(&user).await.status(), StatusCode::OK);
        (user, id)
    }

    /// Creates a user straight in the database (as `memo user add` does).
    pub async fn add_user(&self, user: &TestUser, manager: bool, department: Option<&str>) -> i64 {
        let db = Db::connect(&self.database_url).await.expect("the database");
        let hash = Passwords::new()
            .await
            .expect("hasher")
            .hash(Password::parse(user.password.clone()).expect("a valid password"))
            .await
            .expect("a hash");
        let new = NewUser {
            user_name: &user.user_name,
            password_hash: &hash,
            department,
            manager_role_attached: manager,
        };
        let created = db
            .insert_user(&new)
            .await
            .expect("insert")
            .expect("a new name");
        db.close().await;
        created.id
    }

    pub async fn create_memo(&self, title: &str, content: &str) -> Value {
        let body = serde_json::json!({ "title": title, "content": content });
        let response = self.call(Method::POST, "/api/memos", Some(&body)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        json(response).await
    }

    /// A second client with no cookies, for "another browser" and for
    /// replaying stolen cookies by hand.
    pub fn bare_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client")
    }

    /// A second server on the same database with the same key (another
    /// instance behind the load balancer), after `tweak`; with a browser of
    /// its own.
    pub async fn second_instance(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::new(self.database_url.clone(), Secret::new(self.secret.clone()));
        config.rate_limits = test_rate_limits();
        tweak(&mut config);
        start(config, None, Some(self._server.clone())).await
    }

    /// Another browser-like client (its own cookie store) on this server.
    pub fn other_browser(&self) -> TestApp {
        let (client, jar) = browser();
        TestApp {
            address: self.address.clone(),
            client,
            jar,
            database_url: self.database_url.clone(),
            secret: self.secret.clone(),
            _server: self._server.clone(),
        }
    }
}

/// The body as JSON.
pub async fn json(response: Response) -> Value {
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts the contract's error shape: this status and `{"msg": msg}`.
#[track_caller]
pub fn assert_error_sync(status: StatusCode, body: &Value, expected_status: StatusCode, msg: &str) {
    assert_eq!(status, expected_status, "body: {body}");
    assert_eq!(body, &serde_json::json!({ "msg": msg }), "status {status}");
}

pub async fn assert_error(response: Response, status: StatusCode, msg: &str) {
    let actual = response.status();
    let body = json(response).await;
    assert_error_sync(actual, &body, status, msg);
}

/// Asserts an error with this status whose message contains `part`.
pub async fn assert_error_containing(response: Response, status: StatusCode, part: &str) {
    let actual = response.status();
    let body = json(response).await;
    assert_eq!(actual, status, "body: {body}");
    let msg = body["msg"]
        .as_str()
        .unwrap_or_else(|| panic!("no msg: {body}"));
    assert!(msg.contains(part), "{msg:?} should mention {part:?}");
    assert_eq!(
        body.as_object().map(serde_json::Map::len),
        Some(1),
        "only msg: {body}"
    );
}

/// Every `Set-Cookie` line of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ASCII").to_owned())
        .collect()
}

/// The `Set-Cookie` line for `name`.
pub fn set_cookie<'a>(lines: &'a [String], name: &str) -> &'a str {
    lines
        .iter()
        .find(|line| line.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
}

/// The value in a `Set-Cookie` line.
pub fn cookie_value(line: &str) -> &str {
    line.split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, v)| v)
        .expect("name=value")
}

/// A JWT's payload, decoded without checking it (to look at its claims).
pub fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON payload")
}

/// The payload's keys, in their order in the token.
pub fn payload_keys(token: &str) -> Vec<String> {
    use base64::Engine as _;
    let part = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    let text = String::from_utf8(bytes).expect("UTF-8");
    // serde_json's Map sorts keys, so read them in order by hand: every key
    // of a flat object is a string right after `{` or `,`.
    let mut keys = Vec::new();
    let mut depth = 0;
    let mut chars = text.char_indices().peekable();
    let mut expect_key = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '{' => {
                depth += 1;
                expect_key = depth == 1;
            }
            '}' => depth -= 1,
            ',' if depth == 1 => expect_key = true,
            '"' => {
                let start = i + 1;
                let mut end = start;
                let mut escaped = false;
                for (j, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        end = j;
                        break;
                    }
                }
                if expect_key {
                    keys.push(text[start..end].to_owned());
                    expect_key = false;
                }
            }
            _ => {}
        }
    }
    keys
}

/// Signs `claims` with the server's secret (HS256), to make tokens the server
/// would never issue: expired ones, or ones without a claim.
pub fn forge(app: &TestApp, claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(&app.secret);
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).expect("a token")
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Waits for the wall clock's next second: logins are stamped in seconds,
/// so two logins on either side of it have a defined order.
pub async fn next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    let rest = std::time::Duration::from_secs(1)
        - std::time::Duration::from_nanos(now.subsec_nanos().into());
    tokio::time::sleep(rest + std::time::Duration::from_millis(5)).await;
}

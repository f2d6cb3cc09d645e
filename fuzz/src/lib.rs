//! The fuzz harness, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/`)
//! and by the regression test `crates/memo/tests/fuzz_regressions.rs`, which
//! includes this file with `#[path]` so that CI replays the seeds, every
//! saved crash and a bounded random loop without libFuzzer or nightly.
//!
//! Each `check_*` function panics when it finds a bug: a panic inside the
//! code under test, a 5xx answer, or an error body that is not `{"msg"}`.
//! Only the crates that `memo`'s tests can already use appear here.

#![allow(clippy::missing_panics_doc, clippy::expect_used, clippy::unwrap_used)]

use std::{
    net::{IpAddr, SocketAddr},
    sync::OnceLock,
    time::Duration,
};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header},
};
use jwt_extended::{
    JwtManager, MemoryRevocationStore, MemorySessionStore, TokenLocation, VerifyOptions,
};
use memo::{
    Config,
    config::Secret,
    db::{Db, NewUser},
    limits::RateLimitConfig,
    password::Passwords,
    state::AppState,
};
use tower::ServiceExt as _;

/// The key every harness token is signed with.
pub const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret-fuzz-secret!";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fn config(database_url: &str) -> Config {
    let mut config = Config::new(database_url, Secret::new(SECRET));
    config.rate_limits = RateLimitConfig::off();
    config
}

/// The app's token manager (cookies only, HS256), with an in-memory
/// revocation store.
pub fn manager() -> &'static JwtManager {
    static MANAGER: OnceLock<JwtManager> = OnceLock::new();
    MANAGER.get_or_init(|| {
        memo::tokens::manager(&config("sqlite::memory:"), MemoryRevocationStore::new())
            .expect("a manager")
    })
}

/// A valid access token and its CSRF value, for the seeds.
pub fn valid_access_token() -> (String, String) {
    let token = manager().access_token("1").encode().expect("a token");
    let csrf = manager()
        .get_csrf_token(&token)
        .expect("a CSRF claim")
        .unwrap_or_default();
    (token, csrf)
}

/// A valid refresh token, for the seeds.
pub fn valid_refresh_token() -> String {
    manager().refresh_token("1").encode().expect("a token")
}

/// Token decoding: `decode_token` (with and without expiry), the unverified
/// header, `get_jti` and `get_csrf_token` on arbitrary text. Nothing may
/// panic, and a token that decodes must be signed with the app's algorithm.
pub fn check_decode_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let jwt = manager();
    for allow_expired in [false, true] {
        if let Ok(token) = jwt.decode_token(&text, None, allow_expired) {
            assert_eq!(
                token.header.get("alg").and_then(|a| a.as_str()),
                Some("HS256"),
                "a token decoded with another algorithm: {text:?}"
            );
        }
    }
    let _ = jwt.decode_token(&text, Some("csrf"), false);
    let _ = jwt.unverified_header(&text);
    let _ = jwt.get_jti(&text);
    let _ = jwt.get_csrf_token(&text);
}

/// Splits fuzz bytes into `n` parts at 0xFF bytes.
fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(n, |b| *b == 0xFF).collect();
    parts.resize(n, &[]);
    parts
}

/// Request-header parsing: `verify_request` with arbitrary `Cookie`,
/// `Authorization`, `X-CSRF-TOKEN` and query bytes, for access and refresh
/// tokens, in every location; plus the rate limiter's `X-Forwarded-For`
/// parsing. Layout: `[selector] cookie 0xFF authorization 0xFF csrf 0xFF
/// query 0xFF x-forwarded-for`.
pub fn check_headers(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let parts = split(rest, 5);
    let method = match selector % 4 {
        0 => Method::GET,
        1 => Method::POST,
        2 => Method::DELETE,
        _ => Method::OPTIONS,
    };
    let mut headers = HeaderMap::new();
    for (name, bytes) in [
        (header::COOKIE, parts[0]),
        (header::AUTHORIZATION, parts[1]),
        (header::HeaderName::from_static("x-csrf-token"), parts[2]),
        (header::HeaderName::from_static("x-forwarded-for"), parts[4]),
    ] {
        if let Ok(value) = HeaderValue::from_bytes(bytes) {
            headers.append(name, value);
        }
    }
    let query = String::from_utf8_lossy(parts[3]);
    let uri = format!("/api/memos?{}", query.replace(['#', ' '], ""));
    let mut request = Request::builder().method(method).uri("/api/memos");
    if let Ok(parsed) = uri.parse::<axum::http::Uri>() {
        request = request.uri(parsed);
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let (mut request_parts, ()) = request.into_parts();
    request_parts.headers = headers;
    let all = [
        TokenLocation::Headers,
        TokenLocation::Cookies,
        TokenLocation::QueryString,
    ];
    let jwt = manager();
    runtime().block_on(async {
        for refresh in [false, true] {
            for locations in [None, Some(&all[..])] {
                let options = VerifyOptions {
                    refresh,
                    locations,
                    optional: selector & 4 != 0,
                    ..VerifyOptions::default()
                };
                if let Ok(Some(verified)) = jwt.verify_request(&request_parts, options).await {
                    assert_eq!(
                        verified.token.header.get("alg").and_then(|a| a.as_str()),
                        Some("HS256")
                    );
                }
            }
        }
    });
    let trusted: [IpAddr; 1] = [IpAddr::from([127, 0, 0, 1])];
    let peer = Some(IpAddr::from([127, 0, 0, 1]));
    let _ = memo::limits::client_ip(peer, &request_parts.headers, &trusted);
}

/// The app, in process, on a SQLite file with one user whose access token
/// the body requests carry.
struct App {
    router: memo::http::HttpApp,
    cookie: HeaderValue,
    csrf: HeaderValue,
    _dir: tempfile::TempDir,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        runtime().block_on(async {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let url = format!("sqlite://{}", dir.path().join("memo.db").display());
            let config = config(&url);
            let db = Db::connect(&url).await.expect("the database");
            db.migrate().await.expect("migrations");
            let passwords = Passwords::new().await.expect("a hasher");
            let hash = passwords
                .hash(memo::domain::Password::parse("fuzz-password".into()).expect("valid"))
                .await
                .expect("a hash");
            let user = db
                .insert_user(&NewUser {
                    user_name: "fuzz",
                    password_hash: &hash,
                    department: None,
                    manager_role_attached: false,
                })
                .await
                .expect("insert")
                .expect("a new user");
            let jwt = memo::tokens::session_manager(&config, MemorySessionStore::new(), db.clone())
                .expect("a manager");
            let token = jwt
                .access_token(user.id.to_string())
                .encode()
                .expect("a token");
            let csrf = jwt
                .get_csrf_token(&token)
                .expect("a CSRF claim")
                .unwrap_or_default();
            // One memo to patch.
            db.insert_memo(user.id, "first", "").await.expect("a memo");
            let cursors = memo::http::CursorKey::derive(&config.jwt.config).expect("a signing key");
            let state = AppState::new(&config, db, jwt, passwords, cursors);
            let (router, _) = memo::http::router(state, &config);
            App {
                router,
                cookie: HeaderValue::from_str(&format!("access_token_cookie={token}"))
                    .expect("a header"),
                csrf: HeaderValue::from_str(&csrf).expect("a header"),
                _dir: dir,
            }
        })
    })
}

/// The routes with a JSON body, chosen by the first byte.
const BODY_ROUTES: [(&str, &str); 5] = [
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/memos"),
    ("PATCH", "/api/memos/1"),
    ("PUT", "/api/memos/1"),
];

/// The JSON body of every route with one, through the real router (body
/// limit, JSON extraction, validation and the handler) in process: never a
/// 5xx, and every error is `{"msg": "..."}`.
pub fn check_body(data: &[u8]) {
    let _ = body_status(data);
}

/// [`check_body`], returning the answer's status (`None` for empty input).
pub fn body_status(data: &[u8]) -> Option<StatusCode> {
    let (&selector, body) = data.split_first()?;
    let (method, path) = BODY_ROUTES[usize::from(selector) % BODY_ROUTES.len()];
    let app = app();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, app.cookie.clone())
        .header("x-csrf-token", app.csrf.clone())
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
        .body(Body::from(body.to_vec()))
        .expect("a request");
    runtime().block_on(async {
        let response =
            tokio::time::timeout(Duration::from_secs(30), app.router.clone().oneshot(request))
                .await
                .expect("an answer within 30 s")
                .expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        assert!(
            !status.is_server_error(),
            "{method} {path} answered {status} to {:?}: {}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&bytes)
        );
        if status.is_client_error() && status != StatusCode::METHOD_NOT_ALLOWED {
            let value: serde_json::Value =
                serde_json::from_slice(&bytes).expect("an error body in JSON");
            assert!(
                value["msg"].is_string() && value.as_object().map(|o| o.len()) == Some(1),
                "{method} {path}: not {{\"msg\"}}: {value}"
            );
        }
        Some(status)
    })
}

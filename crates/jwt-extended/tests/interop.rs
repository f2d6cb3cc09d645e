//! Interop with the real Flask-JWT-Extended (issue item 7): tokens minted by Python are
//! accepted here and ours pass its `decode_token`, for HS256 and RS256 with the same keys; the
//! cookie lines are the same; and the same requests get the same status and body from a
//! Flask app and from ours.
//!
//! Run by `scripts/test-interop.sh`, which installs `flask-jwt-extended==4.7.*` into a venv and
//! points `JWT_INTEROP_PYTHON` at its interpreter. Without that variable each test prints
//! "skipped: JWT_INTEROP_PYTHON not set" and passes, except under `CI=true`, where it fails.

mod common;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use common::*;
use jsonwebtoken::Algorithm;
use jwt_extended::{JwtConfig, JwtManager, TokenLocation};
use serde_json::{Value, json};

fn python() -> Option<PathBuf> {
    match std::env::var_os("JWT_INTEROP_PYTHON") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("JWT_INTEROP_PYTHON must be set when CI=true (run scripts/test-interop.sh)")
        }
        _ => {
            println!("skipped: JWT_INTEROP_PYTHON not set");
            None
        }
    }
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs `flask_jwt.py <args>` with `stdin`, and parses its JSON answer.
fn flask(python: &Path, args: &[&str], stdin: Option<&str>) -> Value {
    let mut child = Command::new(python)
        .arg(repo_path("scripts/interop/flask_jwt.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the interop python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("stdin written");
    let output = child.wait_with_output().expect("python finishes");
    assert!(
        output.status.success(),
        "flask_jwt.py {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "flask_jwt.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The same settings on both sides.
struct Setup {
    name: &'static str,
    flask: Value,
    rust: JwtConfig,
}

fn hs256_setup() -> Setup {
    Setup {
        name: "HS256",
        flask: json!({"JWT_SECRET_KEY": SECRET}),
        rust: config(),
    }
}

fn rs256_setup() -> Setup {
    Setup {
        name: "RS256",
        flask: json!({
            "JWT_ALGORITHM": "RS256",
            "JWT_PRIVATE_KEY": fixture("rsa_private.pem"),
            "JWT_PUBLIC_KEY": fixture("rsa_public.pem"),
        }),
        rust: JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_private_key_pem(RSA_PRIVATE)
            .with_public_key_pem(RSA_PUBLIC),
    }
}

fn with_flask(mut config: Value, extra: &Value) -> String {
    if let (Some(base), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    config.to_string()
}

async fn flask_tokens_are_accepted_here(python: &Path, setup: Setup) {
    let name = setup.name;
    let minted = flask(
        python,
        &[
            "mint",
            "--config",
            &setup.flask.to_string(),
            "--identity",
            "alice",
        ],
        None,
    );
    let access = minted["access"].as_str().expect("access token");
    let refresh = minted["refresh"].as_str().expect("refresh token");
    let jwt = manager(setup.rust.with_token_location([TokenLocation::Cookies]));
    let decoded = jwt
        .decode_token(
            access,
            Some(minted["access_csrf"].as_str().expect("csrf")),
            false,
        )
        .unwrap_or_else(|e| panic!("{name}: Flask's access token refused: {e}"));
    assert_eq!(decoded.payload["sub"], "alice", "{name}");
    assert_eq!(decoded.payload["type"], "access", "{name}");
    assert_eq!(decoded.payload["fresh"], false, "{name}");
    assert_eq!(decoded.payload["csrf"], minted["access_csrf"], "{name}");
    assert_eq!(
        jwt.get_csrf_token(access).expect("valid").as_deref(),
        minted["access_csrf"].as_str(),
        "{name}"
    );
    // Same layout as ours, key for key.
    let ours = jwt.create_access_token("alice").expect("token");
    assert_eq!(payload_keys(access), payload_keys(&ours), "{name}");
    assert_eq!(header_of(access), header_of(&ours), "{name}");
    let decoded = jwt
        .decode_token(refresh, None, false)
        .expect("refresh token");
    assert_eq!(decoded.token_type(), "refresh", "{name}");
    assert_eq!(
        payload_keys(refresh),
        payload_keys(&jwt.create_refresh_token("a").expect("token"))
    );

    let app = app(jwt);
    call(
        &app,
        "POST",
        "/protected",
        &[
            ("cookie", &cookie("access_token_cookie", access)),
            (
                "x-csrf-token",
                minted["access_csrf"].as_str().expect("csrf"),
            ),
        ],
    )
    .await
    .assert_body(
        200,
        &json!({"sub": "alice", "location": "cookies", "type": "access"}),
    );
    call(
        &app,
        "POST",
        "/refresh",
        &[
            ("cookie", &cookie("refresh_token_cookie", refresh)),
            (
                "x-csrf-token",
                minted["refresh_csrf"].as_str().expect("csrf"),
            ),
        ],
    )
    .await
    .assert_body(
        200,
        &json!({"sub": "alice", "location": "cookies", "type": "refresh"}),
    );
    call(
        &app,
        "POST",
        "/protected",
        &[
            ("cookie", &cookie("access_token_cookie", access)),
            (
                "x-csrf-token",
                minted["refresh_csrf"].as_str().expect("csrf"),
            ),
        ],
    )
    .await
    .assert_error(401, "CSRF double submit tokens do not match");
}

#[tokio::test]
async fn hs256_tokens_minted_by_flask_are_accepted_by_decode_token_and_as_cookies() {
    let Some(python) = python() else { return };
    flask_tokens_are_accepted_here(&python, hs256_setup()).await;
}

#[tokio::test]
async fn rs256_tokens_minted_by_flask_are_accepted_by_decode_token_and_as_cookies() {
    let Some(python) = python() else { return };
    flask_tokens_are_accepted_here(&python, rs256_setup()).await;
}

fn our_tokens_pass_flask(python: &Path, setup: Setup) {
    let name = setup.name;
    let config = setup.flask.to_string();
    let jwt = manager(setup.rust);
    let access = jwt
        .access_token("alice")
        .claim("department", "CTO Office")
        .encode()
        .expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    for token in [&access, &refresh] {
        let csrf = csrf_of(token);
        let reply = flask(
            python,
            &[
                "decode", "--config", &config, "--token", token, "--csrf", &csrf,
            ],
            None,
        );
        assert_eq!(
            reply["ok"], true,
            "{name}: Flask refused our token: {reply}"
        );
        assert_eq!(reply["claims"], payload_of(token), "{name}");
        assert_eq!(reply["keys"], json!(payload_keys(token)), "{name}");
        assert_eq!(reply["header"], header_of(token), "{name}");
        let wrong = flask(
            python,
            &[
                "decode", "--config", &config, "--token", token, "--csrf", "nope",
            ],
            None,
        );
        assert_eq!(
            (wrong["error"].clone(), wrong["msg"].clone()),
            (
                json!("CSRFError"),
                json!("CSRF double submit tokens do not match")
            ),
            "{name}"
        );
    }
    assert_eq!(
        flask(
            python,
            &["decode", "--config", &config, "--token", &access],
            None
        )["claims"]["department"],
        "CTO Office"
    );
    // And through a Flask route, as the cookie our setter wrote.
    let set = jwt.set_access_cookies(&access).expect("cookies");
    let line = set.header_values()[0].to_str().expect("ascii");
    let jar = line.split(';').next().expect("name=value");
    let cases = json!([{
        "method": "POST",
        "path": "/protected",
        "headers": [["Cookie", jar], ["X-CSRF-TOKEN", csrf_of(&access)]],
    }]);
    let replies = flask(
        python,
        &[
            "requests",
            "--config",
            &with_flask(setup.flask, &json!({"JWT_TOKEN_LOCATION": ["cookies"]})),
        ],
        Some(&cases.to_string()),
    );
    assert_eq!(
        replies[0],
        json!({"status": 200, "body": {"sub": "alice", "location": "cookies", "type": "access"}}),
        "{name}"
    );
}

#[test]
fn our_hs256_tokens_pass_flasks_decode_token_with_the_same_claims_and_csrf() {
    let Some(python) = python() else { return };
    our_tokens_pass_flask(&python, hs256_setup());
}

#[test]
fn our_rs256_tokens_pass_flasks_decode_token_with_the_same_claims_and_csrf() {
    let Some(python) = python() else { return };
    our_tokens_pass_flask(&python, rs256_setup());
}

#[test]
fn set_cookie_lines_are_the_same_as_flasks_for_the_same_token() {
    let Some(python) = python() else { return };
    let options = json!({
        "JWT_SESSION_COOKIE": false,
        "JWT_COOKIE_SECURE": true,
        "JWT_COOKIE_SAMESITE": "Lax",
        "JWT_COOKIE_DOMAIN": ".ex.com",
        "JWT_ACCESS_COOKIE_PATH": "/api/",
        "JWT_REFRESH_CSRF_COOKIE_PATH": "/auth/",
    });
    let defaults = default_manager();
    let custom = manager(
        config()
            .with_session_cookie(false)
            .with_cookie_secure(true)
            .with_cookie_samesite(Some(jwt_extended::SameSite::Lax))
            .with_cookie_domain(Some(".ex.com".into()))
            .with_access_cookie_path("/api/")
            .with_refresh_csrf_cookie_path("/auth/"),
    );
    let flask_defaults = hs256_setup().flask.to_string();
    let flask_custom = with_flask(hs256_setup().flask, &options);
    for (jwt, flask_config) in [(defaults, flask_defaults), (custom, flask_custom)] {
        let access = jwt.create_access_token("alice").expect("token");
        let refresh = jwt.create_refresh_token("alice").expect("token");
        for (token, is_refresh) in [(&access, false), (&refresh, true)] {
            let mut args = vec!["cookies", "--config", &flask_config, "--token", token];
            if is_refresh {
                args.push("--refresh");
            }
            let theirs = flask(&python, &args, None)["set_cookie"].clone();
            let set = if is_refresh {
                jwt.set_refresh_cookies(token)
            } else {
                jwt.set_access_cookies(token)
            }
            .expect("cookies");
            let ours: Vec<String> = set
                .header_values()
                .iter()
                .map(|v| v.to_str().expect("ascii").to_owned())
                .collect();
            // `Expires` is computed on each side: compare it to the second, then the rest.
            let strip = |line: &str| {
                line.find("Expires=").map_or_else(
                    || line.to_owned(),
                    |at| format!("{}{}", &line[..at], &line[at + 38..]),
                )
            };
            let theirs: Vec<String> = theirs
                .as_array()
                .expect("lines")
                .iter()
                .map(|l| l.as_str().expect("str").to_owned())
                .collect();
            assert_eq!(
                ours.iter().map(|l| strip(l)).collect::<Vec<_>>(),
                theirs.iter().map(|l| strip(l)).collect::<Vec<_>>()
            );
            for (a, b) in ours.iter().zip(&theirs) {
                let date = |l: &str| l.find("Expires=").map(|at| l[at + 8..at + 37].to_owned());
                match (date(a), date(b)) {
                    (Some(a), Some(b)) => {
                        let a = httpdate::parse_http_date(&a).expect("date");
                        let b = httpdate::parse_http_date(&b).expect("date");
                        let skew = a.duration_since(b).unwrap_or_else(|e| e.duration());
                        assert!(skew.as_secs() <= 5, "{a:?} vs {b:?}");
                    }
                    (None, None) => {}
                    other => panic!("Expires on one side only: {other:?}"),
                }
            }
        }
    }
}

#[tokio::test]
async fn fresh_until_timestamps_interoperate_both_ways() {
    let Some(python) = python() else { return };
    let setup = hs256_setup();
    let minted = flask(
        &python,
        &[
            "mint",
            "--config",
            &setup.flask.to_string(),
            "--fresh-seconds",
            "300",
        ],
        None,
    );
    let access = minted["access"].as_str().expect("token");
    assert!(payload_of(access)["fresh"].is_f64());
    let jwt = manager(setup.rust);
    get_with_bearer(&app(jwt.clone()), "/fresh", access)
        .await
        .assert_ok_for("alice");
    let ours = jwt
        .access_token("bob")
        .fresh_for(std::time::Duration::from_secs(300))
        .encode()
        .expect("token");
    let cases = json!([
        {"method": "GET", "path": "/fresh", "headers": [["Authorization", bearer(&ours)]]},
    ]);
    let replies = flask(
        &python,
        &["requests", "--config", &setup.flask.to_string()],
        Some(&cases.to_string()),
    );
    assert_eq!(replies[0]["status"], 200, "{replies}");
}

#[test]
fn an_expired_token_is_expired_on_both_sides() {
    let Some(python) = python() else { return };
    let jwt = default_manager();
    let token = jwt
        .access_token("alice")
        .claim("exp", now() - 10)
        .encode()
        .expect("token");
    let theirs = flask(
        &python,
        &[
            "decode",
            "--config",
            &hs256_setup().flask.to_string(),
            "--token",
            &token,
        ],
        None,
    );
    assert_eq!(theirs["error"], "ExpiredSignatureError");
    let ours = jwt.decode_token(&token, None, false).expect_err("expired");
    assert_eq!(ours.to_string(), "Token has expired");
    let allowed = flask(
        &python,
        &[
            "decode",
            "--config",
            &hs256_setup().flask.to_string(),
            "--token",
            &token,
            "--allow-expired",
        ],
        None,
    );
    assert_eq!(allowed["ok"], true);
    assert!(jwt.decode_token(&token, None, true).is_ok());
}

// --- the same requests, answered by Flask and by us -----------------------------------------

/// One request: method, path (with query), headers, body.
struct Case {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

fn case(method: &'static str, path: &str, headers: &[(&str, &str)]) -> Case {
    Case {
        method,
        path: path.to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: None,
    }
}

fn with_body(mut c: Case, content_type: &str, body: &str) -> Case {
    c.headers
        .push(("Content-Type".to_owned(), content_type.to_owned()));
    c.body = Some(body.to_owned());
    c
}

/// Sends every case to Flask (one process) and to our app, and compares status and body.
async fn differential(python: &Path, flask_config: &str, jwt: JwtManager, cases: &[Case]) {
    let payload: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "method": c.method,
                "path": c.path,
                "headers": c.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                "body": c.body,
            })
        })
        .collect();
    let theirs = flask(
        python,
        &["requests", "--config", flask_config],
        Some(&Value::Array(payload).to_string()),
    );
    let app = app(jwt);
    let mut mismatches = Vec::new();
    for (c, theirs) in cases.iter().zip(theirs.as_array().expect("replies")) {
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = call_with_body(
            &app,
            c.method,
            &c.path,
            &headers,
            c.body.clone().unwrap_or_default(),
        )
        .await;
        let body = if reply.bytes.is_empty() {
            Value::Null
        } else {
            reply.json()
        };
        let ours = json!({"status": reply.status.as_u16(), "body": body});
        if &ours != theirs {
            mismatches.push(format!(
                "{} {} {:?}\n  flask: {theirs}\n  ours:  {ours}",
                c.method, c.path, c.headers
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

fn tokens(jwt: &JwtManager) -> [String; 10] {
    let mut expired = flask_payload("alice");
    expired["exp"] = json!(now() - 10);
    let mut no_csrf = flask_payload("alice");
    no_csrf.as_object_mut().expect("object").remove("csrf");
    let mut future = flask_payload("alice");
    future["nbf"] = json!(now() + 60);
    let other = manager(JwtConfig::default().with_secret_key("another secret"));
    [
        jwt.create_access_token("alice").expect("token"),
        jwt.create_refresh_token("alice").expect("token"),
        jwt.access_token("alice")
            .fresh(true)
            .encode()
            .expect("token"),
        hs256(&expired),
        hs256(&no_csrf),
        other.create_access_token("alice").expect("token"),
        hs256(&json!({"sub": 5})),
        hs256(&json!({"foo": "bar"})),
        hs256(&future),
        jwt.access_token("svc")
            .claim("type", "app")
            .encode()
            .expect("token"),
    ]
}

#[tokio::test]
async fn the_same_requests_get_the_same_answers_from_flask_and_from_us_with_default_names() {
    let Some(python) = python() else { return };
    let locations = ["headers", "cookies", "query_string", "json"];
    let flask_config = with_flask(
        hs256_setup().flask,
        &json!({"JWT_TOKEN_LOCATION": locations, "JWT_CSRF_CHECK_FORM": true}),
    );
    let jwt = manager(
        config()
            .with_token_location([
                TokenLocation::Headers,
                TokenLocation::Cookies,
                TokenLocation::QueryString,
                TokenLocation::Json,
            ])
            .with_csrf_check_form(true),
    );
    let [
        access,
        refresh,
        fresh,
        expired,
        no_csrf,
        foreign,
        int_sub,
        no_sub,
        future,
        app_type,
    ] = tokens(&jwt);
    let csrf = csrf_of(&access);
    let access_jar = cookie("access_token_cookie", &access);
    let refresh_jar = cookie("refresh_token_cookie", &refresh);
    let mut cases = Vec::new();
    for route in ["/protected", "/optional", "/fresh", "/refresh"] {
        cases.push(case("GET", route, &[]));
        if route != "/optional" {
            // Flask's automatic OPTIONS answer: 200 and no body. (Our optional handler runs and
            // sees no token; Flask's would fail in get_jwt().)
            cases.push(case("OPTIONS", route, &[]));
            cases.push(case("OPTIONS", route, &[("Authorization", "Bearer xxx")]));
        }
        for value in [
            "Basic dTpw".to_owned(),
            "Bearer ".to_owned(),
            "Bearer ,,0".to_owned(),
            "Bearer xxx".to_owned(),
            "Bearer a.b.c".to_owned(),
            "Foo 1, Bar 2, Baz, 3".to_owned(),
            format!("bearer {access}"),
            format!("Bearer {access}, Bearer {access}"),
            format!("Basic c, Bearer {access}"),
            format!("Bearer {access},   "),
        ] {
            cases.push(case("GET", route, &[("Authorization", &value)]));
        }
        for token in [
            &access, &refresh, &fresh, &expired, &no_csrf, &foreign, &int_sub, &no_sub, &future,
            &app_type,
        ] {
            cases.push(case("GET", route, &[("Authorization", &bearer(token))]));
            cases.push(case("GET", &format!("{route}?jwt={token}"), &[]));
        }
    }
    for (route, jar, token) in [
        ("/protected", &access_jar, &access),
        ("/refresh", &refresh_jar, &refresh),
    ] {
        let csrf = csrf_of(token);
        cases.extend([
            case("POST", route, &[("Cookie", jar)]),
            case("GET", route, &[("Cookie", jar)]),
            case("DELETE", route, &[("Cookie", jar), ("X-CSRF-TOKEN", &csrf)]),
            case("PUT", route, &[("Cookie", jar), ("X-CSRF-TOKEN", "wrong")]),
            case("PATCH", route, &[("Cookie", jar), ("X-CSRF-TOKEN", "")]),
            with_body(
                case("POST", route, &[("Cookie", jar), ("X-CSRF-TOKEN", "")]),
                "application/x-www-form-urlencoded",
                &format!("csrf_token={csrf}"),
            ),
            with_body(
                case("POST", route, &[("Cookie", jar)]),
                "application/x-www-form-urlencoded",
                "csrf_token=nope",
            ),
        ]);
    }
    let expired_jar = cookie("access_token_cookie", &expired);
    let no_csrf_jar = cookie("access_token_cookie", &no_csrf);
    cases.extend([
        case(
            "POST",
            "/protected",
            &[("Cookie", &expired_jar), ("X-CSRF-TOKEN", "wrong")],
        ),
        case(
            "POST",
            "/protected",
            &[("Cookie", &expired_jar), ("X-CSRF-TOKEN", "csrf-value")],
        ),
        case(
            "POST",
            "/protected",
            &[("Cookie", &no_csrf_jar), ("X-CSRF-TOKEN", "x")],
        ),
        case(
            "POST",
            "/protected",
            &[("Cookie", "access_token_cookie=garbage")],
        ),
        case("POST", "/optional", &[]),
        case("POST", "/optional", &[("Cookie", &access_jar)]),
        case("GET", "/protected", &[("Cookie", "access_token_cookie=")]),
        case(
            "GET",
            "/protected",
            &[("Cookie", &format!("access_token_cookie=\"{access}\""))],
        ),
        case(
            "GET",
            "/protected",
            &[("Cookie", &format!("{access_jar}; access_token_cookie=x"))],
        ),
        case(
            "GET",
            "/protected",
            &[("Cookie", &format!("access_token_cookie=x; {access_jar}"))],
        ),
        case(
            "GET",
            "/protected",
            &[("Authorization", "Bearer a.b.c"), ("Cookie", &access_jar)],
        ),
        case(
            "GET",
            "/protected",
            &[("Authorization", "Basic x"), ("Cookie", &access_jar)],
        ),
        case("GET", "/protected?jwt=", &[]),
        case("GET", &format!("/protected?jwt=x&jwt={access}"), &[]),
        case("GET", &format!("/protected?jwt={access}&jwt=x"), &[]),
        case(
            "POST",
            "/protected",
            &[("X-CSRF-TOKEN", &csrf), ("Cookie", &access_jar)],
        ),
    ]);
    for body in [
        json!({"access_token": access}).to_string(),
        json!({"access_token": refresh}).to_string(),
        json!({"refresh_token": refresh}).to_string(),
        json!({"access_token": expired}).to_string(),
        "{}".to_owned(),
        "null".to_owned(),
        "[]".to_owned(),
        "{not json".to_owned(),
        r#"{"access_token": ""}"#.to_owned(),
        r#"{"access_token": 0}"#.to_owned(),
        r#"{"access_token": null}"#.to_owned(),
        r#"{"access_token": false}"#.to_owned(),
        r#"{"access_token": {}}"#.to_owned(),
    ] {
        for route in ["/protected", "/refresh", "/optional"] {
            for content_type in ["application/json", "application/vnd.api+json;charset=UTF-8"] {
                cases.push(with_body(case("PATCH", route, &[]), content_type, &body));
            }
        }
    }
    cases.push(with_body(
        case("POST", "/protected", &[]),
        "text/plain",
        &json!({"access_token": access}).to_string(),
    ));
    differential(&python, &flask_config, jwt, &cases).await;
}

#[tokio::test]
async fn the_same_requests_get_the_same_answers_from_flask_and_from_us_with_custom_names() {
    let Some(python) = python() else { return };
    let flask_config = with_flask(
        hs256_setup().flask,
        &json!({
            "JWT_TOKEN_LOCATION": ["query_string", "json", "headers", "cookies"],
            "JWT_HEADER_NAME": "X-Auth",
            "JWT_HEADER_TYPE": "JWT",
            "JWT_QUERY_STRING_NAME": "token",
            "JWT_QUERY_STRING_VALUE_PREFIX": "bearer ",
            "JWT_JSON_KEY": "tok",
            "JWT_REFRESH_JSON_KEY": "rtok",
            "JWT_ACCESS_COOKIE_NAME": "a",
            "JWT_REFRESH_COOKIE_NAME": "r",
            "JWT_ACCESS_CSRF_HEADER_NAME": "X-A",
            "JWT_REFRESH_CSRF_HEADER_NAME": "X-R",
            "JWT_CSRF_METHODS": ["GET"],
            "JWT_ERROR_MESSAGE_KEY": "message",
            "JWT_DECODE_AUDIENCE": "aud",
            "JWT_ENCODE_AUDIENCE": "aud",
            "JWT_DECODE_ISSUER": "iss",
            "JWT_ENCODE_ISSUER": "iss",
            "JWT_IDENTITY_CLAIM": "identity",
        }),
    );
    let jwt = manager(
        config()
            .with_token_location([
                TokenLocation::QueryString,
                TokenLocation::Json,
                TokenLocation::Headers,
                TokenLocation::Cookies,
            ])
            .with_header_name("X-Auth")
            .with_header_type("JWT")
            .with_query_string_name("token")
            .with_query_string_value_prefix("bearer ")
            .with_json_key("tok")
            .with_refresh_json_key("rtok")
            .with_access_cookie_name("a")
            .with_refresh_cookie_name("r")
            .with_access_csrf_header_name("X-A")
            .with_refresh_csrf_header_name("X-R")
            .with_csrf_methods([http::Method::GET])
            .with_error_message_key("message")
            .with_decode_audience(["aud"])
            .with_encode_audience("aud")
            .with_decode_issuer(["iss"])
            .with_encode_issuer("iss")
            .with_identity_claim("identity"),
    );
    let access = jwt.create_access_token("alice").expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let mut payload = payload_of(&access);
    let mut wrong_aud = payload.clone();
    wrong_aud["aud"] = json!("other");
    let mut no_iss = payload.clone();
    no_iss.as_object_mut().expect("object").remove("iss");
    let mut list_iss = payload.clone();
    list_iss["iss"] = json!(["iss"]);
    let mut empty_aud = payload.clone();
    empty_aud["aud"] = json!([]);
    payload["sub"] = json!(7);
    let int_sub = payload;
    let csrf = csrf_of(&access);
    let mut cases = Vec::new();
    for route in ["/protected", "/refresh", "/optional"] {
        cases.extend([
            case("GET", route, &[]),
            case("POST", route, &[]),
            case("GET", &format!("{route}?token=bearer+{access}"), &[]),
            case("GET", &format!("{route}?token=bearer+{refresh}"), &[]),
            case("GET", &format!("{route}?token={access}"), &[]),
            case("GET", &format!("{route}?token=bearer+"), &[]),
            case("GET", &format!("{route}?jwt=bearer+{access}"), &[]),
            case("GET", route, &[("X-Auth", &format!("JWT {access}"))]),
            case("GET", route, &[("X-Auth", &bearer(&access))]),
            case("GET", route, &[("X-Auth", "JWT ")]),
            case("GET", route, &[("Authorization", &format!("JWT {access}"))]),
            case("GET", route, &[("Cookie", &cookie("a", &access))]),
            case(
                "GET",
                route,
                &[("Cookie", &cookie("a", &access)), ("X-A", &csrf)],
            ),
            case(
                "GET",
                route,
                &[("Cookie", &cookie("a", &access)), ("X-CSRF-TOKEN", &csrf)],
            ),
            case("POST", route, &[("Cookie", &cookie("a", &access))]),
            case(
                "GET",
                route,
                &[
                    ("Cookie", &cookie("r", &refresh)),
                    ("X-R", &csrf_of(&refresh)),
                ],
            ),
            case(
                "GET",
                route,
                &[
                    ("Cookie", &cookie("r", &refresh)),
                    ("X-A", &csrf_of(&refresh)),
                ],
            ),
            with_body(
                case("POST", route, &[]),
                "application/json",
                &json!({"tok": access}).to_string(),
            ),
            with_body(
                case("POST", route, &[]),
                "application/json",
                &json!({"rtok": refresh}).to_string(),
            ),
            with_body(
                case("POST", route, &[]),
                "application/json",
                &json!({"access_token": access}).to_string(),
            ),
        ]);
        for token in [&wrong_aud, &no_iss, &list_iss, &empty_aud, &int_sub] {
            cases.push(case(
                "GET",
                route,
                &[("X-Auth", &format!("JWT {}", hs256(token)))],
            ));
        }
    }
    differential(&python, &flask_config, jwt, &cases).await;
}

// --- lifetimes Flask can express, each answered as Flask answers it ---------------------------

#[tokio::test]
async fn an_already_expired_token_gets_flasks_answer_on_both_sides() {
    let Some(python) = python() else { return };
    let setup = hs256_setup();
    let minted = flask(
        &python,
        &[
            "mint",
            "--config",
            &setup.flask.to_string(),
            "--expires-seconds=-60",
        ],
        None,
    );
    let theirs = minted["access"].as_str().expect("token").to_owned();
    let jwt = manager(setup.rust);
    let ours = jwt
        .access_token("alice")
        .expires_in_seconds(-60)
        .encode()
        .expect("token");
    assert_eq!(
        payload_of(&ours)["exp"].as_i64(),
        payload_of(&ours)["iat"].as_i64().map(|i| i - 60)
    );
    let cases: Vec<Case> = [&theirs, &ours]
        .iter()
        .flat_map(|t| {
            [
                case("GET", "/protected", &[("Authorization", &bearer(t))]),
                case("GET", "/optional", &[("Authorization", &bearer(t))]),
            ]
        })
        .collect();
    differential(&python, &setup.flask.to_string(), jwt, &cases).await;
}

#[tokio::test]
async fn fresh_until_timestamps_past_and_future_get_flasks_answer() {
    let Some(python) = python() else { return };
    let setup = hs256_setup();
    let flask_stale = flask(
        &python,
        &[
            "mint",
            "--config",
            &setup.flask.to_string(),
            "--fresh-seconds=-60",
        ],
        None,
    )["access"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(payload_of(&flask_stale)["fresh"].is_f64());
    let jwt = manager(setup.rust);
    let now = now() as f64;
    let mut cases = vec![case(
        "GET",
        "/fresh",
        &[("Authorization", &bearer(&flask_stale))],
    )];
    for until in [now - 60.0, now + 300.0, 1.0] {
        let token = jwt
            .access_token("bob")
            .fresh_until(until)
            .encode()
            .expect("token");
        cases.push(case("GET", "/fresh", &[("Authorization", &bearer(&token))]));
    }
    differential(&python, &setup.flask.to_string(), jwt, &cases).await;
}

#[tokio::test]
async fn a_negative_leeway_gets_flasks_answers() {
    let Some(python) = python() else { return };
    let flask_config = with_flask(hs256_setup().flask, &json!({"JWT_DECODE_LEEWAY": -10}));
    let jwt = manager(config().with_leeway(-10));
    let t = now();
    let at = |iat: i64, exp: i64| {
        let mut p = flask_payload("alice");
        p["iat"] = json!(iat);
        p["nbf"] = json!(iat);
        p["exp"] = json!(exp);
        hs256(&p)
    };
    let cases: Vec<Case> = [
        at(t - 60, t + 60), // fine
        at(t - 60, t + 5),  // expires within the negative leeway: expired
        at(t - 3, t + 60),  // issued within it: not yet valid
        jwt.create_access_token("alice").expect("token"),
    ]
    .iter()
    .map(|token| case("GET", "/protected", &[("Authorization", &bearer(token))]))
    .collect();
    differential(&python, &flask_config, jwt, &cases).await;
}

#[test]
fn unset_cookies_with_a_domain_are_flasks_lines() {
    let Some(python) = python() else { return };
    let setup = hs256_setup();
    let jwt = manager(setup.rust.with_cookie_secure(true));
    let flask_config = with_flask(setup.flask, &json!({"JWT_COOKIE_SECURE": true}));
    let options = jwt_extended::CookieOptions {
        max_age: None,
        domain: Some(".ex.com".into()),
    };
    for refresh in [false, true] {
        let mut args = vec!["unset", "--config", &flask_config, "--domain", ".ex.com"];
        if refresh {
            args.push("--refresh");
        }
        let theirs = flask(&python, &args, None)["set_cookie"].clone();
        let cookies = if refresh {
            jwt.unset_refresh_cookies_with(&options)
        } else {
            jwt.unset_access_cookies_with(&options)
        };
        let ours: Vec<Value> = cookies
            .header_values()
            .iter()
            .map(|v| json!(v.to_str().expect("ascii")))
            .collect();
        assert_eq!(Value::Array(ours), theirs, "refresh: {refresh}");
    }
}

#[tokio::test]
async fn an_empty_header_type_from_the_environment_takes_a_bare_token() {
    let Some(python) = python() else { return };
    let flask_config = with_flask(hs256_setup().flask, &json!({"JWT_HEADER_TYPE": ""}));
    let from_env = JwtConfig::from_lookup(|name| match name {
        "JWT_SECRET_KEY" => Some(SECRET.to_owned()),
        "JWT_HEADER_TYPE" => Some(String::new()),
        _ => None,
    })
    .expect("valid");
    let jwt = manager(from_env);
    let token = jwt.create_access_token("alice").expect("token");
    let cases = [
        case("GET", "/protected", &[("Authorization", &token)]),
        case("GET", "/protected", &[("Authorization", &bearer(&token))]),
        case("GET", "/protected", &[]),
    ];
    differential(&python, &flask_config, jwt, &cases).await;
}

#[tokio::test]
async fn a_one_element_encode_audience_list_stays_a_list() {
    let Some(python) = python() else { return };
    let flask_config = with_flask(
        hs256_setup().flask,
        &json!({"JWT_ENCODE_AUDIENCE": ["api"], "JWT_DECODE_AUDIENCE": "api"}),
    );
    let minted = flask(&python, &["mint", "--config", &flask_config], None);
    let theirs = minted["access"].as_str().expect("token").to_owned();
    let from_env = JwtConfig::from_lookup(|name| match name {
        "JWT_SECRET_KEY" => Some(SECRET.to_owned()),
        "JWT_ENCODE_AUDIENCE" => Some(r#"["api"]"#.to_owned()),
        "JWT_DECODE_AUDIENCE" => Some("api".to_owned()),
        _ => None,
    })
    .expect("valid");
    let jwt = manager(from_env);
    let ours = jwt.create_access_token("alice").expect("token");
    assert_eq!(payload_of(&theirs)["aud"], json!(["api"]));
    assert_eq!(payload_of(&ours)["aud"], payload_of(&theirs)["aud"]);
    let cases: Vec<Case> = [&theirs, &ours]
        .iter()
        .map(|t| case("GET", "/protected", &[("Authorization", &bearer(t))]))
        .collect();
    differential(&python, &flask_config, jwt, &cases).await;
}

//! The cookie location, the exact `Set-Cookie` lines, and the CSRF double submit
//! (reference §4.2, §4.3, §8.4, §8.5, §9.5, test_cookies.py).

mod common;

use std::time::{Duration, SystemTime};

use axum::body::Body;
use common::*;
use http::Request;
use jwt_extended::{
    CookieOptions, JwtConfig, JwtManager, SameSite, TokenLocation, testing::TestSession,
};
use serde_json::json;

fn cookie_config() -> JwtConfig {
    config().with_token_location([TokenLocation::Cookies])
}

fn cookie_app() -> (JwtManager, axum::Router) {
    let jwt = manager(cookie_config());
    (jwt.clone(), app(jwt))
}

fn lines(cookies: &jwt_extended::AuthCookies) -> Vec<String> {
    cookies
        .header_values()
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

/// The `Expires=` of a line, checked to be an RFC 1123 date about `max_age` from now.
#[track_caller]
fn assert_expires_in(line: &str, max_age: u64) {
    let start = line.find("Expires=").expect("an Expires attribute") + "Expires=".len();
    let date = &line[start..start + "Thu, 01 Jan 1970 00:00:00 GMT".len()];
    let when = httpdate::parse_http_date(date).expect("an RFC 1123 date");
    let expected = SystemTime::now() + Duration::from_secs(max_age);
    let skew = expected
        .duration_since(when)
        .unwrap_or_else(|e| e.duration());
    assert!(
        skew <= Duration::from_secs(5),
        "{date} is not now+{max_age}s"
    );
}

#[tokio::test]
async fn set_access_cookies_writes_werkzeugs_two_default_lines() {
    let jwt = manager(cookie_config());
    let token = jwt.create_access_token("alice").expect("token");
    let csrf = csrf_of(&token);
    assert_eq!(
        lines(&jwt.set_access_cookies(&token).expect("cookies")),
        [
            format!("access_token_cookie={token}; HttpOnly; Path=/"),
            format!("csrf_access_token={csrf}; Path=/"),
        ]
    );
}

#[tokio::test]
async fn set_refresh_cookies_writes_the_refresh_and_refresh_csrf_lines() {
    let jwt = manager(cookie_config());
    let token = jwt.create_refresh_token("alice").expect("token");
    let csrf = csrf_of(&token);
    assert_eq!(
        lines(&jwt.set_refresh_cookies(&token).expect("cookies")),
        [
            format!("refresh_token_cookie={token}; HttpOnly; Path=/"),
            format!("csrf_refresh_token={csrf}; Path=/"),
        ]
    );
}

#[tokio::test]
async fn login_sets_cookies_that_authorize_and_logout_clears_all_four() {
    let (jwt, app) = cookie_app();
    let login = call(&app, "POST", "/login", &[]).await;
    assert_eq!(login.status.as_u16(), 200);
    let set = login.set_cookies();
    assert_eq!(set.len(), 4, "{set:?}");
    // The browser keeps what the login set.
    let mut browser = TestSession::builder(&jwt, "nobody")
        .build()
        .expect("session");
    browser.follow(&login.headers);
    let access = browser.access_token().expect("access cookie").to_owned();
    let csrf = csrf_of(&access);
    assert_eq!(
        set[0],
        format!("access_token_cookie={access}; HttpOnly; Path=/")
    );
    assert_eq!(set[1], format!("csrf_access_token={csrf}; Path=/"));
    assert_eq!(browser.access_csrf(), Some(csrf.as_str()));
    assert!(set[2].starts_with("refresh_token_cookie="));
    assert!(set[3].starts_with("csrf_refresh_token="));

    let send_as = |browser: &TestSession, request: http::request::Builder| {
        send(
            &app,
            browser
                .with_cookies(request)
                .body(Body::empty())
                .expect("request"),
        )
    };
    send_as(&browser, Request::get("/protected"))
        .await
        .assert_body(
            200,
            &json!({"sub": "alice", "location": "cookies", "type": "access"}),
        );
    send_as(&browser, Request::delete("/protected"))
        .await
        .assert_ok_for("alice");

    let logout = send_as(&browser, Request::post("/logout")).await;
    assert_eq!(
        logout.set_cookies(),
        [
            "access_token_cookie=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/",
            "csrf_access_token=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
            "refresh_token_cookie=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/",
            "csrf_refresh_token=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        ]
    );
    // The browser drops the cookies: the next request has none.
    browser.follow(&logout.headers);
    assert_eq!(browser.access_token(), None);
    send_as(&browser, Request::get("/protected"))
        .await
        .assert_error(401, "Missing cookie \"access_token_cookie\"");
}

#[tokio::test]
async fn non_session_secure_samesite_none_domain_cookies_have_every_attribute_in_werkzeug_order() {
    let jwt = manager(
        cookie_config()
            .with_session_cookie(false)
            .with_cookie_secure(true)
            .with_cookie_samesite(Some(SameSite::None))
            .with_cookie_domain(Some(".ex.com".into())),
    );
    let token = jwt.create_access_token("alice").expect("token");
    let csrf = csrf_of(&token);
    let set = lines(&jwt.set_access_cookies(&token).expect("cookies"));
    assert_eq!(set.len(), 2);
    let expected = |name: &str, value: &str, http_only: &str, line: &str| {
        let head = format!("{name}={value}; Domain=ex.com; Expires=");
        let tail = format!("; Max-Age=31540000; Secure;{http_only} Path=/; SameSite=None");
        assert!(line.starts_with(&head), "{line}");
        assert!(line.ends_with(&tail), "{line}");
        assert_eq!(
            line.len(),
            head.len() + "Thu, 01 Jan 1970 00:00:00 GMT".len() + tail.len()
        );
        assert_expires_in(line, 31_540_000);
    };
    expected("access_token_cookie", &token, " HttpOnly;", &set[0]);
    expected("csrf_access_token", &csrf, "", &set[1]);
    assert_eq!(
        lines(&jwt.unset_access_cookies()),
        [
            "access_token_cookie=; Domain=ex.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; Path=/; SameSite=None",
            "csrf_access_token=; Domain=ex.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; Path=/; SameSite=None",
        ]
    );
}

#[tokio::test]
async fn samesite_lax_and_strict_are_written_and_none_in_the_config_writes_no_attribute() {
    for (same_site, attribute) in [(SameSite::Lax, "Lax"), (SameSite::Strict, "Strict")] {
        let jwt = manager(cookie_config().with_cookie_samesite(Some(same_site)));
        let token = jwt.create_access_token("a").expect("token");
        let set = lines(&jwt.set_access_cookies(&token).expect("cookies"));
        assert_eq!(
            set[0],
            format!("access_token_cookie={token}; HttpOnly; Path=/; SameSite={attribute}")
        );
    }
    let jwt = manager(cookie_config());
    let token = jwt.create_access_token("a").expect("token");
    assert!(
        lines(&jwt.set_access_cookies(&token).expect("cookies"))
            .iter()
            .all(|l| !l.contains("SameSite"))
    );
}

#[tokio::test]
async fn custom_cookie_names_and_paths_are_used_when_setting_reading_and_clearing() {
    let jwt = manager(
        cookie_config()
            .with_access_cookie_name("a_jwt")
            .with_access_cookie_path("/api/")
            .with_access_csrf_cookie_name("a_csrf")
            .with_access_csrf_cookie_path("/spa/")
            .with_refresh_cookie_name("r_jwt")
            .with_refresh_cookie_path("/auth/refresh")
            .with_refresh_csrf_cookie_name("r_csrf")
            .with_refresh_csrf_cookie_path("/auth/"),
    );
    let access = jwt.create_access_token("alice").expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    assert_eq!(
        lines(&jwt.set_access_cookies(&access).expect("cookies")),
        [
            format!("a_jwt={access}; HttpOnly; Path=/api/"),
            format!("a_csrf={}; Path=/spa/", csrf_of(&access)),
        ]
    );
    assert_eq!(
        lines(&jwt.set_refresh_cookies(&refresh).expect("cookies")),
        [
            format!("r_jwt={refresh}; HttpOnly; Path=/auth/refresh"),
            format!("r_csrf={}; Path=/auth/", csrf_of(&refresh)),
        ]
    );
    assert_eq!(
        lines(&jwt.unset_jwt_cookies()),
        [
            "a_jwt=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/api/",
            "a_csrf=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/spa/",
            "r_jwt=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/auth/refresh",
            "r_csrf=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/auth/",
        ]
    );
    let app = app(jwt);
    call(
        &app,
        "GET",
        "/protected",
        &[("cookie", &cookie("a_jwt", &access))],
    )
    .await
    .assert_ok_for("alice");
    call(
        &app,
        "GET",
        "/protected",
        &[("cookie", &cookie("access_token_cookie", &access))],
    )
    .await
    .assert_error(401, "Missing cookie \"a_jwt\"");
    call(
        &app,
        "POST",
        "/refresh",
        &[
            ("cookie", &cookie("r_jwt", &refresh)),
            ("x-csrf-token", &csrf_of(&refresh)),
        ],
    )
    .await
    .assert_ok_for("alice");
}

#[tokio::test]
async fn only_one_cookie_is_set_and_cleared_when_csrf_cookies_are_off() {
    let jwt = manager(cookie_config().with_csrf_in_cookies(false));
    let token = jwt.create_access_token("a").expect("token");
    assert_eq!(
        lines(&jwt.set_access_cookies(&token).expect("cookies")),
        [format!("access_token_cookie={token}; HttpOnly; Path=/")]
    );
    assert_eq!(
        lines(&jwt.unset_jwt_cookies()),
        [
            "access_token_cookie=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/",
            "refresh_token_cookie=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/",
        ]
    );
    // The claim is still in the token: CSRF protection is on, only the cookie is not set.
    assert!(payload_of(&token)["csrf"].is_string());
}

#[tokio::test]
async fn with_csrf_protection_off_there_is_no_csrf_claim_cookie_or_check() {
    let jwt = manager(cookie_config().with_csrf_protect(false));
    let token = jwt.create_access_token("alice").expect("token");
    assert!(payload_of(&token).get("csrf").is_none());
    assert_eq!(
        lines(&jwt.set_access_cookies(&token).expect("cookies")),
        [format!("access_token_cookie={token}; HttpOnly; Path=/")]
    );
    call(
        &app(jwt),
        "POST",
        "/protected",
        &[("cookie", &cookie("access_token_cookie", &token))],
    )
    .await
    .assert_ok_for("alice");
}

#[tokio::test]
async fn per_call_max_age_and_domain_override_the_config_and_zero_max_age_falls_back() {
    let jwt = manager(cookie_config().with_csrf_in_cookies(false));
    let token = jwt.create_access_token("a").expect("token");
    let options = CookieOptions {
        max_age: Some(Duration::from_secs(60)),
        domain: Some("other.com".into()),
    };
    let set = lines(
        &jwt.set_access_cookies_with(&token, &options)
            .expect("cookies"),
    );
    assert!(
        set[0].starts_with(&format!(
            "access_token_cookie={token}; Domain=other.com; Expires="
        )),
        "{}",
        set[0]
    );
    assert!(
        set[0].ends_with("; Max-Age=60; HttpOnly; Path=/"),
        "{}",
        set[0]
    );
    assert_expires_in(&set[0], 60);

    let zero = CookieOptions {
        max_age: Some(Duration::ZERO),
        domain: None,
    };
    assert_eq!(
        lines(&jwt.set_access_cookies_with(&token, &zero).expect("cookies")),
        [format!("access_token_cookie={token}; HttpOnly; Path=/")]
    );
    let persistent = manager(cookie_config().with_session_cookie(false));
    let set = lines(
        &persistent
            .set_refresh_cookies_with(&token, &zero)
            .expect("cookies"),
    );
    assert!(
        set[0].ends_with("; Max-Age=31540000; HttpOnly; Path=/"),
        "{}",
        set[0]
    );

    let domain = CookieOptions {
        max_age: None,
        domain: Some("x.org".into()),
    };
    assert_eq!(
        lines(&jwt.unset_jwt_cookies_with(&domain)),
        [
            "access_token_cookie=; Domain=x.org; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/",
            "refresh_token_cookie=; Domain=x.org; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/",
        ]
    );
}

#[tokio::test]
async fn the_setters_do_not_care_whether_cookies_are_a_configured_location() {
    let jwt = default_manager();
    let token = jwt.create_access_token("a").expect("token");
    assert_eq!(
        lines(&jwt.set_access_cookies(&token).expect("cookies")).len(),
        2
    );
}

#[tokio::test]
async fn setting_a_cookie_from_a_token_that_does_not_verify_is_an_error() {
    let jwt = default_manager();
    assert!(jwt.set_access_cookies("not a token").is_err());
}

#[tokio::test]
async fn every_csrf_method_needs_the_header_and_safe_methods_do_not() {
    let (jwt, app) = cookie_app();
    let token = jwt.create_access_token("alice").expect("token");
    let jar = cookie("access_token_cookie", &token);
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        call(&app, method, "/protected", &[("cookie", &jar)])
            .await
            .assert_error(401, "Missing CSRF token");
        call(
            &app,
            method,
            "/protected",
            &[("cookie", &jar), ("x-csrf-token", &csrf_of(&token))],
        )
        .await
        .assert_ok_for("alice");
    }
    for method in ["GET", "HEAD"] {
        let reply = call(&app, method, "/protected", &[("cookie", &jar)]).await;
        assert_eq!(reply.status.as_u16(), 200, "{method}");
    }
}

#[tokio::test]
async fn a_csrf_value_that_does_not_match_the_claim_gives_401_mismatch() {
    let (jwt, app) = cookie_app();
    let token = jwt.create_access_token("alice").expect("token");
    let other = jwt.create_access_token("alice").expect("token");
    call(
        &app,
        "POST",
        "/protected",
        &[
            ("cookie", &cookie("access_token_cookie", &token)),
            ("x-csrf-token", &csrf_of(&other)),
        ],
    )
    .await
    .assert_error(401, "CSRF double submit tokens do not match");
}

#[tokio::test]
async fn the_csrf_cookie_alone_is_never_enough() {
    let (jwt, app) = cookie_app();
    let token = jwt.create_access_token("alice").expect("token");
    let jar = format!(
        "access_token_cookie={token}; csrf_access_token={}",
        csrf_of(&token)
    );
    call(&app, "POST", "/protected", &[("cookie", &jar)])
        .await
        .assert_error(401, "Missing CSRF token");
}

#[tokio::test]
async fn missing_csrf_is_reported_before_the_token_is_decoded() {
    let (_, app) = cookie_app();
    call(
        &app,
        "POST",
        "/protected",
        &[("cookie", "access_token_cookie=garbage")],
    )
    .await
    .assert_error(401, "Missing CSRF token");
    // With a CSRF value, the garbage token is judged.
    call(
        &app,
        "POST",
        "/protected",
        &[
            ("cookie", "access_token_cookie=garbage"),
            ("x-csrf-token", "x"),
        ],
    )
    .await
    .assert_error(422, "Not enough segments");
}

#[tokio::test]
async fn a_token_without_a_csrf_claim_gives_422_missing_claim_csrf_on_a_csrf_method() {
    let (_, app) = cookie_app();
    let mut payload = flask_payload("alice");
    payload.as_object_mut().expect("object").remove("csrf");
    let token = hs256(&payload);
    let jar = cookie("access_token_cookie", &token);
    call(
        &app,
        "POST",
        "/protected",
        &[("cookie", &jar), ("x-csrf-token", "anything")],
    )
    .await
    .assert_error(422, "Missing claim: csrf");
    call(&app, "GET", "/protected", &[("cookie", &jar)])
        .await
        .assert_ok_for("alice");
}

#[tokio::test]
async fn an_expired_token_with_a_wrong_csrf_value_gives_the_csrf_error_not_expired() {
    let (_, app) = cookie_app();
    let mut payload = flask_payload("alice");
    payload["exp"] = json!(now() - 10);
    let token = hs256(&payload);
    let jar = cookie("access_token_cookie", &token);
    call(
        &app,
        "POST",
        "/protected",
        &[("cookie", &jar), ("x-csrf-token", "wrong")],
    )
    .await
    .assert_error(401, "CSRF double submit tokens do not match");
    call(
        &app,
        "POST",
        "/protected",
        &[("cookie", &jar), ("x-csrf-token", "csrf-value")],
    )
    .await
    .assert_error(401, "Token has expired");
    call(&app, "GET", "/protected", &[("cookie", &jar)])
        .await
        .assert_error(401, "Token has expired");
}

#[tokio::test]
async fn custom_csrf_methods_header_name_and_form_field_are_honoured() {
    let jwt = manager(
        cookie_config()
            .with_csrf_methods([http::Method::GET])
            .with_access_csrf_header_name("X-Foo"),
    );
    let token = jwt.create_access_token("alice").expect("token");
    let jar = cookie("access_token_cookie", &token);
    let app = app(jwt);
    call(&app, "POST", "/protected", &[("cookie", &jar)])
        .await
        .assert_ok_for("alice");
    call(&app, "GET", "/protected", &[("cookie", &jar)])
        .await
        .assert_error(401, "Missing CSRF token");
    call(
        &app,
        "GET",
        "/protected",
        &[("cookie", &jar), ("x-csrf-token", &csrf_of(&token))],
    )
    .await
    .assert_error(401, "Missing CSRF token");
    call(
        &app,
        "GET",
        "/protected",
        &[("cookie", &jar), ("x-foo", &csrf_of(&token))],
    )
    .await
    .assert_ok_for("alice");
}

#[tokio::test]
async fn the_form_field_is_read_only_when_check_form_is_on() {
    let form_headers = |jar: &str| {
        [
            ("cookie", jar.to_owned()),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
        ]
    };
    let off = manager(cookie_config());
    let token = off.create_access_token("alice").expect("token");
    let jar = cookie("access_token_cookie", &token);
    let headers = form_headers(&jar);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = format!("csrf_token={}", csrf_of(&token));
    call_with_body(&app(off), "POST", "/protected", &headers, body.clone())
        .await
        .assert_error(401, "Missing CSRF token");

    let on = manager(cookie_config().with_csrf_check_form(true));
    let app_on = app(on.clone());
    call_with_body(&app_on, "POST", "/protected", &headers, body.clone())
        .await
        .assert_ok_for("alice");
    call_with_body(&app_on, "POST", "/protected", &headers, "csrf_token=nope")
        .await
        .assert_error(401, "CSRF double submit tokens do not match");
    call_with_body(&app_on, "POST", "/protected", &headers, "other=1")
        .await
        .assert_error(401, "Missing CSRF token");
    // An empty header falls back to the form field (§9.5).
    let mut with_empty_header = headers.clone();
    with_empty_header.push(("x-csrf-token", ""));
    call_with_body(&app_on, "POST", "/protected", &with_empty_header, body)
        .await
        .assert_ok_for("alice");

    let custom = manager(
        cookie_config()
            .with_csrf_check_form(true)
            .with_access_csrf_field_name("_csrf"),
    );
    call_with_body(
        &app(custom),
        "POST",
        "/protected",
        &headers,
        format!("_csrf={}", csrf_of(&token)),
    )
    .await
    .assert_ok_for("alice");
}

#[tokio::test]
async fn an_optional_route_passes_a_post_without_cookie_but_not_a_cookie_without_csrf() {
    let (jwt, app) = cookie_app();
    call(&app, "POST", "/optional", &[])
        .await
        .assert_body(200, &json!({"sub": null}));
    let token = jwt.create_access_token("alice").expect("token");
    let jar = cookie("access_token_cookie", &token);
    call(&app, "POST", "/optional", &[("cookie", &jar)])
        .await
        .assert_error(401, "Missing CSRF token");
    call(
        &app,
        "POST",
        "/optional",
        &[("cookie", &jar), ("x-csrf-token", &csrf_of(&token))],
    )
    .await
    .assert_ok_for("alice");
}

#[tokio::test]
async fn refresh_routes_read_the_refresh_cookie_and_the_refresh_csrf_header() {
    let jwt = manager(cookie_config().with_refresh_csrf_header_name("X-CSRF-REFRESH"));
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let access = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    let jar = format!("access_token_cookie={access}; refresh_token_cookie={refresh}");
    call(
        &app,
        "POST",
        "/refresh",
        &[("cookie", &jar), ("x-csrf-refresh", &csrf_of(&refresh))],
    )
    .await
    .assert_body(
        200,
        &json!({"sub": "alice", "location": "cookies", "type": "refresh"}),
    );
    call(
        &app,
        "POST",
        "/refresh",
        &[("cookie", &jar), ("x-csrf-token", &csrf_of(&refresh))],
    )
    .await
    .assert_error(401, "Missing CSRF token");
    call(
        &app,
        "POST",
        "/refresh",
        &[("cookie", &jar), ("x-csrf-refresh", &csrf_of(&access))],
    )
    .await
    .assert_error(401, "CSRF double submit tokens do not match");
    call(
        &app,
        "POST",
        "/refresh",
        &[
            ("cookie", &cookie("access_token_cookie", &access)),
            ("x-csrf-refresh", "x"),
        ],
    )
    .await
    .assert_error(401, "Missing cookie \"refresh_token_cookie\"");
}

#[tokio::test]
async fn the_first_of_duplicate_cookies_wins_quotes_are_removed_and_empty_counts_as_missing() {
    let (jwt, app) = cookie_app();
    let token = jwt.create_access_token("alice").expect("token");
    call(
        &app,
        "GET",
        "/protected",
        &[(
            "cookie",
            &format!("access_token_cookie={token}; access_token_cookie=garbage"),
        )],
    )
    .await
    .assert_ok_for("alice");
    call(
        &app,
        "GET",
        "/protected",
        &[(
            "cookie",
            &format!("access_token_cookie=garbage; access_token_cookie={token}"),
        )],
    )
    .await
    .assert_error(422, "Not enough segments");
    call(
        &app,
        "GET",
        "/protected",
        &[("cookie", &format!("access_token_cookie=\"{token}\""))],
    )
    .await
    .assert_ok_for("alice");
    call(
        &app,
        "GET",
        "/protected",
        &[("cookie", "access_token_cookie=")],
    )
    .await
    .assert_error(401, "Missing cookie \"access_token_cookie\"");
    call(
        &app,
        "GET",
        "/protected",
        &[("cookie", "other=1; access_token_cookie_x=2")],
    )
    .await
    .assert_error(401, "Missing cookie \"access_token_cookie\"");
}

#[tokio::test]
async fn the_csrf_compare_is_exact() {
    let (jwt, app) = cookie_app();
    let token = jwt.create_access_token("alice").expect("token");
    let csrf = csrf_of(&token);
    let jar = cookie("access_token_cookie", &token);
    for near in [
        csrf[..csrf.len() - 1].to_owned(),
        format!("{csrf}0"),
        csrf.to_uppercase(),
        format!(" {csrf}"),
    ] {
        call(
            &app,
            "POST",
            "/protected",
            &[("cookie", &jar), ("x-csrf-token", &near)],
        )
        .await
        .assert_error(401, "CSRF double submit tokens do not match");
    }
}

#[tokio::test]
async fn host_prefixed_cookies_are_secure_path_root_and_authorize_like_the_plain_ones() {
    let jwt = manager(cookie_config().with_host_prefixed_cookies());
    let app = app(jwt);
    let login = call(&app, "POST", "/login", &[]).await;
    let set = login.set_cookies();
    assert_eq!(set.len(), 4, "{set:?}");
    let access = set[0]
        .strip_prefix("__Host-access_token_cookie=")
        .and_then(|s| s.strip_suffix("; Secure; HttpOnly; Path=/"))
        .expect("access cookie line");
    let csrf = csrf_of(access);
    assert_eq!(
        set[1],
        format!("__Host-csrf_access_token={csrf}; Secure; Path=/")
    );
    assert!(
        set[2].starts_with("__Host-refresh_token_cookie="),
        "{}",
        set[2]
    );
    assert!(
        set[3].starts_with("__Host-csrf_refresh_token="),
        "{}",
        set[3]
    );
    for line in &set {
        assert!(!line.contains("Domain="), "{line}");
    }

    let prefixed = cookie("__Host-access_token_cookie", access);
    call(
        &app,
        "DELETE",
        "/protected",
        &[("cookie", &prefixed), ("x-csrf-token", &csrf)],
    )
    .await
    .assert_ok_for("alice");
    // The plain name is not read any more: a cookie planted under it by a sibling subdomain
    // does not count.
    let plain = cookie("access_token_cookie", access);
    call(&app, "GET", "/protected", &[("cookie", &plain)])
        .await
        .assert_error(401, "Missing cookie \"__Host-access_token_cookie\"");
}

#[test]
fn a_host_prefixed_cookie_that_browsers_would_drop_is_refused_at_start_up() {
    let host = || cookie_config().with_host_prefixed_cookies();
    let cases = [
        (
            host().with_cookie_secure(false),
            "JWT_ACCESS_COOKIE_NAME: a __Host- or __Secure- cookie needs JWT_COOKIE_SECURE=true",
        ),
        (
            host().with_refresh_cookie_path("/api/auth/refresh"),
            "JWT_REFRESH_COOKIE_NAME: a __Host- cookie needs its path to be /",
        ),
        (
            host().with_cookie_domain(Some("example.com".into())),
            "JWT_ACCESS_COOKIE_NAME: a __Host- cookie cannot have JWT_COOKIE_DOMAIN",
        ),
        (
            cookie_config().with_refresh_csrf_cookie_name("__Secure-csrf_refresh_token"),
            "JWT_REFRESH_CSRF_COOKIE_NAME: a __Host- or __Secure- cookie needs JWT_COOKIE_SECURE=true",
        ),
    ];
    for (config, message) in cases {
        let err = JwtManager::new(config).expect_err(message);
        assert_eq!(err.to_string(), message);
    }
    // `__Secure-` allows a path and a domain, as browsers do.
    let secure = cookie_config()
        .with_cookie_secure(true)
        .with_access_cookie_name("__Secure-access")
        .with_access_cookie_path("/api")
        .with_cookie_domain(Some("example.com".into()));
    assert!(JwtManager::new(secure).is_ok());
}

//! The `Authorization` header location (reference §4.4 "headers", §8.2, test_headers.py).

mod common;

use common::*;

const MISSING_TYPE: &str =
    "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'";
const BAD_HEADER: &str = "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'";

async fn with_authorization(value: &str) -> Reply {
    let app = app(default_manager());
    call(&app, "GET", "/protected", &[("authorization", value)]).await
}

#[tokio::test]
async fn a_bearer_token_in_the_authorization_header_is_accepted_and_reported_as_headers() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let reply = get_with_bearer(&app(jwt), "/protected", &token).await;
    reply.assert_body(
        200,
        &serde_json::json!({"sub": "alice", "location": "headers", "type": "access"}),
    );
}

#[tokio::test]
async fn no_authorization_header_gives_401_missing_authorization_header() {
    let app = app(default_manager());
    call(&app, "GET", "/protected", &[])
        .await
        .assert_error(401, "Missing Authorization Header");
}

#[tokio::test]
async fn a_header_of_only_spaces_and_commas_counts_as_missing() {
    for value in ["   ", ",", ",,", " , "] {
        with_authorization(value)
            .await
            .assert_error(401, "Missing Authorization Header");
    }
    // Flask strips whitespace, then commas, once: `, ,,` leaves a blank entry, which crashes it
    // (500, §9.2). Here it is a header without a Bearer entry.
    with_authorization(" , ,, ")
        .await
        .assert_error(401, MISSING_TYPE);
}

#[tokio::test]
async fn a_basic_header_gives_401_missing_bearer_type() {
    with_authorization("Basic dXNlcjpwYXNz")
        .await
        .assert_error(401, MISSING_TYPE);
}

#[tokio::test]
async fn the_type_is_case_sensitive_so_lowercase_bearer_is_missing() {
    let token = default_manager().create_access_token("a").expect("token");
    with_authorization(&format!("bearer {token}"))
        .await
        .assert_error(401, MISSING_TYPE);
    with_authorization(&format!("BEARER {token}"))
        .await
        .assert_error(401, MISSING_TYPE);
}

#[tokio::test]
async fn two_bearer_entries_give_401_not_422() {
    let token = default_manager().create_access_token("a").expect("token");
    with_authorization(&format!("Bearer {token}, Bearer {token}"))
        .await
        .assert_error(401, MISSING_TYPE);
}

#[tokio::test]
async fn a_bearer_entry_is_found_in_any_comma_position_and_trailing_commas_are_ignored() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    for value in [
        format!("Bearer {token}"),
        format!("Basic c, Bearer {token}"),
        format!("Bearer {token}, Basic c"),
        format!("Foo 1,Bearer {token},Bar 2"),
        format!("Bearer {token},   "),
        format!(",,Bearer {token},,"),
        format!("  Bearer {token}  "),
    ] {
        call(&app, "GET", "/protected", &[("authorization", &value)])
            .await
            .assert_ok_for("alice");
    }
}

#[tokio::test]
async fn a_bearer_entry_without_exactly_one_token_gives_422_bad_header() {
    for value in [
        "Bearer ",
        "Bearer",
        "Bearer a b",
        "Bearer ,,0",
        "Basic x, Bearer a b",
    ] {
        with_authorization(value)
            .await
            .assert_error(422, BAD_HEADER);
    }
}

#[tokio::test]
async fn a_bearer_token_that_is_not_a_jwt_gives_422_not_enough_segments() {
    with_authorization("Bearer xxx")
        .await
        .assert_error(422, "Not enough segments");
}

#[tokio::test]
async fn a_whitespace_only_entry_that_crashes_flask_is_skipped_here() {
    // Flask answers 500 (IndexError) for `, ,Bearer x` (reference §9.2); ours reads the
    // Bearer entry and judges the token.
    with_authorization(", ,Bearer x")
        .await
        .assert_error(422, "Not enough segments");
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    call(
        &app(jwt),
        "GET",
        "/protected",
        &[("authorization", &format!(", ,Bearer {token}"))],
    )
    .await
    .assert_ok_for("alice");
}

#[tokio::test]
async fn a_custom_header_name_is_used_in_every_message() {
    let jwt = manager(config().with_header_name("Foo"));
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    call(&app, "GET", "/protected", &[("foo", &bearer(&token))])
        .await
        .assert_ok_for("alice");
    call(
        &app,
        "GET",
        "/protected",
        &[("authorization", &bearer(&token))],
    )
    .await
    .assert_error(401, "Missing Foo Header");
    call(&app, "GET", "/protected", &[("foo", "Basic x")])
        .await
        .assert_error(
            401,
            "Missing 'Bearer' type in 'Foo' header. Expected 'Foo: Bearer <JWT>'",
        );
    call(&app, "GET", "/protected", &[("foo", "Bearer ")])
        .await
        .assert_error(422, "Bad Foo header. Expected 'Foo: Bearer <JWT>'");
}

#[tokio::test]
async fn a_custom_header_type_replaces_bearer() {
    let jwt = manager(config().with_header_type("JWT"));
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    call(
        &app,
        "GET",
        "/protected",
        &[("authorization", &format!("JWT {token}"))],
    )
    .await
    .assert_ok_for("alice");
    call(
        &app,
        "GET",
        "/protected",
        &[("authorization", &bearer(&token))],
    )
    .await
    .assert_error(
        401,
        "Missing 'JWT' type in 'Authorization' header. Expected 'Authorization: JWT <JWT>'",
    );
}

#[tokio::test]
async fn an_empty_header_type_takes_the_raw_token_and_refuses_two_words() {
    let jwt = manager(config().with_header_type(""));
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    call(&app, "GET", "/protected", &[("authorization", &token)])
        .await
        .assert_ok_for("alice");
    call(
        &app,
        "GET",
        "/protected",
        &[("authorization", &bearer(&token))],
    )
    .await
    .assert_error(
        422,
        "Bad Authorization header. Expected 'Authorization: <JWT>'",
    );
    call(&app, "GET", "/protected", &[])
        .await
        .assert_error(401, "Missing Authorization Header");
}

#[tokio::test]
async fn a_header_token_is_not_csrf_checked_on_a_post() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    call(
        &app(jwt),
        "POST",
        "/protected",
        &[("authorization", &bearer(&token))],
    )
    .await
    .assert_ok_for("alice");
}

#[tokio::test]
async fn non_utf8_header_bytes_are_refused_without_a_crash() {
    let app = app(default_manager());
    let request = http::Request::get("/protected")
        .header(
            "authorization",
            http::HeaderValue::from_bytes(b"Bearer \xff\xfe.\x80.\x81").expect("obs-text"),
        )
        .body(axum::body::Body::empty())
        .expect("request");
    let reply = send(&app, request).await;
    assert_eq!(reply.status.as_u16(), 422);
    assert!(reply.json()["msg"].is_string());
}

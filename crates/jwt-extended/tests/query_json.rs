//! The query-string and JSON-body locations (reference §4.4, §9.2, §9.3, §9.5, §9.6,
//! test_query_string.py, test_json.py).

mod common;

use axum::{Json, Router, routing::any};
use common::*;
use jwt_extended::{Jwt, JwtManager, RefreshJwt, TokenLocation};
use serde_json::json;

fn query_manager() -> JwtManager {
    manager(config().with_token_location([TokenLocation::QueryString]))
}

fn json_manager() -> JwtManager {
    manager(config().with_token_location([TokenLocation::Json]))
}

#[tokio::test]
async fn a_token_in_the_jwt_query_parameter_is_accepted_and_reported_as_query_string() {
    let jwt = query_manager();
    let token = jwt.create_access_token("alice").expect("token");
    call(&app(jwt), "GET", &format!("/protected?jwt={token}"), &[])
        .await
        .assert_body(
            200,
            &json!({"sub": "alice", "location": "query_string", "type": "access"}),
        );
}

#[tokio::test]
async fn a_missing_or_empty_parameter_gives_401_with_flasks_paramater_typo() {
    let jwt = query_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    for uri in [
        "/protected",
        "/protected?jwt=",
        "/protected?other=1",
        "/protected?",
    ] {
        call(&app, "GET", uri, &[])
            .await
            .assert_error(401, "Missing 'jwt' query paramater");
    }
    // Even with a good header: the header is not a configured location.
    call(
        &app,
        "GET",
        "/protected",
        &[("authorization", &bearer(&token))],
    )
    .await
    .assert_error(401, "Missing 'jwt' query paramater");
}

#[tokio::test]
async fn a_custom_parameter_name_is_read_and_named_in_the_message() {
    let jwt = manager(
        config()
            .with_token_location([TokenLocation::QueryString])
            .with_query_string_name("token"),
    );
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    call(&app, "GET", &format!("/protected?token={token}"), &[])
        .await
        .assert_ok_for("alice");
    call(&app, "GET", &format!("/protected?jwt={token}"), &[])
        .await
        .assert_error(401, "Missing 'token' query paramater");
}

#[tokio::test]
async fn a_value_prefix_is_required_and_its_absence_gives_422() {
    let jwt = manager(
        config()
            .with_token_location([TokenLocation::QueryString])
            .with_query_string_value_prefix("bearer "),
    );
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    call(
        &app,
        "GET",
        &format!("/protected?jwt=bearer%20{token}"),
        &[],
    )
    .await
    .assert_ok_for("alice");
    // `+` is a space in a query string.
    call(&app, "GET", &format!("/protected?jwt=bearer+{token}"), &[])
        .await
        .assert_ok_for("alice");
    call(&app, "GET", &format!("/protected?jwt={token}"), &[])
        .await
        .assert_error(
            422,
            "Invalid value for query parameter 'jwt'. Expected the value to start with 'bearer '",
        );
    call(&app, "GET", &format!("/protected?jwt=Bearer+{token}"), &[])
        .await
        .assert_error(
            422,
            "Invalid value for query parameter 'jwt'. Expected the value to start with 'bearer '",
        );
    // Only the prefix: a present, empty token (§9.6).
    call(&app, "GET", "/protected?jwt=bearer+", &[])
        .await
        .assert_error(422, "Not enough segments");
}

#[tokio::test]
async fn the_first_of_duplicate_query_parameters_wins() {
    let jwt = query_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    call(&app, "GET", &format!("/protected?jwt={token}&jwt=bad"), &[])
        .await
        .assert_ok_for("alice");
    call(&app, "GET", &format!("/protected?jwt=bad&jwt={token}"), &[])
        .await
        .assert_error(422, "Not enough segments");
}

#[tokio::test]
async fn a_token_in_the_json_body_is_accepted_and_reported_as_json() {
    let jwt = json_manager();
    let token = jwt.create_access_token("alice").expect("token");
    post_json(
        &app(jwt),
        "/protected",
        &json!({"access_token": token, "x": 1}),
    )
    .await
    .assert_body(
        200,
        &json!({"sub": "alice", "location": "json", "type": "access"}),
    );
}

#[tokio::test]
async fn json_content_types_with_parameters_and_plus_json_suffixes_are_json() {
    let jwt = json_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    let body = json!({"access_token": token}).to_string();
    for content_type in [
        "application/json;charset=UTF-8",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
        "application/merge-patch+json",
    ] {
        call_with_body(
            &app,
            "PATCH",
            "/protected",
            &[("content-type", content_type)],
            body.clone(),
        )
        .await
        .assert_ok_for("alice");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_gives_401_invalid_content_type() {
    let jwt = json_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    let message = "Invalid content-type. Must be application/json.";
    call(&app, "GET", "/protected", &[])
        .await
        .assert_error(401, message);
    call_with_body(
        &app,
        "POST",
        "/protected",
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("access_token={token}"),
    )
    .await
    .assert_error(401, message);
    call_with_body(
        &app,
        "POST",
        "/protected",
        &[("content-type", "text/plain")],
        json!({"access_token": token}).to_string(),
    )
    .await
    .assert_error(401, message);
}

#[tokio::test]
async fn a_missing_empty_or_falsy_key_and_unparseable_null_array_or_string_bodies_give_401() {
    let app = app(json_manager());
    let message = "Missing \"access_token\" key in json data.";
    for body in [
        "{}",
        r#"{"other": "x"}"#,
        r#"{"access_token": ""}"#,
        r#"{"access_token": null}"#,
        r#"{"access_token": false}"#,
        r#"{"access_token": 0}"#,
        r#"{"access_token": []}"#,
        r#"{"access_token": {}}"#,
        "null",
        "",
        "{not json",
        // Flask answers 500 for these two (§9.2); a missing key here.
        r#"["a", "b"]"#,
        r#""a string""#,
        "[]",
        "42",
    ] {
        let reply = call_with_body(
            &app,
            "POST",
            "/protected",
            &[("content-type", "application/json")],
            body,
        )
        .await;
        assert_eq!(
            (reply.status.as_u16(), reply.json()),
            (401, json!({ "msg": message })),
            "body {body}"
        );
    }
}

#[tokio::test]
async fn a_truthy_non_string_token_value_gives_422() {
    let app = app(json_manager());
    for value in [json!(5), json!(true), json!(["t"]), json!({"a": 1})] {
        post_json(&app, "/protected", &json!({ "access_token": value }))
            .await
            .assert_error(
                422,
                "Invalid \"access_token\" in json data: expected a string",
            );
    }
}

#[tokio::test]
async fn custom_json_keys_are_read_and_named_in_the_message() {
    let jwt = manager(
        config()
            .with_token_location([TokenLocation::Json])
            .with_json_key("Foo")
            .with_refresh_json_key("Bar"),
    );
    let access = jwt.create_access_token("alice").expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let app = app(jwt);
    post_json(&app, "/protected", &json!({ "Foo": access }))
        .await
        .assert_ok_for("alice");
    post_json(&app, "/protected", &json!({ "access_token": access }))
        .await
        .assert_error(401, "Missing \"Foo\" key in json data.");
    post_json(&app, "/refresh", &json!({ "Bar": refresh }))
        .await
        .assert_ok_for("alice");
    post_json(&app, "/refresh", &json!({ "Foo": refresh }))
        .await
        .assert_error(401, "Missing \"Bar\" key in json data.");
}

#[tokio::test]
async fn refresh_routes_read_the_refresh_token_key() {
    let jwt = json_manager();
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let app = app(jwt);
    post_json(&app, "/refresh", &json!({ "refresh_token": refresh }))
        .await
        .assert_body(
            200,
            &json!({"sub": "alice", "location": "json", "type": "refresh"}),
        );
    post_json(&app, "/refresh", &json!({ "access_token": refresh }))
        .await
        .assert_error(401, "Missing \"refresh_token\" key in json data.");
}

#[tokio::test]
async fn the_handler_still_reads_the_body_the_middleware_looked_at() {
    let jwt = json_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app: Router = Router::new()
        .route(
            "/echo",
            any(
                |Jwt(c): Jwt, Json(body): Json<serde_json::Value>| async move {
                    Json(json!({"sub": c.identity, "note": body["note"]}))
                },
            ),
        )
        .layer(axum::middleware::from_fn(jwt_extended::read_token_body))
        .with_state(AppState { jwt });
    post_json(&app, "/echo", &json!({"access_token": token, "note": "hi"}))
        .await
        .assert_body(200, &json!({"sub": "alice", "note": "hi"}));
}

#[tokio::test]
async fn the_json_location_without_the_body_middleware_is_a_500_misconfiguration() {
    let jwt = json_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app: Router = Router::new()
        .route(
            "/refresh",
            any(|RefreshJwt(c): RefreshJwt| async move { Json(describe(&c)) }),
        )
        .with_state(AppState { jwt });
    post_json(&app, "/refresh", &json!({ "refresh_token": token }))
        .await
        .assert_error(500, "Internal server error");
}

#[tokio::test]
async fn a_body_over_the_middleware_limit_is_refused_with_413() {
    let app = app(json_manager());
    let body = format!(r#"{{"pad": "{}"}}"#, "x".repeat(1024 * 1024 + 10));
    let reply = call_with_body(
        &app,
        "POST",
        "/protected",
        &[("content-type", "application/json")],
        body,
    )
    .await;
    reply.assert_error(413, "Request body too large");
}

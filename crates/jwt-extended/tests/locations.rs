//! Several locations: order, fallthrough on a *missing* token only, the aggregate message, and
//! per-route overrides (reference §4.5, §8.1, test_multiple_token_locations.py).

mod common;

use axum::{Json, Router, routing::any};
use common::*;
use jwt_extended::{JwtFrom, JwtManager, Locations, TokenLocation};
use serde_json::json;

const ALL: [TokenLocation; 4] = [
    TokenLocation::Headers,
    TokenLocation::Cookies,
    TokenLocation::QueryString,
    TokenLocation::Json,
];

fn all_locations() -> JwtManager {
    manager(config().with_token_location(ALL))
}

#[tokio::test]
async fn each_of_the_four_configured_locations_is_found_and_reported() {
    let jwt = all_locations();
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    let location = |reply: Reply| {
        assert_eq!(reply.status.as_u16(), 200, "{:?}", reply.json());
        reply.json()["location"].clone()
    };
    assert_eq!(
        location(get_with_bearer(&app, "/protected", &token).await),
        "headers"
    );
    assert_eq!(
        location(
            call(
                &app,
                "GET",
                "/protected",
                &[("cookie", &cookie("access_token_cookie", &token))]
            )
            .await
        ),
        "cookies"
    );
    assert_eq!(
        location(call(&app, "GET", &format!("/protected?jwt={token}"), &[]).await),
        "query_string"
    );
    assert_eq!(
        location(post_json(&app, "/protected", &json!({ "access_token": token })).await),
        "json"
    );
}

#[tokio::test]
async fn with_nothing_anywhere_the_aggregate_message_lists_every_location_in_order() {
    let app = app(all_locations());
    call(&app, "GET", "/protected", &[]).await.assert_error(
        401,
        "Missing JWT in headers, cookies, query_string or json (Missing Authorization Header; \
         Missing cookie \"access_token_cookie\"; Missing 'jwt' query paramater; Invalid \
         content-type. Must be application/json.)",
    );
}

#[tokio::test]
async fn the_aggregate_message_follows_the_configured_order_and_each_locations_own_reason() {
    let jwt =
        manager(config().with_token_location([TokenLocation::Cookies, TokenLocation::Headers]));
    let app = app(jwt);
    call(&app, "GET", "/protected", &[]).await.assert_error(
        401,
        "Missing JWT in cookies or headers (Missing cookie \"access_token_cookie\"; Missing \
         Authorization Header)",
    );
    call(&app, "GET", "/protected", &[("authorization", "Basic x")])
        .await
        .assert_error(
            401,
            "Missing JWT in cookies or headers (Missing cookie \"access_token_cookie\"; Missing \
             'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>')",
        );
    let three = manager(config().with_token_location([
        TokenLocation::Json,
        TokenLocation::QueryString,
        TokenLocation::Headers,
    ]));
    post_json(&app_for(three), "/protected", &json!({}))
        .await
        .assert_error(
            401,
            "Missing JWT in json, query_string or headers (Missing \"access_token\" key in json \
             data.; Missing 'jwt' query paramater; Missing Authorization Header)",
        );
}

fn app_for(jwt: JwtManager) -> Router {
    app(jwt)
}

#[tokio::test]
async fn a_single_location_reports_only_its_own_message() {
    let app = app(manager(
        config().with_token_location([TokenLocation::Cookies]),
    ));
    call(&app, "GET", "/protected", &[])
        .await
        .assert_error(401, "Missing cookie \"access_token_cookie\"");
}

#[tokio::test]
async fn an_invalid_header_token_wins_over_a_valid_cookie_when_headers_come_first() {
    let headers_first =
        manager(config().with_token_location([TokenLocation::Headers, TokenLocation::Cookies]));
    let cookies_first =
        manager(config().with_token_location([TokenLocation::Cookies, TokenLocation::Headers]));
    let token = headers_first.create_access_token("alice").expect("token");
    let jar = cookie("access_token_cookie", &token);
    let headers = [("authorization", "Bearer a.b.c"), ("cookie", jar.as_str())];
    call(&app(headers_first), "GET", "/protected", &headers)
        .await
        .assert_error(422, "Invalid header padding");
    call(&app(cookies_first), "GET", "/protected", &headers)
        .await
        .assert_ok_for("alice");
}

#[tokio::test]
async fn a_malformed_header_is_final_but_a_basic_header_falls_through() {
    let jwt =
        manager(config().with_token_location([TokenLocation::Headers, TokenLocation::Cookies]));
    let token = jwt.create_access_token("alice").expect("token");
    let jar = cookie("access_token_cookie", &token);
    let app = app(jwt);
    call(
        &app,
        "GET",
        "/protected",
        &[("authorization", "Basic dTpw"), ("cookie", &jar)],
    )
    .await
    .assert_body(
        200,
        &json!({"sub": "alice", "location": "cookies", "type": "access"}),
    );
    call(
        &app,
        "GET",
        "/protected",
        &[("authorization", "Bearer "), ("cookie", &jar)],
    )
    .await
    .assert_error(
        422,
        "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'",
    );
}

#[tokio::test]
async fn a_csrf_error_in_an_earlier_location_is_final() {
    let jwt =
        manager(config().with_token_location([TokenLocation::Cookies, TokenLocation::Headers]));
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    call(
        &app,
        "POST",
        "/protected",
        &[
            ("cookie", &cookie("access_token_cookie", &token)),
            ("authorization", &bearer(&token)),
        ],
    )
    .await
    .assert_error(401, "Missing CSRF token");
    // Without the cookie, the header token is used and needs no CSRF value.
    call(
        &app,
        "POST",
        "/protected",
        &[("authorization", &bearer(&token))],
    )
    .await
    .assert_body(
        200,
        &json!({"sub": "alice", "location": "headers", "type": "access"}),
    );
}

#[tokio::test]
async fn an_expired_or_wrong_type_token_in_an_earlier_location_is_final() {
    let jwt =
        manager(config().with_token_location([TokenLocation::Headers, TokenLocation::QueryString]));
    let good = jwt.create_access_token("alice").expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let mut expired = flask_payload("alice");
    expired["exp"] = json!(now() - 1);
    let app = app(jwt);
    call(
        &app,
        "GET",
        &format!("/protected?jwt={good}"),
        &[("authorization", &bearer(&hs256(&expired)))],
    )
    .await
    .assert_error(401, "Token has expired");
    call(
        &app,
        "GET",
        &format!("/protected?jwt={good}"),
        &[("authorization", &bearer(&refresh))],
    )
    .await
    .assert_error(422, "Only non-refresh tokens are allowed");
}

#[tokio::test]
async fn per_route_locations_override_the_config() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt);
    let jar = cookie("access_token_cookie", &token);
    let check = |reply: Reply, location: &str| {
        reply.assert_body(
            200,
            &json!({"sub": "alice", "location": location, "type": "access"}),
        );
    };
    check(
        call(&app, "GET", "/cookies", &[("cookie", &jar)]).await,
        "cookies",
    );
    check(
        call(&app, "GET", &format!("/query?jwt={token}"), &[]).await,
        "query_string",
    );
    check(
        post_json(&app, "/json", &json!({ "access_token": token })).await,
        "json",
    );
    check(get_with_bearer(&app, "/headers", &token).await, "headers");
    // The config's header location is ignored on a cookies-only route.
    get_with_bearer(&app, "/cookies", &token)
        .await
        .assert_error(401, "Missing cookie \"access_token_cookie\"");
    call(&app, "GET", "/headers", &[("cookie", &jar)])
        .await
        .assert_error(401, "Missing Authorization Header");
}

struct QueryThenCookies;

impl Locations for QueryThenCookies {
    const LOCATIONS: &'static [TokenLocation] =
        &[TokenLocation::QueryString, TokenLocation::Cookies];
}

#[tokio::test]
async fn an_app_defined_location_list_keeps_its_order_and_aggregate_message() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let app: Router = Router::new()
        .route(
            "/mixed",
            any(|JwtFrom(c, ..): JwtFrom<QueryThenCookies>| async move { Json(describe(&c)) }),
        )
        .with_state(AppState { jwt });
    call(&app, "GET", "/mixed", &[]).await.assert_error(
        401,
        "Missing JWT in query_string or cookies (Missing 'jwt' query paramater; Missing cookie \
         \"access_token_cookie\")",
    );
    call(
        &app,
        "GET",
        "/mixed?jwt=bad",
        &[("cookie", &cookie("access_token_cookie", &token))],
    )
    .await
    .assert_error(422, "Not enough segments");
    call(
        &app,
        "GET",
        "/mixed",
        &[("cookie", &cookie("access_token_cookie", &token))],
    )
    .await
    .assert_body(
        200,
        &json!({"sub": "alice", "location": "cookies", "type": "access"}),
    );
}

#[tokio::test]
async fn an_optional_route_with_nothing_in_any_location_gets_none() {
    let app = app(all_locations());
    call(&app, "GET", "/optional", &[])
        .await
        .assert_body(200, &json!({"sub": null}));
    call(&app, "GET", "/optional", &[("authorization", "Basic x")])
        .await
        .assert_body(200, &json!({"sub": null}));
}

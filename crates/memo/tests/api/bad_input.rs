//! Bad input never gives a 500: each mistake gets 4xx `{"msg"}` naming it.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, assert_error_containing, backend_tests};

backend_tests!(
    malformed_json_is_400,
    a_body_that_is_not_json_is_400,
    wrong_field_types_are_422_naming_the_field,
    unknown_fields_are_422_naming_the_field,
    json_that_is_not_an_object_is_422,
    a_body_over_512_kib_is_413_and_limits_count_characters,
    a_json_array_is_never_a_memo,
    nul_in_any_text_field_is_422,
    unknown_api_paths_are_a_json_404,
    unsupported_methods_are_a_json_405,
    a_bad_archived_filter_is_400,
);

async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(csrf) = app.csrf_access() {
        request = request.header("X-CSRF-TOKEN", csrf);
    }
    request.send().await.expect("the server answers")
}

async fn malformed_json_is_400(app: TestApp) {
    for body in ["{not json", "", r#"{"user_name": "a", "password": "b""#] {
        let response = post_raw(&app, "/api/auth/login", Some("application/json"), body).await;
        assert_error_containing(response, StatusCode::BAD_REQUEST, "Malformed JSON").await;
    }
    app.signed_in_user().await;
    let response = post_raw(
        &app,
        "/api/memos",
        Some("application/json"),
        "{\"title\": }",
    )
    .await;
    assert_error_containing(response, StatusCode::BAD_REQUEST, "Malformed JSON").await;
}

async fn a_body_that_is_not_json_is_400(app: TestApp) {
    let form = "user_name=a&password=b";
    let msg = "Expected a JSON body with Content-Type: application/json";
    for content_type in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ] {
        let response = post_raw(&app, "/api/auth/register", content_type, form).await;
        // The contract: "a wrong content type ...: 400 or 422".
        assert_error(response, StatusCode::BAD_REQUEST, msg).await;
    }
    let charset = post_raw(
        &app,
        "/api/auth/login",
        Some("application/json; charset=utf-8"),
        r#"{"user_name":"x","password":"y"}"#,
    )
    .await;
    assert_eq!(
        charset.status(),
        StatusCode::UNAUTHORIZED,
        "a charset parameter is fine"
    );
}

async fn wrong_field_types_are_422_naming_the_field(app: TestApp) {
    let response = app
        .send(
            Method::POST,
            "/api/auth/register",
            Some(&json!({"user_name": 1, "password": "12345678"})),
            crate::helpers::Csrf::Off,
        )
        .await;
    assert_error_containing(response, StatusCode::UNPROCESSABLE_ENTITY, "user_name").await;
    app.signed_in_user().await;
    let response = app
        .call(
            Method::POST,
            "/api/memos",
            Some(&json!({"title": ["a"], "content": ""})),
        )
        .await;
    assert_error_containing(response, StatusCode::UNPROCESSABLE_ENTITY, "title").await;
    let response = app
        .call(
            Method::POST,
            "/api/memos",
            Some(&json!({"title": "t", "content": null})),
        )
        .await;
    assert_error_containing(response, StatusCode::UNPROCESSABLE_ENTITY, "content").await;
}

async fn unknown_fields_are_422_naming_the_field(app: TestApp) {
    let body =
        json!({"user_name": "someone", "password": "12345678", "manager_role_attached": true});
    let response = app
        .send(
            Method::POST,
            "/api/auth/register",
            Some(&body),
            crate::helpers::Csrf::Off,
        )
        .await;
    assert_error_containing(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field `manager_role_attached`",
    )
    .await;
    app.signed_in_user().await;
    let response = app
        .call(
            Method::POST,
            "/api/memos",
            Some(&json!({"title": "t", "owner": 1})),
        )
        .await;
    assert_error_containing(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field `owner`",
    )
    .await;
}

async fn json_that_is_not_an_object_is_422(app: TestApp) {
    for body in ["[]", "null", "\"text\"", "42"] {
        let response = post_raw(&app, "/api/auth/login", Some("application/json"), body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert!(crate::helpers::json(response).await["msg"].is_string());
    }
}

/// The limits count characters: the longest memo in Japanese (100,000
/// characters, 300 KB of UTF-8) is accepted; one more character is a 422
/// naming the field; only a body over 512 KiB is refused whole (413).
async fn a_body_over_512_kib_is_413_and_limits_count_characters(app: TestApp) {
    let msg = "Request body is too large (the limit is 512 KiB)";
    let big = json!({"user_name": "big", "password": "p".repeat(520 * 1024)});
    let response = app
        .send(
            Method::POST,
            "/api/auth/register",
            Some(&big),
            crate::helpers::Csrf::Off,
        )
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, msg).await;
    app.signed_in_user().await;
    let japanese = "\u{65e5}\u{672c}\u{8a9e}\u{306e}\u{30e1}\u{30e2}".repeat(100_000 / 6);
    let japanese = format!(
        "{japanese}{}",
        "\u{3042}".repeat(100_000 - japanese.chars().count())
    );
    let longest = json!({"title": "\u{65e5}".repeat(200), "content": japanese});
    let created = app.call(Method::POST, "/api/memos", Some(&longest)).await;
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "100,000 characters, 300 KB"
    );
    let stored = crate::helpers::json(created).await;
    assert_eq!(
        stored["content"].as_str().map(|c| c.chars().count()),
        Some(100_000)
    );
    let over = json!({"title": "t", "content": format!("{japanese}\u{3042}")});
    assert_error(
        app.call(Method::POST, "/api/memos", Some(&over)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "content must be at most 100000 characters",
    )
    .await;
    let too_big = json!({"title": "t", "content": "c".repeat(513 * 1024)});
    assert_error(
        app.call(Method::POST, "/api/memos", Some(&too_big)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        msg,
    )
    .await;
    // A route that reads no body refuses one over the limit too, and does
    // nothing.
    let path = format!("/api/memos/{}", stored["id"]);
    assert_error(
        app.call(Method::DELETE, &path, Some(&too_big)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        msg,
    )
    .await;
    assert_eq!(app.get(&path).await.status(), StatusCode::OK, "not deleted");
}

/// serde reads a struct from a JSON array; a memo body must be an object.
async fn a_json_array_is_never_a_memo(app: TestApp) {
    app.signed_in_user().await;
    for body in [r#"["t","c"]"#, r#"["t"]"#, r#""t""#, "1", "null"] {
        let response = post_raw(&app, "/api/memos", Some("application/json"), body).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request body: expected a JSON object",
        )
        .await;
    }
    let response = post_raw(
        &app,
        "/api/auth/register",
        Some("application/json"),
        r#"["someone","long enough password"]"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let memos = crate::helpers::json(app.get("/api/memos").await).await;
    assert_eq!(memos, json!([]), "nothing was created");
}

/// PostgreSQL cannot store U+0000 in text; both backends answer 422.
async fn nul_in_any_text_field_is_422(app: TestApp) {
    let (registered, _) = app.signed_in_user().await;
    let nul_name = json!({"user_name": "nul\u{0}name", "password": "long enough password"});
    let unregistered = crate::helpers::TestUser::generate();
    let nul_password = json!({"user_name": unregistered.user_name, "password": "long enough\u{0}"});
    let nul_login = json!({"user_name": registered.user_name, "password": "x\u{0}"});
    for (path, body, field) in [
        ("/api/auth/register", &nul_name, "user_name"),
        ("/api/auth/login", &nul_name, "user_name"),
        ("/api/auth/register", &nul_password, "password"),
        ("/api/auth/login", &nul_login, "password"),
    ] {
        let response = app
            .send(Method::POST, path, Some(body), crate::helpers::Csrf::Off)
            .await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{field} must not contain U+0000 (NUL)"),
        )
        .await;
    }
    let memo = app.create_memo("kept", "as it was").await;
    let id = memo["id"].as_i64().expect("an id");
    for (method, path, body, field) in [
        (
            Method::POST,
            "/api/auth/password".to_owned(),
            json!({"current_password": "\u{0}", "new_password": "long enough password"}),
            "current_password",
        ),
        (
            Method::DELETE,
            "/api/auth/account".to_owned(),
            json!({"password": "x\u{0}"}),
            "password",
        ),
        (
            Method::POST,
            "/api/memos".to_owned(),
            json!({"title": "a\u{0}b"}),
            "title",
        ),
        (
            Method::POST,
            "/api/memos".to_owned(),
            json!({"title": "t", "content": "\u{0}"}),
            "content",
        ),
        (
            Method::PATCH,
            format!("/api/memos/{id}"),
            json!({"title": "\u{0}"}),
            "title",
        ),
        (
            Method::PATCH,
            format!("/api/memos/{id}"),
            json!({"content": "x\u{0}"}),
            "content",
        ),
    ] {
        assert_error(
            app.call(method, &path, Some(&body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{field} must not contain U+0000 (NUL)"),
        )
        .await;
    }
    let kept = crate::helpers::json(app.get(&format!("/api/memos/{id}")).await).await;
    assert_eq!(kept, memo, "the memo is unchanged");
}

async fn unknown_api_paths_are_a_json_404(app: TestApp) {
    for path in [
        "/api",
        "/api/",
        "/api/nothing",
        "/api/memos/1/extra",
        "/api/auth",
    ] {
        assert_error(app.get(path).await, StatusCode::NOT_FOUND, "Not found").await;
    }
}

async fn unsupported_methods_are_a_json_405(app: TestApp) {
    let response = app
        .call(Method::PUT, "/api/memos", Some(&json!({"title": "t"})))
        .await;
    let allow = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
    )
    .await;
    assert!(
        allow.is_some_and(|a| a.contains("GET") && a.contains("POST")),
        "Allow lists the methods"
    );
    assert_error(
        app.get("/api/auth/login").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
    )
    .await;
}

async fn a_bad_archived_filter_is_400(app: TestApp) {
    app.signed_in_user().await;
    assert_error_containing(
        app.get("/api/memos?archived=maybe").await,
        StatusCode::BAD_REQUEST,
        "archived",
    )
    .await;
    assert_eq!(
        app.get("/api/memos?archived=true&_=123").await.status(),
        StatusCode::OK,
        "other parameters are ignored"
    );
}

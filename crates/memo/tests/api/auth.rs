//! `/api/auth/*` and the admin route: every row of the contract's auth table.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    Csrf, TestApp, TestUser, assert_error, backend_tests, cookie_value, forge, json, now, payload,
    payload_keys, set_cookie, set_cookies,
};

backend_tests!(
    register_creates_a_user_and_returns_201_with_its_id_and_name,
    register_refuses_a_taken_name_with_409,
    register_checks_name_and_password_lengths_with_422,
    login_sets_the_four_cookies_exactly_as_the_contract_says,
    access_token_claims_follow_flask_order_with_the_user_rows_claims,
    login_with_a_wrong_password_or_an_unknown_name_is_401,
    status_is_200_with_the_access_cookie_and_401_without,
    me_returns_the_logged_in_user,
    refresh_issues_new_access_and_refresh_cookies_with_the_refresh_csrf_header,
    refresh_refuses_missing_or_mismatched_csrf_and_missing_cookie,
    token_types_cannot_be_swapped,
    logout_clears_all_four_cookies_and_revokes_both_tokens,
    logout_needs_the_csrf_header_of_a_valid_session,
    logout_of_a_dead_session_still_clears_the_cookies,
    a_refresh_cookie_without_its_csrf_value_ends_no_login,
    status_is_401_for_a_deleted_user,
    revocations_survive_a_restart,
    an_expired_access_token_is_401_token_has_expired,
    a_token_signed_with_another_key_is_422,
    a_deleted_users_token_is_401_error_loading_the_user,
    admin_users_is_for_managers_only,
);

async fn register_creates_a_user_and_returns_201_with_its_id_and_name(app: TestApp) {
    let user = TestUser::generate();

    let response = app.register(&user).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json(response).await;
    assert!(body["id"].as_i64().is_some_and(|id| id > 0), "{body}");
    assert_eq!(
        body,
        json!({ "id": body["id"], "user_name": user.user_name })
    );
    assert_eq!(
        app.login(&user).await.status(),
        StatusCode::OK,
        "the new account can log in"
    );
}

async fn register_refuses_a_taken_name_with_409(app: TestApp) {
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    let again = TestUser {
        password: "another password".into(),
        ..user.clone()
    };

    assert_error(
        app.register(&again).await,
        StatusCode::CONFLICT,
        "User name already taken",
    )
    .await;
    assert_eq!(
        app.login(&user).await.status(),
        StatusCode::OK,
        "the first account is untouched"
    );
}

async fn register_checks_name_and_password_lengths_with_422(app: TestApp) {
    let cases = [
        (String::new(), "long enough", "user_name must not be empty"),
        (
            "   ".to_owned(),
            "long enough",
            "user_name must not be empty",
        ),
        (
            "a".repeat(65),
            "long enough",
            "user_name must be at most 64 characters",
        ),
        (
            "fine-name".to_owned(),
            "1234567",
            "password must be at least 8 characters",
        ),
    ];
    for (user_name, password, msg) in cases {
        let body = json!({ "user_name": user_name, "password": password });
        let response = app
            .send(Method::POST, "/api/auth/register", Some(&body), Csrf::Off)
            .await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    }
    let longest = TestUser {
        user_name: "é".repeat(64),
        password: "12345678".into(),
    };
    assert_eq!(
        app.register(&longest).await.status(),
        StatusCode::CREATED,
        "64 characters and 8 are allowed"
    );
}

async fn login_sets_the_four_cookies_exactly_as_the_contract_says(app: TestApp) {
    let user = TestUser::generate();
    app.register(&user).await;

    let response = app.login(&user).await;

    assert_eq!(response.status(), StatusCode::OK);
    let lines = set_cookies(response.headers());
    assert_eq!(lines.len(), 4, "{lines:?}");
    let access = cookie_value(set_cookie(&lines, "access_token_cookie")).to_owned();
    let refresh = cookie_value(set_cookie(&lines, "refresh_token_cookie")).to_owned();
    let access_csrf = payload(&access)["csrf"]
        .as_str()
        .expect("a csrf claim")
        .to_owned();
    let refresh_csrf = payload(&refresh)["csrf"]
        .as_str()
        .expect("a csrf claim")
        .to_owned();
    assert_eq!(
        set_cookie(&lines, "access_token_cookie"),
        format!("access_token_cookie={access}; HttpOnly; Path=/; SameSite=Strict")
    );
    assert_eq!(
        set_cookie(&lines, "csrf_access_token"),
        format!("csrf_access_token={access_csrf}; Path=/; SameSite=Strict")
    );
    assert_eq!(
        set_cookie(&lines, "refresh_token_cookie"),
        format!("refresh_token_cookie={refresh}; HttpOnly; Path=/api/auth; SameSite=Strict")
    );
    assert_eq!(
        set_cookie(&lines, "csrf_refresh_token"),
        format!("csrf_refresh_token={refresh_csrf}; Path=/; SameSite=Strict")
    );
    let body = json(response).await;
    assert_eq!(body["user_name"], user.user_name.as_str());
}

async fn access_token_claims_follow_flask_order_with_the_user_rows_claims(app: TestApp) {
    let boss = TestUser::generate();
    let id = app.add_user(&boss, true, Some("CTO Office")).await;

    let response = app.login(&boss).await;

    let lines = set_cookies(response.headers());
    let access = cookie_value(set_cookie(&lines, "access_token_cookie"));
    let refresh = cookie_value(set_cookie(&lines, "refresh_token_cookie"));
    let flask_order = [
        "fresh",
        "iat",
        "jti",
        "type",
        "sub",
        "nbf",
        "csrf",
        "exp",
        "department",
        "manager_role_attached",
        // The login's family id (jwt-extended's refresh rotation), last.
        "fam",
    ];
    assert_eq!(payload_keys(access), flask_order);
    assert_eq!(payload_keys(refresh), flask_order);
    let claims = payload(access);
    assert_eq!(
        claims["sub"],
        id.to_string(),
        "sub is the user id as a string"
    );
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["department"], "CTO Office");
    assert_eq!(claims["manager_role_attached"], true);
    let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    assert_eq!(lifetime, 600, "the original's 10 minutes");
    let refresh_claims = payload(refresh);
    assert_eq!(refresh_claims["type"], "refresh");
    assert_eq!(refresh_claims["fresh"], false);
    assert_eq!(
        refresh_claims["exp"].as_i64().expect("exp") - refresh_claims["iat"].as_i64().expect("iat"),
        2_592_000
    );
}

async fn login_with_a_wrong_password_or_an_unknown_name_is_401(app: TestApp) {
    let user = TestUser::generate();
    app.register(&user).await;
    let wrong_password = TestUser {
        password: "not the password".into(),
        ..user.clone()
    };

    let responses = [
        app.login(&wrong_password).await,
        app.login(&TestUser::generate()).await,
    ];

    for response in responses {
        assert!(
            set_cookies(response.headers()).is_empty(),
            "no cookies on failure"
        );
        assert_error(
            response,
            StatusCode::UNAUTHORIZED,
            "Wrong login id or password.",
        )
        .await;
    }
}

async fn status_is_200_with_the_access_cookie_and_401_without(app: TestApp) {
    assert_error(
        app.get("/api/auth/status").await,
        StatusCode::UNAUTHORIZED,
        r#"Missing cookie "access_token_cookie""#,
    )
    .await;

    app.signed_in_user().await;

    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
}

async fn me_returns_the_logged_in_user(app: TestApp) {
    assert_error(
        app.get("/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
        r#"Missing cookie "access_token_cookie""#,
    )
    .await;
    let (user, id) = app.signed_in_user().await;

    let response = app.get("/api/auth/me").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json(response).await,
        json!({ "id": id, "user_name": user.user_name, "department": null, "manager_role_attached": false })
    );
}

async fn refresh_issues_new_access_and_refresh_cookies_with_the_refresh_csrf_header(app: TestApp) {
    app.signed_in_user().await;
    let old_access = app
        .cookie_for("/", "access_token_cookie")
        .expect("an access cookie");

    let response = app
        .send(Method::POST, "/api/auth/refresh", None, Csrf::Refresh)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let lines = set_cookies(response.headers());
    assert_eq!(lines.len(), 4, "the access and refresh pairs: {lines:?}");
    let new_refresh = cookie_value(set_cookie(&lines, "refresh_token_cookie")).to_owned();
    assert_eq!(payload(&new_refresh)["type"], "refresh");
    let new_access = cookie_value(set_cookie(&lines, "access_token_cookie")).to_owned();
    assert_ne!(new_access, old_access);
    assert_eq!(payload(&new_access)["type"], "access");
    assert_eq!(app.cookie_for("/", "access_token_cookie"), Some(new_access));
    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
}

async fn refresh_refuses_missing_or_mismatched_csrf_and_missing_cookie(app: TestApp) {
    assert_error(
        app.send(Method::POST, "/api/auth/refresh", None, Csrf::Off)
            .await,
        StatusCode::UNAUTHORIZED,
        r#"Missing cookie "refresh_token_cookie""#,
    )
    .await;
    app.signed_in_user().await;

    let without = app
        .send(Method::POST, "/api/auth/refresh", None, Csrf::Off)
        .await;
    let with_access_csrf = app
        .send(Method::POST, "/api/auth/refresh", None, Csrf::Access)
        .await;

    assert_error(without, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
    assert_error(
        with_access_csrf,
        StatusCode::UNAUTHORIZED,
        "CSRF double submit tokens do not match",
    )
    .await;
}

async fn token_types_cannot_be_swapped(app: TestApp) {
    app.signed_in_user().await;
    let access = app.cookie_for("/", "access_token_cookie").expect("access");
    let refresh = app
        .cookie_for("/api/auth/refresh", "refresh_token_cookie")
        .expect("refresh");
    let access_csrf = payload(&access)["csrf"].as_str().expect("csrf").to_owned();
    let bare = app.bare_client();

    let refresh_as_access = bare
        .get(app.url("/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={refresh}"))
        .send()
        .await
        .expect("answer");
    let access_as_refresh = bare
        .post(app.url("/api/auth/refresh"))
        .header("Cookie", format!("refresh_token_cookie={access}"))
        .header("X-CSRF-TOKEN", access_csrf)
        .send()
        .await
        .expect("answer");

    assert_error(
        refresh_as_access,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Only non-refresh tokens are allowed",
    )
    .await;
    assert_error(
        access_as_refresh,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Only refresh tokens are allowed",
    )
    .await;
}

async fn logout_clears_all_four_cookies_and_revokes_both_tokens(app: TestApp) {
    app.signed_in_user().await;
    let access = app.cookie_for("/", "access_token_cookie").expect("access");
    let refresh = app
        .cookie_for("/api/auth/refresh", "refresh_token_cookie")
        .expect("refresh");
    let refresh_csrf = app
        .cookie_for("/", "csrf_refresh_token")
        .expect("refresh csrf");

    let response = app.call(Method::POST, "/api/auth/logout", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let lines = set_cookies(response.headers());
    let epoch = "Expires=Thu, 01 Jan 1970 00:00:00 GMT";
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(
        set_cookie(&lines, "access_token_cookie"),
        format!("access_token_cookie=; {epoch}; HttpOnly; Path=/; SameSite=Strict")
    );
    assert_eq!(
        set_cookie(&lines, "csrf_access_token"),
        format!("csrf_access_token=; {epoch}; Path=/; SameSite=Strict")
    );
    assert_eq!(
        set_cookie(&lines, "refresh_token_cookie"),
        format!("refresh_token_cookie=; {epoch}; HttpOnly; Path=/api/auth; SameSite=Strict")
    );
    assert_eq!(
        set_cookie(&lines, "csrf_refresh_token"),
        format!("csrf_refresh_token=; {epoch}; Path=/; SameSite=Strict")
    );
    assert_eq!(
        app.cookie_for("/", "access_token_cookie"),
        None,
        "the browser dropped the cookie"
    );
    assert_error(
        app.get("/api/auth/status").await,
        StatusCode::UNAUTHORIZED,
        r#"Missing cookie "access_token_cookie""#,
    )
    .await;

    let bare = app.bare_client();
    let old_access = bare
        .get(app.url("/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={access}"))
        .send()
        .await
        .expect("answer");
    let old_refresh = bare
        .post(app.url("/api/auth/refresh"))
        .header("Cookie", format!("refresh_token_cookie={refresh}"))
        .header("X-CSRF-TOKEN", refresh_csrf)
        .send()
        .await
        .expect("answer");
    assert_error(
        old_access,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
    assert_error(
        old_refresh,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
}

async fn logout_needs_the_csrf_header_of_a_valid_session(app: TestApp) {
    app.signed_in_user().await;

    let response = app
        .send(Method::POST, "/api/auth/logout", None, Csrf::Off)
        .await;

    assert!(set_cookies(response.headers()).is_empty());
    assert_error(response, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
    assert_eq!(
        app.get("/api/auth/status").await.status(),
        StatusCode::OK,
        "still logged in"
    );
}

async fn logout_of_a_dead_session_still_clears_the_cookies(app: TestApp) {
    let (_, id) = app.signed_in_user().await;
    let refresh = app
        .cookie_for("/api/auth/refresh", "refresh_token_cookie")
        .expect("refresh");
    let refresh_csrf = app
        .cookie_for("/", "csrf_refresh_token")
        .expect("refresh csrf");
    let expired = forge(
        &app,
        &json!({"fresh": false, "iat": now() - 700, "jti": "dead", "type": "access", "sub": id.to_string(),
                "nbf": now() - 700, "csrf": "c", "exp": now() - 100}),
    );

    // The access token is dead; the live refresh token it revokes is proven
    // by its own CSRF value (the csrf_refresh_token cookie).
    let response = app
        .bare_client()
        .post(app.url("/api/auth/logout"))
        .header(
            "Cookie",
            format!("access_token_cookie={expired}; refresh_token_cookie={refresh}"),
        )
        .header("X-CSRF-TOKEN", &refresh_csrf)
        .send()
        .await
        .expect("answer");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(set_cookies(response.headers()).len(), 4);
    let old_refresh = app
        .send(
            Method::POST,
            "/api/auth/refresh",
            None,
            Csrf::Value(refresh_csrf),
        )
        .await;
    assert_error(
        old_refresh,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
}

/// Issue 12 item 5: a cross-site POST carries the cookies but cannot read the
/// CSRF cookies; the refresh cookie alone must not end the login.
async fn a_refresh_cookie_without_its_csrf_value_ends_no_login(app: TestApp) {
    app.signed_in_user().await;
    let refresh = app
        .cookie_for("/api/auth/refresh", "refresh_token_cookie")
        .expect("refresh");
    let forged = |csrf: Option<&str>| {
        let request = app
            .bare_client()
            .post(app.url("/api/auth/logout"))
            .header("Cookie", format!("refresh_token_cookie={refresh}"));
        match csrf {
            Some(value) => request.header("X-CSRF-TOKEN", value),
            None => request,
        }
        .send()
    };

    let without = forged(None).await.expect("answer");
    let wrong = forged(Some("guessed")).await.expect("answer");

    assert!(set_cookies(without.headers()).is_empty());
    assert_error(without, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
    assert_error(
        wrong,
        StatusCode::UNAUTHORIZED,
        "CSRF double submit tokens do not match",
    )
    .await;
    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
    let refreshed = app
        .send(Method::POST, "/api/auth/refresh", None, Csrf::Refresh)
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK, "the login lives on");
}

/// The original registers a user lookup loader, which Flask-JWT-Extended runs
/// on every guarded route: a token whose user is gone is refused even by
/// status (contract: 401).
async fn status_is_401_for_a_deleted_user(app: TestApp) {
    app.signed_in_user().await;
    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
    let ghost = forge(
        &app,
        &json!({"fresh": false, "iat": now(), "jti": "g", "type": "access", "sub": "987654321",
                "nbf": now(), "csrf": "c", "exp": now() + 600}),
    );

    let status = app
        .bare_client()
        .get(app.url("/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={ghost}"))
        .send()
        .await
        .expect("answer");

    assert_error(
        status,
        StatusCode::UNAUTHORIZED,
        "Error loading the user 987654321",
    )
    .await;
}

async fn revocations_survive_a_restart(app: TestApp) {
    app.signed_in_user().await;
    let access = app.cookie_for("/", "access_token_cookie").expect("access");
    assert_eq!(
        app.call(Method::POST, "/api/auth/logout", None)
            .await
            .status(),
        StatusCode::OK
    );

    let config = memo::Config::new(
        app.database_url.clone(),
        memo::config::Secret::new(app.secret.clone()),
    );
    let restarted = memo::App::build(config)
        .await
        .expect("a second server on the same database");
    let address = format!("http://127.0.0.1:{}", restarted.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(restarted.run_until(async {
        let _ = stopped.await;
    }));
    let response = app
        .bare_client()
        .get(format!("{address}/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={access}"))
        .send()
        .await
        .expect("answer");
    let _ = stop.send(());
    server.await.expect("joined").expect("a clean shutdown");

    assert_error(response, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
}

async fn an_expired_access_token_is_401_token_has_expired(app: TestApp) {
    let (_, id) = app.signed_in_user().await;
    let expired = forge(
        &app,
        &json!({"fresh": false, "iat": now() - 700, "jti": "j", "type": "access", "sub": id.to_string(),
                "nbf": now() - 700, "csrf": "c", "exp": now() - 100,
                "department": null, "manager_role_attached": false}),
    );

    let response = app
        .bare_client()
        .get(app.url("/api/memos"))
        .header("Cookie", format!("access_token_cookie={expired}"))
        .send()
        .await
        .expect("answer");

    assert_error(response, StatusCode::UNAUTHORIZED, "Token has expired").await;
}

async fn a_token_signed_with_another_key_is_422(app: TestApp) {
    let (_, id) = app.signed_in_user().await;
    let key = jsonwebtoken::EncodingKey::from_secret(b"not the server's secret, at all, no");
    let claims = json!({"fresh": false, "iat": now(), "jti": "j", "type": "access", "sub": id.to_string(),
                        "nbf": now(), "csrf": "c", "exp": now() + 600});
    let forged =
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("a token");

    let response = app
        .bare_client()
        .get(app.url("/api/memos"))
        .header("Cookie", format!("access_token_cookie={forged}"))
        .send()
        .await
        .expect("answer");

    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Signature verification failed",
    )
    .await;
    let garbage = app
        .bare_client()
        .get(app.url("/api/memos"))
        .header("Cookie", "access_token_cookie=garbage")
        .send()
        .await
        .expect("answer");
    assert_error(
        garbage,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Not enough segments",
    )
    .await;
}

async fn a_deleted_users_token_is_401_error_loading_the_user(app: TestApp) {
    app.signed_in_user().await;
    let ghost = forge(
        &app,
        &json!({"fresh": false, "iat": now(), "jti": "g", "type": "access", "sub": "987654321",
                "nbf": now(), "csrf": "c", "exp": now() + 600}),
    );

    let response = app
        .bare_client()
        .get(app.url("/api/auth/me"))
        .header("Cookie", format!("access_token_cookie={ghost}"))
        .send()
        .await
        .expect("answer");

    assert_error(
        response,
        StatusCode::UNAUTHORIZED,
        "Error loading the user 987654321",
    )
    .await;
}

async fn admin_users_is_for_managers_only(app: TestApp) {
    assert_error(
        app.get("/api/admin/users").await,
        StatusCode::UNAUTHORIZED,
        r#"Missing cookie "access_token_cookie""#,
    )
    .await;
    let (member, member_id) = app.signed_in_user().await;
    assert_error(
        app.get("/api/admin/users").await,
        StatusCode::FORBIDDEN,
        "access to this resource is not allowed",
    )
    .await;

    let boss = TestUser::generate();
    let boss_id = app.add_user(&boss, true, Some("CTO Office")).await;
    let boss_browser = app.other_browser();
    assert_eq!(boss_browser.login(&boss).await.status(), StatusCode::OK);
    let response = boss_browser.get("/api/admin/users").await;

    assert_eq!(response.status(), StatusCode::OK);
    let users = json(response).await;
    let users = users.as_array().expect("a list");
    assert!(users.contains(&json!({"id": member_id, "user_name": member.user_name, "department": null, "manager_role_attached": false})));
    assert!(users.contains(&json!({"id": boss_id, "user_name": boss.user_name, "department": "CTO Office", "manager_role_attached": true})));
    assert!(
        users.iter().all(|u| u.get("password_hash").is_none()),
        "hashes never leave"
    );
}

/// A test-only RSA key pair (never used outside these tests).
fn fixture(name: &str) -> String {
    format!("{}/tests/api/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn rs256_with_pem_files_signs_with_the_private_key_and_refuses_hs256() {
    use clap::Parser as _;
    let (private, public) = (
        fixture("test-rs256-private.pem"),
        fixture("test-rs256-public.pem"),
    );
    let cli = memo::cli::Cli::try_parse_from([
        "memo",
        "--jwt-algorithm",
        "RS256",
        "--jwt-private-key",
        &private,
        "--jwt-public-key",
        &public,
    ])
    .expect("valid arguments");
    let resolved = memo::Config::from_settings(&cli.settings).expect("the key files are read");
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |config| {
        config.jwt = resolved.jwt
    })
    .await
    .expect("a SQLite server");

    app.signed_in_user().await;

    let access = app
        .cookie_for("/", "access_token_cookie")
        .expect("an access cookie");
    let header = {
        use base64::Engine as _;
        let part = access.split('.').next().expect("a header");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url");
        serde_json::from_slice::<serde_json::Value>(&bytes).expect("JSON")
    };
    assert_eq!(header["alg"], "RS256");
    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
    let hs256 = forge(
        &app,
        &json!({"sub": "1", "type": "access", "csrf": "c", "exp": now() + 60}),
    );
    let response = app
        .bare_client()
        .get(app.url("/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={hs256}"))
        .send()
        .await
        .expect("answer");
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "The specified alg value is not allowed",
    )
    .await;
}

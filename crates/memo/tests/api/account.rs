//! A user changes their password or deletes their account
//! (`POST /api/auth/password`, `DELETE /api/auth/account`): the other
//! logins end at once, also on another instance through Redis; a deleted
//! user's memos are gone; wrong passwords count toward the login limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    Backend, Csrf, TestApp, TestUser, assert_error, backend_tests, json, next_second, set_cookies,
    spawn_app, spawn_app_with,
};

backend_tests!(
    changing_the_password_ends_every_other_login_and_keeps_this_one,
    a_wrong_current_password_is_401_and_changes_nothing,
    a_weak_new_password_is_422,
    the_account_routes_need_a_token_and_the_csrf_header,
    deleting_the_account_deletes_the_user_their_memos_and_logins,
    a_wrong_password_does_not_delete_the_account,
);

fn change(current: &str, new: &str) -> serde_json::Value {
    json!({"current_password": current, "new_password": new})
}

/// This browser's entry in `GET /api/auth/sessions`.
async fn current_login(app: &TestApp) -> serde_json::Value {
    let sessions = json(app.get("/api/auth/sessions").await).await;
    let mut list = sessions.as_array().cloned().unwrap_or_default();
    list.retain(|s| s["current"] == true);
    assert_eq!(list.len(), 1, "one current login: {sessions}");
    list.remove(0)
}

/// `GET /api/auth/status` with this browser's cookies.
async fn status(app: &TestApp) -> StatusCode {
    app.get("/api/auth/status").await.status()
}

async fn changing_the_password_ends_every_other_login_and_keeps_this_one(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let other = app.other_browser();
    assert_eq!(other.login(&user).await.status(), StatusCode::OK);
    let old_access = app.cookie_for("/", "access_token_cookie").expect("access");
    let old_refresh = app
        .cookie_for("/api/auth/refresh", "refresh_token_cookie")
        .expect("refresh");
    let old_refresh_csrf = app.cookie_for("/", "csrf_refresh_token").expect("csrf");
    let this_login = current_login(&app).await;
    next_second().await;

    let new_password = "a brand new password";
    let changed = app
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&change(&user.password, new_password)),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(set_cookies(changed.headers()).len(), 4, "new cookies");
    assert_eq!(json(changed).await, json!({"msg": "Password changed"}));

    assert_eq!(status(&app).await, StatusCode::OK, "this browser stays in");
    let sessions = json(app.get("/api/auth/sessions").await).await;
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    let kept = current_login(&app).await;
    for field in ["created_at", "user_agent"] {
        assert_eq!(
            kept[field], this_login[field],
            "the login keeps its {field}"
        );
    }
    assert_error(
        other.get("/api/auth/status").await,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
    let copied = app
        .bare_client()
        .get(app.url("/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={old_access}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        copied.status(),
        StatusCode::UNAUTHORIZED,
        "old tokens of this login too"
    );
    let copied_refresh = app
        .bare_client()
        .post(app.url("/api/auth/refresh"))
        .header("Cookie", format!("refresh_token_cookie={old_refresh}"))
        .header("X-CSRF-TOKEN", old_refresh_csrf)
        .send()
        .await
        .expect("answer");
    assert_error(
        copied_refresh,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
    assert_eq!(
        status(&app).await,
        StatusCode::OK,
        "a dead copy ends nothing"
    );
    let third = app.other_browser();
    assert_eq!(third.login(&user).await.status(), StatusCode::UNAUTHORIZED);
    let renewed = TestUser {
        password: new_password.into(),
        ..user
    };
    assert_eq!(third.login(&renewed).await.status(), StatusCode::OK);
}

async fn a_wrong_current_password_is_401_and_changes_nothing(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let response = app
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&change("not my password", "a brand new password")),
        )
        .await;
    assert!(set_cookies(response.headers()).is_empty());
    assert_error(response, StatusCode::UNAUTHORIZED, "Wrong password").await;
    assert_eq!(status(&app).await, StatusCode::OK, "still logged in");
    assert_eq!(
        app.other_browser().login(&user).await.status(),
        StatusCode::OK
    );
}

async fn a_weak_new_password_is_422(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let response = app
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&change(&user.password, "short")),
        )
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "password must be at least 8 characters",
    )
    .await;
    assert_eq!(
        app.other_browser().login(&user).await.status(),
        StatusCode::OK
    );
}

async fn the_account_routes_need_a_token_and_the_csrf_header(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let body = change(&user.password, "a brand new password");
    let no_csrf = app
        .send(Method::POST, "/api/auth/password", Some(&body), Csrf::Off)
        .await;
    assert_error(no_csrf, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
    let delete = json!({"password": user.password});
    let no_csrf = app
        .send(
            Method::DELETE,
            "/api/auth/account",
            Some(&delete),
            Csrf::Off,
        )
        .await;
    assert_error(no_csrf, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
    let stranger = app.other_browser();
    for (method, path, body) in [
        (Method::POST, "/api/auth/password", &body),
        (Method::DELETE, "/api/auth/account", &delete),
    ] {
        let response = stranger.send(method, path, Some(body), Csrf::Off).await;
        assert_error(
            response,
            StatusCode::UNAUTHORIZED,
            "Missing cookie \"access_token_cookie\"",
        )
        .await;
    }
    assert_eq!(
        app.other_browser().login(&user).await.status(),
        StatusCode::OK
    );
}

async fn deleting_the_account_deletes_the_user_their_memos_and_logins(app: TestApp) {
    let (user, id) = app.signed_in_user().await;
    let memo = app.create_memo("mine", "to be deleted").await;
    let other = app.other_browser();
    assert_eq!(other.login(&user).await.status(), StatusCode::OK);
    let (_, neighbour_id) = other.other_browser().signed_in_user().await;
    assert_ne!(neighbour_id, id);

    let deleted = app
        .call(
            Method::DELETE,
            "/api/auth/account",
            Some(&json!({"password": user.password})),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(deleted.headers());
    assert_eq!(cleared.len(), 4, "{cleared:?}");

    assert_eq!(
        other.get("/api/auth/status").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        other.get("/api/memos").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_error(
        app.other_browser().login(&user).await,
        StatusCode::UNAUTHORIZED,
        "Wrong login id or password.",
    )
    .await;
    let db = memo::db::Db::connect(&app.database_url).await.expect("db");
    assert_eq!(db.user_by_id(id).await.expect("query"), None);
    let memo_id = memo["id"].as_i64().expect("an id");
    assert_eq!(
        db.memo(memo_id, id).await.expect("query"),
        None,
        "memos gone"
    );
    assert!(db.user_by_id(neighbour_id).await.expect("query").is_some());
    db.close().await;
    // The name is free again.
    assert_eq!(
        app.other_browser().register(&user).await.status(),
        StatusCode::CREATED
    );
}

async fn a_wrong_password_does_not_delete_the_account(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let response = app
        .call(
            Method::DELETE,
            "/api/auth/account",
            Some(&json!({"password": "not my password"})),
        )
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "Wrong password").await;
    assert_eq!(status(&app).await, StatusCode::OK);
    assert_eq!(
        app.other_browser().login(&user).await.status(),
        StatusCode::OK
    );
}

/// Wrong passwords given to the account routes count toward the login
/// limits of the user's name, like failed logins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_on_the_account_routes_count_toward_the_login_limits() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.rate_limits.login_failures_per_user = 3;
    })
    .await
    .expect("a server");
    let (user, _) = app.signed_in_user().await;
    let wrong_change = change("wrong guess", "a brand new password");
    for _ in 0..2 {
        let response = app
            .call(Method::POST, "/api/auth/password", Some(&wrong_change))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let wrong_delete = json!({"password": "wrong guess"});
    let response = app
        .call(Method::DELETE, "/api/auth/account", Some(&wrong_delete))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let limited = app.other_browser().login(&user).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    let right = change(&user.password, "a brand new password");
    let response = app
        .call(Method::POST, "/api/auth/password", Some(&right))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the right password too, until the window ends"
    );
}

/// Two instances on one database and one Redis: a password change on one
/// ends the other logins, and the other instance refuses their tokens at
/// once (no cache to wait for).
async fn ended_logins_are_refused_at_once_on_another_instance(backend: Backend) {
    let Some(url) = crate::support::redis::redis_url().await else {
        return;
    };
    let scratch = crate::support::redis::ScratchPrefix::new(&url);
    let prefix = scratch.name().to_owned();
    let with_redis = |config: &mut memo::Config| {
        config.redis_url = Some(url.clone());
        config.redis_prefix.clone_from(&prefix);
    };
    let Some(first) = spawn_app_with(backend, with_redis).await else {
        return;
    };
    let second = first.second_instance(with_redis).await;
    ended_logins_are_refused_on(&first, &second).await;
}

/// PostgreSQL without Redis: the two instances answer revocation checks and
/// user lookups from memory, told of each other's changes by LISTEN/NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ended_logins_are_refused_at_once_on_another_instance_through_listen_notify() {
    let Some(first) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let second = first.second_instance(|_| {}).await;
    ended_logins_are_refused_on(&first, &second).await;
}

async fn ended_logins_are_refused_on(first: &TestApp, second: &TestApp) {
    let (user, _) = first.signed_in_user().await;
    assert_eq!(second.login(&user).await.status(), StatusCode::OK);
    let ended = second.other_browser();
    assert_eq!(ended.login(&user).await.status(), StatusCode::OK);
    assert_eq!(ended.get("/api/auth/status").await.status(), StatusCode::OK);

    let changed = first
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&change(&user.password, "a brand new password")),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);

    for browser in [second, &ended] {
        assert_error(
            browser.get("/api/auth/status").await,
            StatusCode::UNAUTHORIZED,
            "Token has been revoked",
        )
        .await;
    }
    let moved = first
        .cookie_for("/", "access_token_cookie")
        .expect("new access");
    let on_second = second
        .bare_client()
        .get(second.url("/api/auth/me"))
        .header("Cookie", format!("access_token_cookie={moved}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        on_second.status(),
        StatusCode::OK,
        "the kept login works on both"
    );

    let deleted = first
        .call(
            Method::DELETE,
            "/api/auth/account",
            Some(&json!({"password": "a brand new password"})),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = second
        .bare_client()
        .get(second.url("/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={moved}"))
        .send()
        .await
        .expect("answer");
    assert_error(after, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ended_logins_are_refused_at_once_on_another_instance_through_redis() {
    ended_logins_are_refused_at_once_on_another_instance(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ended_logins_are_refused_at_once_on_another_instance_through_redis() {
    ended_logins_are_refused_at_once_on_another_instance(Backend::Postgres).await;
}

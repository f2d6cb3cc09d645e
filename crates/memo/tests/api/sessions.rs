//! Refresh rotation with reuse detection, the sessions list
//! (`/api/auth/sessions`, `/api/auth/logout-all`) and the JWKS with key
//! rotation (`JWT_KEY_ID`, `JWT_RETIRED_PUBLIC_KEYS`).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{
    Backend, Csrf, TestApp, assert_error, backend_tests, cookie_value, json, next_second, payload,
    set_cookie, set_cookies, spawn_app_with,
};

backend_tests!(
    refresh_rotates_the_refresh_token_and_a_replay_revokes_the_login,
    parallel_refreshes_within_the_grace_window_keep_the_session,
    sessions_lists_the_callers_logins_with_the_current_one_marked,
    sessions_are_listed_newest_first,
    deleting_a_session_ends_it_and_only_the_callers_own,
    logout_all_ends_every_login_and_clears_the_cookies,
    logout_others_ends_every_other_login_in_one_call_and_keeps_this_one,
    the_session_routes_need_a_token_and_csrf_on_unsafe_methods,
    logout_ends_the_login_so_it_leaves_the_list,
);

/// A refresh with the refresh cookie `token` and its CSRF value, by hand.
async fn refresh_with(app: &TestApp, token: &str) -> reqwest::Response {
    app.bare_client()
        .post(app.url("/api/auth/refresh"))
        .header("Cookie", format!("refresh_token_cookie={token}"))
        .header(
            "X-CSRF-TOKEN",
            payload(token)["csrf"].as_str().expect("a csrf claim"),
        )
        .send()
        .await
        .expect("answer")
}

async fn status_with(app: &TestApp, access: &str) -> reqwest::Response {
    app.bare_client()
        .get(app.url("/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={access}"))
        .send()
        .await
        .expect("answer")
}

fn refresh_cookie(app: &TestApp) -> String {
    app.cookie_for("/api/auth/refresh", "refresh_token_cookie")
        .expect("a refresh cookie")
}

fn access_cookie(app: &TestApp) -> String {
    app.cookie_for("/", "access_token_cookie")
        .expect("an access cookie")
}

async fn refresh_rotates_the_refresh_token_and_a_replay_revokes_the_login(app: TestApp) {
    app.signed_in_user().await;
    let old_refresh = refresh_cookie(&app);

    let response = app
        .send(Method::POST, "/api/auth/refresh", None, Csrf::Refresh)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let lines = set_cookies(response.headers());
    let new_refresh = cookie_value(set_cookie(&lines, "refresh_token_cookie")).to_owned();
    assert_ne!(new_refresh, old_refresh, "a new refresh token");
    assert_eq!(payload(&new_refresh)["fam"], payload(&old_refresh)["fam"]);
    assert_eq!(payload(&new_refresh)["type"], "refresh");
    let access = access_cookie(&app);
    assert_eq!(status_with(&app, &access).await.status(), StatusCode::OK);

    // A second rotation moves the old token out of the grace window's reach:
    // it is now two tokens ago, so presenting it is reuse.
    let again = app
        .send(Method::POST, "/api/auth/refresh", None, Csrf::Refresh)
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let replay = refresh_with(&app, &old_refresh).await;
    assert_error(replay, StatusCode::UNAUTHORIZED, "Token has been revoked").await;

    // The whole family is dead: its access token and its newest refresh token.
    assert_error(
        status_with(&app, &access_cookie(&app)).await,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
    assert_error(
        refresh_with(&app, &refresh_cookie(&app)).await,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
}

async fn parallel_refreshes_within_the_grace_window_keep_the_session(app: TestApp) {
    app.signed_in_user().await;
    let refresh = refresh_cookie(&app);

    let (a, b) = tokio::join!(refresh_with(&app, &refresh), refresh_with(&app, &refresh));

    assert_eq!(a.status(), StatusCode::OK);
    assert_eq!(b.status(), StatusCode::OK);
    let successor = |r: &reqwest::Response| {
        let lines = set_cookies(r.headers());
        let token = cookie_value(set_cookie(&lines, "refresh_token_cookie")).to_owned();
        payload(&token)["jti"].clone()
    };
    assert_eq!(successor(&a), successor(&b), "the same successor");
    let lines = set_cookies(b.headers());
    let access = cookie_value(set_cookie(&lines, "access_token_cookie")).to_owned();
    assert_eq!(status_with(&app, &access).await.status(), StatusCode::OK);
}

fn is_rfc3339(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

async fn sessions_lists_the_callers_logins_with_the_current_one_marked(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let phone = app.other_browser();
    let login = phone
        .client
        .post(phone.url("/api/auth/login"))
        .header("User-Agent", "memo-phone/1.0")
        .json(&user.credentials())
        .send()
        .await
        .expect("answer");
    assert_eq!(login.status(), StatusCode::OK);
    app.other_browser().signed_in_user().await; // someone else

    let response = phone.get("/api/auth/sessions").await;

    assert_eq!(response.status(), StatusCode::OK);
    let list = json(response).await;
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 2, "{list:?}");
    for session in list {
        let keys: Vec<&str> = session
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["id", "created_at", "last_used_at", "user_agent", "current"]
        );
        assert!(is_rfc3339(&session["created_at"]), "{session}");
        assert!(is_rfc3339(&session["last_used_at"]), "{session}");
    }
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "memo-phone/1.0");
    assert_eq!(
        current[0]["id"].as_str(),
        payload(&access_cookie(&phone))["fam"].as_str()
    );
}

/// The login (token family) of `browser`'s access cookie.
fn family(browser: &TestApp) -> String {
    payload(&access_cookie(browser))["fam"]
        .as_str()
        .expect("a family")
        .to_owned()
}

async fn sessions_are_listed_newest_first(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let mut newer = Vec::new();
    for _ in 0..2 {
        next_second().await;
        let browser = app.other_browser();
        assert_eq!(browser.login(&user).await.status(), StatusCode::OK);
        newer.push(family(&browser));
    }

    let list = json(app.get("/api/auth/sessions").await).await;

    let ids: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [newer[1].as_str(), newer[0].as_str(), &family(&app)]);
}

async fn deleting_a_session_ends_it_and_only_the_callers_own(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let laptop = app.other_browser();
    assert_eq!(laptop.login(&user).await.status(), StatusCode::OK);
    let laptop_session = family(&laptop);
    let stranger = app.other_browser();
    stranger.signed_in_user().await;

    let foreign = stranger
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{laptop_session}"),
            None,
        )
        .await;
    assert_error(foreign, StatusCode::NOT_FOUND, "Session not found").await;
    assert_error(
        app.call(Method::DELETE, "/api/auth/sessions/no-such-session", None)
            .await,
        StatusCode::NOT_FOUND,
        "Session not found",
    )
    .await;
    assert_eq!(
        laptop.get("/api/auth/status").await.status(),
        StatusCode::OK
    );

    let ended = app
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{laptop_session}"),
            None,
        )
        .await;

    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_error(
        laptop.get("/api/auth/status").await,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
    assert_error(
        laptop
            .send(Method::POST, "/api/auth/refresh", None, Csrf::Refresh)
            .await,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
    let list = json(app.get("/api/auth/sessions").await).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

async fn logout_all_ends_every_login_and_clears_the_cookies(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let laptop = app.other_browser();
    assert_eq!(laptop.login(&user).await.status(), StatusCode::OK);
    let stranger = app.other_browser();
    stranger.signed_in_user().await;

    let response = app.call(Method::POST, "/api/auth/logout-all", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let lines = set_cookies(response.headers());
    for name in [
        "access_token_cookie",
        "csrf_access_token",
        "refresh_token_cookie",
        "csrf_refresh_token",
    ] {
        assert!(
            set_cookie(&lines, name).starts_with(&format!("{name}=;")),
            "{name} cleared: {lines:?}"
        );
    }
    assert_error(
        laptop.get("/api/auth/status").await,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
    assert_error(
        laptop
            .send(Method::POST, "/api/auth/refresh", None, Csrf::Refresh)
            .await,
        StatusCode::UNAUTHORIZED,
        "Token has been revoked",
    )
    .await;
    assert_eq!(
        stranger.get("/api/auth/status").await.status(),
        StatusCode::OK,
        "other users stay logged in"
    );
}

async fn logout_others_ends_every_other_login_in_one_call_and_keeps_this_one(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let mut others = Vec::new();
    for _ in 0..3 {
        let browser = app.other_browser();
        assert_eq!(browser.login(&user).await.status(), StatusCode::OK);
        others.push(browser);
    }
    let stranger = app.other_browser();
    stranger.signed_in_user().await;

    let response = app
        .call(Method::POST, "/api/auth/logout-others", None)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(response.headers()).is_empty(),
        "this browser keeps its cookies"
    );
    let body = json(response).await;
    assert_eq!(body["msg"], "Logged out everywhere else", "{body}");
    assert_eq!(body["ended"], 3, "{body}");
    for browser in &others {
        assert_error(
            browser.get("/api/auth/status").await,
            StatusCode::UNAUTHORIZED,
            "Token has been revoked",
        )
        .await;
    }
    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
    assert_eq!(
        app.send(Method::POST, "/api/auth/refresh", None, Csrf::Refresh)
            .await
            .status(),
        StatusCode::OK,
        "this login can still refresh"
    );
    let list = json(app.get("/api/auth/sessions").await).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["current"], true, "{list}");
    assert_eq!(
        stranger.get("/api/auth/status").await.status(),
        StatusCode::OK,
        "other users stay logged in"
    );
    let refused = app
        .send(Method::POST, "/api/auth/logout-others", None, Csrf::Off)
        .await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
}

async fn the_session_routes_need_a_token_and_csrf_on_unsafe_methods(app: TestApp) {
    assert_error(
        app.get("/api/auth/sessions").await,
        StatusCode::UNAUTHORIZED,
        r#"Missing cookie "access_token_cookie""#,
    )
    .await;
    app.signed_in_user().await;
    let session = family(&app);

    let delete = app
        .send(
            Method::DELETE,
            &format!("/api/auth/sessions/{session}"),
            None,
            Csrf::Off,
        )
        .await;
    let all = app
        .send(Method::POST, "/api/auth/logout-all", None, Csrf::Off)
        .await;

    assert_error(delete, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
    assert_error(all, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
}

async fn logout_ends_the_login_so_it_leaves_the_list(app: TestApp) {
    let (user, _) = app.signed_in_user().await;
    let laptop = app.other_browser();
    assert_eq!(laptop.login(&user).await.status(), StatusCode::OK);

    let out = laptop.call(Method::POST, "/api/auth/logout", None).await;

    assert_eq!(out.status(), StatusCode::OK);
    let list = json(app.get("/api/auth/sessions").await).await;
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["current"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_is_empty_for_hs256() {
    let app = spawn_app_with(Backend::Sqlite, |_| {})
        .await
        .expect("a server");
    let response = app.get("/api/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await, serde_json::json!({"keys": []}));
}

fn fixture(name: &str) -> String {
    format!("{}/tests/api/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The settings of `memo serve` with these RS256 arguments.
fn rs256(args: &[&str]) -> memo::config::JwtSettings {
    use clap::Parser as _;
    let cli = memo::cli::Cli::try_parse_from(
        ["memo", "--jwt-algorithm", "RS256"]
            .iter()
            .chain(args)
            .copied(),
    )
    .expect("valid arguments");
    memo::Config::from_settings(&cli.settings)
        .expect("the key files are read")
        .jwt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_keeps_verifying_the_old_tokens_after_a_restart() {
    let (old_private, old_public) = (
        fixture("test-rs256-private.pem"),
        fixture("test-rs256-public.pem"),
    );
    let (new_private, new_public) = (
        fixture("test-rs256-next-private.pem"),
        fixture("test-rs256-next-public.pem"),
    );
    let before = rs256(&[
        "--jwt-private-key",
        &old_private,
        "--jwt-public-key",
        &old_public,
        "--jwt-key-id",
        "2024-01",
    ]);
    let app = spawn_app_with(Backend::Sqlite, |config| config.jwt = before)
        .await
        .expect("a server");
    app.signed_in_user().await;
    let old_access = access_cookie(&app);
    let old_refresh = refresh_cookie(&app);
    let keys = json(app.get("/api/.well-known/jwks.json").await).await;
    assert_eq!(keys["keys"][0]["kid"], "2024-01");
    assert_eq!(keys["keys"][0]["kty"], "RSA");
    assert!(keys["keys"][0].get("d").is_none(), "public parts only");

    // The restart with the new key: same database, the old public key retired.
    let retired = format!("2024-01={old_public}");
    let after = rs256(&[
        "--jwt-private-key",
        &new_private,
        "--jwt-public-key",
        &new_public,
        "--jwt-key-id",
        "2024-07",
        "--jwt-retired-public-keys",
        &retired,
    ]);
    let database_url = app.database_url.clone();
    let mut config = memo::Config::new(database_url, memo::config::Secret::new(b"unused".to_vec()));
    config.jwt = after;
    config.rate_limits.enabled = false;
    let restarted = memo::App::build(config).await.expect("restarted");
    let address = format!("http://127.0.0.1:{}", restarted.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(restarted.run_until(async {
        let _ = stopped.await;
    }));
    let client = app.bare_client();

    let status = client
        .get(format!("{address}/api/auth/status"))
        .header("Cookie", format!("access_token_cookie={old_access}"))
        .send()
        .await
        .expect("answer");
    let refreshed = client
        .post(format!("{address}/api/auth/refresh"))
        .header("Cookie", format!("refresh_token_cookie={old_refresh}"))
        .header(
            "X-CSRF-TOKEN",
            payload(&old_refresh)["csrf"].as_str().expect("csrf"),
        )
        .send()
        .await
        .expect("answer");
    let keys = client
        .get(format!("{address}/api/.well-known/jwks.json"))
        .send()
        .await
        .expect("answer")
        .json::<Value>()
        .await
        .expect("JSON");
    let _ = stop.send(());
    server.await.expect("joined").expect("a clean shutdown");

    assert_eq!(
        status.status(),
        StatusCode::OK,
        "the old kid still verifies"
    );
    assert_eq!(refreshed.status(), StatusCode::OK);
    let lines = set_cookies(refreshed.headers());
    let new_access = cookie_value(set_cookie(&lines, "access_token_cookie"));
    let header = {
        use base64::Engine as _;
        let part = new_access.split('.').next().expect("a header");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url");
        serde_json::from_slice::<Value>(&bytes).expect("JSON")
    };
    assert_eq!(header["kid"], "2024-07", "new tokens use the new key");
    let kids: Vec<&str> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids, ["2024-07", "2024-01"], "signing key first");
}

#[test]
fn retired_keys_need_kid_equals_path() {
    use clap::Parser as _;
    let private = fixture("test-rs256-private.pem");
    let public = fixture("test-rs256-public.pem");
    for bad in ["no-equals-sign", "=/x.pem", "kid="] {
        let cli = memo::cli::Cli::try_parse_from([
            "memo",
            "--jwt-algorithm",
            "RS256",
            "--jwt-private-key",
            &private,
            "--jwt-public-key",
            &public,
            "--jwt-retired-public-keys",
            bad,
        ])
        .expect("parses");
        let err = memo::Config::from_settings(&cli.settings).expect_err(bad);
        assert!(err.to_string().contains("JWT_RETIRED_PUBLIC_KEYS"), "{err}");
    }
}

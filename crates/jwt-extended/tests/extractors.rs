//! The extractors: required, optional, fresh, refresh, per-route locations, `CurrentUser`,
//! `Guarded`, typed claims, and OPTIONS (reference §3 "Verification", §8.7, §8.9, §9.7, §9.9,
//! test_view_decorators.py, test_options_method.py, test_user_lookup.py).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{FromRef, Request, State},
    routing::any,
};
use common::*;
use jwt_extended::{
    ClaimGuard, Claims, CurrentUser, DecodedToken, Guarded, InCookies, Jwt, JwtError, JwtManager,
    JwtRejection, JwtWith, Requirement, UserLoader, VerifyOptions, require,
};
use serde_json::{Value, json};

#[tokio::test]
async fn a_required_route_accepts_an_access_token_and_refuses_a_refresh_token() {
    let jwt = default_manager();
    let access = jwt.create_access_token("alice").expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let app = app(jwt);
    get_with_bearer(&app, "/protected", &access)
        .await
        .assert_ok_for("alice");
    get_with_bearer(&app, "/protected", &refresh)
        .await
        .assert_error(422, "Only non-refresh tokens are allowed");
}

#[tokio::test]
async fn a_refresh_route_accepts_only_refresh_tokens() {
    let jwt = default_manager();
    let access = jwt.create_access_token("alice").expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let app = app(jwt);
    get_with_bearer(&app, "/refresh", &refresh)
        .await
        .assert_body(
            200,
            &json!({"sub": "alice", "location": "headers", "type": "refresh"}),
        );
    get_with_bearer(&app, "/refresh", &access)
        .await
        .assert_error(422, "Only refresh tokens are allowed");
    call(&app, "GET", "/refresh", &[])
        .await
        .assert_error(401, "Missing Authorization Header");
}

#[tokio::test]
async fn a_token_of_another_type_passes_a_non_refresh_route_but_not_a_refresh_route() {
    let jwt = default_manager();
    let app_token = jwt
        .access_token("svc")
        .claim("type", "app")
        .encode()
        .expect("token");
    let app = app(jwt);
    let reply = get_with_bearer(&app, "/protected", &app_token).await;
    reply.assert_body(
        200,
        &json!({"sub": "svc", "location": "headers", "type": "app"}),
    );
    get_with_bearer(&app, "/refresh", &app_token)
        .await
        .assert_error(422, "Only refresh tokens are allowed");
}

#[tokio::test]
async fn a_fresh_route_wants_fresh_true_or_a_fresh_until_timestamp_not_yet_past() {
    let jwt = default_manager();
    let app = app(jwt.clone());
    let fresh = jwt.access_token("a").fresh(true).encode().expect("token");
    let stale = jwt.create_access_token("a").expect("token");
    let fresh_for = jwt
        .access_token("a")
        .fresh_for(Duration::from_secs(60))
        .encode()
        .expect("token");
    get_with_bearer(&app, "/fresh", &fresh)
        .await
        .assert_ok_for("a");
    get_with_bearer(&app, "/fresh", &fresh_for)
        .await
        .assert_ok_for("a");
    get_with_bearer(&app, "/fresh", &stale)
        .await
        .assert_error(401, "Fresh token required");
    // Fresh tokens pass non-fresh routes too.
    get_with_bearer(&app, "/protected", &fresh)
        .await
        .assert_ok_for("a");
    let p = flask_payload("a");
    for (fresh, ok) in [
        (json!(now() as f64 + 30.5), true),
        (json!(now() as f64 - 1.5), false),
        (json!(now() - 1), false),
        (json!(1), false),
        (json!("true"), false),
        (json!(null), false),
    ] {
        let mut payload = p.clone();
        payload["fresh"] = fresh.clone();
        let reply = get_with_bearer(&app, "/fresh", &hs256(&payload)).await;
        if ok {
            reply.assert_ok_for("a");
        } else {
            reply.assert_error(401, "Fresh token required");
        }
    }
    let mut no_claim = p;
    no_claim.as_object_mut().expect("object").remove("fresh");
    get_with_bearer(&app, "/fresh", &hs256(&no_claim))
        .await
        .assert_error(401, "Fresh token required");
}

#[tokio::test]
async fn a_fresh_route_refuses_a_refresh_token_for_its_type_first() {
    let jwt = default_manager();
    let refresh = jwt.create_refresh_token("a").expect("token");
    get_with_bearer(&app(jwt), "/fresh", &refresh)
        .await
        .assert_error(422, "Only non-refresh tokens are allowed");
}

#[tokio::test]
async fn an_optional_route_gets_none_without_a_token_or_with_a_foreign_scheme() {
    let app = app(default_manager());
    for headers in [
        vec![],
        vec![("authorization", "Basic dTpw")],
        vec![("authorization", "Foo 1, Bar 2, Baz, 3")],
        vec![("authorization", "   ")],
    ] {
        call(&app, "GET", "/optional", &headers)
            .await
            .assert_body(200, &json!({"sub": null}));
    }
}

#[tokio::test]
async fn an_optional_route_still_refuses_bad_expired_and_refresh_tokens() {
    let jwt = default_manager();
    let refresh = jwt.create_refresh_token("a").expect("token");
    let mut expired = flask_payload("a");
    expired["exp"] = json!(now() - 1);
    let app = app(jwt.clone());
    get_with_bearer(&app, "/optional", &refresh)
        .await
        .assert_error(422, "Only non-refresh tokens are allowed");
    get_with_bearer(&app, "/optional", &hs256(&expired))
        .await
        .assert_error(401, "Token has expired");
    let bad = "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'";
    for value in ["Bearer ", "Bearer ,,0"] {
        call(&app, "GET", "/optional", &[("authorization", value)])
            .await
            .assert_error(422, bad);
    }
    call(&app, "GET", "/optional", &[("authorization", "Bearer xxx")])
        .await
        .assert_error(422, "Not enough segments");
    let access = jwt.create_access_token("a").expect("token");
    get_with_bearer(&app, "/optional", &access)
        .await
        .assert_ok_for("a");
}

#[tokio::test]
async fn options_requests_pass_every_extractor_without_a_token_and_with_an_empty_body() {
    let app = app(default_manager());
    for uri in [
        "/protected",
        "/fresh",
        "/refresh",
        "/headers",
        "/cookies",
        "/query",
        "/json",
    ] {
        for headers in [vec![], vec![("authorization", "Bearer garbage")]] {
            let reply = call(&app, "OPTIONS", uri, &headers).await;
            assert_eq!(
                (reply.status.as_u16(), reply.bytes.as_slice()),
                (200, &b""[..]),
                "OPTIONS {uri}"
            );
        }
    }
}

#[tokio::test]
async fn a_handler_reached_by_options_sees_no_claims_even_with_a_valid_token() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    call(
        &app(jwt),
        "OPTIONS",
        "/optional",
        &[("authorization", &bearer(&token))],
    )
    .await
    .assert_body(200, &json!({"sub": null}));
}

#[derive(serde::Deserialize)]
struct Dept {
    department: String,
    #[serde(default)]
    level: u8,
}

#[tokio::test]
async fn claims_deserialize_into_the_apps_struct_and_a_mismatch_is_422() {
    let jwt = default_manager();
    let with_dept = jwt
        .access_token("alice")
        .claim("department", "CTO Office")
        .claim("level", 3)
        .encode()
        .expect("token");
    let without = jwt.create_access_token("bob").expect("token");
    let app: Router = Router::new()
        .route(
            "/dept",
            any(|Jwt(c): Jwt<Dept>| async move {
                Json(json!({
                    "sub": c.identity,
                    "department": c.extra.department,
                    "level": c.extra.level,
                    "jti": c.jti,
                    "csrf": c.csrf.is_some(),
                    "exp": c.exp.zip(c.iat).map(|(e, i)| e - i),
                    "nbf": c.nbf == c.iat,
                    "fresh": c.fresh.is_fresh_at(0.0),
                    "header": c.header,
                }))
            }),
        )
        .with_state(AppState { jwt });
    let reply = get_with_bearer(&app, "/dept", &with_dept).await;
    assert_eq!(reply.status.as_u16(), 200);
    let body = reply.json();
    assert_eq!(body["department"], "CTO Office");
    assert_eq!(body["level"], 3);
    assert_eq!(body["jti"], payload_of(&with_dept)["jti"]);
    assert_eq!(body["csrf"], true);
    assert_eq!(body["exp"], 900);
    assert_eq!(body["nbf"], true);
    assert_eq!(body["fresh"], false);
    assert_eq!(body["header"], json!({"alg": "HS256", "typ": "JWT"}));
    get_with_bearer(&app, "/dept", &without)
        .await
        .assert_error(422, "Invalid claims: missing field `department`");
}

#[tokio::test]
async fn verify_request_returns_the_token_and_its_location_and_honours_every_option() {
    async fn verify(State(jwt): State<JwtManager>, request: Request) -> Json<Value> {
        let (parts, _) = request.into_parts();
        let query = parts.uri.query().unwrap_or_default().to_owned();
        let flag = |name: &str| query.split('&').any(|f| f == name);
        let options = VerifyOptions {
            optional: flag("optional"),
            fresh: flag("fresh"),
            refresh: flag("refresh"),
            skip_type_check: flag("any_type"),
            skip_revocation_check: flag("skip_revocation"),
            skip_user_lookup: flag("skip_user"),
            locations: None,
        };
        Json(match jwt.verify_request(&parts, options).await {
            Ok(Some(v)) => json!({
                "sub": v.token.payload["sub"],
                "type": v.token.token_type(),
                "location": v.location.as_str(),
                "header": v.token.header,
                "raw_is_the_token": v.raw().split('.').count() == 3,
            }),
            Ok(None) => json!(null),
            Err(e) => json!({"error": e.to_string(), "status": e.status().as_u16()}),
        })
    }
    let jwt = default_manager();
    let access = jwt.create_access_token("a").expect("token");
    let refresh = jwt.create_refresh_token("a").expect("token");
    let app: Router = Router::new()
        .route("/verify", any(verify))
        .with_state(AppState { jwt });
    let body = |reply: Reply| reply.json();
    assert_eq!(
        body(get_with_bearer(&app, "/verify", &access).await),
        json!({"sub": "a", "type": "access", "location": "headers",
               "header": {"alg": "HS256", "typ": "JWT"}, "raw_is_the_token": true})
    );
    assert_eq!(
        body(get_with_bearer(&app, "/verify?any_type", &refresh).await)["type"],
        "refresh",
        "verify_type=False accepts a refresh token"
    );
    assert_eq!(
        body(get_with_bearer(&app, "/verify?refresh&any_type", &access).await)["type"],
        "access"
    );
    assert_eq!(
        body(get_with_bearer(&app, "/verify?refresh", &access).await),
        json!({"error": "Only refresh tokens are allowed", "status": 422})
    );
    assert_eq!(
        body(call(&app, "GET", "/verify?optional", &[]).await),
        json!(null)
    );
    assert_eq!(
        body(call(&app, "GET", "/verify", &[]).await),
        json!({"error": "Missing Authorization Header", "status": 401})
    );
    assert_eq!(
        body(call(&app, "OPTIONS", "/verify", &[]).await),
        json!(null),
        "OPTIONS returns None and stores nothing"
    );
    assert_eq!(
        body(get_with_bearer(&app, "/verify?fresh", &access).await),
        json!({"error": "Fresh token required", "status": 401})
    );
}

// --- user lookup -----------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Users {
    calls: Arc<AtomicUsize>,
}

#[derive(Debug, Clone, serde::Serialize)]
struct User {
    name: String,
}

impl UserLoader for Users {
    type User = User;
    type Error = String;

    async fn load_user(
        &self,
        identity: &Value,
        _token: &DecodedToken,
    ) -> Result<Option<User>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match identity.as_str() {
            Some("broken") => Err("database down".into()),
            Some(name) if name.starts_with('a') => Ok(Some(User {
                name: name.to_owned(),
            })),
            _ => Ok(None),
        }
    }
}

fn with_users(config: jwt_extended::JwtConfig, users: &Users) -> JwtManager {
    JwtManager::builder(config)
        .user_loader(users.clone())
        .build()
        .expect("valid")
}

/// `@jwt_required()` without the user lookup.
struct NoLookup;
impl Requirement for NoLookup {
    const OPTIONS: VerifyOptions<'static> = VerifyOptions {
        skip_user_lookup: true,
        ..VerifyOptions::REQUIRED
    };
}

fn user_app(jwt: JwtManager) -> Router {
    let name = |c: &Claims| c.user::<User>().map(|u| u.name.clone());
    routes()
        .route(
            "/me",
            any(|CurrentUser(user): CurrentUser<User>| async move { Json(json!(user)) }),
        )
        .route(
            "/maybe",
            any(|user: Option<CurrentUser<User>>| async move {
                Json(json!({"user": user.map(|CurrentUser(u)| u.name)}))
            }),
        )
        .route(
            "/both",
            any(
                move |Jwt(c): Jwt, CurrentUser(user): CurrentUser<User>| async move {
                    Json(json!({"claims_user": name(&c), "current_user": user.name}))
                },
            ),
        )
        .route(
            "/guarded",
            any(|Guarded(c, ..): Guarded<Everyone>| async move { Json(describe(&c)) }),
        )
        .route(
            "/no-lookup",
            any(|JwtWith(c, ..): JwtWith<NoLookup>| async move {
                Json(json!({"sub": c.identity, "user": c.user::<User>().is_some()}))
            }),
        )
        .layer(axum::middleware::from_fn(jwt_extended::read_token_body))
        .with_state(AppState { jwt })
}

#[tokio::test]
async fn current_user_is_the_loaders_user_for_the_token() {
    let users = Users::default();
    let jwt = with_users(config(), &users);
    let token = jwt.create_access_token("alice").expect("token");
    let app = user_app(jwt);
    get_with_bearer(&app, "/me", &token)
        .await
        .assert_body(200, &json!({"name": "alice"}));
    get_with_bearer(&app, "/maybe", &token)
        .await
        .assert_body(200, &json!({"user": "alice"}));
    call(&app, "GET", "/maybe", &[])
        .await
        .assert_body(200, &json!({"user": null}));
}

#[tokio::test]
async fn every_guarded_extractor_refuses_a_token_whose_user_is_gone() {
    let users = Users::default();
    let jwt = with_users(config(), &users);
    let access = jwt.access_token("bob").fresh(true).encode().expect("token");
    let refresh = jwt.create_refresh_token("bob").expect("token");
    let app = user_app(jwt);
    for route in [
        "/protected",
        "/optional",
        "/fresh",
        "/headers",
        "/guarded",
        "/me",
        "/maybe",
    ] {
        get_with_bearer(&app, route, &access)
            .await
            .assert_error(401, "Error loading the user bob");
    }
    get_with_bearer(&app, "/refresh", &refresh)
        .await
        .assert_error(401, "Error loading the user bob");
    let (parts, ()) = http::Request::get("/")
        .header("authorization", bearer(&access))
        .body(())
        .expect("request")
        .into_parts();
    let jwt = with_users(config(), &users);
    let err = jwt
        .verify_request(&parts, VerifyOptions::default())
        .await
        .expect_err("user gone");
    assert_eq!(
        (err.status().as_u16(), err.to_string()),
        (401, "Error loading the user bob".to_owned())
    );
}

#[tokio::test]
async fn handlers_get_the_loaded_user_without_a_second_lookup() {
    let users = Users::default();
    let jwt = with_users(config(), &users);
    let token = jwt.create_access_token("alice").expect("token");
    get_with_bearer(&user_app(jwt), "/both", &token)
        .await
        .assert_body(
            200,
            &json!({"claims_user": "alice", "current_user": "alice"}),
        );
    assert_eq!(
        users.calls.load(Ordering::SeqCst),
        1,
        "one lookup for both extractors"
    );
}

#[tokio::test]
async fn a_route_can_skip_the_user_lookup() {
    let users = Users::default();
    let jwt = with_users(config(), &users);
    let token = jwt.create_access_token("bob").expect("token");
    get_with_bearer(&user_app(jwt.clone()), "/no-lookup", &token)
        .await
        .assert_body(200, &json!({"sub": "bob", "user": false}));
    let (parts, ()) = http::Request::get("/")
        .header("authorization", bearer(&token))
        .body(())
        .expect("request")
        .into_parts();
    let skip = VerifyOptions {
        skip_user_lookup: true,
        ..VerifyOptions::default()
    };
    let verified = jwt
        .verify_request(&parts, skip)
        .await
        .expect("not looked up");
    assert!(verified.is_some_and(|v| v.user::<User>().is_none()));
    assert_eq!(users.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn no_user_for_the_identity_gives_401_error_loading_the_user() {
    let users = Users::default();
    let jwt = with_users(config().with_verify_sub(false), &users);
    let app = user_app(jwt.clone());
    let token = jwt.create_access_token("username").expect("token");
    get_with_bearer(&app, "/me", &token)
        .await
        .assert_error(401, "Error loading the user username");
    // The identity is printed as Python's str() would.
    for (identity, printed) in [(json!(5), "5"), (json!(true), "True"), (json!(1.5), "1.5")] {
        let token = hs256(&json!({ "sub": identity }));
        get_with_bearer(&app, "/me", &token)
            .await
            .assert_error(401, &format!("Error loading the user {printed}"));
    }
}

#[tokio::test]
async fn a_failing_user_loader_is_a_503_and_not_a_401() {
    let users = Users::default();
    let jwt = with_users(config(), &users);
    let token = jwt.create_access_token("broken").expect("token");
    get_with_bearer(&user_app(jwt), "/protected", &token)
        .await
        .assert_error(503, "User lookup unavailable");
}

#[tokio::test]
async fn current_user_without_a_loader_is_a_server_mistake() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    get_with_bearer(&user_app(jwt), "/me", &token)
        .await
        .assert_error(500, "Internal server error");
}

#[tokio::test]
async fn the_user_loader_runs_only_after_every_token_check_and_never_without_a_token() {
    let users = Users::default();
    let jwt = with_users(config(), &users);
    let app = user_app(jwt.clone());
    call(&app, "GET", "/me", &[])
        .await
        .assert_error(401, "Missing Authorization Header");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    get_with_bearer(&app, "/me", &refresh)
        .await
        .assert_error(422, "Only non-refresh tokens are allowed");
    call(&app, "OPTIONS", "/me", &[]).await;
    call(&app, "GET", "/optional", &[])
        .await
        .assert_body(200, &json!({"sub": null}));
    assert_eq!(users.calls.load(Ordering::SeqCst), 0);
}

// --- Guarded ---------------------------------------------------------------------------------

struct Everyone;

impl<S: Sync> ClaimGuard<S> for Everyone {
    async fn allows(_claims: &Claims, _state: &S) -> Result<bool, JwtError> {
        Ok(true)
    }
}

struct Managers;

impl<S: Sync> ClaimGuard<S> for Managers {
    async fn allows(claims: &Claims, _state: &S) -> Result<bool, JwtError> {
        Ok(claims.extra.get("manager_role_attached") == Some(&Value::Bool(true)))
    }
}

struct Admins;

impl<S: Sync> ClaimGuard<S> for Admins {
    const MESSAGE: &'static str = "Admins only!";

    async fn allows(claims: &Claims, _state: &S) -> Result<bool, JwtError> {
        Ok(claims.extra.get("is_administrator") == Some(&Value::Bool(true)))
    }
}

/// State a guard reads: who may see the reports, as a database would say it.
#[derive(Clone)]
struct GuardState {
    jwt: JwtManager,
    readers: Arc<Vec<&'static str>>,
}

impl FromRef<GuardState> for JwtManager {
    fn from_ref(state: &GuardState) -> Self {
        state.jwt.clone()
    }
}

struct Readers;

impl ClaimGuard<GuardState> for Readers {
    async fn allows(claims: &Claims, state: &GuardState) -> Result<bool, JwtError> {
        tokio::task::yield_now().await; // as a lookup would
        match claims.sub() {
            Some("down") => Err(JwtError::StoreUnavailable),
            sub => Ok(sub.is_some_and(|s| state.readers.contains(&s))),
        }
    }
}

fn guarded_app(jwt: JwtManager) -> Router {
    Router::new()
        .route(
            "/managers",
            any(|Guarded(c, ..): Guarded<Managers>| async move { Json(describe(&c)) }),
        )
        .route(
            "/fresh-managers",
            any(|Guarded(c, ..): Guarded<Managers, require::Fresh>| async move { Json(describe(&c)) }),
        )
        .route(
            "/cookie-managers",
            any(|Guarded(c, ..): Guarded<Managers, InCookies>| async move { Json(describe(&c)) }),
        )
        .route(
            "/admins",
            any(|Guarded(c, ..): Guarded<Admins>| async move { Json(describe(&c)) }),
        )
        .route(
            "/reports",
            any(|Guarded(c, ..): Guarded<Readers>| async move { Json(describe(&c)) }),
        )
        .with_state(GuardState {
            jwt,
            readers: Arc::new(vec!["reader"]),
        })
}

#[tokio::test]
async fn a_claim_guard_lets_matching_tokens_through_and_answers_403_otherwise() {
    let jwt = default_manager();
    let manager_token = jwt
        .access_token("m")
        .claim("manager_role_attached", true)
        .encode()
        .expect("token");
    let plain = jwt.create_access_token("p").expect("token");
    let app = guarded_app(jwt);
    get_with_bearer(&app, "/managers", &manager_token)
        .await
        .assert_ok_for("m");
    get_with_bearer(&app, "/managers", &plain)
        .await
        .assert_error(403, "access to this resource is not allowed");
    get_with_bearer(&app, "/admins", &manager_token)
        .await
        .assert_error(403, "Admins only!");
}

#[tokio::test]
async fn an_async_guard_reads_the_app_state_and_may_fail_with_its_own_error() {
    let jwt = default_manager();
    let app = guarded_app(jwt.clone());
    for (sub, status) in [("reader", 200), ("writer", 403), ("down", 503)] {
        let token = jwt.create_access_token(sub).expect("token");
        let reply = get_with_bearer(&app, "/reports", &token).await;
        assert_eq!(reply.status.as_u16(), status, "{sub}");
    }
}

#[tokio::test]
async fn a_guard_composes_with_fresh_and_with_locations() {
    let jwt = manager(config().with_token_location([
        jwt_extended::TokenLocation::Headers,
        jwt_extended::TokenLocation::Cookies,
    ]));
    let stale = jwt
        .access_token("m")
        .claim("manager_role_attached", true)
        .encode()
        .expect("token");
    let fresh = jwt
        .access_token("m")
        .fresh(true)
        .claim("manager_role_attached", true)
        .encode()
        .expect("token");
    let app = guarded_app(jwt);
    get_with_bearer(&app, "/fresh-managers", &stale)
        .await
        .assert_error(401, "Fresh token required");
    get_with_bearer(&app, "/fresh-managers", &fresh)
        .await
        .assert_ok_for("m");
    get_with_bearer(&app, "/cookie-managers", &fresh)
        .await
        .assert_error(401, "Missing cookie \"access_token_cookie\"");
    call(
        &app,
        "GET",
        "/cookie-managers",
        &[("cookie", &cookie("access_token_cookie", &fresh))],
    )
    .await
    .assert_ok_for("m");
}

#[tokio::test]
async fn a_claim_guard_reports_token_problems_before_its_own_verdict() {
    let jwt = default_manager();
    let refresh = jwt.create_refresh_token("m").expect("token");
    let app = guarded_app(jwt);
    call(&app, "GET", "/managers", &[])
        .await
        .assert_error(401, "Missing Authorization Header");
    get_with_bearer(&app, "/managers", &refresh)
        .await
        .assert_error(422, "Only non-refresh tokens are allowed");
    let reply = call(&app, "OPTIONS", "/managers", &[]).await;
    assert_eq!(reply.status.as_u16(), 200);
}

#[tokio::test]
async fn a_rejection_can_be_inspected_and_reshaped_by_the_handler() {
    async fn soft(result: Result<Jwt, JwtRejection>) -> (http::StatusCode, String) {
        match result {
            Ok(Jwt(c)) => (http::StatusCode::OK, c.sub().unwrap_or_default().to_owned()),
            Err(rejection) => (
                http::StatusCode::IM_A_TEAPOT,
                format!("{} / {}", rejection.status().as_u16(), rejection.message()),
            ),
        }
    }
    let app: Router = Router::new()
        .route("/soft", any(soft))
        .with_state(AppState {
            jwt: default_manager(),
        });
    let reply = call(&app, "GET", "/soft", &[]).await;
    assert_eq!(reply.status.as_u16(), 418);
    assert_eq!(
        String::from_utf8_lossy(&reply.bytes),
        "401 / Missing Authorization Header"
    );
}

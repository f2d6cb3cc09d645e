//! The hooks: identity, claims and header loaders, key loaders, revocation, claims
//! verification, the error handler and the message key (reference §2, §4.6, §8.3, §8.6, §8.8,
//! test_additional_claims_loader.py, test_jwt_header_loader.py, test_blocklist.py,
//! test_claims_verification.py, test_user_lookup.py, test_view_decorators.py).

mod common;

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::{Request, State},
    response::IntoResponse,
    routing::any,
};
use common::*;
use http::StatusCode;
use jwt_extended::{
    CurrentUser, DecodedToken, DecodingKey, EncodingKey, JsonObject, JwtError, JwtManager,
    MemoryRevocationStore, RevocationStore, StoreError, TokenLocation, UserLoader, VerifyOptions,
};
use serde_json::{Value, json};

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

#[test]
fn the_identity_loader_turns_a_complex_identity_into_the_sub_claim() {
    let jwt = JwtManager::builder(config())
        .identity_loader(|user| user["username"].clone())
        .build()
        .expect("valid");
    let user = json!({"username": "alice", "id": 7});
    for token in [
        jwt.create_access_token(&user).expect("token"),
        jwt.create_refresh_token(&user).expect("token"),
    ] {
        assert_eq!(payload_of(&token)["sub"], "alice");
    }
}

#[test]
fn the_claims_loader_gets_the_raw_identity_and_the_call_wins_ties() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let jwt = JwtManager::builder(config())
        .identity_loader(|user| user["id"].clone())
        .additional_claims_loader(move |user| {
            log.lock().expect("lock").push(user.clone());
            object(json!({"name": user["name"], "role": "loader", "foo": "bar"}))
        })
        .build()
        .expect("valid");
    let user = json!({"id": "7", "name": "bob"});
    let refresh = jwt.create_refresh_token(&user).expect("token");
    let access = jwt
        .access_token(&user)
        .claim("role", "call")
        .additional_claims(object(json!({"extra": [1, 2]})))
        .encode()
        .expect("token");
    assert_eq!(seen.lock().expect("lock").as_slice(), [user.clone(), user]);
    let mut keys = payload_keys(&access);
    let access = payload_of(&access);
    assert_eq!(access["sub"], "7");
    assert_eq!(access["name"], "bob");
    assert_eq!(access["role"], "call");
    assert_eq!(access["foo"], "bar");
    assert_eq!(access["extra"], json!([1, 2]));
    let refresh = payload_of(&refresh);
    assert_eq!(
        (refresh["role"].clone(), refresh["type"].clone()),
        (json!("loader"), json!("refresh"))
    );
    // Flask's claims first, in place; then the app's, in the order of the maps given (a
    // `serde_json::Map` sorts its keys unless the app enables `preserve_order`).
    let app_claims = keys.split_off(8);
    assert_eq!(
        keys,
        ["fresh", "iat", "jti", "type", "sub", "nbf", "csrf", "exp"]
    );
    let mut app_claims: Vec<&str> = app_claims.iter().map(String::as_str).collect();
    app_claims.sort_unstable();
    assert_eq!(app_claims, ["extra", "foo", "name", "role"]);
}

#[test]
fn the_headers_loader_adds_to_the_jose_header_and_the_call_wins_ties() {
    let jwt = JwtManager::builder(config())
        .additional_headers_loader(|identity| object(json!({"foo": "bar", "who": identity})))
        .build()
        .expect("valid");
    let access = jwt
        .access_token("alice")
        .additional_headers(object(json!({"foo": "baz", "kid": "k1"})))
        .encode()
        .expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    assert_eq!(
        header_of(&access),
        json!({"alg": "HS256", "foo": "baz", "kid": "k1", "typ": "JWT", "who": "alice"})
    );
    assert_eq!(
        header_of(&refresh),
        json!({"alg": "HS256", "foo": "bar", "typ": "JWT", "who": "alice"})
    );
    assert!(jwt.decode_token(&access, None, false).is_ok());
}

#[tokio::test]
async fn key_loaders_choose_a_key_per_identity_and_see_the_unverified_token() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let jwt = JwtManager::builder(config())
        .encode_key_loader(|identity| {
            EncodingKey::from_secret(
                format!("key-of-{}", identity.as_str().unwrap_or("?")).as_bytes(),
            )
        })
        .decode_key_loader(move |header, payload| {
            log.lock()
                .expect("lock")
                .push((Value::Object(header.clone()), payload["sub"].clone()));
            let sub = payload["sub"].as_str().unwrap_or("?");
            DecodingKey::from_secret(format!("key-of-{sub}").as_bytes())
        })
        .build()
        .expect("valid");
    let token = jwt.create_access_token("alice").expect("token");
    let app = app(jwt.clone());
    get_with_bearer(&app, "/protected", &token)
        .await
        .assert_ok_for("alice");
    assert_eq!(
        seen.lock().expect("lock").as_slice(),
        [(json!({"alg": "HS256", "typ": "JWT"}), json!("alice"))]
    );
    // Signed with the config's secret, but the loader picks alice's key: refused.
    get_with_bearer(&app, "/protected", &hs256(&flask_payload("alice")))
        .await
        .assert_error(422, "Signature verification failed");
    // The same token claiming to be bob fails too.
    let mut forged = payload_of(&token);
    forged["sub"] = json!("bob");
    let forged = sign_raw(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &forged,
        &EncodingKey::from_secret(b"key-of-alice"),
        jsonwebtoken::Algorithm::HS256,
    );
    get_with_bearer(&app, "/protected", &forged)
        .await
        .assert_error(422, "Signature verification failed");
}

// --- revocation ------------------------------------------------------------------------------

#[tokio::test]
async fn a_revoked_access_or_refresh_token_gives_401_token_has_been_revoked() {
    let store = MemoryRevocationStore::new();
    let jwt = JwtManager::builder(config())
        .revocation_store(store.clone())
        .build()
        .expect("valid");
    let access = jwt.create_access_token("alice").expect("token");
    let other = jwt.create_access_token("alice").expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let app = app(jwt.clone());
    get_with_bearer(&app, "/protected", &access)
        .await
        .assert_ok_for("alice");
    for token in [&access, &refresh] {
        let decoded = jwt.decode_token(token, None, false).expect("valid");
        jwt.revoke(&decoded).await.expect("revoked");
    }
    get_with_bearer(&app, "/protected", &access)
        .await
        .assert_error(401, "Token has been revoked");
    get_with_bearer(&app, "/optional", &access)
        .await
        .assert_error(401, "Token has been revoked");
    get_with_bearer(&app, "/refresh", &refresh)
        .await
        .assert_error(401, "Token has been revoked");
    get_with_bearer(&app, "/protected", &other)
        .await
        .assert_ok_for("alice");
    let decoded = jwt.decode_token(&access, None, false).expect("valid");
    assert!(jwt.is_revoked(&decoded).await.expect("answer"));
    // decode_token does not look at the blocklist, as in Flask.
    assert!(jwt.decode_token(&access, None, false).is_ok());
}

#[tokio::test]
async fn skip_revocation_check_bypasses_the_store() {
    let store = MemoryRevocationStore::new();
    let jwt = JwtManager::builder(config())
        .revocation_store(store)
        .build()
        .expect("valid");
    let token = jwt.create_access_token("alice").expect("token");
    jwt.revoke(&jwt.decode_token(&token, None, false).expect("valid"))
        .await
        .expect("revoked");
    let request = http::Request::get("/")
        .header("authorization", bearer(&token))
        .body(())
        .expect("request");
    let (parts, ()) = request.into_parts();
    let skip = VerifyOptions {
        skip_revocation_check: true,
        ..VerifyOptions::default()
    };
    let verified = jwt.verify_request(&parts, skip).await.expect("not checked");
    assert_eq!(
        verified.map(|v| v.token.payload["sub"].clone()),
        Some(json!("alice"))
    );
    let err = jwt
        .verify_request(&parts, VerifyOptions::default())
        .await
        .expect_err("revoked");
    assert_eq!(err.to_string(), "Token has been revoked");
}

/// A store that records what it is asked and answers from a list of revoked subjects, or fails.
#[derive(Clone, Default)]
struct Recording {
    asked: Arc<Mutex<Vec<(Value, Value)>>>,
    revoked_subs: Vec<&'static str>,
    broken: bool,
}

impl RevocationStore for Recording {
    async fn is_revoked(&self, token: &DecodedToken) -> Result<bool, StoreError> {
        self.asked.lock().expect("lock").push((
            Value::Object(token.header.clone()),
            Value::Object(token.payload.clone().into_map()),
        ));
        if self.broken {
            return Err(StoreError::new("connection refused"));
        }
        let sub = token
            .claim("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(self.revoked_subs.contains(&sub))
    }

    async fn revoke(&self, _jti: &str, _exp: Option<i64>) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test]
async fn the_store_is_asked_with_the_header_and_the_defaulted_payload() {
    let store = Recording::default();
    let jwt = JwtManager::builder(config())
        .revocation_store(store.clone())
        .build()
        .expect("valid");
    let app = app(jwt);
    get_with_bearer(&app, "/protected", &hs256(&json!({"sub": "alice"})))
        .await
        .assert_ok_for("alice");
    assert_eq!(
        store.asked.lock().expect("lock").as_slice(),
        [(
            json!({"alg": "HS256", "typ": "JWT"}),
            json!({"sub": "alice", "type": "access", "fresh": false, "jti": null})
        )]
    );
}

#[tokio::test]
async fn a_failing_store_refuses_with_503_unless_access_tokens_fail_open() {
    let broken = Recording {
        broken: true,
        ..Recording::default()
    };
    let closed = JwtManager::builder(config())
        .revocation_store(broken.clone())
        .build()
        .expect("valid");
    let access = closed.create_access_token("alice").expect("token");
    let refresh = closed.create_refresh_token("alice").expect("token");
    get_with_bearer(&app(closed), "/protected", &access)
        .await
        .assert_error(503, "Revocation store unavailable");
    let open = JwtManager::builder(config())
        .revocation_store(broken)
        .revocation_fails_open_for_access(true)
        .build()
        .expect("valid");
    let app = app(open);
    get_with_bearer(&app, "/protected", &access)
        .await
        .assert_ok_for("alice");
    get_with_bearer(&app, "/refresh", &refresh)
        .await
        .assert_error(503, "Revocation store unavailable");
}

#[tokio::test]
async fn revoke_without_a_store_is_an_internal_error() {
    let jwt = default_manager();
    let token = jwt.create_access_token("a").expect("token");
    let decoded = jwt.decode_token(&token, None, false).expect("valid");
    let err = jwt.revoke(&decoded).await.expect_err("no store");
    assert_eq!(err.status().as_u16(), 500);
}

// --- claims verification ---------------------------------------------------------------------

fn verifying(allow: bool) -> JwtManager {
    JwtManager::builder(config())
        .token_verification_loader(move |token| {
            allow && token.payload.get("type") == Some(&json!("access"))
        })
        .build()
        .expect("valid")
}

#[tokio::test]
async fn the_verification_hook_gives_400_on_required_fresh_and_optional_routes() {
    for (allow, expected) in [
        (true, None),
        (false, Some("User claims verification failed")),
    ] {
        let jwt = verifying(allow);
        let token = jwt
            .access_token("alice")
            .fresh(true)
            .encode()
            .expect("token");
        let app = app(jwt);
        for route in ["/protected", "/fresh", "/optional"] {
            let reply = get_with_bearer(&app, route, &token).await;
            match expected {
                None => reply.assert_ok_for("alice"),
                Some(message) => reply.assert_error(400, message),
            }
        }
        // Not asked without a token on an optional route.
        call(&app, "GET", "/optional", &[])
            .await
            .assert_body(200, &json!({"sub": null}));
    }
}

// --- order of the checks (§4.6) --------------------------------------------------------------

#[derive(Clone, Default)]
struct NoUsers {
    calls: Arc<Mutex<usize>>,
}

impl UserLoader for NoUsers {
    type User = String;
    type Error = String;

    async fn load_user(
        &self,
        _identity: &Value,
        _token: &DecodedToken,
    ) -> Result<Option<String>, String> {
        *self.calls.lock().expect("lock") += 1;
        Ok(None)
    }
}

#[tokio::test]
async fn checks_run_in_flasks_order_type_fresh_blocklist_verification_user() {
    let store = Recording {
        revoked_subs: vec!["revoked"],
        ..Recording::default()
    };
    let users = NoUsers::default();
    let jwt = JwtManager::builder(config())
        .revocation_store(store.clone())
        .token_verification_loader(|token| token.payload.get("ok") == Some(&json!(true)))
        .user_loader(users.clone())
        .build()
        .expect("valid");
    let app = routes()
        .route(
            "/user",
            any(|CurrentUser(u): CurrentUser<String>| async move { u }),
        )
        .with_state(AppState { jwt: jwt.clone() });
    let refresh_revoked = jwt.refresh_token("revoked").encode().expect("token");
    let stale_revoked = jwt.access_token("revoked").encode().expect("token");
    let fresh_revoked = jwt
        .access_token("revoked")
        .fresh(true)
        .encode()
        .expect("token");
    let unverified = jwt
        .access_token("alice")
        .fresh(true)
        .encode()
        .expect("token");
    let no_user = jwt
        .access_token("alice")
        .fresh(true)
        .claim("ok", true)
        .encode()
        .expect("token");
    get_with_bearer(&app, "/fresh", &refresh_revoked)
        .await
        .assert_error(422, "Only non-refresh tokens are allowed");
    get_with_bearer(&app, "/fresh", &stale_revoked)
        .await
        .assert_error(401, "Fresh token required");
    assert!(
        store.asked.lock().expect("lock").is_empty(),
        "the store comes after type and fresh"
    );
    get_with_bearer(&app, "/fresh", &fresh_revoked)
        .await
        .assert_error(401, "Token has been revoked");
    get_with_bearer(&app, "/fresh", &unverified)
        .await
        .assert_error(400, "User claims verification failed");
    get_with_bearer(&app, "/user", &unverified)
        .await
        .assert_error(400, "User claims verification failed");
    assert_eq!(
        *users.calls.lock().expect("lock"),
        0,
        "no lookup before verification"
    );
    for route in ["/fresh", "/user", "/protected"] {
        get_with_bearer(&app, route, &no_user)
            .await
            .assert_error(401, "Error loading the user alice");
    }
    assert_eq!(
        *users.calls.lock().expect("lock"),
        3,
        "every guarded route looks the user up"
    );
}

// --- error handler and message key -----------------------------------------------------------

fn custom_responses(error: &JwtError) -> Option<axum::response::Response> {
    let reply = |status: StatusCode, body: Value| Some((status, Json(body)).into_response());
    match error {
        JwtError::NoAuthorization(msg) => reply(StatusCode::CREATED, json!({"unauthorized": msg})),
        JwtError::Expired(token) => reply(
            StatusCode::IM_A_TEAPOT,
            json!({"expired_for": token.payload["sub"], "header": token.header}),
        ),
        JwtError::Invalid(msg) => reply(StatusCode::BAD_REQUEST, json!({"invalid": msg})),
        JwtError::Revoked(token) => reply(
            StatusCode::NOT_FOUND,
            json!({"revoked": token.payload["sub"]}),
        ),
        JwtError::NeedsFresh(token) => reply(
            StatusCode::FORBIDDEN,
            json!({"stale": token.payload["sub"]}),
        ),
        JwtError::ClaimsVerification(token) => reply(
            StatusCode::NOT_FOUND,
            json!({"unverified": token.payload["sub"]}),
        ),
        JwtError::UserLookup { identity, token } => reply(
            StatusCode::CREATED,
            json!({"no_user": identity, "type": token.payload["type"]}),
        ),
        _ => None,
    }
}

#[tokio::test]
async fn the_error_handler_answers_in_place_of_each_of_flasks_loaders() {
    let store = Recording {
        revoked_subs: vec!["revoked"],
        ..Recording::default()
    };
    let jwt = JwtManager::builder(config())
        .revocation_store(store)
        .token_verification_loader(|token| token.payload.get("sub") != Some(&json!("unverified")))
        .error_handler(custom_responses)
        .build()
        .expect("valid");
    let with_users = JwtManager::builder(config())
        .error_handler(custom_responses)
        .user_loader(NoUsers::default())
        .build()
        .expect("valid");
    let app: Router = common::routes()
        .with_state(AppState { jwt: jwt.clone() })
        .merge(
            Router::new()
                .route(
                    "/user",
                    any(|CurrentUser(u): CurrentUser<String>| async move { u }),
                )
                .with_state(AppState { jwt: with_users }),
        );
    let reply = call(&app, "GET", "/protected", &[]).await;
    reply.assert_body(
        201,
        &json!({"unauthorized": "Missing Authorization Header"}),
    );
    let mut expired = flask_payload("alice");
    expired["exp"] = json!(now() - 1);
    get_with_bearer(&app, "/protected", &hs256(&expired))
        .await
        .assert_body(
            418,
            &json!({"expired_for": "alice", "header": {"alg": "HS256", "typ": "JWT"}}),
        );
    get_with_bearer(&app, "/protected", "abc")
        .await
        .assert_body(400, &json!({"invalid": "Not enough segments"}));
    let revoked = jwt.create_access_token("revoked").expect("token");
    get_with_bearer(&app, "/protected", &revoked)
        .await
        .assert_body(404, &json!({"revoked": "revoked"}));
    let stale = jwt.create_access_token("alice").expect("token");
    get_with_bearer(&app, "/fresh", &stale)
        .await
        .assert_body(403, &json!({"stale": "alice"}));
    let unverified = jwt.create_access_token("unverified").expect("token");
    get_with_bearer(&app, "/protected", &unverified)
        .await
        .assert_body(404, &json!({"unverified": "unverified"}));
    get_with_bearer(&app, "/user", &stale)
        .await
        .assert_body(201, &json!({"no_user": "alice", "type": "access"}));
    // Errors the handler passes on keep the default rendering.
    let refresh = jwt.create_refresh_token("alice").expect("token");
    get_with_bearer(&app, "/protected", &refresh)
        .await
        .assert_error(422, "Only non-refresh tokens are allowed");
}

#[tokio::test]
async fn the_error_message_key_renames_msg_in_every_default_body() {
    let jwt = manager(config().with_error_message_key("message"));
    let refresh = jwt.create_refresh_token("a").expect("token");
    let app = app(jwt);
    let check = |reply: Reply, status: u16, message: &str| {
        assert_eq!(
            (reply.status.as_u16(), reply.json()),
            (status, json!({ "message": message }))
        );
    };
    check(
        call(&app, "GET", "/protected", &[]).await,
        401,
        "Missing Authorization Header",
    );
    check(
        get_with_bearer(&app, "/protected", &refresh).await,
        422,
        "Only non-refresh tokens are allowed",
    );
    check(
        get_with_bearer(&app, "/protected", "x.y").await,
        422,
        "Not enough segments",
    );
}

#[tokio::test]
async fn a_handler_can_reject_with_the_managers_rendering() {
    async fn handler(State(jwt): State<JwtManager>, request: Request) -> axum::response::Response {
        let (parts, _) = request.into_parts();
        let only_cookies = [TokenLocation::Cookies];
        let options = VerifyOptions {
            locations: Some(&only_cookies),
            ..VerifyOptions::default()
        };
        match jwt.verify_request(&parts, options).await {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => jwt.reject(e).into_response(),
        }
    }
    let jwt = manager(config().with_error_message_key("message"));
    let app: Router = Router::new()
        .route("/h", any(handler))
        .with_state(AppState { jwt });
    call(&app, "GET", "/h", &[]).await.assert_body(
        401,
        &json!({"message": "Missing cookie \"access_token_cookie\""}),
    );
}

/// A handler that returns `JwtError`s with `?`, as apps write them.
async fn returns_errors(
    State(jwt): State<JwtManager>,
    request: Request,
) -> Result<(http::HeaderMap, &'static str), JwtError> {
    let (parts, _) = request.into_parts();
    jwt.verify_request(&parts, VerifyOptions::default()).await?;
    let mut headers = http::HeaderMap::new();
    headers.insert("x-kept", http::HeaderValue::from_static("yes"));
    Ok((headers, "ok"))
}

#[tokio::test]
async fn a_jwt_error_returned_by_a_handler_renders_through_the_hook_and_message_key() {
    let jwt = JwtManager::builder(config().with_error_message_key("message"))
        .error_handler(custom_responses)
        .build()
        .expect("valid");
    let token = jwt.create_access_token("alice").expect("token");
    let refresh = jwt.create_refresh_token("alice").expect("token");
    let app: Router = Router::new()
        .route("/h", any(returns_errors))
        .layer(jwt.error_layer())
        .with_state(AppState { jwt: jwt.clone() });
    // The hook answers NoAuthorization itself, as it does for an extractor's rejection.
    call(&app, "GET", "/h", &[]).await.assert_body(
        201,
        &json!({"unauthorized": "Missing Authorization Header"}),
    );
    // What the hook leaves to the default gets JWT_ERROR_MESSAGE_KEY.
    get_with_bearer(&app, "/h", &refresh).await.assert_body(
        422,
        &json!({"message": "Only non-refresh tokens are allowed"}),
    );
    let reply = get_with_bearer(&app, "/h", &token).await;
    assert_eq!((reply.status.as_u16(), &reply.bytes[..]), (200, &b"ok"[..]));
    // Without the layer, the same error is Flask's default body.
    let bare: Router = Router::new()
        .route("/h", any(returns_errors))
        .with_state(AppState { jwt });
    get_with_bearer(&bare, "/h", &refresh)
        .await
        .assert_error(422, "Only non-refresh tokens are allowed");
}

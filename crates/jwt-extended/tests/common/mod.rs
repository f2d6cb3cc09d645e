//! Shared by the integration tests: a small axum app with one route per extractor, request
//! helpers that drive it through `tower::ServiceExt::oneshot`, and a raw token signer for
//! payloads the library would never mint itself.

#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "postgres")]
pub mod logins;
#[cfg(feature = "postgres")]
pub mod scratch_db;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    Json, Router,
    body::Body,
    extract::FromRef,
    middleware,
    routing::{any, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey};
use jwt_extended::{
    Claims, FreshJwt, InCookies, InHeaders, InJson, InQueryString, Jwt, JwtConfig, JwtFrom,
    JwtManager, RefreshJwt,
};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The HS256 secret of every test app.
pub const SECRET: &str = "integration-test-secret";

/// The PEM fixtures (test-only keys, generated once with openssl).
pub const RSA_PRIVATE: &str = include_str!("../fixtures/rsa_private.pem");
pub const RSA_PUBLIC: &str = include_str!("../fixtures/rsa_public.pem");
pub const RSA2_PRIVATE: &str = include_str!("../fixtures/rsa2_private.pem");
pub const RSA2_PUBLIC: &str = include_str!("../fixtures/rsa2_public.pem");
pub const EC_PRIVATE: &str = include_str!("../fixtures/ec_private.pem");
pub const EC_PUBLIC: &str = include_str!("../fixtures/ec_public.pem");
pub const ED_PRIVATE: &str = include_str!("../fixtures/ed25519_private.pem");
pub const ED_PUBLIC: &str = include_str!("../fixtures/ed25519_public.pem");

/// State of the test app: just the manager, found by the extractors through `FromRef`.
#[derive(Clone, Debug)]
pub struct AppState {
    pub jwt: JwtManager,
}

impl FromRef<AppState> for JwtManager {
    fn from_ref(state: &AppState) -> Self {
        state.jwt.clone()
    }
}

/// Flask's defaults with the test secret.
pub fn config() -> JwtConfig {
    JwtConfig::default().with_secret_key(SECRET)
}

pub fn manager(config: JwtConfig) -> JwtManager {
    JwtManager::new(config).expect("the test config is valid")
}

/// A default manager (headers only, HS256, the test secret).
pub fn default_manager() -> JwtManager {
    manager(config())
}

/// What every successful route answers: who, where, which type.
pub fn describe<C>(claims: &Claims<C>) -> Value {
    json!({
        "sub": claims.identity,
        "location": claims.location.as_str(),
        "type": claims.token_type,
    })
}

/// The routes of the app, without state: `/protected` (`Jwt`), `/optional` (`Option<Jwt>`),
/// `/fresh`, `/refresh`, `/headers`, `/cookies`, `/query`, `/json` (`JwtFrom<...>`), and the
/// cookie helpers `/login` and `/logout`. Every route accepts every method.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/protected",
            any(|Jwt(c): Jwt| async move { Json(describe(&c)) }),
        )
        .route(
            "/optional",
            any(|jwt: Option<Jwt>| async move {
                Json(jwt.map_or_else(|| json!({"sub": null}), |Jwt(c)| describe(&c)))
            }),
        )
        .route(
            "/fresh",
            any(|FreshJwt(c): FreshJwt| async move { Json(describe(&c)) }),
        )
        .route(
            "/refresh",
            any(|RefreshJwt(c): RefreshJwt| async move { Json(describe(&c)) }),
        )
        .route(
            "/headers",
            any(|JwtFrom(c, ..): JwtFrom<InHeaders>| async move { Json(describe(&c)) }),
        )
        .route(
            "/cookies",
            any(|JwtFrom(c, ..): JwtFrom<InCookies>| async move { Json(describe(&c)) }),
        )
        .route(
            "/query",
            any(|JwtFrom(c, ..): JwtFrom<InQueryString>| async move { Json(describe(&c)) }),
        )
        .route(
            "/json",
            any(|JwtFrom(c, ..): JwtFrom<InJson>| async move { Json(describe(&c)) }),
        )
        .route("/login", post(login))
        .route("/logout", post(logout))
}

async fn login(
    axum::extract::State(jwt): axum::extract::State<JwtManager>,
) -> jwt_extended::AuthCookies {
    let access = jwt.access_token("alice").mint().expect("access token");
    let refresh = jwt.refresh_token("alice").mint().expect("refresh token");
    jwt.cookies_for(&access).and(jwt.cookies_for(&refresh))
}

async fn logout(
    axum::extract::State(jwt): axum::extract::State<JwtManager>,
) -> jwt_extended::AuthCookies {
    jwt.unset_jwt_cookies()
}

/// The test app for `jwt`, with the body middleware the JSON location and the CSRF form field
/// need.
pub fn app(jwt: JwtManager) -> Router {
    routes()
        .layer(middleware::from_fn(jwt_extended::read_token_body))
        .with_state(AppState { jwt })
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The body as JSON (panics with the raw body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }

    /// Asserts Flask's error shape: this status and exactly `{"msg": message}`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, message: &str) {
        self.assert_body(status, &json!({ "msg": message }));
    }

    /// Asserts the status alone.
    #[track_caller]
    pub fn assert_status(&self, status: u16) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected reply: {:?}",
            String::from_utf8_lossy(&self.bytes)
        );
    }

    /// Asserts the status and the exact JSON body.
    #[track_caller]
    pub fn assert_body(&self, status: u16, body: &Value) {
        assert_eq!(
            (self.status.as_u16(), &self.json()),
            (status, body),
            "unexpected reply"
        );
    }

    /// Asserts 200 and the `sub` the route saw.
    #[track_caller]
    pub fn assert_ok_for(&self, sub: &str) {
        assert_eq!(
            (self.status.as_u16(), self.json()["sub"].clone()),
            (200, json!(sub)),
            "unexpected reply: {:?}",
            String::from_utf8_lossy(&self.bytes)
        );
    }

    /// The `Set-Cookie` lines, in order.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii Set-Cookie").to_owned())
            .collect()
    }
}

/// Sends `request` to `app`.
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes().to_vec();
    Reply {
        status: parts.status,
        headers: parts.headers,
        bytes,
    }
}

/// Sends `method uri` with `headers` and no body.
pub async fn call(app: &Router, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
    call_with_body(app, method, uri, headers, Body::empty()).await
}

/// Sends `method uri` with `headers` and `body`.
pub async fn call_with_body(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    send(app, builder.body(body.into()).expect("valid request")).await
}

/// `GET uri` with `Authorization: Bearer <token>`.
pub async fn get_with_bearer(app: &Router, uri: &str, token: &str) -> Reply {
    call(app, "GET", uri, &[("authorization", &bearer(token))]).await
}

/// A JSON POST.
pub async fn post_json(app: &Router, uri: &str, body: &Value) -> Reply {
    call_with_body(
        app,
        "POST",
        uri,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A payload laid out as Flask-JWT-Extended lays out an access token for `sub`, with the CSRF
/// value `csrf-value`.
pub fn flask_payload(sub: &str) -> Value {
    let now = now();
    json!({
        "fresh": false,
        "iat": now,
        "jti": "0b7a5b8e-1f6c-4a53-9d4e-3f1f6a1e2b3c",
        "type": "access",
        "sub": sub,
        "nbf": now,
        "csrf": "csrf-value",
        "exp": now + 900,
    })
}

/// Signs any header and payload JSON (not necessarily objects) with `key`.
pub fn sign_raw(header: &Value, payload: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("signs");
    format!("{input}.{signature}")
}

/// An HS256 token with the test secret and PyJWT's header, whatever the payload holds.
pub fn hs256(payload: &Value) -> String {
    sign_raw(
        &json!({"alg": "HS256", "typ": "JWT"}),
        payload,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::HS256,
    )
}

/// The `csrf` claim of a token (read without verification).
pub fn csrf_of(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("three segments");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64 payload");
    let value: Value = serde_json::from_slice(&bytes).expect("JSON payload");
    value["csrf"].as_str().expect("a csrf claim").to_owned()
}

/// The names of a payload's claims in the order the token holds them, whatever serde_json's
/// features (a `Value` map may sort them).
pub fn payload_keys(token: &str) -> Vec<String> {
    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys(Vec<String>);
    struct KeysVisitor;
    impl<'de> Visitor<'de> for KeysVisitor {
        type Value = Keys;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(key);
            }
            Ok(Keys(keys))
        }
    }
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(KeysVisitor)
        }
    }
    let payload = token.split('.').nth(1).expect("three segments");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64 payload");
    serde_json::from_slice::<Keys>(&bytes)
        .expect("JSON object")
        .0
}

/// The payload of a token, read without verification.
pub fn payload_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three segments");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64 payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

/// The header of a token, read without verification.
pub fn header_of(token: &str) -> Value {
    let header = token.split('.').next().expect("a segment");
    let bytes = URL_SAFE_NO_PAD.decode(header).expect("base64 header");
    serde_json::from_slice(&bytes).expect("JSON header")
}

/// `name=value` as a `Cookie` header value.
pub fn cookie(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

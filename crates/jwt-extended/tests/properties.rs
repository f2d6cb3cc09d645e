//! Property tests: whatever arrives as a token, a `Cookie` header, an `Authorization` header, a
//! query string or a JSON body, the app never panics, never answers 5xx, and always answers a
//! JSON object whose `msg` is a string.

mod common;

use std::sync::OnceLock;

use axum::{Json, Router, body::Body, routing::any as any_method};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::*;
use http::{HeaderValue, Request};
use jwt_extended::{FreshJwt, Jwt, JwtManager, RefreshJwt, TokenLocation};
use proptest::{collection::vec, prelude::*};
use serde_json::{Map, Value, json};

/// Three configurations: the default headers-only one; all four locations with the CSRF form
/// field; and a strict one (audience, issuer, custom identity claim, leeway, query prefix).
fn managers() -> &'static [JwtManager; 3] {
    static MANAGERS: OnceLock<[JwtManager; 3]> = OnceLock::new();
    MANAGERS.get_or_init(|| {
        let all = [
            TokenLocation::Headers,
            TokenLocation::Cookies,
            TokenLocation::QueryString,
            TokenLocation::Json,
        ];
        [
            default_manager(),
            manager(config().with_token_location(all).with_csrf_check_form(true)),
            manager(
                config()
                    .with_token_location([
                        TokenLocation::Json,
                        TokenLocation::QueryString,
                        TokenLocation::Cookies,
                        TokenLocation::Headers,
                    ])
                    .with_decode_audience(["aud"])
                    .with_decode_issuer(["iss"])
                    .with_identity_claim("identity")
                    .with_leeway(5)
                    .with_query_string_value_prefix("Bearer ")
                    .with_header_type(""),
            ),
        ]
    })
}

fn ok() -> Json<Value> {
    Json(json!({"msg": "ok"}))
}

fn router(jwt: JwtManager) -> Router {
    Router::new()
        .route("/protected", any_method(|_: Jwt| async { ok() }))
        .route("/optional", any_method(|_: Option<Jwt>| async { ok() }))
        .route("/fresh", any_method(|_: FreshJwt| async { ok() }))
        .route("/refresh", any_method(|_: RefreshJwt| async { ok() }))
        .layer(axum::middleware::from_fn(jwt_extended::read_token_body))
        .with_state(AppState { jwt })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Sends the request and checks the property.
fn check(
    runtime: &tokio::runtime::Runtime,
    which: usize,
    request: Request<Body>,
) -> Result<(), TestCaseError> {
    let app = router(managers()[which].clone());
    let reply = runtime.block_on(send(&app, request));
    prop_assert!(
        reply.status.as_u16() < 500,
        "status {} body {:?}",
        reply.status,
        String::from_utf8_lossy(&reply.bytes)
    );
    let body: Value = serde_json::from_slice(&reply.bytes).map_err(|e| {
        TestCaseError::fail(format!(
            "not JSON ({e}): {:?}",
            String::from_utf8_lossy(&reply.bytes)
        ))
    })?;
    prop_assert!(body["msg"].is_string(), "no msg string in {body}");
    Ok(())
}

fn method() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PUT"),
        Just("PATCH"),
        Just("DELETE")
    ]
}

fn route() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("/protected"),
        Just("/optional"),
        Just("/fresh"),
        Just("/refresh")
    ]
}

/// Bytes a header value may hold (visible ASCII, space, tab, obs-text).
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            8 => 0x20u8..0x7f,
            1 => 0x80u8..=0xff,
            1 => Just(b'\t'),
            2 => prop_oneof![Just(b','), Just(b' '), Just(b'.'), Just(b'=') , Just(b';'), Just(b'"')],
        ],
        0..max,
    )
}

fn header_value(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).expect("only header-safe bytes are generated")
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("[a-z]{0,5}", inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A value for a registered claim: often plausible (times near now, the CSRF value, the
/// configured audience), sometimes anything.
fn claim_value() -> impl Strategy<Value = Value> {
    let now = now();
    prop_oneof![
        3 => json_value(),
        2 => (now - 100..now + 100).prop_map(Value::from),
        1 => (now - 100..now + 100).prop_map(|t| Value::from(t as f64 + 0.5)),
        1 => (now - 100..now + 100).prop_map(|t| Value::from(t.to_string())),
        1 => prop_oneof![
            Just(json!("csrf-value")),
            Just(json!("aud")),
            Just(json!(["aud"])),
            Just(json!("iss")),
            Just(json!("access")),
            Just(json!("refresh")),
            Just(json!(true)),
            Just(json!("alice")),
        ],
    ]
}

/// A payload made of registered claims (each maybe present) and a few others.
fn payload() -> impl Strategy<Value = Value> {
    let names = [
        "sub", "identity", "exp", "iat", "nbf", "jti", "type", "fresh", "csrf", "aud", "iss",
    ];
    (
        vec(proptest::option::of(claim_value()), names.len()),
        vec(("[a-z]{1,6}", json_value()), 0..3),
    )
        .prop_map(move |(values, extra)| {
            let mut map = Map::new();
            for (name, value) in names.iter().zip(values) {
                if let Some(value) = value {
                    map.insert((*name).to_owned(), value);
                }
            }
            map.extend(extra);
            Value::Object(map)
        })
}

/// A valid payload for every configuration, with up to three claims removed or replaced: the
/// checks after the signature see mostly-good tokens.
fn near_valid_payload() -> impl Strategy<Value = Value> {
    let names = [
        "sub", "identity", "exp", "iat", "nbf", "jti", "type", "fresh", "csrf", "aud", "iss",
    ];
    vec((0..names.len(), proptest::option::of(claim_value())), 0..4).prop_map(move |mutations| {
        let mut payload = flask_payload("alice");
        payload["identity"] = json!("alice");
        payload["aud"] = json!("aud");
        payload["iss"] = json!("iss");
        let map = payload.as_object_mut().expect("object");
        for (index, value) in mutations {
            match value {
                Some(value) => map.insert(names[index].to_owned(), value),
                None => map.remove(names[index]),
            };
        }
        payload
    })
}

/// A JOSE header: usually HS256, sometimes another or a broken `alg`, maybe a `kid`.
fn jose_header() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            6 => Just(json!("HS256")),
            1 => Just(json!("none")),
            1 => Just(json!("RS256")),
            1 => json_value(),
        ],
        proptest::option::of(json_value()),
        any::<bool>(),
    )
        .prop_map(|(alg, kid, has_alg)| {
            let mut header = Map::new();
            if has_alg {
                header.insert("alg".into(), alg);
            }
            header.insert("typ".into(), json!("JWT"));
            if let Some(kid) = kid {
                header.insert("kid".into(), kid);
            }
            Value::Object(header)
        })
}

/// Token-shaped strings: signed with the right secret and arbitrary claims; three base64
/// segments of arbitrary JSON; or anything at all.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => payload().prop_map(|p| hs256(&p)),
        6 => near_valid_payload().prop_map(|p| hs256(&p)),
        2 => (jose_header(), payload()).prop_map(|(h, p)| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode(p.to_string())
            );
            let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
            let signature = jsonwebtoken::crypto::sign(
                input.as_bytes(),
                &key,
                jsonwebtoken::Algorithm::HS256,
            )
            .expect("signs");
            format!("{input}.{signature}")
        }),
        2 => (json_value(), json_value(), "[A-Za-z0-9_=-]{0,20}").prop_map(|(h, p, s)| {
            format!(
                "{}.{}.{s}",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode(p.to_string())
            )
        }),
        1 => "[A-Za-z0-9_=.+/-]{0,60}",
        1 => ".{0,40}",
    ]
}

/// Where to put a token: the header, a cookie, the query string, or the JSON body.
#[derive(Debug, Clone, Copy)]
enum Place {
    Header,
    RawHeader,
    Cookie,
    Query,
    Json,
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        Just(Place::Header),
        Just(Place::RawHeader),
        Just(Place::Cookie),
        Just(Place::Query),
        Just(Place::Json)
    ]
}

fn request_with_token(
    method: &str,
    route: &str,
    place: Place,
    token: &str,
    csrf: Option<&str>,
) -> Request<Body> {
    let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let safe = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("x"));
    let mut builder = Request::builder().method(method);
    let mut body = Body::empty();
    match place {
        Place::Header => {
            builder = builder
                .uri(route)
                .header("authorization", safe(format!("Bearer {token}")));
        }
        Place::RawHeader => {
            builder = builder
                .uri(route)
                .header("authorization", safe(token.to_owned()));
        }
        Place::Cookie => {
            builder = builder.uri(route).header(
                "cookie",
                safe(format!(
                    "access_token_cookie={token}; refresh_token_cookie={token}"
                )),
            );
        }
        Place::Query => {
            builder = builder.uri(format!("{route}?jwt={encoded}&jwt=Bearer+{encoded}"));
        }
        Place::Json => {
            builder = builder
                .uri(route)
                .header("content-type", "application/json");
            body = Body::from(json!({"access_token": token, "refresh_token": token}).to_string());
        }
    }
    if let Some(csrf) = csrf {
        builder = builder.header("x-csrf-token", safe(csrf.to_owned()));
    }
    builder.body(body).expect("a valid request")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_token_in_any_location_gets_a_json_answer_below_500(
        which in 0..3usize,
        method in method(),
        route in route(),
        place in place(),
        token in token(),
        csrf in proptest::option::of(prop_oneof![Just("csrf-value".to_owned()), ".{0,10}".prop_map(String::from)]),
    ) {
        let rt = runtime();
        check(&rt, which, request_with_token(method, route, place, &token, csrf.as_deref()))?;
    }

    #[test]
    fn any_authorization_header_bytes_get_a_json_answer_below_500(
        which in 0..3usize,
        method in method(),
        route in route(),
        bytes in header_bytes(300),
    ) {
        let request = Request::builder()
            .method(method)
            .uri(route)
            .header("authorization", header_value(&bytes))
            .body(Body::empty())
            .expect("request");
        check(&runtime(), which, request)?;
    }

    #[test]
    fn any_cookie_header_bytes_get_a_json_answer_below_500(
        which in 0..3usize,
        method in method(),
        route in route(),
        bytes in header_bytes(300),
        prefix in prop_oneof![Just(""), Just("access_token_cookie="), Just("refresh_token_cookie=\"")],
        csrf in proptest::option::of(header_bytes(40)),
    ) {
        let mut cookie = prefix.as_bytes().to_vec();
        cookie.extend_from_slice(&bytes);
        let mut builder = Request::builder()
            .method(method)
            .uri(route)
            .header("cookie", header_value(&cookie));
        if let Some(csrf) = csrf {
            builder = builder.header("x-csrf-token", header_value(&csrf));
        }
        check(&runtime(), which, builder.body(Body::empty()).expect("request"))?;
    }

    #[test]
    fn any_query_string_gets_a_json_answer_below_500(
        which in 0..3usize,
        route in route(),
        raw in "[!-~]{0,120}",
        value in ".{0,80}",
    ) {
        let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
        for uri in [format!("{route}?{raw}"), format!("{route}?jwt={encoded}"), format!("{route}?jwt={raw}")] {
            // Only what a client can send: a URI that parses.
            if let Ok(uri) = uri.parse::<http::Uri>() {
                let request = Request::get(uri).body(Body::empty()).expect("request");
                check(&runtime(), which, request)?;
            }
        }
    }

    #[test]
    fn any_body_with_a_json_or_form_content_type_gets_a_json_answer_below_500(
        which in 0..3usize,
        method in method(),
        route in route(),
        body in prop_oneof![
            vec(any::<u8>(), 0..200),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            (json_value(), json_value()).prop_map(|(a, r)| json!({"access_token": a, "refresh_token": r}).to_string().into_bytes()),
        ],
        content_type in prop_oneof![
            Just("application/json"),
            Just("application/json; charset=utf-8"),
            Just("application/x-www-form-urlencoded"),
            Just("application/problem+json"),
        ],
        cookie in proptest::option::of(token()),
    ) {
        let mut builder = Request::builder()
            .method(method)
            .uri(route)
            .header("content-type", content_type);
        if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&format!("access_token_cookie={c}")).ok()) {
            builder = builder.header("cookie", cookie);
        }
        check(&runtime(), which, builder.body(Body::from(body)).expect("request"))?;
    }
}

//! Token layout and decoding: PyJWT's checks and messages, Flask's defaults and claims
//! (reference §4.1, §4.6, §5, §8.6, §8.7, §8.10, §9.1, §9.4, §9.7, §9.8,
//! test_decode_tokens.py, test_view_decorators.py).

mod common;

use std::time::Duration;

use axum::{Json, Router, extract::State, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use jwt_extended::{JwtError, JwtManager, JwtRejection};
use serde_json::{Value, json};

/// Sends `payload`, signed with the test secret, to `/protected` of a default app.
async fn judge(payload: &Value) -> Reply {
    judge_with(&default_manager(), payload).await
}

async fn judge_with(jwt: &JwtManager, payload: &Value) -> Reply {
    get_with_bearer(&app(jwt.clone()), "/protected", &hs256(payload)).await
}

fn with(mut payload: Value, key: &str, value: Value) -> Value {
    payload[key] = value;
    payload
}

fn without(mut payload: Value, key: &str) -> Value {
    payload.as_object_mut().expect("object").remove(key);
    payload
}

fn decode_message(jwt: &JwtManager, token: &str) -> String {
    jwt.decode_token(token, None, false)
        .map(|_| "ok".to_owned())
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn access_tokens_have_flasks_header_and_claim_layout_in_order() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    assert_eq!(header_of(&token), json!({"alg": "HS256", "typ": "JWT"}));
    let payload = payload_of(&token);
    assert_eq!(
        payload_keys(&token),
        ["fresh", "iat", "jti", "type", "sub", "nbf", "csrf", "exp"]
    );
    let iat = payload["iat"].as_i64().expect("integer iat");
    assert!((now() - iat).abs() <= 2);
    assert_eq!(payload["fresh"], false);
    assert_eq!(payload["type"], "access");
    assert_eq!(payload["sub"], "alice");
    assert_eq!(payload["nbf"], iat);
    assert_eq!(payload["exp"], iat + 900);
    for uuid in [&payload["jti"], &payload["csrf"]] {
        let uuid = uuid.as_str().expect("string");
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4', "a version-4 UUID: {uuid}");
    }
}

#[test]
fn refresh_tokens_differ_only_in_type_and_a_thirty_day_exp() {
    let jwt = default_manager();
    let token = jwt.create_refresh_token("alice").expect("token");
    let payload = payload_of(&token);
    let keys = payload_keys(&token);
    assert_eq!(
        keys,
        ["fresh", "iat", "jti", "type", "sub", "nbf", "csrf", "exp"]
    );
    assert_eq!(payload["type"], "refresh");
    assert_eq!(payload["fresh"], false);
    assert_eq!(
        payload["exp"].as_i64(),
        payload["iat"].as_i64().map(|i| i + 2_592_000)
    );
}

#[test]
fn audience_and_issuer_are_written_between_csrf_and_exp() {
    let jwt = manager(
        config()
            .with_encode_audience("aud1")
            .with_encode_issuer("me"),
    );
    let token = jwt.create_access_token("a").expect("token");
    let payload = payload_of(&token);
    let keys = payload_keys(&token);
    assert_eq!(
        keys,
        [
            "fresh", "iat", "jti", "type", "sub", "nbf", "csrf", "aud", "iss", "exp"
        ]
    );
    assert_eq!(payload["aud"], "aud1");
    assert_eq!(payload["iss"], "me");
    let several = manager(config().with_encode_audience(["a", "b"]));
    assert_eq!(
        payload_of(&several.create_access_token("a").expect("token"))["aud"],
        json!(["a", "b"])
    );
    // JWT_ENCODE_AUDIENCE = ["a"]: PyJWT writes the list it is given.
    let one_element = manager(config().with_encode_audience(["a"]));
    assert_eq!(
        payload_of(&one_element.create_access_token("a").expect("token"))["aud"],
        json!(["a"])
    );
}

#[test]
fn encode_nbf_off_csrf_off_and_no_expiry_drop_their_claims() {
    let jwt = manager(
        config()
            .with_encode_nbf(false)
            .with_csrf_protect(false)
            .with_access_token_expires(None)
            .with_refresh_token_expires(None),
    );
    for token in [
        jwt.create_access_token("a").expect("token"),
        jwt.create_refresh_token("a").expect("token"),
    ] {
        assert_eq!(payload_keys(&token), ["fresh", "iat", "jti", "type", "sub"]);
        assert_eq!(decode_message(&jwt, &token), "ok");
    }
}

#[test]
fn per_token_lifetime_and_claims_override_the_config_and_reserved_claims() {
    let jwt = default_manager();
    let token = jwt
        .access_token("a")
        .expires_in(Some(Duration::from_secs(5)))
        .encode()
        .expect("token");
    let payload = payload_of(&token);
    assert_eq!(
        payload["exp"].as_i64(),
        payload["iat"].as_i64().map(|i| i + 5)
    );
    let token = jwt
        .access_token("a")
        .claim("type", "app")
        .claim("sub", "override")
        .claim("jti", "mine")
        .claim("nbf", 5)
        .claim("exp", now() + 60)
        .encode()
        .expect("token");
    let payload = payload_of(&token);
    assert_eq!(payload["type"], "app");
    assert_eq!(payload["sub"], "override");
    assert_eq!(payload["jti"], "mine");
    assert_eq!(payload["nbf"], 5);
    let keys = payload_keys(&token);
    assert_eq!(
        keys,
        ["fresh", "iat", "jti", "type", "sub", "nbf", "csrf", "exp"],
        "dict.update keeps the original positions"
    );
    let no_exp = jwt
        .access_token("a")
        .expires_in(None)
        .encode()
        .expect("token");
    assert!(payload_of(&no_exp).get("exp").is_none());
}

#[test]
fn additional_headers_are_merged_into_the_jose_header() {
    let jwt = default_manager();
    let mut extra = jwt_extended::JsonObject::new();
    extra.insert("foo".into(), json!("bar"));
    let token = jwt
        .access_token("a")
        .additional_headers(extra)
        .encode()
        .expect("token");
    let header = jwt.unverified_header(&token).expect("header");
    assert_eq!(
        Value::Object(header),
        json!({"alg": "HS256", "foo": "bar", "typ": "JWT"})
    );
    assert_eq!(decode_message(&jwt, &token), "ok");
}

#[test]
fn a_serialization_failure_of_the_identity_is_a_token_error() {
    let jwt = default_manager();
    let mut bad = std::collections::HashMap::new();
    bad.insert((1, 2), "tuple keys are not JSON");
    let err = jwt.create_access_token(bad).expect_err("not JSON");
    assert!(
        matches!(err, jwt_extended::TokenError::Serialize(_)),
        "{err}"
    );
}

#[tokio::test]
async fn decoding_fills_flasks_defaults_for_type_fresh_and_jti() {
    let jwt = default_manager();
    let token = hs256(&json!({"sub": "alice"}));
    let decoded = jwt.decode_token(&token, None, false).expect("valid");
    assert_eq!(
        Value::Object(decoded.payload.clone().into_map()),
        json!({"sub": "alice", "type": "access", "fresh": false, "jti": null})
    );
    assert_eq!(decoded.token_type(), "access");
    assert_eq!(decoded.jti(), None);
    get_with_bearer(&app(jwt), "/protected", &token)
        .await
        .assert_body(
            200,
            &json!({"sub": "alice", "location": "headers", "type": "access"}),
        );
}

#[tokio::test]
async fn a_missing_identity_claim_gives_422_missing_claim_sub() {
    judge(&without(flask_payload("a"), "sub"))
        .await
        .assert_error(422, "Missing claim: sub");
}

#[tokio::test]
async fn a_custom_identity_claim_is_written_read_and_required_and_sub_must_still_be_a_string() {
    let jwt = manager(config().with_identity_claim("identity"));
    let token = jwt.create_access_token("alice").expect("token");
    let payload = payload_of(&token);
    assert_eq!(payload["identity"], "alice");
    assert!(payload.get("sub").is_none());
    get_with_bearer(&app(jwt.clone()), "/protected", &token)
        .await
        .assert_ok_for("alice");
    judge_with(&jwt, &json!({"sub": "alice"}))
        .await
        .assert_error(422, "Missing claim: identity");
    judge_with(&jwt, &json!({"identity": "alice", "sub": 5}))
        .await
        .assert_error(422, "Subject must be a string");
    // The identity claim itself may be anything.
    let reply = judge_with(&jwt, &json!({"identity": {"id": 5}})).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.json()["sub"], json!({"id": 5}));
}

#[tokio::test]
async fn a_non_string_sub_gives_422_unless_verify_sub_is_off() {
    for sub in [json!(5), json!(["a"]), json!({"id": 1}), json!(null)] {
        judge(&json!({ "sub": sub }))
            .await
            .assert_error(422, "Subject must be a string");
    }
    let lenient = manager(config().with_verify_sub(false));
    let token = lenient.create_access_token(5).expect("token");
    let reply = get_with_bearer(&app(lenient), "/protected", &token).await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["sub"].clone()),
        (200, json!(5))
    );
    // Flask's own tokens: an int identity is minted, then refused (the #556 trap).
    let strict = default_manager();
    let token = strict.create_access_token(5).expect("token");
    get_with_bearer(&app(strict), "/protected", &token)
        .await
        .assert_error(422, "Subject must be a string");
}

#[tokio::test]
async fn an_expired_token_gives_401_token_has_expired_and_allow_expired_decodes_it() {
    let jwt = default_manager();
    let payload = with(flask_payload("alice"), "exp", json!(now() - 1));
    judge(&payload).await.assert_error(401, "Token has expired");
    let token = hs256(&payload);
    assert_eq!(decode_message(&jwt, &token), "Token has expired");
    let decoded = jwt.decode_token(&token, None, true).expect("allow_expired");
    assert_eq!(decoded.payload["sub"], "alice");
    assert!(
        jwt.get_csrf_token(&token).is_err(),
        "get_csrf_token verifies"
    );
    assert!(jwt.get_jti(&token).is_err(), "get_jti verifies");
}

#[tokio::test]
async fn a_token_without_exp_never_expires_and_exp_equal_to_now_has_expired() {
    judge(&without(flask_payload("alice"), "exp"))
        .await
        .assert_ok_for("alice");
    judge(&with(flask_payload("alice"), "exp", json!(now())))
        .await
        .assert_error(401, "Token has expired");
}

#[tokio::test]
async fn leeway_applies_to_exp_nbf_and_iat() {
    let lenient = manager(config().with_leeway(30));
    let p = flask_payload("alice");
    judge_with(&lenient, &with(p.clone(), "exp", json!(now() - 10)))
        .await
        .assert_ok_for("alice");
    judge_with(&lenient, &with(p.clone(), "nbf", json!(now() + 10)))
        .await
        .assert_ok_for("alice");
    judge_with(&lenient, &with(p.clone(), "iat", json!(now() + 10)))
        .await
        .assert_ok_for("alice");
    judge_with(&lenient, &with(p.clone(), "exp", json!(now() - 60)))
        .await
        .assert_error(401, "Token has expired");
}

#[tokio::test]
async fn a_future_nbf_or_iat_gives_422_not_yet_valid() {
    let p = flask_payload("alice");
    judge(&with(p.clone(), "nbf", json!(now() + 60)))
        .await
        .assert_error(422, "The token is not yet valid (nbf)");
    judge(&with(p, "iat", json!(now() + 60)))
        .await
        .assert_error(422, "The token is not yet valid (iat)");
}

#[tokio::test]
async fn non_integer_registered_claims_give_pyjwts_messages() {
    let p = flask_payload("alice");
    for (claim, value, message) in [
        (
            "exp",
            json!("soon"),
            "Expiration Time claim (exp) must be an integer.",
        ),
        (
            "exp",
            json!([1]),
            "Expiration Time claim (exp) must be an integer.",
        ),
        (
            "iat",
            json!("x"),
            "Issued At claim (iat) must be an integer.",
        ),
        (
            "nbf",
            json!({}),
            "Not Before claim (nbf) must be an integer.",
        ),
        ("jti", json!(5), "JWT ID must be a string"),
    ] {
        judge(&with(p.clone(), claim, value))
            .await
            .assert_error(422, message);
    }
    // Python's int() accepts floats and integer strings.
    judge(&with(p.clone(), "exp", json!((now() + 60) as f64 + 0.5)))
        .await
        .assert_ok_for("alice");
    judge(&with(p, "exp", json!((now() + 60).to_string())))
        .await
        .assert_ok_for("alice");
}

#[tokio::test]
async fn the_audience_is_checked_only_when_configured_and_then_required() {
    let p = flask_payload("alice");
    judge(&with(p.clone(), "aud", json!("anything")))
        .await
        .assert_ok_for("alice");
    let jwt = manager(config().with_decode_audience(["foo", "bar"]));
    for (aud, expected) in [
        (None, Some("Token is missing the \"aud\" claim")),
        (Some(json!("")), Some("Token is missing the \"aud\" claim")),
        (Some(json!([])), Some("Token is missing the \"aud\" claim")),
        (Some(json!(0)), Some("Token is missing the \"aud\" claim")),
        (Some(json!({})), Some("Token is missing the \"aud\" claim")),
        (
            Some(json!(null)),
            Some("Token is missing the \"aud\" claim"),
        ),
        (Some(json!("baz")), Some("Audience doesn't match")),
        (Some(json!(["baz", "qux"])), Some("Audience doesn't match")),
        (Some(json!([1])), Some("Invalid claim format in token")),
        (Some(json!(5)), Some("Invalid claim format in token")),
        (Some(json!("foo")), None),
        (Some(json!(["baz", "bar"])), None),
    ] {
        let payload = match &aud {
            Some(aud) => with(p.clone(), "aud", aud.clone()),
            None => p.clone(),
        };
        let reply = judge_with(&jwt, &payload).await;
        match expected {
            Some(message) => reply.assert_error(422, message),
            None => reply.assert_ok_for("alice"),
        }
    }
    let both = manager(
        config()
            .with_decode_audience(["foo"])
            .with_encode_audience(["foo"]),
    );
    let token = both.create_access_token("alice").expect("token");
    get_with_bearer(&app(both), "/protected", &token)
        .await
        .assert_ok_for("alice");
}

#[tokio::test]
async fn the_issuer_is_checked_only_when_configured_and_then_required() {
    let p = flask_payload("alice");
    judge(&with(p.clone(), "iss", json!("anyone")))
        .await
        .assert_ok_for("alice");
    let jwt = manager(config().with_decode_issuer(["me"]));
    judge_with(&jwt, &p)
        .await
        .assert_error(422, "Token is missing the \"iss\" claim");
    judge_with(&jwt, &with(p.clone(), "iss", json!("you")))
        .await
        .assert_error(422, "Invalid issuer");
    for not_a_string in [json!(["me"]), json!(null), json!(1)] {
        judge_with(&jwt, &with(p.clone(), "iss", not_a_string))
            .await
            .assert_error(422, "Payload Issuer (iss) must be a string");
    }
    judge_with(&jwt, &with(p, "iss", json!("me")))
        .await
        .assert_ok_for("alice");
    let both = manager(config().with_decode_issuer(["me"]).with_encode_issuer("me"));
    let token = both.create_access_token("alice").expect("token");
    get_with_bearer(&app(both), "/protected", &token)
        .await
        .assert_ok_for("alice");
}

#[tokio::test]
async fn an_expired_token_with_another_fault_reports_that_fault() {
    let expired = with(flask_payload("alice"), "exp", json!(now() - 10));
    let issuer = manager(config().with_decode_issuer(["me"]));
    judge_with(&issuer, &with(expired.clone(), "iss", json!("you")))
        .await
        .assert_error(422, "Invalid issuer");
    let audience = manager(config().with_decode_audience(["me"]));
    judge_with(&audience, &expired)
        .await
        .assert_error(422, "Token is missing the \"aud\" claim");
    judge(&with(expired.clone(), "sub", json!(1)))
        .await
        .assert_error(422, "Subject must be a string");
    judge(&without(expired, "sub"))
        .await
        .assert_error(422, "Missing claim: sub");
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn malformed_tokens_give_pyjwts_decode_messages() {
    let jwt = default_manager();
    let good = jwt.create_access_token("a").expect("token");
    let (signing_input, _) = good.rsplit_once('.').expect("three parts");
    let header = b64(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64(r#"{"sub":"a"}"#);
    for (token, message) in [
        ("xxx".to_owned(), "Not enough segments"),
        ("a.b".to_owned(), "Not enough segments"),
        (String::new(), "Not enough segments"),
        ("a.b.c".to_owned(), "Invalid header padding"),
        (format!("!!.{payload}.c2ln"), "Invalid header padding"),
        (format!("{header}.!!.c2ln"), "Invalid payload padding"),
        (format!("{header}.{payload}.!!"), "Invalid crypto padding"),
        (
            format!("{}.{payload}.c2ln", b64("[1]")),
            "Invalid header string: must be a json object",
        ),
        (
            format!("{header}.{}.c2ln", b64("\"s\"")),
            "Invalid payload string: must be a json object",
        ),
        (
            format!("{signing_input}.c2ln"),
            "Signature verification failed",
        ),
        (format!("{signing_input}."), "Signature verification failed"),
        // Longer than any HMAC tag (400 characters): valid base64url is a wrong signature, a bad
        // character is padding.
        (
            format!("{signing_input}.{}", "c2ln".repeat(100)),
            "Signature verification failed",
        ),
        (
            format!("{signing_input}.{}c2l!", "c2ln".repeat(99)),
            "Invalid crypto padding",
        ),
        (
            format!("{header}.{payload}.c2ln"),
            "Signature verification failed",
        ),
    ] {
        assert_eq!(decode_message(&jwt, &token), message, "token {token:?}");
        if !token.is_empty() {
            get_with_bearer(&app(jwt.clone()), "/protected", &token)
                .await
                .assert_error(422, message);
        }
    }
}

#[tokio::test]
async fn a_token_signed_with_another_secret_gives_422_signature_verification_failed() {
    let other = manager(jwt_extended::JwtConfig::default().with_secret_key("another secret"));
    let token = other.create_access_token("alice").expect("token");
    get_with_bearer(&app(default_manager()), "/protected", &token)
        .await
        .assert_error(422, "Signature verification failed");
}

#[tokio::test]
async fn a_tampered_payload_gives_422_signature_verification_failed() {
    let jwt = default_manager();
    let token = jwt.create_access_token("alice").expect("token");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64(&payload_of(&token).to_string().replace("alice", "mallory"));
    let token = format!("{}.{forged}.{}", parts[0], parts[2]);
    get_with_bearer(&app(jwt), "/protected", &token)
        .await
        .assert_error(422, "Signature verification failed");
}

#[tokio::test]
async fn alg_none_and_unknown_or_missing_algs_are_not_allowed() {
    let payload = b64(&flask_payload("alice").to_string());
    for (header, message) in [
        (
            r#"{"alg":"none","typ":"JWT"}"#,
            "The specified alg value is not allowed",
        ),
        (
            r#"{"alg":"None"}"#,
            "The specified alg value is not allowed",
        ),
        (
            r#"{"alg":"NONE"}"#,
            "The specified alg value is not allowed",
        ),
        (
            r#"{"alg":"HS257"}"#,
            "The specified alg value is not allowed",
        ),
        (r#"{"alg":5}"#, "The specified alg value is not allowed"),
        (r#"{"typ":"JWT"}"#, "Algorithm not specified"),
    ] {
        for signature in ["", "c2ln"] {
            let token = format!("{}.{payload}.{signature}", b64(header));
            get_with_bearer(&app(default_manager()), "/protected", &token)
                .await
                .assert_error(422, message);
        }
    }
}

#[tokio::test]
async fn a_token_of_another_hs_algorithm_is_refused_unless_the_decode_list_allows_it() {
    let hs512 = manager(
        jwt_extended::JwtConfig::default()
            .with_secret_key(SECRET)
            .with_algorithm(Algorithm::HS512),
    );
    let token = hs512.create_access_token("alice").expect("token");
    get_with_bearer(&app(default_manager()), "/protected", &token)
        .await
        .assert_error(422, "The specified alg value is not allowed");
    let both = manager(config().with_decode_algorithms([Algorithm::HS512]));
    assert_eq!(
        both.config().effective_decode_algorithms(),
        [Algorithm::HS512, Algorithm::HS256],
        "JWT_ALGORITHM is appended"
    );
    get_with_bearer(&app(both.clone()), "/protected", &token)
        .await
        .assert_ok_for("alice");
    let own = both.create_access_token("bob").expect("token");
    get_with_bearer(&app(both), "/protected", &own)
        .await
        .assert_ok_for("bob");
}

#[tokio::test]
async fn a_non_string_kid_is_refused() {
    let token = sign_raw(
        &json!({"alg": "HS256", "kid": 5}),
        &flask_payload("alice"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::HS256,
    );
    get_with_bearer(&app(default_manager()), "/protected", &token)
        .await
        .assert_error(422, "Key ID header parameter must be a string");
}

#[test]
fn get_jti_get_csrf_token_and_unverified_header_read_a_valid_token() {
    let jwt = default_manager();
    let token = jwt.create_access_token("a").expect("token");
    let payload = payload_of(&token);
    assert_eq!(
        jwt.get_jti(&token).expect("valid").as_deref(),
        payload["jti"].as_str()
    );
    assert_eq!(
        jwt.get_csrf_token(&token).expect("valid").as_deref(),
        payload["csrf"].as_str()
    );
    let garbage = hs256(&json!({"sub": "a"}));
    assert_eq!(jwt.get_csrf_token(&garbage).expect("valid"), None);
    let (signing_input, signature) = token.rsplit_once('.').expect("three parts");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signing_input}.{flipped}{}", &signature[1..]);
    assert!(jwt.get_jti(&tampered).is_err());
    assert!(jwt.unverified_header(&tampered).is_ok(), "not verified");
    assert!(jwt.unverified_header("nope").is_err());
}

#[test]
fn decode_token_checks_the_csrf_value_only_when_one_is_given() {
    let jwt = default_manager();
    let token = jwt.create_access_token("a").expect("token");
    let csrf = csrf_of(&token);
    assert!(jwt.decode_token(&token, Some(&csrf), false).is_ok());
    let err = jwt
        .decode_token(&token, Some("nope"), false)
        .expect_err("mismatch");
    assert_eq!(err.to_string(), "CSRF double submit tokens do not match");
    assert_eq!(err.status().as_u16(), 401);
    let no_claim = hs256(&json!({"sub": "a"}));
    let err = jwt
        .decode_token(&no_claim, Some("x"), false)
        .expect_err("missing");
    assert_eq!(err.to_string(), "Missing claim: csrf");
    assert_eq!(err.status().as_u16(), 422);
}

#[tokio::test]
async fn decode_token_in_an_unprotected_handler_answers_with_flasks_response() {
    async fn inspect(
        State(jwt): State<JwtManager>,
        axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    ) -> Result<Json<Value>, JwtRejection> {
        let token = q.get("t").map(String::as_str).unwrap_or_default();
        let decoded = jwt.decode_token(token, None, false)?;
        Ok(Json(Value::Object(decoded.payload.into_map())))
    }
    let jwt = default_manager();
    let app: Router = Router::new()
        .route("/inspect", get(inspect))
        .with_state(AppState { jwt });
    let expired = hs256(&with(flask_payload("a"), "exp", json!(now() - 5)));
    call(&app, "GET", &format!("/inspect?t={expired}"), &[])
        .await
        .assert_error(401, "Token has expired");
    call(&app, "GET", "/inspect?t=abc", &[])
        .await
        .assert_error(422, "Not enough segments");
}

#[test]
fn every_error_variant_has_the_reference_status() {
    let token = || {
        Box::new(jwt_extended::DecodedToken {
            header: Default::default(),
            payload: Default::default(),
        })
    };
    let cases = [
        (JwtError::NoAuthorization("m".into()), 401),
        (JwtError::Csrf("m".into()), 401),
        (JwtError::Expired(token()), 401),
        (JwtError::NeedsFresh(token()), 401),
        (JwtError::Revoked(token()), 401),
        (
            JwtError::UserLookup {
                identity: "u".into(),
                token: token(),
            },
            401,
        ),
        (JwtError::ClaimsVerification(token()), 400),
        (JwtError::Forbidden("m".into()), 403),
        (JwtError::InvalidHeader("m".into()), 422),
        (JwtError::InvalidQueryParam("m".into()), 422),
        (JwtError::WrongType("m".into()), 422),
        (JwtError::Invalid("m".into()), 422),
        (JwtError::StoreUnavailable, 503),
        (JwtError::Internal("m".into()), 500),
    ];
    for (error, status) in cases {
        assert_eq!(error.status().as_u16(), status, "{error:?}");
    }
}

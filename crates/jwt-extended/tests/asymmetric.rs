//! Public-key algorithms, `alg: none`, algorithm confusion, key rotation and the
//! configuration errors around keys (reference §1, §8.10, test_asymmetric_crypto.py,
//! test_config.py). The PEM pairs are test-only fixtures made once with `openssl genpkey`.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use jwt_extended::{ConfigError, DecodingKey, JwtConfig, JwtManager};
use serde_json::json;

fn asymmetric(alg: Algorithm, private: &str, public: &str) -> JwtManager {
    manager(
        JwtConfig::default()
            .with_algorithm(alg)
            .with_private_key_pem(private)
            .with_public_key_pem(public),
    )
}

fn rs256() -> JwtManager {
    asymmetric(Algorithm::RS256, RSA_PRIVATE, RSA_PUBLIC)
}

#[tokio::test]
async fn tokens_signed_and_verified_with_every_public_key_algorithm_are_accepted() {
    for (alg, private, public) in [
        (Algorithm::RS256, RSA_PRIVATE, RSA_PUBLIC),
        (Algorithm::RS384, RSA_PRIVATE, RSA_PUBLIC),
        (Algorithm::RS512, RSA_PRIVATE, RSA_PUBLIC),
        (Algorithm::PS256, RSA_PRIVATE, RSA_PUBLIC),
        (Algorithm::PS384, RSA_PRIVATE, RSA_PUBLIC),
        (Algorithm::PS512, RSA_PRIVATE, RSA_PUBLIC),
        (Algorithm::ES256, EC_PRIVATE, EC_PUBLIC),
        (Algorithm::EdDSA, ED_PRIVATE, ED_PUBLIC),
    ] {
        let jwt = asymmetric(alg, private, public);
        let token = jwt.create_access_token("alice").expect("token");
        assert_eq!(
            header_of(&token),
            json!({"alg": format!("{alg:?}"), "typ": "JWT"}),
            "{alg:?}"
        );
        get_with_bearer(&app(jwt), "/protected", &token)
            .await
            .assert_ok_for("alice");
    }
}

#[tokio::test]
async fn an_hs256_token_is_refused_when_rs256_is_configured() {
    let token = hs256(&flask_payload("alice"));
    get_with_bearer(&app(rs256()), "/protected", &token)
        .await
        .assert_error(422, "The specified alg value is not allowed");
}

#[tokio::test]
async fn algorithm_confusion_with_the_public_key_as_hmac_secret_is_refused() {
    let forged = sign_raw(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &flask_payload("admin"),
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
        Algorithm::HS256,
    );
    get_with_bearer(&app(rs256()), "/protected", &forged)
        .await
        .assert_error(422, "The specified alg value is not allowed");
    // Even an allow-list that names HS256 never verifies an HMAC with the RSA key.
    let lenient = manager(
        JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_decode_algorithms([Algorithm::HS256])
            .with_private_key_pem(RSA_PRIVATE)
            .with_public_key_pem(RSA_PUBLIC),
    );
    get_with_bearer(&app(lenient), "/protected", &forged)
        .await
        .assert_error(422, "Signature verification failed");
}

#[tokio::test]
async fn alg_none_is_refused_under_hs256_and_rs256() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(flask_payload("admin").to_string())
    );
    for jwt in [default_manager(), rs256()] {
        get_with_bearer(&app(jwt), "/protected", &unsigned)
            .await
            .assert_error(422, "The specified alg value is not allowed");
    }
}

#[tokio::test]
async fn a_token_signed_by_another_key_pair_fails_signature_verification() {
    let other = asymmetric(Algorithm::RS256, RSA2_PRIVATE, RSA2_PUBLIC);
    let token = other.create_access_token("alice").expect("token");
    get_with_bearer(&app(rs256()), "/protected", &token)
        .await
        .assert_error(422, "Signature verification failed");
}

#[tokio::test]
async fn an_rs256_token_is_refused_where_only_es256_is_allowed() {
    let token = rs256().create_access_token("alice").expect("token");
    let es = asymmetric(Algorithm::ES256, EC_PRIVATE, EC_PUBLIC);
    get_with_bearer(&app(es), "/protected", &token)
        .await
        .assert_error(422, "The specified alg value is not allowed");
}

#[tokio::test]
async fn a_verify_only_manager_accepts_tokens_but_cannot_mint_them() {
    let verifier = manager(
        JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_public_key_pem(RSA_PUBLIC),
    );
    let err = verifier
        .create_access_token("a")
        .expect_err("no private key");
    assert!(
        matches!(err, jwt_extended::TokenError::NoSigningKey),
        "{err}"
    );
    let token = rs256().create_access_token("alice").expect("token");
    get_with_bearer(&app(verifier), "/protected", &token)
        .await
        .assert_ok_for("alice");
}

#[test]
fn key_configuration_mistakes_are_typed_errors_with_flasks_messages() {
    let err = JwtManager::new(JwtConfig::default()).expect_err("no secret");
    assert_eq!(
        err.to_string(),
        "JWT_SECRET_KEY or flask SECRET_KEY must be set when using symmetric algorithm \"HS256\""
    );
    let err = JwtManager::new(
        JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_secret_key("the secret is never used for RS256"),
    )
    .expect_err("no public key");
    assert_eq!(
        err.to_string(),
        "JWT_PUBLIC_KEY must be set to use asymmetric cryptography algorithm \"RS256\""
    );
    let err = JwtManager::new(
        JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_private_key_pem(RSA_PRIVATE)
            .with_public_key_pem(RSA2_PUBLIC),
    )
    .expect_err("mismatched pair");
    assert!(
        matches!(
            err,
            ConfigError::InvalidKey {
                name: "JWT_PRIVATE_KEY",
                ..
            }
        ),
        "{err}"
    );
    let err = JwtManager::new(
        JwtConfig::default()
            .with_algorithm(Algorithm::ES256)
            .with_private_key_pem(RSA_PRIVATE)
            .with_public_key_pem(EC_PUBLIC),
    )
    .expect_err("an RSA key for ES256");
    assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err}");
    let err = JwtManager::new(
        JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_public_key_pem("not a pem"),
    )
    .expect_err("garbage");
    assert!(
        matches!(
            err,
            ConfigError::InvalidKey {
                name: "JWT_PUBLIC_KEY",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn secrets_and_private_keys_never_appear_in_debug_output() {
    let secret = "a-very-recognisable-secret";
    let hs = manager(JwtConfig::default().with_secret_key(secret));
    let rs = rs256();
    let private_body = RSA_PRIVATE.lines().nth(1).expect("a PEM body line");
    for text in [
        format!("{hs:?}"),
        format!("{:?}", hs.config()),
        format!("{rs:?}"),
        format!("{:?}", rs.config()),
        format!(
            "{:?}",
            JwtManager::builder(JwtConfig::default().with_secret_key(secret))
        ),
    ] {
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains(private_body), "{text}");
        assert!(!text.contains("BEGIN"), "{text}");
    }
    assert!(format!("{hs:?}").contains("[redacted]"));
}

#[tokio::test]
async fn a_signing_kid_lets_retired_keys_verify_during_rotation() {
    let old = JwtManager::builder(
        JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_private_key_pem(RSA2_PRIVATE)
            .with_public_key_pem(RSA2_PUBLIC),
    )
    .signing_kid("2024")
    .build()
    .expect("valid");
    let old_token = old.create_access_token("alice").expect("token");
    assert_eq!(header_of(&old_token)["kid"], "2024");
    let new = JwtManager::builder(
        JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_private_key_pem(RSA_PRIVATE)
            .with_public_key_pem(RSA_PUBLIC),
    )
    .signing_kid("2025")
    .verification_key(
        "2024",
        Algorithm::RS256,
        DecodingKey::from_rsa_pem(RSA2_PUBLIC.as_bytes()).expect("pem"),
    )
    .build()
    .expect("valid");
    let new_token = new.create_access_token("bob").expect("token");
    let app = app(new.clone());
    get_with_bearer(&app, "/protected", &old_token)
        .await
        .assert_ok_for("alice");
    get_with_bearer(&app, "/protected", &new_token)
        .await
        .assert_ok_for("bob");
    let unknown = JwtManager::builder(
        JwtConfig::default()
            .with_algorithm(Algorithm::RS256)
            .with_private_key_pem(RSA_PRIVATE)
            .with_public_key_pem(RSA_PUBLIC),
    )
    .signing_kid("1999")
    .build()
    .expect("valid")
    .create_access_token("eve")
    .expect("token");
    get_with_bearer(&app, "/protected", &unknown)
        .await
        .assert_error(422, "Signature verification failed");
}

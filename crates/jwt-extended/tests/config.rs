//! Configuration: Flask's defaults, the environment names, and start-up errors instead of
//! request-time 500s (reference §1, test_config.py).

mod common;

use std::{collections::HashMap, time::Duration};

use common::*;
use jsonwebtoken::Algorithm;
use jwt_extended::{ConfigError, JwtConfig, JwtManager, TokenLocation};

fn from(vars: &[(&str, &str)]) -> Result<JwtConfig, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    JwtConfig::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn the_defaults_are_flask_jwt_extendeds() {
    let c = JwtConfig::default();
    assert_eq!(c.algorithm(), Algorithm::HS256);
    assert_eq!(c.effective_decode_algorithms(), [Algorithm::HS256]);
    assert_eq!(c.access_token_expires(), Some(Duration::from_secs(900)));
    assert_eq!(
        c.refresh_token_expires(),
        Some(Duration::from_secs(2_592_000))
    );
    assert_eq!(c.token_location(), [TokenLocation::Headers]);
    assert!(!c.cookie_secure());
    assert!(c.csrf_protect());
    let strings = [
        (c.identity_claim(), "sub"),
        (c.error_message_key(), "msg"),
        (c.header_name(), "Authorization"),
        (c.header_type(), "Bearer"),
        (c.query_string_name(), "jwt"),
        (c.query_string_value_prefix(), ""),
        (c.json_key(), "access_token"),
        (c.refresh_json_key(), "refresh_token"),
        (c.access_cookie_name(), "access_token_cookie"),
        (c.refresh_cookie_name(), "refresh_token_cookie"),
        (c.access_cookie_path(), "/"),
        (c.refresh_cookie_path(), "/"),
        (c.access_csrf_cookie_name(), "csrf_access_token"),
        (c.refresh_csrf_cookie_name(), "csrf_refresh_token"),
        (c.access_csrf_cookie_path(), "/"),
        (c.refresh_csrf_cookie_path(), "/"),
        (c.access_csrf_header_name(), "X-CSRF-TOKEN"),
        (c.refresh_csrf_header_name(), "X-CSRF-TOKEN"),
        (c.access_csrf_field_name(), "csrf_token"),
        (c.refresh_csrf_field_name(), "csrf_token"),
    ];
    for (actual, expected) in strings {
        assert_eq!(actual, expected);
    }
}

#[test]
fn location_and_header_name_mistakes_fail_at_build_time_with_flasks_messages() {
    let err = JwtManager::new(config().with_token_location([])).expect_err("empty");
    assert_eq!(
        err.to_string(),
        "JWT_TOKEN_LOCATION must contain at least one of \"headers\", \"cookies\", \"query_string\", or \"json\""
    );
    let err = from(&[("JWT_TOKEN_LOCATION", "headers,body")]).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "JWT_TOKEN_LOCATION can only contain \"headers\", \"cookies\", \"query_string\", or \"json\""
    );
    let err = JwtManager::new(config().with_header_name("")).expect_err("empty name");
    assert_eq!(err.to_string(), "JWT_ACCESS_HEADER_NAME cannot be empty");
    let err = JwtManager::new(config().with_access_csrf_header_name("bad header"))
        .expect_err("invalid name");
    assert_eq!(
        err,
        ConfigError::InvalidHeaderName("JWT_ACCESS_CSRF_HEADER_NAME")
    );
}

#[test]
fn the_environment_uses_the_jwt_names_in_order_and_seconds_or_false_for_lifetimes() {
    let c = from(&[
        ("JWT_SECRET_KEY", "s"),
        ("JWT_TOKEN_LOCATION", "cookies, headers ,json"),
        ("JWT_ACCESS_TOKEN_EXPIRES", "60"),
        ("JWT_REFRESH_TOKEN_EXPIRES", "false"),
        ("JWT_ALGORITHM", "HS512"),
        ("JWT_DECODE_ALGORITHMS", "HS256"),
        ("JWT_CSRF_METHODS", "post,get"),
        ("JWT_COOKIE_DOMAIN", ".ex.com"),
        ("JWT_SESSION_COOKIE", "false"),
        ("JWT_QUERY_STRING_VALUE_PREFIX", "Bearer "),
    ])
    .expect("valid");
    assert_eq!(
        c.token_location(),
        [
            TokenLocation::Cookies,
            TokenLocation::Headers,
            TokenLocation::Json
        ]
    );
    assert_eq!(c.access_token_expires(), Some(Duration::from_secs(60)));
    assert_eq!(c.refresh_token_expires(), None);
    assert_eq!(
        c.effective_decode_algorithms(),
        [Algorithm::HS256, Algorithm::HS512]
    );
    assert_eq!(c.query_string_value_prefix(), "Bearer ");
    let jwt = JwtManager::new(c).expect("valid");
    let token = jwt.create_access_token("a").expect("token");
    let set: Vec<String> = jwt
        .set_access_cookies(&token)
        .expect("cookies")
        .header_values()
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    assert!(set[0].contains("; Domain=ex.com; Expires="), "{}", set[0]);
    assert!(set[0].contains("; Max-Age=31540000;"), "{}", set[0]);
    assert!(
        payload_of(&jwt.create_refresh_token("a").expect("token"))
            .get("exp")
            .is_none()
    );
    for (name, value) in [
        ("JWT_ACCESS_TOKEN_EXPIRES", "true"),
        ("JWT_ACCESS_TOKEN_EXPIRES", "15m"),
        ("JWT_ALGORITHM", "HS1024"),
        ("JWT_COOKIE_SAMESITE", "sometimes"),
        ("JWT_COOKIE_SECURE", "maybe"),
        ("JWT_DECODE_LEEWAY", "1.5s"),
    ] {
        let err = from(&[(name, value)]).expect_err("invalid");
        assert!(err.to_string().starts_with(name), "{name}={value}: {err}");
    }
}

#[test]
fn secret_key_falls_back_to_flasks_secret_key() {
    let c = from(&[("SECRET_KEY", SECRET)]).expect("valid");
    let token = JwtManager::new(c)
        .expect("valid")
        .create_access_token("a")
        .expect("token");
    assert!(default_manager().decode_token(&token, None, false).is_ok());
}

#[test]
fn the_readme_and_the_crate_docs_show_the_same_table_of_differences() {
    let table = include_str!("../doc/differences.md");
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(table),
        "README.md must hold doc/differences.md verbatim"
    );
}

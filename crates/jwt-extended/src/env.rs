//! [`JwtConfig::from_env`]: the `JWT_*` names of Flask-JWT-Extended, read from the environment.

use std::{str::FromStr, time::Duration};

use http::Method;

use crate::config::{Algorithm, Audience, ConfigError, JwtConfig, TokenLocation};

impl JwtConfig {
    /// Reads every `JWT_*` variable that is set, on top of the defaults, so a Flask app's
    /// environment configures the Rust service unchanged.
    ///
    /// Lifetimes are seconds, or `false` for no expiry; booleans are `true`/`false`/`1`/`0`;
    /// lists are comma-separated or a JSON array (`["api"]`: a list even with one element).
    /// `JWT_PRIVATE_KEY` and `JWT_PUBLIC_KEY` hold PEM text or the path of a PEM file.
    ///
    /// A variable set to the empty string is a value, as in Flask's config: `JWT_HEADER_TYPE=""`
    /// means a bare token in the header, `JWT_QUERY_STRING_VALUE_PREFIX=""` no prefix. Where
    /// Flask tests an option's truth (`JWT_SECRET_KEY`, the PEM keys, `JWT_COOKIE_DOMAIN`,
    /// `JWT_ENCODE_ISSUER`, `JWT_ENCODE_AUDIENCE`, `JWT_DECODE_ALGORITHMS`), empty means unset;
    /// an empty number, boolean, lifetime, algorithm or `SameSite` is refused.
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] naming the variable that does not parse.
    ///
    /// ```
    /// # use jwt_extended::JwtConfig;
    /// let config = JwtConfig::from_env()?;
    /// # Ok::<(), jwt_extended::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading values through `lookup` (tests, or a
    /// config file already loaded into memory).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] naming the variable that does not parse.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let get = |name: &str| lookup(name);
        // Options Flask reads by their truth: empty is unset.
        let truthy = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let Some(v) = get("JWT_ALGORITHM") {
            c.algorithm = parse_algorithm("JWT_ALGORITHM", &v)?;
        }
        if let Some(v) = truthy("JWT_DECODE_ALGORITHMS") {
            c.decode_algorithms = list("JWT_DECODE_ALGORITHMS", &v)?
                .iter()
                .map(|a| parse_algorithm("JWT_DECODE_ALGORITHMS", a))
                .collect::<Result<_, _>>()?;
        }
        c.secret_key = truthy("JWT_SECRET_KEY")
            .or_else(|| truthy("SECRET_KEY"))
            .map(String::into_bytes);
        c.private_key = truthy("JWT_PRIVATE_KEY")
            .map(|v| pem_or_file("JWT_PRIVATE_KEY", v))
            .transpose()?;
        c.public_key = truthy("JWT_PUBLIC_KEY")
            .map(|v| pem_or_file("JWT_PUBLIC_KEY", v))
            .transpose()?;
        if let Some(v) = get("JWT_ACCESS_TOKEN_EXPIRES") {
            c.access_expires = lifetime("JWT_ACCESS_TOKEN_EXPIRES", &v)?;
        }
        if let Some(v) = get("JWT_REFRESH_TOKEN_EXPIRES") {
            c.refresh_expires = lifetime("JWT_REFRESH_TOKEN_EXPIRES", &v)?;
        }
        if let Some(v) = get("JWT_DECODE_AUDIENCE") {
            c.decode_audience = Some(list("JWT_DECODE_AUDIENCE", &v)?);
        }
        if let Some(v) = truthy("JWT_ENCODE_AUDIENCE") {
            c.encode_audience = Some(audience(&v)?);
        }
        if let Some(v) = get("JWT_DECODE_ISSUER") {
            c.decode_issuer = Some(list("JWT_DECODE_ISSUER", &v)?);
        }
        c.encode_issuer = truthy("JWT_ENCODE_ISSUER");
        if let Some(v) = get("JWT_DECODE_LEEWAY") {
            c.leeway = v
                .trim()
                .parse()
                .map_err(|_| invalid("JWT_DECODE_LEEWAY", "must be whole seconds"))?;
        }
        if let Some(v) = get("JWT_TOKEN_LOCATION") {
            c.token_location = list("JWT_TOKEN_LOCATION", &v)?
                .iter()
                .map(|l| TokenLocation::from_str(l))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = get("JWT_COOKIE_SAMESITE") {
            c.cookie_samesite = Some(v.parse()?);
        }
        if let Some(v) = get("JWT_CSRF_METHODS") {
            c.csrf_methods = list("JWT_CSRF_METHODS", &v)?
                .iter()
                .map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()))
                .collect::<Result<_, _>>()
                .map_err(|_| invalid("JWT_CSRF_METHODS", "must be HTTP methods"))?;
        }
        c.cookie_domain = truthy("JWT_COOKIE_DOMAIN").map(|d| d.trim_start_matches('.').to_owned());
        read_bools(&mut c, &get)?;
        read_strings(&mut c, &get);
        Ok(c)
    }
}

fn read_bools(c: &mut JwtConfig, get: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    let fields: [(&'static str, &mut bool); 7] = [
        ("JWT_ENCODE_NBF", &mut c.encode_nbf),
        ("JWT_VERIFY_SUB", &mut c.verify_sub),
        ("JWT_COOKIE_SECURE", &mut c.cookie_secure),
        ("JWT_SESSION_COOKIE", &mut c.session_cookie),
        ("JWT_COOKIE_CSRF_PROTECT", &mut c.csrf_protect),
        ("JWT_CSRF_IN_COOKIES", &mut c.csrf_in_cookies),
        ("JWT_CSRF_CHECK_FORM", &mut c.csrf_check_form),
    ];
    for (name, field) in fields {
        if let Some(v) = get(name) {
            *field = parse_bool(name, &v)?;
        }
    }
    Ok(())
}

fn read_strings(c: &mut JwtConfig, get: &impl Fn(&str) -> Option<String>) {
    let fields: [(&str, &mut String); 20] = [
        ("JWT_IDENTITY_CLAIM", &mut c.identity_claim),
        ("JWT_ERROR_MESSAGE_KEY", &mut c.error_message_key),
        ("JWT_HEADER_NAME", &mut c.header_name),
        ("JWT_HEADER_TYPE", &mut c.header_type),
        ("JWT_QUERY_STRING_NAME", &mut c.query_string_name),
        (
            "JWT_QUERY_STRING_VALUE_PREFIX",
            &mut c.query_string_value_prefix,
        ),
        ("JWT_JSON_KEY", &mut c.json_key),
        ("JWT_REFRESH_JSON_KEY", &mut c.refresh_json_key),
        ("JWT_ACCESS_COOKIE_NAME", &mut c.access_cookie_name),
        ("JWT_REFRESH_COOKIE_NAME", &mut c.refresh_cookie_name),
        ("JWT_ACCESS_COOKIE_PATH", &mut c.access_cookie_path),
        ("JWT_REFRESH_COOKIE_PATH", &mut c.refresh_cookie_path),
        (
            "JWT_ACCESS_CSRF_COOKIE_NAME",
            &mut c.access_csrf_cookie_name,
        ),
        (
            "JWT_REFRESH_CSRF_COOKIE_NAME",
            &mut c.refresh_csrf_cookie_name,
        ),
        (
            "JWT_ACCESS_CSRF_COOKIE_PATH",
            &mut c.access_csrf_cookie_path,
        ),
        (
            "JWT_REFRESH_CSRF_COOKIE_PATH",
            &mut c.refresh_csrf_cookie_path,
        ),
        (
            "JWT_ACCESS_CSRF_HEADER_NAME",
            &mut c.access_csrf_header_name,
        ),
        (
            "JWT_REFRESH_CSRF_HEADER_NAME",
            &mut c.refresh_csrf_header_name,
        ),
        ("JWT_ACCESS_CSRF_FIELD_NAME", &mut c.access_csrf_field_name),
        (
            "JWT_REFRESH_CSRF_FIELD_NAME",
            &mut c.refresh_csrf_field_name,
        ),
    ];
    for (name, field) in fields {
        if let Some(v) = get(name) {
            *field = v;
        }
    }
}

fn invalid(name: &'static str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        name,
        reason: reason.into(),
    }
}

/// A JSON array of strings, or comma-separated values.
fn list(name: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    if value.trim_start().starts_with('[') {
        return serde_json::from_str(value)
            .map_err(|_| invalid(name, "must be a JSON array of strings or comma-separated"));
    }
    Ok(value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

/// `JWT_ENCODE_AUDIENCE`: one value is a string, a JSON array or several values a list.
fn audience(value: &str) -> Result<Audience, ConfigError> {
    let items = list("JWT_ENCODE_AUDIENCE", value)?;
    Ok(match items.as_slice() {
        [one] if !value.trim_start().starts_with('[') => Audience::One(one.clone()),
        _ => Audience::Many(items),
    })
}

fn parse_algorithm(name: &'static str, value: &str) -> Result<Algorithm, ConfigError> {
    Algorithm::from_str(value.trim()).map_err(|_| invalid(name, "unknown algorithm"))
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(name, "must be true or false")),
    }
}

/// Seconds, or `false` for no expiry (Flask's `False`).
pub(crate) fn lifetime(name: &'static str, value: &str) -> Result<Option<Duration>, ConfigError> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("false") {
        return Ok(None);
    }
    match value.parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(secs) => Ok(Some(Duration::from_secs(secs))),
        Err(_) => Err(invalid(
            name,
            "must be a whole number of seconds, or false for no expiry",
        )),
    }
}

/// PEM text as is, or else the path of a PEM file.
fn pem_or_file(name: &'static str, value: String) -> Result<Vec<u8>, ConfigError> {
    if value.contains("-----BEGIN") {
        return Ok(value.into_bytes());
    }
    std::fs::read(value.trim())
        .map_err(|e| invalid(name, &format!("not PEM text and not a readable file: {e}")))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::SameSite;

    fn from(vars: &[(&str, &str)]) -> Result<JwtConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        JwtConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_original_apps_environment_is_read() {
        let c = from(&[
            ("JWT_SECRET_KEY", "s3cret"),
            ("JWT_ACCESS_TOKEN_EXPIRES", "600"),
            ("JWT_TOKEN_LOCATION", "cookies"),
            ("JWT_COOKIE_SAMESITE", "Strict"),
            ("JWT_COOKIE_SECURE", "true"),
        ])
        .expect("valid");
        assert_eq!(c.access_expires, Some(Duration::from_secs(600)));
        assert_eq!(c.token_location, vec![TokenLocation::Cookies]);
        assert_eq!(c.cookie_samesite, Some(SameSite::Strict));
        assert!(c.cookie_secure);
        assert_eq!(c.secret_key.as_deref(), Some(&b"s3cret"[..]));
    }

    #[test]
    fn false_means_no_expiry_and_garbage_is_named() {
        let c = from(&[("JWT_REFRESH_TOKEN_EXPIRES", "false")]).expect("valid");
        assert_eq!(c.refresh_expires, None);
        let err = from(&[("JWT_ACCESS_TOKEN_EXPIRES", "soon")]).unwrap_err();
        assert!(err.to_string().starts_with("JWT_ACCESS_TOKEN_EXPIRES"));
        assert_eq!(
            from(&[("JWT_TOKEN_LOCATION", "cookie")]).unwrap_err(),
            ConfigError::UnknownLocation
        );
    }

    #[test]
    fn an_empty_string_is_a_value_where_flask_takes_it_as_one() {
        let c = from(&[
            ("JWT_HEADER_TYPE", ""),
            ("JWT_COOKIE_DOMAIN", ""),
            ("JWT_ENCODE_ISSUER", ""),
            ("JWT_CSRF_METHODS", ""),
        ])
        .expect("valid");
        assert_eq!(c.header_type, "");
        assert_eq!(c.cookie_domain, None);
        assert_eq!(c.encode_issuer, None);
        assert!(c.csrf_methods.is_empty());
        for name in [
            "JWT_ACCESS_TOKEN_EXPIRES",
            "JWT_COOKIE_SECURE",
            "JWT_DECODE_LEEWAY",
        ] {
            let err = from(&[(name, "")]).expect_err("empty is not a value of this type");
            assert!(err.to_string().starts_with(name), "{err}");
        }
        let empty = from(&[("JWT_TOKEN_LOCATION", "")]).expect("parses");
        assert_eq!(
            crate::JwtManager::new(empty.with_secret_key("k")).expect_err("no location"),
            ConfigError::NoLocation
        );
    }

    #[test]
    fn audiences_and_lists_read_json_arrays_and_negative_leeway() {
        let c = from(&[
            ("JWT_ENCODE_AUDIENCE", r#"["api"]"#),
            ("JWT_DECODE_AUDIENCE", r#"["api", "web"]"#),
            ("JWT_DECODE_LEEWAY", "-10"),
        ])
        .expect("valid");
        assert_eq!(c.encode_audience, Some(Audience::Many(vec!["api".into()])));
        assert_eq!(c.decode_audience, Some(vec!["api".into(), "web".into()]));
        assert_eq!(c.leeway, -10);
        let one = from(&[("JWT_ENCODE_AUDIENCE", "api")]).expect("valid");
        assert_eq!(one.encode_audience, Some(Audience::One("api".into())));
        let two = from(&[("JWT_ENCODE_AUDIENCE", "a, b")]).expect("valid");
        assert_eq!(two.encode_audience, Some(Audience::from(["a", "b"])));
    }

    #[test]
    fn secret_key_falls_back_to_flask_secret_key() {
        let c = from(&[("SECRET_KEY", "flask")]).expect("valid");
        assert_eq!(c.secret_key.as_deref(), Some(&b"flask"[..]));
    }
}

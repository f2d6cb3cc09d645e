//! [`JwtConfig::from_env`]: the `JWT_*` names of Flask-JWT-Extended, read from the environment.

use std::{str::FromStr, time::Duration};

use http::Method;

use crate::config::{Algorithm, ConfigError, JwtConfig, TokenLocation};

impl JwtConfig {
    /// Reads every `JWT_*` variable that is set, on top of the defaults, so a Flask app's
    /// environment configures the Rust service unchanged.
    ///
    /// Lifetimes are seconds, or `false` for no expiry; booleans are `true`/`false`/`1`/`0`;
    /// lists are comma-separated. `JWT_PRIVATE_KEY` and `JWT_PUBLIC_KEY` hold PEM text or the
    /// path of a PEM file.
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
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let Some(v) = get("JWT_ALGORITHM") {
            c.algorithm = parse_algorithm("JWT_ALGORITHM", &v)?;
        }
        if let Some(v) = get("JWT_DECODE_ALGORITHMS") {
            c.decode_algorithms = list(&v)
                .map(|a| parse_algorithm("JWT_DECODE_ALGORITHMS", a))
                .collect::<Result<_, _>>()?;
        }
        c.secret_key = get("JWT_SECRET_KEY")
            .or_else(|| get("SECRET_KEY"))
            .map(String::into_bytes);
        c.private_key = get("JWT_PRIVATE_KEY")
            .map(|v| pem_or_file("JWT_PRIVATE_KEY", v))
            .transpose()?;
        c.public_key = get("JWT_PUBLIC_KEY")
            .map(|v| pem_or_file("JWT_PUBLIC_KEY", v))
            .transpose()?;
        if let Some(v) = get("JWT_ACCESS_TOKEN_EXPIRES") {
            c.access_expires = lifetime("JWT_ACCESS_TOKEN_EXPIRES", &v)?;
        }
        if let Some(v) = get("JWT_REFRESH_TOKEN_EXPIRES") {
            c.refresh_expires = lifetime("JWT_REFRESH_TOKEN_EXPIRES", &v)?;
        }
        c.decode_audience =
            get("JWT_DECODE_AUDIENCE").map(|v| list(&v).map(String::from).collect());
        c.encode_audience =
            get("JWT_ENCODE_AUDIENCE").map(|v| list(&v).map(String::from).collect());
        c.decode_issuer = get("JWT_DECODE_ISSUER").map(|v| list(&v).map(String::from).collect());
        c.encode_issuer = get("JWT_ENCODE_ISSUER");
        if let Some(v) = get("JWT_DECODE_LEEWAY") {
            c.leeway = v
                .trim()
                .parse()
                .map_err(|_| invalid("JWT_DECODE_LEEWAY", "must be whole seconds"))?;
        }
        if let Some(v) = get("JWT_TOKEN_LOCATION") {
            c.token_location = list(&v)
                .map(TokenLocation::from_str)
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = get("JWT_COOKIE_SAMESITE") {
            c.cookie_samesite = Some(v.parse()?);
        }
        if let Some(v) = get("JWT_CSRF_METHODS") {
            c.csrf_methods = list(&v)
                .map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()))
                .collect::<Result<_, _>>()
                .map_err(|_| invalid("JWT_CSRF_METHODS", "must be HTTP methods"))?;
        }
        c.cookie_domain = get("JWT_COOKIE_DOMAIN").map(|d| d.trim_start_matches('.').to_owned());
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

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
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
    fn secret_key_falls_back_to_flask_secret_key() {
        let c = from(&[("SECRET_KEY", "flask")]).expect("valid");
        assert_eq!(c.secret_key.as_deref(), Some(&b"flask"[..]));
    }
}

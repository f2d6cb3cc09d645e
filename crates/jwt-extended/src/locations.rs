//! Finding the token in a request, location by location, with Flask-JWT-Extended's rules and
//! messages (§4.4 of the reference). Only a *missing* token ([`JwtError::NoAuthorization`]) lets
//! the next location be tried; any other error is final.

use std::borrow::Cow;

use http::{HeaderMap, request::Parts};
use serde_json::Value;

use crate::{
    body::{TokenBody, is_json},
    config::{JwtConfig, TokenLocation},
    rejection::JwtError,
};

/// A token found in a request, with the CSRF value sent beside it (cookies only).
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) token: String,
    pub(crate) csrf: Option<String>,
    pub(crate) location: TokenLocation,
}

/// Tries each location in order; a missing token moves on, anything else stops.
pub(crate) fn find_token(
    parts: &Parts,
    config: &JwtConfig,
    locations: &[TokenLocation],
    refresh: bool,
) -> Result<Option<Found>, (JwtError, Vec<String>)> {
    let mut missing = Vec::with_capacity(locations.len());
    for &location in locations {
        let found = match location {
            TokenLocation::Headers => from_headers(&parts.headers, config).map(|t| (t, None)),
            TokenLocation::Cookies => from_cookies(parts, config, refresh),
            TokenLocation::QueryString => from_query(parts, config).map(|t| (t, None)),
            TokenLocation::Json => from_json(parts, config, refresh).map(|t| (t, None)),
        };
        match found {
            Ok((token, csrf)) => {
                return Ok(Some(Found {
                    token,
                    csrf,
                    location,
                }));
            }
            Err(JwtError::NoAuthorization(msg)) => missing.push(msg),
            Err(other) => return Err((other, missing)),
        }
    }
    Err((
        JwtError::NoAuthorization(missing_message(locations, &missing)),
        missing,
    ))
}

/// `Missing JWT in headers, cookies or json (m1; m2; m3)`, or the one message of a single
/// location.
fn missing_message(locations: &[TokenLocation], messages: &[String]) -> String {
    match (locations, messages) {
        ([_], [one]) => one.clone(),
        ([init @ .., last], _) => {
            let start: Vec<&str> = init.iter().map(|l| l.as_str()).collect();
            format!(
                "Missing JWT in {} or {} ({})",
                start.join(", "),
                last.as_str(),
                messages.join("; ")
            )
        }
        ([], _) => "Missing JWT".to_owned(),
    }
}

/// A header's value as text; bytes that are not UTF-8 become U+FFFD. Borrowed (no copy) in
/// the usual case of a valid value.
fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<Cow<'h, str>> {
    headers
        .get(name)
        .map(|v| match std::str::from_utf8(v.as_bytes()) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(v.as_bytes()),
        })
}

/// `Authorization: Bearer <JWT>`, possibly among other comma-separated credentials.
pub(crate) fn from_headers(headers: &HeaderMap, config: &JwtConfig) -> Result<String, JwtError> {
    let name = &config.header_name;
    let kind = &config.header_type;
    let raw = header_str(headers, name).unwrap_or_default();
    let value = raw.trim().trim_matches(',');
    if value.is_empty() {
        return Err(JwtError::NoAuthorization(format!("Missing {name} Header")));
    }
    if kind.is_empty() {
        let mut parts = value.split_whitespace();
        return match (parts.next(), parts.next()) {
            (Some(token), None) => Ok(token.to_owned()),
            _ => Err(JwtError::InvalidHeader(format!(
                "Bad {name} header. Expected '{name}: <JWT>'"
            ))),
        };
    }
    let mut matching =
        split_commas(value).filter(|entry| entry.split_whitespace().next() == Some(kind.as_str()));
    let (Some(entry), None) = (matching.next(), matching.next()) else {
        return Err(JwtError::NoAuthorization(format!(
            "Missing '{kind}' type in '{name}' header. Expected '{name}: {kind} <JWT>'"
        )));
    };
    let mut words = entry.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(_), Some(token), None) => Ok(token.to_owned()),
        _ => Err(JwtError::InvalidHeader(format!(
            "Bad {name} header. Expected '{name}: {kind} <JWT>'"
        ))),
    }
}

/// Python's `re.split(r",\s*", value)`.
fn split_commas(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .enumerate()
        .map(|(i, s)| if i == 0 { s } else { s.trim_start() })
}

/// The JWT cookie, and for unsafe methods the CSRF value from the header (or form field).
fn from_cookies(
    parts: &Parts,
    config: &JwtConfig,
    refresh: bool,
) -> Result<(String, Option<String>), JwtError> {
    let (cookie_name, header_name, field_name) = if refresh {
        (
            &config.refresh_cookie_name,
            &config.refresh_csrf_header_name,
            &config.refresh_csrf_field_name,
        )
    } else {
        (
            &config.access_cookie_name,
            &config.access_csrf_header_name,
            &config.access_csrf_field_name,
        )
    };
    let token = cookie(&parts.headers, cookie_name)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| JwtError::NoAuthorization(format!("Missing cookie \"{cookie_name}\"")))?;
    if !config.csrf_protect || !config.csrf_methods.contains(&parts.method) {
        return Ok((token, None));
    }
    let mut csrf = header_str(&parts.headers, header_name)
        .filter(|v| !v.is_empty())
        .map(Cow::into_owned);
    if csrf.is_none() && config.csrf_check_form {
        csrf = parts
            .extensions
            .get::<TokenBody>()
            .and_then(|b| b.form_field(field_name));
    }
    match csrf {
        Some(value) => Ok((token, Some(value))),
        None => Err(JwtError::Csrf("Missing CSRF token".into())),
    }
}

/// A cookie's value, Werkzeug-style: the first of duplicates wins, double quotes are removed.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(v)
                .to_owned()
        })
}

/// `?jwt=<prefix><JWT>`; the first of duplicate parameters wins.
fn from_query(parts: &Parts, config: &JwtConfig) -> Result<String, JwtError> {
    let name = &config.query_string_name;
    let prefix = &config.query_string_value_prefix;
    let value = parts
        .uri
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name.as_str()))
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| JwtError::NoAuthorization(format!("Missing '{name}' query paramater")))?;
    value.strip_prefix(prefix.as_str()).map(str::to_owned).ok_or_else(|| {
        JwtError::InvalidQueryParam(format!(
            "Invalid value for query parameter '{name}'. Expected the value to start with '{prefix}'"
        ))
    })
}

/// `{"access_token": "<JWT>"}` in a JSON body (read by [`read_token_body`](crate::read_token_body)).
fn from_json(parts: &Parts, config: &JwtConfig, refresh: bool) -> Result<String, JwtError> {
    if !is_json(&parts.headers) {
        return Err(JwtError::NoAuthorization(
            "Invalid content-type. Must be application/json.".into(),
        ));
    }
    let key = if refresh {
        &config.refresh_json_key
    } else {
        &config.json_key
    };
    let missing = || JwtError::NoAuthorization(format!("Missing \"{key}\" key in json data."));
    let body = parts.extensions.get::<TokenBody>().ok_or_else(|| {
        JwtError::Internal("the json token location needs the `read_token_body` middleware".into())
    })?;
    match body.json_value(key) {
        // Flask's `if not encoded_token`: every falsy value counts as missing.
        None => Err(missing()),
        Some(value) if is_falsy(value) => Err(missing()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(JwtError::invalid(format!(
            "Invalid \"{key}\" in json data: expected a string"
        ))),
    }
}

/// Python's truth value of a JSON value: `None`, `False`, `0`, `""`, `[]` and `{}` are false.
fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderValue, Request};

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(value).expect("ascii"),
        );
        h
    }

    fn auth(value: &str) -> Result<String, String> {
        from_headers(&headers(value), &JwtConfig::default())
            .map_err(|e| format!("{} {e}", e.status().as_u16()))
    }

    #[test]
    fn authorization_header_rules_match_flask() {
        assert_eq!(auth("Bearer abc"), Ok("abc".into()));
        assert_eq!(auth("Basic c, Bearer abc"), Ok("abc".into()));
        assert_eq!(auth("Bearer abc,   "), Ok("abc".into()));
        let missing_type = "401 Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'";
        assert_eq!(auth("Basic abc").unwrap_err(), missing_type);
        assert_eq!(auth("bearer abc").unwrap_err(), missing_type);
        assert_eq!(auth("Bearer a, Bearer b").unwrap_err(), missing_type);
        let bad = "422 Bad Authorization header. Expected 'Authorization: Bearer <JWT>'";
        assert_eq!(auth("Bearer ").unwrap_err(), bad);
        assert_eq!(auth("Bearer a b").unwrap_err(), bad);
        assert_eq!(auth("Bearer ,,0").unwrap_err(), bad);
        assert_eq!(auth(", ,Bearer x"), Ok("x".into()));
        assert_eq!(auth("  ").unwrap_err(), "401 Missing Authorization Header");
    }

    #[test]
    fn empty_header_type_takes_the_raw_token() {
        let config = JwtConfig::default().with_header_type("");
        assert_eq!(
            from_headers(&headers("abc"), &config).ok(),
            Some("abc".into())
        );
        let err = from_headers(&headers("Bearer abc"), &config)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Bad Authorization header. Expected 'Authorization: <JWT>'"
        );
    }

    #[test]
    fn cookies_first_duplicate_wins_and_quotes_are_removed() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            HeaderValue::from_static("a=1; b=\"two\"; a=3"),
        );
        assert_eq!(cookie(&h, "a").as_deref(), Some("1"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("two"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn aggregate_missing_message() {
        let (parts, ()) = Request::get("/").body(()).expect("request").into_parts();
        let config = JwtConfig::default();
        let all = [
            TokenLocation::Headers,
            TokenLocation::Cookies,
            TokenLocation::QueryString,
            TokenLocation::Json,
        ];
        let err = find_token(&parts, &config, &all, false)
            .expect_err("missing")
            .0;
        assert_eq!(
            err.to_string(),
            "Missing JWT in headers, cookies, query_string or json (Missing Authorization Header; Missing cookie \"access_token_cookie\"; Missing 'jwt' query paramater; Invalid content-type. Must be application/json.)"
        );
    }

    #[test]
    fn falsy_json_token_values_count_as_missing_like_flask() {
        use serde_json::json;
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(is_falsy(&falsy), "{falsy}");
        }
        for truthy in [
            json!(true),
            json!(1),
            json!(-0.5),
            json!("t"),
            json!([0]),
            json!({"a": 0}),
        ] {
            assert!(!is_falsy(&truthy), "{truthy}");
        }
    }

    #[test]
    fn query_prefix_rules() {
        let config = JwtConfig::default().with_query_string_value_prefix("bearer ");
        let parts = |uri: &str| Request::get(uri).body(()).expect("request").into_parts().0;
        assert_eq!(
            from_query(&parts("/?jwt=bearer+abc&jwt=x"), &config).ok(),
            Some("abc".into())
        );
        let err = from_query(&parts("/?jwt=abc"), &config).unwrap_err();
        assert_eq!(err.status().as_u16(), 422);
        assert_eq!(
            from_query(&parts("/?jwt=bearer+"), &config).ok(),
            Some(String::new())
        );
        assert_eq!(
            from_query(&parts("/?x=1"), &config)
                .unwrap_err()
                .to_string(),
            "Missing 'jwt' query paramater"
        );
    }
}

//! Test helpers: a logged-in client in one line, with the tokens a test needs (extra claims,
//! expired, fresh or not, a login family) and a cookie jar that follows `Set-Cookie` the way a
//! browser does, so that a test drives login, refresh and logout as the SPA would.
//!
//! ```
//! use axum::{Router, body::Body, http::Request, routing::post};
//! use jwt_extended::{Jwt, JwtConfig, JwtManager, TokenLocation, testing::TestSession};
//! use tower::ServiceExt;
//!
//! # tokio_test_block(async {
//! let jwt = JwtManager::new(JwtConfig::default().with_secret_key("k").with_token_location([TokenLocation::Cookies]))?;
//! let app = Router::new().route("/memos", post(|_: Jwt| async { "created" })).with_state(jwt.clone());
//!
//! let session = TestSession::new(&jwt, "alice")?;
//! let response = app.clone().oneshot(session.with_cookies(Request::post("/memos")).body(Body::empty())?).await?;
//! assert_eq!(response.status(), 200);
//!
//! let expired = TestSession::builder(&jwt, "alice").expired().build()?;
//! let response = app.oneshot(expired.with_cookies(Request::post("/memos")).body(Body::empty())?).await?;
//! assert_eq!(response.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # });
//! # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, header, request::Builder};
use serde::Serialize;
use serde_json::Value;

use crate::{
    claims::{Fresh, JsonObject},
    config::JwtConfig,
    manager::JwtManager,
    rejection::JwtError,
    tokens::{TokenBuilder, TokenError},
};

/// A cookie the jar holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JarCookie {
    name: String,
    value: String,
    path: String,
}

/// The names a session's requests use, from the manager's config.
#[derive(Debug, Clone)]
struct Names {
    access_cookie: String,
    refresh_cookie: String,
    access_csrf_cookie: String,
    refresh_csrf_cookie: String,
    access_csrf_header: String,
    refresh_csrf_header: String,
    header_name: String,
    header_type: String,
}

impl Names {
    fn of(c: &JwtConfig) -> Self {
        Self {
            access_cookie: c.access_cookie_name.clone(),
            refresh_cookie: c.refresh_cookie_name.clone(),
            access_csrf_cookie: c.access_csrf_cookie_name.clone(),
            refresh_csrf_cookie: c.refresh_csrf_cookie_name.clone(),
            access_csrf_header: c.access_csrf_header_name.clone(),
            refresh_csrf_header: c.refresh_csrf_header_name.clone(),
            header_name: c.header_name.clone(),
            header_type: c.header_type.clone(),
        }
    }
}

/// A logged-in client: its cookie jar (the four cookies a login sets, then whatever responses
/// set or clear through [`follow`](Self::follow)), and the tokens in it.
#[derive(Debug, Clone)]
pub struct TestSession {
    jar: Vec<JarCookie>,
    names: Names,
}

impl TestSession {
    /// A session for `identity` with plain tokens (no login family): what
    /// `create_access_token` and `create_refresh_token` mint, set as cookies.
    ///
    /// # Errors
    /// [`TokenError`] when the identity does not serialize or signing fails.
    pub fn new(jwt: &JwtManager, identity: impl Serialize) -> Result<Self, TokenError> {
        Self::builder(jwt, identity).build()
    }

    /// A session with chosen tokens: extra claims, expired, fresh or not, or a login family.
    pub fn builder(jwt: &JwtManager, identity: impl Serialize) -> TestSessionBuilder<'_> {
        TestSessionBuilder {
            jwt,
            identity: serde_json::to_value(identity),
            claims: JsonObject::new(),
            fresh: None,
            access_seconds: None,
        }
    }

    fn empty(jwt: &JwtManager) -> Self {
        Self {
            jar: Vec::new(),
            names: Names::of(jwt.config()),
        }
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.value.as_str())
    }

    /// The access token in the jar.
    pub fn access_token(&self) -> Option<&str> {
        self.cookie(&self.names.access_cookie)
    }

    /// The refresh token in the jar.
    pub fn refresh_token(&self) -> Option<&str> {
        self.cookie(&self.names.refresh_cookie)
    }

    /// The access CSRF cookie's value (what the SPA copies into `X-CSRF-TOKEN`).
    pub fn access_csrf(&self) -> Option<&str> {
        self.cookie(&self.names.access_csrf_cookie)
    }

    /// The refresh CSRF cookie's value.
    pub fn refresh_csrf(&self) -> Option<&str> {
        self.cookie(&self.names.refresh_csrf_cookie)
    }

    /// Applies a response's `Set-Cookie` lines to the jar, as a browser does: a cookie is set
    /// (with its `Path`) or, when it expires in the past or has `Max-Age=0`, removed.
    pub fn follow(&mut self, response_headers: &HeaderMap) {
        for line in response_headers.get_all(header::SET_COOKIE) {
            if let Ok(line) = line.to_str() {
                self.apply(line);
            }
        }
    }

    fn apply(&mut self, line: &str) {
        let mut attributes = line.split(';').map(str::trim);
        let Some((name, value)) = attributes.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (mut path, mut gone) = ("/".to_owned(), false);
        for attribute in attributes {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.to_ascii_lowercase().as_str() {
                "path" => path = val.to_owned(),
                "max-age" => gone |= val.trim().parse::<i64>().is_ok_and(|s| s <= 0),
                "expires" => {
                    gone |= httpdate::parse_http_date(val).is_ok_and(|t| t <= SystemTime::now());
                }
                _ => {}
            }
        }
        self.jar.retain(|c| !(c.name == name && c.path == path));
        if !gone {
            self.jar.push(JarCookie {
                name: name.to_owned(),
                value: value.to_owned(),
                path,
            });
        }
    }

    /// The `Cookie` header a browser sends to `path`: every cookie whose `Path` matches.
    pub fn cookie_header(&self, path: &str) -> Option<HeaderValue> {
        let pairs: Vec<String> = self
            .jar
            .iter()
            .filter(|c| path_matches(path, &c.path))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| header(pairs.join("; ")))
    }

    fn with_jar(&self, request: Builder, csrf_header: &str, csrf: Option<&str>) -> Builder {
        let path = request
            .uri_ref()
            .map_or_else(|| "/".to_owned(), |uri| uri.path().to_owned());
        let mut request = match self.cookie_header(&path) {
            Some(cookies) => request.header(header::COOKIE, cookies),
            None => request,
        };
        if let Some(csrf) = csrf {
            request = request.header(csrf_header, header(csrf));
        }
        request
    }

    /// Adds the cookies the jar holds for the request's path and `X-CSRF-TOKEN` with the access
    /// CSRF cookie's value: what the SPA sends. Call after setting the URI.
    pub fn with_cookies(&self, request: Builder) -> Builder {
        self.with_jar(request, &self.names.access_csrf_header, self.access_csrf())
    }

    /// Adds the cookies for the request's path and the refresh CSRF header with the refresh
    /// CSRF cookie's value (a `POST /refresh`).
    pub fn with_refresh_cookies(&self, request: Builder) -> Builder {
        self.with_jar(
            request,
            &self.names.refresh_csrf_header,
            self.refresh_csrf(),
        )
    }

    /// Adds the cookies for the request's path and no CSRF header (a forged cross-site request).
    pub fn with_cookies_only(&self, request: Builder) -> Builder {
        self.with_jar(request, "", None)
    }

    /// Adds `Authorization: Bearer <access token>`.
    pub fn with_bearer(&self, request: Builder) -> Builder {
        let token = self.access_token().unwrap_or_default();
        let value = if self.names.header_type.is_empty() {
            token.to_owned()
        } else {
            format!("{} {token}", self.names.header_type)
        };
        request.header(&self.names.header_name, header(value))
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// A [`TestSession`] being set up; made by [`TestSession::builder`].
#[derive(Debug)]
#[must_use = "call .build() or .login() to get the session"]
pub struct TestSessionBuilder<'m> {
    jwt: &'m JwtManager,
    identity: Result<Value, serde_json::Error>,
    claims: JsonObject,
    fresh: Option<Fresh>,
    access_seconds: Option<i64>,
}

impl TestSessionBuilder<'_> {
    /// A claim in both tokens.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Claims in both tokens.
    pub fn claims(mut self, claims: JsonObject) -> Self {
        self.claims.extend(claims);
        self
    }

    /// A fresh (`fresh: true`) or non-fresh access token.
    pub fn fresh(mut self, fresh: bool) -> Self {
        self.fresh = Some(Fresh::Bool(fresh));
        self
    }

    /// An access token fresh until this timestamp (seconds; in the past: not fresh).
    pub fn fresh_until(mut self, timestamp: f64) -> Self {
        self.fresh = Some(Fresh::Until(timestamp));
        self
    }

    /// An access token that expired a minute ago (Flask's `expires_delta=timedelta(seconds=-60)`).
    pub fn expired(self) -> Self {
        self.access_expires_in_seconds(-60)
    }

    /// The access token's `exp` this many seconds from now (negative: already expired).
    pub fn access_expires_in_seconds(mut self, seconds: i64) -> Self {
        self.access_seconds = Some(seconds);
        self
    }

    fn access(&self, identity: &Value) -> TokenBuilder<'_> {
        let mut access = self
            .jwt
            .access_token(identity)
            .additional_claims(self.claims.clone());
        access = match self.fresh {
            Some(Fresh::Bool(fresh)) => access.fresh(fresh),
            Some(Fresh::Until(until)) => access.fresh_until(until),
            None => access,
        };
        match self.access_seconds {
            Some(seconds) => access.expires_in_seconds(seconds),
            None => access,
        }
    }

    /// The session with plain tokens (no login family), their cookies in the jar.
    ///
    /// # Errors
    /// [`TokenError`] when the identity does not serialize or signing fails.
    pub fn build(mut self) -> Result<TestSession, TokenError> {
        let identity = std::mem::replace(&mut self.identity, Ok(Value::Null))?;
        let access = self.access(&identity).mint()?;
        let refresh = self
            .jwt
            .refresh_token(&identity)
            .additional_claims(self.claims.clone())
            .mint()?;
        let mut session = TestSession::empty(self.jwt);
        let cookies = self
            .jwt
            .cookies_for(&access)
            .and(self.jwt.cookies_for(&refresh));
        let mut headers = HeaderMap::new();
        for value in cookies.header_values() {
            headers.append(header::SET_COOKIE, value.clone());
        }
        session.follow(&headers);
        Ok(session)
    }

    /// The session of a real login ([`JwtManager::login`]): a fresh access token and a refresh
    /// token of a new login family, recorded in the manager's session store. `fresh` and the
    /// access lifetime do not apply.
    ///
    /// # Errors
    /// The login's [`JwtError`] (no session store, the store down).
    pub async fn login(self, user_agent: Option<&str>) -> Result<TestSession, JwtError> {
        let identity = self
            .identity
            .map_err(|e| JwtError::Internal(e.to_string()))?;
        let tokens = self
            .jwt
            .login(identity, self.claims, user_agent.map(str::to_owned))
            .await?;
        let mut session = TestSession::empty(self.jwt);
        let mut headers = HeaderMap::new();
        for value in tokens.cookies().header_values() {
            headers.append(header::SET_COOKIE, value.clone());
        }
        session.follow(&headers);
        Ok(session)
    }
}

/// JWTs, UUIDs and cookie names are ASCII, so this cannot fail on what a session holds.
fn header(value: impl AsRef<str>) -> HeaderValue {
    HeaderValue::from_str(value.as_ref()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jar_follows_set_cookie_and_paths() {
        let jwt = JwtManager::new(
            JwtConfig::default()
                .with_secret_key("k")
                .with_refresh_cookie_path("/auth"),
        )
        .expect("config");
        let mut session = TestSession::new(&jwt, "alice").expect("session");
        assert!(session.access_token().is_some() && session.refresh_token().is_some());
        let to = |p: &str| {
            session
                .cookie_header(p)
                .map(|v| v.to_str().unwrap_or_default().to_owned())
                .unwrap_or_default()
        };
        assert!(!to("/memos").contains("refresh_token_cookie"));
        assert!(to("/auth/refresh").contains("refresh_token_cookie"));
        assert!(!to("/authx").contains("refresh_token_cookie"));
        let mut headers = HeaderMap::new();
        for value in jwt.unset_jwt_cookies().header_values() {
            headers.append(header::SET_COOKIE, value.clone());
        }
        session.follow(&headers);
        assert_eq!(session.access_token(), None);
        // The refresh cookie was cleared at its own path.
        assert_eq!(session.refresh_token(), None);
    }
}

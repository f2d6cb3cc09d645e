//! Setting and clearing the JWT and CSRF cookies, with Werkzeug's exact `Set-Cookie` text:
//! `name=value; Domain=..; Expires=..; Max-Age=..; Secure; HttpOnly; Path=..; SameSite=..`.
//!
//! The JWT cookies are HttpOnly (JavaScript cannot steal them); the CSRF cookies are not, so
//! the SPA can copy their value into `X-CSRF-TOKEN`.

use std::{
    fmt::Write as _,
    time::{Duration, SystemTime},
};

use axum::{
    body::Bytes,
    response::{IntoResponse, IntoResponseParts, Response, ResponseParts},
};
use http::{HeaderValue, header::SET_COOKIE};

use crate::{manager::JwtManager, rejection::JwtError, tokens::MintedToken};

/// Flask's hard-coded `Max-Age` of non-session cookies (about one year).
const PERSISTENT_MAX_AGE: u64 = 31_540_000;

/// `Set-Cookie` headers to add to a response. Return it from a handler, alone or in a tuple:
///
/// ```
/// # use jwt_extended::{JwtConfig, JwtManager, AuthCookies};
/// # fn login(jwt: &JwtManager) -> Result<(AuthCookies, &'static str), Box<dyn std::error::Error>> {
/// let access = jwt.access_token("alice").mint()?;
/// let refresh = jwt.refresh_token("alice").mint()?;
/// let cookies = jwt.cookies_for(&access).and(jwt.cookies_for(&refresh));
/// Ok((cookies, "logged in"))
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "cookies are only set when returned as part of a response"]
pub struct AuthCookies {
    headers: Vec<HeaderValue>,
}

impl AuthCookies {
    /// No cookies.
    pub fn new() -> Self {
        Self::default()
    }

    /// These cookies followed by `other`'s.
    pub fn and(mut self, other: Self) -> Self {
        self.headers.extend(other.headers);
        self
    }

    /// The `Set-Cookie` values, in order.
    pub fn header_values(&self) -> &[HeaderValue] {
        &self.headers
    }

    /// Adds a line. Names, paths and the domain are checked when the manager is built and tokens
    /// are base64url, so only a claim the app overrode with control characters could make an
    /// invalid header; that cookie is then left out, and the mistake logged.
    fn push(&mut self, line: String) {
        // From `Bytes`, the header takes the line's buffer as it is; from a `&str` it copied it.
        match HeaderValue::from_maybe_shared(Bytes::from(line)) {
            Ok(value) => self.headers.push(value),
            Err(_) => tracing::error!("a cookie line is not a valid header value; cookie left out"),
        }
    }
}

impl IntoResponseParts for AuthCookies {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        for value in self.headers {
            res.headers_mut().append(SET_COOKIE, value);
        }
        Ok(res)
    }
}

impl IntoResponse for AuthCookies {
    fn into_response(self) -> Response {
        (self, ()).into_response()
    }
}

/// Per-call overrides of `set_*_cookies` and `unset_*_cookies` (`max_age=`, `domain=`).
#[derive(Debug, Clone, Default)]
pub struct CookieOptions {
    /// `Max-Age` instead of the config's; `None` or zero falls back to the config, as in Flask.
    pub max_age: Option<Duration>,
    /// `Domain` instead of the config's.
    pub domain: Option<String>,
}

struct CookieSpec<'a> {
    name: &'a str,
    value: &'a str,
    path: &'a str,
    http_only: bool,
    lifetime: &'a Lifetime,
}

/// How long a cookie lives, as its `Expires` and `Max-Age` say.
enum Lifetime {
    /// Neither: a session cookie.
    Session,
    /// `Expires` at the epoch and no `Max-Age`: unset.
    Cleared,
    /// `Expires=<now + max_age>; Max-Age=<max_age>`, the date written once for a token's pair.
    For { max_age: u64, expires: String },
}

impl Lifetime {
    fn new(max_age: Option<u64>) -> Self {
        max_age.map_or(Self::Session, |max_age| Self::For {
            max_age,
            expires: httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(max_age)),
        })
    }
}

impl JwtManager {
    /// The `Set-Cookie` line, in one buffer sized for it (a token's line is some 600 bytes:
    /// `format!` grew its buffer several times over).
    fn cookie_line(&self, spec: &CookieSpec<'_>, options: &CookieOptions) -> String {
        let config = &self.inner.config;
        let domain = options
            .domain
            .as_deref()
            .or(config.cookie_domain.as_deref())
            .map(|domain| domain.trim_start_matches('.'));
        let mut line = String::with_capacity(
            spec.name.len() + spec.value.len() + spec.path.len() + domain.map_or(0, str::len) + 160,
        );
        line.push_str(spec.name);
        line.push('=');
        line.push_str(spec.value);
        if let Some(domain) = domain {
            line.push_str("; Domain=");
            line.push_str(domain);
        }
        match spec.lifetime {
            Lifetime::Session => {}
            Lifetime::Cleared => line.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
            Lifetime::For { max_age, expires } => {
                // Into a buffer already sized: `write!` grows nothing here.
                let _ = write!(line, "; Expires={expires}; Max-Age={max_age}");
            }
        }
        if config.cookie_secure {
            line.push_str("; Secure");
        }
        if spec.http_only {
            line.push_str("; HttpOnly");
        }
        line.push_str("; Path=");
        line.push_str(spec.path);
        if let Some(same_site) = config.cookie_samesite {
            line.push_str("; SameSite=");
            line.push_str(same_site.as_str());
        }
        line
    }

    fn max_age(&self, options: &CookieOptions) -> Option<u64> {
        let configured = (!self.inner.config.session_cookie).then_some(PERSISTENT_MAX_AGE);
        options
            .max_age
            .map(|d| d.as_secs())
            .filter(|s| *s > 0)
            .or(configured)
    }

    fn token_cookies(
        &self,
        token: &str,
        csrf: Option<&str>,
        refresh: bool,
        options: &CookieOptions,
    ) -> AuthCookies {
        let c = &self.inner.config;
        let (name, path, csrf_name, csrf_path) = if refresh {
            (
                &c.refresh_cookie_name,
                &c.refresh_cookie_path,
                &c.refresh_csrf_cookie_name,
                &c.refresh_csrf_cookie_path,
            )
        } else {
            (
                &c.access_cookie_name,
                &c.access_cookie_path,
                &c.access_csrf_cookie_name,
                &c.access_csrf_cookie_path,
            )
        };
        let lifetime = Lifetime::new(self.max_age(options));
        let mut cookies = AuthCookies::new();
        let spec = CookieSpec {
            name,
            value: token,
            path,
            http_only: true,
            lifetime: &lifetime,
        };
        cookies.push(self.cookie_line(&spec, options));
        if c.csrf_protect && c.csrf_in_cookies {
            let spec = CookieSpec {
                name: csrf_name,
                value: csrf.unwrap_or_default(),
                path: csrf_path,
                http_only: false,
                lifetime: &lifetime,
            };
            cookies.push(self.cookie_line(&spec, options));
        }
        cookies
    }

    /// Cookies for a raw token: its CSRF value is read from it, after verifying it, as Flask does.
    fn raw_token_cookies(
        &self,
        token: &str,
        refresh: bool,
        options: &CookieOptions,
    ) -> Result<AuthCookies, JwtError> {
        let csrf = self.get_csrf_token(token)?;
        Ok(self.token_cookies(token, csrf.as_deref(), refresh, options))
    }

    fn clear_cookies(&self, refresh: bool, options: &CookieOptions) -> AuthCookies {
        let c = &self.inner.config;
        let (name, path, csrf_name, csrf_path) = if refresh {
            (
                &c.refresh_cookie_name,
                &c.refresh_cookie_path,
                &c.refresh_csrf_cookie_name,
                &c.refresh_csrf_cookie_path,
            )
        } else {
            (
                &c.access_cookie_name,
                &c.access_cookie_path,
                &c.access_csrf_cookie_name,
                &c.access_csrf_cookie_path,
            )
        };
        let mut cookies = AuthCookies::new();
        let specs = [(name, path, true), (csrf_name, csrf_path, false)];
        let wanted = if c.csrf_protect && c.csrf_in_cookies {
            2
        } else {
            1
        };
        for (name, path, http_only) in specs.into_iter().take(wanted) {
            let spec = CookieSpec {
                name,
                value: "",
                path,
                http_only,
                lifetime: &Lifetime::Cleared,
            };
            cookies.push(self.cookie_line(&spec, options));
        }
        cookies
    }

    /// The cookies of a token this manager just minted (`set_access_cookies` or
    /// `set_refresh_cookies`, by the token's type), without decoding it again: the HttpOnly
    /// token cookie and the CSRF cookie holding its `csrf` claim.
    pub fn cookies_for(&self, token: &MintedToken) -> AuthCookies {
        self.cookies_for_with(token, &CookieOptions::default())
    }

    /// [`cookies_for`](Self::cookies_for) with `max_age=` and `domain=`.
    pub fn cookies_for_with(&self, token: &MintedToken, options: &CookieOptions) -> AuthCookies {
        self.token_cookies(token.as_str(), token.csrf(), token.is_refresh(), options)
    }

    /// Flask's `set_access_cookies(response, token)` for a token given as text: the HttpOnly
    /// access cookie and the CSRF cookie holding the token's `csrf` claim.
    ///
    /// # Errors
    /// The token does not verify (the CSRF value is read from it, as Flask does). A token just
    /// minted needs no check: use [`cookies_for`](Self::cookies_for).
    pub fn set_access_cookies(&self, token: &str) -> Result<AuthCookies, JwtError> {
        self.raw_token_cookies(token, false, &CookieOptions::default())
    }

    /// Flask's `set_refresh_cookies(response, token)`.
    ///
    /// # Errors
    /// The token does not verify.
    pub fn set_refresh_cookies(&self, token: &str) -> Result<AuthCookies, JwtError> {
        self.raw_token_cookies(token, true, &CookieOptions::default())
    }

    /// `set_access_cookies(response, token, max_age=, domain=)`.
    ///
    /// # Errors
    /// The token does not verify.
    pub fn set_access_cookies_with(
        &self,
        token: &str,
        options: &CookieOptions,
    ) -> Result<AuthCookies, JwtError> {
        self.raw_token_cookies(token, false, options)
    }

    /// `set_refresh_cookies(response, token, max_age=, domain=)`.
    ///
    /// # Errors
    /// The token does not verify.
    pub fn set_refresh_cookies_with(
        &self,
        token: &str,
        options: &CookieOptions,
    ) -> Result<AuthCookies, JwtError> {
        self.raw_token_cookies(token, true, options)
    }

    /// Flask's `unset_access_cookies`: expires the access and access-CSRF cookies.
    pub fn unset_access_cookies(&self) -> AuthCookies {
        self.clear_cookies(false, &CookieOptions::default())
    }

    /// `unset_access_cookies(response, domain=)`.
    pub fn unset_access_cookies_with(&self, options: &CookieOptions) -> AuthCookies {
        self.clear_cookies(false, options)
    }

    /// Flask's `unset_refresh_cookies`.
    pub fn unset_refresh_cookies(&self) -> AuthCookies {
        self.clear_cookies(true, &CookieOptions::default())
    }

    /// `unset_refresh_cookies(response, domain=)`.
    pub fn unset_refresh_cookies_with(&self, options: &CookieOptions) -> AuthCookies {
        self.clear_cookies(true, options)
    }

    /// Flask's `unset_jwt_cookies`: all four cookies.
    pub fn unset_jwt_cookies(&self) -> AuthCookies {
        self.unset_jwt_cookies_with(&CookieOptions::default())
    }

    /// `unset_jwt_cookies(response, domain=)`.
    pub fn unset_jwt_cookies_with(&self, options: &CookieOptions) -> AuthCookies {
        self.clear_cookies(false, options)
            .and(self.clear_cookies(true, options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JwtConfig, SameSite};

    fn lines(c: &AuthCookies) -> Vec<String> {
        c.header_values()
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn default_cookies_are_werkzeugs() {
        let jwt = JwtManager::new(JwtConfig::default().with_secret_key("k")).expect("config");
        let token = jwt.create_access_token("u").expect("token");
        let csrf = jwt
            .get_csrf_token(&token)
            .expect("decodes")
            .unwrap_or_default();
        let set = lines(&jwt.set_access_cookies(&token).expect("cookies"));
        assert_eq!(
            set,
            [
                format!("access_token_cookie={token}; HttpOnly; Path=/"),
                format!("csrf_access_token={csrf}; Path=/")
            ]
        );
        let unset = lines(&jwt.unset_jwt_cookies());
        assert_eq!(unset.len(), 4);
        assert_eq!(
            unset[0],
            "access_token_cookie=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/"
        );
        assert_eq!(
            unset[1],
            "csrf_access_token=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
        );
    }

    #[test]
    fn every_attribute_in_werkzeug_order() {
        let config = JwtConfig::default()
            .with_secret_key("k")
            .with_session_cookie(false)
            .with_cookie_secure(true)
            .with_cookie_samesite(Some(SameSite::None))
            .with_cookie_domain(Some(".ex.com".into()));
        let jwt = JwtManager::new(config).expect("config");
        let token = jwt.create_refresh_token("u").expect("token");
        let set = lines(&jwt.set_refresh_cookies(&token).expect("cookies"));
        let first = &set[0];
        assert!(first.starts_with(&format!(
            "refresh_token_cookie={token}; Domain=ex.com; Expires="
        )));
        assert!(
            first.ends_with("; Max-Age=31540000; Secure; HttpOnly; Path=/; SameSite=None"),
            "{first}"
        );
        assert!(!set[1].contains("HttpOnly"));
    }

    #[test]
    fn a_minted_token_gets_the_same_cookies_as_its_text_without_a_decode() {
        let jwt = JwtManager::new(JwtConfig::default().with_secret_key("k")).expect("config");
        for minted in [
            jwt.access_token("u").mint().expect("token"),
            jwt.refresh_token("u").mint().expect("token"),
        ] {
            let from_text = if minted.is_refresh() {
                jwt.set_refresh_cookies(minted.as_str())
            } else {
                jwt.set_access_cookies(minted.as_str())
            };
            assert_eq!(
                lines(&jwt.cookies_for(&minted)),
                lines(&from_text.expect("verifies"))
            );
        }
    }

    #[test]
    fn unset_cookies_take_a_domain() {
        let jwt = JwtManager::new(JwtConfig::default().with_secret_key("k")).expect("config");
        let options = CookieOptions {
            max_age: None,
            domain: Some(".ex.com".into()),
        };
        for cookies in [
            jwt.unset_access_cookies_with(&options),
            jwt.unset_refresh_cookies_with(&options),
        ] {
            let lines = lines(&cookies);
            assert_eq!(lines.len(), 2);
            assert!(
                lines
                    .iter()
                    .all(|l| l.contains("; Domain=ex.com; Expires=Thu, 01 Jan 1970"))
            );
        }
    }

    #[test]
    fn one_cookie_when_csrf_cookies_are_off_and_max_age_zero_falls_back() {
        let config = JwtConfig::default()
            .with_secret_key("k")
            .with_csrf_in_cookies(false);
        let jwt = JwtManager::new(config).expect("config");
        let token = jwt.create_access_token("u").expect("token");
        let options = CookieOptions {
            max_age: Some(Duration::ZERO),
            domain: Some("a.b".into()),
        };
        let set = lines(
            &jwt.set_access_cookies_with(&token, &options)
                .expect("cookies"),
        );
        assert_eq!(
            set,
            [format!(
                "access_token_cookie={token}; Domain=a.b; HttpOnly; Path=/"
            )]
        );
    }
}

//! `JwtConfig`: every Flask-JWT-Extended option that makes sense in Rust, with the same defaults.
//!
//! The Flask library reads 43 `JWT_*` keys; each has a `with_*` builder method here, and
//! [`JwtConfig::from_env`] reads the same names from the environment. A config is only checked
//! when it is turned into a [`JwtManager`](crate::JwtManager), so a mistake is a typed
//! [`ConfigError`] at start-up instead of a failure while serving a request.

use std::{fmt, str::FromStr, time::Duration};

use http::Method;
pub use jsonwebtoken::Algorithm;

/// Where a token may be found in a request, tried in the configured order.
///
/// Mirrors the strings `"headers"`, `"cookies"`, `"query_string"` and `"json"` of
/// `JWT_TOKEN_LOCATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenLocation {
    /// The `Authorization` header (name and type configurable).
    Headers,
    /// The access or refresh cookie, with the CSRF double-submit check.
    Cookies,
    /// A query-string parameter (`?jwt=...`).
    QueryString,
    /// A key of a JSON request body; needs the [`read_token_body`](crate::read_token_body) middleware.
    Json,
}

impl TokenLocation {
    /// The name Flask-JWT-Extended uses for this location (and in its error messages).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Headers => "headers",
            Self::Cookies => "cookies",
            Self::QueryString => "query_string",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for TokenLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenLocation {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "headers" => Ok(Self::Headers),
            "cookies" => Ok(Self::Cookies),
            "query_string" => Ok(Self::QueryString),
            "json" => Ok(Self::Json),
            _ => Err(ConfigError::UnknownLocation),
        }
    }
}

/// `aud` for new tokens (`JWT_ENCODE_AUDIENCE`): one string, or a list, kept a list even with
/// one element (PyJWT writes what it is given).
///
/// ```
/// use jwt_extended::Audience;
/// assert_eq!(Audience::from("api"), Audience::One("api".into()));
/// assert_eq!(Audience::from(["api"]), Audience::Many(vec!["api".into()]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// `"aud": "api"`.
    One(String),
    /// `"aud": ["api", ...]`.
    Many(Vec<String>),
}

impl Audience {
    /// The claim's value; `None` when empty (Flask writes `aud` only when it is truthy).
    pub(crate) fn to_claim(&self) -> Option<serde_json::Value> {
        match self {
            Self::One(one) if one.is_empty() => None,
            Self::Many(many) if many.is_empty() => None,
            Self::One(one) => Some(one.as_str().into()),
            Self::Many(many) => Some(many.clone().into()),
        }
    }
}

impl From<&str> for Audience {
    fn from(aud: &str) -> Self {
        Self::One(aud.to_owned())
    }
}

impl From<String> for Audience {
    fn from(aud: String) -> Self {
        Self::One(aud)
    }
}

impl<S: Into<String>> From<Vec<S>> for Audience {
    fn from(aud: Vec<S>) -> Self {
        Self::Many(aud.into_iter().map(Into::into).collect())
    }
}

impl<S: Into<String>, const N: usize> From<[S; N]> for Audience {
    fn from(aud: [S; N]) -> Self {
        Self::Many(aud.into_iter().map(Into::into).collect())
    }
}

/// The `SameSite` cookie attribute. `None` in the config (the default) writes no attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`: never sent on cross-site requests.
    Strict,
    /// `SameSite=Lax`: sent on top-level cross-site navigations.
    Lax,
    /// `SameSite=None`: always sent (browsers require `Secure` with it).
    None,
}

impl SameSite {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

impl FromStr for SameSite {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" => Ok(Self::Strict),
            "lax" => Ok(Self::Lax),
            "none" => Ok(Self::None),
            _ => Err(ConfigError::InvalidValue {
                name: "JWT_COOKIE_SAMESITE",
                reason: "must be Strict, Lax or None".into(),
            }),
        }
    }
}

/// A configuration mistake, found when the [`JwtManager`](crate::JwtManager) is built.
///
/// Messages follow Flask-JWT-Extended's `RuntimeError`s where it has one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An HS* algorithm without a secret.
    #[error(
        "JWT_SECRET_KEY or flask SECRET_KEY must be set when using symmetric algorithm \"{0:?}\""
    )]
    MissingSecret(Algorithm),
    /// An asymmetric algorithm without a private key.
    #[error("JWT_PRIVATE_KEY must be set to use asymmetric cryptography algorithm \"{0:?}\"")]
    MissingPrivateKey(Algorithm),
    /// An asymmetric algorithm without a public key.
    #[error("JWT_PUBLIC_KEY must be set to use asymmetric cryptography algorithm \"{0:?}\"")]
    MissingPublicKey(Algorithm),
    /// A PEM key that does not parse for the algorithm.
    #[error("{name} is not a valid key for algorithm \"{algorithm:?}\": {reason}")]
    InvalidKey {
        /// `JWT_PRIVATE_KEY` or `JWT_PUBLIC_KEY`.
        name: &'static str,
        /// The configured algorithm.
        algorithm: Algorithm,
        /// What the key parser said.
        reason: String,
    },
    /// `JWT_TOKEN_LOCATION` is empty.
    #[error(
        "JWT_TOKEN_LOCATION must contain at least one of \"headers\", \"cookies\", \"query_string\", or \"json\""
    )]
    NoLocation,
    /// `JWT_TOKEN_LOCATION` names something else.
    #[error(
        "JWT_TOKEN_LOCATION can only contain \"headers\", \"cookies\", \"query_string\", or \"json\""
    )]
    UnknownLocation,
    /// `JWT_HEADER_NAME` is empty (the Flask message says ACCESS, sic).
    #[error("JWT_ACCESS_HEADER_NAME cannot be empty")]
    EmptyHeaderName,
    /// A name that must be a valid HTTP header name is not.
    #[error("{0} is not a valid HTTP header name")]
    InvalidHeaderName(&'static str),
    /// A cookie named `__Host-...` or `__Secure-...` whose attributes break the prefix's rules,
    /// so browsers would silently refuse to store it.
    #[error("{name}: {reason}")]
    CookiePrefix {
        /// The option naming the cookie, e.g. `JWT_ACCESS_COOKIE_NAME`.
        name: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// An environment variable or option that does not parse.
    #[error("{name}: {reason}")]
    InvalidValue {
        /// The option's `JWT_*` name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

/// The cookie-name prefix that binds a cookie to one origin (see
/// [`JwtConfig::with_host_prefixed_cookies`]).
const HOST_PREFIX: &str = "__Host-";
/// The cookie-name prefix that makes browsers require `Secure`.
const SECURE_PREFIX: &str = "__Secure-";

/// Every option of Flask-JWT-Extended's config, with its defaults.
///
/// Build it with [`JwtConfig::default`] and the `with_*` methods (each documents its default and
/// the `JWT_*` key it mirrors), or read it from the environment with [`JwtConfig::from_env`].
///
/// ```
/// use std::time::Duration;
/// use jwt_extended::{JwtConfig, SameSite, TokenLocation};
///
/// let config = JwtConfig::default()
///     .with_secret_key("a long random secret, at least 32 bytes")
///     .with_token_location([TokenLocation::Cookies])
///     .with_access_token_expires(Some(Duration::from_secs(600)))
///     .with_cookie_samesite(Some(SameSite::Strict));
/// assert_eq!(config.access_cookie_name(), "access_token_cookie");
/// ```
#[derive(Clone)]
pub struct JwtConfig {
    pub(crate) algorithm: Algorithm,
    pub(crate) decode_algorithms: Vec<Algorithm>,
    pub(crate) secret_key: Option<Vec<u8>>,
    pub(crate) private_key: Option<Vec<u8>>,
    pub(crate) public_key: Option<Vec<u8>>,
    pub(crate) access_expires: Option<Duration>,
    pub(crate) refresh_expires: Option<Duration>,
    pub(crate) decode_audience: Option<Vec<String>>,
    pub(crate) encode_audience: Option<Audience>,
    pub(crate) decode_issuer: Option<Vec<String>>,
    pub(crate) encode_issuer: Option<String>,
    pub(crate) leeway: i64,
    pub(crate) encode_nbf: bool,
    pub(crate) verify_sub: bool,
    pub(crate) identity_claim: String,
    pub(crate) error_message_key: String,
    pub(crate) token_location: Vec<TokenLocation>,
    pub(crate) header_name: String,
    pub(crate) header_type: String,
    pub(crate) query_string_name: String,
    pub(crate) query_string_value_prefix: String,
    pub(crate) json_key: String,
    pub(crate) refresh_json_key: String,
    pub(crate) access_cookie_name: String,
    pub(crate) refresh_cookie_name: String,
    pub(crate) access_cookie_path: String,
    pub(crate) refresh_cookie_path: String,
    pub(crate) cookie_domain: Option<String>,
    pub(crate) cookie_secure: bool,
    pub(crate) cookie_samesite: Option<SameSite>,
    pub(crate) session_cookie: bool,
    pub(crate) csrf_protect: bool,
    pub(crate) csrf_methods: Vec<Method>,
    pub(crate) csrf_in_cookies: bool,
    pub(crate) csrf_check_form: bool,
    pub(crate) access_csrf_cookie_name: String,
    pub(crate) refresh_csrf_cookie_name: String,
    pub(crate) access_csrf_cookie_path: String,
    pub(crate) refresh_csrf_cookie_path: String,
    pub(crate) access_csrf_header_name: String,
    pub(crate) refresh_csrf_header_name: String,
    pub(crate) access_csrf_field_name: String,
    pub(crate) refresh_csrf_field_name: String,
}

impl Default for JwtConfig {
    /// Flask-JWT-Extended's defaults (`JWTManager._set_default_configuration_options`), with no
    /// key: set one with [`with_secret_key`](Self::with_secret_key) or the PEM methods.
    fn default() -> Self {
        let s = String::from;
        Self {
            algorithm: Algorithm::HS256,
            decode_algorithms: Vec::new(),
            secret_key: None,
            private_key: None,
            public_key: None,
            access_expires: Some(Duration::from_secs(15 * 60)),
            refresh_expires: Some(Duration::from_secs(30 * 24 * 3600)),
            decode_audience: None,
            encode_audience: None,
            decode_issuer: None,
            encode_issuer: None,
            leeway: 0,
            encode_nbf: true,
            verify_sub: true,
            identity_claim: s("sub"),
            error_message_key: s("msg"),
            token_location: vec![TokenLocation::Headers],
            header_name: s("Authorization"),
            header_type: s("Bearer"),
            query_string_name: s("jwt"),
            query_string_value_prefix: String::new(),
            json_key: s("access_token"),
            refresh_json_key: s("refresh_token"),
            access_cookie_name: s("access_token_cookie"),
            refresh_cookie_name: s("refresh_token_cookie"),
            access_cookie_path: s("/"),
            refresh_cookie_path: s("/"),
            cookie_domain: None,
            cookie_secure: false,
            cookie_samesite: None,
            session_cookie: true,
            csrf_protect: true,
            csrf_methods: vec![Method::POST, Method::PUT, Method::PATCH, Method::DELETE],
            csrf_in_cookies: true,
            csrf_check_form: false,
            access_csrf_cookie_name: s("csrf_access_token"),
            refresh_csrf_cookie_name: s("csrf_refresh_token"),
            access_csrf_cookie_path: s("/"),
            refresh_csrf_cookie_path: s("/"),
            access_csrf_header_name: s("X-CSRF-TOKEN"),
            refresh_csrf_header_name: s("X-CSRF-TOKEN"),
            access_csrf_field_name: s("csrf_token"),
            refresh_csrf_field_name: s("csrf_token"),
        }
    }
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |k: &Option<Vec<u8>>| k.as_ref().map(|_| "[redacted]");
        f.debug_struct("JwtConfig")
            .field("algorithm", &self.algorithm)
            .field("decode_algorithms", &self.decode_algorithms)
            .field("secret_key", &redacted(&self.secret_key))
            .field("private_key", &redacted(&self.private_key))
            .field("public_key", &self.public_key.as_ref().map(|_| "[set]"))
            .field("access_expires", &self.access_expires)
            .field("refresh_expires", &self.refresh_expires)
            .field("token_location", &self.token_location)
            .field("cookie_secure", &self.cookie_secure)
            .field("cookie_samesite", &self.cookie_samesite)
            .field("csrf_protect", &self.csrf_protect)
            .finish_non_exhaustive()
    }
}

macro_rules! string_options {
    ($($(#[$doc:meta])* $with:ident, $get:ident, $field:ident;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $with(mut self, value: impl Into<String>) -> Self {
            self.$field = value.into();
            self
        }

        #[doc = concat!("The value set by [`", stringify!($with), "`](Self::", stringify!($with), ").")]
        pub fn $get(&self) -> &str {
            &self.$field
        }
    )*};
}

macro_rules! bool_options {
    ($($(#[$doc:meta])* $with:ident, $field:ident;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $with(mut self, value: bool) -> Self {
            self.$field = value;
            self
        }
    )*};
}

impl JwtConfig {
    /// `JWT_ALGORITHM`: the signing algorithm. Defaults to `HS256`.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// `JWT_DECODE_ALGORITHMS`: algorithms accepted when decoding. Defaults to `[JWT_ALGORITHM]`;
    /// like Flask, the signing algorithm is always added to the list.
    #[must_use]
    pub fn with_decode_algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Self {
        self.decode_algorithms = algorithms.into_iter().collect();
        self
    }

    /// `JWT_SECRET_KEY`: the HMAC key for HS* algorithms. No default: an HS* config without one
    /// fails to build. Never used for asymmetric algorithms.
    #[must_use]
    pub fn with_secret_key(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secret_key = Some(secret.as_ref().to_vec());
        self
    }

    /// `JWT_PRIVATE_KEY`: PEM private key used to sign with RS*, PS*, ES* or EdDSA.
    #[must_use]
    pub fn with_private_key_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.private_key = Some(pem.as_ref().to_vec());
        self
    }

    /// `JWT_PUBLIC_KEY`: PEM public key used to verify RS*, PS*, ES* or EdDSA tokens.
    #[must_use]
    pub fn with_public_key_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.public_key = Some(pem.as_ref().to_vec());
        self
    }

    /// `JWT_ACCESS_TOKEN_EXPIRES`: lifetime of access tokens; `None` writes no `exp` (Flask's
    /// `False`). Defaults to 15 minutes.
    #[must_use]
    pub fn with_access_token_expires(mut self, lifetime: Option<Duration>) -> Self {
        self.access_expires = lifetime;
        self
    }

    /// `JWT_REFRESH_TOKEN_EXPIRES`: lifetime of refresh tokens; `None` writes no `exp`.
    /// Defaults to 30 days.
    #[must_use]
    pub fn with_refresh_token_expires(mut self, lifetime: Option<Duration>) -> Self {
        self.refresh_expires = lifetime;
        self
    }

    /// `JWT_DECODE_AUDIENCE`: accepted `aud` values. When set, `aud` is required and must match
    /// one of them. Defaults to unset (`aud` not checked).
    #[must_use]
    pub fn with_decode_audience<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        aud: I,
    ) -> Self {
        self.decode_audience = Some(aud.into_iter().map(Into::into).collect());
        self
    }

    /// `JWT_ENCODE_AUDIENCE`: `aud` written into new tokens: a string (`"api"`) or a list
    /// (`["api"]`, a list even with one element). Defaults to unset.
    #[must_use]
    pub fn with_encode_audience(mut self, aud: impl Into<Audience>) -> Self {
        self.encode_audience = Some(aud.into());
        self
    }

    /// `JWT_DECODE_ISSUER`: accepted `iss` values; when set, `iss` is required. Defaults to unset.
    #[must_use]
    pub fn with_decode_issuer<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        iss: I,
    ) -> Self {
        self.decode_issuer = Some(iss.into_iter().map(Into::into).collect());
        self
    }

    /// `JWT_ENCODE_ISSUER`: `iss` written into new tokens. Defaults to unset.
    #[must_use]
    pub fn with_encode_issuer(mut self, iss: impl Into<String>) -> Self {
        self.encode_issuer = Some(iss.into());
        self
    }

    /// `JWT_DECODE_LEEWAY`: seconds of clock skew allowed on `exp`, `nbf` and `iat`. Defaults to
    /// 0. Negative, as PyJWT allows, it makes tokens expire early and refuses those issued less
    /// than that long ago (`The token is not yet valid (iat)`).
    #[must_use]
    pub fn with_leeway(mut self, seconds: i64) -> Self {
        self.leeway = seconds;
        self
    }

    /// `JWT_TOKEN_LOCATION`: where tokens are looked for, in order. Defaults to `[Headers]`.
    #[must_use]
    pub fn with_token_location(
        mut self,
        locations: impl IntoIterator<Item = TokenLocation>,
    ) -> Self {
        self.token_location = locations.into_iter().collect();
        self
    }

    /// `JWT_COOKIE_DOMAIN`: the `Domain` of every cookie (a leading dot is dropped, as Werkzeug
    /// does). Defaults to unset (host-only cookies).
    #[must_use]
    pub fn with_cookie_domain(mut self, domain: Option<String>) -> Self {
        self.cookie_domain = domain.map(|d| d.trim_start_matches('.').to_owned());
        self
    }

    /// Names every cookie (both tokens and both CSRF values) with the `__Host-` prefix and marks
    /// them `Secure`. Not a Flask option.
    ///
    /// Browsers store a `__Host-` cookie only if it is `Secure`, has `Path=/` and no `Domain`, so
    /// no subdomain and no plain-HTTP page can plant or overwrite it: the strongest binding of a
    /// cookie to one origin. For same-origin deployments (the SPA and the API on one host). The
    /// manager refuses to start when a cookie path or the domain breaks those rules.
    ///
    /// ```
    /// use jwt_extended::JwtConfig;
    ///
    /// let config = JwtConfig::default().with_host_prefixed_cookies();
    /// assert_eq!(config.access_cookie_name(), "__Host-access_token_cookie");
    /// assert_eq!(config.access_csrf_cookie_name(), "__Host-csrf_access_token");
    /// assert!(config.cookie_secure());
    /// ```
    #[must_use]
    pub fn with_host_prefixed_cookies(mut self) -> Self {
        for name in [
            &mut self.access_cookie_name,
            &mut self.refresh_cookie_name,
            &mut self.access_csrf_cookie_name,
            &mut self.refresh_csrf_cookie_name,
        ] {
            if !name.starts_with(HOST_PREFIX) {
                name.insert_str(0, HOST_PREFIX);
            }
        }
        self.cookie_secure = true;
        self
    }

    /// `JWT_COOKIE_SAMESITE`: the `SameSite` attribute of every cookie. Defaults to `None`
    /// (no attribute).
    #[must_use]
    pub fn with_cookie_samesite(mut self, same_site: Option<SameSite>) -> Self {
        self.cookie_samesite = same_site;
        self
    }

    /// `JWT_CSRF_METHODS`: methods that need the CSRF double-submit value. Defaults to POST,
    /// PUT, PATCH and DELETE.
    #[must_use]
    pub fn with_csrf_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.csrf_methods = methods.into_iter().collect();
        self
    }

    bool_options! {
        /// `JWT_ENCODE_NBF`: write an `nbf` claim equal to `iat`. Defaults to true.
        with_encode_nbf, encode_nbf;
        /// `JWT_VERIFY_SUB`: a `sub` claim must be a string (422 "Subject must be a string").
        /// Defaults to true.
        with_verify_sub, verify_sub;
        /// `JWT_COOKIE_SECURE`: mark every cookie `Secure`. Defaults to false.
        with_cookie_secure, cookie_secure;
        /// `JWT_SESSION_COOKIE`: true writes session cookies (no `Max-Age`); false writes
        /// `Max-Age=31540000` and `Expires`, as Flask does. Defaults to true.
        with_session_cookie, session_cookie;
        /// `JWT_COOKIE_CSRF_PROTECT`: double-submit CSRF protection, and a `csrf` claim in every
        /// token. Defaults to true.
        with_csrf_protect, csrf_protect;
        /// `JWT_CSRF_IN_COOKIES`: also set the JavaScript-readable CSRF cookies. Defaults to true.
        with_csrf_in_cookies, csrf_in_cookies;
        /// `JWT_CSRF_CHECK_FORM`: fall back to a form field when the CSRF header is absent.
        /// Defaults to false.
        with_csrf_check_form, csrf_check_form;
    }

    string_options! {
        /// `JWT_IDENTITY_CLAIM`: the claim holding the identity. Defaults to `sub`.
        with_identity_claim, identity_claim, identity_claim;
        /// `JWT_ERROR_MESSAGE_KEY`: the key of every error body. Defaults to `msg`.
        with_error_message_key, error_message_key, error_message_key;
        /// `JWT_HEADER_NAME`: the header holding the token. Defaults to `Authorization`.
        with_header_name, header_name, header_name;
        /// `JWT_HEADER_TYPE`: the case-sensitive scheme before the token; empty means the header
        /// is just the token. Defaults to `Bearer`.
        with_header_type, header_type, header_type;
        /// `JWT_QUERY_STRING_NAME`: the query parameter holding the token. Defaults to `jwt`.
        with_query_string_name, query_string_name, query_string_name;
        /// `JWT_QUERY_STRING_VALUE_PREFIX`: required prefix of that value. Defaults to empty.
        with_query_string_value_prefix, query_string_value_prefix, query_string_value_prefix;
        /// `JWT_JSON_KEY`: body key of an access token. Defaults to `access_token`.
        with_json_key, json_key, json_key;
        /// `JWT_REFRESH_JSON_KEY`: body key of a refresh token. Defaults to `refresh_token`.
        with_refresh_json_key, refresh_json_key, refresh_json_key;
        /// `JWT_ACCESS_COOKIE_NAME`. Defaults to `access_token_cookie`.
        with_access_cookie_name, access_cookie_name, access_cookie_name;
        /// `JWT_REFRESH_COOKIE_NAME`. Defaults to `refresh_token_cookie`.
        with_refresh_cookie_name, refresh_cookie_name, refresh_cookie_name;
        /// `JWT_ACCESS_COOKIE_PATH`. Defaults to `/`.
        with_access_cookie_path, access_cookie_path, access_cookie_path;
        /// `JWT_REFRESH_COOKIE_PATH`. Defaults to `/`.
        with_refresh_cookie_path, refresh_cookie_path, refresh_cookie_path;
        /// `JWT_ACCESS_CSRF_COOKIE_NAME`. Defaults to `csrf_access_token`.
        with_access_csrf_cookie_name, access_csrf_cookie_name, access_csrf_cookie_name;
        /// `JWT_REFRESH_CSRF_COOKIE_NAME`. Defaults to `csrf_refresh_token`.
        with_refresh_csrf_cookie_name, refresh_csrf_cookie_name, refresh_csrf_cookie_name;
        /// `JWT_ACCESS_CSRF_COOKIE_PATH`. Defaults to `/`.
        with_access_csrf_cookie_path, access_csrf_cookie_path, access_csrf_cookie_path;
        /// `JWT_REFRESH_CSRF_COOKIE_PATH`. Defaults to `/`.
        with_refresh_csrf_cookie_path, refresh_csrf_cookie_path, refresh_csrf_cookie_path;
        /// `JWT_ACCESS_CSRF_HEADER_NAME`. Defaults to `X-CSRF-TOKEN`.
        with_access_csrf_header_name, access_csrf_header_name, access_csrf_header_name;
        /// `JWT_REFRESH_CSRF_HEADER_NAME`. Defaults to `X-CSRF-TOKEN`.
        with_refresh_csrf_header_name, refresh_csrf_header_name, refresh_csrf_header_name;
        /// `JWT_ACCESS_CSRF_FIELD_NAME`. Defaults to `csrf_token`.
        with_access_csrf_field_name, access_csrf_field_name, access_csrf_field_name;
        /// `JWT_REFRESH_CSRF_FIELD_NAME`. Defaults to `csrf_token`.
        with_refresh_csrf_field_name, refresh_csrf_field_name, refresh_csrf_field_name;
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Where tokens are looked for, in order.
    pub fn token_location(&self) -> &[TokenLocation] {
        &self.token_location
    }

    /// Lifetime of new access tokens (`None`: no `exp`).
    pub fn access_token_expires(&self) -> Option<Duration> {
        self.access_expires
    }

    /// Lifetime of new refresh tokens (`None`: no `exp`).
    pub fn refresh_token_expires(&self) -> Option<Duration> {
        self.refresh_expires
    }

    /// The `SameSite` attribute of the cookies (`None`: no attribute).
    pub fn cookie_samesite(&self) -> Option<SameSite> {
        self.cookie_samesite
    }

    /// The HS* secret, for an app's own rules on it (a minimum length in production, say).
    pub fn secret_key(&self) -> Option<&[u8]> {
        self.secret_key.as_deref()
    }

    /// Whether a PEM private key is set (an app that signs needs one; a resource server does
    /// not).
    pub fn has_private_key(&self) -> bool {
        self.private_key.is_some()
    }

    /// Whether a PEM public key is set.
    pub fn has_public_key(&self) -> bool {
        self.public_key.is_some()
    }

    /// A 32-byte secret for the app's own use, derived from the signing key (the HS* secret,
    /// else the PEM private key) and `context`: HMAC-SHA256 keyed with the key material over a
    /// fixed label and `context`. Every instance that signs with the same key derives the same
    /// secret, a new signing key retires it, and it reveals nothing about the key itself: for
    /// things that must travel with the tokens' key, such as a MAC over opaque page cursors.
    /// Different `context`s give independent secrets. `None` when the config cannot sign (no
    /// secret and no private key, a resource server).
    ///
    /// ```
    /// use jwt_extended::JwtConfig;
    /// let config = JwtConfig::default().with_secret_key("a long random secret");
    /// let cursors = config.derive_secret("my app: page cursors v1").expect("a signing key");
    /// assert_ne!(cursors, config.derive_secret("my app: something else").expect("a signing key"));
    /// assert_eq!(JwtConfig::default().derive_secret("x"), None);
    /// ```
    pub fn derive_secret(&self, context: &str) -> Option<[u8; 32]> {
        use hmac::{Hmac, Mac as _};
        let material = self.secret_key.as_deref().or(self.private_key.as_deref())?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(material).ok()?;
        mac.update(b"jwt-extended derived secret v1\0");
        mac.update(context.as_bytes());
        Some(mac.finalize().into_bytes().into())
    }

    /// Whether cookies are marked `Secure`.
    pub fn cookie_secure(&self) -> bool {
        self.cookie_secure
    }

    /// Whether CSRF double-submit protection is on.
    pub fn csrf_protect(&self) -> bool {
        self.csrf_protect
    }

    /// The algorithms accepted when decoding: the configured list plus the signing algorithm.
    pub fn effective_decode_algorithms(&self) -> Vec<Algorithm> {
        let mut algorithms = self.decode_algorithms.clone();
        if !algorithms.contains(&self.algorithm) {
            algorithms.push(self.algorithm);
        }
        algorithms
    }

    /// Checks what Flask checks lazily, once: locations, header names, keys present.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.token_location.is_empty() {
            return Err(ConfigError::NoLocation);
        }
        if self.header_name.is_empty() {
            return Err(ConfigError::EmptyHeaderName);
        }
        let headers = [
            ("JWT_HEADER_NAME", &self.header_name),
            ("JWT_ACCESS_CSRF_HEADER_NAME", &self.access_csrf_header_name),
            (
                "JWT_REFRESH_CSRF_HEADER_NAME",
                &self.refresh_csrf_header_name,
            ),
        ];
        for (name, value) in headers {
            if http::HeaderName::from_bytes(value.as_bytes()).is_err() {
                return Err(ConfigError::InvalidHeaderName(name));
            }
        }
        self.validate_cookie_attributes()?;
        self.validate_cookie_prefixes()
    }

    /// Cookie names must be RFC 6265 tokens and paths and the domain plain text, so that every
    /// `Set-Cookie` line this config writes is a valid header (setting cookies then cannot fail).
    fn validate_cookie_attributes(&self) -> Result<(), ConfigError> {
        let names = [
            ("JWT_ACCESS_COOKIE_NAME", &self.access_cookie_name),
            ("JWT_REFRESH_COOKIE_NAME", &self.refresh_cookie_name),
            ("JWT_ACCESS_CSRF_COOKIE_NAME", &self.access_csrf_cookie_name),
            (
                "JWT_REFRESH_CSRF_COOKIE_NAME",
                &self.refresh_csrf_cookie_name,
            ),
        ];
        for (name, value) in names {
            let token = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
            if value.is_empty() || !value.chars().all(token) {
                let reason = "must be a cookie name: visible ASCII without separators".into();
                return Err(ConfigError::InvalidValue { name, reason });
            }
        }
        let texts = [
            ("JWT_ACCESS_COOKIE_PATH", Some(&self.access_cookie_path)),
            ("JWT_REFRESH_COOKIE_PATH", Some(&self.refresh_cookie_path)),
            (
                "JWT_ACCESS_CSRF_COOKIE_PATH",
                Some(&self.access_csrf_cookie_path),
            ),
            (
                "JWT_REFRESH_CSRF_COOKIE_PATH",
                Some(&self.refresh_csrf_cookie_path),
            ),
            ("JWT_COOKIE_DOMAIN", self.cookie_domain.as_ref()),
        ];
        for (name, value) in texts {
            if value.is_some_and(|v| !v.chars().all(|c| c.is_ascii_graphic() && c != ';')) {
                let reason = "must be visible ASCII without ';'".into();
                return Err(ConfigError::InvalidValue { name, reason });
            }
        }
        Ok(())
    }

    /// Browsers drop a `__Host-`/`__Secure-` cookie that breaks its prefix's rules without a
    /// word, which would look like a login that does not stick; refuse such a config instead.
    fn validate_cookie_prefixes(&self) -> Result<(), ConfigError> {
        let cookies = [
            (
                "JWT_ACCESS_COOKIE_NAME",
                &self.access_cookie_name,
                &self.access_cookie_path,
            ),
            (
                "JWT_REFRESH_COOKIE_NAME",
                &self.refresh_cookie_name,
                &self.refresh_cookie_path,
            ),
            (
                "JWT_ACCESS_CSRF_COOKIE_NAME",
                &self.access_csrf_cookie_name,
                &self.access_csrf_cookie_path,
            ),
            (
                "JWT_REFRESH_CSRF_COOKIE_NAME",
                &self.refresh_csrf_cookie_name,
                &self.refresh_csrf_cookie_path,
            ),
        ];
        for (name, cookie, path) in cookies {
            let host = cookie.starts_with(HOST_PREFIX);
            if (host || cookie.starts_with(SECURE_PREFIX)) && !self.cookie_secure {
                let reason = "a __Host- or __Secure- cookie needs JWT_COOKIE_SECURE=true";
                return Err(ConfigError::CookiePrefix { name, reason });
            }
            if host && path != "/" {
                let reason = "a __Host- cookie needs its path to be /";
                return Err(ConfigError::CookiePrefix { name, reason });
            }
            if host && self.cookie_domain.is_some() {
                let reason = "a __Host- cookie cannot have JWT_COOKIE_DOMAIN";
                return Err(ConfigError::CookiePrefix { name, reason });
            }
        }
        Ok(())
    }
}

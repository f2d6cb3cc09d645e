//! Test helpers: tokens and ready-made cookie and CSRF headers, so an app tests its protected
//! handlers in one line.
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
//! let response = app.oneshot(session.with_cookies(Request::post("/memos")).body(Body::empty())?).await?;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # });
//! # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use http::{HeaderValue, request::Builder};
use serde::Serialize;

use crate::{manager::JwtManager, tokens::TokenError};

/// A logged-in client: an access and a refresh token for one identity, with their CSRF values.
#[derive(Debug, Clone)]
pub struct TestSession {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The access token's `csrf` claim (the `csrf_access_token` cookie).
    pub access_csrf: String,
    /// The refresh token's `csrf` claim (the `csrf_refresh_token` cookie).
    pub refresh_csrf: String,
    access_cookie: String,
    refresh_cookie: String,
    csrf_header: String,
    refresh_csrf_header: String,
    header_name: String,
    header_type: String,
}

impl TestSession {
    /// Mints both tokens for `identity` with `jwt`'s config and hooks.
    ///
    /// # Errors
    /// [`TokenError`] when the identity does not serialize or signing fails.
    pub fn new(jwt: &JwtManager, identity: impl Serialize) -> Result<Self, TokenError> {
        let identity = serde_json::to_value(identity)?;
        let access_token = jwt.create_access_token(&identity)?;
        let refresh_token = jwt.create_refresh_token(&identity)?;
        let csrf = |t: &str| jwt.get_csrf_token(t).ok().flatten().unwrap_or_default();
        let c = jwt.config();
        Ok(Self {
            access_csrf: csrf(&access_token),
            refresh_csrf: csrf(&refresh_token),
            access_token,
            refresh_token,
            access_cookie: c.access_cookie_name.clone(),
            refresh_cookie: c.refresh_cookie_name.clone(),
            csrf_header: c.access_csrf_header_name.clone(),
            refresh_csrf_header: c.refresh_csrf_header_name.clone(),
            header_name: c.header_name.clone(),
            header_type: c.header_type.clone(),
        })
    }

    /// The `Cookie` header a browser would send after login (access cookie only).
    pub fn cookie_header(&self) -> HeaderValue {
        header(format!("{}={}", self.access_cookie, self.access_token))
    }

    /// Adds the access cookie and the `X-CSRF-TOKEN` header (what the SPA sends).
    pub fn with_cookies(&self, request: Builder) -> Builder {
        request
            .header(http::header::COOKIE, self.cookie_header())
            .header(&self.csrf_header, header(self.access_csrf.clone()))
    }

    /// Adds the refresh cookie and its CSRF header (a `POST /refresh`).
    pub fn with_refresh_cookies(&self, request: Builder) -> Builder {
        request
            .header(
                http::header::COOKIE,
                header(format!("{}={}", self.refresh_cookie, self.refresh_token)),
            )
            .header(&self.refresh_csrf_header, header(self.refresh_csrf.clone()))
    }

    /// Adds `Authorization: Bearer <access token>`.
    pub fn with_bearer(&self, request: Builder) -> Builder {
        let value = if self.header_type.is_empty() {
            self.access_token.clone()
        } else {
            format!("{} {}", self.header_type, self.access_token)
        };
        request.header(&self.header_name, header(value))
    }
}

/// JWTs, UUIDs and cookie names are ASCII, so this cannot fail on what a session holds.
fn header(value: impl AsRef<str>) -> HeaderValue {
    HeaderValue::from_str(value.as_ref()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

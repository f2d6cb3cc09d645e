//! Implicit refresh: Flask-JWT-Extended's documented `after_request` pattern, as a tower layer.
//!
//! When a request carries a valid access cookie that expires within the window, the response
//! gets a new access cookie (and CSRF cookie), so an active user never sees an expiry. The
//! Flask recipe trips on three things users report (#404, #454, #528); this layer does not:
//! - it never refreshes an expired, invalid or revoked token (it checks the revocation store);
//! - it does nothing when the handler set or cleared the access cookie itself (login, logout,
//!   refresh), so nothing is set after a logout;
//! - it only touches successful (2xx) responses.

use std::{
    fmt,
    task::{Context, Poll},
    time::Duration,
};

use axum::response::Response;
use http::{Request, header::SET_COOKIE};
use tower::{Layer, Service};

use crate::{
    claims::{DecodedToken, FAMILY_CLAIM, carried_claims},
    clock::now,
    locations::cookie,
    manager::JwtManager,
    stores::erased::BoxFuture,
};

/// Re-issues the access cookies of requests whose access token expires within `window`.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use jwt_extended::{ImplicitRefreshLayer, JwtConfig, JwtManager};
///
/// let jwt = JwtManager::new(JwtConfig::default().with_secret_key("k"))?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "ok" }))
///     .layer(ImplicitRefreshLayer::new(jwt, Duration::from_secs(5 * 60)));
/// # Ok::<(), jwt_extended::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ImplicitRefreshLayer {
    jwt: JwtManager,
    window: Duration,
}

impl fmt::Debug for ImplicitRefreshLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImplicitRefreshLayer")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl ImplicitRefreshLayer {
    /// Refreshes tokens that expire within `window` (Flask's example uses 30 minutes).
    pub fn new(jwt: JwtManager, window: Duration) -> Self {
        Self { jwt, window }
    }
}

impl<S> Layer<S> for ImplicitRefreshLayer {
    type Service = ImplicitRefresh<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ImplicitRefresh {
            inner,
            jwt: self.jwt.clone(),
            window: self.window,
        }
    }
}

/// The service of [`ImplicitRefreshLayer`].
#[derive(Clone)]
pub struct ImplicitRefresh<S> {
    inner: S,
    jwt: JwtManager,
    window: Duration,
}

impl<S> fmt::Debug for ImplicitRefresh<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImplicitRefresh")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for ImplicitRefresh<S>
where
    S: Service<Request<B>, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let token = cookie(request.headers(), &self.jwt.config().access_cookie_name)
            .filter(|t| !t.is_empty());
        let future = self.inner.call(request);
        let (jwt, window) = (self.jwt.clone(), self.window);
        Box::pin(async move {
            let response = future.await?;
            match token {
                Some(token) => Ok(refresh_if_due(&jwt, window, &token, response).await),
                None => Ok(response),
            }
        })
    }
}

async fn refresh_if_due(
    jwt: &JwtManager,
    window: Duration,
    token: &str,
    response: Response,
) -> Response {
    if !response.status().is_success() || sets_access_cookie(jwt, &response) {
        return response;
    }
    let Some(old) = due_token(jwt, window, token).await else {
        return response;
    };
    let identity_claim = &jwt.config().identity_claim;
    let identity = old.claim(identity_claim).cloned().unwrap_or_default();
    let mut new = jwt
        .access_token(identity)
        .additional_claims(carried_claims(&old.payload, identity_claim));
    // The same login: a revoked family must end the new token too.
    if let Some(family) = old.claim(FAMILY_CLAIM) {
        new = new.claim(FAMILY_CLAIM, family.clone());
    }
    let fresh_cookies = new
        .encode()
        .ok()
        .and_then(|new| jwt.set_access_cookies(&new).ok());
    let Some(cookies) = fresh_cookies else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    for value in cookies.header_values() {
        parts.headers.append(SET_COOKIE, value.clone());
    }
    Response::from_parts(parts, body)
}

/// The token, when it is a valid, unrevoked access token expiring within the window.
async fn due_token(jwt: &JwtManager, window: Duration, token: &str) -> Option<DecodedToken> {
    let decoded = jwt.decode_token(token, None, false).ok()?;
    let exp = decoded.exp()?;
    if decoded.token_type() != "access" || (exp as f64 - now()) > window.as_secs_f64() {
        return None;
    }
    if !matches!(jwt.is_revoked(&decoded).await, Ok(false)) {
        return None;
    }
    Some(decoded)
}

fn sets_access_cookie(jwt: &JwtManager, response: &Response) -> bool {
    let prefix = format!("{}=", jwt.config().access_cookie_name);
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(prefix.as_bytes()))
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, extract::State, routing::get};
    use tower::ServiceExt;

    use super::*;
    use crate::{AuthCookies, JwtConfig, MemoryRevocationStore, TokenLocation};

    fn app(store: MemoryRevocationStore) -> (Router, JwtManager) {
        let config = JwtConfig::default()
            .with_secret_key("k")
            .with_token_location([TokenLocation::Cookies]);
        let jwt = JwtManager::builder(config)
            .revocation_store(store)
            .build()
            .expect("config");
        let router = Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/logout",
                get(|State(jwt): State<JwtManager>| async move { jwt.unset_jwt_cookies() }),
            )
            .route(
                "/fail",
                get(|| async { (http::StatusCode::BAD_REQUEST, AuthCookies::new()) }),
            )
            .with_state(jwt.clone())
            .layer(ImplicitRefreshLayer::new(
                jwt.clone(),
                Duration::from_secs(60),
            ));
        (router, jwt)
    }

    async fn set_cookies(router: Router, path: &str, token: &str) -> Vec<String> {
        let request = Request::get(path)
            .header("cookie", format!("access_token_cookie={token}"))
            .body(Body::empty());
        let response = router
            .oneshot(request.expect("request"))
            .await
            .expect("infallible");
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn a_token_near_expiry_gets_new_cookies_with_its_claims() {
        let (router, jwt) = app(MemoryRevocationStore::new());
        let old = jwt
            .access_token("7")
            .claim("department", "x")
            .expires_in(Some(Duration::from_secs(30)))
            .encode();
        let cookies = set_cookies(router, "/", &old.expect("token")).await;
        assert_eq!(cookies.len(), 2, "access and CSRF cookies: {cookies:?}");
        let new = cookies[0]
            .trim_start_matches("access_token_cookie=")
            .split(';')
            .next()
            .unwrap_or_default();
        let decoded = jwt
            .decode_token(new, None, false)
            .expect("new token verifies");
        assert_eq!(decoded.payload["sub"], "7");
        assert_eq!(decoded.payload["department"], "x");
        assert!(decoded.exp().unwrap_or_default() > now() as i64 + 800);
    }

    #[tokio::test]
    async fn tokens_far_from_expiry_expired_or_revoked_are_left_alone() {
        let store = MemoryRevocationStore::new();
        let (router, jwt) = app(store.clone());
        let far = jwt.create_access_token("7").expect("token");
        assert!(set_cookies(router.clone(), "/", &far).await.is_empty());
        let expired = jwt
            .access_token("7")
            .claim("exp", 10)
            .encode()
            .expect("token");
        assert!(set_cookies(router.clone(), "/", &expired).await.is_empty());
        let near = jwt
            .access_token("7")
            .expires_in(Some(Duration::from_secs(30)))
            .encode()
            .expect("token");
        let decoded = jwt.decode_token(&near, None, false).expect("valid");
        jwt.revoke(&decoded).await.expect("revoked");
        assert!(set_cookies(router, "/", &near).await.is_empty());
    }

    #[tokio::test]
    async fn nothing_is_set_after_logout_or_on_errors() {
        let (router, jwt) = app(MemoryRevocationStore::new());
        let near = jwt
            .access_token("7")
            .expires_in(Some(Duration::from_secs(30)))
            .encode()
            .expect("token");
        let cookies = set_cookies(router.clone(), "/logout", &near).await;
        assert_eq!(
            cookies.len(),
            4,
            "only the four clearing cookies: {cookies:?}"
        );
        assert!(
            cookies
                .iter()
                .all(|c| c.contains("Expires=Thu, 01 Jan 1970"))
        );
        assert!(set_cookies(router, "/fail", &near).await.is_empty());
    }
}

//! [`JwtErrorLayer`]: renders the [`JwtError`]s that handlers return the way the manager renders
//! its extractors' rejections (the app's error hook, `JWT_ERROR_MESSAGE_KEY`), so that an app has
//! one renderer for every failure, as Flask's app-wide error handlers give it.

use std::{
    fmt,
    task::{Context, Poll},
};

use axum::response::Response;
use http::Request;
use tower::{Layer, Service};

use crate::{manager::JwtManager, rejection::RenderAgain, stores::erased::BoxFuture};

impl JwtManager {
    /// The layer that renders a [`JwtError`] returned by a handler (or by
    /// [`verify_request`](Self::verify_request), [`rotate`](Self::rotate),
    /// [`logout`](Self::logout), ...) through this manager's error hook and message key. Without
    /// it such errors answer `{"msg": ...}` with Flask's status; extractors' rejections render
    /// the manager's way either way.
    ///
    /// ```
    /// use axum::{Router, extract::{Request, State}, routing::get};
    /// use jwt_extended::{JwtConfig, JwtError, JwtManager, VerifyOptions};
    ///
    /// async fn handler(State(jwt): State<JwtManager>, request: Request) -> Result<&'static str, JwtError> {
    ///     let (parts, _) = request.into_parts();
    ///     jwt.verify_request(&parts, VerifyOptions::default()).await?;
    ///     Ok("ok")
    /// }
    ///
    /// let jwt = JwtManager::new(JwtConfig::default().with_secret_key("k").with_error_message_key("message"))?;
    /// let app: Router = Router::new()
    ///     .route("/", get(handler))
    ///     .layer(jwt.error_layer())
    ///     .with_state(jwt);
    /// # Ok::<(), jwt_extended::ConfigError>(())
    /// ```
    ///
    /// [`JwtError`]: crate::JwtError
    pub fn error_layer(&self) -> JwtErrorLayer {
        JwtErrorLayer { jwt: self.clone() }
    }
}

/// Renders the `JwtError`s handlers return with the manager's renderer; made by
/// [`JwtManager::error_layer`].
#[derive(Clone)]
pub struct JwtErrorLayer {
    jwt: JwtManager,
}

impl fmt::Debug for JwtErrorLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtErrorLayer").finish_non_exhaustive()
    }
}

impl<S> Layer<S> for JwtErrorLayer {
    type Service = JwtErrorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtErrorService {
            inner,
            jwt: self.jwt.clone(),
        }
    }
}

/// The service of [`JwtErrorLayer`].
#[derive(Clone)]
pub struct JwtErrorService<S> {
    inner: S,
    jwt: JwtManager,
}

impl<S> fmt::Debug for JwtErrorService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtErrorService").finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for JwtErrorService<S>
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
        let future = self.inner.call(request);
        let jwt = self.jwt.clone();
        Box::pin(async move {
            let mut response = future.await?;
            let Some(RenderAgain(error)) = response.extensions_mut().remove::<RenderAgain>() else {
                return Ok(response);
            };
            let mut rendered = jwt.renderer().render(&error);
            // Keep what else the handler set (cookies, caching headers), under the new body.
            for (name, value) in response.headers() {
                if name != http::header::CONTENT_LENGTH && !rendered.headers().contains_key(name) {
                    rendered.headers_mut().append(name, value.clone());
                }
            }
            Ok(rendered)
        })
    }
}

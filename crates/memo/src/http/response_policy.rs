//! What every response gets, in one tower service: the security headers,
//! and for `/api` paths `Cache-Control: no-store` and `{"msg"}` error
//! bodies. It was two axum middlewares (`from_fn`, `map_response`), each of
//! which boxed its future and cloned the boxed service inside it on every
//! request; this one calls the inner service in place and finishes its
//! response with a plain function chosen when the request comes in.

use std::task::{Context, Poll};

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{FutureExt as _, future::Map};
use tower::{Layer, Service};

use super::{CONTENT_SECURITY_POLICY, STRICT_TRANSPORT_SECURITY, is_api_path};
use crate::error::ApiError;

/// The headers every response gets (unless the handler set them), built at
/// compile time.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
];

/// Adds [`ResponsePolicy`]; `hsts` when the app is served over HTTPS.
#[derive(Clone, Copy, Debug)]
pub(super) struct ResponsePolicyLayer {
    pub(super) hsts: bool,
}

impl<S> Layer<S> for ResponsePolicyLayer {
    type Service = ResponsePolicy<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResponsePolicy {
            inner,
            hsts: self.hsts,
        }
    }
}

/// See the module's documentation.
#[derive(Clone, Debug)]
pub(super) struct ResponsePolicy<S> {
    inner: S,
    hsts: bool,
}

type Finish<E> = fn(Result<Response, E>) -> Result<Response, E>;

impl<S> Service<Request> for ResponsePolicy<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Map<S::Future, Finish<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let finish: Finish<S::Error> = match (is_api_path(request.uri().path()), self.hsts) {
            (true, true) => |r| r.map(|r| secured::<true>(api_response(r))),
            (true, false) => |r| r.map(|r| secured::<false>(api_response(r))),
            (false, true) => |r| r.map(secured::<true>),
            (false, false) => |r| r.map(secured::<false>),
        };
        self.inner.call(request).map(finish)
    }
}

/// The security headers, HSTS with them when `HSTS`; a handler's own
/// values stay.
fn secured<const HSTS: bool>(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.entry(name).or_insert(value);
    }
    if HSTS {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(STRICT_TRANSPORT_SECURITY));
    }
    response
}

/// What every `/api` response gets:
/// - `Cache-Control: no-store` (unless the handler chose a policy): API
///   answers carry a user's data or set cookies, and no cache, shared or the
///   browser's, may keep them;
/// - errors as JSON `{"msg"}`, including those written by axum and
///   tower-http themselves (405 with `Allow`, 413, ...), whose bodies are
///   plain text; their headers (`Allow`) are kept.
fn api_response(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        other => ApiError::Status(other),
    };
    let (mut parts, _) = response.into_parts();
    let (rendered, body) = error.into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(rendered.headers);
    Response::from_parts(parts, body)
}

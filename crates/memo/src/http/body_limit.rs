//! The body limit before any handler runs: a request whose `Content-Length`
//! is over [`BODY_LIMIT_BYTES`] gets 413 at once. axum's `DefaultBodyLimit`
//! binds only where a handler reads the body, so a `DELETE` carrying a
//! megabyte was carried out. A plain tower service, like
//! [`ResponsePolicy`](super::response_policy): an axum `from_fn` middleware
//! would box a future and clone the service on every request.

use std::task::{Context, Poll};

use axum::{
    extract::Request,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use futures_util::future::{Either, Ready, ready};
use tower::{Layer, Service};

use crate::error::{ApiError, BODY_LIMIT_BYTES};

/// Adds [`DeclaredLength`].
#[derive(Clone, Copy, Debug)]
pub(super) struct DeclaredLengthLayer;

impl<S> Layer<S> for DeclaredLengthLayer {
    type Service = DeclaredLength<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeclaredLength { inner }
    }
}

/// See the module's documentation.
#[derive(Clone, Debug)]
pub(super) struct DeclaredLength<S> {
    inner: S,
}

impl<S> Service<Request> for DeclaredLength<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if declares_too_much(request.headers()) {
            return Either::Left(ready(Ok(ApiError::PayloadTooLarge.into_response())));
        }
        Either::Right(self.inner.call(request))
    }
}

fn declares_too_much(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok())
        .is_some_and(|length| length > BODY_LIMIT_BYTES)
}

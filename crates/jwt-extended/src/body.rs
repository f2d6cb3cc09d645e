//! Tokens and CSRF values inside request bodies (the `json` location, `JWT_CSRF_CHECK_FORM`).
//!
//! Extractors only see the request head, so a small middleware reads JSON and form bodies once,
//! keeps what it parsed in the request extensions, and puts the bytes back for the handler.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use serde_json::Value;

/// Bodies larger than this are passed on unread (the app's own body limit answers them).
const MAX_BODY: usize = 1024 * 1024;

/// What [`read_token_body`] found in the body.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenBody {
    json: Option<Value>,
    form: Vec<(String, String)>,
}

impl TokenBody {
    pub(crate) fn json_value(&self, key: &str) -> Option<&Value> {
        self.json
            .as_ref()
            .and_then(|v| v.as_object())
            .and_then(|o| o.get(key))
    }

    pub(crate) fn form_field(&self, name: &str) -> Option<String> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }
}

/// Werkzeug's `is_json`: `application/json` or `application/*+json`.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Middleware that makes the `json` token location and the CSRF form field work: add it with
/// `axum::middleware::from_fn(jwt_extended::read_token_body)` on the routes that need them.
///
/// ```
/// use axum::{Router, middleware, routing::post};
/// let app: Router = Router::new()
///     .route("/protected", post(|| async { "ok" }))
///     .layer(middleware::from_fn(jwt_extended::read_token_body));
/// ```
pub async fn read_token_body(request: Request, next: Next) -> Response {
    let (json, form) = (is_json(request.headers()), is_form(request.headers()));
    if !json && !form {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(serde_json::json!({"msg": "Request body too large"})),
        )
            .into_response();
    };
    let parsed = TokenBody {
        json: if json {
            serde_json::from_slice(&bytes).ok()
        } else {
            None
        },
        form: if form {
            form_urlencoded::parse(&bytes).into_owned().collect()
        } else {
            Vec::new()
        },
    };
    parts.extensions.insert(parsed);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

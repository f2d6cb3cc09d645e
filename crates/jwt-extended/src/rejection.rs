//! Why a request was refused: [`JwtError`] names the failure with Flask-JWT-Extended's status and
//! message; [`JwtRejection`] is what extractors return. Both render through one renderer: the
//! app's error hook, else `{JWT_ERROR_MESSAGE_KEY: message}`.
//!
//! An extractor knows the manager, so its rejection renders the app's way directly. A bare
//! `JwtError` returned by a handler does not: it renders the default way and marks the response,
//! and the manager's [`JwtErrorLayer`](crate::JwtErrorLayer) renders it again the app's way.

use std::{fmt, sync::Arc};

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use http::StatusCode;
use serde_json::Value;

use crate::claims::DecodedToken;

/// A failure to authorize a request or to handle a token, with the status and message
/// Flask-JWT-Extended gives it.
///
/// | variant | status | message |
/// |---|---|---|
/// | `NoAuthorization` | 401 | `Missing cookie "access_token_cookie"`, `Missing Authorization Header`, `Missing JWT in ...` |
/// | `Csrf` | 401 | `Missing CSRF token`, `CSRF double submit tokens do not match` |
/// | `Expired` | 401 | `Token has expired` |
/// | `NeedsFresh` | 401 | `Fresh token required` |
/// | `Revoked` | 401 | `Token has been revoked` |
/// | `UserLookup` | 401 | `Error loading the user <identity>` |
/// | `ClaimsVerification` | 400 | `User claims verification failed` |
/// | `Forbidden` | 403 | the guard's message (not in Flask: its "custom decorator" pattern) |
/// | `InvalidHeader` | 422 | `Bad Authorization header. Expected 'Authorization: Bearer <JWT>'` |
/// | `InvalidQueryParam` | 422 | `Invalid value for query parameter 'jwt'. ...` |
/// | `WrongType` | 422 | `Only non-refresh tokens are allowed`, `Only refresh tokens are allowed` |
/// | `Invalid` | 422 | PyJWT's and Flask's decode messages (`Signature verification failed`, `Missing claim: sub`, ...) |
/// | `StoreUnavailable` | 503 | `Revocation store unavailable` |
/// | `UserLoaderUnavailable` | 503 | `User lookup unavailable` |
/// | `Internal` | 500 | `Internal server error` (a misconfiguration; the detail is logged) |
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// No token where one was looked for (Flask's `NoAuthorizationError`).
    #[error("{0}")]
    NoAuthorization(String),
    /// The CSRF double-submit value is missing or does not match (`CSRFError`).
    #[error("{0}")]
    Csrf(String),
    /// The token has expired; it is given, decoded with `allow_expired`.
    #[error("Token has expired")]
    Expired(Box<DecodedToken>),
    /// A fresh token was required (`FreshTokenRequired`).
    #[error("Fresh token required")]
    NeedsFresh(Box<DecodedToken>),
    /// The blocklist says the token is revoked (`RevokedTokenError`).
    #[error("Token has been revoked")]
    Revoked(Box<DecodedToken>),
    /// The user loader found no user (`UserLookupError`).
    #[error("Error loading the user {identity}")]
    UserLookup {
        /// The identity claim as Python's `str()` would print it.
        identity: String,
        /// The token.
        token: Box<DecodedToken>,
    },
    /// The claims verification hook returned false (`UserClaimsVerificationError`).
    #[error("User claims verification failed")]
    ClaimsVerification(Box<DecodedToken>),
    /// A claim guard refused the token.
    #[error("{0}")]
    Forbidden(String),
    /// The header holding the token is malformed (`InvalidHeaderError`).
    #[error("{0}")]
    InvalidHeader(String),
    /// The query parameter lacks its prefix (`InvalidQueryParamError`).
    #[error("{0}")]
    InvalidQueryParam(String),
    /// A refresh token where an access token was expected, or the reverse (`WrongTokenError`).
    #[error("{0}")]
    WrongType(String),
    /// The token cannot be decoded or a claim is invalid (`JWTDecodeError`, PyJWT errors).
    #[error("{0}")]
    Invalid(String),
    /// The revocation store could not answer and the policy is to refuse.
    #[error("Revocation store unavailable")]
    StoreUnavailable,
    /// The user loader failed (its database is down): the token is refused, as with a store.
    #[error("User lookup unavailable")]
    UserLoaderUnavailable,
    /// A server-side mistake (missing layer, misconfiguration). The detail is logged, not sent.
    #[error("Internal server error")]
    Internal(String),
    /// An OPTIONS request: exempt from every check, as in Flask. A handler that needs claims
    /// cannot run without them, so it is answered 200 with an empty body.
    #[error("")]
    Exempt,
}

impl JwtError {
    /// The HTTP status Flask-JWT-Extended answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoAuthorization(_)
            | Self::Csrf(_)
            | Self::Expired(_)
            | Self::NeedsFresh(_)
            | Self::Revoked(_)
            | Self::UserLookup { .. } => StatusCode::UNAUTHORIZED,
            Self::ClaimsVerification(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::InvalidHeader(_)
            | Self::InvalidQueryParam(_)
            | Self::WrongType(_)
            | Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::StoreUnavailable | Self::UserLoaderUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Exempt => StatusCode::OK,
        }
    }

    /// The token involved, for the errors Flask hands `(jwt_header, jwt_data)` to a callback.
    pub fn token(&self) -> Option<&DecodedToken> {
        match self {
            Self::Expired(t)
            | Self::NeedsFresh(t)
            | Self::Revoked(t)
            | Self::ClaimsVerification(t) => Some(t),
            Self::UserLookup { token, .. } => Some(token),
            _ => None,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
}

/// Renders an error as a response; set with
/// [`JwtManagerBuilder::error_handler`](crate::JwtManagerBuilder::error_handler).
pub type ErrorHandler = dyn Fn(&JwtError) -> Option<Response> + Send + Sync;

/// How errors render: the message key and the app's hook, shared by every rejection.
#[derive(Clone)]
pub(crate) struct Renderer {
    pub(crate) message_key: Arc<str>,
    pub(crate) handler: Option<Arc<ErrorHandler>>,
}

impl Renderer {
    /// The one place an error becomes a response.
    pub(crate) fn render(&self, error: &JwtError) -> Response {
        tracing::debug!(status = %error.status(), reason = %error, "jwt rejected");
        if let Some(response) = self.handler.as_ref().and_then(|h| h(error)) {
            return response;
        }
        match error {
            JwtError::Internal(detail) => {
                tracing::error!(detail = %detail, "jwt-extended misconfiguration");
            }
            JwtError::Exempt => return StatusCode::OK.into_response(),
            _ => {}
        }
        let mut body = serde_json::Map::with_capacity(1);
        body.insert(
            self.message_key.to_string(),
            Value::String(error.to_string()),
        );
        (error.status(), Json(Value::Object(body))).into_response()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self {
            message_key: Arc::from("msg"),
            handler: None,
        }
    }
}

/// Marks a response rendered without the manager's renderer, so that the
/// [`JwtErrorLayer`](crate::JwtErrorLayer) can render it again the app's way.
#[derive(Debug, Clone)]
pub(crate) struct RenderAgain(pub(crate) JwtError);

impl IntoResponse for JwtError {
    /// `{"msg": ...}` with Flask's status; behind the manager's
    /// [`JwtErrorLayer`](crate::JwtErrorLayer), the app's error hook and message key instead.
    fn into_response(self) -> Response {
        let mut response = Renderer::default().render(&self);
        response.extensions_mut().insert(RenderAgain(self));
        response
    }
}

/// The rejection of every extractor of this crate: a [`JwtError`] plus how the app wants it
/// rendered (`JWT_ERROR_MESSAGE_KEY`, the error hook).
///
/// It is a value, not a framework hook (Flask-JWT-Extended's error handlers are bypassed by some
/// extensions, #86): match on [`error`](Self::error) to reshape it, or return it as is.
pub struct JwtRejection {
    error: JwtError,
    /// `None` for a rejection made from a bare [`JwtError`]: rendered like one.
    renderer: Option<Renderer>,
}

impl JwtRejection {
    pub(crate) fn new(error: JwtError, renderer: Renderer) -> Self {
        Self {
            error,
            renderer: Some(renderer),
        }
    }

    /// The failure.
    pub fn error(&self) -> &JwtError {
        &self.error
    }

    /// Takes the failure out.
    pub fn into_error(self) -> JwtError {
        self.error
    }

    /// The status the default response has.
    pub fn status(&self) -> StatusCode {
        self.error.status()
    }

    /// The message the default response carries.
    pub fn message(&self) -> String {
        self.error.to_string()
    }
}

impl From<JwtError> for JwtRejection {
    /// A rejection rendered as the [`JwtError`] itself is (the manager's way behind its
    /// [`JwtErrorLayer`](crate::JwtErrorLayer)).
    fn from(error: JwtError) -> Self {
        Self {
            error,
            renderer: None,
        }
    }
}

impl fmt::Debug for JwtRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JwtRejection").field(&self.error).finish()
    }
}

impl fmt::Display for JwtRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for JwtRejection {}

impl IntoResponse for JwtRejection {
    fn into_response(self) -> Response {
        match self.renderer {
            Some(renderer) => renderer.render(&self.error),
            None => self.error.into_response(),
        }
    }
}

/// Python's `str()` of a JSON value, for "Error loading the user <identity>".
pub(crate) fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn default_body_is_msg_with_flask_status() {
        let response =
            JwtRejection::from(JwtError::Csrf("Missing CSRF token".into())).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(&body[..], br#"{"msg":"Missing CSRF token"}"#);
    }

    #[test]
    fn statuses_follow_the_reference_table() {
        let t = || {
            Box::new(DecodedToken {
                header: Default::default(),
                payload: Default::default(),
            })
        };
        assert_eq!(
            JwtError::ClaimsVerification(t()).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(JwtError::Expired(t()).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            JwtError::WrongType(String::new()).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            JwtError::UserLookup {
                identity: "bob".into(),
                token: t()
            }
            .to_string(),
            "Error loading the user bob"
        );
    }
}

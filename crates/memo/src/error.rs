//! The API's one error type. Every error the API returns is JSON
//! `{"msg": "..."}` with the contract's status; internal causes are logged
//! and never shown to the client.

use axum::{
    Json,
    extract::{
        FromRequest,
        rejection::{JsonRejection, QueryRejection},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// The limit on request bodies (the contract's 64 KiB).
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person to read.
    pub msg: String,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request could not be read (e.g. malformed JSON).
    #[error("{0}")]
    BadRequest(String),
    /// 401: wrong user name or password at login.
    #[error("Wrong login id or password.")]
    WrongCredentials,
    /// 404: no such resource for this caller.
    #[error("{0}")]
    NotFound(String),
    /// 409: a unique value is taken.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over [`BODY_LIMIT_BYTES`].
    #[error("Request body is too large (the limit is 64 KiB)")]
    PayloadTooLarge,
    /// 415: the body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the JSON is well-formed but its values break a rule.
    #[error("{0}")]
    Unprocessable(String),
    /// 503: a dependency (the database) is down.
    #[error("{0}")]
    Unavailable(String),
    /// An authentication or authorization failure from jwt-extended, with
    /// Flask-JWT-Extended's status and message.
    #[error(transparent)]
    Jwt(#[from] jwt_extended::JwtRejection),
    /// 500: a bug or an outage; logged, shown as a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The response status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::WrongCredentials => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Jwt(rejection) => rejection.status(),
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 404 for a memo that is absent or not the caller's (the two must
    /// look the same).
    #[must_use]
    pub fn memo_not_found() -> Self {
        Self::NotFound("Memo not found".into())
    }

    /// Wraps an unexpected failure.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<jwt_extended::JwtError> for ApiError {
    /// Rendered the library's default way: Flask's status and `{"msg"}`.
    fn from(error: jwt_extended::JwtError) -> Self {
        Self::Jwt(error.into())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(format!("database: {err}"))
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(err: crate::db::DbError) -> Self {
        Self::Internal(format!("database: {err}"))
    }
}

impl From<crate::password::HashError> for ApiError {
    fn from(err: crate::password::HashError) -> Self {
        Self::internal(err)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Self::Unprocessable(format!(
                "Invalid request body: {}",
                source_text(&e.body_text())
            )),
            JsonRejection::JsonSyntaxError(e) => {
                Self::BadRequest(format!("Malformed JSON: {}", source_text(&e.body_text())))
            }
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType(
                "Expected a JSON body with Content-Type: application/json".into(),
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            other => Self::BadRequest(format!(
                "Could not read the request body: {}",
                other.body_text()
            )),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(format!(
            "Invalid query string: {}",
            source_text(&rejection.body_text())
        ))
    }
}

/// The rejection's text without axum's generic prefix ("Failed to
/// deserialize ...: "), leaving serde's own words, which name the field:
/// "title: invalid type: integer `1`, expected a string at line 1 column 10".
fn source_text(text: &str) -> String {
    text.split_once(": ")
        .map_or(text, |(_, rest)| rest)
        .to_owned()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Jwt(rejection) = self {
            return rejection.into_response();
        }
        let status = self.status();
        let msg = if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
            "Internal server error".to_owned()
        } else {
            self.to_string()
        };
        (status, Json(ErrorBody { msg })).into_response()
    }
}

/// `axum::Json`, with its rejections turned into [`ApiError`]s so that a bad
/// body gets the API's `{"msg"}` shape (and a 413 for an oversized one).
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

//! The API's one error type and its one renderer. Every error memo returns
//! is JSON `{"msg": "..."}` with the contract's status, written by
//! [`ApiError::into_response`] (jwt-extended's rejections render themselves
//! the same way); internal causes are logged and never shown to the client.

use std::time::Duration;

use axum::{
    Json,
    body::Bytes,
    extract::{
        FromRequest, Request,
        rejection::{BytesRejection, JsonRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};
use utoipa::ToSchema;

/// The limit on request bodies: the largest valid request (a memo of 100,000
/// four-byte characters and a 200-character title, about 400 KB of UTF-8)
/// fits, with room for JSON's punctuation (the contract's 512 KiB).
pub const BODY_LIMIT_BYTES: usize = 512 * 1024;

const MISSING_JSON_CONTENT_TYPE: &str = "Expected a JSON body with Content-Type: application/json";

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
    /// 401: a logged-in user's password, asked again, is wrong.
    #[error("Wrong password")]
    WrongPassword,
    /// 404: no such resource for this caller.
    #[error("{0}")]
    NotFound(String),
    /// 409: a unique value is taken.
    #[error("{0}")]
    Conflict(String),
    /// 403: refused before any handler (the origin check).
    #[error("{0}")]
    Forbidden(String),
    /// 405: the path exists, the method does not.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 413: the body is over [`BODY_LIMIT_BYTES`].
    #[error("Request body is too large (the limit is 512 KiB)")]
    PayloadTooLarge,
    /// 422: the JSON is well-formed but its values break a rule.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: a brute-force limit; `Retry-After` says when to try again.
    #[error("{msg}")]
    TooManyRequests {
        /// What was limited.
        msg: &'static str,
        /// Until the limit's window ends.
        retry_after: Duration,
    },
    /// 507: the database's disk is full; reads still work.
    #[error("The server is out of storage space; try again later")]
    InsufficientStorage,
    /// 503: a dependency (the database) is down.
    #[error("{0}")]
    Unavailable(String),
    /// Any other status that axum or tower-http wrote as plain text, with
    /// its standard reason as the message.
    #[error("{}", .0.canonical_reason().unwrap_or("Error"))]
    Status(StatusCode),
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
            Self::WrongCredentials | Self::WrongPassword => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            Self::Status(status) => *status,
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
    /// An outage is not a bug: a database that cannot be reached (or that
    /// is shutting down) is a 503, a full disk a 507, so that clients and
    /// load balancers can tell them apart from a 500 and retry.
    fn from(err: sqlx::Error) -> Self {
        Self::from_sqlx(&err)
    }
}

impl ApiError {
    /// [`From<sqlx::Error>`]'s mapping, for an error shared by several callers too.
    fn from_sqlx(err: &sqlx::Error) -> Self {
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %err, "the database is unreachable");
                Self::Unavailable("Database unavailable".into())
            }
            sqlx::Error::Database(db) => match db.code().as_deref() {
                // SQLITE_FULL; PostgreSQL's disk_full.
                Some("13" | "53100") => {
                    tracing::error!(error = %err, "the database's disk is full");
                    Self::InsufficientStorage
                }
                // PostgreSQL shutting down, starting, a lost connection, or
                // out of resources for now (too many connections, out of
                // memory): each passes, so a retry may work. Not 53400, a
                // configured limit (temp_file_limit), which a retry meets again.
                Some(code)
                    if code.starts_with("57P")
                        || code.starts_with("08")
                        || is_transient_lack(code) =>
                {
                    tracing::warn!(error = %err, "the database is unavailable");
                    Self::Unavailable("Database unavailable".into())
                }
                _ => Self::Internal(format!("database: {err}")),
            },
            _ => Self::Internal(format!("database: {err}")),
        }
    }
}

/// PostgreSQL's SQLSTATEs of a lack that passes: insufficient resources, out of memory, too
/// many connections. SQLSTATEs are five characters; SQLite's codes, which reach here through
/// the same sqlx error, are numbers of up to four digits (531 is one of its own).
fn is_transient_lack(code: &str) -> bool {
    matches!(code, "53000" | "53200" | "53300")
}

impl From<crate::db::DbError> for ApiError {
    /// As for sqlx's errors: a database that is unreachable, busy past the
    /// wait or closing is a 503, a full disk a 507; only the rest is a 500.
    fn from(err: crate::db::DbError) -> Self {
        use crate::db::DbError;
        use rusqlite::ErrorCode;
        match &err {
            DbError::Sqlx(err) => return Self::from_sqlx(err),
            DbError::PgBatchFailed(err) => return Self::from_sqlx(err),
            _ => {}
        }
        let sqlite_code = match &err {
            DbError::Sqlite(cause) => cause.sqlite_error_code(),
            DbError::BatchFailed(cause) => cause.sqlite_error_code(),
            _ => None,
        };
        match (&err, sqlite_code) {
            (_, Some(ErrorCode::DiskFull)) => {
                tracing::error!(error = %err, "the database's disk is full");
                Self::InsufficientStorage
            }
            (DbError::Closed | DbError::TimedOut, _)
            | (
                _,
                Some(
                    ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::CannotOpen,
                ),
            ) => {
                tracing::warn!(error = %err, "the database is unavailable");
                Self::Unavailable("Database unavailable".into())
            }
            _ => Self::Internal(format!("database: {err}")),
        }
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
            JsonRejection::MissingJsonContentType(_) => {
                Self::BadRequest(MISSING_JSON_CONTENT_TYPE.into())
            }
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
        let mut response = (status, Json(ErrorBody { msg })).into_response();
        if let Self::TooManyRequests { retry_after, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_seconds(retry_after));
        }
        response
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
fn retry_after_seconds(retry_after: Duration) -> HeaderValue {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}

/// `axum::Json` for request bodies that must be a JSON object, with its
/// rejections turned into [`ApiError`]s so that a bad body gets the API's
/// `{"msg"}` shape (and a 413 for an oversized one).
///
/// serde reads a struct from a JSON array too (`["t","c"]` would be a memo),
/// so anything but an object is refused before serde sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::BadRequest(MISSING_JSON_CONTENT_TYPE.into()));
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection: BytesRejection| {
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::PayloadTooLarge
                    } else {
                        ApiError::BadRequest(format!(
                            "Could not read the request body: {}",
                            rejection.body_text()
                        ))
                    }
                })?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{')
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok()
        {
            return Err(ApiError::Unprocessable(
                "Invalid request body: expected a JSON object".into(),
            ));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

/// Whether the request says its body is JSON (`application/json` or
/// `application/*+json`), as axum's `Json` checks.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|subtype| subtype == "json" || subtype.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::DbError;

    fn sqlite(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    /// A database's error with `code` (PostgreSQL's SQLSTATE, SQLite's number), as sqlx gives it.
    fn database_error(code: &'static str) -> DbError {
        DbError::Sqlx(sqlx::Error::Database(Box::new(FakePgError(code))))
    }

    #[derive(Debug)]
    struct FakePgError(&'static str);

    impl std::fmt::Display for FakePgError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for FakePgError {}

    impl sqlx::error::DatabaseError for FakePgError {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn a_database_outage_is_503_and_a_full_disk_507_never_500() {
        let lost = || sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into());
        let cases = [
            (DbError::Sqlx(lost()), StatusCode::SERVICE_UNAVAILABLE),
            (
                DbError::PgBatchFailed(Arc::new(lost())),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                DbError::Sqlx(sqlx::Error::PoolTimedOut),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (DbError::Closed, StatusCode::SERVICE_UNAVAILABLE),
            (DbError::TimedOut, StatusCode::SERVICE_UNAVAILABLE),
            (
                DbError::Sqlite(sqlite(rusqlite::ffi::SQLITE_BUSY)),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                DbError::Sqlite(sqlite(rusqlite::ffi::SQLITE_FULL)),
                StatusCode::INSUFFICIENT_STORAGE,
            ),
            (
                DbError::BatchFailed(Arc::new(sqlite(rusqlite::ffi::SQLITE_FULL))),
                StatusCode::INSUFFICIENT_STORAGE,
            ),
            (
                DbError::Sqlite(sqlite(rusqlite::ffi::SQLITE_CONSTRAINT)),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (DbError::WriterGone, StatusCode::INTERNAL_SERVER_ERROR),
            (database_error("57P01"), StatusCode::SERVICE_UNAVAILABLE),
            (database_error("08006"), StatusCode::SERVICE_UNAVAILABLE),
            (database_error("53300"), StatusCode::SERVICE_UNAVAILABLE),
            (database_error("53200"), StatusCode::SERVICE_UNAVAILABLE),
            (database_error("53000"), StatusCode::SERVICE_UNAVAILABLE),
            (database_error("53400"), StatusCode::INTERNAL_SERVER_ERROR),
            (database_error("531"), StatusCode::INTERNAL_SERVER_ERROR),
            (database_error("53100"), StatusCode::INSUFFICIENT_STORAGE),
            (database_error("23503"), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (error, status) in cases {
            let shown = error.to_string();
            assert_eq!(ApiError::from(error).status(), status, "{shown}");
        }
    }
}

//! `/api/memos`: the caller's memos. Ownership comes from the token only: an
//! `id` or `user_id` in a body is ignored, and another user's memo answers
//! exactly like a missing one (404).

mod cursor;
mod list_query;
mod page_json;

use axum::{
    extract::{FromRequestParts, Path, RawQuery, State},
    http::{HeaderValue, StatusCode, Uri, header, request::Parts},
    response::Response,
};
use jwt_extended::CurrentUser as Current;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use self::cursor::CursorKey;
use self::{
    list_query::{ListParams, ListQuery},
    page_json::{MemoJson, page_response},
};
use super::{APPLICATION_JSON, auth::CurrentUser};
use crate::{
    db::{Db, Memo, MemoChanges},
    domain::{MemoContent, MemoTitle},
    error::{ApiError, AppJson, ErrorBody},
    state::AppState,
};

/// The memo routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_memos, create_memo))
        .routes(routes!(get_memo, update_memo, delete_memo))
}

/// A new memo.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemo {
    /// 1 to 200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    title: String,
    /// Up to 100 000 characters; empty when omitted.
    #[serde(default)]
    #[schema(max_length = 100_000)]
    content: String,
    /// Ignored: the id is assigned by the server.
    #[serde(default, rename = "id")]
    #[schema(value_type = Option<i64>)]
    _id: Option<serde::de::IgnoredAny>,
    /// Ignored: the owner is the token's user.
    #[serde(default, rename = "user_id")]
    #[schema(value_type = Option<i64>)]
    _user_id: Option<serde::de::IgnoredAny>,
}

/// Changes to a memo: any of `title`, `content`, `archived` (at least one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoPatch {
    /// A new title: 1 to 200 characters, not blank.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    title: Option<String>,
    /// New content: up to 100 000 characters.
    #[serde(default)]
    #[schema(max_length = 100_000)]
    content: Option<String>,
    /// `true` archives the memo, `false` unarchives it.
    #[serde(default)]
    archived: Option<bool>,
    /// Ignored.
    #[serde(default, rename = "id")]
    #[schema(value_type = Option<i64>)]
    _id: Option<serde::de::IgnoredAny>,
    /// Ignored: ownership cannot change.
    #[serde(default, rename = "user_id")]
    #[schema(value_type = Option<i64>)]
    _user_id: Option<serde::de::IgnoredAny>,
}

/// A memo id from the path. Anything but a positive decimal number is a
/// memo that does not exist (404), like any other unknown id.
#[derive(Debug, Clone, Copy)]
pub struct MemoId(i64);

impl<S: Send + Sync> FromRequestParts<S> for MemoId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::memo_not_found())?;
        let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| raw.parse::<i64>().ok())
            .flatten()
            .filter(|id| *id > 0)
            .map(Self)
            .ok_or_else(ApiError::memo_not_found)
    }
}

/// One page of the caller's memos; `Link: <...>; rel="next"` leads to the
/// next one.
#[utoipa::path(
    get,
    path = "/api/memos",
    tag = "memos",
    params(ListParams),
    security(("access_cookie" = [])),
    responses(
        (status = 200, description = "A page of the caller's unarchived (or, with archived=true, archived) memos, \
at most `limit`, in `order`, matching `q` if given. When more may follow, the `Link` header holds the next page's URL \
(RFC 8288; the `cursor` in it is opaque). A search page may hold fewer memos than `limit`, even none, and still \
have a next page: each call reads a bounded number of memos (see docs/performance.md).",
            body = Vec<Memo>,
            headers(("Link" = String, description = "`<URL>; rel=\"next\"` when more may follow"))),
        (status = 400, description = "A bad `limit`, `order`, `archived`, `q` or `cursor` (the message names it)", body = ErrorBody),
        (status = 401, description = "No, expired or revoked token", body = ErrorBody),
    )
)]
async fn list_memos(
    Current(user): CurrentUser,
    State(db): State<Db>,
    State(cursors): State<CursorKey>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let request = query.page_request(user.id, &cursors)?;
    let page = db.memo_page(&request).await?;
    let mut response = page_response(&page.memos);
    if let Some(next) = page.next {
        let link = query.next_link(uri.path(), user.id, &cursors, next);
        // Percent-encoded, so always a valid header value.
        if let Ok(link) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// Creates a memo (unarchived).
#[utoipa::path(
    post,
    path = "/api/memos",
    tag = "memos",
    request_body = NewMemo,
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 201, description = "The new memo", body = Memo),
        (status = 400, description = "Malformed JSON, or not JSON (no `Content-Type: application/json`)", body = ErrorBody),
        (status = 401, description = "No, expired or revoked token; missing or wrong CSRF header", body = ErrorBody),
        (status = 413, description = "Body over 512 KiB", body = ErrorBody),
        (status = 422, description = "Missing or empty title, title over 200 or content over 100 000 characters, wrong or unknown fields", body = ErrorBody),
    )
)]
async fn create_memo(
    Current(user): CurrentUser,
    State(db): State<Db>,
    AppJson(body): AppJson<NewMemo>,
) -> Result<(StatusCode, MemoJson), ApiError> {
    let title = MemoTitle::parse(body.title).map_err(ApiError::Unprocessable)?;
    let content = MemoContent::parse(body.content).map_err(ApiError::Unprocessable)?;
    let memo = db
        .insert_memo(user.id, title.as_str(), content.as_str())
        .await?;
    Ok((StatusCode::CREATED, MemoJson(memo)))
}

/// One of the caller's memos.
#[utoipa::path(
    get,
    path = "/api/memos/{id}",
    tag = "memos",
    params(("id" = i64, Path, description = "The memo's id")),
    security(("access_cookie" = [])),
    responses(
        (status = 200, description = "The memo", body = Memo),
        (status = 401, description = "No, expired or revoked token", body = ErrorBody),
        (status = 404, description = "No such memo of the caller's", body = ErrorBody),
    )
)]
async fn get_memo(
    Current(user): CurrentUser,
    State(db): State<Db>,
    MemoId(id): MemoId,
) -> Result<MemoJson, ApiError> {
    db.memo(id, user.id)
        .await?
        .map(MemoJson)
        .ok_or_else(ApiError::memo_not_found)
}

/// Changes a memo's title, content or archived flag (archive/unarchive).
#[utoipa::path(
    patch,
    path = "/api/memos/{id}",
    tag = "memos",
    params(("id" = i64, Path, description = "The memo's id")),
    request_body = MemoPatch,
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The changed memo", body = Memo),
        (status = 400, description = "Malformed JSON, or not JSON (no `Content-Type: application/json`)", body = ErrorBody),
        (status = 401, description = "No, expired or revoked token; missing or wrong CSRF header", body = ErrorBody),
        (status = 404, description = "No such memo of the caller's", body = ErrorBody),
        (status = 413, description = "Body over 512 KiB", body = ErrorBody),
        (status = 422, description = "No field to change, a value breaking a rule, wrong or unknown fields", body = ErrorBody),
    )
)]
async fn update_memo(
    Current(user): CurrentUser,
    State(db): State<Db>,
    MemoId(id): MemoId,
    AppJson(body): AppJson<MemoPatch>,
) -> Result<MemoJson, ApiError> {
    if body.title.is_none() && body.content.is_none() && body.archived.is_none() {
        return Err(ApiError::Unprocessable(
            "Nothing to change: give title, content or archived".into(),
        ));
    }
    let title = body
        .title
        .map(MemoTitle::parse)
        .transpose()
        .map_err(ApiError::Unprocessable)?;
    let content = body
        .content
        .map(MemoContent::parse)
        .transpose()
        .map_err(ApiError::Unprocessable)?;
    let changes = MemoChanges {
        title: title.as_ref().map(MemoTitle::as_str),
        content: content.as_ref().map(MemoContent::as_str),
        archived: body.archived,
    };
    db.update_memo(id, user.id, &changes)
        .await?
        .map(MemoJson)
        .ok_or_else(ApiError::memo_not_found)
}

/// Deletes a memo.
#[utoipa::path(
    delete,
    path = "/api/memos/{id}",
    tag = "memos",
    params(("id" = i64, Path, description = "The memo's id")),
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No, expired or revoked token; missing or wrong CSRF header", body = ErrorBody),
        (status = 404, description = "No such memo of the caller's", body = ErrorBody),
    )
)]
async fn delete_memo(
    Current(user): CurrentUser,
    State(db): State<Db>,
    MemoId(id): MemoId,
) -> Result<StatusCode, ApiError> {
    if db.delete_memo(id, user.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::memo_not_found())
    }
}

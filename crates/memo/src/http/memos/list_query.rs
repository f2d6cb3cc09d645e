//! `GET /api/memos`'s query string: `limit`, `order`, `archived`, `q` and
//! `cursor`, each checked here, so that a bad one is a 400 `{"msg"}` naming
//! it; and the `Link: <...>; rel="next"` header that leads to the next page.

use serde::Deserialize;
use utoipa::IntoParams;

use super::cursor::{CursorKey, ListIdentity};
use crate::{
    db::{MAX_PAGE, MAX_SEARCH_CHARS, Order, PageRequest, Position},
    error::ApiError,
};

/// The default page size.
pub const DEFAULT_LIMIT: u32 = 50;

/// The list's parameters as documented (the handler reads them with
/// [`ListQuery::parse`], for messages that name the parameter).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// `true` for the archived memos; `false` (the default) for the others.
    archived: Option<bool>,
    /// The most memos in the page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `id` (the default: oldest first), `-id` (newest first) or
    /// `-updated_at` (most recently edited first, ties by id).
    #[param(inline)]
    order: Option<OrderParam>,
    /// Only memos whose title or content contains this text (1 to 200
    /// characters, compared without regard to case, in any script).
    #[param(min_length = 1, max_length = 200)]
    q: Option<String>,
    /// Where the page starts: copy it from the previous page's `Link`
    /// header; it is valid only with the same `archived`, `order` and `q`.
    cursor: Option<String>,
}

/// `order`'s values, as the document lists them (for typed clients).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
enum OrderParam {
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "-id")]
    IdDesc,
    #[serde(rename = "-updated_at")]
    UpdatedDesc,
}

/// The parsed query.
#[derive(Debug, Default)]
pub struct ListQuery {
    archived: bool,
    limit: Option<u32>,
    order: Order,
    search: Option<String>,
    cursor: Option<String>,
}

impl ListQuery {
    /// Parses a raw query string. Unknown parameters are ignored, as Flask
    /// ignores them.
    ///
    /// # Errors
    /// 400 naming the parameter that is given twice or has a bad value.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut query = Self::default();
        let mut seen = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let known = ["archived", "limit", "order", "q", "cursor"];
            let Some(&name) = known.iter().find(|known| **known == name) else {
                continue;
            };
            if seen.contains(&name) {
                return Err(bad(format!("{name} must be given at most once")));
            }
            seen.push(name);
            match name {
                "archived" => query.archived = parse_archived(&value)?,
                "limit" => query.limit = Some(parse_limit(&value)?),
                "order" => {
                    query.order = Order::parse(&value)
                        .ok_or_else(|| bad("order must be one of id, -id, -updated_at"))?;
                }
                "q" => query.search = Some(parse_search(&value)?),
                _ => query.cursor = Some(value.into_owned()),
            }
        }
        Ok(query)
    }

    /// The page to read for `user_id`, with the cursor checked against this
    /// very list.
    ///
    /// # Errors
    /// 400 when the cursor was not made for this list (edited, another
    /// user's, or from another `archived`, `order` or `q`).
    pub fn page_request(&self, user_id: i64, key: &CursorKey) -> Result<PageRequest<'_>, ApiError> {
        let after = match &self.cursor {
            Some(cursor) => {
                Some(key.decode(&self.identity(user_id), cursor).ok_or_else(|| {
                    bad("cursor is not valid for this list: start again without it")
                })?)
            }
            None => None,
        };
        Ok(PageRequest {
            user_id,
            archived: self.archived,
            order: self.order,
            after,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT),
            search: self.search.as_deref(),
        })
    }

    /// The `Link` header's value for the page after `next`: this query with
    /// the new cursor, on `path`.
    #[must_use]
    pub fn next_link(&self, path: &str, user_id: i64, key: &CursorKey, next: Position) -> String {
        let cursor = key.encode(&self.identity(user_id), next);
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &self.limit.unwrap_or(DEFAULT_LIMIT).to_string());
        query.append_pair("order", self.order.as_str());
        if self.archived {
            query.append_pair("archived", "true");
        }
        if let Some(search) = &self.search {
            query.append_pair("q", search);
        }
        query.append_pair("cursor", &cursor);
        format!("<{path}?{}>; rel=\"next\"", query.finish())
    }

    fn identity(&self, user_id: i64) -> ListIdentity<'_> {
        ListIdentity {
            user_id,
            archived: self.archived,
            order: self.order,
            search: self.search.as_deref(),
        }
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

fn parse_archived(value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad("archived must be true or false")),
    }
}

fn parse_limit(value: &str) -> Result<u32, ApiError> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| value.parse::<u32>().ok())
        .flatten()
        .filter(|limit| (1..=MAX_PAGE).contains(limit))
        .ok_or_else(|| bad(format!("limit must be a whole number from 1 to {MAX_PAGE}")))
}

/// The search text, trimmed: spaces around a word typed in a search field
/// are not part of it.
fn parse_search(value: &str) -> Result<String, ApiError> {
    let search = value.trim();
    if search.is_empty() {
        return Err(bad("q must not be empty"));
    }
    if search.chars().count() > MAX_SEARCH_CHARS {
        return Err(bad(format!(
            "q must be at most {MAX_SEARCH_CHARS} characters"
        )));
    }
    if search.contains('\0') {
        return Err(bad("q must not contain U+0000"));
    }
    Ok(search.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(raw: &str) -> String {
        match ListQuery::parse(Some(raw)) {
            Err(ApiError::BadRequest(msg)) => msg,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn each_bad_parameter_is_named() {
        for (raw, name) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=-1", "limit"),
            ("limit=1e2", "limit"),
            ("limit=", "limit"),
            ("limit=99999999999", "limit"),
            ("order=updated_at", "order"),
            ("order=", "order"),
            ("archived=yes", "archived"),
            ("archived=1", "archived"),
            ("q=", "q"),
            ("q=%20%20", "q"),
            ("q=a%00b", "q"),
            ("limit=5&limit=6", "limit"),
        ] {
            assert!(message(raw).starts_with(name), "{raw}: {}", message(raw));
        }
        let long = format!("q={}", "会".repeat(201));
        assert!(message(&long).starts_with('q'));
    }

    #[test]
    fn good_parameters_are_read_and_unknown_ones_ignored() {
        let query = ListQuery::parse(Some(
            "limit=200&order=-updated_at&archived=true&q=+%E4%BC%9A%E8%AD%B0+&page=3",
        ))
        .expect("valid");
        assert_eq!(query.limit, Some(200));
        assert_eq!(query.order, Order::UpdatedDesc);
        assert!(query.archived);
        assert_eq!(query.search.as_deref(), Some("会議"));
        let defaults = ListQuery::parse(None).expect("valid");
        assert_eq!(
            (defaults.limit, defaults.order, defaults.archived),
            (None, Order::Id, false)
        );
    }
}

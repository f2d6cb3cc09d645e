//! What a page of memos is asked with and answered with: keyset pages in one
//! of three orders, each served by an index, optionally filtered by a search.
//!
//! Keyset paging: a page starts strictly after the last position of the
//! previous one, so following `next` to the end returns every memo that was
//! left untouched meanwhile exactly once, whatever else is written between
//! pages (OFFSET would skip or repeat rows when earlier ones come or go).

use time::OffsetDateTime;

/// Most memos in one page (`?limit=`).
pub const MAX_PAGE: u32 = 200;

/// Longest search text (`?q=`), in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// A search with at most this many matches in the account (and archived
/// state) is answered from the trigram index: every match is fetched, sorted
/// and paged, so a rare word is found however large the account is. With
/// more matches, the page is found by [`SEARCH_SCAN`] instead (SQLite), or
/// from the windows of the list PostgreSQL read first, and a word that
/// common fills the page quickly.
pub const SEARCH_CANDIDATES: i64 = 1_000;

/// The most memos one search call reads in the list's order when the index
/// cannot answer it (fewer than 3 characters, which no trigram holds, or more
/// than [`SEARCH_CANDIDATES`] matches). Its page may then hold fewer memos
/// than asked for, even none, with a `next` position after the last memo
/// read: each call costs at most this many rows, however large the account.
pub const SEARCH_SCAN: i64 = 1_000;

/// The shortest search the trigram indexes can serve.
pub const TRIGRAM_CHARS: usize = 3;

/// The orders of `?order=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    /// `id`: oldest first (the original's order).
    #[default]
    Id,
    /// `-id`: newest first.
    IdDesc,
    /// `-updated_at`: most recently edited first, ties by id (newest first).
    UpdatedDesc,
}

impl Order {
    /// The query-string spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::IdDesc => "-id",
            Self::UpdatedDesc => "-updated_at",
        }
    }

    /// How `a` and `b` compare in this order: `Less` when `a` comes first.
    #[must_use]
    pub fn compare(self, a: &super::Memo, b: &super::Memo) -> std::cmp::Ordering {
        match self {
            Self::Id => a.id.cmp(&b.id),
            Self::IdDesc => b.id.cmp(&a.id),
            Self::UpdatedDesc => (b.updated_at, b.id).cmp(&(a.updated_at, a.id)),
        }
    }

    /// Parses the query-string spelling.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Id, Self::IdDesc, Self::UpdatedDesc]
            .into_iter()
            .find(|order| order.as_str() == raw)
    }
}

/// Where a page ends in its order: the next page starts strictly after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The last memo's id.
    pub id: i64,
    /// The last memo's `updated_at` (used by [`Order::UpdatedDesc`] only).
    pub updated_at: OffsetDateTime,
}

/// One page to read.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest<'a> {
    /// The owner.
    pub user_id: i64,
    /// Archived memos or the others.
    pub archived: bool,
    /// The order.
    pub order: Order,
    /// Start after this position; `None` for the first page.
    pub after: Option<Position>,
    /// At most this many memos (1 to [`MAX_PAGE`]).
    pub limit: u32,
    /// Only memos whose title or content contains this text, compared
    /// without regard to case; non-empty, at most [`MAX_SEARCH_CHARS`].
    pub search: Option<&'a str>,
}

impl PageRequest<'_> {
    /// The limit as SQL binds it.
    pub(crate) fn limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, MAX_PAGE))
    }
}

/// One page of memos.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The memos, in the requested order.
    pub memos: Vec<crate::db::Memo>,
    /// Where the next page starts, when more may follow.
    pub next: Option<Position>,
}

impl Page {
    /// A page from up to `limit + 1` rows: the extra row only says that more
    /// follow, so the next page starts after the last row kept.
    pub(crate) fn from_rows(mut memos: Vec<crate::db::Memo>, limit: i64) -> Self {
        let more = i64::try_from(memos.len()).unwrap_or(i64::MAX) > limit;
        if more {
            memos.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        let next = more
            .then(|| memos.last().map(crate::db::Memo::position))
            .flatten();
        Self { memos, next }
    }
}

/// Whether `haystack` contains `needle_lower` (already lowercased), without
/// regard to case. `buffer` is reused between calls to spare allocations.
pub(crate) fn contains_ignoring_case(
    haystack: &str,
    needle_lower: &str,
    buffer: &mut String,
) -> bool {
    buffer.clear();
    buffer.extend(haystack.chars().flat_map(char::to_lowercase));
    buffer.contains(needle_lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_round_trip_and_unknown_ones_are_refused() {
        for order in [Order::Id, Order::IdDesc, Order::UpdatedDesc] {
            assert_eq!(Order::parse(order.as_str()), Some(order));
        }
        assert_eq!(Order::parse("updated_at"), None);
        assert_eq!(Order::parse(""), None);
    }

    #[test]
    fn search_ignores_case_in_any_script() {
        let mut buffer = String::new();
        assert!(contains_ignoring_case(
            "Tokyo MEETING",
            "meeting",
            &mut buffer
        ));
        assert!(contains_ignoring_case(
            "ÉCLAIR au café",
            "éclair",
            &mut buffer
        ));
        assert!(contains_ignoring_case(
            "明日は東京で会議です",
            "会議",
            &mut buffer
        ));
        assert!(!contains_ignoring_case(
            "明日は東京で会談です",
            "会議",
            &mut buffer
        ));
        assert!(!contains_ignoring_case("", "a", &mut buffer));
    }
}

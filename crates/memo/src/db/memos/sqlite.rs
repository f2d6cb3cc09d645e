//! The memo statements on SQLite (rusqlite). Reads run on a reader
//! connection, writes inside the group commit's savepoints.
//!
//! The search index is `memos_search`, an FTS5 table with the trigram
//! tokenizer, kept in step by triggers (migration 0003). Its rowid is the
//! memo's [`search_key`]: the owner, the archived flag and the memo id in one
//! integer, so that one user's memos in one archived state are one rowid
//! range, and a search seeks to that range in each trigram's list instead of
//! reading every user's matches.

use rusqlite::{Connection, OptionalExtension as _, Row, params};

use super::page::{
    Order, Page, PageRequest, Position, SEARCH_CANDIDATES, SEARCH_SCAN, TRIGRAM_CHARS,
    contains_ignoring_case,
};
use crate::db::{
    Memo, MemoChanges,
    sqlite::{parse_timestamp, timestamp_text},
};

/// [`Memo`]'s columns, in [`memo_from_row`]'s order.
macro_rules! columns {
    () => {
        concat!(page_columns!(), ", archived")
    };
}

/// The columns a page reads, in [`page_memo`]'s order: not `archived`, which
/// every page asks for as `?2` (a column less to read on each of its rows).
macro_rules! page_columns {
    () => {
        "id, title, content, created_at, updated_at"
    };
}

/// A statement per order: `$head` selects from `memos` with the owner and
/// archived flag as `?1` and `?2`, the page position as `?3` (id) and `?4`
/// (`updated_at`), the limit as `?5`. The first page binds a position before
/// every memo: id 0 or `i64::MAX`, an `updated_at` of `~` (after any digit).
macro_rules! ordered {
    ($head:expr, Id) => {
        concat!($head, " AND id > ?3 ORDER BY id LIMIT ?5")
    };
    ($head:expr, IdDesc) => {
        concat!($head, " AND id < ?3 ORDER BY id DESC LIMIT ?5")
    };
    ($head:expr, UpdatedDesc) => {
        concat!(
            $head,
            " AND (updated_at, id) < (?4, ?3) ORDER BY updated_at DESC, id DESC LIMIT ?5"
        )
    };
}

/// The list: the index `(user_id, archived, id)` or `(user_id, archived,
/// updated_at)` read from the position on, `limit` rows.
macro_rules! list_sql {
    ($order:ident) => {
        ordered!(
            concat!(
                "SELECT ",
                page_columns!(),
                " FROM memos WHERE user_id = ?1 AND archived = ?2"
            ),
            $order
        )
    };
}

/// A search answered by the index: the memos whose search key is a match in
/// the owner's range (`?6`, `?7`; the trigram phrase `?8`), sorted and paged.
/// `+user_id`/`+archived` keep the owner's check without letting SQLite read
/// the owner's whole list instead of the matches.
macro_rules! indexed_search_sql {
    ($order:ident) => {
        ordered!(
            concat!(
                "SELECT ",
                page_columns!(),
                " FROM memos WHERE id IN (SELECT rowid & 549755813887 FROM memos_search \
                 WHERE memos_search MATCH ?8 AND rowid BETWEEN ?6 AND ?7) \
                 AND +user_id = ?1 AND +archived = ?2"
            ),
            $order
        )
    };
}

/// How many matches the owner's range holds, counting no further than `?4`.
const COUNT_MATCHES: &str = "SELECT count(*) FROM (SELECT 1 FROM memos_search \
     WHERE memos_search MATCH ?1 AND rowid BETWEEN ?2 AND ?3 LIMIT ?4)";

const SELECT_MEMO: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM memos WHERE id = ?1 AND user_id = ?2"
);

const INSERT_MEMO: &str = concat!(
    "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
     VALUES (?1, ?2, ?3, FALSE, ?4, ?4) RETURNING ",
    columns!()
);

const UPDATE_MEMO: &str = concat!(
    "UPDATE memos SET title = COALESCE(?3, title), content = COALESCE(?4, content), \
     archived = COALESCE(?5, archived), updated_at = ?6 \
     WHERE id = ?1 AND user_id = ?2 RETURNING ",
    columns!()
);

const DELETE_MEMO: &str = "DELETE FROM memos WHERE id = ?1 AND user_id = ?2";

/// Bits of the memo id in a search key, and where the archived flag sits.
const ID_BITS: u32 = 39;
/// The owner's bits start here (23 bits: ids below 8,388,608; the insert
/// trigger refuses a memo whose owner or id does not fit).
const USER_SHIFT: u32 = ID_BITS + 1;

/// The search keys of one owner's memos in one archived state: `lo..=hi`.
fn search_key_range(user_id: i64, archived: bool) -> Option<(i64, i64)> {
    if !(0..1 << (63 - USER_SHIFT)).contains(&user_id) {
        return None;
    }
    let lo = (user_id << USER_SHIFT) | (i64::from(archived) << ID_BITS);
    Some((lo, lo | ((1 << ID_BITS) - 1)))
}

/// `text` as an FTS5 phrase: the trigram tokenizer matches it as a
/// substring (of at least 3 characters), without regard to case.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn memo_from_row(row: &Row<'_>) -> rusqlite::Result<Memo> {
    page_memo(row, row.get(5)?)
}

/// A memo of a page, whose statement selected memos in the `archived` state.
fn page_memo(row: &Row<'_>, archived: bool) -> rusqlite::Result<Memo> {
    Ok(Memo {
        id: row.get(0)?,
        title: row.get(1)?,
        content: row.get(2)?,
        archived,
        created_at: parse_timestamp(row.get_ref(3)?.as_bytes()?)?,
        updated_at: parse_timestamp(row.get_ref(4)?.as_bytes()?)?,
    })
}

/// The binds of a page's position: before every memo for the first page.
fn position_binds(request: &PageRequest<'_>) -> rusqlite::Result<(i64, String)> {
    Ok(match request.after {
        Some(Position { id, updated_at }) => (id, timestamp_text(updated_at)?),
        None if request.order == Order::Id => (0, "~".to_owned()),
        None => (i64::MAX, "~".to_owned()),
    })
}

pub(crate) fn memo(conn: &Connection, id: i64, user_id: i64) -> rusqlite::Result<Option<Memo>> {
    conn.prepare_cached(SELECT_MEMO)?
        .query_row(params![id, user_id], memo_from_row)
        .optional()
}

pub(crate) fn page(conn: &Connection, request: &PageRequest<'_>) -> rusqlite::Result<Page> {
    let Some(search) = request.search else {
        return list(conn, request, request.limit() + 1)
            .map(|rows| Page::from_rows(rows, request.limit()));
    };
    let range = search_key_range(request.user_id, request.archived)
        .filter(|_| search.chars().count() >= TRIGRAM_CHARS);
    if let Some((lo, hi)) = range {
        let phrase = phrase(search);
        let matches: i64 = conn
            .prepare_cached(COUNT_MATCHES)?
            .query_row(params![phrase, lo, hi, SEARCH_CANDIDATES + 1], |row| {
                row.get(0)
            })?;
        if matches <= SEARCH_CANDIDATES {
            return indexed_search(conn, request, &phrase, (lo, hi));
        }
    }
    scan(conn, request, search)
}

fn list(conn: &Connection, request: &PageRequest<'_>, rows: i64) -> rusqlite::Result<Vec<Memo>> {
    let sql = match request.order {
        Order::Id => list_sql!(Id),
        Order::IdDesc => list_sql!(IdDesc),
        Order::UpdatedDesc => list_sql!(UpdatedDesc),
    };
    let (id, updated_at) = position_binds(request)?;
    let mut statement = conn.prepare_cached(sql)?;
    let found = statement.query_map(
        params![request.user_id, request.archived, id, updated_at, rows],
        |row| page_memo(row, request.archived),
    )?;
    // Sized ahead: collected, a page of 21 rows was allocated 4 times as it grew.
    let mut memos = Vec::with_capacity(usize::try_from(rows).unwrap_or_default());
    for memo in found {
        memos.push(memo?);
    }
    Ok(memos)
}

fn indexed_search(
    conn: &Connection,
    request: &PageRequest<'_>,
    phrase: &str,
    (lo, hi): (i64, i64),
) -> rusqlite::Result<Page> {
    let sql = match request.order {
        Order::Id => indexed_search_sql!(Id),
        Order::IdDesc => indexed_search_sql!(IdDesc),
        Order::UpdatedDesc => indexed_search_sql!(UpdatedDesc),
    };
    let (id, updated_at) = position_binds(request)?;
    let limit = request.limit();
    let mut statement = conn.prepare_cached(sql)?;
    let memos = statement
        .query_map(
            params![
                request.user_id,
                request.archived,
                id,
                updated_at,
                limit + 1,
                lo,
                hi,
                phrase
            ],
            |row| page_memo(row, request.archived),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page::from_rows(memos, limit))
}

/// Reads the list from the position on, [`SEARCH_SCAN`] rows at most, and
/// keeps the matches: a full page ends after its last memo, a page cut short
/// by the scan's bound after the last memo read.
fn scan(conn: &Connection, request: &PageRequest<'_>, search: &str) -> rusqlite::Result<Page> {
    let needle: String = search.chars().flat_map(char::to_lowercase).collect();
    let limit = usize::try_from(request.limit()).unwrap_or(usize::MAX);
    let sql = match request.order {
        Order::Id => list_sql!(Id),
        Order::IdDesc => list_sql!(IdDesc),
        Order::UpdatedDesc => list_sql!(UpdatedDesc),
    };
    let (id, updated_at) = position_binds(request)?;
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params![
        request.user_id,
        request.archived,
        id,
        updated_at,
        SEARCH_SCAN
    ])?;
    let (mut memos, mut read, mut last_id) = (Vec::new(), 0, None);
    let (mut buffer, mut last_updated_at) = (String::new(), String::new());
    while let Some(row) = rows.next()? {
        read += 1;
        let hit = contains_ignoring_case(row.get_ref(1)?.as_str()?, &needle, &mut buffer)
            || contains_ignoring_case(row.get_ref(2)?.as_str()?, &needle, &mut buffer);
        if hit {
            if memos.len() == limit {
                // One more match: the page is full and more follow.
                let next = memos.last().map(Memo::position);
                return Ok(Page { memos, next });
            }
            memos.push(page_memo(row, request.archived)?);
        }
        last_id = Some(row.get::<_, i64>(0)?);
        last_updated_at.clear();
        last_updated_at.push_str(row.get_ref(4)?.as_str()?);
    }
    // The scan's bound cut the page short: the next one starts after the
    // last memo read, matched or not.
    let next = match last_id {
        Some(id) if read == SEARCH_SCAN => Some(Position {
            id,
            updated_at: parse_timestamp(last_updated_at.as_bytes())?.at(),
        }),
        _ => None,
    };
    Ok(Page { memos, next })
}

/// Inserts a memo (in the caller's savepoint).
pub(crate) fn insert(
    conn: &Connection,
    user_id: i64,
    title: &str,
    content: &str,
) -> rusqlite::Result<Memo> {
    let now = timestamp_text(crate::db::now())?;
    conn.prepare_cached(INSERT_MEMO)?
        .query_row(params![user_id, title, content, now], memo_from_row)
}

/// Updates one of the owner's memos (in the caller's savepoint).
pub(crate) fn update(
    conn: &Connection,
    id: i64,
    user_id: i64,
    changes: &MemoChanges<'_>,
) -> rusqlite::Result<Option<Memo>> {
    let now = timestamp_text(crate::db::now())?;
    conn.prepare_cached(UPDATE_MEMO)?
        .query_row(
            params![
                id,
                user_id,
                changes.title,
                changes.content,
                changes.archived,
                now
            ],
            memo_from_row,
        )
        .optional()
}

/// Deletes one of the owner's memos (in the caller's savepoint).
pub(crate) fn delete(conn: &Connection, id: i64, user_id: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(DELETE_MEMO)?
        .execute(params![id, user_id])?
        > 0)
}

/// Every read statement, named, for the plan checks (`sqlite_plans.rs`).
#[cfg(test)]
pub(super) fn reads() -> Vec<(&'static str, &'static str)> {
    vec![
        ("list by id", list_sql!(Id)),
        ("list by -id", list_sql!(IdDesc)),
        ("list by -updated_at", list_sql!(UpdatedDesc)),
        ("search by id", indexed_search_sql!(Id)),
        ("search by -id", indexed_search_sql!(IdDesc)),
        ("search by -updated_at", indexed_search_sql!(UpdatedDesc)),
        ("count matches", COUNT_MATCHES),
        ("one memo", SELECT_MEMO),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_owner_and_archived_state_is_one_range_of_search_keys() {
        let (lo, hi) = search_key_range(5, false).expect("fits");
        let (alo, ahi) = search_key_range(5, true).expect("fits");
        let (nlo, _) = search_key_range(6, false).expect("fits");
        assert!(lo < hi && hi < alo && alo < ahi && ahi < nlo);
        assert_eq!(hi & 549_755_813_887, (1 << 39) - 1);
        assert_eq!(search_key_range(1 << 23, false), None);
        assert_eq!(search_key_range(-1, false), None);
        assert!(search_key_range((1 << 23) - 1, true).is_some_and(|(_, hi)| hi > 0));
    }

    #[test]
    fn a_phrase_quotes_the_text() {
        assert_eq!(phrase(r#"say "hi""#), r#""say ""hi""""#);
    }
}

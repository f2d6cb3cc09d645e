//! The memo statements on PostgreSQL (sqlx): one statement per call (the
//! list's pages several calls to a statement, `postgres_pages.rs`), each
//! prepared once per connection by sqlx's statement cache, on one generic
//! plan (rebuilt only when the statistics or the schema change): memo's
//! connections set `plan_cache_mode =
//! force_generic_plan` (`db::postgres_options`), because left to choose,
//! PostgreSQL planned a page of the list again on every call once the table
//! was large. So each statement is written for a plan that does not need its
//! values: a page is read in an order only its own index has (`keyset!`;
//! pages of several owners in one statement, `pages_sql!`),
//! and a search reads its matches by id (`user_id + 0`: no b-tree range of
//! the owner). Where the text's value decides (a rare word read from the trigram
//! index), `memo_search_hits` plans its query per call, with the value. The
//! plans are checked by `postgres_plans.rs`.
//!
//! The search index is `memos_search`, a GIN index over `user_id`, `archived`
//! (btree_gin), `window_keys` (the memo's place in the list, migration 0006)
//! and the trigrams of `title` and `content` (pg_trgm), so an
//! `ILIKE '%text%'` reads either one owner's matching entries or only those
//! of one window of the owner's list. PostgreSQL keeps it in step with every
//! write in the write's own transaction, as any index.
//!
//! A search ([`search`]) reads windows of the list first: a page of a common
//! word is found in the first window or two, at the same cost in any
//! account. A word the windows do not fill the page with is rare, and its
//! matches are read from the index whole (up to [`SEARCH_CANDIDATES`]); if it
//! has more, the page is cut short after the windows read.

use sqlx::{PgConnection, Row as _, postgres::PgRow};
use time::{OffsetDateTime, macros::datetime};

use super::page::{
    Order, Page, PageRequest, Position, SEARCH_CANDIDATES, SEARCH_SCAN, TRIGRAM_CHARS,
};
use crate::db::{DbError, Memo, MemoChanges, Timestamp};

macro_rules! columns {
    () => {
        "id, title, content, archived, created_at, updated_at"
    };
}

/// The keyset condition and order per [`Order`] over a search's matches
/// (`hits`), after the position `$3` (id), `$4` (`updated_at`). The first
/// page binds a position before every memo (see [`position_binds`]).
macro_rules! ordered {
    ($head:expr, $tail:expr, Id) => {
        concat!($head, " AND id > $3 ORDER BY id", $tail)
    };
    ($head:expr, $tail:expr, IdDesc) => {
        concat!($head, " AND id < $3 ORDER BY id DESC", $tail)
    };
    ($head:expr, $tail:expr, UpdatedDesc) => {
        concat!(
            $head,
            " AND (updated_at, id) < ($4, $3) ORDER BY updated_at DESC, id DESC",
            $tail
        )
    };
}

/// The owner's memos after the position, in an order only the order's own
/// index has: `$1` owner, `$2` archived, `$3` id, `$4` `updated_at` (or the
/// four expressions given after the order); `$head` selects, `$tail` limits.
/// By id the order is `archived, id`, a range of
/// both, since `archived = $2 ... ORDER BY id` is an order the primary key
/// has too; `archived` leads the range because a b-tree ends a scan on a row
/// comparison only when its first column decides. By `-updated_at` no other
/// index has the order, and the row range misled the planner, so
/// `archived = $2` stays (docs/performance.md, "PostgreSQL's plans").
macro_rules! keyset {
    ($head:expr, $tail:expr, $order:ident) => {
        keyset!($head, $tail, $order, "$1", "$2", "$3", "$4")
    };
    ($head:expr, $tail:expr, Id, $owner:literal, $archived:literal, $id:literal, $at:literal) => {
        concat!(
            $head,
            " FROM memos WHERE user_id = ",
            $owner,
            " AND (archived, id) > (",
            $archived,
            ", ",
            $id,
            ") AND (archived, id) <= (",
            $archived,
            ", 9223372036854775807) ORDER BY archived, id",
            $tail
        )
    };
    ($head:expr, $tail:expr, IdDesc, $owner:literal, $archived:literal, $id:literal, $at:literal) => {
        concat!(
            $head,
            " FROM memos WHERE user_id = ",
            $owner,
            " AND (archived, id) < (",
            $archived,
            ", ",
            $id,
            ") AND (archived, id) >= (",
            $archived,
            ", -9223372036854775808) \
             ORDER BY archived DESC, id DESC",
            $tail
        )
    };
    ($head:expr, $tail:expr, UpdatedDesc, $owner:literal, $archived:literal, $id:literal, $at:literal) => {
        concat!(
            $head,
            " FROM memos WHERE user_id = ",
            $owner,
            " AND archived = ",
            $archived,
            " AND (updated_at, id) < (",
            $at,
            ", ",
            $id,
            ") ORDER BY updated_at DESC, id DESC",
            $tail
        )
    };
}

/// Several owners' pages in one statement (`postgres_pages.rs`): the arrays
/// `$1` owners, `$2` archived, `$3` ids and `$4` `updated_at`s of the
/// positions, `$5` limits; each page's rows come with its place in the
/// arrays (`n`, from 1). The statement does not sort them: a sort by place
/// and order copied every row once more in PostgreSQL (pgbench: 8%-25% more
/// statements a second without it, 4 pages each; docs/performance.md, "The
/// database's share; the pages' sort"); memo puts each page in its order
/// (`postgres_pages.rs`).
macro_rules! pages_sql {
    ($order:ident) => {
        concat!(
            "SELECT b.n, m.* FROM unnest($1::int8[], $2::bool[], $3::int8[], $4::timestamptz[], \
             $5::int8[]) WITH ORDINALITY AS b(owner, wanted_archived, after_id, after_at, lim, n) \
             CROSS JOIN LATERAL (",
            keyset!(
                concat!("SELECT ", columns!()),
                " LIMIT b.lim",
                $order,
                "b.owner",
                "b.wanted_archived",
                "b.after_id",
                "b.after_at"
            ),
            ") AS m"
        )
    };
}

/// A search by the index: `hits` is every match of the owner (counting no
/// further than `$7`; the `ILIKE` pattern is `$6`), with its `updated_at`,
/// from `memo_search_hits` (migration 0005: planned with the pattern's value,
/// through the trigram index); the page's ids are taken from them and only
/// those memos are read. One row comes back even for an empty page, to carry
/// the count.
macro_rules! indexed_search_sql {
    ($order:ident, $outer_order:expr) => {
        concat!(
            "WITH hits AS MATERIALIZED (SELECT id, updated_at FROM memo_search_hits($1, $2, $6, $7)) \
             SELECT (SELECT count(*) FROM hits) AS hits, m.* FROM (SELECT 1) AS one LEFT JOIN (SELECT ",
            columns!(),
            " FROM memos WHERE user_id + 0 = $1 AND archived::int = $2::int AND id IN (",
            ordered!("SELECT id FROM hits WHERE TRUE", " LIMIT $5", $order),
            ")) AS m ON TRUE ORDER BY ",
            $outer_order
        )
    };
}

/// A bounded scan: the next `$7` memos of the list, of which the matches of
/// `$6`, `$5` at most.
macro_rules! scan_sql {
    ($order:ident, $outer_order:expr) => {
        concat!(
            "SELECT m.* FROM (",
            keyset!(concat!("SELECT ", columns!()), " LIMIT $7", $order),
            ") AS m WHERE m.title ILIKE $6 OR m.content ILIKE $6 ORDER BY ",
            $outer_order,
            " LIMIT $5"
        )
    };
}

/// The position of the scan's last memo (`$5`: the scan's length).
macro_rules! scan_end_sql {
    ($order:ident) => {
        keyset!("SELECT id, updated_at", " OFFSET $5 - 1 LIMIT 1", $order)
    };
}

/// The windows' matches in order, then their marker rows (see [`Windowed`]).
const WINDOWED_SEARCH: &str = "SELECT id, title, content, archived, created_at, updated_at, kind \
     FROM memo_search_windows($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     WITH ORDINALITY AS w (id, title, content, archived, created_at, updated_at, kind, n) \
     ORDER BY n";

const SELECT_MEMO: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM memos WHERE id = $1 AND user_id = $2"
);

const UPDATE_MEMO: &str = concat!(
    "UPDATE memos SET title = COALESCE($3, title), content = COALESCE($4, content), \
     archived = COALESCE($5, archived), updated_at = $6 \
     WHERE id = $1 AND user_id = $2 RETURNING ",
    columns!()
);

const DELETE_MEMO: &str = "DELETE FROM memos WHERE id = $1 AND user_id = $2";

/// After every `updated_at` PostgreSQL and `time` can both hold.
const LAST_TIME: OffsetDateTime = datetime!(9999-12-31 23:59:59.999999 UTC);

/// The binds of a page's position: before every memo for the first page.
pub(super) fn position_binds(request: &PageRequest<'_>) -> (i64, OffsetDateTime) {
    match request.after {
        Some(Position { id, updated_at }) => (id, updated_at),
        None if request.order == Order::Id => (0, LAST_TIME),
        None => (i64::MAX, LAST_TIME),
    }
}

/// `%text%` for `ILIKE`, with the pattern's own characters escaped.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The memos of a batched statement's rows, each after an `i64` key in the first column (a
/// page's place in the batch, an insert's owner), read by their columns' places.
///
/// sqlx's `FromRow` finds each value's column by name and checks its type, value by value: a
/// third of the instructions of reading a page's rows (docs/performance.md, "The rows read by
/// place"). The rows of one statement share their columns, so the names and types are checked
/// once, on the first row read, and every value is then read by place without sqlx's check.
#[derive(Debug, Default)]
pub(super) struct KeyedMemos {
    checked: bool,
}

impl KeyedMemos {
    /// The key and the memo of `row`, a row of the statement whose earlier rows this read.
    pub(super) fn read(&mut self, row: &PgRow) -> Result<(i64, Memo), sqlx::Error> {
        if !self.checked {
            check_keyed_memo_columns(row)?;
            self.checked = true;
        }
        let memo = Memo {
            id: row.try_get_unchecked(1)?,
            title: row.try_get_unchecked(2)?,
            content: row.try_get_unchecked(3)?,
            archived: row.try_get_unchecked(4)?,
            created_at: row.try_get_unchecked(5)?,
            updated_at: row.try_get_unchecked(6)?,
        };
        Ok((row.try_get_unchecked(0)?, memo))
    }
}

/// Each of `rows` read by [`KeyedMemos`] and made `keyed(key, memo)`.
pub(super) fn keyed_memos<T>(
    rows: &[PgRow],
    keyed: impl Fn(i64, Memo) -> T,
) -> Result<Vec<T>, sqlx::Error> {
    let mut memos = KeyedMemos::default();
    rows.iter()
        .map(|row| memos.read(row).map(|(key, memo)| keyed(key, memo)))
        .collect()
}

/// Whether a column's type is one a Rust type decodes.
type Decodes = fn(&sqlx::postgres::PgTypeInfo) -> bool;

fn decodes<T: sqlx::Type<sqlx::Postgres>>(ty: &sqlx::postgres::PgTypeInfo) -> bool {
    T::compatible(ty)
}

/// The columns [`KeyedMemos::read`] reads: the key (any name), then [`columns!`].
const KEYED_MEMO_COLUMNS: [(Option<&str>, Decodes); 7] = [
    (None, decodes::<i64>),
    (Some("id"), decodes::<i64>),
    (Some("title"), decodes::<String>),
    (Some("content"), decodes::<String>),
    (Some("archived"), decodes::<bool>),
    (Some("created_at"), decodes::<Timestamp>),
    (Some("updated_at"), decodes::<Timestamp>),
];

/// Checks that `row` holds an `i64` and then a memo's columns, by name and type: exactly
/// these columns in this order (stricter than `FromRow`, which finds its columns anywhere).
fn check_keyed_memo_columns(row: &PgRow) -> Result<(), sqlx::Error> {
    use sqlx::{Column as _, TypeInfo as _};
    let unexpected = |index: usize, why: String| sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: why.into(),
    };
    let columns = row.columns();
    if columns.len() != KEYED_MEMO_COLUMNS.len() {
        let why = format!(
            "{} columns, where a key and a memo are {}",
            columns.len(),
            KEYED_MEMO_COLUMNS.len()
        );
        return Err(unexpected(columns.len().min(KEYED_MEMO_COLUMNS.len()), why));
    }
    for (index, (column, (name, decodes))) in columns.iter().zip(KEYED_MEMO_COLUMNS).enumerate() {
        if let Some(name) = name
            && name != column.name()
        {
            return Err(unexpected(
                index,
                format!("column {}, expected {name}", column.name()),
            ));
        }
        if !decodes(column.type_info()) {
            let why = format!(
                "column {} of type {}",
                column.name(),
                column.type_info().name()
            );
            return Err(unexpected(index, why));
        }
    }
    Ok(())
}

fn memo_from_row(row: &PgRow) -> Result<Memo, sqlx::Error> {
    Ok(Memo {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        content: row.try_get("content")?,
        archived: row.try_get("archived")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) async fn memo(
    connection: &mut PgConnection,
    id: i64,
    user_id: i64,
) -> Result<Option<Memo>, DbError> {
    Ok(sqlx::query_as::<_, Memo>(SELECT_MEMO)
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut *connection)
        .await?)
}

/// A page of the memos that contain `search` (a page of the list alone is
/// read by `postgres_pages.rs`, batched with other owners').
pub(super) async fn search(
    connection: &mut PgConnection,
    request: &PageRequest<'_>,
    search: &str,
) -> Result<Page, DbError> {
    let pattern = like_pattern(search);
    if !has_trigram(search) {
        return scan(&mut *connection, request, &pattern).await;
    }
    let partial = match windowed_search(&mut *connection, request, &pattern).await? {
        Windowed::Page(page) => return Ok(page),
        Windowed::Partial(page) => Some(page),
        Windowed::Uncovered => None,
    };
    // A rare word: its few matches, wherever they are, from the index.
    if let Some(page) = indexed_search(&mut *connection, request, &pattern).await? {
        return Ok(page);
    }
    match partial {
        Some(page) => Ok(page),
        None => scan(&mut *connection, request, &pattern).await,
    }
}

/// What [`windowed_search`] found.
enum Windowed {
    /// The page, as the list's order has it.
    Page(Page),
    /// The matches of the windows read, fewer than a page, with `next` after
    /// the last window: the word is rare in this part of the list.
    Partial(Page),
    /// The list's memos lie too far apart for the window entries (ids or
    /// times beyond their top level).
    Uncovered,
}

/// Memos per window: enough to fill the page with a word in 1 memo of 128.
fn search_window(limit: i64) -> i64 {
    ((limit + 1) * 128).clamp(1_024, 16_384)
}

/// Windows one call reads at most before it asks the index for a rare word.
const SEARCH_WINDOWS: i32 = 4;

/// The page from windows of the list (`memo_search_windows`, migration
/// 0006): a few thousand memos at a time, of which only the matches are
/// read, so the cost is that of the windows read, not of the account.
async fn windowed_search(
    connection: &mut PgConnection,
    request: &PageRequest<'_>,
    pattern: &str,
) -> Result<Windowed, DbError> {
    let (id, updated_at) = position_binds(request);
    let limit = request.limit();
    let rows = sqlx::query(WINDOWED_SEARCH)
        .bind(request.user_id)
        .bind(request.archived)
        .bind(pattern)
        .bind(order_code(request.order))
        .bind(id)
        .bind(updated_at)
        .bind(i32::try_from(limit + 1).unwrap_or(i32::MAX))
        .bind(i32::try_from(search_window(limit)).unwrap_or(i32::MAX))
        .bind(SEARCH_WINDOWS)
        .fetch_all(&mut *connection)
        .await?;
    let mut memos = Vec::with_capacity(rows.len());
    let mut resume = None;
    for row in &rows {
        match row.try_get::<i32, _>("kind")? {
            0 => memos.push(memo_from_row(row)?),
            1 => {
                resume = Some(Position {
                    id: row.try_get("id")?,
                    updated_at: row.try_get("updated_at")?,
                });
            }
            _ => return Ok(Windowed::Uncovered),
        }
    }
    // A resume row comes only after a short page.
    Ok(match resume {
        Some(next) => Windowed::Partial(Page {
            memos,
            next: Some(next),
        }),
        None => Windowed::Page(Page::from_rows(memos, limit)),
    })
}

/// `memo_search_windows`' code for an order.
fn order_code(order: Order) -> i32 {
    match order {
        Order::Id => 0,
        Order::IdDesc => 1,
        Order::UpdatedDesc => 2,
    }
}

/// The list's statement of `order` for several pages at once (`pages_sql!`).
pub(super) fn pages_statement(order: Order) -> &'static str {
    match order {
        Order::Id => pages_sql!(Id),
        Order::IdDesc => pages_sql!(IdDesc),
        Order::UpdatedDesc => pages_sql!(UpdatedDesc),
    }
}

/// Whether pg_trgm can take a trigram from `search`: three letters or
/// digits in a row (it splits text into words at everything else). Without
/// one the trigram index would be read whole, all owners' entries, so such a
/// search takes the bounded scan instead.
fn has_trigram(search: &str) -> bool {
    let mut run = 0;
    search.chars().any(|c| {
        run = if c.is_alphanumeric() { run + 1 } else { 0 };
        run >= TRIGRAM_CHARS
    })
}

/// The page from the index, or `None` when the owner has more than
/// [`SEARCH_CANDIDATES`] matches.
async fn indexed_search(
    connection: &mut PgConnection,
    request: &PageRequest<'_>,
    pattern: &str,
) -> Result<Option<Page>, DbError> {
    let sql = match request.order {
        Order::Id => indexed_search_sql!(Id, "m.id"),
        Order::IdDesc => indexed_search_sql!(IdDesc, "m.id DESC"),
        Order::UpdatedDesc => indexed_search_sql!(UpdatedDesc, "m.updated_at DESC, m.id DESC"),
    };
    let (id, updated_at) = position_binds(request);
    let limit = request.limit();
    let rows = sqlx::query(sql)
        .bind(request.user_id)
        .bind(request.archived)
        .bind(id)
        .bind(updated_at)
        .bind(limit + 1)
        .bind(pattern)
        .bind(SEARCH_CANDIDATES + 1)
        .fetch_all(&mut *connection)
        .await?;
    let hits: i64 = match rows.first() {
        Some(row) => row.try_get("hits")?,
        None => 0,
    };
    if hits > SEARCH_CANDIDATES {
        return Ok(None);
    }
    let mut memos = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<i64>, _>("id")?.is_some() {
            memos.push(memo_from_row(row)?);
        }
    }
    Ok(Some(Page::from_rows(memos, limit)))
}

/// The next [`SEARCH_SCAN`] memos of the list, of which the matches.
async fn scan(
    connection: &mut PgConnection,
    request: &PageRequest<'_>,
    pattern: &str,
) -> Result<Page, DbError> {
    let (sql, end_sql) = match request.order {
        Order::Id => (scan_sql!(Id, "m.id"), scan_end_sql!(Id)),
        Order::IdDesc => (scan_sql!(IdDesc, "m.id DESC"), scan_end_sql!(IdDesc)),
        Order::UpdatedDesc => (
            scan_sql!(UpdatedDesc, "m.updated_at DESC, m.id DESC"),
            scan_end_sql!(UpdatedDesc),
        ),
    };
    let (id, updated_at) = position_binds(request);
    let limit = request.limit();
    let memos = sqlx::query_as::<_, Memo>(sql)
        .bind(request.user_id)
        .bind(request.archived)
        .bind(id)
        .bind(updated_at)
        .bind(limit + 1)
        .bind(pattern)
        .bind(SEARCH_SCAN)
        .fetch_all(&mut *connection)
        .await?;
    let page = Page::from_rows(memos, limit);
    if page.next.is_some() {
        return Ok(page);
    }
    // A short page: the next one starts after the scan's last memo, if the
    // scan's bound (not the list's end) stopped it.
    let end = sqlx::query_as::<_, (i64, Timestamp)>(end_sql)
        .bind(request.user_id)
        .bind(request.archived)
        .bind(id)
        .bind(updated_at)
        .bind(SEARCH_SCAN)
        .fetch_optional(&mut *connection)
        .await?;
    Ok(Page {
        next: end.map(|(id, updated_at)| Position {
            id,
            updated_at: updated_at.at(),
        }),
        ..page
    })
}

pub(super) async fn update(
    connection: &mut PgConnection,
    id: i64,
    user_id: i64,
    changes: &MemoChanges<'_>,
) -> Result<Option<Memo>, DbError> {
    Ok(sqlx::query_as::<_, Memo>(UPDATE_MEMO)
        .bind(id)
        .bind(user_id)
        .bind(changes.title)
        .bind(changes.content)
        .bind(changes.archived)
        .bind(crate::db::now())
        .fetch_optional(&mut *connection)
        .await?)
}

pub(super) async fn delete(
    connection: &mut PgConnection,
    id: i64,
    user_id: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(DELETE_MEMO)
        .bind(id)
        .bind(user_id)
        .execute(&mut *connection)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Every read statement, named by what and in which order, for the plan
/// checks.
#[cfg(test)]
pub(super) fn reads() -> Vec<(&'static str, &'static str)> {
    vec![
        ("pages by id", pages_statement(Order::Id)),
        ("pages by -id", pages_statement(Order::IdDesc)),
        ("pages by -updated_at", pages_statement(Order::UpdatedDesc)),
        ("search by windows", WINDOWED_SEARCH),
        ("search by id", indexed_search_sql!(Id, "m.id")),
        ("search by -id", indexed_search_sql!(IdDesc, "m.id DESC")),
        (
            "search by -updated_at",
            indexed_search_sql!(UpdatedDesc, "m.updated_at DESC, m.id DESC"),
        ),
        ("scan by id", scan_sql!(Id, "m.id")),
        ("scan by -id", scan_sql!(IdDesc, "m.id DESC")),
        (
            "scan by -updated_at",
            scan_sql!(UpdatedDesc, "m.updated_at DESC, m.id DESC"),
        ),
        ("scan end by id", scan_end_sql!(Id)),
        ("scan end by -id", scan_end_sql!(IdDesc)),
        ("scan end by -updated_at", scan_end_sql!(UpdatedDesc)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "prints the statements, for EXPLAIN by hand"]
    fn print_statements() {
        for (name, sql) in reads() {
            println!("-- {name}\n{sql};");
        }
    }

    #[test]
    fn only_text_with_three_letters_or_digits_in_a_row_is_searched_by_trigrams() {
        for text in ["議事録", "milk", "a42b", "週次 議事録"] {
            assert!(has_trigram(text), "{text}");
        }
        for text in ["議事", "a b c", "。。。", "!!!", "ab cd"] {
            assert!(!has_trigram(text), "{text}");
        }
    }

    /// A memo's columns, after a key, as `pages_sql!` and the inserts return them.
    const KEYED: &str = "SELECT 7::int8 AS n, 42::int8 AS id, 'a title'::text AS title, \
         '本文'::text AS content, TRUE AS archived, \
         '2026-12-07 01:02:03.456789+00'::timestamptz AS created_at, \
         '2026-12-07 04:05:06+00'::timestamptz AS updated_at";

    #[tokio::test]
    async fn memos_are_read_by_place_once_their_columns_are_checked() {
        use sqlx::Connection as _;
        let Some((_scratch, url)) = super::super::postgres_plans::Scratch::create().await else {
            return;
        };
        let mut connection = PgConnection::connect(&url).await.expect("connect");
        let rows = sqlx::query(&format!("{KEYED} UNION ALL {KEYED}"))
            .fetch_all(&mut connection)
            .await
            .expect("rows");
        let memos = keyed_memos(&rows, |key, memo| (key, memo)).expect("a memo's columns");
        let expected = Memo {
            id: 42,
            title: "a title".into(),
            content: "本文".into(),
            archived: true,
            created_at: Timestamp::try_from(datetime!(2026-12-07 01:02:03.456789 UTC))
                .expect("a time"),
            updated_at: Timestamp::try_from(datetime!(2026-12-07 04:05:06 UTC)).expect("a time"),
        };
        assert_eq!(memos, [(7, expected.clone()), (7, expected)]);
        assert!(
            keyed_memos(&[], |key, memo| (key, memo))
                .expect("no rows")
                .is_empty()
        );

        // Columns out of place, of another type, or missing are refused, not misread.
        for wrong in [
            KEYED.replace(
                "'a title'::text AS title, '本文'::text AS content",
                "'本文'::text AS content, 'a title'::text AS title",
            ),
            KEYED.replace("TRUE AS archived", "1::int4 AS archived"),
            KEYED.replace("7::int8 AS n", "'7'::text AS n"),
            KEYED.replace(", '2026-12-07 04:05:06+00'::timestamptz AS updated_at", ""),
        ] {
            let rows = sqlx::query(&wrong)
                .fetch_all(&mut connection)
                .await
                .expect("rows");
            let refused = keyed_memos(&rows, |key, memo| (key, memo));
            assert!(
                matches!(refused, Err(sqlx::Error::ColumnDecode { .. })),
                "{wrong}: {refused:?}"
            );
        }
    }

    /// A `timestamptz` read by [`Timestamp`] from its microseconds, and by sqlx's
    /// `OffsetDateTime`.
    async fn both_reads(
        connection: &mut PgConnection,
        text: &str,
    ) -> (Result<Timestamp, sqlx::Error>, Option<OffsetDateTime>) {
        let ours = sqlx::query_scalar("SELECT $1::timestamptz")
            .bind(text)
            .fetch_one(&mut *connection)
            .await;
        let theirs = sqlx::query_scalar("SELECT $1::timestamptz")
            .bind(text)
            .fetch_one(&mut *connection)
            .await
            .ok();
        (ours, theirs)
    }

    #[tokio::test]
    async fn times_are_read_from_their_microseconds_as_sqlx_reads_them() {
        use sqlx::Connection as _;
        let Some((_scratch, url)) = super::super::postgres_plans::Scratch::create().await else {
            return;
        };
        let mut connection = PgConnection::connect(&url).await.expect("connect");
        for text in [
            "2026-12-07 01:02:03.456789+00",
            "2026-12-07 10:02:03.4+09",
            "2000-01-01 00:00:00+00",
            "1999-12-31 23:59:59.999999+00",
            "1970-01-01 00:00:00+00",
            "1969-12-31 23:59:59.999999+00",
            "2024-02-29 12:00:00.5+00",
            "1900-03-01 00:00:00+00",
            "0001-01-01 00:00:00+00 BC",
            "9999-12-31 23:59:59.999999+00",
        ] {
            let (ours, theirs) = both_reads(&mut connection, text).await;
            let theirs = theirs.expect("sqlx reads it");
            let ours = ours.expect("in RFC 3339's years");
            assert_eq!(ours.at(), theirs, "{text}");
            assert_eq!(Timestamp::try_from(theirs).ok(), Some(ours), "{text}");
        }
        // Years RFC 3339 cannot write, and the infinities (sqlx's `OffsetDateTime` panics on
        // them), are a decode error.
        for text in [
            "10000-01-01 00:00:00+00",
            "0002-12-31 23:59:59+00 BC",
            "infinity",
            "-infinity",
        ] {
            let ours = sqlx::query_scalar::<_, Timestamp>("SELECT $1::timestamptz")
                .bind(text)
                .fetch_one(&mut connection)
                .await;
            assert!(
                matches!(ours, Err(sqlx::Error::ColumnDecode { .. })),
                "{text}: {ours:?}"
            );
        }
        // A simple query's rows are text: read through sqlx's `OffsetDateTime`.
        let row = sqlx::raw_sql("SELECT '2026-12-07 01:02:03.456789+00'::timestamptz")
            .fetch_one(&mut connection)
            .await
            .expect("a row");
        let read: Timestamp = row.try_get(0).expect("a time in text");
        assert_eq!(read.answered(), "2026-12-07T01:02:03.456789Z");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_off\\"), r"%50\%\_off\\%");
        assert_eq!(like_pattern("会議"), "%会議%");
    }
}

//! `bench-sqlite-ceiling`: SQLite alone doing memo's writes, at the best case
//! of memo's group commit, so that `bench/ceiling.sh` can show what the
//! database and the disk allow before any HTTP, token or JSON work.
//!
//! One thread owns one rusqlite connection to a database memo made (its
//! migrations, triggers and search index) with memo's settings
//! (`synchronous=FULL`, WAL), and runs batches of exactly `--batch` writes:
//! `BEGIN IMMEDIATE`, each write in a savepoint with memo's own statement
//! (its `RETURNING` row read), `COMMIT`. memo's writer does the same work per
//! batch, and with `--batch` equal to the benchmark's connections it never
//! gets a fuller batch than this, so its write rows cannot beat this count.
//! Prints `BENCH_RESULT requests=N duration_us=D batches=B`.
//!
//! `bench-sqlite-ceiling --db PATH --user NAME --write insert|update
//!  [--ids 1,2,3] [--batch 8] [--duration 5]`

use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};

/// memo's insert and update (crates/memo/src/db/memos/sqlite.rs), verbatim.
const INSERT_MEMO: &str = "INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) \
     VALUES (?1, ?2, ?3, FALSE, ?4, ?4) RETURNING id, title, content, created_at, updated_at, archived";
const UPDATE_MEMO: &str = "UPDATE memos SET title = COALESCE(?3, title), content = COALESCE(?4, content), \
     archived = COALESCE(?5, archived), updated_at = ?6 \
     WHERE id = ?1 AND user_id = ?2 RETURNING id, title, content, created_at, updated_at, archived";

/// The bodies `bench/run.sh` sends in its POST and PATCH rows.
const TITLE: &str = "written by wrk";
const CONTENT: &str = "A new memo from the benchmark, about eighty characters of content.";
const EDITED_TITLE: &str = "edited by wrk";

#[derive(Clone, Copy, PartialEq)]
enum Write {
    Insert,
    Update,
}

struct Args {
    db: String,
    user: String,
    write: Write,
    ids: Vec<i64>,
    batch: usize,
    duration: Duration,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        db: String::new(),
        user: String::new(),
        write: Write::Insert,
        ids: Vec::new(),
        batch: 8,
        duration: Duration::from_secs(5),
    };
    let number = |text: String| text.parse::<u64>().map_err(|e| format!("{text:?}: {e}"));
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => args.db = value()?,
            "--user" => args.user = value()?,
            "--write" => {
                args.write = match value()?.as_str() {
                    "insert" => Write::Insert,
                    "update" => Write::Update,
                    other => return Err(format!("--write insert|update, not {other:?}")),
                }
            }
            "--ids" => {
                args.ids = value()?
                    .split(',')
                    .map(|id| id.parse().map_err(|e| format!("{id:?}: {e}")))
                    .collect::<Result<_, _>>()?;
            }
            "--batch" => {
                args.batch = usize::try_from(number(value()?)?).map_err(|e| e.to_string())?
            }
            "--duration" => args.duration = Duration::from_secs(number(value()?)?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.db.is_empty() || args.user.is_empty() || args.batch == 0 {
        return Err("--db, --user and a --batch above 0 are required".into());
    }
    if args.write == Write::Update && args.ids.is_empty() {
        return Err("--write update needs --ids".into());
    }
    Ok(args)
}

/// memo's connection settings (crates/memo/src/db/sqlite/mod.rs).
fn open(path: &str) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // As memo opens its file: held by this process alone (`unix-excl`).
    let conn = Connection::open_with_flags_and_vfs(path, flags, "unix-excl")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

fn execute(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// One write with its `RETURNING` row read as memo reads it; a write that
/// touched no row fails (`QueryReturnedNoRows`).
fn write(
    conn: &Connection,
    args: &Args,
    user_id: i64,
    n: usize,
    now: &str,
) -> rusqlite::Result<()> {
    let read = |row: &rusqlite::Row<'_>| {
        let title: String = row.get(1)?;
        let content: String = row.get(2)?;
        Ok((title, content))
    };
    match args.write {
        Write::Insert => conn
            .prepare_cached(INSERT_MEMO)?
            .query_row(params![user_id, TITLE, CONTENT, now], read)?,
        Write::Update => {
            let id = args.ids[n % args.ids.len()];
            conn.prepare_cached(UPDATE_MEMO)?.query_row(
                params![id, user_id, EDITED_TITLE, None::<&str>, None::<bool>, now],
                read,
            )?
        }
    };
    Ok(())
}

/// Now as memo stores it: RFC 3339 in UTC with six fractional digits.
fn now_text() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    )
}

fn run(args: &Args) -> rusqlite::Result<(usize, usize, Duration)> {
    let conn = open(&args.db)?;
    let user_id: i64 = conn.query_row(
        "SELECT id FROM users WHERE user_name = ?1",
        [&args.user],
        |row| row.get(0),
    )?;
    let start = Instant::now();
    let (mut writes, mut batches) = (0, 0);
    while start.elapsed() < args.duration {
        let now = now_text();
        execute(&conn, "BEGIN IMMEDIATE")?;
        for _ in 0..args.batch {
            execute(&conn, "SAVEPOINT write")?;
            write(&conn, args, user_id, writes, &now)?;
            execute(&conn, "RELEASE write")?;
            writes += 1;
        }
        execute(&conn, "COMMIT")?;
        batches += 1;
    }
    Ok((writes, batches, start.elapsed()))
}

fn main() {
    let args = match args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("bench-sqlite-ceiling: {err}");
            std::process::exit(2);
        }
    };
    match run(&args) {
        Ok((writes, batches, took)) => println!(
            "BENCH_RESULT requests={writes} duration_us={} batches={batches}",
            took.as_micros()
        ),
        Err(err) => {
            eprintln!("bench-sqlite-ceiling: {err}");
            std::process::exit(1);
        }
    }
}

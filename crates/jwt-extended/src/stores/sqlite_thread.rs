//! The group commit on a SQLite file: a thread of its own with a rusqlite connection to the
//! pool's file and its statements prepared once, instead of a task sending each statement to
//! the pool's connection.
//!
//! sqlx runs every SQLite statement on the connection's worker thread and hands the result back
//! to the runtime: two thread wake-ups and a boxed future per statement, and a batch of `n`
//! rotations is `n + 2` statements. That hand-off, not SQLite, was a third of a rotating
//! refresh's CPU (`docs/performance.md`). Here the thread takes what has queued, runs the
//! whole batch and wakes each waiting request once. The pool still serves the store's reads
//! and migrations. An in-memory pool has no file another connection could open: its writes
//! stay on the pool (`sqlite_writes.rs`).

use std::{path::PathBuf, time::Duration};

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, Row, params, types::FromSql};
use sqlx::SqlitePool;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{
    sql::{
        CREATE_SQL, END_SQL, MARK_REVOKED_SQL, READ_FAMILY_SQL, REVOKE_SQL, SWAP_SQL, Settled,
        settle,
    },
    sqlite_writes::{Job, MAX_BATCH, Write, Written, no_answer, reply},
    traits::{RefreshId, RotateOutcome, StoreError},
};

/// What the writer's connection copies from the pool's: the file, its VFS and the two settings
/// that decide durability and waiting.
struct FileSettings {
    path: PathBuf,
    /// The VFS the pool's options name (`?vfs=` in its URL): the writer opens the file the
    /// same way, so that both lock it alike (with `unix-excl`, in the process's memory).
    vfs: Option<String>,
    synchronous: i64,
    busy_timeout: Duration,
}

/// Starts the writer thread on the pool's file, or gives `queue` back when the database is in
/// memory or the file cannot be opened a second time (the pool then writes).
pub(super) async fn start(
    pool: &SqlitePool,
    queue: UnboundedReceiver<Job>,
) -> Result<(), UnboundedReceiver<Job>> {
    let settings = match file_settings(pool).await {
        Ok(Some(settings)) => settings,
        Ok(None) => return Err(queue),
        Err(error) => {
            tracing::warn!(%error, "cannot read the SQLite store's settings: its writes use the pool");
            return Err(queue);
        }
    };
    let connection = match open(&settings) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, "cannot open the SQLite store's file again: its writes use the pool");
            return Err(queue);
        }
    };
    let spawned = std::thread::Builder::new()
        .name("jwt-sqlite-writer".to_owned())
        .spawn(move || serve(&connection, queue));
    if let Err(error) = spawned {
        // The queue went with the closure: the store's writes fail ("stopped").
        tracing::error!(%error, "cannot start the SQLite store's writer thread");
    }
    Ok(())
}

/// The pool's file, `synchronous` and `busy_timeout`; `None` for a database in memory, whose
/// file name SQLite reports as empty, and for a pool in exclusive locking mode, which would
/// keep a second connection from ever writing.
async fn file_settings(pool: &SqlitePool) -> Result<Option<FileSettings>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    let path: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&mut *connection)
            .await?;
    let locking: String = sqlx::query_scalar("PRAGMA locking_mode")
        .fetch_one(&mut *connection)
        .await?;
    if path.is_empty() || locking.eq_ignore_ascii_case("exclusive") {
        return Ok(None);
    }
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *connection)
        .await?;
    let timeout_ms: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *connection)
        .await?;
    Ok(Some(FileSettings {
        path: PathBuf::from(path),
        vfs: vfs_of(pool),
        synchronous,
        busy_timeout: Duration::from_millis(u64::try_from(timeout_ms).unwrap_or_default()),
    }))
}

/// The VFS that `pool`'s connections are opened with, when its options name one. Read from
/// the options' URL, made for a placeholder file name: sqlx panics on a URL it cannot parse,
/// which some file names make (`a:b`, say).
fn vfs_of(pool: &SqlitePool) -> Option<String> {
    let options = (*pool.connect_options()).clone().filename("vfs-probe");
    let url = sqlx::ConnectOptions::to_url_lossy(&options);
    url.query_pairs()
        .find(|(key, _)| key == "vfs")
        .map(|(_, vfs)| vfs.into_owned())
}

fn open(settings: &FileSettings) -> rusqlite::Result<Connection> {
    let connection = match &settings.vfs {
        Some(vfs) => {
            Connection::open_with_flags_and_vfs(&settings.path, OpenFlags::default(), vfs)?
        }
        None => Connection::open(&settings.path)?,
    };
    connection.pragma_update(None, "synchronous", settings.synchronous)?;
    connection.busy_timeout(settings.busy_timeout)?;
    Ok(connection)
}

/// Commits what has queued, batch after batch, until the last store clone is dropped.
fn serve(connection: &Connection, mut queue: UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = queue.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(connection, std::mem::take(&mut batch));
    }
}

/// Commits `jobs` in one transaction, or, when that fails, each in its own.
fn commit(connection: &Connection, jobs: Vec<Job>) {
    let writes: Vec<&Write> = jobs.iter().map(|job| &job.write).collect();
    let answers = match in_one_transaction(connection, &writes) {
        Ok(answers) => answers.into_iter().map(Ok).collect(),
        Err(error) if jobs.len() == 1 => vec![Err(error)],
        Err(_) => writes
            .iter()
            .map(|write| {
                in_one_transaction(connection, std::slice::from_ref(write))
                    .and_then(|mut one| one.pop().ok_or_else(no_answer))
            })
            .collect(),
    };
    reply(jobs, answers);
}

fn in_one_transaction(
    connection: &Connection,
    writes: &[&Write],
) -> Result<Vec<Written>, StoreError> {
    // IMMEDIATE: the write lock is taken (or waited for) before anything is read.
    connection
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(StoreError::new)?;
    let applied: rusqlite::Result<Vec<Written>> = writes
        .iter()
        .map(|write| apply(connection, write))
        .collect();
    let committed = applied.and_then(|answers| {
        connection.execute_batch("COMMIT")?;
        Ok(answers)
    });
    committed.map_err(|error| {
        // Nothing to undo when the transaction already ended.
        let _ = connection.execute_batch("ROLLBACK");
        StoreError::new(error)
    })
}

fn apply(connection: &Connection, write: &Write) -> rusqlite::Result<Written> {
    match write {
        Write::Create { session, refresh } => {
            connection.prepare_cached(CREATE_SQL)?.execute(params![
                session.id,
                session.user,
                session.created_at,
                session.last_used_at,
                session.user_agent,
                refresh.jti,
                refresh.exp,
            ])?;
        }
        Write::Rotate {
            family,
            presented,
            successor,
            now,
            grace,
        } => return rotate(connection, family, presented, successor, *now, *grace),
        Write::Revoke { jti, until } => {
            connection
                .prepare_cached(REVOKE_SQL)?
                .execute(params![jti, until])?;
        }
        Write::RevokeFamily { family, now } => {
            connection
                .prepare_cached(MARK_REVOKED_SQL)?
                .execute(params![now, family])?;
        }
        Write::End { user, family, now } => {
            let ended = connection
                .prepare_cached(END_SQL)?
                .query_row(params![now, family, user], five_columns)
                .optional()?;
            return Ok(Written::Ended(ended));
        }
    }
    Ok(Written::Done)
}

/// A row of five columns as a tuple (a family's row, a login just ended).
fn five_columns<A: FromSql, B: FromSql, C: FromSql, D: FromSql, E: FromSql>(
    row: &Row<'_>,
) -> rusqlite::Result<(A, B, C, D, E)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn rotate(
    connection: &Connection,
    family: &str,
    presented: &str,
    successor: &RefreshId,
    now: i64,
    grace: Duration,
) -> rusqlite::Result<Written> {
    let swapped = connection.prepare_cached(SWAP_SQL)?.execute(params![
        now,
        successor.jti,
        successor.exp,
        family,
        presented
    ])?;
    if swapped == 1 {
        return Ok(Written::Rotated(RotateOutcome::Rotated));
    }
    let row = connection
        .prepare_cached(READ_FAMILY_SQL)?
        .query_row(params![family], five_columns)
        .optional()?;
    let outcome = match settle(row, presented, now, grace) {
        Settled::Outcome(outcome) => outcome,
        Settled::Reused => {
            connection
                .prepare_cached(MARK_REVOKED_SQL)?
                .execute(params![now, family])?;
            RotateOutcome::Reused
        }
    };
    Ok(Written::Rotated(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::{
        sql::SCHEMA,
        sqlite_writes::{
            Writer,
            test_jobs::{create, job},
        },
    };

    /// This process's threads' names, as Linux keeps them (15 bytes).
    fn thread_names() -> Vec<String> {
        let tasks = std::fs::read_dir("/proc/self/task").expect("/proc");
        tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim_end().to_owned())
            .collect()
    }

    fn families(connection: &Connection) -> Vec<String> {
        let mut statement = connection
            .prepare("SELECT family FROM jwt_sessions ORDER BY family")
            .expect("prepared");
        let rows = statement
            .query_map([], |row| row.get(0))
            .expect("read")
            .collect::<rusqlite::Result<Vec<String>>>();
        rows.expect("rows")
    }

    #[tokio::test]
    async fn a_failing_write_fails_alone_and_the_rest_of_its_batch_commits() {
        let connection = Connection::open_in_memory().expect("sqlite");
        for statement in SCHEMA {
            connection.execute_batch(statement).expect("schema");
        }
        let (first, answer) = job(create("fam-dup"));
        commit(&connection, vec![first]);
        assert!(answer.await.expect("answered").is_ok());

        let (dup, dup_answer) = job(create("fam-dup"));
        let (ok, ok_answer) = job(create("fam-ok"));
        let (rotate, rotate_answer) = job(Write::Rotate {
            family: "fam-dup".to_owned(),
            presented: "fam-dup-r1".to_owned(),
            successor: RefreshId {
                jti: "fam-dup-r2".to_owned(),
                exp: None,
            },
            now: 2,
            grace: Duration::ZERO,
        });
        commit(&connection, vec![ok, dup, rotate]);

        assert!(
            dup_answer.await.expect("answered").is_err(),
            "same family twice"
        );
        assert!(ok_answer.await.expect("answered").is_ok());
        assert!(matches!(
            rotate_answer.await.expect("answered"),
            Ok(Written::Rotated(RotateOutcome::Rotated))
        ));
        assert_eq!(families(&connection), ["fam-dup", "fam-ok"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_is_written_on_the_writer_thread_with_its_settings_and_memory_or_a_locked_file_is_not()
     {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
        let dir = std::env::temp_dir().join(format!("jwt-thread-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a folder");
        let options = SqliteConnectOptions::new()
            .filename(dir.join("sessions.db"))
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .expect("sqlite");
        let settings = file_settings(&pool).await.expect("settings");
        let settings = settings.expect("a file");
        assert_eq!(settings.path, dir.join("sessions.db"));
        assert_eq!(settings.synchronous, 2, "FULL");
        assert_eq!(settings.vfs, None, "SQLite's default VFS");
        let unix_excl = SqlitePoolOptions::new().connect_lazy_with(
            SqliteConnectOptions::new()
                .filename(dir.join("sessions.db"))
                .vfs("unix-excl"),
        );
        assert_eq!(
            vfs_of(&unix_excl).as_deref(),
            Some("unix-excl"),
            "the writer opens the file with the pool's VFS"
        );
        let odd_name = SqlitePoolOptions::new()
            .connect_lazy_with(SqliteConnectOptions::new().filename("sessions:v2.db"));
        assert_eq!(
            vfs_of(&odd_name),
            None,
            "no panic on a name sqlx cannot make a URL of"
        );
        let no_such_vfs = FileSettings {
            vfs: Some("no-such-vfs".to_owned()),
            ..settings
        };
        assert!(open(&no_such_vfs).is_err(), "open uses the VFS");

        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await.expect("schema");
        }
        let writer = Writer::start(pool.clone());
        let revoke = Write::Revoke {
            jti: "gone".to_owned(),
            until: i64::MAX / 2,
        };
        let written = writer.write(revoke).await;
        assert!(matches!(written, Ok(Written::Done)), "{written:?}");
        assert!(
            thread_names().iter().any(|name| name == "jwt-sqlite-writ"),
            "the write ran on the writer thread: {:?}",
            thread_names()
        );

        let memory = SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .expect("sqlite");
        assert!(file_settings(&memory).await.expect("settings").is_none());
        let exclusive = SqliteConnectOptions::new()
            .filename(dir.join("exclusive.db"))
            .create_if_missing(true)
            .locking_mode(sqlx::sqlite::SqliteLockingMode::Exclusive);
        let exclusive = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(exclusive)
            .await
            .expect("sqlite");
        assert!(
            file_settings(&exclusive).await.expect("settings").is_none(),
            "a pool that locks its file keeps its writes"
        );
        exclusive.close().await;
        pool.close().await;
        std::fs::remove_dir_all(dir).expect("removed");
    }
}

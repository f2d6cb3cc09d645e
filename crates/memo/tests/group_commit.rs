//! SQLite's group commit for memo writes (`db/sqlite/group_commit.rs`): many
//! concurrent writes share transactions, every acknowledged write is on disk
//! with its content, a write that fails inside a batch is undone alone, and
//! closing the database answers every queued write without hanging.
//!
//! Each test holds SQLite's write lock from a connection of its own where it
//! needs writes to pile up in the queue, so that they meet in one batch.
//! The writer thread logs to the subscriber current where the database was
//! opened, so the batch sizes are seen by the test's subscriber.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use memo::db::{Db, DbError, MAX_PAGE, Memo, MemoChanges, NewUser, Order, PageRequest};
use sqlx::{Connection as _, SqliteConnection};
use tracing_subscriber::layer::SubscriberExt as _;

/// How long every test step may take before the test fails instead of hangs.
const LIMIT: Duration = Duration::from_secs(60);

struct TestDb {
    url: String,
    db: Db,
    _dir: tempfile::TempDir,
}

async fn open() -> TestDb {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("memo.db").display());
    let db = Db::connect(&url).await.expect("the database");
    db.migrate().await.expect("migrations");
    TestDb { url, db, _dir: dir }
}

async fn add_user(db: &Db, name: &str) -> i64 {
    db.insert_user(&NewUser {
        user_name: name,
        password_hash: "not-a-hash",
        department: None,
        manager_role_attached: false,
    })
    .await
    .expect("insert")
    .expect("a new user")
    .id
}

/// Every memo of `user_id`, archived or not, by id, read through a fresh
/// connection pool (so from the file, not from the writer's connection).
async fn memos_on_disk(url: &str, user_id: i64) -> HashMap<i64, Memo> {
    let db = Db::connect(url).await.expect("the database, reopened");
    let mut memos = Vec::new();
    for archived in [false, true] {
        let mut after = None;
        loop {
            let request = PageRequest {
                user_id,
                archived,
                order: Order::Id,
                after,
                limit: MAX_PAGE,
                search: None,
            };
            let page = db.memo_page(&request).await.expect("a page");
            memos.extend(page.memos);
            after = page.next;
            if after.is_none() {
                break;
            }
        }
    }
    db.close().await;
    memos.into_iter().map(|m| (m.id, m)).collect()
}

/// Takes SQLite's write lock from another connection, so that the writer
/// task's next batch waits in `BEGIN IMMEDIATE` (for up to its busy timeout)
/// while the writes sent meanwhile queue up behind it.
async fn lock_writes(url: &str) -> SqliteConnection {
    let mut conn = SqliteConnection::connect(url).await.expect("a connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .expect("the write lock");
    conn
}

async fn unlock_writes(mut conn: SqliteConnection) {
    sqlx::query("COMMIT")
        .execute(&mut conn)
        .await
        .expect("release the write lock");
    conn.close().await.expect("close");
}

fn is_foreign_key_violation(err: &DbError) -> bool {
    err.is_foreign_key_violation()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_all_durable_with_their_content() {
    let TestDb { url, db, _dir } = open().await;
    let alice = add_user(&db, "alice").await;
    let bob = add_user(&db, "bob").await;

    // Round 1: 300 inserts at once, from both users.
    let inserts: Vec<_> = (0..300)
        .map(|i| {
            let db = db.clone();
            let owner = if i % 2 == 0 { alice } else { bob };
            tokio::spawn(async move {
                let memo = db
                    .insert_memo(
                        owner,
                        &format!("title {i}"),
                        &format!("content {i} of {owner}"),
                    )
                    .await;
                (owner, i, memo)
            })
        })
        .collect();
    // (owner, memo id) -> the memo as last acknowledged.
    let mut expected: HashMap<(i64, i64), Memo> = HashMap::new();
    for insert in inserts {
        let (owner, i, memo) = tokio::time::timeout(LIMIT, insert)
            .await
            .expect("in time")
            .expect("the task");
        let memo = memo.expect("an acknowledged insert");
        assert_eq!(memo.title, format!("title {i}"));
        assert_eq!(memo.content, format!("content {i} of {owner}"));
        assert!(!memo.archived);
        expected.insert((owner, memo.id), memo);
    }
    assert_eq!(expected.len(), 300, "every insert got an id of its own");

    // Round 2, all at once: each memo is patched, deleted or left alone by
    // its owner, while the other user tries to patch or delete it (which
    // must change nothing), and inserts for a user that does not exist fail
    // on the foreign key.
    enum Outcome {
        Patched(Option<Memo>),
        Untouched,
        Deleted(bool),
        Intruded(Option<Memo>),
        IntrudedDelete(bool),
        Orphan(Result<Memo, DbError>),
    }
    let mut tasks = Vec::new();
    for (n, &(owner, id)) in expected.keys().enumerate() {
        let other = if owner == alice { bob } else { alice };
        let owner_db = db.clone();
        tasks.push(tokio::spawn(async move {
            let db = owner_db;
            let outcome = match n % 3 {
                0 => {
                    let title = format!("patched {id}");
                    let changes = MemoChanges {
                        title: Some(&title),
                        content: None,
                        archived: Some(n % 2 == 0),
                    };
                    Outcome::Patched(db.update_memo(id, owner, &changes).await.expect("update"))
                }
                1 => Outcome::Deleted(db.delete_memo(id, owner).await.expect("delete")),
                _ => Outcome::Untouched,
            };
            (owner, id, outcome)
        }));
        let other_db = db.clone();
        tasks.push(tokio::spawn(async move {
            let db = other_db;
            let outcome = if n % 2 == 0 {
                let changes = MemoChanges {
                    title: Some("stolen"),
                    content: Some("stolen"),
                    archived: None,
                };
                Outcome::Intruded(db.update_memo(id, other, &changes).await.expect("update"))
            } else {
                Outcome::IntrudedDelete(db.delete_memo(id, other).await.expect("delete"))
            };
            (other, id, outcome)
        }));
        if n % 10 == 0 {
            let orphan_db = db.clone();
            tasks.push(tokio::spawn(async move {
                let db = orphan_db;
                let orphan = db.insert_memo(i64::MAX, "orphan", "no such user").await;
                (i64::MAX, 0, Outcome::Orphan(orphan))
            }));
        }
    }
    let mut deleted = 0;
    for task in tasks {
        let (user, id, outcome) = tokio::time::timeout(LIMIT, task)
            .await
            .expect("in time")
            .expect("the task");
        match outcome {
            Outcome::Patched(Some(memo)) => {
                assert_eq!(memo.title, format!("patched {id}"));
                let before = expected.get_mut(&(user, id)).expect("an owned memo");
                assert_eq!(memo.content, before.content, "content untouched");
                assert!(memo.updated_at >= before.updated_at);
                *before = memo;
            }
            Outcome::Patched(None) => panic!("the owner's patch of memo {id} found nothing"),
            Outcome::Untouched => {}
            Outcome::Deleted(done) => {
                assert!(done, "the owner's delete of memo {id} is acknowledged");
                expected.retain(|&(_, memo_id), _| memo_id != id);
                deleted += 1;
            }
            Outcome::Intruded(memo) => assert_eq!(memo, None, "another user's memo {id}"),
            Outcome::IntrudedDelete(done) => assert!(!done, "another user's memo {id}"),
            Outcome::Orphan(result) => match result {
                Err(err) => assert!(is_foreign_key_violation(&err), "{err}"),
                Ok(memo) => panic!("a memo for no user: {memo:?}"),
            },
        }
    }
    assert_eq!(deleted, 100);
    db.close().await;

    // Exactly the acknowledged state is on disk.
    let mut on_disk = memos_on_disk(&url, alice).await;
    on_disk.extend(memos_on_disk(&url, bob).await);
    assert_eq!(on_disk.len(), expected.len());
    for ((_, id), memo) in &expected {
        assert_eq!(on_disk.get(id), Some(memo), "memo {id} as acknowledged");
    }
    assert!(memos_on_disk(&url, i64::MAX).await.is_empty());
}

/// Records the size of every committed batch (the writer thread's trace event).
#[derive(Clone, Default)]
struct Batches(Arc<Mutex<Vec<u64>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Batches {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Writes(Option<u64>);
        impl tracing::field::Visit for Writes {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                if field.name() == "writes" {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if event.metadata().level() != &tracing::Level::TRACE {
            return;
        }
        let mut writes = Writes(None);
        event.record(&mut writes);
        if let Some(n) = writes.0 {
            self.0.lock().expect("the list").push(n);
        }
    }
}

// The test's subscriber is set before the database (and its writer thread) starts.
#[tokio::test(flavor = "current_thread")]
async fn a_failing_write_is_undone_alone_and_the_rest_of_its_batch_commits() {
    let batches = Batches::default();
    let _logs =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(batches.clone()));
    let TestDb { url, db, _dir } = open().await;
    let alice = add_user(&db, "alice").await;
    let bob = add_user(&db, "bob").await;
    let bobs = db
        .insert_memo(bob, "bob's", "bob's memo")
        .await
        .expect("insert");
    let mine = db
        .insert_memo(alice, "mine", "to patch")
        .await
        .expect("insert");
    let gone = db
        .insert_memo(alice, "gone", "to delete")
        .await
        .expect("insert");

    let lock = lock_writes(&url).await;
    // The first write takes the writer thread into its batch, which waits for
    // the lock; the writes after it queue up and make the next batch.
    let first = tokio::spawn({
        let db = db.clone();
        async move { db.insert_memo(alice, "first", "waits for the lock").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let db2 = db.clone();
    let batch = tokio::spawn(async move {
        let db = &db2;
        let stolen = MemoChanges {
            title: Some("stolen"),
            ..MemoChanges::default()
        };
        let patch = MemoChanges {
            content: Some("patched"),
            archived: Some(true),
            ..MemoChanges::default()
        };
        // Concurrently, so that all are queued before the lock goes.
        tokio::join!(
            db.insert_memo(alice, "before", "ok"),
            db.insert_memo(i64::MAX, "orphan", "fails on the foreign key"),
            db.update_memo(bobs.id, alice, &stolen),
            db.insert_memo(alice, "between", "ok"),
            db.delete_memo(i64::MAX, alice),
            db.update_memo(mine.id, alice, &patch),
            db.insert_memo(i64::MAX - 1, "orphan", "fails too"),
            db.delete_memo(gone.id, alice),
            db.insert_memo(alice, "after", "ok"),
        )
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !first.is_finished() && !batch.is_finished(),
        "writes wait for the lock"
    );
    unlock_writes(lock).await;

    let first = tokio::time::timeout(LIMIT, first)
        .await
        .expect("in time")
        .expect("the task")
        .expect("the first insert");
    let (before, orphan, stolen, between, no_such, patched, orphan2, deleted, after) =
        tokio::time::timeout(LIMIT, batch)
            .await
            .expect("in time")
            .expect("the task");
    let sizes = batches.0.lock().expect("the list").clone();
    assert!(
        sizes.ends_with(&[1, 9]),
        "the first write alone, then the nine queued behind it: {sizes:?}"
    );

    // Each failure is the job's own...
    let orphan = orphan.expect_err("no such user");
    assert!(is_foreign_key_violation(&orphan), "{orphan}");
    let orphan2 = orphan2.expect_err("no such user");
    assert!(is_foreign_key_violation(&orphan2), "{orphan2}");
    assert_eq!(stolen.expect("no error"), None, "bob's memo is not alice's");
    assert!(!no_such.expect("no error"));
    // ...and the others in the batch committed.
    let before = before.expect("committed");
    let between = between.expect("committed");
    let after = after.expect("committed");
    let patched = patched.expect("committed").expect("alice's memo");
    assert_eq!(patched.content, "patched");
    assert!(patched.archived);
    assert_eq!(patched.title, "mine");
    assert!(deleted.expect("committed"));
    db.close().await;

    let alices = memos_on_disk(&url, alice).await;
    let mut ids: Vec<_> = alices.keys().copied().collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [mine.id, first.id, before.id, between.id, after.id],
        "the deleted memo is gone, nothing else"
    );
    assert_eq!(alices.get(&mine.id), Some(&patched));
    assert_eq!(alices.get(&between.id), Some(&between));
    assert_eq!(memos_on_disk(&url, bob).await.get(&bobs.id), Some(&bobs));
    assert!(memos_on_disk(&url, i64::MAX).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_answers_every_queued_write_and_refuses_later_ones() {
    let TestDb { url, db, _dir } = open().await;
    let alice = add_user(&db, "alice").await;

    let lock = lock_writes(&url).await;
    let writes: Vec<_> = (0..150)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.insert_memo(alice, &format!("memo {i}"), "").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Two closes (say, from two clones): both return.
    let closes = [
        tokio::spawn({
            let db = db.clone();
            async move { db.close().await }
        }),
        tokio::spawn({
            let db = db.clone();
            async move { db.close().await }
        }),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    unlock_writes(lock).await;
    for close in closes {
        tokio::time::timeout(LIMIT, close)
            .await
            .expect("close returns")
            .expect("the task");
    }

    let mut acknowledged = Vec::new();
    for write in writes {
        // Every write sent before the close is answered, none is dropped.
        let result = tokio::time::timeout(LIMIT, write)
            .await
            .expect("answered")
            .expect("the task");
        acknowledged.push(result.expect("queued before the close, so made").id);
    }
    let later = db.insert_memo(alice, "too late", "").await;
    assert!(
        matches!(later, Err(DbError::Closed)),
        "a write after close: {later:?}"
    );

    let mut on_disk: Vec<_> = memos_on_disk(&url, alice).await.into_keys().collect();
    on_disk.sort_unstable();
    acknowledged.sort_unstable();
    assert_eq!(on_disk, acknowledged);
}

/// The batch's own failure (here `BEGIN IMMEDIATE` gives up on a lock held
/// past the busy timeout) fails every write in it, and only those: the next
/// batch, on a fresh connection, commits.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_batch_fails_all_its_writes_and_the_next_one_commits() {
    let TestDb { url, db, _dir } = open().await;
    let alice = add_user(&db, "alice").await;

    let lock = lock_writes(&url).await;
    let doomed = tokio::spawn({
        let db = db.clone();
        async move { db.insert_memo(alice, "doomed", "").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let next: Vec<_> = (0..4)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.insert_memo(alice, &format!("next {i}"), "").await })
        })
        .collect();
    // Past the writer's 5 s busy timeout, within the next batch's.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    unlock_writes(lock).await;

    let err = tokio::time::timeout(LIMIT, doomed)
        .await
        .expect("in time")
        .expect("the task")
        .expect_err("the lock was never had");
    let batch_failed = matches!(&err, DbError::BatchFailed(_)).then_some(());
    assert!(batch_failed.is_some(), "the batch's error: {err:?}");
    let mut made = Vec::new();
    for write in next {
        let memo = tokio::time::timeout(LIMIT, write)
            .await
            .expect("in time")
            .expect("the task")
            .expect("the next batch commits");
        made.push(memo.id);
    }
    let later = db.insert_memo(alice, "later", "").await.expect("commits");
    made.push(later.id);
    db.close().await;

    let mut on_disk: Vec<_> = memos_on_disk(&url, alice).await.into_keys().collect();
    on_disk.sort_unstable();
    made.sort_unstable();
    assert_eq!(on_disk, made, "everything but the failed batch's write");
}

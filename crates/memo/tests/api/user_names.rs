//! Look-alike user names: every spelling that is the same after trimming,
//! NFKC and case folding is one name; invisible and direction-changing
//! characters are refused; accounts from before migration 0004 keep working,
//! and look-alike pairs among them are reported, never merged.

use crate::helpers::{
    TestApp, TestUser, assert_error, assert_error_containing, backend_tests, json,
};
use reqwest::StatusCode;

backend_tests!(
    spellings_of_one_name_are_one_account,
    login_accepts_any_spelling_of_the_name,
    bidi_and_invisible_characters_are_refused,
    accounts_from_before_the_migration_keep_working_and_look_alikes_are_not_merged,
);

fn user(name: &str) -> TestUser {
    TestUser {
        user_name: name.to_owned(),
        password: "a long enough password".into(),
    }
}

async fn spellings_of_one_name_are_one_account(app: TestApp) {
    let created = app.register(&user("Caf\u{e9}")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(json(created).await["user_name"], "Caf\u{e9}");
    for look_alike in [
        "Cafe\u{301}",
        "caf\u{e9}",
        " CAF\u{c9} ",
        "\u{ff23}\u{ff41}\u{ff46}\u{e9}",
    ] {
        assert_error(
            app.register(&user(look_alike)).await,
            StatusCode::CONFLICT,
            "User name already taken",
        )
        .await;
    }
    let trimmed = app.register(&user("  spaced  ")).await;
    assert_eq!(json(trimmed).await["user_name"], "spaced", "stored trimmed");
}

async fn login_accepts_any_spelling_of_the_name(app: TestApp) {
    assert_eq!(
        app.register(&user("Stra\u{df}e")).await.status(),
        StatusCode::CREATED
    );
    for spelling in ["STRASSE", "strasse", " Stra\u{df}e"] {
        let browser = app.other_browser();
        assert_eq!(
            browser.login(&user(spelling)).await.status(),
            StatusCode::OK,
            "{spelling}"
        );
        let me = json(browser.get("/api/auth/me").await).await;
        assert_eq!(me["user_name"], "Stra\u{df}e");
    }
}

async fn bidi_and_invisible_characters_are_refused(app: TestApp) {
    for name in [
        "admin\u{202e}nimda",
        "ad\u{200b}min",
        "ad\u{2066}min",
        "a\u{7}b",
    ] {
        assert_error_containing(
            app.register(&user(name)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "must not contain control, format, bidi",
        )
        .await;
    }
}

async fn accounts_from_before_the_migration_keep_working_and_look_alikes_are_not_merged(
    app: TestApp,
) {
    // Three accounts as they were before migration 0004: no key, and two of
    // them look-alikes of each other.
    for name in ["Legacy", "Alone"] {
        assert_eq!(
            app.register(&user(name)).await.status(),
            StatusCode::CREATED
        );
    }
    let hash = memo::password::Passwords::new()
        .await
        .expect("hasher")
        .hash(memo::domain::Password::parse("the other password".into()).expect("valid"))
        .await
        .expect("hash");
    forget_keys_and_add_look_alike(&app.database_url, &hash).await;

    // A restart on the same database fills the keys in.
    let restarted = app.second_instance(|_| {}).await;
    for (spelling, password, expected) in [
        ("Legacy", "a long enough password", "Legacy"),
        ("LEGACY", "a long enough password", "Legacy"),
        ("legacy", "the other password", "legacy"),
        ("alone", "a long enough password", "Alone"),
    ] {
        let browser = restarted.other_browser();
        let who = TestUser {
            user_name: spelling.into(),
            password: password.into(),
        };
        assert_eq!(
            browser.login(&who).await.status(),
            StatusCode::OK,
            "{spelling}"
        );
        let me = json(browser.get("/api/auth/me").await).await;
        assert_eq!(
            me["user_name"], expected,
            "{spelling} logs into its own account"
        );
    }
    assert_error(
        restarted.register(&user("lEgAcY")).await,
        StatusCode::CONFLICT,
        "User name already taken",
    )
    .await;
    let db = memo::db::Db::connect(&app.database_url).await.expect("db");
    let collisions = db.fill_user_name_keys().await.expect("query");
    assert_eq!(collisions.len(), 1, "{collisions:?}");
    assert_eq!(collisions[0].user_name, "legacy");
    assert_eq!(
        collisions[0]
            .same_as
            .as_ref()
            .map(|(_, name)| name.as_str()),
        Some("Legacy")
    );
    db.close().await;
}

/// Clears every key, as before migration 0004, and adds `legacy` (a
/// look-alike of `Legacy`, which the key would have refused).
async fn forget_keys_and_add_look_alike(database_url: &str, hash: &str) {
    let forget = "UPDATE users SET user_name_key = NULL";
    let insert = "INSERT INTO users (user_name, password_hash, manager_role_attached, created_at) \
                  VALUES ('legacy', $1, FALSE, $2)";
    let now = time::OffsetDateTime::now_utc();
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url)
            .await
            .expect("SQLite");
        sqlx::query(forget).execute(&pool).await.expect("UPDATE");
        let inserted = sqlx::query(insert)
            .bind(hash)
            .bind(now)
            .execute(&pool)
            .await;
        inserted.expect("INSERT");
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database_url)
            .await
            .expect("PostgreSQL");
        sqlx::query(forget).execute(&pool).await.expect("UPDATE");
        let inserted = sqlx::query(insert)
            .bind(hash)
            .bind(now)
            .execute(&pool)
            .await;
        inserted.expect("INSERT");
        pool.close().await;
    }
}

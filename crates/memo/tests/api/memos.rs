//! `/api/memos`: every row of the contract's memo table, and ownership.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::helpers::{Csrf, TestApp, assert_error, backend_tests, json};

backend_tests!(
    memos_need_a_valid_access_token,
    writes_need_the_csrf_header,
    a_new_user_has_no_memos,
    create_returns_201_and_the_memo_with_rfc3339_timestamps,
    create_refuses_bad_titles_and_content_with_422,
    list_is_ordered_by_id_and_leaves_out_archived_memos,
    get_returns_one_memo,
    patch_changes_fields_and_maintains_updated_at,
    patch_archives_and_unarchives,
    patch_refuses_empty_and_invalid_changes_with_422,
    delete_returns_204_then_the_memo_is_gone,
    another_users_memo_is_404_for_every_method_and_stays_unchanged,
    body_id_and_user_id_are_ignored,
    ids_that_are_not_numbers_are_404,
);

const NOT_FOUND: &str = "Memo not found";

fn parse_time(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a string"), &Rfc3339).expect("RFC 3339")
}

async fn memos_need_a_valid_access_token(app: TestApp) {
    let missing = r#"Missing cookie "access_token_cookie""#;
    assert_error(
        app.get("/api/memos").await,
        StatusCode::UNAUTHORIZED,
        missing,
    )
    .await;
    assert_error(
        app.get("/api/memos/1").await,
        StatusCode::UNAUTHORIZED,
        missing,
    )
    .await;
    let body = json!({"title": "t"});
    assert_error(
        app.call(Method::POST, "/api/memos", Some(&body)).await,
        StatusCode::UNAUTHORIZED,
        missing,
    )
    .await;
    assert_error(
        app.call(Method::PATCH, "/api/memos/1", Some(&body)).await,
        StatusCode::UNAUTHORIZED,
        missing,
    )
    .await;
    assert_error(
        app.call(Method::DELETE, "/api/memos/1", None).await,
        StatusCode::UNAUTHORIZED,
        missing,
    )
    .await;
}

async fn writes_need_the_csrf_header(app: TestApp) {
    app.signed_in_user().await;
    let memo = app.create_memo("kept", "").await;
    let path = format!("/api/memos/{}", memo["id"]);
    let body = json!({"title": "changed"});
    let requests = [
        (Method::POST, "/api/memos".to_owned(), Some(body.clone())),
        (Method::PATCH, path.clone(), Some(body.clone())),
        (Method::DELETE, path.clone(), None),
    ];

    for (method, path, body) in requests {
        let missing = app
            .send(method.clone(), &path, body.as_ref(), Csrf::Off)
            .await;
        assert_error(missing, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
        let wrong = app
            .send(
                method,
                &path,
                body.as_ref(),
                Csrf::Value("not-the-token".into()),
            )
            .await;
        assert_error(
            wrong,
            StatusCode::UNAUTHORIZED,
            "CSRF double submit tokens do not match",
        )
        .await;
    }

    assert_eq!(
        app.get("/api/memos").await.status(),
        StatusCode::OK,
        "GET needs no CSRF header"
    );
    let unchanged = json(app.get(&path).await).await;
    assert_eq!(unchanged, memo);
    let all = json(app.get("/api/memos").await).await;
    assert_eq!(all, json!([memo]), "nothing was created");
}

async fn a_new_user_has_no_memos(app: TestApp) {
    app.signed_in_user().await;

    let response = app.get("/api/memos").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(reqwest::header::CONTENT_TYPE),
        Some(&reqwest::header::HeaderValue::from_static(
            "application/json"
        ))
    );
    assert_eq!(json(response).await, json!([]));
}

async fn create_returns_201_and_the_memo_with_rfc3339_timestamps(app: TestApp) {
    app.signed_in_user().await;
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);

    let response = app
        .call(
            Method::POST,
            "/api/memos",
            Some(&json!({"title": "Shopping", "content": "milk"})),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let memo = json(response).await;
    let keys: Vec<&str> = memo
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6, "{memo}");
    for key in [
        "id",
        "title",
        "content",
        "archived",
        "created_at",
        "updated_at",
    ] {
        assert!(keys.contains(&key), "{key} in {memo}");
    }
    assert!(memo["id"].as_i64().is_some());
    assert_eq!(
        (&memo["title"], &memo["content"], &memo["archived"]),
        (&json!("Shopping"), &json!("milk"), &json!(false))
    );
    let created = parse_time(&memo["created_at"]);
    assert!(created >= before && created <= OffsetDateTime::now_utc() + time::Duration::seconds(1));
    assert_eq!(memo["created_at"], memo["updated_at"]);
    let without_content = app
        .call(Method::POST, "/api/memos", Some(&json!({"title": "t"})))
        .await;
    assert_eq!(without_content.status(), StatusCode::CREATED);
    assert_eq!(json(without_content).await["content"], "");
}

async fn create_refuses_bad_titles_and_content_with_422(app: TestApp) {
    app.signed_in_user().await;
    let cases = [
        (json!({"content": "no title"}), "missing field `title`"),
        (json!({"title": ""}), "title must not be empty"),
        (json!({"title": "   "}), "title must not be empty"),
        (
            json!({"title": "t".repeat(201)}),
            "title must be at most 200 characters",
        ),
    ];
    for (body, part) in cases {
        let response = app.call(Method::POST, "/api/memos", Some(&body)).await;
        let status = response.status();
        let body = json(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["msg"].as_str().is_some_and(|m| m.contains(part)),
            "{body} should mention {part}"
        );
    }
    let longest = app
        .call(
            Method::POST,
            "/api/memos",
            Some(&json!({"title": "t".repeat(200)})),
        )
        .await;
    assert_eq!(
        longest.status(),
        StatusCode::CREATED,
        "200 characters are allowed"
    );
    let huge = app
        .call(
            Method::POST,
            "/api/memos",
            Some(&json!({"title": "t", "content": "c".repeat(100_001)})),
        )
        .await;
    assert_error(
        huge,
        StatusCode::UNPROCESSABLE_ENTITY,
        "content must be at most 100000 characters",
    )
    .await;
    assert_eq!(
        json(app.get("/api/memos").await)
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn list_is_ordered_by_id_and_leaves_out_archived_memos(app: TestApp) {
    app.signed_in_user().await;
    let first = app.create_memo("first", "").await;
    let second = app.create_memo("second", "").await;
    let third = app.create_memo("third", "").await;
    let archived = app
        .call(
            Method::PATCH,
            &format!("/api/memos/{}", second["id"]),
            Some(&json!({"archived": true})),
        )
        .await;
    let second = json(archived).await;

    let active = json(app.get("/api/memos").await).await;
    let archived = json(app.get("/api/memos?archived=true").await).await;
    let explicit = json(app.get("/api/memos?archived=false").await).await;

    assert_eq!(active, json!([first, third]));
    assert_eq!(archived, json!([second]));
    assert_eq!(explicit, active);
}

async fn get_returns_one_memo(app: TestApp) {
    app.signed_in_user().await;
    let memo = app.create_memo("title", "content").await;

    let response = app.get(&format!("/api/memos/{}", memo["id"])).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await, memo);
    assert_error(
        app.get("/api/memos/999999999").await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    )
    .await;
}

async fn patch_changes_fields_and_maintains_updated_at(app: TestApp) {
    app.signed_in_user().await;
    let memo = app.create_memo("old title", "old content").await;
    let path = format!("/api/memos/{}", memo["id"]);

    let response = app
        .call(Method::PATCH, &path, Some(&json!({"title": "new title"})))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let changed = json(response).await;
    assert_eq!(changed["title"], "new title");
    assert_eq!(changed["content"], "old content", "fields not sent stay");
    assert_eq!(changed["created_at"], memo["created_at"]);
    assert!(
        parse_time(&changed["updated_at"]) > parse_time(&memo["updated_at"]),
        "{changed}"
    );
    let content = json(
        app.call(Method::PATCH, &path, Some(&json!({"content": ""})))
            .await,
    )
    .await;
    assert_eq!(
        (&content["title"], &content["content"]),
        (&json!("new title"), &json!(""))
    );
    assert_eq!(
        json(app.get(&path).await).await,
        content,
        "the change is stored"
    );
    assert_error(
        app.call(
            Method::PATCH,
            "/api/memos/999999999",
            Some(&json!({"title": "x"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    )
    .await;
}

async fn patch_archives_and_unarchives(app: TestApp) {
    app.signed_in_user().await;
    let memo = app.create_memo("to archive", "").await;
    let path = format!("/api/memos/{}", memo["id"]);

    let archived = json(
        app.call(Method::PATCH, &path, Some(&json!({"archived": true})))
            .await,
    )
    .await;
    assert_eq!(archived["archived"], true);
    assert_eq!(json(app.get("/api/memos").await).await, json!([]));
    assert_eq!(
        json(app.get("/api/memos?archived=true").await).await,
        json!([archived])
    );

    let restored = json(
        app.call(Method::PATCH, &path, Some(&json!({"archived": false})))
            .await,
    )
    .await;
    assert_eq!(restored["archived"], false);
    assert_eq!(json(app.get("/api/memos").await).await, json!([restored]));
    assert_eq!(
        json(app.get("/api/memos?archived=true").await).await,
        json!([])
    );
}

async fn patch_refuses_empty_and_invalid_changes_with_422(app: TestApp) {
    app.signed_in_user().await;
    let memo = app.create_memo("stays", "same").await;
    let path = format!("/api/memos/{}", memo["id"]);
    let cases = [
        (
            json!({}),
            "Nothing to change: give title, content or archived",
        ),
        (
            json!({"id": 5}),
            "Nothing to change: give title, content or archived",
        ),
        (json!({"title": ""}), "title must not be empty"),
        (
            json!({"title": "t".repeat(201)}),
            "title must be at most 200 characters",
        ),
    ];
    for (body, msg) in cases {
        assert_error(
            app.call(Method::PATCH, &path, Some(&body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            msg,
        )
        .await;
    }
    let wrong_type = app
        .call(Method::PATCH, &path, Some(&json!({"archived": "yes"})))
        .await;
    assert_eq!(wrong_type.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json(wrong_type).await["msg"]
            .as_str()
            .is_some_and(|m| m.contains("archived"))
    );
    assert_eq!(json(app.get(&path).await).await, memo, "nothing changed");
}

async fn delete_returns_204_then_the_memo_is_gone(app: TestApp) {
    app.signed_in_user().await;
    let memo = app.create_memo("to delete", "").await;
    let kept = app.create_memo("kept", "").await;
    let path = format!("/api/memos/{}", memo["id"]);

    let response = app.call(Method::DELETE, &path, None).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.text().await.expect("body"), "");
    assert_error(app.get(&path).await, StatusCode::NOT_FOUND, NOT_FOUND).await;
    assert_error(
        app.call(Method::DELETE, &path, None).await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    )
    .await;
    assert_eq!(json(app.get("/api/memos").await).await, json!([kept]));
}

async fn another_users_memo_is_404_for_every_method_and_stays_unchanged(app: TestApp) {
    app.signed_in_user().await;
    let mine = app.create_memo("private", "secret").await;
    let path = format!("/api/memos/{}", mine["id"]);
    let intruder = app.other_browser();
    intruder.signed_in_user().await;

    assert_error(intruder.get(&path).await, StatusCode::NOT_FOUND, NOT_FOUND).await;
    let patch = intruder
        .call(
            Method::PATCH,
            &path,
            Some(&json!({"title": "mine now", "archived": true})),
        )
        .await;
    assert_error(patch, StatusCode::NOT_FOUND, NOT_FOUND).await;
    assert_error(
        intruder.call(Method::DELETE, &path, None).await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    )
    .await;
    assert_eq!(json(intruder.get("/api/memos").await).await, json!([]));
    assert_eq!(
        json(intruder.get("/api/memos?archived=true").await).await,
        json!([])
    );

    assert_eq!(
        json(app.get(&path).await).await,
        mine,
        "the owner's memo is untouched"
    );
}

async fn body_id_and_user_id_are_ignored(app: TestApp) {
    let (_, victim_id) = app.signed_in_user().await;
    let victims = app.create_memo("victim's", "").await;
    let attacker = app.other_browser();
    attacker.signed_in_user().await;
    let body =
        json!({"id": victims["id"], "user_id": victim_id, "title": "planted", "content": ""});

    let created = attacker.call(Method::POST, "/api/memos", Some(&body)).await;

    assert_eq!(created.status(), StatusCode::CREATED);
    let created = json(created).await;
    assert_ne!(created["id"], victims["id"], "the server assigns the id");
    assert_eq!(
        json(attacker.get("/api/memos").await).await,
        json!([created]),
        "the memo is the attacker's"
    );
    assert_eq!(
        json(app.get("/api/memos").await).await,
        json!([victims]),
        "nothing planted on the victim"
    );
    let path = format!("/api/memos/{}", created["id"]);
    let moved = attacker
        .call(
            Method::PATCH,
            &path,
            Some(&json!({"user_id": victim_id, "title": "still mine"})),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(
        json(app.get("/api/memos").await).await,
        json!([victims]),
        "ownership cannot move"
    );
}

async fn ids_that_are_not_numbers_are_404(app: TestApp) {
    app.signed_in_user().await;
    for id in [
        "abc",
        "1.5",
        "-1",
        "0",
        "+1",
        "99999999999999999999999",
        "%20",
    ] {
        let path = format!("/api/memos/{id}");
        assert_error(app.get(&path).await, StatusCode::NOT_FOUND, NOT_FOUND).await;
        assert_error(
            app.call(Method::PATCH, &path, Some(&json!({"title": "x"})))
                .await,
            StatusCode::NOT_FOUND,
            NOT_FOUND,
        )
        .await;
        assert_error(
            app.call(Method::DELETE, &path, None).await,
            StatusCode::NOT_FOUND,
            NOT_FOUND,
        )
        .await;
    }
}

//! `GET /api/memos` pages, orders and searches (the contract's "Paging,
//! order and search"): following `next` links returns every memo exactly
//! once and in order, even while memos are written between pages; search
//! finds substrings in any script and only the caller's memos; bad
//! parameters and forged cursors are 400.

use std::collections::{HashMap, HashSet};

use futures_util::{StreamExt as _, stream};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::helpers::{TestApp, assert_error_containing, backend_tests, json};

backend_tests!(
    a_page_holds_limit_memos_and_links_to_the_next,
    next_links_return_a_thousand_memos_once_and_in_order,
    next_links_stay_exact_while_memos_change_between_pages,
    each_order_is_kept_across_pages,
    archived_memos_page_the_same_way,
    search_finds_english_and_japanese_substrings,
    search_never_finds_another_users_memos,
    search_combines_with_archived_order_and_paging,
    search_with_more_matches_than_the_index_serves_pages_them_all,
    a_rare_short_word_is_found_past_pages_cut_short,
    search_in_a_large_account_pages_exactly_in_every_order,
    bad_parameters_are_400_naming_the_parameter,
    forged_and_foreign_cursors_are_400,
);

/// The `next` URL (path and query) of a response's `Link` header.
fn next_link(response: &Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().expect("ASCII");
    let (url, params) = link.split_once(';').expect("<url>; rel");
    assert_eq!(params.trim(), r#"rel="next""#, "{link}");
    let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
    assert!(url.starts_with("/api/memos?"), "{link}");
    Some(url.to_owned())
}

/// One page: its memos and its `next` URL.
async fn page(app: &TestApp, path: &str) -> (Vec<Value>, Option<String>) {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let next = next_link(&response);
    let memos = json(response).await.as_array().expect("an array").clone();
    (memos, next)
}

/// Every memo from `path` on, following `next`; also the number of pages.
async fn all_pages(app: &TestApp, path: &str) -> (Vec<Value>, usize) {
    let (mut memos, mut next) = page(app, path).await;
    let mut pages = 1;
    while let Some(path) = next {
        let (more, after) = page(app, &path).await;
        memos.extend(more);
        next = after;
        pages += 1;
        assert!(pages < 10_000, "the links never end");
    }
    (memos, pages)
}

fn ids(memos: &[Value]) -> Vec<i64> {
    memos
        .iter()
        .map(|m| m["id"].as_i64().expect("an id"))
        .collect()
}

fn updated_at(memo: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(memo["updated_at"].as_str().expect("a string"), &Rfc3339)
        .expect("RFC 3339")
}

/// Creates `n` memos, 16 at a time; `make(i)` gives the title and content.
/// Returns them by id.
async fn create_many(
    app: &TestApp,
    n: usize,
    make: impl Fn(usize) -> (String, String),
) -> Vec<Value> {
    let bodies: Vec<Value> = (0..n)
        .map(|i| {
            let (title, content) = make(i);
            json!({ "title": title, "content": content })
        })
        .collect();
    let mut memos: Vec<Value> = stream::iter(bodies.iter())
        .map(|body| async move {
            let response = app.call(Method::POST, "/api/memos", Some(body)).await;
            assert_eq!(response.status(), StatusCode::CREATED);
            json(response).await
        })
        .buffer_unordered(16)
        .collect()
        .await;
    memos.sort_by_key(|m| m["id"].as_i64());
    memos
}

async fn patch(app: &TestApp, id: i64, body: &Value) -> Value {
    let response = app
        .call(Method::PATCH, &format!("/api/memos/{id}"), Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await
}

async fn delete(app: &TestApp, id: i64) {
    let response = app
        .call(Method::DELETE, &format!("/api/memos/{id}"), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

async fn a_page_holds_limit_memos_and_links_to_the_next(app: TestApp) {
    app.signed_in_user().await;
    let created = create_many(&app, 120, |i| (format!("memo {i}"), String::new())).await;

    let (first, next) = page(&app, "/api/memos").await;
    assert_eq!(ids(&first), ids(&created[..50]), "50 by default, by id");
    let next = next.expect("more follow");
    let (second, next) = page(&app, &next).await;
    assert_eq!(ids(&second), ids(&created[50..100]));
    let (third, next) = page(&app, &next.expect("more follow")).await;
    assert_eq!(ids(&third), ids(&created[100..]));
    assert_eq!(next, None, "no link on the last page");

    let (exact, next) = page(&app, "/api/memos?limit=120").await;
    assert_eq!(exact.len(), 120);
    assert_eq!(next, None, "nothing follows a page that holds the rest");
    let (max, _) = page(&app, "/api/memos?limit=200").await;
    assert_eq!(max.len(), 120);
    let (one, next) = page(&app, "/api/memos?limit=1").await;
    assert_eq!(ids(&one), ids(&created[..1]));
    let next = next.expect("a link");
    assert!(
        next.contains("limit=1") && next.contains("cursor="),
        "{next}"
    );
}

async fn next_links_return_a_thousand_memos_once_and_in_order(app: TestApp) {
    app.signed_in_user().await;
    let created = create_many(&app, 1_000, |i| (format!("memo {i}"), format!("body {i}"))).await;

    let (memos, pages) = all_pages(&app, "/api/memos?limit=37").await;
    assert_eq!(memos, created, "every memo once, by id, as created");
    assert_eq!(pages, 1_000usize.div_ceil(37));
    let (newest_first, _) = all_pages(&app, "/api/memos?order=-id&limit=200").await;
    let mut expected = ids(&created);
    expected.reverse();
    assert_eq!(ids(&newest_first), expected);
}

async fn next_links_stay_exact_while_memos_change_between_pages(app: TestApp) {
    app.signed_in_user().await;
    let created = create_many(&app, 1_000, |i| (format!("memo {i}"), String::new())).await;
    let mut untouched: HashSet<i64> = ids(&created).into_iter().collect();
    let mut gone = HashSet::new();

    for order in ["id", "-id", "-updated_at"] {
        let mut seen = Vec::new();
        let mut next = Some(format!("/api/memos?order={order}&limit=40"));
        let mut step = 0usize;
        while let Some(path) = next {
            let (memos, after) = page(&app, &path).await;
            seen.extend(memos);
            next = after;
            // Between pages: a new memo, an edit and a deletion, of memos
            // already listed and of memos not listed yet.
            step += 1;
            app.create_memo(&format!("new during {order} {step}"), "")
                .await;
            let pick = |n: usize| ids(&created)[(step * 97 + n * 31) % created.len()];
            for id in [pick(1), pick(2)] {
                if !gone.contains(&id) {
                    patch(&app, id, &json!({ "title": format!("edited {step}") })).await;
                    untouched.remove(&id);
                }
            }
            let victim = pick(3);
            if gone.insert(victim) {
                delete(&app, victim).await;
                untouched.remove(&victim);
            }
        }
        let seen_ids = ids(&seen);
        let unique: HashSet<i64> = seen_ids.iter().copied().collect();
        assert_eq!(unique.len(), seen_ids.len(), "{order}: no memo twice");
        let missing: Vec<_> = untouched.iter().filter(|id| !unique.contains(id)).collect();
        assert!(
            missing.is_empty(),
            "{order}: untouched memos missing: {missing:?}"
        );
        assert_sorted(order, &seen);
    }
}

/// Asserts that `memos` are in `order` (`-updated_at` ties by id, newest
/// first).
fn assert_sorted(order: &str, memos: &[Value]) {
    for pair in memos.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let in_order = match order {
            "id" => a["id"].as_i64() < b["id"].as_i64(),
            "-id" => a["id"].as_i64() > b["id"].as_i64(),
            _ => (updated_at(a), a["id"].as_i64()) > (updated_at(b), b["id"].as_i64()),
        };
        assert!(in_order, "{order}: {a} before {b}");
    }
}

async fn each_order_is_kept_across_pages(app: TestApp) {
    app.signed_in_user().await;
    let created = create_many(&app, 90, |i| (format!("memo {i}"), String::new())).await;
    // Edit every seventh memo, oldest last, so that -updated_at differs
    // from both id orders.
    let mut edited = Vec::new();
    for memo in created.iter().step_by(7).rev() {
        edited.push(
            patch(
                &app,
                memo["id"].as_i64().expect("id"),
                &json!({ "content": "edited" }),
            )
            .await,
        );
    }

    for order in ["id", "-id", "-updated_at"] {
        let (memos, _) = all_pages(&app, &format!("/api/memos?order={order}&limit=13")).await;
        assert_eq!(memos.len(), 90, "{order}");
        assert_sorted(order, &memos);
    }
    let (recent, _) = page(&app, "/api/memos?order=-updated_at&limit=3").await;
    let expected: Vec<i64> = ids(&edited).into_iter().rev().take(3).collect();
    assert_eq!(ids(&recent), expected, "the last edited first");
}

async fn archived_memos_page_the_same_way(app: TestApp) {
    app.signed_in_user().await;
    let created = create_many(&app, 150, |i| (format!("memo {i}"), String::new())).await;
    let mut archived = Vec::new();
    for memo in created
        .iter()
        .filter(|m| m["id"].as_i64().unwrap_or(0) % 3 == 0)
    {
        archived.push(
            patch(
                &app,
                memo["id"].as_i64().expect("id"),
                &json!({ "archived": true }),
            )
            .await,
        );
    }
    archived.sort_by_key(|m| m["id"].as_i64());
    let archived_ids: HashSet<i64> = ids(&archived).into_iter().collect();

    let (listed, _) = all_pages(&app, "/api/memos?archived=true&limit=7").await;
    assert_eq!(listed, archived);
    let (others, _) = all_pages(&app, "/api/memos?archived=false&limit=7").await;
    assert_eq!(others.len() + archived.len(), 150);
    assert!(ids(&others).iter().all(|id| !archived_ids.contains(id)));
    let (recent, _) = all_pages(&app, "/api/memos?archived=true&order=-updated_at&limit=9").await;
    assert_eq!(recent.len(), archived.len());
    assert_sorted("-updated_at", &recent);
    // Newest first, each list alone: neither runs on into the other.
    for (flag, memos) in [("true", &archived), ("false", &others)] {
        let (newest, _) = all_pages(
            &app,
            &format!("/api/memos?archived={flag}&order=-id&limit=8"),
        )
        .await;
        let mut expected = ids(memos);
        expected.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(ids(&newest), expected, "archived={flag}");
    }
}

async fn search_finds_english_and_japanese_substrings(app: TestApp) {
    app.signed_in_user().await;
    let memos = [
        ("Weekly MEETING notes", "Agenda: budget, hiring."),
        ("買い物", "明日は東京で会議があります。"),
        ("旅行", "京都と奈良へ行く"),
        ("Café", "Crème brûlée recipe"),
        ("plain", "nothing to see"),
    ];
    let mut by_title = HashMap::new();
    for (title, content) in memos {
        let memo = app.create_memo(title, content).await;
        by_title.insert(title, memo["id"].as_i64().expect("id"));
    }
    let found = |q: &str| {
        let app = &app;
        let path = format!("/api/memos?q={}", urlencode(q));
        async move {
            let (memos, _) = all_pages(app, &path).await;
            let mut ids = ids(&memos);
            ids.sort_unstable();
            ids
        }
    };
    let id = |title: &str| by_title[title];

    for (q, expected) in [
        ("meeting", vec![id("Weekly MEETING notes")]),
        ("MeEtInG NOTES", vec![id("Weekly MEETING notes")]),
        ("get, hir", vec![id("Weekly MEETING notes")]),
        ("会議", vec![id("買い物")]),
        ("東京", vec![id("買い物")]),
        ("京", vec![id("買い物"), id("旅行")]),
        ("で会議があ", vec![id("買い物")]),
        ("奈良へ", vec![id("旅行")]),
        ("物", vec![id("買い物")]),
        ("café", vec![id("Café")]),
        ("CRÈME BRÛ", vec![id("Café")]),
        ("50%", vec![]),
        ("_", vec![]),
        ("会談", vec![]),
    ] {
        assert_eq!(found(q).await, expected, "q={q}");
    }
}

async fn search_never_finds_another_users_memos(app: TestApp) {
    app.signed_in_user().await;
    let mine = app.create_memo("会議 mine", "shared secret word").await;
    let other = app.other_browser();
    other.signed_in_user().await;
    for i in 0..5 {
        other
            .create_memo(&format!("会議 theirs {i}"), "shared secret word")
            .await;
    }
    for q in ["会議", "会", "secret", "shared secret word", "theirs"] {
        let (memos, _) = all_pages(&app, &format!("/api/memos?q={}", urlencode(q))).await;
        let expected = if q == "theirs" {
            vec![]
        } else {
            vec![mine["id"].as_i64().expect("id")]
        };
        assert_eq!(ids(&memos), expected, "q={q}");
    }
}

async fn search_combines_with_archived_order_and_paging(app: TestApp) {
    app.signed_in_user().await;
    let created = create_many(&app, 200, |i| {
        let word = if i % 3 == 0 {
            "プロジェクト会議"
        } else {
            "lunch"
        };
        (format!("memo {i}"), format!("{word} number {i}"))
    })
    .await;
    let mut archived = HashSet::new();
    for memo in created.iter().step_by(4) {
        let id = memo["id"].as_i64().expect("id");
        patch(&app, id, &json!({ "archived": true })).await;
        archived.insert(id);
    }
    let matching = |want_archived: bool| -> Vec<i64> {
        created
            .iter()
            .filter(|m| m["content"].as_str().is_some_and(|c| c.contains("会議")))
            .map(|m| m["id"].as_i64().expect("id"))
            .filter(|id| archived.contains(id) == want_archived)
            .collect()
    };
    for q in ["会議", "ジェクト会"] {
        for (flag, want) in [("false", false), ("true", true)] {
            for order in ["id", "-id", "-updated_at"] {
                let path = format!(
                    "/api/memos?q={}&archived={flag}&order={order}&limit=6",
                    urlencode(q)
                );
                let (memos, _) = all_pages(&app, &path).await;
                assert_sorted(order, &memos);
                let mut got = ids(&memos);
                got.sort_unstable();
                assert_eq!(got, matching(want), "{path}");
            }
        }
    }
}

async fn search_with_more_matches_than_the_index_serves_pages_them_all(app: TestApp) {
    app.signed_in_user().await;
    // More matches than memo::db::SEARCH_CANDIDATES (1,000): pages come from
    // reading the list in order.
    let created = create_many(&app, 1_050, |i| {
        (format!("weekly report {i}"), String::new())
    })
    .await;
    for order in ["id", "-updated_at"] {
        let (memos, _) = all_pages(
            &app,
            &format!("/api/memos?q=REPORT&order={order}&limit=200"),
        )
        .await;
        assert_sorted(order, &memos);
        let mut got = ids(&memos);
        got.sort_unstable();
        assert_eq!(got, ids(&created), "{order}");
    }
}

async fn a_rare_short_word_is_found_past_pages_cut_short(app: TestApp) {
    app.signed_in_user().await;
    // Two characters, which no trigram index holds: the search reads the
    // list in order, a bounded number of memos per call (memo::db::
    // SEARCH_SCAN, 1,000), so the pages before the match may be short.
    let mut created = create_many(&app, 1_100, |i| (format!("日記 {i}"), "晴れ".to_owned())).await;
    let rare = app.create_memo("最後", "東京で会議").await;
    created.push(rare.clone());
    let (memos, pages) = all_pages(&app, "/api/memos?q=会議&limit=10").await;
    assert_eq!(memos, vec![rare], "found, once");
    assert!(pages >= 2, "the first call could not read all 1,101 memos");
}

async fn search_in_a_large_account_pages_exactly_in_every_order(app: TestApp) {
    app.signed_in_user().await;
    // 4,300 memos: more than PostgreSQL's search reads in one call by
    // windows of the list (4 of at least 1,024 memos), so a page is found in
    // one window or several, and a word rare in the account by the index.
    let created = create_many(&app, 4_300, |i| {
        let word = match i {
            3 => "極秘の議題",
            _ if i % 97 == 0 => "週次議事録",
            _ => "日記",
        };
        (format!("memo {i}"), format!("{word} {i}"))
    })
    .await;
    // Edit every 89th memo, so that -updated_at differs from the id orders.
    let mut edited = Vec::new();
    for memo in created.iter().step_by(89) {
        let id = memo["id"].as_i64().expect("id");
        edited.push(patch(&app, id, &json!({ "title": format!("edited {id}") })).await);
    }
    let with = |word: &str| -> Vec<i64> {
        created
            .iter()
            .filter(|m| m["content"].as_str().is_some_and(|c| c.contains(word)))
            .map(|m| m["id"].as_i64().expect("id"))
            .collect()
    };
    let matching = with("議事録");
    assert_eq!(matching.len(), 45);
    let rare = with("極秘");
    for order in ["id", "-id", "-updated_at"] {
        for limit in [1, 7, 200] {
            let path = format!(
                "/api/memos?q={}&order={order}&limit={limit}",
                urlencode("議事録")
            );
            let (memos, _) = all_pages(&app, &path).await;
            assert_sorted(order, &memos);
            let mut got = ids(&memos);
            got.sort_unstable();
            assert_eq!(got, matching, "{path}");
        }
        // The rare word of one of the oldest memos: found by the first
        // call, even where the list reaches it last.
        let path = format!("/api/memos?q={}&order={order}&limit=1", urlencode("極秘の"));
        let (memos, next) = page(&app, &path).await;
        assert_eq!(ids(&memos), rare, "{path}");
        assert_eq!(next, None, "{path}");
    }
    let (recent, _) = page(&app, "/api/memos?q=edited&order=-updated_at&limit=2").await;
    let expected: Vec<i64> = ids(&edited).into_iter().rev().take(2).collect();
    assert_eq!(ids(&recent), expected, "the last edited first");
}

async fn bad_parameters_are_400_naming_the_parameter(app: TestApp) {
    app.signed_in_user().await;
    let long = "あ".repeat(201);
    for (query, name) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("order=updated_at", "order"),
        ("order=title", "order"),
        ("archived=maybe", "archived"),
        ("q=", "q"),
        ("q=%20", "q"),
        (&format!("q={long}"), "q"),
        ("cursor=abc", "cursor"),
        ("limit=5&limit=6", "limit"),
    ] {
        let response = app.get(&format!("/api/memos?{query}")).await;
        assert_error_containing(response, StatusCode::BAD_REQUEST, name).await;
    }
    // The longest search is fine.
    let ok = app.get(&format!("/api/memos?q={}", "あ".repeat(200))).await;
    assert_eq!(ok.status(), StatusCode::OK);
}

async fn forged_and_foreign_cursors_are_400(app: TestApp) {
    app.signed_in_user().await;
    create_many(&app, 30, |i| (format!("memo {i}"), "会議".to_owned())).await;
    let (_, next) = page(&app, "/api/memos?limit=5").await;
    let next = next.expect("a link");
    let cursor = next.split("cursor=").nth(1).expect("a cursor").to_owned();

    let mut forged = cursor.clone().into_bytes();
    let last = forged.len() - 3;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ASCII");
    for path in [
        format!("/api/memos?limit=5&cursor={forged}"),
        format!("/api/memos?limit=5&order=-id&cursor={cursor}"),
        format!("/api/memos?limit=5&order=-updated_at&cursor={cursor}"),
        format!("/api/memos?limit=5&archived=true&cursor={cursor}"),
        format!("/api/memos?limit=5&q=%E4%BC%9A%E8%AD%B0&cursor={cursor}"),
    ] {
        assert_error_containing(app.get(&path).await, StatusCode::BAD_REQUEST, "cursor").await;
    }
    // The same cursor with another limit is fine: the limit may change.
    assert_eq!(
        app.get(&format!("/api/memos?limit=7&cursor={cursor}"))
            .await
            .status(),
        StatusCode::OK
    );

    // Another user's cursor.
    let other = app.other_browser();
    other.signed_in_user().await;
    create_many(&other, 10, |i| (format!("theirs {i}"), String::new())).await;
    assert_error_containing(other.get(&next).await, StatusCode::BAD_REQUEST, "cursor").await;
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

//! Browser hardening, checked by meaning rather than by exact text: the CSP
//! lets no inline or eval'd script run and forbids framing, the SPA's HTML
//! needs no inline script (so the CSP does not break it), and the headers are
//! on error answers too (a 429 from the brute-force limiter included).

use memo::limits::RateLimitConfig;
use reqwest::{StatusCode, header};

use crate::helpers::{
    Backend, TestUser, assert_error, cookie_value, set_cookie, set_cookies, spawn_app_with,
};

/// The CSP's directives, by name.
fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            let name = words.next().unwrap_or_default().to_ascii_lowercase();
            (name, words.collect())
        })
        .collect()
}

fn directive<'a>(all: &'a [(String, Vec<String>)], name: &str) -> Option<&'a [String]> {
    all.iter()
        .find(|(n, _)| n == name)
        .map(|(_, values)| values.as_slice())
}

/// Asserts the hardening headers of one response.
fn assert_hardened(headers: &header::HeaderMap, what: &str) {
    let get = |name: header::HeaderName| {
        headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_owned()
    };
    let csp = directives(&get(header::CONTENT_SECURITY_POLICY));
    let scripts = directive(&csp, "script-src")
        .or_else(|| directive(&csp, "default-src"))
        .unwrap_or_else(|| panic!("{what}: no script-src nor default-src"));
    for unsafe_source in [
        "'unsafe-inline'",
        "'unsafe-eval'",
        "*",
        "data:",
        "http:",
        "https:",
    ] {
        assert!(
            !scripts.iter().any(|s| s == unsafe_source),
            "{what}: script-src allows {unsafe_source}"
        );
    }
    assert_eq!(
        directive(&csp, "frame-ancestors"),
        Some(&["'none'".to_owned()][..]),
        "{what}: frame-ancestors"
    );
    assert_eq!(get(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{what}");
    assert_eq!(get(header::X_FRAME_OPTIONS), "DENY", "{what}");
    let referrer = get(header::REFERRER_POLICY);
    assert!(
        [
            "no-referrer",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin"
        ]
        .contains(&referrer.as_str()),
        "{what}: Referrer-Policy {referrer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csp_forbids_inline_script_and_framing_on_every_kind_of_answer() {
    let app = spawn_app_with(Backend::Sqlite, |_| {})
        .await
        .expect("sqlite");
    for path in ["/", "/memos", "/api/health", "/api/nothing", "/api/memos"] {
        let response = app.get(path).await;
        assert_hardened(response.headers(), path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_from_the_limiter_is_hardened_too() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.rate_limits = RateLimitConfig {
            register_per_ip_per_minute: 1,
            ..RateLimitConfig::default()
        };
    })
    .await
    .expect("sqlite");
    assert_eq!(
        app.register(&TestUser::generate()).await.status(),
        StatusCode::CREATED
    );
    let limited = app.register(&TestUser::generate()).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_hardened(limited.headers(), "429");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spa_html_has_no_inline_script() {
    let app = spawn_app_with(Backend::Sqlite, |_| {})
        .await
        .expect("sqlite");
    // The built SPA, or the page that says how to build it: either must run
    // under `script-src 'self'`.
    let html = app
        .get("/")
        .await
        .text()
        .await
        .expect("a body")
        .to_ascii_lowercase();
    let mut rest = html.as_str();
    while let Some(start) = rest.find("<script") {
        let tag_end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
        let tag = &rest[start..tag_end];
        assert!(tag.contains("src="), "an inline script: {tag}>");
        let body_end = rest[tag_end..]
            .find("</script>")
            .map_or(rest.len(), |e| tag_end + e);
        assert_eq!(
            rest[tag_end..body_end].trim_start_matches('>').trim(),
            "",
            "a script with a body"
        );
        rest = &rest[body_end..];
    }
    for handler in [" onload=", " onclick=", " onerror=", "javascript:"] {
        assert!(!html.contains(handler), "inline handler {handler}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_only_with_secure_cookies_and_for_long_enough() {
    let plain = spawn_app_with(Backend::Sqlite, |_| {})
        .await
        .expect("sqlite");
    let response = plain.get("/api/health").await;
    assert!(
        response
            .headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none()
    );
    let secure = spawn_app_with(Backend::Sqlite, |config| config.cookie_secure = true)
        .await
        .expect("sqlite");
    let response = secure.get("/").await;
    let hsts = response
        .headers()
        .get(header::STRICT_TRANSPORT_SECURITY)
        .and_then(|v| v.to_str().ok())
        .expect("HSTS with Secure cookies")
        .to_owned();
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .expect("a max-age");
    assert!(max_age >= 31_536_000, "at least a year: {hsts}");
}

/// With MEMO_COOKIE_HOST_PREFIX the four cookies are `__Host-` cookies (Secure,
/// Path=/, no Domain, as browsers require) and the whole session works on
/// them: API calls, refresh, logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_prefixed_cookies_carry_a_whole_session() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.cookie_host_prefix = true;
        config.cookie_secure = true;
    })
    .await
    .expect("sqlite");
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    // A Secure cookie never goes back over plain HTTP from a cookie store, so
    // this client carries the cookies by hand, as a browser on HTTPS would.
    let client = app.bare_client();
    let login = client
        .post(app.url("/api/auth/login"))
        .json(&user.credentials())
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    let lines = set_cookies(login.headers());
    let names = [
        "access_token_cookie",
        "csrf_access_token",
        "refresh_token_cookie",
        "csrf_refresh_token",
    ];
    for name in names {
        let line = set_cookie(&lines, &format!("__Host-{name}"));
        assert!(line.contains("; Secure"), "{line}");
        assert!(
            line.contains("; Path=/;") || line.ends_with("; Path=/"),
            "{line}"
        );
        assert!(!line.contains("Domain="), "{line}");
    }
    let value = |name: &str| cookie_value(set_cookie(&lines, &format!("__Host-{name}"))).to_owned();
    let cookies = names
        .iter()
        .map(|name| format!("__Host-{name}={}", value(name)))
        .collect::<Vec<_>>()
        .join("; ");

    let created = client
        .post(app.url("/api/memos"))
        .header(header::COOKIE, &cookies)
        .header("X-CSRF-TOKEN", value("csrf_access_token"))
        .json(&serde_json::json!({"title": "t", "content": "c"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);

    let refreshed = client
        .post(app.url("/api/auth/refresh"))
        .header(header::COOKIE, &cookies)
        .header("X-CSRF-TOKEN", value("csrf_refresh_token"))
        .send()
        .await
        .expect("refresh");
    assert_eq!(refreshed.status(), StatusCode::OK);
    let renewed = set_cookies(refreshed.headers());
    set_cookie(&renewed, "__Host-access_token_cookie");

    // The plain names mean nothing to this server.
    let plain = format!("access_token_cookie={}", value("access_token_cookie"));
    let response = client
        .get(app.url("/api/memos"))
        .header(header::COOKIE, plain)
        .send()
        .await
        .expect("list");
    assert_error(
        response,
        StatusCode::UNAUTHORIZED,
        "Missing cookie \"__Host-access_token_cookie\"",
    )
    .await;
}

/// MEMO_ORIGIN_CHECK refuses a cross-origin write that carries a valid
/// session and CSRF value (what a CSRF attack would need), and lets the SPA's
/// own requests, non-browser clients and reads through; off, only the
/// double-submit check stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_origin_check_refuses_cross_origin_writes_before_the_double_submit_check() {
    for on in [true, false] {
        let app = spawn_app_with(Backend::Sqlite, |config| config.origin_check = on)
            .await
            .expect("sqlite");
        app.signed_in_user().await;
        let csrf = app.csrf_access().expect("csrf cookie");
        let host = app.address.trim_start_matches("http://").to_owned();
        let post = |headers: &[(&str, &str)]| {
            let mut request = app
                .client
                .post(app.url("/api/memos"))
                .header("X-CSRF-TOKEN", &csrf)
                .json(&serde_json::json!({"title": "t"}));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send()
        };
        let cross_site = post(&[("Sec-Fetch-Site", "cross-site")])
            .await
            .expect("answer");
        let foreign_origin = post(&[("Origin", "https://evil.example")])
            .await
            .expect("answer");
        if on {
            assert_error(
                cross_site,
                StatusCode::FORBIDDEN,
                "Cross-origin request refused",
            )
            .await;
            assert_error(
                foreign_origin,
                StatusCode::FORBIDDEN,
                "Cross-origin request refused",
            )
            .await;
        } else {
            assert_eq!(cross_site.status(), StatusCode::CREATED);
            assert_eq!(foreign_origin.status(), StatusCode::CREATED);
        }
        let own_origin = format!("http://{host}");
        for allowed in [
            vec![("Sec-Fetch-Site", "same-origin")],
            vec![("Origin", own_origin.as_str())],
            vec![],
        ] {
            let response = post(&allowed).await.expect("answer");
            assert_eq!(
                response.status(),
                StatusCode::CREATED,
                "{allowed:?} (check {on})"
            );
        }
        let read = app
            .client
            .get(app.url("/api/memos"))
            .header("Sec-Fetch-Site", "cross-site")
            .send()
            .await
            .expect("answer");
        assert_eq!(read.status(), StatusCode::OK);
    }
}

/// No cache, the browser's or a shared one, may keep an answer that carries
/// a user's data or sets a cookie: every `/api` answer says `no-store`,
/// errors included; the SPA's files keep their own caching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_with_user_data_or_cookies_are_never_stored() {
    use reqwest::Method;
    let app = spawn_app_with(Backend::Sqlite, |_| {})
        .await
        .expect("sqlite");
    let user = TestUser::generate();
    let no_store = |response: &reqwest::Response, what: &str| {
        assert_eq!(
            response
                .headers()
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{what}"
        );
    };
    no_store(&app.register(&user).await, "register");
    let login = app.login(&user).await;
    assert_eq!(login.status(), StatusCode::OK);
    no_store(&login, "login");
    let memo = app.create_memo("private", "text").await;
    let id = memo["id"].as_i64().expect("an id");
    for path in [
        "/api/memos".to_owned(),
        format!("/api/memos/{id}"),
        "/api/auth/me".to_owned(),
        "/api/auth/sessions".to_owned(),
        "/api/memos/999999".to_owned(),
    ] {
        no_store(&app.get(&path).await, &path);
    }
    let refreshed = app
        .send(
            Method::POST,
            "/api/auth/refresh",
            None,
            crate::helpers::Csrf::Refresh,
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    no_store(&refreshed, "refresh");
    let out = app.call(Method::POST, "/api/auth/logout", None).await;
    no_store(&out, "logout");
    let spa = app.get("/").await;
    assert_eq!(
        spa.headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-cache"),
        "the SPA revalidates but may be cached"
    );
}

/// The refresh cookie alone, without `X-CSRF-TOKEN`, must not end a login:
/// a cross-site form post would carry the cookie (with SameSite=Lax or
/// None) and log the user out. Logout checks the CSRF value of each token it
/// revokes; that check is jwt-extended's one-call logout (issue 11).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_with_the_refresh_cookie_alone_needs_its_csrf_header() {
    use reqwest::Method;
    let app = spawn_app_with(Backend::Sqlite, |_| {})
        .await
        .expect("sqlite");
    app.signed_in_user().await;
    let refresh = app
        .cookie_for("/api/auth/refresh", "refresh_token_cookie")
        .expect("a refresh cookie");
    let refresh_csrf = app.cookie_for("/", "csrf_refresh_token").expect("its CSRF");
    let forged = app
        .bare_client()
        .post(app.url("/api/auth/logout"))
        .header("Cookie", format!("refresh_token_cookie={refresh}"))
        .send()
        .await
        .expect("answer");
    assert_error(forged, StatusCode::UNAUTHORIZED, "Missing CSRF token").await;
    let refreshed = app
        .send(
            Method::POST,
            "/api/auth/refresh",
            None,
            crate::helpers::Csrf::Value(refresh_csrf.clone()),
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK, "the login still lives");
    let wrong = app
        .bare_client()
        .post(app.url("/api/auth/logout"))
        .header(
            "Cookie",
            format!(
                "refresh_token_cookie={}",
                app.cookie_for("/api/auth/refresh", "refresh_token_cookie")
                    .expect("the new refresh cookie")
            ),
        )
        .header("X-CSRF-TOKEN", "not-the-value")
        .send()
        .await
        .expect("answer");
    assert_error(
        wrong,
        StatusCode::UNAUTHORIZED,
        "CSRF double submit tokens do not match",
    )
    .await;
    assert_eq!(app.get("/api/auth/status").await.status(), StatusCode::OK);
}

//! The original Vue client's calls, exactly as its JavaScript makes them,
//! against `base = http://HOST:PORT/api`:
//!
//! ```js
//! fetch(`${base}/auth/login`, { method: "POST", credentials: "include",
//!   headers: { "Content-Type": "application/json" },
//!   body: JSON.stringify({ user_name, password }) })            // 200 expected
//! fetch(`${base}/memos`, { cache: "no-store", method: "GET", credentials: "include",
//!   headers: { "X-CSRF-TOKEN": this.$cookies.get("csrf_access_token") } })
//! fetch(`${base}/auth/status`, { cache: "no-store", method: "GET", credentials: "include",
//!   headers: { "X-CSRF-TOKEN": this._getCookie("csrf_access_token") } })  // 200 = logged in
//! fetch(`${base}/auth/logout`, { method: "POST", credentials: "include", ... })
//! ```
//!
//! It runs twice: same-origin, and cross-origin as the original deployed it
//! (the SPA on its own dev server, FRONTEND_ORIGIN on the API), where the
//! browser would also require the CORS headers checked here.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestUser, backend_tests, spawn_app_with};

backend_tests!(
    the_original_client_flow_works_unchanged,
    the_original_client_flow_works_cross_origin
);

/// The Vue dev server's origin in the original setup.
const SPA_ORIGIN: &str = "http://localhost:8080";

struct OriginalClient<'a> {
    app: &'a TestApp,
    base: String,
    origin: Option<&'static str>,
}

impl OriginalClient<'_> {
    /// `fetch(url, { credentials: "include", ... })`: the cookie store plays
    /// the browser's part; a cross-origin page also sends `Origin`.
    fn fetch(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .app
            .client
            .request(method, format!("{}{path}", self.base));
        match self.origin {
            Some(origin) => request.header("Origin", origin),
            None => request,
        }
    }

    /// `this.$cookies.get("csrf_access_token")` / `_getCookie(...)`: the
    /// value of the readable cookie, as JavaScript on the page sees it.
    fn csrf_cookie(&self) -> String {
        self.app
            .csrf_access()
            .unwrap_or_else(|| "undefined".to_owned())
    }

    /// What the browser checks before handing a cross-origin response to the
    /// page: the exact origin and credentials allowed.
    fn check_cors(&self, response: &Response) {
        let Some(origin) = self.origin else { return };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert_eq!(
            header("access-control-allow-credentials").as_deref(),
            Some("true")
        );
    }

    async fn login(&self, user: &TestUser) -> StatusCode {
        let body = serde_json::to_string(
            &json!({ "user_name": user.user_name, "password": user.password }),
        )
        .expect("JSON.stringify");
        let response = self
            .fetch(Method::POST, "/auth/login")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("fetch");
        self.check_cors(&response);
        response.status()
    }

    async fn show_memos(&self) -> Value {
        let response = self
            .fetch(Method::GET, "/memos")
            .header("X-CSRF-TOKEN", self.csrf_cookie())
            .send()
            .await
            .expect("fetch");
        self.check_cors(&response);
        response.json().await.expect("response.json()")
    }

    async fn is_logged_in(&self) -> bool {
        let response = self
            .fetch(Method::GET, "/auth/status")
            .header("X-CSRF-TOKEN", self.csrf_cookie())
            .send()
            .await
            .expect("fetch");
        self.check_cors(&response);
        response.status() == StatusCode::OK
    }

    async fn logout(&self) -> StatusCode {
        let response = self
            .fetch(Method::POST, "/auth/logout")
            .header("X-CSRF-TOKEN", self.csrf_cookie())
            .send()
            .await
            .expect("fetch");
        self.check_cors(&response);
        response.status()
    }
}

async fn run_flow(app: &TestApp, origin: Option<&'static str>) {
    let user = TestUser::generate();
    app.register(&user).await;
    let client = OriginalClient {
        app,
        base: app.url("/api"),
        origin,
    };
    assert!(
        !client.is_logged_in().await,
        "the router guard sends a stranger to /login"
    );

    assert_eq!(
        client.login(&user).await,
        StatusCode::OK,
        "Login.vue pushes to / on 200"
    );
    assert!(
        client.is_logged_in().await,
        "the guard lets the user through"
    );
    let memos = client.show_memos().await;
    assert_eq!(memos, json!([]), "MemoList.vue gets an array");
    app.create_memo("from the new UI", "").await;
    let memos = client.show_memos().await;
    assert_eq!(memos.as_array().map(Vec::len), Some(1));
    assert_eq!(memos[0]["title"], "from the new UI");

    assert_eq!(client.logout().await, StatusCode::OK);
    assert!(!client.is_logged_in().await, "logged out");
}

async fn the_original_client_flow_works_unchanged(app: TestApp) {
    run_flow(&app, None).await;
}

async fn the_original_client_flow_works_cross_origin(app: TestApp) {
    let backend = if app.database_url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    drop(app);
    let Some(app) = spawn_app_with(backend, |config| {
        config.cors_origins = memo::config::parse_origins(SPA_ORIGIN).expect("a valid origin");
    })
    .await
    else {
        return;
    };
    run_flow(&app, Some(SPA_ORIGIN)).await;
}

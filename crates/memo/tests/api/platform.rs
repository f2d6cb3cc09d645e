//! What is not a contract row but every response relies on: health, security
//! headers, CORS, the SPA and the OpenAPI document.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, json, spawn_app_with};

backend_tests!(
    health_checks_the_database,
    every_response_carries_the_security_headers,
    the_spa_is_served_at_the_root_with_client_routes_and_cached_assets,
    the_openapi_document_lists_every_route_the_router_has,
);

async fn health_checks_the_database(app: TestApp) {
    let response = app.get("/api/health").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json(response).await,
        json!({"status": "ok", "database": "ok", "redis": "not configured"})
    );
}

/// With REDIS_URL, Redis is required (authenticated requests need it): the
/// health check reports it and answers 503 while it is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_each_service_and_is_503_while_redis_is_down() {
    let Some(mut redis) = crate::support::redis::PrivateRedis::start().await else {
        return;
    };
    let url = redis.url.clone();
    let app = spawn_app_with(Backend::Sqlite, |config| config.redis_url = Some(url))
        .await
        .expect("a server");
    let up = app.get("/api/health").await;
    assert_eq!(up.status(), StatusCode::OK);
    assert_eq!(
        json(up).await,
        json!({"status": "ok", "database": "ok", "redis": "ok"})
    );

    redis.stop();
    let down = app.get("/api/health").await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        json(down).await,
        json!({"status": "unavailable", "database": "ok", "redis": "down", "msg": "Unavailable: Redis"})
    );
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

async fn every_response_carries_the_security_headers(app: TestApp) {
    for path in ["/api/health", "/api/nothing", "/", "/memos", "/api/memos"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(get(header::CONTENT_SECURITY_POLICY), Some(CSP), "{path}");
        assert_eq!(
            get(header::X_CONTENT_TYPE_OPTIONS),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(get(header::REFERRER_POLICY), Some("no-referrer"), "{path}");
        assert_eq!(
            get(header::STRICT_TRANSPORT_SECURITY),
            None,
            "no HSTS without Secure cookies ({path})"
        );
        assert!(
            get(header::HeaderName::from_static("x-request-id")).is_some_and(|id| !id.is_empty()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn hsts_is_sent_when_cookies_are_secure() {
    let app = spawn_app_with(Backend::Sqlite, |config| config.cookie_secure = true)
        .await
        .expect("sqlite");
    let response = app.get("/api/health").await;
    let hsts = response
        .headers()
        .get(header::STRICT_TRANSPORT_SECURITY)
        .and_then(|v| v.to_str().ok());
    assert_eq!(hsts, Some("max-age=63072000; includeSubDomains"));
}

#[tokio::test]
async fn cors_allows_the_configured_origins_with_credentials_and_no_other() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.cors_origins =
            memo::config::parse_origins("http://localhost:5173, https://memo.example")
                .expect("valid origins");
    })
    .await
    .expect("sqlite");
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/memos"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "content-type,x-csrf-token",
            )
            .send()
    };

    let allowed = preflight("http://localhost:5173").await.expect("answer");
    let other = preflight("http://evil.example").await.expect("answer");
    let simple = app
        .client
        .get(app.url("/api/health"))
        .header("Origin", "https://memo.example")
        .send()
        .await
        .expect("answer");

    assert!(allowed.status().is_success());
    let get = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_lowercase)
    };
    assert_eq!(
        get(&allowed, "access-control-allow-origin").as_deref(),
        Some("http://localhost:5173")
    );
    assert_eq!(
        get(&allowed, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert!(
        get(&allowed, "access-control-allow-headers").is_some_and(|h| h.contains("x-csrf-token"))
    );
    assert!(
        get(&allowed, "access-control-allow-methods")
            .is_some_and(|m| m.contains("post") && m.contains("patch"))
    );
    assert_eq!(
        get(&other, "access-control-allow-origin"),
        None,
        "no header for other origins"
    );
    assert_eq!(
        get(&simple, "access-control-allow-origin").as_deref(),
        Some("https://memo.example")
    );
    assert_eq!(
        get(&simple, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    // A script on the other origin reads only the headers listed here: the
    // next page's Link, a 429's Retry-After, the request id.
    let exposed = get(&simple, "access-control-expose-headers").unwrap_or_default();
    let exposed: Vec<&str> = exposed.split(',').map(str::trim).collect();
    for name in ["link", "retry-after", "x-request-id"] {
        assert!(exposed.contains(&name), "{name} not in {exposed:?}");
    }
}

#[tokio::test]
async fn without_frontend_origin_there_are_no_cors_headers() {
    let app = spawn_app_with(Backend::Sqlite, |_| {})
        .await
        .expect("sqlite");
    let response = app
        .client
        .get(app.url("/api/health"))
        .header("Origin", "http://localhost:5173")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

/// `web/dist` as the server sees it (in debug builds rust-embed reads it from
/// disk, so the test follows whatever is built right now).
fn dist() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist")
}

async fn the_spa_is_served_at_the_root_with_client_routes_and_cached_assets(app: TestApp) {
    let root = app.get("/").await;
    assert_eq!(root.status(), StatusCode::OK);
    assert_eq!(
        root.headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-cache")
    );
    assert!(
        root.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let root_body = root.text().await.expect("a body");

    if !memo::http::spa_is_built() {
        assert!(
            root_body.contains("npm --prefix web ci &amp;&amp; npm --prefix web run build"),
            "{root_body}"
        );
        assert_eq!(
            app.get("/memos/archived")
                .await
                .text()
                .await
                .expect("a body"),
            root_body
        );
        return;
    }
    let index = std::fs::read_to_string(dist().join("index.html")).expect("web/dist/index.html");
    assert_eq!(root_body, index);
    for client_route in ["/login", "/memos/archived", "/index.html"] {
        let response = app.get(client_route).await;
        assert_eq!(response.status(), StatusCode::OK, "{client_route}");
        assert_eq!(
            response.text().await.expect("a body"),
            index,
            "{client_route}"
        );
    }
    let asset = std::fs::read_dir(dist().join("assets"))
        .expect("web/dist/assets")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with(".js"))
        .expect("a built script");
    let response = app.get(&format!("/assets/{asset}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let get = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        get(header::CACHE_CONTROL).as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert!(get(header::CONTENT_TYPE).is_some_and(|t| t.contains("javascript")));
    let etag = get(header::ETAG).expect("an ETag");
    let revalidated = app
        .client
        .get(app.url(&format!("/assets/{asset}")))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("answer");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        app.get("/assets/missing-0000.js").await.status(),
        StatusCode::NOT_FOUND,
        "a missing asset is not the SPA"
    );
}

#[tokio::test]
async fn non_get_requests_outside_the_api_are_405() {
    let app = spawn_app_with(Backend::Sqlite, |_| {})
        .await
        .expect("sqlite");
    let response = app
        .client
        .post(app.url("/login"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// Every route of the API, as the contract (and the issue) lists them.
const ROUTES: [(&str, &str); 20] = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("get", "/api/auth/status"),
    ("get", "/api/auth/me"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions/{id}"),
    ("post", "/api/auth/logout-all"),
    ("post", "/api/auth/logout-others"),
    ("post", "/api/auth/password"),
    ("delete", "/api/auth/account"),
    ("get", "/api/.well-known/jwks.json"),
    ("get", "/api/memos"),
    ("post", "/api/memos"),
    ("get", "/api/memos/{id}"),
    ("patch", "/api/memos/{id}"),
    ("delete", "/api/memos/{id}"),
    ("get", "/api/admin/users"),
    ("get", "/api/health"),
];

async fn the_openapi_document_lists_every_route_the_router_has(app: TestApp) {
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = json(response).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1: {}",
        doc["openapi"]
    );

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let mut expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.insert(("get".into(), "/api/openapi.json".into()));
    assert_eq!(
        documented, expected,
        "the document lists exactly the router's routes"
    );

    // The other direction: the router answers each documented method of each
    // documented path (never the JSON 404), and only those (405 otherwise).
    for path in documented
        .iter()
        .map(|(_, p)| p.clone())
        .collect::<BTreeSet<_>>()
    {
        let concrete = path.replace("{id}", "1");
        for method in ["get", "post", "put", "patch", "delete"] {
            let response = app
                .client
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method"),
                    app.url(&concrete),
                )
                .send()
                .await
                .expect("answer");
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if documented.contains(&(method.to_owned(), path.clone())) {
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                assert!(
                    !(status == StatusCode::NOT_FOUND && body.contains("\"Not found\"")),
                    "{method} {path} is routed"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is not a route"
                );
            }
        }
    }

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["access_cookie"],
        json!({"type": "apiKey", "in": "cookie", "name": "access_token_cookie", "description": schemes["access_cookie"]["description"]})
    );
    assert_eq!(schemes["refresh_cookie"]["name"], "refresh_token_cookie");
    assert_eq!(schemes["csrf_header"]["in"], "header");
    assert_eq!(schemes["csrf_header"]["name"], "X-CSRF-TOKEN");
    let create = &doc["paths"]["/api/memos"]["post"];
    assert_eq!(
        create["security"],
        json!([{"access_cookie": [], "csrf_header": []}])
    );
    assert!(create["responses"]["201"].is_object() && create["responses"]["422"].is_object());
}

//! The web app: `web/dist`, embedded in the binary.
//!
//! Vite names the files under `assets/` by their content hash, so they can be
//! cached for a year; `index.html` names those files, so it must be revalidated
//! on every load (`no-cache`) or a deploy would leave browsers on old assets.
//! Any other GET path that is not a file gets `index.html`, so client-side
//! routes (`/login`, `/archived`) survive a reload. Until the SPA is built,
//! every such path gets a page that says how to build it.
//!
//! In debug builds rust-embed reads `web/dist` from disk at run time, so a
//! fresh `npm run build` shows up without recompiling `memo`; release builds
//! carry the files inside the binary.

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use rust_embed::{Embed, EmbeddedFile};

/// The built SPA. `allow_missing` lets `memo` compile before the SPA is built;
/// `MEMO_WEB_DIST` is `web/dist` as a clean absolute path (see `build.rs`).
#[derive(Embed)]
#[folder = "$MEMO_WEB_DIST"]
#[allow_missing = true]
struct Assets;

/// Caching for content-hashed files: they never change under the same name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Caching for everything else: always revalidate.
const NO_CACHE: &str = "no-cache";

/// Shown at every SPA path while `web/dist` has not been built.
const NOT_BUILT_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>memo: the web app is not built</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>memo</h1>
<p>The API is running under <a href="/api/health"><code>/api</code></a>, but the web app has not been built.</p>
<p>Build it from the repository root:</p>
<pre>npm --prefix web ci &amp;&amp; npm --prefix web run build</pre>
<p>then restart <code>memo</code> (a release build embeds <code>web/dist</code> when it is compiled, so rebuild it too).</p>
</body>
</html>
"#;

/// Whether the SPA has been built (`index.html` exists).
#[must_use]
pub fn is_built() -> bool {
    Assets::get("index.html").is_some()
}

/// Serves a non-API request: a file of the SPA, `index.html` for client
/// routes, or the not-built page.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "Method not allowed\n",
        )
            .into_response();
    }
    let path = uri.path().trim_start_matches('/');
    // rust-embed reads from disk in debug builds: never hand it a path that
    // could climb out of web/dist.
    let safe = !path.split('/').any(|segment| segment == "..") && !path.contains('\\');
    if safe && !path.is_empty() && path != "index.html" {
        if let Some(file) = Assets::get(path) {
            let cache = if path.starts_with("assets/") {
                IMMUTABLE
            } else {
                NO_CACHE
            };
            return file_response(&file, cache, &headers);
        }
        // A missing hashed asset is a stale or broken link; answering it with
        // index.html would hide that behind a MIME-type error in the browser.
        if path.starts_with("assets/") {
            return (
                StatusCode::NOT_FOUND,
                [(header::CACHE_CONTROL, NO_CACHE)],
                "Not found\n",
            )
                .into_response();
        }
    }
    match Assets::get("index.html") {
        Some(index) => file_response(&index, NO_CACHE, &headers),
        None => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, NO_CACHE),
            ],
            NOT_BUILT_PAGE,
        )
            .into_response(),
    }
}

/// A file with its type, caching policy and a strong ETag (its SHA-256), and
/// a 304 when the browser already has it.
fn file_response(file: &EmbeddedFile, cache: &'static str, request: &HeaderMap) -> Response {
    let hash = file.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, hash)
    );
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, &etag);
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if not_modified {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        builder = builder.header(header::CONTENT_TYPE, value);
    }
    builder
        .body(Body::from(file.data.clone()))
        .unwrap_or_default()
}

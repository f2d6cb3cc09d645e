//! The HTTP layer: the API under `/api`, the SPA at `/`, and the middleware
//! that every response goes through.

mod account;
mod admin;
mod auth;
mod body_limit;
mod health;
mod memos;
mod openapi;
mod response_policy;
mod spa;

use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header},
    response::{IntoResponse, Response},
};
use tower::{ServiceBuilder, util::BoxCloneSyncService};
use tower_http::{
    LatencyUnit,
    cors::{AllowOrigin, CorsLayer},
    csrf::{CsrfLayer, ProtectionError},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use utoipa::OpenApi as _;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use self::{
    admin::IsManager, health::RedisHealth, memos::CursorKey, openapi::ApiDoc,
    spa::is_built as spa_is_built,
};
use self::{body_limit::DeclaredLengthLayer, response_policy::ResponsePolicyLayer};
use crate::{
    config::Config,
    error::{ApiError, BODY_LIMIT_BYTES},
    state::AppState,
};

/// The Content-Security-Policy of every response: the SPA loads only its own
/// scripts (no inline script), may use inline styles (Vuetify sets some),
/// and cannot be framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; \
form-action 'self'";

/// HSTS, sent only when cookies are Secure (i.e. the app is served over
/// HTTPS): two years, the preload list's minimum.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The `Content-Type` of the JSON bodies written without axum's `Json`.
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The whole app as one service: the routes inside the middleware that every
/// request and response goes through.
pub type HttpApp = BoxCloneSyncService<Request, Response, Infallible>;

/// The whole app: API routes, SPA fallback and middleware, plus the OpenAPI
/// document that describes the API routes.
///
/// The middleware wraps the router once, as one service, instead of through
/// `Router::layer`, which wraps every route (and the fallback) in each layer
/// again, boxing each layer's future per request: seven boxes, moves and
/// dynamic calls a request (docs/performance.md).
pub fn router(state: AppState, config: &Config) -> (HttpApp, utoipa::openapi::OpenApi) {
    let (api, mut openapi) = api_routes().split_for_parts();
    crate::limits::document(&mut openapi);
    OPENAPI_JSON.get_or_init(|| openapi.to_json().unwrap_or_default());

    let routes = api.fallback(fallback).with_state(state);
    let app = ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(SetRequestIdLayer::new(
            X_REQUEST_ID,
            SequentialRequestId::new(),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(ResponsePolicyLayer {
            hsts: config.cookie_secure,
        })
        .option_layer(cors_layer(config))
        .option_layer(config.origin_check.then(|| origin_check_layer(config)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(DeclaredLengthLayer)
        .service(routes);
    (BoxCloneSyncService::new(app), openapi)
}

/// Go 1.25's cross-origin protection (tower-http's `CsrfLayer`): an unsafe
/// request that the browser marks cross-site (`Sec-Fetch-Site`), or whose
/// `Origin` is neither this host nor a FRONTEND_ORIGIN, is refused with 403
/// before any handler, and so before the double-submit check, runs.
fn origin_check_layer(
    config: &Config,
) -> CsrfLayer<impl FnMut(ProtectionError) -> Response + Clone + use<>> {
    let mut layer = CsrfLayer::new();
    for origin in config.cors_origins.iter().filter_map(|o| o.to_str().ok()) {
        // FRONTEND_ORIGIN was checked at start-up; one tower-http would
        // still refuse only narrows what is allowed.
        match layer.clone().add_trusted_origin(origin) {
            Ok(with_origin) => layer = with_origin,
            Err(err) => tracing::warn!(%origin, %err, "not trusted by the origin check"),
        }
    }
    layer.with_rejection_response(|_: ProtectionError| {
        ApiError::Forbidden("Cross-origin request refused".into()).into_response()
    })
}

/// Request ids `<8 random hex digits>-<counter>`: unique across instances (the
/// random prefix) and restarts, and cheaper than a UUID v4 per request, which
/// asks the kernel for randomness every time.
#[derive(Clone, Debug)]
struct SequentialRequestId {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self {
            prefix: Arc::from(&random[..8]),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut id = String::with_capacity(self.prefix.len() + 17);
        id.push_str(&self.prefix);
        id.push('-');
        push_hex(&mut id, n);
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// `n` in lower-case hex without leading zeros, as `{n:x}` writes it; by hand
/// because `format!` cost 1,100 instructions a request (bench/instructions.sh).
fn push_hex(out: &mut String, n: u64) {
    let digits = (u64::BITS - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        let digit = ((n >> (i * 4)) & 0xf) as u32;
        out.extend(char::from_digit(digit, 16));
    }
}

/// The span of one request: method, path and request id. The path only,
/// never the query (a `?jwt=` token could be there) nor any header (cookies).
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
}

/// Every documented API route.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(account::router())
        .merge(memos::router())
        .merge(admin::router())
        .merge(health::router())
        .routes(routes!(openapi_json))
}

/// The generated document, serialized by the first [`router`]: it is the
/// same for every app in a process (tests start many), and a static keeps it
/// out of the state and the request extensions.
static OPENAPI_JSON: OnceLock<String> = OnceLock::new();

/// This API's OpenAPI 3.1 description.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
async fn openapi_json() -> Response {
    let document = OPENAPI_JSON.get().map_or("{}", String::as_str);
    ([(header::CONTENT_TYPE, APPLICATION_JSON)], document).into_response()
}

/// Unknown `/api` paths are a JSON 404; everything else is the SPA's.
async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if is_api_path(uri.path()) {
        return ApiError::NotFound("Not found".into()).into_response();
    }
    spa::serve(method, uri, headers).await
}

fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// CORS as the original's Flask-CORS setup: the listed origins, with
/// credentials, preflight answered; nothing for other origins. `None` when no
/// origin is configured (same-origin only). The headers a client acts on are
/// exposed, or a script on another origin could not read them: `Link` (the
/// next page), `Retry-After` (a 429's wait), `X-Request-Id` (for a report).
fn cors_layer(config: &Config) -> Option<CorsLayer> {
    if config.cors_origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(config.cors_origins.iter().cloned()))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::CONTENT_TYPE,
                HeaderName::from_static("x-csrf-token"),
            ])
            .expose_headers([header::LINK, header::RETRY_AFTER, X_REQUEST_ID])
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_differ_between_processes() {
        let request = axum::http::Request::new(());
        let mut one = SequentialRequestId::new();
        let mut clone = one.clone();
        let id = |maker: &mut SequentialRequestId| {
            let id = maker.make_request_id(&request).expect("an id");
            id.header_value().to_str().expect("ASCII").to_owned()
        };
        let ids = [id(&mut one), id(&mut clone), id(&mut one)];
        assert_eq!(
            ids.iter().collect::<std::collections::HashSet<_>>().len(),
            3
        );
        assert!(ids.iter().all(|i| i.starts_with(&*one.prefix)), "{ids:?}");
        // Another process (another instance) draws another prefix.
        assert_ne!(SequentialRequestId::new().prefix, one.prefix);
    }

    #[test]
    fn request_id_counters_are_written_in_hex_as_format_writes_them() {
        for n in [
            0,
            1,
            9,
            10,
            15,
            16,
            255,
            256,
            0xdead_beef,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = String::from("p-");
            push_hex(&mut out, n);
            assert_eq!(out, format!("p-{n:x}"));
        }
    }
}

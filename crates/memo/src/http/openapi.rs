//! The OpenAPI 3.1 description, generated from the handlers' `#[utoipa::path]`
//! attributes as the router is assembled (utoipa-axum), so the document and
//! the routes cannot drift apart.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
};

/// Security scheme: the access token's HttpOnly cookie.
pub const ACCESS_COOKIE: &str = "access_cookie";
/// Security scheme: the refresh token's HttpOnly cookie (path /api/auth).
pub const REFRESH_COOKIE: &str = "refresh_cookie";
/// Security scheme: the double-submit CSRF header.
pub const CSRF_HEADER: &str = "csrf_header";

/// The document's fixed parts; paths are added by the routers.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "memo",
        description = "The memo app's API. Log in with POST /api/auth/login: it sets the access and refresh \
tokens as HttpOnly cookies plus the readable csrf_access_token and csrf_refresh_token cookies. \
Unsafe methods (POST, PUT, PATCH, DELETE) must also send the matching CSRF cookie's value in \
the X-CSRF-TOKEN header. Every error is JSON {\"msg\": \"...\"}."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "memos", description = "The caller's memos"),
        (name = "admin", description = "Manager-only routes"),
        (name = "operations", description = "Health and description"),
    )
)]
pub struct ApiDoc;

/// Adds the cookie and CSRF-header security schemes.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ACCESS_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "access_token_cookie",
                "The access token (a JWT), set by login and refresh; HttpOnly.",
            ))),
        );
        components.add_security_scheme(
            REFRESH_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "refresh_token_cookie",
                "The refresh token (a JWT), set by login; HttpOnly, sent only to /api/auth.",
            ))),
        );
        components.add_security_scheme(
            CSRF_HEADER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-TOKEN",
                "Double-submit CSRF token: the csrf_access_token cookie's value (csrf_refresh_token for \
                 /api/auth/refresh). Required on POST, PUT, PATCH and DELETE.",
            ))),
        );
    }
}

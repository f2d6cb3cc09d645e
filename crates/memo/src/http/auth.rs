//! `/api/auth/*`: register, login, status, me, refresh, logout, the
//! sessions list, and the JWKS.
//!
//! Login starts a login family in jwt-extended's session store and sets the
//! original's two access cookies plus the refresh pair; refresh rotates the
//! refresh token (a replayed old one revokes the family); every check is
//! jwt-extended's, so statuses and messages are Flask-JWT-Extended's.

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use jwt_extended::{
    AuthCookies, FAMILY_CLAIM, IssuedTokens, Jwt, JwtManager, RefreshToken, SessionInfo,
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    db::{Db, NewUser, User},
    domain::{Password, UserName, refuse_nul},
    error::{ApiError, AppJson, ErrorBody},
    limits::{ClientIp, RateLimiter},
    password::Passwords,
    state::AppState,
    tokens::user_claims,
};

/// The app's `CurrentUser`: the token's user row, loaded by jwt-extended's
/// user loader (the `Db`) for the request's token.
pub type CurrentUser = jwt_extended::CurrentUser<User>;

/// The auth routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(status))
        .routes(routes!(me))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(sessions))
        .routes(routes!(end_session))
        .routes(routes!(logout_all))
        .routes(routes!(logout_others))
        .routes(routes!(jwks))
}

/// A user name and password (register and login).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The login name (1 to 64 characters after trimming; any spelling that
    /// is the same after NFKC and case folding is the same name).
    #[schema(min_length = 1, max_length = 64)]
    user_name: String,
    /// The password (at least 8 characters to register, at most 1024).
    #[schema(max_length = 1024)]
    password: String,
}

/// A newly registered user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    /// The new user's id.
    id: i64,
    /// The name registered.
    user_name: String,
}

/// A success message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    /// What happened.
    pub(super) msg: &'static str,
}

/// Creates an account. It does not log in.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 201, description = "The account was created", body = Registered),
        (status = 400, description = "Malformed JSON, or not JSON (no `Content-Type: application/json`)", body = ErrorBody),
        (status = 409, description = "The name is taken, in this or another spelling (case, width, Unicode normalization)", body = ErrorBody),
        (status = 413, description = "Body over 512 KiB", body = ErrorBody),
        (status = 422, description = "Empty or too long name (after trimming), a control, format or bidi character or U+0000 in it, password under 8 characters, wrong or unknown fields, a body that is not an object", body = ErrorBody),
    )
)]
async fn register(
    State(db): State<Db>,
    State(passwords): State<Passwords>,
    State(limiter): State<RateLimiter>,
    ip: ClientIp,
    AppJson(body): AppJson<Credentials>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    limiter.register(&ip).await?;
    let name = UserName::parse(body.user_name).map_err(ApiError::Unprocessable)?;
    let password = Password::parse(body.password).map_err(ApiError::Unprocessable)?;
    let hash = passwords.hash(password).await?;
    let new = NewUser {
        user_name: name.as_str(),
        password_hash: &hash,
        department: None,
        manager_role_attached: false,
    };
    let user = db
        .insert_user(&new)
        .await?
        .ok_or_else(|| ApiError::Conflict("User name already taken".into()))?;
    tracing::info!(user_id = user.id, "user registered");
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            id: user.id,
            user_name: user.user_name,
        }),
    ))
}

/// Logs in: sets `access_token_cookie` and `csrf_access_token` (path /),
/// `refresh_token_cookie` (path /api/auth) and `csrf_refresh_token` (path /).
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in; the four cookies are set", body = User),
        (status = 400, description = "Malformed JSON, or not JSON (no `Content-Type: application/json`)", body = ErrorBody),
        (status = 401, description = "`Wrong login id or password.`", body = ErrorBody),
        (status = 422, description = "Missing, wrong or unknown fields, U+0000 in the name or password, a body that is not an object", body = ErrorBody),
    )
)]
async fn login(
    State(db): State<Db>,
    State(passwords): State<Passwords>,
    State(jwt): State<JwtManager>,
    State(limiter): State<RateLimiter>,
    ip: ClientIp,
    headers: header::HeaderMap,
    AppJson(body): AppJson<Credentials>,
) -> Result<(IssuedTokens, Json<User>), ApiError> {
    refuse_nul("user_name", &body.user_name).map_err(ApiError::Unprocessable)?;
    refuse_nul("password", &body.password).map_err(ApiError::Unprocessable)?;
    let checked = limiter.login(&body.user_name, &ip, async {
        let found = db.user_by_name(&body.user_name).await?;
        let hash = found.as_ref().map(|u| u.password_hash.clone());
        let verified = passwords.verify(body.password, hash).await?;
        Ok(found.filter(|_| verified).map(|found| found.user))
    });
    let user = checked.await?.ok_or(ApiError::WrongCredentials)?;
    let tokens = jwt
        .login(
            user.id.to_string(),
            user_claims(&user),
            user_agent(&headers),
        )
        .await?;
    tracing::info!(user_id = user.id, session = ?tokens.family, "user logged in");
    Ok((tokens, Json(user)))
}

/// The browser's User-Agent, for the logins list.
pub(super) fn user_agent(headers: &header::HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Whether the access cookie is valid and its user still exists: the
/// original's `verify_jwt_in_request()` with its user lookup loader.
#[utoipa::path(
    get,
    path = "/api/auth/status",
    tag = "auth",
    security(("access_cookie" = [])),
    responses(
        (status = 200, description = "The access token is valid", body = Message),
        (status = 401, description = "No, expired or revoked token, or its user no longer exists", body = ErrorBody),
        (status = 422, description = "Invalid token", body = ErrorBody),
    )
)]
async fn status(_: Jwt) -> Json<Message> {
    Json(Message { msg: "Logged in" })
}

/// The logged-in user.
#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    security(("access_cookie" = [])),
    responses(
        (status = 200, description = "The token's user", body = User),
        (status = 401, description = "No, expired or revoked token, or the user no longer exists", body = ErrorBody),
        (status = 422, description = "Invalid token", body = ErrorBody),
    )
)]
async fn me(jwt_extended::CurrentUser(user): CurrentUser) -> Json<User> {
    Json(user)
}

/// Rotates the refresh token: new access **and** refresh cookies (the four
/// cookies), the old refresh token retired. The claims are read again from
/// the user row. Presenting a retired refresh token again (after the grace
/// window) revokes the whole login: `Token has been revoked`, logged as a
/// security event.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    security(("refresh_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "New access and refresh cookies are set", body = Message),
        (status = 401, description = "No, expired, revoked or already rotated refresh token, missing or wrong CSRF header (the csrf_refresh_token value), or the user no longer exists", body = ErrorBody),
        (status = 422, description = "Invalid token, or an access token", body = ErrorBody),
        (status = 503, description = "The session store is unreachable", body = ErrorBody),
    )
)]
async fn refresh(
    State(jwt): State<JwtManager>,
    token: RefreshToken,
) -> Result<(IssuedTokens, Json<Message>), ApiError> {
    // The successor's claims come from the user row (the user loader's
    // `claims_for`); a deleted user's refresh token was refused already.
    let tokens = jwt.rotate(&token).await?;
    Ok((
        tokens,
        Json(Message {
            msg: "Token refreshed",
        }),
    ))
}

/// Logs out: clears the four cookies, revokes the access token and the
/// refresh token (until they would expire) and ends their login, so copies
/// of the cookies stop working too. Each token it revokes must come with its
/// own CSRF value (the refresh token goes with the login the access token
/// proves); a dead session can still clear its cookies.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "Logged out; the four cookies are cleared", body = Message),
        (status = 401, description = "A live access or refresh cookie without its own CSRF value in X-CSRF-TOKEN: nothing is revoked or cleared", body = ErrorBody),
        (status = 503, description = "The session store is unreachable (nothing was revoked)", body = ErrorBody),
    )
)]
async fn logout(
    State(jwt): State<JwtManager>,
    parts: Parts,
) -> Result<(AuthCookies, Json<Message>), ApiError> {
    let cookies = jwt.logout(&parts).await?;
    Ok((cookies, Json(Message { msg: "Logged out" })))
}

/// One of the caller's logins.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// The login's id (its token family).
    id: String,
    /// When the login happened (RFC 3339).
    created_at: String,
    /// When its tokens were last refreshed (RFC 3339).
    last_used_at: String,
    /// The browser's User-Agent at login.
    user_agent: Option<String>,
    /// Whether this is the login of the request's own access token.
    current: bool,
}

fn rfc3339(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl Session {
    fn new(info: SessionInfo, current: Option<&str>) -> Self {
        Self {
            current: current == Some(info.id.as_str()),
            created_at: rfc3339(info.created_at),
            last_used_at: rfc3339(info.last_used_at),
            user_agent: info.user_agent,
            id: info.id,
        }
    }
}

/// The identity of a verified access token, as the session store keys it.
pub(super) fn caller(claims: &jwt_extended::Claims) -> String {
    claims
        .sub()
        .map_or_else(|| claims.identity.to_string(), str::to_owned)
}

/// The caller's active logins, newest first.
#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "auth",
    security(("access_cookie" = [])),
    responses(
        (status = 200, description = "The caller's active logins, newest first", body = [Session]),
        (status = 401, description = "No, expired or revoked token", body = ErrorBody),
        (status = 422, description = "Invalid token", body = ErrorBody),
        (status = 503, description = "The session store is unreachable", body = ErrorBody),
    )
)]
async fn sessions(
    Jwt(claims): Jwt,
    State(jwt): State<JwtManager>,
) -> Result<Json<Vec<Session>>, ApiError> {
    let current = claims.extra.get(FAMILY_CLAIM).and_then(|v| v.as_str());
    let list = jwt.sessions(&caller(&claims)).await?;
    Ok(Json(
        // The store lists them oldest first.
        list.into_iter()
            .rev()
            .map(|s| Session::new(s, current))
            .collect(),
    ))
}

/// Ends one of the caller's logins: its access and refresh tokens stop
/// working at once.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{id}",
    tag = "auth",
    security(("access_cookie" = [], "csrf_header" = [])),
    params(("id" = String, Path, description = "The login's id, from GET /api/auth/sessions")),
    responses(
        (status = 204, description = "The login is ended"),
        (status = 401, description = "No, expired or revoked token, or a missing or wrong X-CSRF-TOKEN", body = ErrorBody),
        (status = 404, description = "`Session not found`: unknown, ended, or another user's", body = ErrorBody),
        (status = 422, description = "Invalid token", body = ErrorBody),
        (status = 503, description = "The session store is unreachable", body = ErrorBody),
    )
)]
async fn end_session(
    Jwt(claims): Jwt,
    State(jwt): State<JwtManager>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if jwt.end_session(&caller(&claims), &id).await? {
        tracing::info!(user = %caller(&claims), session = %id, "session ended");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("Session not found".into()))
    }
}

/// Logs out everywhere: ends every login of the caller and clears this
/// browser's four cookies.
#[utoipa::path(
    post,
    path = "/api/auth/logout-all",
    tag = "auth",
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "Every login is ended; the four cookies are cleared", body = Message),
        (status = 401, description = "No, expired or revoked token, or a missing or wrong X-CSRF-TOKEN", body = ErrorBody),
        (status = 422, description = "Invalid token", body = ErrorBody),
        (status = 503, description = "The session store is unreachable", body = ErrorBody),
    )
)]
async fn logout_all(
    Jwt(claims): Jwt,
    State(jwt): State<JwtManager>,
    parts: Parts,
) -> Result<(AuthCookies, Json<Message>), ApiError> {
    let cookies = jwt.logout(&parts).await?;
    let ended = jwt.end_all_sessions(&caller(&claims)).await?;
    tracing::info!(user = %caller(&claims), ended, "logged out everywhere");
    Ok((
        cookies,
        Json(Message {
            msg: "Logged out everywhere",
        }),
    ))
}

/// Logs out everywhere else: ends every login of the caller but this one,
/// in one call however many there are ("log out everywhere else" on the
/// account page); this browser keeps its cookies.
#[utoipa::path(
    post,
    path = "/api/auth/logout-others",
    tag = "auth",
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "Every other login is ended; `ended` says how many", body = OthersEnded),
        (status = 401, description = "No, expired or revoked token, or a missing or wrong X-CSRF-TOKEN", body = ErrorBody),
        (status = 422, description = "Invalid token", body = ErrorBody),
        (status = 503, description = "The session store is unreachable", body = ErrorBody),
    )
)]
async fn logout_others(
    Jwt(claims): Jwt,
    State(jwt): State<JwtManager>,
) -> Result<Json<OthersEnded>, ApiError> {
    let ended = jwt.end_sessions_other_than(&claims).await?;
    tracing::info!(user = %caller(&claims), ended, "logged out everywhere else");
    Ok(Json(OthersEnded {
        msg: "Logged out everywhere else",
        ended,
    }))
}

/// The answer of `POST /api/auth/logout-others`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OthersEnded {
    /// `Logged out everywhere else`.
    msg: &'static str,
    /// How many logins were ended.
    ended: usize,
}

/// The public keys that verify this server's tokens (RFC 7517), the signing
/// key first; retired keys stay listed until their tokens have expired.
/// Empty for HS256/384/512, whose secret is never published.
#[utoipa::path(
    get,
    path = "/api/.well-known/jwks.json",
    tag = "auth",
    responses((status = 200, description = "A JWK set: `{\"keys\": [...]}`", content_type = "application/json"))
)]
async fn jwks(State(jwt): State<JwtManager>) -> Response {
    Json(jwt.jwks()).into_response()
}

//! `/api/auth/*`: register, login, status, me, refresh, logout.
//!
//! Login sets the original's two access cookies plus the refresh pair; every
//! later check is jwt-extended's, so statuses and messages are
//! Flask-JWT-Extended's.

use axum::{
    Json,
    extract::{FromRef, FromRequestParts, State},
    http::{StatusCode, header, request::Parts},
};
use jwt_extended::{
    AuthCookies, DecodedToken, Jwt, JwtError, JwtManager, RefreshJwt, UserLoader as _,
    VerifyOptions,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    db::{Db, NewUser, User},
    domain::{Password, UserName},
    error::{ApiError, AppJson, ErrorBody},
    password::Passwords,
    state::AppState,
    tokens::user_claims,
};

/// The app's `CurrentUser`: the token's user row.
pub type CurrentUser = jwt_extended::CurrentUser<Db>;

/// The auth routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(status))
        .routes(routes!(me))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

/// A user name and password (register and login).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The login name (1 to 64 characters).
    user_name: String,
    /// The password (at least 8 characters to register).
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
    msg: &'static str,
}

/// Creates an account. It does not log in.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 201, description = "The account was created", body = Registered),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Empty or too long name, password under 8 characters, wrong or unknown fields", body = ErrorBody),
    )
)]
async fn register(
    State(db): State<Db>,
    State(passwords): State<Passwords>,
    AppJson(body): AppJson<Credentials>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
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
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "`Wrong login id or password.`", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Missing, wrong or unknown fields", body = ErrorBody),
    )
)]
async fn login(
    State(db): State<Db>,
    State(passwords): State<Passwords>,
    State(jwt): State<JwtManager>,
    AppJson(body): AppJson<Credentials>,
) -> Result<(AuthCookies, Json<User>), ApiError> {
    let found = db.user_by_name(&body.user_name).await?;
    let hash = found.as_ref().map(|u| u.password_hash.clone());
    let verified = passwords.verify(body.password, hash).await?;
    let user = match found {
        Some(found) if verified => found.user,
        _ => return Err(ApiError::WrongCredentials),
    };
    let cookies = issue_cookies(&jwt, &user, true)?;
    tracing::info!(user_id = user.id, "user logged in");
    Ok((cookies, Json(user)))
}

/// The access (and, with `with_refresh`, refresh) cookies for `user`.
fn issue_cookies(
    jwt: &JwtManager,
    user: &User,
    with_refresh: bool,
) -> Result<AuthCookies, ApiError> {
    let sub = user.id.to_string();
    let access = jwt
        .access_token(&sub)
        .additional_claims(user_claims(user))
        .encode()
        .map_err(ApiError::internal)?;
    let mut cookies = jwt.set_access_cookies(&access)?;
    if with_refresh {
        let refresh = jwt
            .refresh_token(&sub)
            .additional_claims(user_claims(user))
            .encode()
            .map_err(ApiError::internal)?;
        cookies = cookies.and(jwt.set_refresh_cookies(&refresh)?);
    }
    Ok(cookies)
}

/// Whether the access cookie is valid: the original's `verify_jwt_in_request()`.
#[utoipa::path(
    get,
    path = "/api/auth/status",
    tag = "auth",
    security(("access_cookie" = [])),
    responses(
        (status = 200, description = "The access token is valid", body = Message),
        (status = 401, description = "No, expired or revoked token", body = ErrorBody),
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

/// A new access token (cookies) from the refresh cookie. The claims are read
/// again from the user row.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    security(("refresh_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "New access cookies are set", body = Message),
        (status = 401, description = "No, expired or revoked refresh token, missing or wrong CSRF header (the csrf_refresh_token value), or the user no longer exists", body = ErrorBody),
        (status = 422, description = "Invalid token, or an access token", body = ErrorBody),
    )
)]
async fn refresh(
    RefreshJwt(claims): RefreshJwt,
    State(db): State<Db>,
    State(jwt): State<JwtManager>,
) -> Result<(AuthCookies, Json<Message>), ApiError> {
    // The same lookup as `CurrentUser` on access tokens: a deleted user's
    // refresh token must stop working too.
    let Some(user) = db.load_user(&claims).await? else {
        let identity = claims.sub().unwrap_or("None").to_owned();
        let token = Box::new(DecodedToken {
            header: claims.header,
            payload: claims.extra,
        });
        return Err(JwtError::UserLookup { identity, token }.into());
    };
    let cookies = issue_cookies(&jwt, &user, false)?;
    Ok((
        cookies,
        Json(Message {
            msg: "Token refreshed",
        }),
    ))
}

/// What logout finds in the request: the verified access token, if any, and
/// the refresh token from its cookie, if valid.
#[derive(Debug)]
pub struct LogoutTokens {
    access: Option<DecodedToken>,
    refresh: Option<DecodedToken>,
}

impl<S> FromRequestParts<S> for LogoutTokens
where
    JwtManager: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    /// A valid session must prove its CSRF token (a missing or wrong header
    /// is refused as everywhere). A session that is already dead (expired,
    /// revoked or invalid access token) can still log out: its cookies are
    /// cleared and a valid refresh token is still revoked.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let jwt = JwtManager::from_ref(state);
        let options = VerifyOptions {
            optional: true,
            ..VerifyOptions::default()
        };
        let access = match jwt.verify_request(parts, options).await {
            Ok(verified) => verified.map(|v| v.token),
            Err(
                error @ (JwtError::Csrf(_) | JwtError::StoreUnavailable | JwtError::Internal(_)),
            ) => {
                return Err(error.into());
            }
            Err(_) => None,
        };
        let refresh = cookie_value(parts, jwt.config().refresh_cookie_name())
            .and_then(|token| jwt.decode_token(&token, None, false).ok())
            .filter(|token| token.token_type() == "refresh");
        Ok(Self { access, refresh })
    }
}

/// The first cookie called `name` (Werkzeug's rule), unquoted.
fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
}

/// Logs out: clears the four cookies and revokes the access token and the
/// refresh token (until they would expire), so copies of the cookies stop
/// working too.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "Logged out; the four cookies are cleared", body = Message),
        (status = 401, description = "A valid access cookie without the matching X-CSRF-TOKEN", body = ErrorBody),
    )
)]
async fn logout(
    State(jwt): State<JwtManager>,
    tokens: LogoutTokens,
) -> Result<(AuthCookies, Json<Message>), ApiError> {
    for token in tokens.access.iter().chain(&tokens.refresh) {
        if token.jti().is_some() {
            jwt.revoke(token).await?;
        }
    }
    Ok((jwt.unset_jwt_cookies(), Json(Message { msg: "Logged out" })))
}

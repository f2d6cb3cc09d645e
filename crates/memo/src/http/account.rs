//! `/api/auth/password` and `/api/auth/account`: a user changes their
//! password or deletes their account. Both ask for the password again
//! (counted by the login limits, so a stolen session cannot guess it), and
//! both end logins through jwt-extended's session store, so the tokens of
//! an ended login are refused at once on every instance.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use jwt_extended::{
    AuthCookies, Claims, CurrentUser as Current, IssuedTokens, JsonObject, Jwt, JwtManager,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::{CurrentUser, Message, caller, user_agent};
use crate::{
    db::{Db, User},
    domain::{Password, refuse_nul},
    error::{ApiError, AppJson, ErrorBody},
    limits::{ClientIp, RateLimiter},
    password::Passwords,
    state::AppState,
    tokens::user_claims,
};

/// The account routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(change_password))
        .routes(routes!(delete_account))
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password in use.
    #[schema(max_length = 1024)]
    current_password: String,
    /// The new password: 8 to 1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    new_password: String,
}

/// An account deletion, confirmed by the password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDeletion {
    /// The password in use.
    #[schema(max_length = 1024)]
    password: String,
}

/// The services both routes use to check the password again.
struct PasswordCheck<'a> {
    db: &'a Db,
    passwords: &'a Passwords,
    limiter: &'a RateLimiter,
    ip: &'a ClientIp,
}

impl PasswordCheck<'_> {
    /// `Ok(())` when `password` is the user's; 401 `Wrong password` when it
    /// is not (counted like a failed login of their name). One holding U+0000
    /// cannot be right and is refused as input: 422 naming `field`.
    async fn verify(&self, user: &User, field: &str, password: String) -> Result<(), ApiError> {
        refuse_nul(field, &password).map_err(ApiError::Unprocessable)?;
        let checked = self.limiter.login(&user.user_name, self.ip, async {
            let hash = self.db.password_hash(user.id).await?;
            let verified = self.passwords.verify(password, hash).await?;
            Ok(verified.then_some(()))
        });
        checked.await?.ok_or(ApiError::WrongPassword)
    }
}

/// Changes the caller's password. Every other login of theirs ends; this one
/// is kept with new cookies (in the sessions list with its login time and
/// browser, under a new id), and every token it had before stops working, so
/// a copy cannot outlive the change.
#[utoipa::path(
    post,
    path = "/api/auth/password",
    tag = "auth",
    request_body = PasswordChange,
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "Changed; every other login is ended, this one is kept and its four cookies are set anew", body = Message),
        (status = 400, description = "Malformed JSON, or not JSON (no `Content-Type: application/json`)", body = ErrorBody),
        (status = 401, description = "`Wrong password` (counted by the login limits), or no, expired or revoked token, or a missing or wrong X-CSRF-TOKEN", body = ErrorBody),
        (status = 413, description = "Body over 512 KiB", body = ErrorBody),
        (status = 422, description = "A new password under 8 or over 1024 characters, U+0000, wrong or unknown fields, an invalid token", body = ErrorBody),
        (status = 503, description = "The session store is unreachable (the password may have changed; the logins were not all ended)", body = ErrorBody),
    )
)]
#[allow(clippy::too_many_arguments)]
async fn change_password(
    Jwt(current): Jwt,
    Current(user): CurrentUser,
    State(db): State<Db>,
    State(passwords): State<Passwords>,
    State(jwt): State<JwtManager>,
    State(limiter): State<RateLimiter>,
    ip: ClientIp,
    headers: HeaderMap,
    AppJson(body): AppJson<PasswordChange>,
) -> Result<(IssuedTokens, Json<Message>), ApiError> {
    let new_password = Password::parse(body.new_password).map_err(ApiError::Unprocessable)?;
    let check = PasswordCheck {
        db: &db,
        passwords: &passwords,
        limiter: &limiter,
        ip: &ip,
    };
    check
        .verify(&user, "current_password", body.current_password)
        .await?;
    let hash = passwords.hash(new_password).await?;
    if !db.set_password_hash(user.id, &hash).await? {
        return Err(ApiError::NotFound("User not found".into()));
    }
    // On a task of its own: a client that goes away now must not leave the
    // other logins alive with the new password saved.
    let claims = user_claims(&user);
    let browser = user_agent(&headers);
    let ending = tokio::spawn(end_logins_but_this(jwt, current, claims, browser));
    let (tokens, ended) = ending
        .await
        .map_err(|e| ApiError::Internal(format!("ending the logins stopped: {e}")))??;
    tracing::info!(user_id = user.id, ended, session = ?tokens.family, "password changed; other logins ended");
    Ok((
        tokens,
        Json(Message {
            msg: "Password changed",
        }),
    ))
}

/// After a password change: ends every other login of the caller first, then
/// renews this one; should the renewal fail, this one is ended too, so that
/// no login from before the change survives it.
async fn end_logins_but_this(
    jwt: JwtManager,
    current: Claims,
    claims: JsonObject,
    browser: Option<String>,
) -> Result<(IssuedTokens, usize), ApiError> {
    let ended = jwt.end_sessions_other_than(&current).await?;
    match jwt.renew_session(&current, claims, browser).await {
        Ok(tokens) => Ok((tokens, ended)),
        Err(error) => {
            let user = caller(&current);
            if let Err(also) = jwt.end_all_sessions(&user).await {
                tracing::error!(%user, error = %also, "after a password change, this login could not be ended");
            }
            Err(error.into())
        }
    }
}

/// Deletes the caller's account: their logins end, then the user and all
/// their memos are deleted, and this browser's cookies are cleared.
#[utoipa::path(
    delete,
    path = "/api/auth/account",
    tag = "auth",
    request_body = AccountDeletion,
    security(("access_cookie" = [], "csrf_header" = [])),
    responses(
        (status = 204, description = "Deleted, with their memos and logins; the four cookies are cleared"),
        (status = 400, description = "Malformed JSON, or not JSON (no `Content-Type: application/json`)", body = ErrorBody),
        (status = 401, description = "`Wrong password` (counted by the login limits), or no, expired or revoked token, or a missing or wrong X-CSRF-TOKEN", body = ErrorBody),
        (status = 413, description = "Body over 512 KiB", body = ErrorBody),
        (status = 422, description = "Wrong or unknown fields, U+0000 in the password, an invalid token", body = ErrorBody),
        (status = 503, description = "The session store is unreachable (nothing was deleted)", body = ErrorBody),
    )
)]
async fn delete_account(
    Current(user): CurrentUser,
    State(db): State<Db>,
    State(passwords): State<Passwords>,
    State(jwt): State<JwtManager>,
    State(limiter): State<RateLimiter>,
    ip: ClientIp,
    AppJson(body): AppJson<AccountDeletion>,
) -> Result<(StatusCode, AuthCookies), ApiError> {
    let check = PasswordCheck {
        db: &db,
        passwords: &passwords,
        limiter: &limiter,
        ip: &ip,
    };
    check.verify(&user, "password", body.password).await?;
    // Logins first: if the store is down nothing is deleted, and a user
    // without logins can always try again.
    let ended = jwt.end_all_sessions(&user.id.to_string()).await?;
    db.delete_user(user.id).await?;
    tracing::info!(user_id = user.id, ended, "account deleted");
    Ok((StatusCode::NO_CONTENT, jwt.unset_jwt_cookies()))
}

//! Manager-only routes, guarded by the token's `manager_role_attached`
//! claim: the check the original sketched in a comment, as jwt-extended's
//! reusable claim guard (403 `access to this resource is not allowed`).

use axum::{Json, extract::State};
use jwt_extended::{ClaimGuard, Claims, Guarded, JwtError};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    db::{Db, User},
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// Lets through tokens whose `manager_role_attached` claim is `true`.
#[derive(Debug)]
pub struct IsManager;

impl ClaimGuard<AppState> for IsManager {
    async fn allows(claims: &Claims, _: &AppState) -> Result<bool, JwtError> {
        Ok(claims.extra.get("manager_role_attached") == Some(&Value::Bool(true)))
    }
}

/// The admin routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_users))
}

/// Every user, by id.
#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "admin",
    security(("access_cookie" = [])),
    responses(
        (status = 200, description = "Every user", body = Vec<User>),
        (status = 401, description = "No, expired or revoked token", body = ErrorBody),
        (status = 403, description = "`access to this resource is not allowed`: the token's manager_role_attached is not true", body = ErrorBody),
    )
)]
async fn list_users(
    _: Guarded<IsManager>,
    State(db): State<Db>,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(db.list_users().await?))
}

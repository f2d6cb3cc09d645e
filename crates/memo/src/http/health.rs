//! `GET /api/health`: whether the server and its database answer, for load
//! balancers and start-up scripts.

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    db::Db,
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// A healthy server's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
    /// Always `ok` (a failing database gives a 503 instead).
    pub database: &'static str,
}

/// The health routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Checks that the database answers a query.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "operations",
    responses(
        (status = 200, description = "The server and its database answer", body = Health),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    )
)]
async fn health(State(db): State<Db>) -> Result<Json<Health>, ApiError> {
    match db.ping().await {
        Ok(()) => Ok(Json(Health {
            status: "ok",
            database: "ok",
        })),
        Err(err) => {
            tracing::warn!(error = %err, "health check: the database does not answer");
            Err(ApiError::Unavailable("Database unavailable".into()))
        }
    }
}

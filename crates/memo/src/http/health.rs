//! `GET /api/health`: whether the server and each service it depends on
//! answer, for load balancers and start-up scripts. The database is always
//! required; Redis is required when REDIS_URL is set (sessions and
//! revocations live there, so authenticated requests fail without it).
//! Any required service down: 503, so a load balancer takes the instance
//! out instead of sending it requests it can only refuse.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tokio::sync::OnceCell;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{db::Db, state::AppState};

/// How long each check may take before its service counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The health report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when a required service is down.
    pub status: &'static str,
    /// `ok` or `down`.
    pub database: &'static str,
    /// `ok`, `down`, or `not configured` (no REDIS_URL).
    pub redis: &'static str,
    /// On 503: which services are down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

/// Redis as the health check sees it: a client of its own, connected on
/// first use and reconnecting by itself (failing fast while Redis is down).
#[derive(Clone, Debug, Default)]
pub struct RedisHealth(Option<std::sync::Arc<RedisPing>>);

#[derive(Debug)]
pub struct RedisPing {
    client: redis::Client,
    connection: OnceCell<redis::aio::ConnectionManager>,
}

impl RedisHealth {
    /// A check of the Redis at `url`; none without one.
    #[must_use]
    pub fn new(url: Option<&str>) -> Self {
        Self(
            url.and_then(|url| redis::Client::open(url).ok())
                .map(|client| {
                    std::sync::Arc::new(RedisPing {
                        client,
                        connection: OnceCell::new(),
                    })
                }),
        )
    }

    async fn check(&self) -> &'static str {
        let Some(redis) = &self.0 else {
            return "not configured";
        };
        let ping = async {
            let mut connection = redis
                .connection
                .get_or_try_init(|| crate::redis_client::connect(&redis.client))
                .await?
                .clone();
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        };
        match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
            Ok(Ok(_)) => "ok",
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "health check: Redis does not answer");
                "down"
            }
            Err(_) => {
                tracing::warn!("health check: Redis timed out");
                "down"
            }
        }
    }
}

/// The health routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Checks that the database (and Redis, when configured) answer.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "operations",
    responses(
        (status = 200, description = "The server and every service it needs answer", body = Health),
        (status = 503, description = "A required service is down; `msg` names it, and each service's state is given", body = Health),
    )
)]
async fn health(State(db): State<Db>, State(redis): State<RedisHealth>) -> Response {
    let (database, redis) = tokio::join!(check_database(&db), redis.check());
    let down: Vec<&str> = [("database", database), ("Redis", redis)]
        .into_iter()
        .filter(|(_, state)| *state == "down")
        .map(|(name, _)| name)
        .collect();
    if down.is_empty() {
        return Json(Health {
            status: "ok",
            database,
            redis,
            msg: None,
        })
        .into_response();
    }
    let report = Health {
        status: "unavailable",
        database,
        redis,
        msg: Some(format!("Unavailable: {}", down.join(", "))),
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(report)).into_response()
}

async fn check_database(db: &Db) -> &'static str {
    match tokio::time::timeout(CHECK_TIMEOUT, db.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "health check: the database does not answer");
            "down"
        }
        Err(_) => {
            tracing::warn!("health check: the database timed out");
            "down"
        }
    }
}

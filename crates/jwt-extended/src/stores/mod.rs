//! Shared stores for revocations and login families, each behind its cargo feature:
//! Redis (`redis`) and SQL through sqlx (`sqlx`). The in-memory ones live beside their traits.

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlx")]
mod sql;

#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
#[cfg(feature = "sqlx")]
pub use self::sql::SqlStore;

//! Where revocations and login families live: the two store traits, the types they exchange,
//! and the stores themselves, each in its own file: in this process's memory
//! ([`MemoryRevocationStore`], [`MemorySessionStore`]), in SQLite or PostgreSQL through sqlx
//! (`SqlStore`, features `sqlite` / `postgres`) and in Redis (`RedisStore`, feature `redis`).
//!
//! A store is implemented with plain `async fn`s; the manager keeps it behind a boxed,
//! object-safe view (`erased`), so no future type of another crate appears in these traits.

pub(crate) mod erased;
mod memory;
#[cfg(feature = "postgres")]
mod pg_connections;
#[cfg(feature = "postgres")]
mod pg_notify;
#[cfg(feature = "postgres")]
mod pg_swaps;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "redis", feature = "sqlite", feature = "postgres"))]
mod revoked_ids;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite_thread;
#[cfg(feature = "sqlite")]
mod sqlite_writes;

mod traits;

#[cfg(feature = "postgres")]
pub use self::pg_connections::{KeptConnection, PgConnections};
#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use self::sql::SqlStore;
pub use self::{
    memory::{MemoryRevocationStore, MemorySessionStore},
    traits::{RefreshId, RevocationStore, RotateOutcome, SessionInfo, SessionStore, StoreError},
};

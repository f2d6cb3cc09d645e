//! Start-up and serving: [`App::build`] opens the database, migrates it and
//! binds the listener (so the real port is known even for port 0), then
//! [`App::run_until_stopped`] serves until SIGINT or SIGTERM.

use std::{future::Future, net::SocketAddr};

use jwt_extended::{RedisStore, SqlStore};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tokio::net::TcpListener;

use crate::{
    config::Config,
    db::{Db, DbSetupError, SharedDb},
    http,
    password::{HashError, Passwords},
    serve::ConnectionLimits,
    state::AppState,
    tokens,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] DbSetupError),
    /// A database query failed during start-up.
    #[error("database error during start-up: {0}")]
    Query(#[from] sqlx::Error),
    /// The password hasher could not be prepared.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The token settings were refused (e.g. a PEM key that does not parse).
    #[error("invalid JWT settings: {0}")]
    Jwt(String),
    /// The session store in the database could not be prepared.
    #[error("could not prepare the session store in the database: {0}")]
    Sessions(String),
    /// REDIS_URL is set but Redis cannot be used.
    #[error("could not use the Redis revocation store at REDIS_URL: {0}")]
    Redis(String),
    /// The SQLite file or its folder could not be created.
    #[error("could not create the database file {path}: {source}")]
    DataFile {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The address could not be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A server that is bound and ready to serve.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: http::HttpApp,
    db: Db,
    local_addr: SocketAddr,
    connections: ConnectionLimits,
}

impl App {
    /// Opens and migrates the database, prepares tokens and passwords, and
    /// binds `config.bind`.
    ///
    /// # Errors
    /// [`StartupError`] for anything that stops start-up.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let db = open_db(&config.database_url).await?;
        if let Some(url) = &config.redis_url {
            db.share_user_changes(url, &config.redis_prefix)
                .await
                .map_err(StartupError::Redis)?;
        } else if db.postgres_connections().is_some() {
            // Without it every guarded request reads its user from the
            // database: slower, still correct.
            if let Err(error) = db.share_user_changes_in_postgres().await {
                tracing::warn!(%error, "cannot LISTEN on PostgreSQL: users are not cached");
            }
        }
        tracing::info!(backend = db.backend(), "database ready");
        let passwords = Passwords::new().await?;
        let jwt = match &config.redis_url {
            Some(url) => {
                let store = RedisStore::connect(url, &config.redis_prefix)
                    .await
                    .map_err(|e| StartupError::Redis(e.to_string()))?;
                tracing::info!(
                    prefix = %config.redis_prefix,
                    "sessions and revocations are kept in Redis (REDIS_URL)"
                );
                tokens::session_manager(&config, store, db.clone())
            }
            None => {
                let store = sql_session_store(&db).await?;
                tokens::session_manager(&config, store, db.clone())
            }
        }
        .map_err(StartupError::Jwt)?;
        let cursors = http::CursorKey::derive(&config.jwt.config)
            .ok_or_else(|| StartupError::Jwt("the JWT settings hold no key that signs".into()))?;
        let state = AppState::new(&config, db.clone(), jwt, passwords, cursors);
        let (router, _) = http::router(state, &config);
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.bind,
            source,
        })?;
        if !http::spa_is_built() {
            tracing::warn!(
                "web/dist is not built: / shows how to build it (npm --prefix web ci && npm --prefix web run build)"
            );
        }
        let connections = config.connections.within_file_limit();
        tracing::info!(
            max_connections = connections.max_connections,
            header_read_timeout_s = connections.header_read_timeout.as_secs_f64(),
            keep_alive_timeout_s = connections.keep_alive_timeout.as_secs_f64(),
            "connection limits"
        );
        Ok(Self {
            listener,
            router,
            db,
            local_addr,
            connections,
        })
    }

    /// The address the server listens on (with the real port for port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port the server listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight
    /// and closes the database pool.
    ///
    /// # Errors
    /// An I/O error from the listener.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    ///
    /// # Errors
    /// An I/O error from the listener.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::serve::serve(self.listener, self.router, self.connections, signal).await?;
        tracing::info!("stopped accepting requests; closing the database");
        self.db.close().await;
        Ok(())
    }
}

/// Opens and migrates the database, and gives every account created before
/// migration 0004 its name key, reporting the look-alike names that could
/// not get one (they are never merged).
///
/// # Errors
/// [`StartupError`] when the database cannot be opened, migrated or read.
pub async fn open_db(url: &str) -> Result<Db, StartupError> {
    if url.starts_with("sqlite:") {
        let options: SqliteConnectOptions = url.parse()?;
        crate::files::prepare_sqlite_file(options.get_filename()).map_err(|source| {
            StartupError::DataFile {
                path: options.get_filename().display().to_string(),
                source,
            }
        })?;
    }
    let db = Db::connect(url).await?;
    db.migrate().await?;
    for collision in db.fill_user_name_keys().await? {
        let (same_id, same_name) = collision.same_as.unwrap_or_default();
        tracing::warn!(
            user_id = collision.id,
            user_name = %collision.user_name,
            same_as_id = same_id,
            same_as_name = %same_name,
            "two accounts have names that differ only in case, width or Unicode normalization; \
             the newer one logs in with its exact spelling only until one is renamed"
        );
    }
    Ok(db)
}

/// jwt-extended's `SqlStore` in the app's database. PostgreSQL shares the
/// app's pool, and answers revocation checks from memory kept current by
/// `LISTEN`/`NOTIFY`, so several instances may share it (where it cannot
/// listen, it asks the database on every check). A SQLite file is served by
/// one process: the store gets a connection of its own and answers
/// revocation checks from memory.
async fn sql_session_store(db: &Db) -> Result<SqlStore, StartupError> {
    let sessions = |e: jwt_extended::StoreError| StartupError::Sessions(e.to_string());
    let store = match db.shared() {
        SharedDb::Postgres(connections) => SqlStore::postgres_with(connections.clone()),
        SharedDb::Sqlite(options) => {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(*options)
                .await?;
            SqlStore::sqlite(pool)
        }
    };
    store.migrate().await.map_err(sessions)?;
    let purged = store.purge_expired().await.map_err(sessions)?;
    tracing::info!(purged, "session store ready");
    if db.postgres_connections().is_none() {
        return store.with_local_cache().await.map_err(sessions);
    }
    match store.clone().with_shared_cache().await {
        Ok(cached) => Ok(cached),
        Err(error) => {
            tracing::warn!(%error, "cannot LISTEN on PostgreSQL: revocations are checked in the database");
            Ok(store)
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what service managers send).
///
/// The handlers are installed when this is called, not when the future is
/// first polled: a signal sent right after the listening line is printed
/// must stop the server gracefully, not kill it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let (Ok(mut interrupt), Ok(mut terminate)) = (interrupt, terminate) else {
                tracing::error!("cannot listen for SIGINT and SIGTERM");
                return std::future::pending().await;
            };
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
                _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received, shutting down");
        } else {
            std::future::pending::<()>().await;
        }
    }
}

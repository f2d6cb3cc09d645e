//! Start-up and serving: [`App::build`] opens the database, migrates it and
//! binds the listener (so the real port is known even for port 0), then
//! [`App::run_until_stopped`] serves until SIGINT or SIGTERM.

use std::{future::Future, net::SocketAddr};

use axum::Router;
use jwt_extended::{RedisStore, SqlStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::net::TcpListener;

use crate::{
    config::Config,
    db::{Db, DbSetupError},
    http,
    password::{HashError, Passwords},
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
    router: Router,
    db: Db,
    local_addr: SocketAddr,
}

impl App {
    /// Opens and migrates the database, prepares tokens and passwords, and
    /// binds `config.bind`.
    ///
    /// # Errors
    /// [`StartupError`] for anything that stops start-up.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
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
                let store = sql_session_store(&config, &db).await?;
                tokens::session_manager(&config, store, db.clone())
            }
        }
        .map_err(StartupError::Jwt)?;
        let state = AppState {
            db: db.clone(),
            jwt,
            passwords,
        };
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
        Ok(Self {
            listener,
            router,
            db,
            local_addr,
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
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(signal)
            .await?;
        tracing::info!("stopped accepting requests; closing the database");
        self.db.close().await;
        Ok(())
    }
}

/// jwt-extended's `SqlStore` in the app's database. PostgreSQL shares the
/// app's pool and asks the database on every check, so several instances may
/// share it. A SQLite file is served by one process: the store gets a
/// connection of its own and answers revocation checks from memory.
async fn sql_session_store(config: &Config, db: &Db) -> Result<SqlStore, StartupError> {
    let sessions = |e: jwt_extended::StoreError| StartupError::Sessions(e.to_string());
    let store = match db {
        Db::Postgres(pool) => SqlStore::postgres(pool.clone()),
        Db::Sqlite(_) => {
            let options: SqliteConnectOptions = config.database_url.parse()?;
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(std::time::Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            SqlStore::sqlite(pool)
        }
    };
    store.migrate().await.map_err(sessions)?;
    let purged = store.purge_expired().await.map_err(sessions)?;
    tracing::info!(purged, "session store ready");
    if matches!(db, Db::Sqlite(_)) {
        return store.with_local_cache().await.map_err(sessions);
    }
    Ok(store)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what service managers send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

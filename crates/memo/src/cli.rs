//! The command line: `memo [serve]`, `memo migrate`, `memo user add`.
//!
//! Every setting is a flag and an environment variable (the original's
//! config.py names for the JWT ones), so the same binary runs from a shell,
//! a service unit or a test rig. Values that are secrets never appear in
//! `--help` (clap would otherwise print the current environment value).

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum, builder::BoolishValueParser};

/// The memo app's server: the memo API under /api and the web app at /.
#[derive(Debug, Parser)]
#[command(name = "memo", version, propagate_version = true)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web app (the default).
    Serve,
    /// Apply the database migrations, then exit (`serve` also applies them).
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
}

/// `memo user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is asked for at a prompt, or read from the
    /// first line of standard input when that is not a terminal.
    Add {
        /// The login name (1 to 64 characters).
        name: String,
        /// Give the user the manager role (the `manager_role_attached` claim),
        /// which opens GET /api/admin/users.
        #[arg(long)]
        manager: bool,
        /// The user's department (the `department` claim).
        #[arg(long)]
        department: Option<String>,
    },
}

/// Where the app runs: decides the defaults that must be safe in production.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// A developer's machine: a generated secret, cookies without Secure.
    #[default]
    Local,
    /// A deployment: JWT_SECRET_KEY required (32+ bytes), Secure cookies, HSTS.
    Production,
}

/// The log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Rate limiting of logins and registrations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RateLimits {
    /// Limits on (the default).
    #[default]
    On,
    /// Limits off, for test rigs and benchmarks.
    Off,
}

/// Settings from flags and environment variables.
#[derive(Debug, Args)]
pub struct Settings {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(
        long,
        env = "MEMO_BIND",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind: SocketAddr,

    /// Folder for the app's files: the SQLite database and the generated JWT
    /// secret. Created when missing.
    #[arg(long, env = "MEMO_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// `local` or `production`. Production requires JWT_SECRET_KEY (at least
    /// 32 bytes) and makes cookies Secure by default.
    #[arg(
        long = "env",
        env = "MEMO_ENV",
        value_enum,
        default_value_t,
        global = true
    )]
    pub environment: Environment,

    /// Database: `sqlite://PATH` (file created when missing) or
    /// `postgres://USER@HOST/DB`. Defaults to the SQLite file
    /// `<data-dir>/memo.db`, which a running memo holds for itself; add
    /// `?vfs=unix` in each memo process to open it beside the one server.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// JWT_SECRET_KEY: the key of HS256/384/512 signatures. Prefer the
    /// environment variable: a flag's value is visible to other users in the
    /// process list. When unset locally, a random key is generated once and
    /// kept in the data dir. The JWT_* variables (and these flags of the same
    /// names) are read by jwt-extended, by Flask-JWT-Extended's rules.
    #[arg(long, global = true)]
    pub jwt_secret_key: Option<String>,

    /// JWT_ALGORITHM: HS256 (the default), HS384, HS512, RS256, RS384, RS512,
    /// PS256, PS384, PS512, ES256, ES384 or EdDSA.
    #[arg(long, global = true)]
    pub jwt_algorithm: Option<String>,

    /// JWT_PRIVATE_KEY: the private key of asymmetric algorithms, PEM text or
    /// a path to a PEM file.
    #[arg(long, global = true)]
    pub jwt_private_key: Option<String>,

    /// JWT_PUBLIC_KEY: the public key of asymmetric algorithms, PEM text or a
    /// path to a PEM file.
    #[arg(long, global = true)]
    pub jwt_public_key: Option<String>,

    /// JWT_ACCESS_TOKEN_EXPIRES: the access token lifetime in seconds, or
    /// `false` for none. Defaults to 600.
    #[arg(long, global = true)]
    pub jwt_access_token_expires: Option<String>,

    /// JWT_REFRESH_TOKEN_EXPIRES: the refresh token lifetime in seconds, or
    /// `false` for none. Defaults to 30 days.
    #[arg(long, global = true)]
    pub jwt_refresh_token_expires: Option<String>,

    /// JWT_COOKIE_SECURE: mark the cookies Secure (sent over HTTPS only; also
    /// turns on HSTS). Defaults to false locally and true in production.
    #[arg(long, global = true)]
    pub jwt_cookie_secure: Option<String>,

    /// Name the four auth cookies `__Host-access_token_cookie`, ... so that no
    /// subdomain or plain-HTTP page can plant or overwrite them. For
    /// same-origin deployments; implies Secure cookies, and the refresh
    /// cookie's path becomes / (a `__Host-` cookie must have Path=/).
    #[arg(long, env = "MEMO_COOKIE_HOST_PREFIX", value_parser = BoolishValueParser::new(), default_value_t = false, global = true)]
    pub cookie_host_prefix: bool,

    /// Refuse cross-origin POST/PUT/PATCH/DELETE by their Sec-Fetch-Site and
    /// Origin headers (403) before the CSRF double-submit check runs; the
    /// FRONTEND_ORIGIN origins stay allowed. A second line of defence; needs
    /// a proxy that forwards Origin and Host unchanged.
    #[arg(long, env = "MEMO_ORIGIN_CHECK", value_parser = BoolishValueParser::new(), default_value_t = false, global = true)]
    pub origin_check: bool,

    /// JWT_COOKIE_SAMESITE: the cookies' SameSite attribute, Strict, Lax or
    /// None. Defaults to Strict.
    #[arg(long, global = true)]
    pub jwt_cookie_samesite: Option<String>,

    /// Origin(s) allowed to call the API from a browser with credentials
    /// (CORS), comma-separated, e.g. `http://localhost:5173`. Unset: same
    /// origin only.
    #[arg(long, env = "FRONTEND_ORIGIN", global = true)]
    pub frontend_origin: Option<String>,

    /// Redis URL (`redis://HOST:6379`) for a revocation store shared by
    /// several instances, answered from memory and kept current by pub/sub.
    /// Unset: revocations live in the database (shared by every instance that
    /// uses the same database).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key memo writes (sessions, revocations, and the
    /// rate limits' counters under `<prefix>:limits`), so that several apps
    /// or test runs can share one Redis.
    #[arg(long, env = "MEMO_REDIS_PREFIX", default_value = "memo", global = true)]
    pub redis_prefix: String,

    /// Seconds during which a refresh token that was just rotated still gets
    /// the same successor (parallel refreshes from one browser); after that,
    /// presenting it again revokes the whole login.
    #[arg(
        long,
        env = "MEMO_REFRESH_GRACE_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub refresh_grace_seconds: u64,

    /// The `kid` of the signing key, put in every token's header, so the key
    /// can be rotated later (see JWT_RETIRED_PUBLIC_KEYS).
    #[arg(long, env = "JWT_KEY_ID", global = true)]
    pub jwt_key_id: Option<String>,

    /// Retired public keys that still verify the tokens they signed, as
    /// comma-separated `kid=/path/to/public.pem` (asymmetric algorithms only).
    #[arg(long, env = "JWT_RETIRED_PUBLIC_KEYS", global = true)]
    pub jwt_retired_public_keys: Option<String>,

    /// `on` or `off`: the brute-force limits on login and registration
    /// (`off` for test rigs and benchmarks only).
    #[arg(
        long,
        env = "MEMO_RATE_LIMITS",
        value_enum,
        default_value_t,
        global = true
    )]
    pub rate_limits: RateLimits,

    /// Wrong passwords allowed per user name in 15 minutes; the next login
    /// attempt is answered 429 with Retry-After. A success resets the count.
    #[arg(long, env = "MEMO_LOGIN_MAX_FAILURES_PER_USER", default_value_t = crate::limits::DEFAULT_LOGIN_FAILURES_PER_USER, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub login_max_failures_per_user: u32,

    /// Wrong passwords allowed per client IP in 15 minutes.
    #[arg(long, env = "MEMO_LOGIN_MAX_FAILURES_PER_IP", default_value_t = crate::limits::DEFAULT_LOGIN_FAILURES_PER_IP, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub login_max_failures_per_ip: u32,

    /// Registration attempts allowed per client IP per minute.
    #[arg(long, env = "MEMO_REGISTER_PER_IP_PER_MINUTE", default_value_t = crate::limits::DEFAULT_REGISTER_PER_IP_PER_MINUTE, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub register_per_ip_per_minute: u32,

    /// Reverse proxies (comma-separated IP addresses) whose X-Forwarded-For
    /// is believed for the client IP; from any other peer it is ignored.
    #[arg(long, env = "MEMO_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,

    /// Seconds a client has to send a request's headers, from the connection
    /// or the request's first byte (nginx's `client_header_timeout`).
    #[arg(long, env = "MEMO_HEADER_READ_TIMEOUT", default_value_t = crate::serve::DEFAULT_HEADER_READ_TIMEOUT_SECONDS as f64, value_parser = positive_seconds, global = true)]
    pub header_read_timeout: f64,

    /// Seconds an idle keep-alive connection stays open between requests
    /// (nginx's `keepalive_timeout`).
    #[arg(long, env = "MEMO_KEEP_ALIVE_TIMEOUT", default_value_t = crate::serve::DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS as f64, value_parser = positive_seconds, global = true)]
    pub keep_alive_timeout: f64,

    /// Connections open at once; one more is closed right after it is
    /// accepted. Lowered to the open-file limit (raised to its hard limit at
    /// start) minus a reserve.
    #[arg(long, env = "MEMO_MAX_CONNECTIONS", default_value_t = crate::serve::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..), global = true)]
    pub max_connections: usize,

    /// Log format: `text` or `json`. The level comes from RUST_LOG (default
    /// `info`).
    #[arg(
        long,
        env = "MEMO_LOG_FORMAT",
        value_enum,
        default_value_t,
        global = true
    )]
    pub log_format: LogFormat,
}

/// A number of seconds above zero and at most a day.
fn positive_seconds(raw: &str) -> Result<f64, String> {
    let seconds: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a number of seconds"))?;
    if seconds > 0.0 && seconds <= 86_400.0 {
        Ok(seconds)
    } else {
        Err(format!("{raw:?} must be above 0 and at most 86400 seconds"))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["memo"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.settings.jwt_access_token_expires, None);
    }

    #[test]
    fn user_add_takes_flags() {
        let cli = Cli::try_parse_from([
            "memo",
            "user",
            "add",
            "boss",
            "--manager",
            "--department",
            "CTO Office",
        ])
        .expect("parses");
        let Some(Command::User(UserCommand::Add {
            name,
            manager,
            department,
        })) = cli.command
        else {
            panic!("not user add");
        };
        assert_eq!(
            (name.as_str(), manager, department.as_deref()),
            ("boss", true, Some("CTO Office"))
        );
    }
}

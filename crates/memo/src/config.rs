//! The app's resolved configuration: what [`crate::App::build`] needs, with
//! every default applied and every value checked. [`Config::from_settings`]
//! turns the command line into one (and may create the data dir and the
//! generated secret); tests build one directly with [`Config::new`].

use std::{
    fmt,
    io::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use http::{HeaderValue, Uri};
use jwt_extended::{Algorithm, JwtConfig, SameSite};

pub use crate::cli::Environment;
use crate::cli::Settings;

/// Shortest secret accepted in production: HS256's key should be at least as
/// long as its 256-bit output.
pub const MIN_PRODUCTION_SECRET_BYTES: usize = 32;

/// Name of the generated secret's file in the data dir.
pub const SECRET_FILE_NAME: &str = "jwt_secret_key";

/// The contract's access token lifetime when JWT_ACCESS_TOKEN_EXPIRES is not
/// set (Flask-JWT-Extended's own default is 15 minutes).
const DEFAULT_ACCESS_TOKEN_EXPIRES: Duration = Duration::from_secs(600);

/// Bytes that must not be printed; `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes.
    #[must_use]
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The bytes, for the signer only.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The token settings.
#[derive(Clone, Debug)]
pub struct JwtSettings {
    /// What jwt-extended reads from the JWT_* variables (and the flags of the
    /// same names), by its own rules, with memo's defaults where unset: a
    /// 600 s access token, SameSite=Strict, a generated local secret.
    pub config: JwtConfig,
    /// The signing key's `kid` (JWT_KEY_ID), if any.
    pub key_id: Option<String>,
    /// Retired public keys that still verify (JWT_RETIRED_PUBLIC_KEYS):
    /// `(kid, PEM)`.
    pub retired_public_keys: Vec<(String, String)>,
}

/// Everything the server needs, resolved.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen.
    pub bind: SocketAddr,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Local or production.
    pub environment: Environment,
    /// Token settings.
    pub jwt: JwtSettings,
    /// Whether cookies are Secure (and HSTS is sent): JWT_COOKIE_SECURE, else
    /// on in production and with `__Host-` cookies.
    pub cookie_secure: bool,
    /// Whether the cookie names carry the `__Host-` prefix
    /// (MEMO_COOKIE_HOST_PREFIX).
    pub cookie_host_prefix: bool,
    /// Whether cross-origin unsafe requests are refused by Sec-Fetch-Site and
    /// Origin (MEMO_ORIGIN_CHECK).
    pub origin_check: bool,
    /// Origins allowed by CORS with credentials; empty for same-origin only.
    pub cors_origins: Vec<HeaderValue>,
    /// A Redis URL for a shared revocation store, if any.
    pub redis_url: Option<String>,
    /// Prefix of memo's Redis keys (MEMO_REDIS_PREFIX, default `memo`).
    pub redis_prefix: String,
    /// How long a just-rotated refresh token still gets the same successor.
    pub refresh_grace: Duration,
    /// Brute-force limits on login and registration.
    pub rate_limits: crate::limits::RateLimitConfig,
    /// Connection timeouts and bound.
    pub connections: crate::serve::ConnectionLimits,
}

/// A setting that stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Production without a secret.
    #[error(
        "JWT_SECRET_KEY must be set when MEMO_ENV=production (at least {MIN_PRODUCTION_SECRET_BYTES} bytes; e.g. `openssl rand -base64 48`)"
    )]
    MissingSecret,
    /// Production with a short secret.
    #[error(
        "JWT_SECRET_KEY is {0} bytes long; MEMO_ENV=production requires at least {MIN_PRODUCTION_SECRET_BYTES} (e.g. `openssl rand -base64 48`)"
    )]
    ShortSecret(usize),
    /// A JWT_* value jwt-extended refuses (its message names the variable).
    #[error(transparent)]
    Jwt(#[from] jwt_extended::ConfigError),
    /// An asymmetric algorithm without its keys.
    #[error(
        "{name} must be set to use the asymmetric algorithm {algorithm} (PEM text or a path to a PEM file)"
    )]
    MissingKey {
        /// JWT_PRIVATE_KEY or JWT_PUBLIC_KEY.
        name: &'static str,
        /// The algorithm.
        algorithm: String,
    },
    /// A key file that could not be read.
    #[error("could not read {name} from {path}: {source}")]
    KeyFile {
        /// JWT_PRIVATE_KEY or JWT_PUBLIC_KEY.
        name: &'static str,
        /// The path given.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A bad FRONTEND_ORIGIN entry.
    #[error(
        "FRONTEND_ORIGIN entry {0:?} is not an origin like https://example.com or http://localhost:5173 ({1})"
    )]
    BadOrigin(String, &'static str),
    /// The data dir or the secret file could not be used.
    #[error("{what} {path}: {source}")]
    DataDir {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A bad data dir path for the default SQLite URL.
    #[error("the data dir path {0} is not valid UTF-8")]
    NonUtf8DataDir(String),
    /// A bad JWT_RETIRED_PUBLIC_KEYS entry.
    #[error(
        "JWT_RETIRED_PUBLIC_KEYS entry {0:?} is not kid=/path/to/public.pem (asymmetric algorithms only)"
    )]
    BadRetiredKey(String),
    /// A MEMO_TRUSTED_PROXIES entry that is not an IP address.
    #[error("MEMO_TRUSTED_PROXIES entry {0:?} is not an IP address")]
    BadTrustedProxy(String),
}

impl Config {
    /// A local configuration with the contract's defaults, for tests and
    /// embedding: bind 127.0.0.1:0, HS256 with `secret`, 600 s / 30 days,
    /// cookies not Secure, SameSite=Strict, no CORS, no Redis, the default
    /// brute-force limits.
    #[must_use]
    pub fn new(database_url: impl Into<String>, secret: Secret) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            environment: Environment::Local,
            jwt: JwtSettings {
                config: memo_defaults(JwtConfig::default()).with_secret_key(secret.0),
                key_id: None,
                retired_public_keys: Vec::new(),
            },
            cookie_secure: false,
            cookie_host_prefix: false,
            origin_check: false,
            cors_origins: Vec::new(),
            redis_url: None,
            redis_prefix: "memo".into(),
            refresh_grace: Duration::from_secs(10),
            rate_limits: crate::limits::RateLimitConfig::default(),
            connections: crate::serve::ConnectionLimits::default(),
        }
    }

    /// Resolves the command line's settings.
    ///
    /// Creates the data dir when the default SQLite file or a generated
    /// secret needs it, and generates the secret on first local run.
    ///
    /// # Errors
    /// [`ConfigError`] for any value that must stop start-up.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let production = settings.environment == Environment::Production;
        let variable = |name: &str| jwt_variable(settings, name);
        let mut jwt = JwtConfig::from_lookup(variable)?;
        if variable("JWT_ACCESS_TOKEN_EXPIRES").is_none() {
            jwt = jwt.with_access_token_expires(Some(DEFAULT_ACCESS_TOKEN_EXPIRES));
        }
        if variable("JWT_COOKIE_SAMESITE").is_none() {
            jwt = jwt.with_cookie_samesite(Some(SameSite::Strict));
        }
        let cookie_secure = match variable("JWT_COOKIE_SECURE") {
            Some(_) => jwt.cookie_secure(),
            None => production || settings.cookie_host_prefix,
        };
        let asymmetric = !is_symmetric(jwt.algorithm());
        let jwt = if asymmetric {
            require_key_pair(jwt)?
        } else {
            with_secret(jwt, settings, production)?
        };
        let retired_public_keys =
            retired_public_keys(settings.jwt_retired_public_keys.as_deref(), asymmetric)?;
        let database_url = database_url(settings)?;

        Ok(Self {
            bind: settings.bind,
            database_url,
            environment: settings.environment,
            jwt: JwtSettings {
                config: jwt,
                key_id: settings
                    .jwt_key_id
                    .as_deref()
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
                retired_public_keys,
            },
            cookie_secure,
            cookie_host_prefix: settings.cookie_host_prefix,
            origin_check: settings.origin_check,
            cors_origins: parse_origins(settings.frontend_origin.as_deref().unwrap_or_default())?,
            redis_url: settings.redis_url.clone().filter(|u| !u.trim().is_empty()),
            redis_prefix: settings.redis_prefix.trim_end_matches(':').to_owned(),
            refresh_grace: Duration::from_secs(settings.refresh_grace_seconds),
            rate_limits: crate::limits::RateLimitConfig {
                enabled: settings.rate_limits == crate::cli::RateLimits::On,
                login_failures_per_user: settings.login_max_failures_per_user,
                login_failures_per_ip: settings.login_max_failures_per_ip,
                register_per_ip_per_minute: settings.register_per_ip_per_minute,
                trusted_proxies: crate::limits::parse_trusted_proxies(
                    settings.trusted_proxies.as_deref().unwrap_or_default(),
                )
                .map_err(ConfigError::BadTrustedProxy)?,
                redis_prefix: format!("{}:limits", settings.redis_prefix.trim_end_matches(':')),
            },
            connections: crate::serve::ConnectionLimits {
                header_read_timeout: Duration::from_secs_f64(settings.header_read_timeout),
                keep_alive_timeout: Duration::from_secs_f64(settings.keep_alive_timeout),
                max_connections: settings.max_connections,
            },
        })
    }
}

/// DATABASE_URL, or the SQLite file `<data-dir>/memo.db`.
///
/// # Errors
/// [`ConfigError::NonUtf8DataDir`] when the data dir cannot be put in a URL.
pub fn database_url(settings: &Settings) -> Result<String, ConfigError> {
    match &settings.database_url {
        Some(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
        _ => {
            let file = settings.data_dir.join("memo.db");
            let file = file
                .to_str()
                .ok_or_else(|| ConfigError::NonUtf8DataDir(file.display().to_string()))?;
            Ok(format!("sqlite://{file}"))
        }
    }
}

/// memo's defaults for what the JWT_* variables leave unset.
fn memo_defaults(jwt: JwtConfig) -> JwtConfig {
    jwt.with_access_token_expires(Some(DEFAULT_ACCESS_TOKEN_EXPIRES))
        .with_cookie_samesite(Some(SameSite::Strict))
}

/// A JWT_* value from its flag (`--jwt-secret-key` for JWT_SECRET_KEY, ...),
/// else from the environment: what `JwtConfig::from_lookup` reads, by
/// jwt-extended's rules for every Flask-JWT-Extended variable.
fn jwt_variable(settings: &Settings, name: &str) -> Option<String> {
    let flag = match name {
        "JWT_SECRET_KEY" => &settings.jwt_secret_key,
        "JWT_ALGORITHM" => &settings.jwt_algorithm,
        "JWT_PRIVATE_KEY" => &settings.jwt_private_key,
        "JWT_PUBLIC_KEY" => &settings.jwt_public_key,
        "JWT_ACCESS_TOKEN_EXPIRES" => &settings.jwt_access_token_expires,
        "JWT_REFRESH_TOKEN_EXPIRES" => &settings.jwt_refresh_token_expires,
        "JWT_COOKIE_SECURE" => &settings.jwt_cookie_secure,
        "JWT_COOKIE_SAMESITE" => &settings.jwt_cookie_samesite,
        _ => &None,
    };
    flag.clone().or_else(|| std::env::var(name).ok())
}

fn is_symmetric(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

/// memo signs, so an asymmetric algorithm needs both PEM keys.
fn require_key_pair(jwt: JwtConfig) -> Result<JwtConfig, ConfigError> {
    let algorithm = format!("{:?}", jwt.algorithm());
    for (name, present) in [
        ("JWT_PRIVATE_KEY", jwt.has_private_key()),
        ("JWT_PUBLIC_KEY", jwt.has_public_key()),
    ] {
        if !present {
            return Err(ConfigError::MissingKey { name, algorithm });
        }
    }
    Ok(jwt)
}

/// The HMAC secret: JWT_SECRET_KEY (or SECRET_KEY) as jwt-extended read it,
/// at least 32 bytes in production; locally, when unset, the one kept in the
/// data dir, generated on first use.
fn with_secret(
    jwt: JwtConfig,
    settings: &Settings,
    production: bool,
) -> Result<JwtConfig, ConfigError> {
    let length = jwt.secret_key().map(<[u8]>::len);
    match length {
        Some(len) if production && len < MIN_PRODUCTION_SECRET_BYTES => {
            Err(ConfigError::ShortSecret(len))
        }
        Some(len) => {
            if len < MIN_PRODUCTION_SECRET_BYTES {
                tracing::warn!(
                    bytes = len,
                    "JWT_SECRET_KEY is shorter than {MIN_PRODUCTION_SECRET_BYTES} bytes; production would refuse it"
                );
            }
            Ok(jwt)
        }
        None if production => Err(ConfigError::MissingSecret),
        None => {
            let secret = load_or_generate_secret(&settings.data_dir)?;
            Ok(jwt.with_secret_key(secret.expose()))
        }
    }
}

/// Reads `<data_dir>/jwt_secret_key`, or creates it (mode 0600) with 64
/// random bytes, base64url-encoded. Tokens then stay valid across restarts
/// without anyone having to configure a secret on a developer machine.
fn load_or_generate_secret(data_dir: &Path) -> Result<Secret, ConfigError> {
    let path = data_dir.join(SECRET_FILE_NAME);
    let io_err = |what: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |source| ConfigError::DataDir { what, path, source }
    };
    crate::files::create_private_dir(data_dir)
        .map_err(io_err("could not create the data dir", data_dir))?;
    match crate::files::create_private_file(&path) {
        Ok(mut file) => {
            let mut bytes = [0u8; 64];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let secret =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
            file.write_all(secret.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io_err("could not write the JWT secret to", &path))?;
            tracing::info!(path = %path.display(), "generated a new JWT secret key and saved it (mode 0600); set JWT_SECRET_KEY to use your own");
            Ok(Secret::new(secret))
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::files::warn_if_open_to_others(&path);
            let secret = std::fs::read_to_string(&path)
                .map_err(io_err("could not read the JWT secret from", &path))?;
            let secret = secret.trim();
            if secret.is_empty() {
                return Err(ConfigError::DataDir {
                    what: "the JWT secret file is empty; delete it to generate a new one:",
                    path: path.display().to_string(),
                    source: std::io::Error::other("empty file"),
                });
            }
            tracing::info!(path = %path.display(), "using the JWT secret key kept in the data dir");
            Ok(Secret::new(secret.as_bytes()))
        }
        Err(err) => Err(io_err("could not create the JWT secret file", &path)(err)),
    }
}

/// A PEM key given as text or as a path to a file.
fn read_pem(
    name: &'static str,
    value: Option<&str>,
    algorithm: &str,
) -> Result<String, ConfigError> {
    let value = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConfigError::MissingKey {
            name,
            algorithm: algorithm.to_owned(),
        })?;
    if value.starts_with("-----BEGIN") {
        return Ok(value.to_owned());
    }
    std::fs::read_to_string(PathBuf::from(value)).map_err(|source| ConfigError::KeyFile {
        name,
        path: value.to_owned(),
        source,
    })
}

/// Parses JWT_RETIRED_PUBLIC_KEYS (`kid=/path/a.pem,kid2=/path/b.pem`) and
/// reads each PEM file (or PEM text after `=`).
fn retired_public_keys(
    raw: Option<&str>,
    asymmetric: bool,
) -> Result<Vec<(String, String)>, ConfigError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad = || ConfigError::BadRetiredKey(entry.to_owned());
            let (kid, path) = entry.split_once('=').ok_or_else(bad)?;
            let (kid, path) = (kid.trim(), path.trim());
            if kid.is_empty() || path.is_empty() || !asymmetric {
                return Err(bad());
            }
            let pem = read_pem("JWT_RETIRED_PUBLIC_KEYS", Some(path), "")?;
            Ok((kid.to_owned(), pem))
        })
        .collect()
}

/// Parses FRONTEND_ORIGIN: comma-separated `scheme://host[:port]` origins,
/// normalised to what browsers send in `Origin` (lowercase, no trailing
/// slash). A wildcard is refused: CORS with credentials needs exact origins.
///
/// # Errors
/// [`ConfigError::BadOrigin`] for the first entry that is not an origin.
pub fn parse_origins(raw: &str) -> Result<Vec<HeaderValue>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad = |why| ConfigError::BadOrigin(entry.to_owned(), why);
            if entry == "*" {
                return Err(bad(
                    "a wildcard cannot be used with credentials; list the origins",
                ));
            }
            let uri: Uri = entry.parse().map_err(|_| bad("not a URL"))?;
            let scheme = uri.scheme_str().ok_or_else(|| bad("no scheme"))?;
            if scheme != "http" && scheme != "https" {
                return Err(bad("the scheme must be http or https"));
            }
            let authority = uri.authority().ok_or_else(|| bad("no host"))?;
            if authority.as_str().contains('@') {
                return Err(bad("user info is not allowed"));
            }
            if uri
                .path_and_query()
                .is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty())
            {
                return Err(bad("an origin has no path or query"));
            }
            let origin = format!("{scheme}://{authority}").to_ascii_lowercase();
            HeaderValue::from_str(&origin).map_err(|_| bad("not a valid header value"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::Cli;

    fn settings(args: &[&str]) -> Settings {
        Cli::try_parse_from(std::iter::once("memo").chain(args.iter().copied()))
            .expect("valid arguments")
            .settings
    }

    #[test]
    fn origins_are_checked_and_normalised() {
        let origins = parse_origins(" http://LOCALHOST:5173/ ,https://a.example").expect("valid");
        assert_eq!(origins, ["http://localhost:5173", "https://a.example"]);
        assert!(parse_origins("").expect("empty is fine").is_empty());
        for bad in [
            "*",
            "localhost:5173",
            "ftp://x",
            "http://x/path",
            "http://u@x",
            "http://",
        ] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn production_requires_a_long_secret() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_str().expect("utf-8");
        let missing =
            Config::from_settings(&settings(&["--env", "production", "--data-dir", data_dir]));
        assert!(matches!(missing, Err(ConfigError::MissingSecret)));
        let short = Config::from_settings(&settings(&[
            "--env",
            "production",
            "--jwt-secret-key",
            "short",
        ]));
        assert!(matches!(short, Err(ConfigError::ShortSecret(5))));
        let long = "x".repeat(32);
        let ok = Config::from_settings(&settings(&[
            "--env",
            "production",
            "--jwt-secret-key",
            &long,
        ]))
        .expect("ok");
        assert!(ok.cookie_secure, "production defaults to Secure cookies");
        assert!(!dir.path().join(SECRET_FILE_NAME).exists());
    }

    #[test]
    fn a_local_secret_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("nested");
        let data_dir = data_dir.to_str().expect("utf-8");
        let first = Config::from_settings(&settings(&["--data-dir", data_dir])).expect("ok");
        let second = Config::from_settings(&settings(&["--data-dir", data_dir])).expect("ok");
        let (a, b) = (
            first.jwt.config.secret_key(),
            second.jwt.config.secret_key(),
        );
        assert_eq!(a, b);
        assert!(a.is_some_and(|a| a.len() >= MIN_PRODUCTION_SECRET_BYTES));
        assert!(!first.cookie_secure);
        assert_eq!(first.database_url, format!("sqlite://{data_dir}/memo.db"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("nested").join(SECRET_FILE_NAME))
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn asymmetric_algorithms_need_both_keys() {
        let err =
            Config::from_settings(&settings(&["--jwt-algorithm", "RS256"])).expect_err("no keys");
        assert!(err.to_string().contains("JWT_PRIVATE_KEY"), "{err}");
        let err =
            Config::from_settings(&settings(&["--jwt-algorithm", "none"])).expect_err("unknown");
        assert!(matches!(err, ConfigError::Jwt(_)), "{err}");
        assert!(err.to_string().starts_with("JWT_ALGORITHM"), "{err}");
    }

    #[test]
    fn the_jwt_variables_follow_jwt_extendeds_rules_with_memos_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_str().expect("utf-8");
        let defaults = Config::from_settings(&settings(&["--data-dir", data_dir])).expect("ok");
        assert_eq!(
            defaults.jwt.config.access_token_expires(),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            defaults.jwt.config.cookie_samesite(),
            Some(SameSite::Strict)
        );
        let set = Config::from_settings(&settings(&[
            "--data-dir",
            data_dir,
            "--jwt-access-token-expires",
            "false",
            "--jwt-cookie-samesite",
            "lax",
            "--jwt-cookie-secure",
            "1",
        ]))
        .expect("ok");
        assert_eq!(set.jwt.config.access_token_expires(), None);
        assert_eq!(set.jwt.config.cookie_samesite(), Some(SameSite::Lax));
        assert!(set.cookie_secure);
        let bad = Config::from_settings(&settings(&[
            "--data-dir",
            data_dir,
            "--jwt-access-token-expires",
            "soon",
        ]))
        .expect_err("not seconds");
        assert!(
            bad.to_string().starts_with("JWT_ACCESS_TOKEN_EXPIRES"),
            "{bad}"
        );
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "[redacted]");
    }
}

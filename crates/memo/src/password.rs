//! Password hashing with argon2id at OWASP's recommended parameters
//! (m=19456 KiB, t=2, p=1).
//!
//! Hashing costs tens of milliseconds of CPU on purpose, so it runs on a
//! thread of its own (on the async workers it would stall every other request
//! on the same thread), below the process's priority (see [`HASHING_NICENESS`]).
//! Login of an unknown user name verifies against
//! a dummy hash with the same parameters, so the answer takes as long as for a
//! wrong password and the response time does not reveal which names exist.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::SaltString,
};
use rand::RngCore as _;
use tokio::sync::Semaphore;

use crate::domain::Password;

/// OWASP's argon2id memory cost, in KiB.
const M_COST_KIB: u32 = 19_456;
/// OWASP's argon2id iterations.
const T_COST: u32 = 2;
/// OWASP's argon2id parallelism.
const P_COST: u32 = 1;

/// How much nicer than the process a hashing thread runs (Linux; the niceness
/// is capped at 19). A login spends 20 ms of CPU on purpose: at the same
/// priority, a stream of logins on 2 cores held other requests back by whole
/// time slices (p99 of a page of memos on PostgreSQL, whose backend process
/// also waits for a core, 13-18 ms; 4-7 ms with hashing at +10,
/// docs/performance.md). Hashing still gets the cores whenever requests leave
/// them idle.
const HASHING_NICENESS: i32 = 10;

/// Why hashing failed: never the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// argon2 refused (it only does for invalid parameters).
    #[error("password hashing failed: {0}")]
    Argon2(String),
    /// The hashing thread could not be started, or panicked.
    #[error("password hashing thread failed: {0}")]
    Thread(String),
    /// The hashing queue was closed (never happens: it is never closed).
    #[error("password hashing queue closed")]
    Closed(#[from] tokio::sync::AcquireError),
}

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    dummy_hash: Arc<str>,
    /// At most one hash per core at a time: a login flood then queues here
    /// instead of starting a thread (and its 19 MiB block) per login. A turn
    /// is held by the hashing thread until its hash ends, also when the
    /// request that asked for it is gone.
    hashing: Arc<Semaphore>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Runs `work` on a new thread at [`HASHING_NICENESS`] and waits for it. A
/// thread per hash costs tens of microseconds against the hash's tens of
/// milliseconds, and leaves no lowered thread behind in tokio's blocking pool
/// (a thread cannot raise its priority again without a privilege).
async fn at_low_priority<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("memo-hash".into())
        .spawn(move || {
            lower_this_threads_priority();
            let _ = done.send(work());
        })
        .map_err(|e| HashError::Thread(e.to_string()))?;
    result
        .await
        .map_err(|_| HashError::Thread("it panicked".into()))
}

/// On Linux the niceness is per thread: `setpriority(PRIO_PROCESS, 0)` sets
/// the calling thread's.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    let now = rustix::process::getpriority_process(None).unwrap_or(0);
    let lower = now.saturating_add(HASHING_NICENESS).min(19);
    if let Err(err) = rustix::process::setpriority_process(None, lower) {
        tracing::debug!(%err, "hashing at the process's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Argon2(e.to_string()))?;
    let hash = argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), &parsed).is_ok())
}

impl Passwords {
    /// Prepares the dummy hash (one hash of a random password).
    ///
    /// # Errors
    /// [`HashError`] if hashing fails.
    pub async fn new() -> Result<Self, HashError> {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let dummy = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, random);
        let dummy_hash = at_low_priority(move || hash_blocking(&dummy)).await??;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Ok(Self {
            dummy_hash: dummy_hash.into(),
            hashing: Arc::new(Semaphore::new(cores)),
        })
    }

    /// Hashes a new password into a PHC string.
    ///
    /// # Errors
    /// [`HashError`] if hashing fails.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.in_turn(move || hash_blocking(password.expose()))
            .await?
    }

    /// Whether `password` matches `phc`. With `phc = None` (no such user) it
    /// verifies against the dummy hash and returns `false`, taking as long.
    ///
    /// # Errors
    /// [`HashError::Thread`] if the hashing thread fails.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, HashError> {
        let dummy = self.dummy_hash.clone();
        self.in_turn(move || match phc {
            Some(phc) => verify_blocking(&password, &phc),
            None => {
                let _ = verify_blocking(&password, &dummy);
                false
            }
        })
        .await
    }

    /// Runs `work` at low priority once a turn is free; the turn goes with
    /// the thread, so a cancelled request's hash still counts until it ends.
    async fn in_turn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let turn = self.hashing.clone().acquire_owned().await?;
        at_low_priority(move || {
            let _turn = turn;
            work()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_argon2id_parameters() {
        let passwords = Passwords::new().await.expect("dummy hash");
        let hash = passwords
            .hash(Password::parse("correct horse".into()).expect("valid"))
            .await
            .expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            passwords
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify("wrong horse".into(), Some(hash))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        let passwords = Passwords::new().await.expect("dummy hash");
        assert!(
            !passwords
                .verify("anything".into(), None)
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify("x".into(), Some("not a phc string".into()))
                .await
                .expect("verify")
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_below_the_callers_priority_and_leaves_the_caller_as_it_was() {
        let caller = rustix::process::getpriority_process(None).expect("niceness");
        let hashing = at_low_priority(|| rustix::process::getpriority_process(None))
            .await
            .expect("a hashing thread")
            .expect("niceness");
        assert_eq!(hashing, (caller + HASHING_NICENESS).min(19));
        assert_eq!(
            rustix::process::getpriority_process(None).expect("niceness"),
            caller
        );
    }

    #[tokio::test]
    async fn a_panicking_hash_is_an_error_not_a_hang() {
        let result = at_low_priority(|| -> u8 { panic!("argon2 panicked") }).await;
        assert!(matches!(result, Err(HashError::Thread(_))), "{result:?}");
    }

    #[tokio::test]
    async fn a_cancelled_requests_hash_keeps_its_turn_until_it_ends() {
        let passwords = Passwords::new().await.expect("dummy hash");
        let cores = passwords.hashing.available_permits();
        let (started, hashing) = tokio::sync::oneshot::channel();
        let (finish, finished) = std::sync::mpsc::channel::<()>();
        let request = passwords.in_turn(move || {
            let _ = started.send(());
            let _ = finished.recv();
        });
        tokio::select! {
            _ = request => panic!("the hash cannot end before it is let"),
            _ = hashing => {}
        }
        // The request is gone; its hash is not, and holds its turn.
        assert_eq!(passwords.hashing.available_permits(), cores - 1);
        finish.send(()).expect("the hash waits");
        let _all = passwords
            .hashing
            .acquire_many(u32::try_from(cores).expect("a few cores"))
            .await
            .expect("every turn comes back");
    }
}

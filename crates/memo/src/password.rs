//! Password hashing with argon2id at OWASP's recommended parameters
//! (m=19456 KiB, t=2, p=1).
//!
//! Hashing costs tens of milliseconds of CPU on purpose, so it runs on
//! tokio's blocking pool: on the async workers it would stall every other
//! request on the same thread. Login of an unknown user name verifies against
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

/// Why hashing failed: never the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// argon2 refused (it only does for invalid parameters).
    #[error("password hashing failed: {0}")]
    Argon2(String),
    /// The blocking task panicked or was cancelled.
    #[error("password hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The hashing queue was closed (never happens: it is never closed).
    #[error("password hashing queue closed")]
    Closed(#[from] tokio::sync::AcquireError),
}

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    dummy_hash: Arc<str>,
    /// At most one hash per core at a time: a login flood then queues here
    /// instead of filling tokio's blocking pool (up to 512 threads, each with
    /// its 19 MiB block) and starving the cores that serve everyone else.
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
        let dummy_hash = tokio::task::spawn_blocking(move || hash_blocking(&dummy)).await??;
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
        let _turn = self.hashing.acquire().await?;
        tokio::task::spawn_blocking(move || hash_blocking(password.expose())).await?
    }

    /// Whether `password` matches `phc`. With `phc = None` (no such user) it
    /// verifies against the dummy hash and returns `false`, taking as long.
    ///
    /// # Errors
    /// [`HashError::Join`] if the blocking task fails.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, HashError> {
        let dummy = self.dummy_hash.clone();
        let _turn = self.hashing.acquire().await?;
        tokio::task::spawn_blocking(move || match phc {
            Some(phc) => verify_blocking(&password, &phc),
            None => {
                let _ = verify_blocking(&password, &dummy);
                false
            }
        })
        .await
        .map_err(HashError::from)
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
}

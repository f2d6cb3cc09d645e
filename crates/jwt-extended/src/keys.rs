//! Signing and verification keys: the HS secret or the PEM pair of the config, checked once at
//! build time, plus extra verification keys by `kid` for key rotation.

use std::{collections::HashMap, fmt};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, crypto};

use crate::config::{ConfigError, JwtConfig};

/// The keys a manager signs and verifies with.
#[derive(Clone)]
pub(crate) struct Keys {
    pub(crate) algorithm: Algorithm,
    /// `None` for a verify-only manager (a resource server holding only a public key).
    pub(crate) signing: Option<EncodingKey>,
    /// The `kid` written into new tokens, when keys are rotated.
    pub(crate) signing_kid: Option<String>,
    /// The key for tokens without a `kid` (or with an unknown one, when no key set is used).
    pub(crate) verifying: DecodingKey,
    /// Verification keys by `kid`: the current one and retired ones still in use.
    pub(crate) by_kid: HashMap<String, (Algorithm, DecodingKey)>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("algorithm", &self.algorithm)
            .field("signing", &self.signing.as_ref().map(|_| "[redacted]"))
            .field("signing_kid", &self.signing_kid)
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .finish()
    }
}

pub(crate) fn is_symmetric(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

impl Keys {
    /// Builds the keys of a config, refusing missing or mismatched keys up front.
    pub(crate) fn from_config(config: &JwtConfig) -> Result<Self, ConfigError> {
        let algorithm = config.algorithm;
        let (signing, verifying) = if is_symmetric(algorithm) {
            let secret = config
                .secret_key
                .as_deref()
                .ok_or(ConfigError::MissingSecret(algorithm))?;
            (
                Some(EncodingKey::from_secret(secret)),
                DecodingKey::from_secret(secret),
            )
        } else {
            let signing = config
                .private_key
                .as_deref()
                .map(|pem| encoding_key(algorithm, pem))
                .transpose()?;
            let public = config
                .public_key
                .as_deref()
                .ok_or(ConfigError::MissingPublicKey(algorithm))?;
            (signing, decoding_key(algorithm, public)?)
        };
        if let Some(key) = &signing {
            check_pair(algorithm, key, &verifying)?;
        }
        Ok(Self {
            algorithm,
            signing,
            signing_kid: None,
            verifying,
            by_kid: HashMap::new(),
        })
    }

    /// The decoding key for a token's `kid` and algorithm.
    pub(crate) fn for_kid(&self, kid: Option<&str>) -> Option<&DecodingKey> {
        match kid.and_then(|k| self.by_kid.get(k)) {
            Some((_, key)) => Some(key),
            None if kid.is_some() && !self.by_kid.is_empty() => None,
            None => Some(&self.verifying),
        }
    }
}

/// Parses a PEM private key for `algorithm`.
pub(crate) fn encoding_key(algorithm: Algorithm, pem: &[u8]) -> Result<EncodingKey, ConfigError> {
    let invalid = |e: jsonwebtoken::errors::Error| ConfigError::InvalidKey {
        name: "JWT_PRIVATE_KEY",
        algorithm,
        reason: e.to_string(),
    };
    match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .map_err(invalid)
}

/// Parses a PEM public key for `algorithm`.
pub(crate) fn decoding_key(algorithm: Algorithm, pem: &[u8]) -> Result<DecodingKey, ConfigError> {
    let invalid = |e: jsonwebtoken::errors::Error| ConfigError::InvalidKey {
        name: "JWT_PUBLIC_KEY",
        algorithm,
        reason: e.to_string(),
    };
    match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
        _ => DecodingKey::from_rsa_pem(pem),
    }
    .map_err(invalid)
}

/// Signs a probe and verifies it, so a key of the wrong kind, or a private key that does not
/// match the public one, is a start-up error rather than a 500 on the first login.
fn check_pair(
    algorithm: Algorithm,
    signing: &EncodingKey,
    verifying: &DecodingKey,
) -> Result<(), ConfigError> {
    let mismatch = |reason: String| ConfigError::InvalidKey {
        name: "JWT_PRIVATE_KEY",
        algorithm,
        reason,
    };
    let signature =
        crypto::sign(b"probe", signing, algorithm).map_err(|e| mismatch(e.to_string()))?;
    match crypto::verify(&signature, b"probe", verifying, algorithm) {
        Ok(true) => Ok(()),
        Ok(false) => Err(mismatch("it does not match JWT_PUBLIC_KEY".into())),
        Err(e) => Err(ConfigError::InvalidKey {
            name: "JWT_PUBLIC_KEY",
            algorithm,
            reason: e.to_string(),
        }),
    }
}

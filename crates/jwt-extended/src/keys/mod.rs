//! Signing and verification keys: the HS secret or the PEM pair of the config, checked once at
//! build time, plus extra verification keys by `kid` for key rotation. Publishing them as a
//! JWKS is `publish.rs`; verifying with another service's JWKS is `remote.rs`.
//!
//! Flask-JWT-Extended leaves key rotation to the app (`@jwt.decode_key_loader`, PyJWT's
//! `PyJWKClient`). A token whose `kid` is not known, or whose `alg` is not the one its key was
//! registered for, is refused with 422 `Signature verification failed`, PyJWT's message for a
//! key that does not match; the `kid` is only logged (debug level), so a client learns nothing
//! about the key set.

mod publish;
#[cfg(feature = "remote-jwks")]
mod remote;

use std::{borrow::Cow, collections::HashMap, fmt};

use aws_lc_rs::hmac;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, crypto};

#[cfg(feature = "remote-jwks")]
pub use self::remote::{JwksError, RemoteJwks};
use crate::{
    base64url::B64,
    config::{ConfigError, JwtConfig},
};

/// The keys a manager signs and verifies with.
#[derive(Clone)]
pub(crate) struct Keys {
    pub(crate) algorithm: Algorithm,
    /// `None` for a verify-only manager (a resource server holding only a public key).
    pub(crate) signing: Option<EncodingKey>,
    /// The `kid` written into new tokens, when keys are rotated.
    pub(crate) signing_kid: Option<String>,
    /// The key for tokens without a `kid` (or with an unknown one, when no key set is used);
    /// `None` for a resource server that only verifies with a remote JWKS.
    pub(crate) verifying: Option<DecodingKey>,
    /// `verifying`'s HS secret, keyed once per HMAC algorithm (see [`HmacKeys`]).
    hmac: Option<HmacKeys>,
    /// Verification keys by `kid`: the current one and retired ones still in use.
    pub(crate) by_kid: HashMap<String, (Algorithm, DecodingKey)>,
    /// Another service's key set, asked for the kids not in `by_kid`.
    #[cfg(feature = "remote-jwks")]
    pub(crate) remote: Option<RemoteJwks>,
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

/// The config's HS secret as HMAC keys whose padded key blocks are hashed once, at build time.
/// `jsonwebtoken` keys a new HMAC for every token it checks: two of the five SHA-256 blocks of
/// a session cookie's token, and 12% of a guarded request's instructions with the rest of
/// its verifier set-up (`bench/instructions.sh`).
#[derive(Clone)]
struct HmacKeys {
    hs256: hmac::Key,
    hs384: hmac::Key,
    hs512: hmac::Key,
}

impl HmacKeys {
    fn new(secret: &[u8]) -> Self {
        Self {
            hs256: hmac::Key::new(hmac::HMAC_SHA256, secret),
            hs384: hmac::Key::new(hmac::HMAC_SHA384, secret),
            hs512: hmac::Key::new(hmac::HMAC_SHA512, secret),
        }
    }

    fn get(&self, algorithm: Algorithm) -> Option<&hmac::Key> {
        match algorithm {
            Algorithm::HS256 => Some(&self.hs256),
            Algorithm::HS384 => Some(&self.hs384),
            Algorithm::HS512 => Some(&self.hs512),
            _ => None,
        }
    }
}

/// What checks a token's signature: the config's HS secret, keyed ahead, or any other key.
pub(crate) enum Verifier<'k> {
    Hmac(&'k hmac::Key),
    Key(Cow<'k, DecodingKey>),
}

pub(crate) fn is_symmetric(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

impl Keys {
    /// Builds the keys of a config, refusing missing or mismatched keys up front. With
    /// `remote_jwks`, an asymmetric config may have neither key: it verifies with the remote set.
    pub(crate) fn from_config(config: &JwtConfig, remote_jwks: bool) -> Result<Self, ConfigError> {
        let algorithm = config.algorithm;
        let mut hmac = None;
        let (signing, verifying) = if is_symmetric(algorithm) {
            let secret = config
                .secret_key
                .as_deref()
                .ok_or(ConfigError::MissingSecret(algorithm))?;
            hmac = Some(HmacKeys::new(secret));
            (
                Some(EncodingKey::from_secret(secret)),
                Some(DecodingKey::from_secret(secret)),
            )
        } else {
            let signing = config
                .private_key
                .as_deref()
                .map(|pem| encoding_key(algorithm, pem))
                .transpose()?;
            let verifying = match config.public_key.as_deref() {
                Some(public) => Some(decoding_key(algorithm, public)?),
                None if remote_jwks && signing.is_none() => None,
                None => return Err(ConfigError::MissingPublicKey(algorithm)),
            };
            (signing, verifying)
        };
        if let (Some(key), Some(public)) = (&signing, &verifying) {
            check_pair(algorithm, key, public)?;
        }
        Ok(Self {
            algorithm,
            signing,
            signing_kid: None,
            verifying,
            hmac,
            by_kid: HashMap::new(),
            #[cfg(feature = "remote-jwks")]
            remote: None,
        })
    }

    /// Signs `message` with the config's key, as `jsonwebtoken::crypto::sign` does (the
    /// base64url signature); `None` for a verify-only manager.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<jsonwebtoken::errors::Result<String>> {
        if let Some(key) = self.hmac.as_ref().and_then(|keys| keys.get(self.algorithm)) {
            return Some(Ok(B64.encode(hmac::sign(key, message))));
        }
        let key = self.signing.as_ref()?;
        Some(crypto::sign(message, key, self.algorithm))
    }

    /// The decoding key for a token's `kid` and algorithm: the key registered under that kid
    /// (none when it was registered for another algorithm), else the remote JWKS's cached key,
    /// else the config key when no key is registered by kid.
    pub(crate) fn for_kid(&self, kid: Option<&str>, alg: Algorithm) -> Option<Verifier<'_>> {
        if let Some((key_alg, key)) = kid.and_then(|k| self.by_kid.get(k)) {
            return (*key_alg == alg).then_some(Verifier::Key(Cow::Borrowed(key)));
        }
        #[cfg(feature = "remote-jwks")]
        if let Some(remote) = &self.remote
            && (kid.is_some() || self.verifying.is_none())
        {
            return remote
                .cached_key(kid, alg)
                .map(|key| Verifier::Key(Cow::Owned(key)));
        }
        if kid.is_some() && !self.by_kid.is_empty() {
            return None;
        }
        let verifying = self.verifying.as_ref()?;
        Some(match self.hmac.as_ref().and_then(|keys| keys.get(alg)) {
            Some(key) => Verifier::Hmac(key),
            None => Verifier::Key(Cow::Borrowed(verifying)),
        })
    }
}

#[cfg(feature = "remote-jwks")]
impl Keys {
    /// Before a request's token is decoded: when a remote JWKS is configured and the token's
    /// `kid` is not one of the local keys, a throttled refetch of the set. Any parse error is
    /// left to the decode.
    pub(crate) async fn ensure_remote_key(&self, token: &str) {
        let Some(remote) = &self.remote else { return };
        let Some(kid) = remote::header_kid(token) else {
            return;
        };
        let local = match kid.as_deref() {
            Some(kid) => self.by_kid.contains_key(kid),
            None => self.verifying.is_some(),
        };
        if !local {
            remote.ensure(kid.as_deref()).await;
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

    use super::{HmacKeys, Verifier};
    use crate::decode::parse;

    /// Both ways of checking a signature: the keys made ahead and `jsonwebtoken`'s.
    fn answers(token: &str, secret: &[u8], alg: Algorithm) -> (bool, bool) {
        let keys = HmacKeys::new(secret);
        let parsed = parse(token, None, "sub").expect("a token");
        let ahead = Verifier::Hmac(keys.get(alg).expect("an HMAC algorithm"));
        let decoding = DecodingKey::from_secret(secret);
        let theirs = Verifier::Key(Cow::Borrowed(&decoding));
        (
            parsed.verify_signature(&ahead, alg).is_ok(),
            parsed.verify_signature(&theirs, alg).is_ok(),
        )
    }

    #[test]
    fn hmac_keys_made_ahead_sign_as_jsonwebtoken_does() {
        let secret = b"a secret of the config";
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let config = crate::JwtConfig::default()
                .with_secret_key(secret)
                .with_algorithm(alg);
            let keys = super::Keys::from_config(&config, false).expect("keys");
            let ours = keys
                .sign(b"header.payload")
                .expect("a signing key")
                .expect("signed");
            let theirs = jsonwebtoken::crypto::sign(
                b"header.payload",
                &EncodingKey::from_secret(secret),
                alg,
            )
            .expect("signed");
            assert_eq!(ours, theirs, "{alg:?}");
        }
    }

    #[test]
    fn an_hs_signature_with_base64_padding_is_accepted_as_pyjwt_accepts_it() {
        let secret = b"a secret of the config";
        let claims = serde_json::json!({"sub": "1"});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("signed");
        // 32 bytes are 43 characters of base64, 44 with the padding.
        let padded = format!("{token}=");
        let keys = HmacKeys::new(secret);
        let parsed = parse(&padded, None, "sub").expect("a token");
        let hs256 = Verifier::Hmac(keys.get(Algorithm::HS256).expect("HS256"));
        assert!(parsed.verify_signature(&hs256, Algorithm::HS256).is_ok());
    }

    #[test]
    fn hmac_keys_made_ahead_accept_and_refuse_what_jsonwebtoken_does() {
        let secret = b"a secret of the config, long enough for HS512 too";
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let claims = serde_json::json!({"sub": "1", "exp": 4_000_000_000_u64});
            let token = jsonwebtoken::encode(
                &Header::new(alg),
                &claims,
                &EncodingKey::from_secret(secret),
            )
            .expect("signed");
            assert_eq!(answers(&token, secret, alg), (true, true), "{alg:?}");
            assert_eq!(
                answers(&token, b"another secret", alg),
                (false, false),
                "{alg:?}"
            );
            let (input, signature) = token.rsplit_once('.').expect("three parts");
            let flipped = if signature.starts_with('A') { "B" } else { "A" };
            let forged = [
                format!("{input}.{flipped}{}", &signature[1..]),
                format!("{input}.{}", &signature[..signature.len() - 4]),
                format!("{input}.{signature}AAAA"),
                format!("{input}.{}", signature.repeat(2)),
                format!("{input}x.{signature}"),
            ];
            for token in &forged {
                if parse(token, None, "sub").is_ok() {
                    assert_eq!(
                        answers(token, secret, alg),
                        (false, false),
                        "{alg:?} {token}"
                    );
                }
            }
        }
    }
}

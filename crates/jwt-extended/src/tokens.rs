//! Creating access and refresh tokens with Flask-JWT-Extended's exact claim layout:
//! `fresh, iat, jti, type, <identity>, nbf, csrf, aud, iss, exp`, then the additional claims
//! (which may override any of them, as Python's `dict.update` does).

use std::time::Duration;

use base64::Engine;
use jsonwebtoken::crypto;
use serde::Serialize;
use serde_json::Value;

use crate::{
    base64url::B64,
    claims::{Fresh, JsonObject},
    clock::now,
    csrf,
    manager::JwtManager,
};

/// Why a token could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The identity, a claim or a header does not serialize to JSON.
    #[error("token data is not JSON serializable: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The manager holds only a public key (a verify-only resource server).
    #[error("no signing key: JWT_PRIVATE_KEY is not set")]
    NoSigningKey,
    /// The crypto backend refused to sign.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A token being built: `jwt.access_token(identity)` or `jwt.refresh_token(identity)`, then the
/// options of Flask's `create_access_token`, then [`encode`](Self::encode).
///
/// ```
/// # use jwt_extended::{JwtConfig, JwtManager};
/// # let jwt = JwtManager::new(JwtConfig::default().with_secret_key("k"))?;
/// use std::time::Duration;
/// let token = jwt
///     .access_token("alice")
///     .fresh(true)
///     .expires_in(Some(Duration::from_secs(60)))
///     .claim("department", "CTO Office")
///     .encode()?;
/// let decoded = jwt.decode_token(&token, None, false)?;
/// assert_eq!(decoded.payload["department"], "CTO Office");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "call .encode() to get the token"]
pub struct TokenBuilder<'m> {
    manager: &'m JwtManager,
    identity: Result<Value, serde_json::Error>,
    token_type: &'static str,
    fresh: Fresh,
    expires: Option<Option<Duration>>,
    claims: JsonObject,
    headers: JsonObject,
}

impl JwtManager {
    /// Starts an access token for `identity` (any serializable value; the identity loader hook
    /// turns it into the identity claim).
    pub fn access_token(&self, identity: impl Serialize) -> TokenBuilder<'_> {
        TokenBuilder::new(self, serde_json::to_value(identity), "access")
    }

    /// Starts a refresh token for `identity`. Refresh tokens are never fresh.
    pub fn refresh_token(&self, identity: impl Serialize) -> TokenBuilder<'_> {
        TokenBuilder::new(self, serde_json::to_value(identity), "refresh")
    }

    /// Flask's `create_access_token(identity)` with the defaults.
    ///
    /// # Errors
    /// [`TokenError`] when the identity does not serialize or signing fails.
    pub fn create_access_token(&self, identity: impl Serialize) -> Result<String, TokenError> {
        self.access_token(identity).encode()
    }

    /// Flask's `create_refresh_token(identity)` with the defaults.
    ///
    /// # Errors
    /// [`TokenError`] when the identity does not serialize or signing fails.
    pub fn create_refresh_token(&self, identity: impl Serialize) -> Result<String, TokenError> {
        self.refresh_token(identity).encode()
    }
}

impl<'m> TokenBuilder<'m> {
    fn new(
        manager: &'m JwtManager,
        identity: Result<Value, serde_json::Error>,
        token_type: &'static str,
    ) -> Self {
        Self {
            manager,
            identity,
            token_type,
            fresh: Fresh::Bool(false),
            expires: None,
            claims: JsonObject::new(),
            headers: JsonObject::new(),
        }
    }

    /// `fresh=True/False`. Ignored for refresh tokens, as in Flask.
    pub fn fresh(mut self, fresh: bool) -> Self {
        self.fresh = Fresh::Bool(fresh);
        self
    }

    /// `fresh=timedelta(...)`: fresh for this long from now (stored as a float timestamp).
    pub fn fresh_for(mut self, duration: Duration) -> Self {
        self.fresh = Fresh::Until(now() + duration.as_secs_f64());
        self
    }

    /// `expires_delta=`: this token's lifetime instead of the config's; `None` for no `exp`.
    pub fn expires_in(mut self, lifetime: Option<Duration>) -> Self {
        self.expires = Some(lifetime);
        self
    }

    /// One additional claim (`additional_claims={name: value}`); it wins over the loader's and
    /// may override reserved claims, as in Flask.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// `additional_claims=`: merged over the loader's claims.
    pub fn additional_claims(mut self, claims: JsonObject) -> Self {
        self.claims.extend(claims);
        self
    }

    /// `additional_headers=`: merged into the JOSE header over the loader's.
    pub fn additional_headers(mut self, headers: JsonObject) -> Self {
        self.headers.extend(headers);
        self
    }

    /// Signs the token.
    ///
    /// # Errors
    /// [`TokenError`] when data does not serialize, no signing key is configured, or signing
    /// fails.
    pub fn encode(mut self) -> Result<String, TokenError> {
        let raw_identity = std::mem::replace(&mut self.identity, Ok(Value::Null))?;
        let inner = &self.manager.inner;
        let hooks = &inner.hooks;
        let header = self.header(&raw_identity);
        let payload = self.payload(&raw_identity);
        let signing_input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header)?),
            B64.encode(serde_json::to_vec(&payload)?)
        );
        let hook_key;
        let key = match &hooks.encode_key {
            Some(loader) => {
                hook_key = loader(&raw_identity);
                &hook_key
            }
            None => inner
                .keys
                .signing
                .as_ref()
                .ok_or(TokenError::NoSigningKey)?,
        };
        let signature = crypto::sign(signing_input.as_bytes(), key, inner.keys.algorithm)
            .map_err(|e| TokenError::Sign(e.to_string()))?;
        Ok(format!("{signing_input}.{signature}"))
    }

    /// PyJWT's header: `typ` and `alg`, the loader's and the call's entries, keys sorted.
    fn header(&self, identity: &Value) -> std::collections::BTreeMap<String, Value> {
        let inner = &self.manager.inner;
        let mut header = std::collections::BTreeMap::new();
        header.insert("typ".to_owned(), Value::from("JWT"));
        header.insert(
            "alg".to_owned(),
            Value::from(format!("{:?}", inner.keys.algorithm)),
        );
        if let Some(kid) = &inner.keys.signing_kid {
            header.insert("kid".to_owned(), Value::from(kid.as_str()));
        }
        if let Some(loader) = &inner.hooks.additional_headers {
            header.extend(loader(identity));
        }
        header.extend(self.headers.clone());
        header
    }

    fn payload(&self, raw_identity: &Value) -> JsonObject {
        let inner = &self.manager.inner;
        let config = &inner.config;
        let refresh = self.token_type == "refresh";
        let now_secs = now() as i64;
        let identity = inner
            .hooks
            .identity
            .as_ref()
            .map_or_else(|| raw_identity.clone(), |f| f(raw_identity));
        let fresh = if refresh {
            Fresh::Bool(false)
        } else {
            self.fresh
        };
        let mut p = JsonObject::new();
        p.insert("fresh".into(), fresh.to_value());
        p.insert("iat".into(), now_secs.into());
        p.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
        p.insert("type".into(), self.token_type.into());
        p.insert(config.identity_claim.clone(), identity);
        if config.encode_nbf {
            p.insert("nbf".into(), now_secs.into());
        }
        if config.csrf_protect {
            p.insert("csrf".into(), csrf::new_token().into());
        }
        if let Some(aud) = config.encode_audience.as_ref().filter(|a| !a.is_empty()) {
            let aud = if aud.len() == 1 {
                Value::from(aud[0].as_str())
            } else {
                Value::from(aud.clone())
            };
            p.insert("aud".into(), aud);
        }
        if let Some(iss) = config.encode_issuer.as_ref().filter(|i| !i.is_empty()) {
            p.insert("iss".into(), iss.as_str().into());
        }
        let lifetime = self.expires.unwrap_or(if refresh {
            config.refresh_expires
        } else {
            config.access_expires
        });
        if let Some(lifetime) = lifetime.filter(|l| !l.is_zero()) {
            p.insert("exp".into(), (now_secs + lifetime.as_secs() as i64).into());
        }
        if let Some(loader) = &inner.hooks.additional_claims {
            p.extend(loader(raw_identity));
        }
        p.extend(self.claims.clone());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JwtConfig;

    fn manager() -> JwtManager {
        JwtManager::new(JwtConfig::default().with_secret_key("secret")).expect("valid config")
    }

    fn payload_keys(jwt: &JwtManager, token: &str) -> Vec<String> {
        jwt.decode_token(token, None, false)
            .expect("decodes")
            .payload
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn access_tokens_have_flasks_claim_order_and_values() {
        let jwt = manager();
        let token = jwt
            .access_token("u")
            .claim("department", "x")
            .encode()
            .expect("token");
        assert_eq!(
            payload_keys(&jwt, &token),
            [
                "fresh",
                "iat",
                "jti",
                "type",
                "sub",
                "nbf",
                "csrf",
                "exp",
                "department"
            ]
        );
        let p = jwt
            .decode_token(&token, None, false)
            .expect("decodes")
            .payload;
        assert_eq!(p["fresh"], false);
        assert_eq!(p["type"], "access");
        assert_eq!(p["exp"].as_i64(), p["iat"].as_i64().map(|i| i + 900));
        assert_eq!(p["nbf"], p["iat"]);
        let header = jwt.unverified_header(&token).expect("header");
        assert_eq!(
            serde_json::to_string(&header).expect("json"),
            r#"{"alg":"HS256","typ":"JWT"}"#
        );
    }

    #[test]
    fn refresh_tokens_are_never_fresh_and_last_thirty_days() {
        let jwt = manager();
        let token = jwt.refresh_token("u").fresh(true).encode().expect("token");
        let p = jwt
            .decode_token(&token, None, false)
            .expect("decodes")
            .payload;
        assert_eq!(p["type"], "refresh");
        assert_eq!(p["fresh"], false);
        assert_eq!(p["exp"].as_i64(), p["iat"].as_i64().map(|i| i + 2_592_000));
    }

    #[test]
    fn additional_claims_override_reserved_ones_and_no_expiry_omits_exp() {
        let jwt = manager();
        let token = jwt
            .access_token("u")
            .claim("type", "app")
            .expires_in(None)
            .encode()
            .expect("token");
        let p = jwt
            .decode_token(&token, None, false)
            .expect("decodes")
            .payload;
        assert_eq!(p["type"], "app");
        assert!(!p.contains_key("exp"));
    }

    #[test]
    fn loaders_receive_the_raw_identity() {
        let jwt = JwtManager::builder(JwtConfig::default().with_secret_key("s"))
            .identity_loader(|user| user["id"].clone())
            .additional_claims_loader(|user| {
                let mut m = JsonObject::new();
                m.insert("name".into(), user["name"].clone());
                m
            })
            .build()
            .expect("valid");
        let token = jwt
            .create_access_token(serde_json::json!({"id": "7", "name": "bob"}))
            .expect("token");
        let p = jwt
            .decode_token(&token, None, false)
            .expect("decodes")
            .payload;
        assert_eq!(p["sub"], "7");
        assert_eq!(p["name"], "bob");
    }

    #[test]
    fn fresh_for_stores_a_float_timestamp() {
        let jwt = manager();
        let token = jwt
            .access_token("u")
            .fresh_for(Duration::from_secs(60))
            .encode()
            .expect("token");
        let p = jwt
            .decode_token(&token, None, false)
            .expect("decodes")
            .payload;
        assert!(p["fresh"].is_f64());
    }
}

//! Creating access and refresh tokens with Flask-JWT-Extended's exact claim layout:
//! `fresh, iat, jti, type, <identity>, nbf, csrf, aud, iss, exp`, then the additional claims
//! (which may override any of them in place, as Python's `dict.update` does).
//!
//! The layout is written in that order whatever `serde_json` features the app enables (the
//! payload is an ordered list, not a map).

use std::{borrow::Cow, collections::BTreeMap, time::Duration};

use base64::Engine;
use jsonwebtoken::{Algorithm, crypto};
use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::Value;

use crate::{
    base64url::B64,
    claims::{Fresh, JsonObject, as_seconds},
    clock::{now, now_secs},
    csrf,
    manager::JwtManager,
    payload::Payload,
    rejection::JwtError,
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

/// A signing failure in a flow that answers a request (login, rotation) is a 500.
impl From<TokenError> for JwtError {
    fn from(error: TokenError) -> Self {
        Self::Internal(format!("could not sign a token: {error}"))
    }
}

/// A token just signed by this manager, with what its cookies need (the `csrf` claim), so that
/// nothing has to decode it again. Made by [`TokenBuilder::mint`]; turned into cookies by
/// [`JwtManager::cookies_for`], which cannot fail.
#[derive(Clone)]
pub struct MintedToken {
    token: String,
    refresh: bool,
    csrf: Option<String>,
    jti: Option<String>,
    exp: Option<i64>,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken")
            .field("refresh", &self.refresh)
            .field("jti", &self.jti)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl MintedToken {
    /// The encoded token.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The encoded token, owned.
    pub fn into_string(self) -> String {
        self.token
    }

    /// Whether it is a refresh token (so its cookies are the refresh ones).
    pub fn is_refresh(&self) -> bool {
        self.refresh
    }

    /// Its `csrf` claim: the value of its CSRF cookie.
    pub fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// Its `jti` claim.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// Its `exp` claim (seconds); `None` for a token that never expires.
    pub fn exp(&self) -> Option<i64> {
        self.exp
    }

    /// A token this manager verified earlier (a refresh token handed back unrotated): its
    /// cookies come from its decoded claims.
    pub(crate) fn from_verified(token: String, payload: &Payload) -> Self {
        let text = |name: &str| {
            payload
                .claim(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Self {
            token,
            refresh: payload.claim("type").and_then(Value::as_str) == Some("refresh"),
            csrf: text("csrf"),
            jti: text("jti"),
            exp: payload.claim("exp").and_then(as_seconds),
        }
    }
}

impl AsRef<str> for MintedToken {
    fn as_ref(&self) -> &str {
        &self.token
    }
}

/// The payload in Flask's order; setting a claim again replaces it where it stands. The
/// library's own claim names are borrowed, not allocated for every token.
#[derive(Default)]
struct OrderedClaims(Vec<(Cow<'static, str>, Value)>);

impl OrderedClaims {
    fn set(&mut self, name: impl Into<Cow<'static, str>>, value: Value) {
        let name = name.into();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).and_then(Value::as_str).map(str::to_owned)
    }
}

impl Serialize for OrderedClaims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The lifetime asked for a token.
#[derive(Debug, Clone, Copy)]
enum Lifetime {
    /// The config's.
    Configured,
    /// No `exp`.
    Never,
    /// `exp = iat + seconds` (negative: already expired).
    Seconds(i64),
}

/// A token being built: `jwt.access_token(identity)` or `jwt.refresh_token(identity)`, then the
/// options of Flask's `create_access_token`, then [`encode`](Self::encode) (the string) or
/// [`mint`](Self::mint) (the string and what its cookies need).
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
///
/// // `expires_delta=timedelta(seconds=-60)`: an expired token, as tests mint them.
/// let expired = jwt.access_token("alice").expires_in_seconds(-60).encode()?;
/// assert_eq!(jwt.decode_token(&expired, None, false).unwrap_err().to_string(), "Token has expired");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "call .encode() or .mint() to get the token"]
pub struct TokenBuilder<'m> {
    manager: &'m JwtManager,
    identity: Result<Value, serde_json::Error>,
    token_type: &'static str,
    fresh: Fresh,
    lifetime: Lifetime,
    claims: Vec<(String, Value)>,
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
            lifetime: Lifetime::Configured,
            claims: Vec::new(),
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

    /// `fresh=<number>`: fresh until this timestamp (seconds), which may be in the past (Flask's
    /// `fresh=timedelta(minutes=-1)`: a token that is not fresh).
    pub fn fresh_until(mut self, timestamp: f64) -> Self {
        self.fresh = Fresh::Until(timestamp);
        self
    }

    /// `expires_delta=`: this token's lifetime instead of the config's; `None` for no `exp`
    /// (Flask's `expires_delta=False`).
    pub fn expires_in(mut self, lifetime: Option<Duration>) -> Self {
        self.lifetime = match lifetime {
            None => Lifetime::Never,
            Some(d) => Lifetime::Seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2)),
        };
        self
    }

    /// `expires_delta=timedelta(seconds=n)` with any sign: `exp = iat + n`. A negative `n` mints
    /// a token that has already expired, as every Flask-JWT-Extended app's tests do.
    pub fn expires_in_seconds(mut self, seconds: i64) -> Self {
        self.lifetime = Lifetime::Seconds(seconds);
        self
    }

    /// One additional claim (`additional_claims={name: value}`); it wins over the loader's and
    /// may override reserved claims, as in Flask.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.push((name.into(), value.into()));
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
    pub fn encode(self) -> Result<String, TokenError> {
        self.mint().map(MintedToken::into_string)
    }

    /// Signs the token and keeps what its cookies need ([`JwtManager::cookies_for`]).
    ///
    /// # Errors
    /// As [`encode`](Self::encode).
    pub fn mint(mut self) -> Result<MintedToken, TokenError> {
        let raw_identity = std::mem::replace(&mut self.identity, Ok(Value::Null))?;
        let inner = &self.manager.inner;
        let payload = self.payload(&raw_identity);
        // A payload is some 300 bytes: sized once, not grown from nothing.
        let mut payload_json = Vec::with_capacity(384);
        serde_json::to_writer(&mut payload_json, &payload)?;
        // The three segments in one string: base64 is 4 bytes for 3, a signature at most 86
        // (HS512) unless RSA's or ECDSA's.
        let mut token = String::with_capacity(payload_json.len() * 4 / 3 + 256);
        self.write_header(&raw_identity, &mut token)?;
        token.push('.');
        B64.encode_string(&payload_json, &mut token);
        let signature = match &inner.hooks.encode_key {
            Some(loader) => crypto::sign(
                token.as_bytes(),
                &loader(&raw_identity),
                inner.keys.algorithm,
            ),
            None => inner
                .keys
                .sign(token.as_bytes())
                .ok_or(TokenError::NoSigningKey)?,
        }
        .map_err(|e| TokenError::Sign(e.to_string()))?;
        token.push('.');
        token.push_str(&signature);
        Ok(MintedToken {
            token,
            refresh: payload.get("type").and_then(Value::as_str) == Some("refresh"),
            csrf: payload.text("csrf"),
            jti: payload.text("jti"),
            exp: payload.get("exp").and_then(as_seconds),
        })
    }

    /// The header's segment: the manager's own, encoded once when it was built, unless a loader
    /// or the call adds entries.
    fn write_header(&self, identity: &Value, out: &mut String) -> Result<(), serde_json::Error> {
        let inner = &self.manager.inner;
        let plain = inner.hooks.additional_headers.is_none() && self.headers.is_empty();
        match inner.known_header.as_ref().filter(|_| plain) {
            Some(known) => out.push_str(known.segment()),
            None => B64.encode_string(serde_json::to_vec(&self.header(identity))?, out),
        }
        Ok(())
    }

    /// PyJWT's header: `typ` and `alg`, the loader's and the call's entries, keys sorted.
    fn header(&self, identity: &Value) -> BTreeMap<String, Value> {
        let inner = &self.manager.inner;
        let mut header = base_header(inner.keys.algorithm, inner.keys.signing_kid.as_deref());
        if let Some(loader) = &inner.hooks.additional_headers {
            header.extend(loader(identity));
        }
        header.extend(self.headers.clone());
        header
    }

    fn payload(&self, raw_identity: &Value) -> OrderedClaims {
        let inner = &self.manager.inner;
        let config = &inner.config;
        let refresh = self.token_type == "refresh";
        let now_secs = now_secs();
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
        // Flask's ten claims at most and a few of the app's without growing the vector.
        let mut p = OrderedClaims(Vec::with_capacity(12 + self.claims.len()));
        p.set("fresh", fresh.to_value());
        p.set("iat", now_secs.into());
        p.set("jti", uuid::Uuid::new_v4().to_string().into());
        p.set("type", self.token_type.into());
        p.set(config.identity_claim.clone(), identity);
        if config.encode_nbf {
            p.set("nbf", now_secs.into());
        }
        if config.csrf_protect {
            p.set("csrf", csrf::new_token().into());
        }
        if let Some(aud) = config.encode_audience.as_ref().and_then(|a| a.to_claim()) {
            p.set("aud", aud);
        }
        if let Some(iss) = config.encode_issuer.as_ref().filter(|i| !i.is_empty()) {
            p.set("iss", iss.as_str().into());
        }
        let configured = if refresh {
            config.refresh_expires
        } else {
            config.access_expires
        };
        let seconds = match self.lifetime {
            Lifetime::Configured => configured
                .filter(|l| !l.is_zero())
                .map(|l| i64::try_from(l.as_secs()).unwrap_or(i64::MAX / 2)),
            Lifetime::Never => None,
            Lifetime::Seconds(s) => Some(s),
        };
        if let Some(seconds) = seconds {
            p.set("exp", now_secs.saturating_add(seconds).into());
        }
        if let Some(loader) = &inner.hooks.additional_claims {
            for (name, value) in loader(raw_identity) {
                p.set(name, value);
            }
        }
        for (name, value) in &self.claims {
            p.set(name.clone(), value.clone());
        }
        p
    }
}

/// PyJWT's header before any extra entry: `typ` and `alg` (and `kid`), keys sorted as PyJWT
/// writes them.
pub(crate) fn base_header(alg: Algorithm, kid: Option<&str>) -> BTreeMap<String, Value> {
    let mut header = BTreeMap::new();
    header.insert("typ".to_owned(), Value::from("JWT"));
    header.insert("alg".to_owned(), Value::from(format!("{alg:?}")));
    if let Some(kid) = kid {
        header.insert("kid".to_owned(), Value::from(kid));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JwtConfig;

    fn manager() -> JwtManager {
        JwtManager::new(JwtConfig::default().with_secret_key("secret")).expect("valid config")
    }

    /// The claim names in the token's order (a `serde_json::Map` may sort them).
    fn payload_keys(jwt: &JwtManager, token: &str) -> Vec<String> {
        use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(keys)
            }
        }
        jwt.decode_token(token, None, false).expect("verifies");
        let payload = token.split('.').nth(1).unwrap_or_default();
        let bytes = B64.decode(payload).expect("base64");
        serde_json::Deserializer::from_slice(&bytes)
            .deserialize_map(Keys)
            .expect("an object")
    }

    /// The header segment a token starts with.
    fn header_segment(token: &str) -> &str {
        token.split('.').next().unwrap_or_default()
    }

    #[test]
    fn the_managers_own_header_is_the_one_a_loader_adding_nothing_gets() {
        for kid in [None, Some("key-1")] {
            let config = JwtConfig::default().with_secret_key("secret");
            let mut plain = JwtManager::builder(config.clone());
            let mut loaded = JwtManager::builder(config)
                .additional_headers_loader(|_: &Value| JsonObject::new());
            if let Some(kid) = kid {
                plain = plain.signing_kid(kid);
                loaded = loaded.signing_kid(kid);
            }
            let (plain, loaded) = (
                plain.build().expect("valid"),
                loaded.build().expect("valid"),
            );
            let fast = plain.access_token("u").encode().expect("token");
            let slow = loaded.access_token("u").encode().expect("token");
            assert_eq!(header_segment(&fast), header_segment(&slow));
            let header = plain.unverified_header(&fast).expect("parses");
            assert_eq!(header.get("kid").and_then(Value::as_str), kid);
            assert_eq!(header["alg"], "HS256");
            // An entry of the call's own is written, not the manager's header.
            let mut extra = JsonObject::new();
            extra.insert("x".into(), 1.into());
            let own = plain
                .access_token("u")
                .additional_headers(extra)
                .encode()
                .expect("token");
            assert_eq!(plain.unverified_header(&own).expect("parses")["x"], 1);
            assert!(plain.decode_token(&own, None, false).is_ok());
        }
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

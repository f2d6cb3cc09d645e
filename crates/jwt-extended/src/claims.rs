//! What a verified token carries: the raw header and payload ([`DecodedToken`], what Flask's
//! callbacks receive as `jwt_header, jwt_data`) and the typed view handlers use ([`Claims`]).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{config::TokenLocation, loaded_user::LoadedUser, payload::Payload};

/// A JSON object: the payload or header of a token.
pub type JsonObject = Map<String, Value>;

/// The claim holding a token's login family id (see [`JwtManager::login`](crate::JwtManager::login)).
pub const FAMILY_CLAIM: &str = "fam";

/// The claims every new token gets anew. A refreshed token (rotation, implicit refresh) never
/// copies them from its predecessor; every other claim is the app's and is carried over.
const PER_TOKEN_CLAIMS: [&str; 10] = [
    "fresh",
    "iat",
    "jti",
    "type",
    "nbf",
    "csrf",
    "exp",
    "aud",
    "iss",
    FAMILY_CLAIM,
];

/// The app's claims of a payload: all but [`PER_TOKEN_CLAIMS`] and the identity claim.
pub(crate) fn carried_claims(payload: &JsonObject, identity_claim: &str) -> JsonObject {
    payload
        .iter()
        .filter(|(k, _)| k.as_str() != identity_claim && !PER_TOKEN_CLAIMS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The `fresh` claim: a bool, or a timestamp (seconds) until which the token counts as fresh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fresh {
    /// `"fresh": true` or `false`.
    Bool(bool),
    /// `"fresh": <timestamp>`: fresh while now is at most this.
    Until(f64),
}

impl Fresh {
    /// Reads the claim as Flask does: a missing claim is `false`, a number a timestamp.
    pub(crate) fn from_claim(value: Option<&Value>) -> Self {
        match value {
            Some(Value::Bool(b)) => Self::Bool(*b),
            Some(Value::Number(n)) => Self::Until(n.as_f64().unwrap_or(0.0)),
            _ => Self::Bool(false),
        }
    }

    /// Whether the token is fresh at `now` (seconds). No leeway, like Flask.
    pub fn is_fresh_at(self, now: f64) -> bool {
        match self {
            Self::Bool(b) => b,
            Self::Until(until) => until >= now,
        }
    }

    pub(crate) fn to_value(self) -> Value {
        match self {
            Self::Bool(b) => Value::Bool(b),
            Self::Until(t) => {
                serde_json::Number::from_f64(t).map_or(Value::Bool(false), Value::Number)
            }
        }
    }
}

/// A token whose signature and standard claims were verified: its header and payload as JSON,
/// with Flask's defaults filled in (`type` "access", `fresh` false, `jti` null).
///
/// This is what hooks receive (blocklist, claims verification, user lookup), like Flask's
/// `(jwt_header, jwt_data)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedToken {
    /// The JOSE header.
    pub header: JsonObject,
    /// The payload: a JSON object through [`Payload`]'s `Deref`.
    pub payload: Payload,
}

impl DecodedToken {
    /// A claim of the payload (the claims the library reads itself without building the
    /// payload's JSON object, see [`Payload`]).
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.payload.claim(name)
    }

    /// `jti`, when it is a string.
    pub fn jti(&self) -> Option<&str> {
        self.claim("jti").and_then(Value::as_str)
    }

    /// `type`: `"access"` when absent.
    pub fn token_type(&self) -> &str {
        self.claim("type")
            .and_then(Value::as_str)
            .unwrap_or("access")
    }

    /// `exp` in whole seconds, when present and numeric.
    pub fn exp(&self) -> Option<i64> {
        self.claim("exp").and_then(as_seconds)
    }

    /// `kid` of the header.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

pub(crate) fn as_seconds(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    }
}

/// The claims of a verified token, as a handler reads them (`get_jwt()` in Flask).
///
/// `C` is the app's view of the payload, deserialized from the whole payload; it defaults to
/// the payload as a JSON object ([`Payload`], whose map is built only when read; `JsonObject`
/// works too). A struct picks the claims it needs and ignores the rest:
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Roles {
///     department: String,
///     manager_role_attached: bool,
/// }
/// async fn handler(jwt_extended::Jwt(claims): jwt_extended::Jwt<Roles>) -> String {
///     claims.extra.department
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Claims<C = Payload> {
    /// The identity claim (`sub` unless `JWT_IDENTITY_CLAIM` says otherwise).
    pub identity: Value,
    /// `type`: `"access"`, `"refresh"`, or an app's own type.
    pub token_type: String,
    /// `fresh`.
    pub fresh: Fresh,
    /// `jti`, the token's unique id.
    pub jti: Option<String>,
    /// `csrf`, the double-submit value.
    pub csrf: Option<String>,
    /// `iat`, seconds.
    pub iat: Option<i64>,
    /// `nbf`, seconds.
    pub nbf: Option<i64>,
    /// `exp`, seconds.
    pub exp: Option<i64>,
    /// The JOSE header (`get_jwt_header()`).
    pub header: JsonObject,
    /// Where the token was found (`get_jwt_request_location()`).
    pub location: TokenLocation,
    /// The app's view of the payload.
    pub extra: C,
    /// The user the manager's [`UserLoader`](crate::UserLoader) loaded for the token.
    user: Option<LoadedUser>,
}

impl<C> Claims<C> {
    /// The identity as a string (the usual case: `sub` is a string).
    pub fn sub(&self) -> Option<&str> {
        self.identity.as_str()
    }

    /// Flask's `get_current_user()`: the user the manager's
    /// [`UserLoader`](crate::UserLoader) loaded for this token, when it is a `U`. `None` without
    /// a loader, on a route that skips the lookup, or for another type.
    pub fn user<U: 'static>(&self) -> Option<&U> {
        self.user.as_ref()?.get()
    }
}

impl<C: DeserializeOwned + 'static> Claims<C> {
    pub(crate) fn from_decoded(
        token: DecodedToken,
        identity_claim: &str,
        location: TokenLocation,
        user: Option<LoadedUser>,
    ) -> Result<Self, serde_json::Error> {
        let DecodedToken { header, payload } = token;
        let p = &payload;
        let string = |name: &str| p.claim(name).and_then(Value::as_str).map(str::to_owned);
        let seconds = |name: &str| p.claim(name).and_then(as_seconds);
        let identity = p.claim(identity_claim).cloned().unwrap_or(Value::Null);
        let token_type = string("type").unwrap_or_else(|| "access".to_owned());
        let (fresh, jti, csrf) = (
            Fresh::from_claim(p.claim("fresh")),
            string("jti"),
            string("csrf"),
        );
        let (iat, nbf, exp) = (seconds("iat"), seconds("nbf"), seconds("exp"));
        let extra = payload_into::<C>(payload)?;
        Ok(Self {
            identity,
            token_type,
            fresh,
            jti,
            csrf,
            iat,
            nbf,
            exp,
            header,
            location,
            extra,
            user,
        })
    }
}

/// Deserializes the payload into `C`, moving it without a copy when `C` is [`Payload`] (the
/// default, and the hot path: its JSON object is built only if read) or the JSON object.
fn payload_into<C: DeserializeOwned + 'static>(payload: Payload) -> Result<C, serde_json::Error> {
    let mut slot = Some(payload);
    if let Some(same) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<C>>()
        && let Some(value) = same.take()
    {
        return Ok(value);
    }
    let mut map = slot.map(Payload::into_map);
    if let Some(same) = (&mut map as &mut dyn std::any::Any).downcast_mut::<Option<C>>()
        && let Some(value) = same.take()
    {
        return Ok(value);
    }
    serde_json::from_value(Value::Object(map.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fresh_follows_flask_rules() {
        assert!(!Fresh::from_claim(None).is_fresh_at(0.0));
        assert!(Fresh::from_claim(Some(&json!(true))).is_fresh_at(1e12));
        assert!(
            !Fresh::from_claim(Some(&json!(1))).is_fresh_at(100.0),
            "1 is a timestamp long past"
        );
        assert!(Fresh::from_claim(Some(&json!(200.5))).is_fresh_at(200.5));
    }

    #[test]
    fn claims_take_the_payload_as_the_default_view_and_structs_pick_fields() {
        let token = DecodedToken {
            header: JsonObject::new(),
            payload: json!({"sub": "7", "department": "x", "exp": 10})
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into(),
        };
        let map: Claims =
            Claims::from_decoded(token.clone(), "sub", TokenLocation::Cookies, None).expect("map");
        assert_eq!(map.extra["department"], "x");
        assert_eq!(map.sub(), Some("7"));
        assert_eq!(map.token_type, "access");
        let plain: Claims<JsonObject> =
            Claims::from_decoded(token.clone(), "sub", TokenLocation::Cookies, None).expect("map");
        assert_eq!(plain.extra, *map.extra);
        #[derive(serde::Deserialize)]
        struct Dept {
            department: String,
        }
        let typed: Claims<Dept> =
            Claims::from_decoded(token, "sub", TokenLocation::Cookies, None).expect("typed");
        assert_eq!(typed.extra.department, "x");
        assert_eq!(typed.exp, Some(10));
    }
}

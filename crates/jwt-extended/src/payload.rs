//! A token's payload: the claims every request reads, found in one pass over the JSON text,
//! and the whole JSON object (Flask's `jwt_data`, `get_jwt()`) built only when asked for.
//!
//! A guarded request reads a dozen claims at most (the standard ones, `type`, `fresh`, `csrf`,
//! the login family). Building the payload's JSON map for that, a `String` per key and string
//! value in a `BTreeMap`, and dropping it again cost about a sixth of a guarded request's
//! instructions (docs/performance.md). The map is now built from the kept text on first use.

use std::{borrow::Cow, fmt, ops::Deref, sync::OnceLock};

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::Value;

use crate::claims::{FAMILY_CLAIM, JsonObject};

/// The payload of a token: a JSON object, read like one through [`Deref`].
///
/// The claims the library reads on every request (`iat`, `nbf`, `exp`, `iss`, `aud`, `sub`,
/// `jti`, `csrf`, `type`, `fresh` and the login family, `fam`) are kept apart and answered by
/// [`claim`](Self::claim) without building the object; the object itself is built from the
/// token's JSON text the first time it is used (`payload["department"]`, `payload.get(..)`,
/// iteration) and kept.
///
/// ```
/// use jwt_extended::{JsonObject, Payload};
///
/// let mut map = JsonObject::new();
/// map.insert("sub".into(), "7".into());
/// map.insert("department".into(), "Sales".into());
/// let payload = Payload::from(map);
/// assert_eq!(payload.claim("sub").and_then(|v| v.as_str()), Some("7"));
/// assert_eq!(payload["department"], "Sales");
/// ```
#[derive(Clone, Default)]
pub struct Payload {
    /// The token's JSON text, from which `map` is built; empty when built from a map.
    text: Vec<u8>,
    map: OnceLock<JsonObject>,
    /// Boxed, one allocation a token: inline, the 11 values made `Payload` 408 bytes
    /// (`Verified` 496), which each extractor layer copied (docs/performance.md, "The claims
    /// behind a pointer").
    known: Box<Known>,
}

/// The claims read on every request, each as the payload holds it (the last, if repeated), in
/// the order of [`Known::index`].
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Known([Option<Value>; 11]);

impl Known {
    /// Where `name` is kept, if it is one of the claims read on every request.
    fn index(name: &str) -> Option<usize> {
        Some(match name {
            "iat" => 0,
            "nbf" => 1,
            "exp" => 2,
            "iss" => 3,
            "aud" => 4,
            "sub" => 5,
            "jti" => 6,
            "csrf" => 7,
            "type" => 8,
            "fresh" => 9,
            FAMILY_CLAIM => 10,
            _ => return None,
        })
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        Self::index(name).map(|i| &mut self.0[i])
    }

    fn get(&self, name: &str) -> Option<&Option<Value>> {
        Self::index(name).map(|i| &self.0[i])
    }

    /// The claim `name` (one of the claims read on every request), when the payload holds it.
    pub(crate) fn value(&self, name: &str) -> Option<&Value> {
        self.get(name)?.as_ref()
    }
}

/// Makes a claim's default value.
type MakeDefault = fn() -> Value;

/// Flask's defaults for claims a payload lacks: `type` "access", `fresh` false, `jti` null;
/// each made only when it is missing.
const DEFAULTS: [(&str, MakeDefault); 3] = [
    ("type", || Value::from("access")),
    ("fresh", || Value::Bool(false)),
    ("jti", || Value::Null),
];

impl Payload {
    /// Reads a payload's JSON text: the known claims now, the rest only checked. `identity`
    /// names the identity claim; the answer says whether the payload holds it.
    ///
    /// Every value is parsed as [`Value`] would be (unknown ones are dropped after), so the
    /// object built later from the same text cannot fail where this succeeded.
    ///
    /// # Errors
    /// When `text` is not a JSON object; the caller words the message.
    pub(crate) fn parse(text: Vec<u8>, identity: &str) -> Result<(Self, bool), Vec<u8>> {
        let mut de = serde_json::Deserializer::from_slice(&text);
        let read = KnownSeed { identity }
            .deserialize(&mut de)
            .and_then(|known| de.end().map(|()| known));
        match read {
            Ok((known, has_identity)) => {
                let payload = Self {
                    text,
                    map: OnceLock::new(),
                    known,
                };
                Ok((payload, has_identity))
            }
            Err(_) => Err(text),
        }
    }

    /// A claim, as the JSON object holds it; the known claims without building the object.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        match self.known.get(name) {
            Some(known) => known.as_ref(),
            None => self.object().get(name),
        }
    }

    /// The claims the checks read.
    pub(crate) fn known(&self) -> &Known {
        &self.known
    }

    /// Fills Flask's defaults for the claims this payload lacks.
    pub(crate) fn fill_defaults(&mut self) {
        for (name, default) in DEFAULTS {
            if let Some(slot @ None) = self.known.slot(name) {
                *slot = Some(default());
                // An object already built gets them too; one built later adds them itself.
                if let Some(map) = self.map.get_mut() {
                    map.entry(name).or_insert_with(default);
                }
            }
        }
    }

    /// The JSON object, built now if it was not yet.
    pub fn into_map(mut self) -> JsonObject {
        self.object();
        self.map.take().unwrap_or_default()
    }

    fn object(&self) -> &JsonObject {
        self.map.get_or_init(|| {
            // `parse` read this text as an object already; only a default payload has none.
            let mut map: JsonObject = serde_json::from_slice(&self.text).unwrap_or_default();
            // The defaults that `fill_defaults` put among the known claims.
            for (name, _) in DEFAULTS {
                if let Some(value) = self.known.value(name)
                    && !map.contains_key(name)
                {
                    map.insert(name.to_owned(), value.clone());
                }
            }
            map
        })
    }
}

impl From<JsonObject> for Payload {
    fn from(map: JsonObject) -> Self {
        let mut known = Box::<Known>::default();
        for (name, value) in &map {
            if let Some(slot) = known.slot(name) {
                *slot = Some(value.clone());
            }
        }
        Self {
            text: Vec::new(),
            map: OnceLock::from(map),
            known,
        }
    }
}

impl From<Payload> for JsonObject {
    fn from(payload: Payload) -> Self {
        payload.into_map()
    }
}

impl Deref for Payload {
    type Target = JsonObject;

    fn deref(&self) -> &JsonObject {
        self.object()
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.object() == other.object()
    }
}

impl PartialEq<JsonObject> for Payload {
    fn eq(&self, other: &JsonObject) -> bool {
        self.object() == other
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.object(), f)
    }
}

impl serde::Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.object().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        JsonObject::deserialize(deserializer).map(Self::from)
    }
}

/// Reads the known claims of a JSON object, and whether it holds the identity claim.
struct KnownSeed<'a> {
    identity: &'a str,
}

impl<'de> DeserializeSeed<'de> for KnownSeed<'_> {
    type Value = (Box<Known>, bool);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KnownSeed<'_> {
    type Value = (Box<Known>, bool);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut known = Box::<Known>::default();
        let mut has_identity = false;
        while let Some(Key(name)) = map.next_key()? {
            has_identity |= name == self.identity;
            match known.slot(&name) {
                Some(slot) => *slot = Some(map.next_value()?),
                // Parsed as `Value` would be (its depth limit, UTF-8 checks), then dropped.
                None => drop(map.next_value::<Value>()?),
            }
        }
        Ok((known, has_identity))
    }
}

/// A key, borrowed from the text unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(text: &str) -> (Payload, bool) {
        Payload::parse(text.as_bytes().to_vec(), "sub").expect("an object")
    }

    /// Every claim answered without the map is the map's own, defaults included.
    fn assert_known_agree_with_the_map(payload: &Payload) {
        let names = [
            "iat", "nbf", "exp", "iss", "aud", "sub", "jti", "csrf", "type", "fresh",
        ];
        for name in names.into_iter().chain([FAMILY_CLAIM, "department"]) {
            let known = payload.claim(name).cloned();
            assert_eq!(known.as_ref(), payload.get(name), "{name}");
        }
    }

    #[test]
    fn the_known_claims_are_the_objects_own_before_and_after_the_defaults() {
        let text = r#"{"sub":"7","s\u0075b":"8","iat":1,"exp":2.5,"nbf":"3","aud":["a"],
            "iss":"me","csrf":"c","fam":"f","department":{"x":[1,2]},"fresh":1e3,"iat":4}"#;
        let (mut payload, has_identity) = read(text);
        assert!(has_identity);
        assert_eq!(
            payload.claim("sub"),
            Some(&json!("8")),
            "the last one, as a map keeps"
        );
        assert_eq!(payload.claim("iat"), Some(&json!(4)));
        assert_eq!(payload.claim("type"), None);
        assert_known_agree_with_the_map(&payload);
        let expected: JsonObject = serde_json::from_str(text).expect("json");
        assert_eq!(payload, expected);

        payload.fill_defaults();
        assert_eq!(payload.claim("type"), Some(&json!("access")));
        assert_eq!(payload.claim("jti"), Some(&Value::Null));
        assert_eq!(payload.claim("fresh"), Some(&json!(1e3)), "present: kept");
        assert_known_agree_with_the_map(&payload);
    }

    #[test]
    fn defaults_reach_the_object_whether_it_is_built_before_or_after_them() {
        let (mut early, _) = read(r#"{"sub":"7"}"#);
        assert_eq!(early.len(), 1, "built before the defaults");
        early.fill_defaults();
        let (mut late, _) = read(r#"{"sub":"7"}"#);
        late.fill_defaults();
        for payload in [&early, &late] {
            assert_eq!(payload["type"], "access");
            assert_eq!(payload["fresh"], false);
            assert_eq!(payload["jti"], Value::Null);
            assert_known_agree_with_the_map(payload);
        }
        assert_eq!(early, late);
        assert_eq!(late.clone().into_map().len(), 4);
    }

    #[test]
    fn what_a_json_object_parser_refuses_is_refused_here_too() {
        let deep = format!(
            r#"{{"sub":"7","x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let bad_utf8 = b"{\"sub\":\"7\",\"x\":\"\xff\"}".to_vec();
        for text in [
            deep.into_bytes(),
            bad_utf8,
            b"[]".to_vec(),
            b"{\"sub\":1} x".to_vec(),
            b"{\"sub\":".to_vec(),
        ] {
            assert!(serde_json::from_slice::<JsonObject>(&text).is_err());
            assert!(Payload::parse(text, "sub").is_err());
        }
    }

    #[test]
    fn an_empty_object_is_a_payload_without_claims() {
        let (mut payload, has_identity) = read("{}");
        assert!(!has_identity);
        assert!(payload.is_empty());
        payload.fill_defaults();
        assert_eq!(payload.len(), 3, "the defaults");
    }

    #[test]
    fn another_identity_claim_is_found_and_read_from_the_object() {
        let (payload, has_identity) =
            Payload::parse(br#"{"user":{"id":7}}"#.to_vec(), "user").expect("an object");
        assert!(has_identity);
        assert_eq!(payload.claim("user"), Some(&json!({"id": 7})));
        let (_, has_identity) = Payload::parse(br#"{"sub":"7"}"#.to_vec(), "user").expect("ok");
        assert!(!has_identity);
    }

    #[test]
    fn a_payload_from_a_map_answers_like_one_from_text() {
        let map: JsonObject =
            serde_json::from_str(r#"{"sub":"7","jti":"j","department":"x"}"#).expect("json");
        let payload = Payload::from(map.clone());
        let (read, _) = read(r#"{"sub":"7","jti":"j","department":"x"}"#);
        assert_eq!(payload, read);
        assert_eq!(payload.claim("jti"), read.claim("jti"));
        assert_known_agree_with_the_map(&payload);
        assert_eq!(JsonObject::from(payload), map);
    }
}

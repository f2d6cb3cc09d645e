//! Token decoding with PyJWT's and Flask-JWT-Extended's checks, in their order and with their
//! messages, so a client sees the same 422 text after the move to Rust.
//!
//! Order (§4.6 of the reference): segments, base64 and JSON of each part, algorithm allow-list,
//! signature, then `iat`, `nbf`, `exp`, `iss`, `aud`, `sub`, `jti`, the identity claim, the
//! defaults, and the CSRF claim. An expired token is checked on to the end, so an expired token
//! with another fault reports that fault (Flask re-decodes it with `allow_expired`).

use aws_lc_rs::hmac;
use base64::{DecodeSliceError, Engine};
use jsonwebtoken::Algorithm;
use serde_json::Value;

use crate::{
    base64url::B64,
    claims::{DecodedToken, JsonObject},
    clock::now,
    csrf,
    keys::Verifier,
    payload::{Known, Payload},
    rejection::JwtError,
    tokens::base_header,
};

/// The claim checks of a decode, taken from the config once.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway: f64,
    pub(crate) audience: Option<Vec<String>>,
    pub(crate) issuer: Option<Vec<String>>,
    pub(crate) verify_sub: bool,
    pub(crate) identity_claim: String,
}

/// What a single decode is asked to do beyond the rules.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DecodeRequest<'a> {
    /// The CSRF value sent with the request; checked against the `csrf` claim.
    pub(crate) csrf: Option<&'a str>,
    /// Accept an expired token (Flask's `allow_expired`).
    pub(crate) allow_expired: bool,
}

/// A token split into its parts, before its signature is checked.
pub(crate) struct Unverified<'t> {
    pub(crate) header: JsonObject,
    pub(crate) payload: Payload,
    /// Whether the payload holds the identity claim.
    has_identity: bool,
    signing_input: &'t str,
    signature: &'t str,
    /// The signature's bytes when short enough to be an HMAC tag, decoded once here for the
    /// HMAC check; `None` for longer ones (RSA and ECDSA verification decode their own).
    tag: Option<Tag>,
}

/// Room for HS512's 64-byte tag, and for base64's decoding estimate of it (66); a longer
/// signature is no HMAC tag.
const TAG_ROOM: usize = 96;

/// A decoded signature short enough to be an HMAC tag, on the stack.
struct Tag {
    bytes: [u8; TAG_ROOM],
    len: usize,
}

/// Decodes a signature segment: `Ok(Some)` when it fits a tag, `Ok(None)` when it is valid
/// base64url but longer, `Err` when it is not base64url (PyJWT's "Invalid crypto padding").
fn decode_signature(signature: &str) -> Result<Option<Tag>, JwtError> {
    let padding = || JwtError::invalid("Invalid crypto padding");
    let mut bytes = [0u8; TAG_ROOM];
    match B64.decode_slice(signature, &mut bytes) {
        Ok(len) => Ok(Some(Tag { bytes, len })),
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            B64.decode(signature).map_err(|_| padding())?;
            Ok(None)
        }
        Err(DecodeSliceError::DecodeError(_)) => Err(padding()),
    }
}

/// The header this manager writes on its tokens without extra entries, as its base64url
/// segment and parsed: a token whose header segment is these exact bytes has this header, so
/// its decode copies it instead of decoding and parsing it again (2% of a guarded request).
#[derive(Debug)]
pub(crate) struct KnownHeader {
    segment: String,
    header: JsonObject,
}

impl KnownHeader {
    /// The header of [`base_header`], as the token builder writes it.
    pub(crate) fn new(alg: Algorithm, kid: Option<&str>) -> Result<Self, serde_json::Error> {
        let header = base_header(alg, kid);
        Ok(Self {
            segment: B64.encode(serde_json::to_vec(&header)?),
            header: header.into_iter().collect(),
        })
    }

    /// The header's base64url segment, as a token of this manager carries it.
    pub(crate) fn segment(&self) -> &str {
        &self.segment
    }
}

/// Splits and parses a token without verifying it (`get_unverified_jwt_headers` and the first
/// step of every decode). `known` is the header the manager writes, taken as is when the
/// token's header segment matches it; `identity` names the identity claim.
pub(crate) fn parse<'t>(
    token: &'t str,
    known: Option<&KnownHeader>,
    identity: &str,
) -> Result<Unverified<'t>, JwtError> {
    let not_enough = || JwtError::invalid("Not enough segments");
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(not_enough)?;
    let (header_b64, payload_b64) = signing_input.split_once('.').ok_or_else(not_enough)?;
    let header = match known {
        Some(known) if known.segment == header_b64 => known.header.clone(),
        _ => {
            let header_bytes = B64
                .decode(header_b64)
                .map_err(|_| JwtError::invalid("Invalid header padding"))?;
            json_object(&header_bytes, "header")?
        }
    };
    let payload_bytes = B64
        .decode(payload_b64)
        .map_err(|_| JwtError::invalid("Invalid payload padding"))?;
    let tag = decode_signature(signature)?;
    if header.get("kid").is_some_and(|k| !k.is_string()) {
        return Err(JwtError::invalid(
            "Key ID header parameter must be a string",
        ));
    }
    let (payload, has_identity) = match Payload::parse(payload_bytes, identity) {
        Ok(parsed) => parsed,
        // Not an object: the message `Value`'s parser words.
        Err(text) => return Err(json_object(&text, "payload").err().unwrap_or_else(not_json)),
    };
    Ok(Unverified {
        header,
        payload,
        has_identity,
        signing_input,
        signature,
        tag,
    })
}

fn not_json() -> JwtError {
    JwtError::invalid("Invalid payload string: must be a json object")
}

fn json_object(bytes: &[u8], part: &str) -> Result<JsonObject, JwtError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(JwtError::invalid(format!(
            "Invalid {part} string: must be a json object"
        ))),
        Err(e) => Err(JwtError::invalid(format!("Invalid {part} string: {e}"))),
    }
}

impl Unverified<'_> {
    /// The header's `alg`, checked against the allow-list.
    pub(crate) fn algorithm(&self, allowed: &[Algorithm]) -> Result<Algorithm, JwtError> {
        let alg = self
            .header
            .get("alg")
            .ok_or_else(|| JwtError::invalid("Algorithm not specified"))?;
        let not_allowed = || JwtError::invalid("The specified alg value is not allowed");
        let alg: Algorithm = alg
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(not_allowed)?;
        if allowed.contains(&alg) {
            Ok(alg)
        } else {
            Err(not_allowed())
        }
    }

    /// Checks the signature with `key`.
    pub(crate) fn verify_signature(
        &self,
        key: &Verifier<'_>,
        alg: Algorithm,
    ) -> Result<(), JwtError> {
        let message = self.signing_input.as_bytes();
        let valid = match key {
            Verifier::Hmac(key) => self
                .tag
                .as_ref()
                .is_some_and(|tag| hmac::verify(key, message, &tag.bytes[..tag.len]).is_ok()),
            Verifier::Key(key) => {
                matches!(
                    jsonwebtoken::crypto::verify(self.signature, message, key, alg),
                    Ok(true)
                )
            }
        };
        if valid {
            Ok(())
        } else {
            Err(JwtError::invalid("Signature verification failed"))
        }
    }
}

/// Verifies the claims of a token whose signature holds, fills Flask's defaults, and checks
/// the CSRF value.
pub(crate) fn check_claims(
    parsed: Unverified<'_>,
    rules: &ClaimRules,
    request: DecodeRequest<'_>,
) -> Result<DecodedToken, JwtError> {
    let Unverified {
        header,
        mut payload,
        has_identity,
        ..
    } = parsed;
    let found = Registered {
        known: payload.known(),
        has_identity,
    };
    let expired = found.check(rules)?;
    if let Some(sent) = request.csrf {
        let claim = found
            .known
            .value("csrf")
            .ok_or_else(|| JwtError::invalid("Missing claim: csrf"))?;
        if !claim.as_str().is_some_and(|c| csrf::matches(c, sent)) {
            return Err(JwtError::Csrf(
                "CSRF double submit tokens do not match".into(),
            ));
        }
    }
    payload.fill_defaults();
    let token = DecodedToken { header, payload };
    if expired && !request.allow_expired {
        return Err(JwtError::Expired(Box::new(token)));
    }
    Ok(token)
}

/// The claims the checks read, found in the one pass that read the payload.
struct Registered<'p> {
    known: &'p Known,
    has_identity: bool,
}

impl Registered<'_> {
    /// PyJWT's and Flask's claim checks in their order; `Ok(true)` when only `exp` has passed.
    fn check(&self, rules: &ClaimRules) -> Result<bool, JwtError> {
        let now = now();
        if let Some(iat) = self.known.value("iat") {
            let iat = integer(iat)
                .ok_or_else(|| JwtError::invalid("Issued At claim (iat) must be an integer."))?;
            if iat as f64 > now + rules.leeway {
                return Err(JwtError::invalid("The token is not yet valid (iat)"));
            }
        }
        if let Some(nbf) = self.known.value("nbf") {
            let nbf = integer(nbf)
                .ok_or_else(|| JwtError::invalid("Not Before claim (nbf) must be an integer."))?;
            if nbf as f64 > now + rules.leeway {
                return Err(JwtError::invalid("The token is not yet valid (nbf)"));
            }
        }
        let mut expired = false;
        if let Some(exp) = self.known.value("exp") {
            let exp = integer(exp).ok_or_else(|| {
                JwtError::invalid("Expiration Time claim (exp) must be an integer.")
            })?;
            expired = exp as f64 <= now - rules.leeway;
        }
        check_issuer(self.known.value("iss"), rules.issuer.as_deref())?;
        check_audience(self.known.value("aud"), rules.audience.as_deref())?;
        if rules.verify_sub && self.known.value("sub").is_some_and(|s| !s.is_string()) {
            return Err(JwtError::invalid("Subject must be a string"));
        }
        if self.known.value("jti").is_some_and(|j| !j.is_string()) {
            return Err(JwtError::invalid("JWT ID must be a string"));
        }
        if !self.has_identity {
            return Err(JwtError::invalid(format!(
                "Missing claim: {}",
                rules.identity_claim
            )));
        }
        Ok(expired)
    }
}

/// Python's `int(x)` on a claim: numbers (floats truncate), booleans, integer strings.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn check_issuer(iss: Option<&Value>, issuers: Option<&[String]>) -> Result<(), JwtError> {
    let Some(issuers) = issuers else {
        return Ok(());
    };
    let iss = iss.ok_or_else(|| JwtError::invalid("Token is missing the \"iss\" claim"))?;
    let iss = iss
        .as_str()
        .ok_or_else(|| JwtError::invalid("Payload Issuer (iss) must be a string"))?;
    if issuers.iter().any(|x| x == iss) {
        Ok(())
    } else {
        Err(JwtError::invalid("Invalid issuer"))
    }
}

fn check_audience(aud: Option<&Value>, expected: Option<&[String]>) -> Result<(), JwtError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let missing = || JwtError::invalid("Token is missing the \"aud\" claim");
    let aud = aud.ok_or_else(missing)?;
    let bad_format = || JwtError::invalid("Invalid claim format in token");
    let claimed: Vec<&str> = match aud {
        Value::String(s) if s.is_empty() => return Err(missing()),
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) if items.is_empty() => return Err(missing()),
        Value::Array(items) => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(bad_format)?,
        Value::Null | Value::Bool(false) => return Err(missing()),
        // PyJWT's `not payload["aud"]`: a zero and an empty object are missing too.
        Value::Number(n) if n.as_f64() == Some(0.0) => return Err(missing()),
        Value::Object(map) if map.is_empty() => return Err(missing()),
        _ => return Err(bad_format()),
    };
    if expected.iter().any(|e| claimed.contains(&e.as_str())) {
        Ok(())
    } else {
        Err(JwtError::invalid("Audience doesn't match"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules() -> ClaimRules {
        ClaimRules {
            algorithms: vec![Algorithm::HS256],
            leeway: 0.0,
            audience: None,
            issuer: None,
            verify_sub: true,
            identity_claim: "sub".into(),
        }
    }

    /// An unsigned token of `payload`, split and read as a decode would.
    #[allow(clippy::needless_pass_by_value)]
    fn obj(payload: Value) -> Unverified<'static> {
        let text = serde_json::to_vec(&payload).expect("json");
        let (payload, has_identity) = Payload::parse(text, "sub").expect("an object");
        Unverified {
            header: JsonObject::new(),
            payload,
            has_identity,
            signing_input: "",
            signature: "",
            tag: None,
        }
    }

    fn check(payload: Value, rules: &ClaimRules) -> Result<DecodedToken, JwtError> {
        check_claims(obj(payload), rules, DecodeRequest::default())
    }

    fn message(r: Result<DecodedToken, JwtError>) -> String {
        r.map(|_| "ok".to_owned()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn segments_and_padding_errors_use_pyjwt_messages() {
        let msg = |t: &str| {
            parse(t, None, "sub")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(msg("xxx"), "Not enough segments");
        assert_eq!(msg("a.b"), "Not enough segments");
        assert_eq!(msg("!!.e30.c2ln"), "Invalid header padding");
        assert_eq!(msg("e30.!!.c2ln"), "Invalid payload padding");
        assert_eq!(msg("e30.e30.!!"), "Invalid crypto padding");
        assert_eq!(
            msg("W10.e30.c2ln"),
            "Invalid header string: must be a json object"
        );
        assert_eq!(
            msg("e30.W10.c2ln"),
            "Invalid payload string: must be a json object"
        );
    }

    #[test]
    fn a_known_header_is_taken_as_is_and_any_other_is_parsed() {
        for (alg, kid) in [(Algorithm::HS256, None), (Algorithm::HS512, Some("k1"))] {
            let known = KnownHeader::new(alg, kid).expect("header");
            let payload = B64.encode(br#"{"sub":"a"}"#);
            let token = format!("{}.{payload}.c2ln", known.segment);
            let shortcut = parse(&token, Some(&known), "sub").expect("parses").header;
            let parsed = parse(&token, None, "sub").expect("parses").header;
            assert_eq!(shortcut, parsed);
            assert_eq!(parsed["alg"], format!("{alg:?}"));
            assert_eq!(parsed.get("kid").and_then(Value::as_str), kid);
            // Another header, even one that starts the same, is parsed.
            let other = B64.encode(format!(r#"{{"alg":"{alg:?}","typ":"JWT","x":1}}"#));
            let token = format!("{other}.{payload}.c2ln");
            let header = parse(&token, Some(&known), "sub").expect("parses").header;
            assert_eq!(header["x"], 1);
        }
    }

    #[test]
    fn alg_none_is_not_allowed() {
        let t = format!(
            "{}.{}.",
            B64.encode(br#"{"alg":"none"}"#),
            B64.encode(br#"{"sub":"a"}"#)
        );
        let parsed = parse(&t, None, "sub").expect("parses");
        let err = parsed.algorithm(&[Algorithm::HS256]).expect_err("refused");
        assert_eq!(err.to_string(), "The specified alg value is not allowed");
    }

    #[test]
    fn claim_checks_follow_pyjwt_order_and_messages() {
        let r = rules();
        assert_eq!(
            message(check(json!({"sub": "a", "iat": "x"}), &r)),
            "Issued At claim (iat) must be an integer."
        );
        assert_eq!(
            message(check(json!({"sub": "a", "nbf": 9e12}), &r)),
            "The token is not yet valid (nbf)"
        );
        assert_eq!(
            message(check(json!({"sub": "a", "iat": 9e12 as i64}), &r)),
            "The token is not yet valid (iat)"
        );
        assert_eq!(
            message(check(json!({"sub": "a", "exp": []}), &r)),
            "Expiration Time claim (exp) must be an integer."
        );
        assert_eq!(
            message(check(json!({"sub": 1}), &r)),
            "Subject must be a string"
        );
        assert_eq!(
            message(check(json!({"sub": "a", "jti": 5}), &r)),
            "JWT ID must be a string"
        );
        assert_eq!(
            message(check(json!({"foo": "a"}), &r)),
            "Missing claim: sub"
        );
        assert_eq!(
            message(check(json!({"sub": "a", "exp": 1}), &r)),
            "Token has expired"
        );
    }

    #[test]
    fn an_expired_token_reports_its_other_faults_first() {
        let r = ClaimRules {
            issuer: Some(vec!["me".into()]),
            ..rules()
        };
        assert_eq!(
            message(check(json!({"sub": "a", "exp": 1, "iss": "you"}), &r)),
            "Invalid issuer"
        );
        let err = check_claims(
            obj(json!({"sub": "a", "exp": 1, "csrf": "x"})),
            &rules(),
            DecodeRequest {
                csrf: Some("y"),
                allow_expired: false,
            },
        );
        assert_eq!(message(err), "CSRF double submit tokens do not match");
    }

    #[test]
    fn audience_and_issuer_matrices() {
        let r = ClaimRules {
            audience: Some(vec!["a".into(), "b".into()]),
            ..rules()
        };
        assert_eq!(
            message(check(json!({"sub": "s"}), &r)),
            "Token is missing the \"aud\" claim"
        );
        assert_eq!(
            message(check(json!({"sub": "s", "aud": ""}), &r)),
            "Token is missing the \"aud\" claim"
        );
        assert_eq!(
            message(check(json!({"sub": "s", "aud": []}), &r)),
            "Token is missing the \"aud\" claim"
        );
        for falsy in [json!(0), json!({}), json!(null), json!(false)] {
            assert_eq!(
                message(check(json!({"sub": "s", "aud": falsy}), &r)),
                "Token is missing the \"aud\" claim"
            );
        }
        assert_eq!(
            message(check(json!({"sub": "s", "aud": {"a": 1}}), &r)),
            "Invalid claim format in token"
        );
        assert_eq!(
            message(check(json!({"sub": "s", "aud": "c"}), &r)),
            "Audience doesn't match"
        );
        assert_eq!(
            message(check(json!({"sub": "s", "aud": [1]}), &r)),
            "Invalid claim format in token"
        );
        assert_eq!(
            message(check(json!({"sub": "s", "aud": ["c", "b"]}), &r)),
            "ok"
        );
        let r = ClaimRules {
            issuer: Some(vec!["i".into()]),
            ..rules()
        };
        assert_eq!(
            message(check(json!({"sub": "s"}), &r)),
            "Token is missing the \"iss\" claim"
        );
        assert_eq!(message(check(json!({"sub": "s", "iss": "i"}), &r)), "ok");
        for not_a_string in [json!(["i"]), json!(null), json!(1)] {
            assert_eq!(
                message(check(json!({"sub": "s", "iss": not_a_string}), &r)),
                "Payload Issuer (iss) must be a string"
            );
        }
    }

    #[test]
    fn defaults_are_filled_and_csrf_claim_is_required_when_a_value_is_sent() {
        let token = check(json!({"sub": "s"}), &rules()).expect("valid");
        assert_eq!(token.payload["type"], "access");
        assert_eq!(token.payload["fresh"], false);
        assert_eq!(token.payload["jti"], Value::Null);
        let err = check_claims(
            obj(json!({"sub": "s"})),
            &rules(),
            DecodeRequest {
                csrf: Some("v"),
                allow_expired: false,
            },
        );
        assert_eq!(message(err), "Missing claim: csrf");
    }

    #[test]
    fn leeway_extends_exp_and_allow_expired_accepts() {
        let exp = now() as i64 - 5;
        let r = ClaimRules {
            leeway: 10.0,
            ..rules()
        };
        assert_eq!(message(check(json!({"sub": "s", "exp": exp}), &r)), "ok");
        let ok = check_claims(
            obj(json!({"sub": "s", "exp": exp})),
            &rules(),
            DecodeRequest {
                csrf: None,
                allow_expired: true,
            },
        );
        assert!(ok.is_ok());
    }
}

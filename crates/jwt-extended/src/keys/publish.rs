//! Publishing the public keys as a JWKS (RFC 7517): each verification key as a JWK, never a
//! secret.

use base64::Engine;
use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
        EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
        PublicKeyUse, RSAKeyParameters, RSAKeyType,
    },
};

use super::Keys;
use crate::base64url::B64;

impl Keys {
    /// The public keys as a set: the signing key first, then the others by `kid`. HS* secrets
    /// and the keys of a remote set are never included.
    pub(crate) fn jwks(&self) -> JwkSet {
        let mut out = Vec::new();
        if self.signing_kid.is_none()
            && let Some(key) = &self.verifying
            && let Some(jwk) = public_jwk(None, self.algorithm, key)
        {
            out.push(jwk);
        }
        let mut by_kid: Vec<_> = self.by_kid.iter().collect();
        by_kid.sort_by_key(|(kid, _)| (Some(*kid) != self.signing_kid.as_ref(), kid.as_str()));
        out.extend(
            by_kid
                .into_iter()
                .filter_map(|(kid, (alg, key))| public_jwk(Some(kid), *alg, key)),
        );
        JwkSet { keys: out }
    }
}

fn key_algorithm(alg: Algorithm) -> KeyAlgorithm {
    match alg {
        Algorithm::HS256 => KeyAlgorithm::HS256,
        Algorithm::HS384 => KeyAlgorithm::HS384,
        Algorithm::HS512 => KeyAlgorithm::HS512,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
    }
}

/// The public JWK of a verification key, or `None` for a secret (HS*) or a key whose public
/// components cannot be read (a compressed EC point, a key of another family than `alg`).
pub(crate) fn public_jwk(kid: Option<&str>, alg: Algorithm, key: &DecodingKey) -> Option<Jwk> {
    if key.family() != alg.family() {
        return None;
    }
    let algorithm = match (alg.family(), key.kind()) {
        (AlgorithmFamily::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
            // What jsonwebtoken keeps of an RSA PEM: the PKCS#1 `RSAPublicKey`.
            let public = pkcs1::RsaPublicKey::try_from(der.as_slice()).ok()?;
            rsa_parameters(public.modulus.as_bytes(), public.public_exponent.as_bytes())
        }
        (AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            rsa_parameters(strip_zeros(n), strip_zeros(e))
        }
        (AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point)) => {
            // An uncompressed point, 0x04 || x || y.
            let (curve, size) = match alg {
                Algorithm::ES256 => (EllipticCurve::P256, 32),
                Algorithm::ES384 => (EllipticCurve::P384, 48),
                _ => return None,
            };
            let (&tag, xy) = point.split_first()?;
            if tag != 4 || xy.len() != 2 * size {
                return None;
            }
            let (x, y) = xy.split_at(size);
            AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve,
                x: B64.encode(x),
                y: B64.encode(y),
            })
        }
        (AlgorithmFamily::Ed, DecodingKeyKind::SecretOrDer(x)) if x.len() == 32 => {
            AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: B64.encode(x),
            })
        }
        _ => return None,
    };
    Some(Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm(alg)),
            key_id: kid.map(str::to_owned),
            ..CommonParameters::default()
        },
        algorithm,
    })
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn rsa_parameters(n: &[u8], e: &[u8]) -> AlgorithmParameters {
    AlgorithmParameters::RSA(RSAKeyParameters {
        key_type: RSAKeyType::RSA,
        n: B64.encode(n),
        e: B64.encode(e),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn json(jwk: Option<Jwk>) -> Value {
        serde_json::to_value(jwk.expect("a public JWK")).expect("serializes")
    }

    /// A PKCS#1 `RSAPublicKey` DER by hand: SEQUENCE { INTEGER n, INTEGER e }.
    fn pkcs1_der(n: &[u8], e: &[u8]) -> Vec<u8> {
        let mut body = vec![0x02, n.len() as u8 + 1, 0x00];
        body.extend_from_slice(n);
        body.extend_from_slice(&[0x02, e.len() as u8]);
        body.extend_from_slice(e);
        let mut der = vec![0x30, body.len() as u8];
        der.extend(body);
        der
    }

    #[test]
    fn rsa_keys_publish_n_and_e_from_der_or_components() {
        let n: Vec<u8> = (0..64u8).map(|i| i | 0x80).collect();
        let der = DecodingKey::from_rsa_der(&pkcs1_der(&n, &[1, 0, 1]));
        let jwk = json(public_jwk(Some("r"), Algorithm::PS256, &der));
        assert_eq!(
            jwk,
            json!({"use": "sig", "alg": "PS256", "kid": "r", "kty": "RSA", "n": B64.encode(&n), "e": "AQAB"})
        );
        let mut padded = vec![0, 0];
        padded.extend_from_slice(&n);
        let components = DecodingKey::from_rsa_raw_components(&padded, &[1, 0, 1]);
        assert_eq!(
            json(public_jwk(Some("r"), Algorithm::PS256, &components)),
            jwk
        );
        assert!(public_jwk(None, Algorithm::RS256, &DecodingKey::from_rsa_der(b"junk")).is_none());
    }

    #[test]
    fn ec_and_ed_keys_publish_their_points() {
        let mut point = vec![4];
        point.extend(1..=64u8);
        let jwk = json(public_jwk(
            Some("e"),
            Algorithm::ES256,
            &DecodingKey::from_ec_der(&point),
        ));
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["x"], B64.encode(&point[1..33]));
        assert_eq!(jwk["y"], B64.encode(&point[33..]));
        // The wrong size for the curve, or a compressed point: not publishable.
        assert!(public_jwk(None, Algorithm::ES384, &DecodingKey::from_ec_der(&point)).is_none());
        assert!(
            public_jwk(
                None,
                Algorithm::ES256,
                &DecodingKey::from_ec_der(&point[..33])
            )
            .is_none()
        );
        let ed = json(public_jwk(
            None,
            Algorithm::EdDSA,
            &DecodingKey::from_ed_der(&[7; 32]),
        ));
        assert_eq!(
            ed,
            json!({"use": "sig", "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519", "x": B64.encode([7; 32])})
        );
    }

    #[test]
    fn secrets_and_keys_of_another_family_are_never_published() {
        let secret = DecodingKey::from_secret(b"secret");
        assert!(public_jwk(Some("h"), Algorithm::HS256, &secret).is_none());
        let ed = DecodingKey::from_ed_der(&[7; 32]);
        assert!(public_jwk(Some("x"), Algorithm::RS256, &ed).is_none());
    }
}

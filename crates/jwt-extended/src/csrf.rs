//! The CSRF double-submit value: a random UUID stored in the token's `csrf` claim and in a
//! JavaScript-readable cookie; the SPA echoes it in `X-CSRF-TOKEN`, and the two must match.

use subtle::ConstantTimeEq;

/// A new double-submit value (Flask uses `str(uuid.uuid4())`, so existing SPAs see the same shape).
pub(crate) fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Compares the claim with the value the client sent, in constant time, so an attacker cannot
/// learn the value byte by byte from response timing.
pub(crate) fn matches(claim: &str, sent: &str) -> bool {
    claim.as_bytes().ct_eq(sent.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_uuids_and_compare_exactly() {
        let a = new_token();
        assert_eq!(a.len(), 36);
        assert!(matches(&a, &a.clone()));
        assert!(!matches(&a, &new_token()));
        assert!(!matches(&a, &a[..35]));
        assert!(!matches(&a, ""));
    }
}

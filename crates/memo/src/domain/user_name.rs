//! User names, and the key that decides when two of them are the same name.
//!
//! `Café`, `café` written with a combining accent, ` CAFÉ ` and `ｃａｆé`
//! (full-width) must be one account, or a look-alike can pose as another
//! user. A name is kept as typed (trimmed) for display; its key — NFKC,
//! then Unicode full case folding, then NFKC again (case folding can undo
//! a composition) — is what is unique and what login looks up. Control,
//! format (which includes the bidi overrides such as U+202E and the
//! zero-width characters), separator, private-use and unassigned code points
//! are refused: they make two names that look the same differ.

use icu_casemap::CaseMapper;
use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::{
    CodePointMapData,
    props::{GeneralCategory, GeneralCategoryGroup},
};

use super::refuse_nul;

/// Longest user name, in characters.
pub const USER_NAME_MAX_CHARS: usize = 64;

/// A user name: trimmed, 1 to 64 characters, no invisible or
/// direction-changing characters; with its [`key`](Self::key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserName {
    name: String,
    key: String,
}

impl UserName {
    /// # Errors
    /// The 422 message when the name breaks a rule.
    pub fn parse(raw: String) -> Result<Self, String> {
        refuse_nul("user_name", &raw)?;
        let name = if raw.trim().len() == raw.len() {
            raw
        } else {
            raw.trim().to_owned()
        };
        if name.is_empty() {
            return Err("user_name must not be empty".into());
        }
        if name.chars().count() > USER_NAME_MAX_CHARS {
            return Err(format!(
                "user_name must be at most {USER_NAME_MAX_CHARS} characters"
            ));
        }
        if name.chars().any(is_refused) {
            return Err(
                "user_name must not contain control, format, bidi or unassigned characters".into(),
            );
        }
        Ok(Self {
            key: user_name_key(&name),
            name,
        })
    }

    /// The name as registered (trimmed).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The key that is unique among users: see [`user_name_key`].
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The comparison key of any name, valid or not (login looks names up by
/// it without refusing them): trimmed, NFKC, case-folded, NFKC.
#[must_use]
pub fn user_name_key(raw: &str) -> String {
    let nfkc = ComposingNormalizerBorrowed::new_nfkc();
    let composed = nfkc.normalize(raw.trim());
    let folded = CaseMapper::new().fold_string(&composed);
    nfkc.normalize(&folded).into_owned()
}

/// Whether `c` may not appear in a name: Unicode's "Other" categories
/// (control, format, surrogate, private use, unassigned) and the line and
/// paragraph separators.
fn is_refused(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    GeneralCategoryGroup::Other.contains(category)
        || GeneralCategoryGroup::LineSeparator.contains(category)
        || GeneralCategoryGroup::ParagraphSeparator.contains(category)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        UserName::parse(raw.into())
            .expect("a valid name")
            .key()
            .to_owned()
    }

    #[test]
    fn look_alike_spellings_share_one_key() {
        let nfc = "Caf\u{e9}";
        let nfd = "Cafe\u{301}";
        assert_eq!(key(nfc), key(nfd));
        assert_eq!(key(nfc), key(" CAF\u{c9} "));
        assert_eq!(key("case"), key("Case"));
        assert_eq!(
            key("\u{ff43}\u{ff41}\u{ff53}\u{ff45}"),
            key("case"),
            "full-width"
        );
        assert_eq!(key("STRASSE"), key("stra\u{df}e"), "full case folding");
        assert_ne!(key("alice"), key("alicé"));
    }

    #[test]
    fn names_are_trimmed_and_keep_their_spelling() {
        let name = UserName::parse("  Café \t".into()).expect("valid");
        assert_eq!(name.as_str(), "Café");
        assert_eq!(name.key(), "café");
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_refused() {
        for bad in [
            "evil\u{202e}gnp.exe",
            "a\u{200b}b",
            "a\u{200d}b",
            "a\u{2066}b",
            "a\nb",
            "a\u{0}b",
            "a\u{2028}b",
            "a\u{e000}b",
            "\u{feff}bom",
        ] {
            assert!(UserName::parse(bad.into()).is_err(), "{bad:?}");
        }
        for good in ["山田太郎", "José", "o'brien", "a b", "Ελένη"] {
            assert!(UserName::parse(good.into()).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn blank_and_long_names_are_refused_counting_characters() {
        assert!(UserName::parse(String::new()).is_err());
        assert!(UserName::parse("   ".into()).is_err());
        assert!(UserName::parse("a".repeat(65)).is_err());
        assert!(UserName::parse("é".repeat(64)).is_ok());
        assert!(
            UserName::parse(format!("  {}  ", "a".repeat(64))).is_ok(),
            "trimmed first"
        );
    }
}

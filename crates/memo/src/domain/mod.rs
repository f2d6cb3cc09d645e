//! Parsed input values: each type can only hold a value that passed its
//! rules, so the handlers and the database layer never re-check them. Each
//! `parse` error is the client-facing message of a 422. Every limit counts
//! characters, not bytes, so it holds in any script.

mod user_name;

use std::fmt;

pub use self::user_name::{USER_NAME_MAX_CHARS, UserName, user_name_key};

/// Shortest password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest password, in characters: argon2 hashes any length, but a cap keeps
/// a single request from buying unbounded hashing work.
pub const PASSWORD_MAX_CHARS: usize = 1024;
/// Longest memo title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest memo content, in characters.
pub const CONTENT_MAX_CHARS: usize = 100_000;

/// Refuses U+0000: PostgreSQL cannot store it in text, and no person types
/// it, so every backend answers the same 422.
///
/// # Errors
/// The 422 message naming `field`.
pub fn refuse_nul(field: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("{field} must not contain U+0000 (NUL)"));
    }
    Ok(())
}

/// A new password: 8 to 1024 characters. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// # Errors
    /// The 422 message when the password breaks a rule.
    pub fn parse(raw: String) -> Result<Self, String> {
        refuse_nul("password", &raw)?;
        let chars = raw.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            return Err(format!(
                "password must be at least {PASSWORD_MIN_CHARS} characters"
            ));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(format!(
                "password must be at most {PASSWORD_MAX_CHARS} characters"
            ));
        }
        Ok(Self(raw))
    }

    /// The password, for hashing only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A memo title: 1 to 200 characters, not blank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoTitle(String);

impl MemoTitle {
    /// # Errors
    /// The 422 message when the title breaks a rule.
    pub fn parse(raw: String) -> Result<Self, String> {
        refuse_nul("title", &raw)?;
        if raw.trim().is_empty() {
            return Err("title must not be empty".into());
        }
        if raw.chars().count() > TITLE_MAX_CHARS {
            return Err(format!(
                "title must be at most {TITLE_MAX_CHARS} characters"
            ));
        }
        Ok(Self(raw))
    }

    /// The title.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A memo's content: up to 100 000 characters (may be empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoContent(String);

impl MemoContent {
    /// # Errors
    /// The 422 message when the content is too long.
    pub fn parse(raw: String) -> Result<Self, String> {
        refuse_nul("content", &raw)?;
        if raw.chars().count() > CONTENT_MAX_CHARS {
            return Err(format!(
                "content must be at most {CONTENT_MAX_CHARS} characters"
            ));
        }
        Ok(Self(raw))
    }

    /// The content.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_needs_eight_characters_and_hides_itself() {
        assert!(Password::parse("1234567".into()).is_err());
        let password = Password::parse("12345678".into()).expect("eight characters are enough");
        assert!(!format!("{password:?}").contains("1234"));
    }

    #[test]
    fn title_and_content_limits() {
        assert!(MemoTitle::parse(" ".into()).is_err());
        assert!(MemoTitle::parse("t".repeat(200)).is_ok());
        assert!(MemoTitle::parse("t".repeat(201)).is_err());
        assert!(MemoContent::parse(String::new()).is_ok());
        assert!(MemoContent::parse("c".repeat(100_001)).is_err());
        assert!(
            MemoContent::parse("\u{3042}".repeat(100_000)).is_ok(),
            "100,000 Japanese characters (300 KB of UTF-8) are within the limit"
        );
    }

    #[test]
    fn nul_is_refused_in_every_text_field() {
        assert!(MemoTitle::parse("a\0b".into()).is_err());
        assert!(MemoContent::parse("a\0b".into()).is_err());
        assert!(Password::parse("12345678\0".into()).is_err());
        assert!(UserName::parse("a\0b".into()).is_err());
    }
}

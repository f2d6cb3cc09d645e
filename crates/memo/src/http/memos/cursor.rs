//! The list's `cursor`: an opaque, signed page position.
//!
//! A cursor holds the last memo's id and `updated_at`, and an HMAC-SHA256 tag
//! over that position **and the list it belongs to**: the user, the archived
//! flag, the order and the search text. A cursor whose tag does not match the
//! request it comes with (edited, made up, another user's, or from another
//! list) is refused with 400, never trusted. The key is derived from the JWT
//! signing key, so that every instance of a deployment accepts the others'
//! cursors and a new signing key retires the old cursors with the old tokens.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::db::{Order, Position};

/// The cursor format's version, first byte of every cursor.
const VERSION: u8 = 1;
/// Bytes of the tag kept (128 bits).
const TAG_BYTES: usize = 16;
/// Version, id, `updated_at` in microseconds.
const POSITION_BYTES: usize = 1 + 8 + 8;

/// The list a cursor belongs to: a cursor is valid for this list only.
#[derive(Clone, Copy, Debug)]
pub struct ListIdentity<'a> {
    /// The caller.
    pub user_id: i64,
    /// Archived memos or the others.
    pub archived: bool,
    /// The order.
    pub order: Order,
    /// The search text, if any.
    pub search: Option<&'a str>,
}

/// The key that signs cursors.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey([redacted])")
    }
}

impl CursorKey {
    /// Derives the key from the JWT signing key with jwt-extended's
    /// [`JwtConfig::derive_secret`](jwt_extended::JwtConfig::derive_secret), so
    /// that the cursor key reveals nothing about the JWT key. `None` when the
    /// config cannot sign (memo always can).
    #[must_use]
    pub fn derive(jwt: &jwt_extended::JwtConfig) -> Option<Self> {
        jwt.derive_secret("memo list cursor v1").map(Self)
    }

    /// The cursor for the page after `position` in `list`.
    #[must_use]
    pub fn encode(&self, list: &ListIdentity<'_>, position: Position) -> String {
        let mut bytes = Vec::with_capacity(POSITION_BYTES + TAG_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(&position.id.to_be_bytes());
        bytes.extend_from_slice(&micros(position.updated_at).to_be_bytes());
        let tag = self.tag(list, &bytes);
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position in `cursor`, if it was made by [`Self::encode`] for this
    /// very list; `None` for anything else.
    #[must_use]
    pub fn decode(&self, list: &ListIdentity<'_>, cursor: &str) -> Option<Position> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if bytes.len() != POSITION_BYTES + TAG_BYTES || bytes[0] != VERSION {
            return None;
        }
        let (position, tag) = bytes.split_at(POSITION_BYTES);
        self.mac(list, position).verify_truncated_left(tag).ok()?;
        let id = i64::from_be_bytes(position[1..9].try_into().ok()?);
        let micros = i64::from_be_bytes(position[9..17].try_into().ok()?);
        let updated_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()?;
        Some(Position { id, updated_at })
    }

    fn tag(&self, list: &ListIdentity<'_>, position: &[u8]) -> [u8; 32] {
        self.mac(list, position).finalize().into_bytes().into()
    }

    /// The MAC over the position and the list, each field length-prefixed
    /// or fixed-size so that no two lists share an input.
    fn mac(&self, list: &ListIdentity<'_>, position: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(position);
        mac.update(&list.user_id.to_be_bytes());
        mac.update(&[u8::from(list.archived)]);
        mac.update(list.order.as_str().as_bytes());
        mac.update(&[0]);
        match list.search {
            Some(search) => {
                mac.update(&[1]);
                mac.update(&(search.len() as u64).to_be_bytes());
                mac.update(search.as_bytes());
            }
            None => mac.update(&[0]),
        }
        mac
    }
}

fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> CursorKey {
        CursorKey::derive(&jwt_extended::JwtConfig::default().with_secret_key(secret))
            .expect("an HS256 secret signs")
    }

    const LIST: ListIdentity<'static> = ListIdentity {
        user_id: 7,
        archived: false,
        order: Order::UpdatedDesc,
        search: Some("会議"),
    };

    fn position() -> Position {
        Position {
            id: 42,
            updated_at: time::macros::datetime!(2026-11-26 08:37:01.123456 UTC),
        }
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_list_only() {
        let key = key("secret");
        let cursor = key.encode(&LIST, position());
        assert_eq!(key.decode(&LIST, &cursor), Some(position()));
        let others = [
            ListIdentity { user_id: 8, ..LIST },
            ListIdentity {
                archived: true,
                ..LIST
            },
            ListIdentity {
                order: Order::Id,
                ..LIST
            },
            ListIdentity {
                search: Some("会"),
                ..LIST
            },
            ListIdentity {
                search: None,
                ..LIST
            },
        ];
        for other in others {
            assert_eq!(key.decode(&other, &cursor), None, "{other:?}");
        }
        assert_eq!(self::key("another secret").decode(&LIST, &cursor), None);
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let key = key("secret");
        let cursor = key.encode(&LIST, position());
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("base64");
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(
                key.decode(&LIST, &URL_SAFE_NO_PAD.encode(&bytes)),
                None,
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        for bad in ["", "x", "not base64!", &cursor[..cursor.len() - 2]] {
            assert_eq!(key.decode(&LIST, bad), None, "{bad:?}");
        }
    }
}

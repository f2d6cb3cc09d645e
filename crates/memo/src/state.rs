//! The state shared by every handler. Each part is cheap to clone and is
//! reached through `FromRef`, so a handler (or jwt-extended's extractors)
//! asks only for what it uses.

use axum::extract::FromRef;
use jwt_extended::JwtManager;

use crate::{db::Db, http::CursorKey, password::Passwords};

/// The app's state.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Issues and checks tokens; the extractors find it here.
    pub jwt: JwtManager,
    /// Hashes and verifies passwords.
    pub passwords: Passwords,
    /// Signs and checks the memo list's cursors.
    pub cursors: CursorKey,
}

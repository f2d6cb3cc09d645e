//! Logins for the session-store tests: user 7's, presenting `r0`, every token ten minutes from
//! expiring.

use std::time::{SystemTime, UNIX_EPOCH};

use jwt_extended::{RefreshId, SessionInfo};

/// Now, in unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A refresh token `jti` expiring in ten minutes.
pub fn refresh(jti: &str) -> RefreshId {
    RefreshId {
        jti: jti.into(),
        exp: Some(now() + 600),
    }
}

/// A login of user 7 as `family`, with its first refresh token, `r0`.
pub fn login(family: &str) -> (SessionInfo, RefreshId) {
    let session = SessionInfo {
        id: family.into(),
        user: "7".into(),
        created_at: now(),
        last_used_at: now(),
        user_agent: None,
        expires_at: Some(now() + 600),
    };
    (session, refresh("r0"))
}

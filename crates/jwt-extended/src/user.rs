//! Flask's `@jwt.user_lookup_loader`, registered once on the manager: [`UserLoader`] finds the
//! app's user for a verified token, and every guarded extractor runs it (after the blocklist and
//! the claims verification, as Flask does), so a deleted user's tokens stop working at once.
//!
//! The user travels with the request type-erased ([`LoadedUser`]); handlers read it back typed
//! through [`CurrentUser`](crate::CurrentUser) or [`Claims::user`](crate::Claims::user).

use std::{fmt, future::Future};

use serde_json::Value;

use crate::{
    claims::{DecodedToken, JsonObject},
    loaded_user::LoadedUser,
    stores::erased::BoxFuture,
};

/// Loads the user a verified token stands for (Flask's `user_lookup_loader`), registered with
/// [`JwtManagerBuilder::user_loader`](crate::JwtManagerBuilder::user_loader).
///
/// `Ok(None)` refuses the token with 401 `Error loading the user <identity>`; `Err` refuses it
/// with 503 `User lookup unavailable` (the detail is logged), as a failing revocation store does.
///
/// ```
/// use jwt_extended::{DecodedToken, JsonObject, UserLoader};
/// use serde_json::Value;
///
/// #[derive(Clone)]
/// struct User {
///     name: String,
///     admin: bool,
/// }
///
/// struct Users;
///
/// impl UserLoader for Users {
///     type User = User;
///     type Error = std::convert::Infallible;
///
///     async fn load_user(&self, identity: &Value, _token: &DecodedToken) -> Result<Option<User>, Self::Error> {
///         Ok((identity == "alice").then(|| User { name: "alice".into(), admin: true }))
///     }
///
///     // The claims new tokens of this user carry (at each refresh): read from the user, so that
///     // a change of role shows after the next refresh.
///     fn claims_for(&self, user: &User) -> Option<JsonObject> {
///         let mut claims = JsonObject::new();
///         claims.insert("admin".into(), user.admin.into());
///         Some(claims)
///     }
/// }
/// ```
pub trait UserLoader: Send + Sync + 'static {
    /// The app's user, handed to handlers.
    type User: Clone + Send + Sync + 'static;
    /// The loader's failure (a database error).
    type Error: fmt::Display + Send;

    /// Finds the user of a verified token: `identity` is its identity claim (`sub` unless
    /// `JWT_IDENTITY_CLAIM` says otherwise), `token` its header and payload.
    fn load_user(
        &self,
        identity: &Value,
        token: &DecodedToken,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// The app claims of new tokens for `user` when a refresh token is rotated
    /// ([`JwtManager::rotate`](crate::JwtManager::rotate)). `None` (the default) carries the
    /// presented token's own claims over.
    fn claims_for(&self, user: &Self::User) -> Option<JsonObject> {
        let _ = user;
        None
    }
}

/// [`UserLoader`], object safe, as the manager keeps it.
pub(crate) trait DynUserLoader: Send + Sync {
    fn load<'a>(
        &'a self,
        identity: &'a Value,
        token: &'a DecodedToken,
    ) -> BoxFuture<'a, Result<Option<LoadedUser>, String>>;

    fn claims_for(&self, user: &LoadedUser) -> Option<JsonObject>;
}

impl<L: UserLoader> DynUserLoader for L {
    fn load<'a>(
        &'a self,
        identity: &'a Value,
        token: &'a DecodedToken,
    ) -> BoxFuture<'a, Result<Option<LoadedUser>, String>> {
        Box::pin(async move {
            let user = self
                .load_user(identity, token)
                .await
                .map_err(|e| e.to_string())?;
            Ok(user.map(LoadedUser::new))
        })
    }

    fn claims_for(&self, user: &LoadedUser) -> Option<JsonObject> {
        UserLoader::claims_for(self, user.get::<L::User>()?)
    }
}

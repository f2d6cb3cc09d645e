//! What a route requires of its token, as types: [`Requirement`] (all of Flask's
//! `@jwt_required(...)` options as a `const`) and [`Locations`] (`locations=[...]`), with the
//! ready-made markers.

use crate::{config::TokenLocation, verify::VerifyOptions};

/// A route's `@jwt_required(...)` options as a type, for [`JwtWith`](crate::JwtWith) and
/// [`Guarded`](crate::Guarded).
///
/// ```
/// use jwt_extended::{JwtWith, Requirement, VerifyOptions};
///
/// /// `@jwt_required(verify_type=False, skip_revocation_check=True)`, without the user lookup.
/// struct AnyTokenUnchecked;
/// impl Requirement for AnyTokenUnchecked {
///     const OPTIONS: VerifyOptions<'static> = VerifyOptions {
///         skip_type_check: true,
///         skip_revocation_check: true,
///         skip_user_lookup: true,
///         ..VerifyOptions::REQUIRED
///     };
/// }
///
/// async fn health(JwtWith(claims, ..): JwtWith<AnyTokenUnchecked>) {}
/// ```
pub trait Requirement: Send + Sync + 'static {
    /// The options (`optional` is ignored: use `Option<...>`).
    const OPTIONS: VerifyOptions<'static>;
}

/// The ready-made [`Requirement`]s.
pub mod require {
    use super::Requirement;
    use crate::verify::VerifyOptions;

    /// `@jwt_required()`: an access token.
    #[derive(Debug, Clone, Copy)]
    pub struct Access;

    impl Requirement for Access {
        const OPTIONS: VerifyOptions<'static> = VerifyOptions::REQUIRED;
    }

    /// `@jwt_required(fresh=True)`: a fresh access token.
    #[derive(Debug, Clone, Copy)]
    pub struct Fresh;

    impl Requirement for Fresh {
        const OPTIONS: VerifyOptions<'static> = VerifyOptions {
            fresh: true,
            ..VerifyOptions::REQUIRED
        };
    }

    /// `@jwt_required(refresh=True)`: a refresh token.
    #[derive(Debug, Clone, Copy)]
    pub struct Refresh;

    impl Requirement for Refresh {
        const OPTIONS: VerifyOptions<'static> = VerifyOptions {
            refresh: true,
            ..VerifyOptions::REQUIRED
        };
    }
}

/// A set of locations for [`JwtFrom`](crate::JwtFrom): `@jwt_required(locations=[...])`. Each is
/// also a [`Requirement`]: an access token from those locations.
pub trait Locations: Send + Sync + 'static {
    /// The locations, in order.
    const LOCATIONS: &'static [TokenLocation];
}

macro_rules! location_marker {
    ($(#[$doc:meta])* $name:ident, $($loc:ident),+) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl Locations for $name {
            const LOCATIONS: &'static [TokenLocation] = &[$(TokenLocation::$loc),+];
        }

        impl Requirement for $name {
            const OPTIONS: VerifyOptions<'static> = VerifyOptions {
                locations: Some(<$name as Locations>::LOCATIONS),
                ..VerifyOptions::REQUIRED
            };
        }
    };
}

location_marker!(/// Only the `Authorization` header.
    InHeaders, Headers);
location_marker!(/// Only the cookies.
    InCookies, Cookies);
location_marker!(/// Only the query string.
    InQueryString, QueryString);
location_marker!(/// Only the JSON body.
    InJson, Json);

//! A loaded user of any type ([`LoadedUser`]), as it travels from the verification to the
//! handler in the request's extensions and in [`Claims`](crate::Claims).

use std::{any::Any, fmt, sync::Arc};

/// A loaded user of any type, as it travels in the request's extensions.
#[derive(Clone)]
pub(crate) struct LoadedUser {
    value: Arc<dyn Any + Send + Sync>,
    type_name: &'static str,
}

impl LoadedUser {
    pub(crate) fn new<U: Send + Sync + 'static>(user: U) -> Self {
        Self {
            value: Arc::new(user),
            type_name: std::any::type_name::<U>(),
        }
    }

    /// The user, when it is a `U`.
    pub(crate) fn get<U: 'static>(&self) -> Option<&U> {
        self.value.downcast_ref()
    }

    /// The user's type, for the message of a mismatch.
    pub(crate) fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Debug for LoadedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LoadedUser").field(&self.type_name).finish()
    }
}

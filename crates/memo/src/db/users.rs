//! Users: accounts with an argon2id password hash.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, is_unique_violation, now, on_pool, on_writer};

/// A user as the API shows it (never with the hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, FromRow, ToSchema)]
pub struct User {
    /// The user's id; the tokens' `sub` is this id as a string.
    pub id: i64,
    /// The unique login name.
    pub user_name: String,
    /// The user's department, copied into the tokens' `department` claim.
    pub department: Option<String>,
    /// Whether the user may use manager-only routes (the tokens'
    /// `manager_role_attached` claim).
    pub manager_role_attached: bool,
}

/// A user with the password hash, for login only.
#[derive(Clone, FromRow)]
pub struct UserWithHash {
    /// The user.
    #[sqlx(flatten)]
    pub user: User,
    /// The PHC string of the argon2id hash.
    pub password_hash: String,
}

impl std::fmt::Debug for UserWithHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserWithHash")
            .field("user", &self.user)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

/// A user to create.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// An already validated name.
    pub user_name: &'a str,
    /// The PHC string of the password's hash.
    pub password_hash: &'a str,
    /// The department, if any.
    pub department: Option<&'a str>,
    /// Whether the user is a manager.
    pub manager_role_attached: bool,
}

const USER_COLUMNS: &str = "id, user_name, department, manager_role_attached";

impl Db {
    /// Creates a user. Returns `Ok(None)` when the name is already taken.
    ///
    /// # Errors
    /// Any other database error.
    pub async fn insert_user(&self, new: &NewUser<'_>) -> Result<Option<User>, sqlx::Error> {
        let sql = format!(
            "INSERT INTO users (user_name, password_hash, department, manager_role_attached, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
        );
        let result = on_writer!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(new.user_name)
            .bind(new.password_hash)
            .bind(new.department)
            .bind(new.manager_role_attached)
            .bind(now())
            .fetch_one(pool)
            .await);
        match result {
            Ok(user) => Ok(Some(user)),
            Err(err) if is_unique_violation(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Finds a user by exact name, with the hash, for login.
    ///
    /// # Errors
    /// A database error.
    pub async fn user_by_name(&self, user_name: &str) -> Result<Option<UserWithHash>, sqlx::Error> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE user_name = $1");
        on_pool!(self, pool => sqlx::query_as::<_, UserWithHash>(&sql)
            .bind(user_name)
            .fetch_optional(pool)
            .await)
    }

    /// Finds a user by id: jwt-extended's user loader runs this on every
    /// guarded request, so it is answered from a cache when it can be
    /// (`user_cache.rs`; every user write calls [`Db::user_changed`]).
    ///
    /// # Errors
    /// A database error.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        if let Some(user) = self.inner.users.get(id) {
            return Ok(Some(user));
        }
        let generation = self.inner.users.generation();
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let user = on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        if let Some(user) = &user {
            self.inner.users.insert(generation, user);
        }
        Ok(user)
    }

    /// Every user, by id (for the manager-only listing).
    ///
    /// # Errors
    /// A database error.
    pub async fn list_users(&self) -> Result<Vec<User>, sqlx::Error> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
        on_pool!(self, pool => sqlx::query_as::<_, User>(&sql).fetch_all(pool).await)
    }
}

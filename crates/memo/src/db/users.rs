//! Users: accounts with an argon2id password hash.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::{Db, is_unique_violation, now, on_pool, on_writer};
use crate::domain::user_name_key;

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

/// An account whose name's key another, older account already holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameCollision {
    /// The account left without a key.
    pub id: i64,
    /// Its name.
    pub user_name: String,
    /// The account holding the key (id, name), if it still exists.
    pub same_as: Option<(i64, String)>,
}

const USER_COLUMNS: &str = "id, user_name, department, manager_role_attached";

impl Db {
    /// Creates a user. Returns `Ok(None)` when the name, or one that differs
    /// from it only in case, width or Unicode normalization, is taken.
    ///
    /// # Errors
    /// Any other database error.
    pub async fn insert_user(&self, new: &NewUser<'_>) -> Result<Option<User>, sqlx::Error> {
        let sql = format!(
            "INSERT INTO users (user_name, user_name_key, password_hash, department, manager_role_attached, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
        );
        let key = user_name_key(new.user_name);
        let result = on_writer!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(new.user_name)
            .bind(&key)
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

    /// Finds a user by name in any spelling of it (by its key), with the
    /// hash, for login. An account left without a key (a collision reported
    /// by [`Db::fill_user_name_keys`]) is found by its exact name, which
    /// wins over the account that holds the key.
    ///
    /// # Errors
    /// A database error.
    pub async fn user_by_name(&self, user_name: &str) -> Result<Option<UserWithHash>, sqlx::Error> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users \
             WHERE user_name_key = $1 OR (user_name_key IS NULL AND user_name = $2) \
             ORDER BY CASE WHEN user_name = $2 THEN 0 ELSE 1 END LIMIT 1"
        );
        on_pool!(self, pool => sqlx::query_as::<_, UserWithHash>(&sql)
            .bind(user_name_key(user_name))
            .bind(user_name)
            .fetch_optional(pool)
            .await)
    }

    /// Gives every account without a name key (those created before
    /// migration 0004) its key. Two accounts whose names share a key are
    /// not merged: the older keeps the key, the other stays without one and
    /// is returned, so that start-up can report it.
    ///
    /// # Errors
    /// A database error.
    pub async fn fill_user_name_keys(&self) -> Result<Vec<NameCollision>, sqlx::Error> {
        let missing: Vec<(i64, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_name FROM users WHERE user_name_key IS NULL ORDER BY id"
        )
        .fetch_all(pool)
        .await)?;
        let mut collisions = Vec::new();
        for (id, user_name) in missing {
            let key = user_name_key(&user_name);
            let filled = on_writer!(self, pool => sqlx::query(
                "UPDATE users SET user_name_key = $1 WHERE id = $2"
            )
            .bind(&key)
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()));
            match filled {
                Ok(_) => {}
                Err(err) if is_unique_violation(&err) => {
                    let holder: Option<(i64, String)> = on_pool!(self, pool => sqlx::query_as(
                        "SELECT id, user_name FROM users WHERE user_name_key = $1"
                    )
                    .bind(&key)
                    .fetch_optional(pool)
                    .await)?;
                    collisions.push(NameCollision {
                        id,
                        user_name,
                        same_as: holder,
                    });
                }
                Err(err) => return Err(err),
            }
        }
        Ok(collisions)
    }

    /// Deletes a user; their memos go with them (`ON DELETE CASCADE`).
    /// `false` when there was no such user.
    ///
    /// # Errors
    /// A database error.
    pub async fn delete_user(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = on_writer!(self, pool => sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        self.user_changed(id).await;
        Ok(done > 0)
    }

    /// Replaces a user's password hash. `false` when there is no such user.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = on_writer!(self, pool => sqlx::query(
            "UPDATE users SET password_hash = $1 WHERE id = $2"
        )
        .bind(password_hash)
        .bind(id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        self.user_changed(id).await;
        Ok(done > 0)
    }

    /// A user's password hash (PHC string), to check their password again.
    ///
    /// # Errors
    /// A database error.
    pub async fn password_hash(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, pool => sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
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

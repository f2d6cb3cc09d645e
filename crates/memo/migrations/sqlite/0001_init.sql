-- The memo app's schema on SQLite. Timestamps are written by the application
-- (RFC 3339 text) so that both backends return identical values.
CREATE TABLE users (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name             TEXT    NOT NULL UNIQUE,
    password_hash         TEXT    NOT NULL,
    department            TEXT,
    manager_role_attached BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            TEXT    NOT NULL
);

CREATE TABLE memos (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    archived   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

-- Serves the only list query: one user's memos, archived or not, by id.
CREATE INDEX memos_user_archived_id ON memos (user_id, archived, id);

-- Revoked token ids, kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER -- unix seconds; NULL for a token without `exp`
);

CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

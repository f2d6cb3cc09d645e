-- Revocations moved to jwt-extended's session store (its jwt_revoked_tokens
-- table, or Redis); nothing reads or writes this table any more.
DROP INDEX IF EXISTS revoked_tokens_expires_at;
DROP TABLE IF EXISTS revoked_tokens;

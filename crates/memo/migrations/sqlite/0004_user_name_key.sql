-- Look-alike user names: `Case`, `case`, ` Case` and `café` in NFC or NFD are
-- one name. Each user gets the key of their name (trimmed, NFKC, case-folded),
-- and keys are unique. The key is computed by memo (SQL has no case folding
-- that matches Unicode's), so this adds the column and its index only; at
-- start-up memo fills in the key of every account that has none. Two existing
-- accounts whose names share a key are never merged: the older one gets the
-- key, the other keeps NULL (it still logs in with its exact spelling) and is
-- reported in the log at every start until an operator renames one.
ALTER TABLE users ADD COLUMN user_name_key TEXT;
CREATE UNIQUE INDEX users_by_name_key ON users (user_name_key);

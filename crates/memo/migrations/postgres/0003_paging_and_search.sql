-- Paging, order and search (issue 10): every list call reads one page from an
-- index, whatever the number of memos. pg_trgm and btree_gin are contrib
-- extensions that a database owner may create (both are trusted).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- ?order=-updated_at, ties by id.
CREATE INDEX memos_user_archived_updated ON memos (user_id, archived, updated_at, id);

-- ?q=: the trigrams of title and content (any script, case-insensitive for
-- ILIKE), with the owner and archived flag in the same GIN index, so that a
-- search reads one user's matching entries only.
CREATE INDEX memos_search ON memos
    USING gin (user_id, archived, title gin_trgm_ops, content gin_trgm_ops);

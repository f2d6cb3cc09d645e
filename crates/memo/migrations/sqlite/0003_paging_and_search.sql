-- Paging, order and search (issue 10): every list call reads one page from an
-- index, whatever the number of memos.

-- Timestamps as RFC 3339 text with exactly six fractional digits, so that the
-- text sorts as the time does (the -updated_at order compares it). Earlier
-- versions trimmed the fraction ("...:01.49Z", "...:01Z").
UPDATE memos SET
    created_at = substr(created_at, 1, 19) || '.' || substr(
        CASE WHEN substr(created_at, 20, 1) = '.' THEN rtrim(substr(created_at, 21), 'Z') ELSE '' END
        || '000000', 1, 6) || 'Z',
    updated_at = substr(updated_at, 1, 19) || '.' || substr(
        CASE WHEN substr(updated_at, 20, 1) = '.' THEN rtrim(substr(updated_at, 21), 'Z') ELSE '' END
        || '000000', 1, 6) || 'Z';

-- ?order=-updated_at (ties by id: SQLite ends every index with the rowid).
CREATE INDEX memos_user_archived_updated ON memos (user_id, archived, updated_at);

-- ?q=: FTS5's trigram tokenizer finds any substring of 3 characters or more,
-- in any script, without regard to case. Contentless (the text stays in
-- memos only), rows deletable by rowid. The rowid is the memo's search key:
-- (user_id << 40) | (archived << 39) | id, so that one user's memos in one
-- archived state are one rowid range, which a search seeks to instead of
-- reading every user's matches (db/memos/sqlite.rs).
CREATE VIRTUAL TABLE memos_search USING fts5 (
    title, content,
    tokenize = 'trigram case_sensitive 0',
    content = '', contentless_delete = 1
);

-- The index is written by triggers, so it is kept in step inside the same
-- transaction as the memo, whoever writes it (the group commit, a user's
-- deletion cascading to their memos).
-- A key out of range is refused (for an existing user: a memo for no user is
-- refused by its foreign key, with that error, at the end of the statement).
CREATE TRIGGER memos_search_insert AFTER INSERT ON memos BEGIN
    SELECT RAISE(ABORT, 'memo search key out of range: user ids must be below 2^23 and memo ids below 2^39')
    WHERE (new.user_id NOT BETWEEN 0 AND 8388607 OR new.id NOT BETWEEN 0 AND 549755813887)
        AND EXISTS (SELECT 1 FROM users WHERE id = new.user_id);
    INSERT INTO memos_search (rowid, title, content)
    VALUES ((new.user_id << 40) | (new.archived << 39) | new.id, new.title, new.content);
END;

CREATE TRIGGER memos_search_delete AFTER DELETE ON memos BEGIN
    DELETE FROM memos_search WHERE rowid = (old.user_id << 40) | (old.archived << 39) | old.id;
END;

CREATE TRIGGER memos_search_update AFTER UPDATE OF title, content, archived, user_id ON memos
WHEN old.title IS NOT new.title OR old.content IS NOT new.content
    OR old.archived IS NOT new.archived OR old.user_id IS NOT new.user_id
BEGIN
    DELETE FROM memos_search WHERE rowid = (old.user_id << 40) | (old.archived << 39) | old.id;
    INSERT INTO memos_search (rowid, title, content)
    VALUES ((new.user_id << 40) | (new.archived << 39) | new.id, new.title, new.content);
END;

INSERT INTO memos_search (rowid, title, content)
SELECT (user_id << 40) | (archived << 39) | id, title, content FROM memos;

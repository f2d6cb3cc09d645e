-- ?q= on PostgreSQL, planned with the search text in hand: the matches of one
-- owner's memos (up to `cap`), read through the trigram index `memos_search`.
--
-- As a plain statement, the planner guesses pg_trgm's selectivity from the
-- pattern and, under a LIMIT, chose to filter the owner's memos one by one
-- (a sequential or index scan): 110-170 ms for 議事録 in an account of
-- 100,000 memos, against 5-12 ms through the index, and growing with the
-- account. Here the query is planned per call (EXECUTE, with the pattern's
-- value known) with plain scans of the table disabled, so the bitmap scan of
-- the trigram index is the one left. It returns `updated_at` with the id, so
-- the caller orders the matches without reading them again.
CREATE FUNCTION memo_search_hits(owner BIGINT, arch BOOLEAN, pattern TEXT, cap BIGINT)
RETURNS TABLE (id BIGINT, updated_at TIMESTAMPTZ)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_indexscan = off
AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT id, updated_at FROM memos WHERE user_id = $1 AND archived = $2 '
        'AND (title ILIKE $3 OR content ILIKE $3) LIMIT $4'
        USING owner, arch, pattern, cap;
END
$$;

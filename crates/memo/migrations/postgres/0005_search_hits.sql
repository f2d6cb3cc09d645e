-- ?q= on PostgreSQL, planned with the search text in hand: the matches of one
-- owner's memos (up to `cap`), read through the trigram index `memos_search`.
--
-- As a plain statement, the planner guesses pg_trgm's selectivity from the
-- pattern and, under a LIMIT, chose to filter the owner's memos one by one
-- (a sequential scan, or a scan of the (user_id, archived, ...) b-trees,
-- which it prefers when the statistics are older than the account's growth):
-- 110-170 ms for 議事録 in an account of 100,000 memos, against 2-12 ms
-- through the trigram index, and growing with the account. Here the query is
-- planned per call (EXECUTE, with the pattern's value known), with plain
-- scans off and the owner and archived conditions written so that no b-tree
-- serves them (`user_id + 0`, `archived::int`): the bitmap scan of the
-- trigram index is the plan left. memo calls it only for a text that holds
-- three letters or digits in a row, from which pg_trgm takes trigrams (for
-- other text the index would be read whole). It returns `updated_at` with the
-- id, so the caller orders the matches without reading them again.
CREATE FUNCTION memo_search_hits(owner BIGINT, arch BOOLEAN, pattern TEXT, cap BIGINT)
RETURNS TABLE (id BIGINT, updated_at TIMESTAMPTZ)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_indexscan = off
SET jit = off
AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT id, updated_at FROM memos WHERE user_id + 0 = $1 AND archived::int = $2::int '
        'AND (title ILIKE $3 OR content ILIKE $3) LIMIT $4'
        USING owner, arch, pattern, cap;
END
$$;

-- New index entries wait in the GIN index's pending list until it is merged
-- into the tree, and every search reads that whole list: with the default 4 MB
-- limit, a search in an account that has just grown read up to 512 pages more
-- (1.2 ms instead of 0.6 ms per search by pgbench after 30,000 inserts). 64 kB
-- keeps that read small and the inserts batched (4,870 against 5,284 inserts/s
-- with 4 MB; without the pending list, 2,984).
ALTER INDEX memos_search SET (gin_pending_list_limit = 64);

-- ?q= on PostgreSQL at any account size: the page is looked for in windows of
-- the list, each a few thousand memos long, instead of among all the owner's
-- matches.
--
-- memo_search_hits (0005) reads every match of the owner through the trigram
-- index, then orders them: 2-4 ms for a word in 1 memo of 100 at 100,000
-- memos, growing with the account. A window is a stretch of the list sized
-- from 64 entries of the list's b-tree, and only the window's matches are
-- read, by ANDing the trigram entries with entries that name the window.
--
-- Those entries are `window_keys`: each memo's position in the list, its id
-- and its `updated_at` (in microseconds), cut into buckets of 2^level at a
-- ladder of levels (ids: 2^4 to 2^40, times: 2^12 us to 2^50 us, every other
-- power of two), each bucket hashed with the owner and archived state into
-- one bigint. A window is covered by at most 4 buckets of one level, the
-- finest that fits, so the buckets hold the window and at most a few times
-- its length around it; the window's own bounds are then checked on the rows.
-- A hash collision only adds a candidate that those checks drop. A trigger
-- keeps the keys in step with every write, in the write's own transaction,
-- as the index is.

-- One bucket's entry: dim 0 is the id, dim 1 is `updated_at`.
CREATE FUNCTION memo_window_key(owner BIGINT, arch BOOLEAN, dim INT, level INT, bucket BIGINT)
RETURNS BIGINT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashint8extended(bucket, hashint8extended(owner, arch::int * 128 + dim * 64 + level))
$$;

-- Microseconds since 1970. Through UTC's wall time, whose functions are
-- immutable (timestamptz's extract is only stable), so that the functions
-- below stay immutable and are inlined.
CREATE FUNCTION memo_micros(t TIMESTAMPTZ) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (extract(epoch FROM (t AT TIME ZONE 'UTC')) * 1000000)::bigint
$$;

-- The entries of the finest level's buckets (at most 4) that hold lo..hi;
-- NULL when no level's do (a span beyond the ladder's top).
CREATE FUNCTION memo_window_cover(owner BIGINT, arch BOOLEAN, dim INT, lo BIGINT, hi BIGINT)
RETURNS BIGINT[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    level INT := CASE dim WHEN 0 THEN 4 ELSE 12 END;
    top CONSTANT INT := CASE dim WHEN 0 THEN 40 ELSE 50 END;
    keys BIGINT[] := '{}';
    bucket BIGINT;
BEGIN
    WHILE (hi >> level) - (lo >> level) > 3 LOOP
        level := level + 2;
        IF level > top THEN
            RETURN NULL;
        END IF;
    END LOOP;
    bucket := lo >> level;
    WHILE bucket <= hi >> level LOOP
        keys := keys || memo_window_key(owner, arch, dim, level, bucket);
        bucket := bucket + 1;
    END LOOP;
    RETURN keys;
END
$$;

-- Every level's entry, memo_window_key(user_id, archived, dim, level,
-- position >> level), at each level of the ladder (ids: 4, 6, ..., 40;
-- times: 12, 14, ..., 50), set by a trigger on every insert and update. (A
-- generated column calling these SQL functions cost 0.33 ms per insert:
-- PostgreSQL rebuilt the expression on each statement.)
CREATE FUNCTION memo_set_window_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t BIGINT := memo_micros(NEW.updated_at);
    keys BIGINT[] := '{}';
BEGIN
    FOR level IN 4..40 BY 2 LOOP
        keys := keys || memo_window_key(NEW.user_id, NEW.archived, 0, level, NEW.id >> level);
    END LOOP;
    FOR level IN 12..50 BY 2 LOOP
        keys := keys || memo_window_key(NEW.user_id, NEW.archived, 1, level, t >> level);
    END LOOP;
    NEW.window_keys := keys;
    RETURN NEW;
END
$$;

ALTER TABLE memos ADD COLUMN window_keys BIGINT[];
CREATE TRIGGER memos_window_keys BEFORE INSERT OR UPDATE ON memos
    FOR EACH ROW EXECUTE FUNCTION memo_set_window_keys();
UPDATE memos SET window_keys = NULL;
ALTER TABLE memos ALTER COLUMN window_keys SET NOT NULL;

-- The search index, with the window entries beside the trigrams.
DROP INDEX memos_search;
CREATE INDEX memos_search ON memos
    USING gin (user_id, archived, window_keys, title gin_trgm_ops, content gin_trgm_ops)
    WITH (gin_pending_list_limit = 64);

-- Whether a memo at (id, at) lies in a window, in the list's order `ord`
-- (0 id, 1 -id, 2 -updated_at): after the position (after_id, after_at), up
-- to and with the window's end (end_id, end_at). A CASE, so that no b-tree
-- can serve it: it only filters the rows the search index gave.
CREATE FUNCTION memo_in_window(ord INT, id BIGINT, at TIMESTAMPTZ,
    after_id BIGINT, after_at TIMESTAMPTZ, end_id BIGINT, end_at TIMESTAMPTZ)
RETURNS BOOLEAN LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE ord
        WHEN 0 THEN id > after_id AND id <= end_id
        WHEN 1 THEN id < after_id AND id >= end_id
        ELSE (at, id) < (after_at, after_id) AND (at, id) >= (end_at, end_id)
    END
$$;

-- The matches within one window, in the list's order. The only index that
-- holds `window_keys` is the GIN index, and the other conditions are written
-- so that no b-tree serves them, so the plan is the bitmap AND of the
-- window's and the text's entries whatever the statistics; the title's and
-- the content's matches are read apart and joined (with `OR`, the planner
-- read the window's entries alone and filtered them all by `ILIKE`).
CREATE FUNCTION memo_window_hits(owner BIGINT, arch BOOLEAN, pattern TEXT, ord INT, keys BIGINT[],
    after_id BIGINT, after_at TIMESTAMPTZ, end_id BIGINT, end_at TIMESTAMPTZ, need INT)
RETURNS TABLE (id BIGINT, title TEXT, content TEXT, archived BOOLEAN,
    created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_indexscan = off
SET enable_bitmapscan = on
SET enable_sort = on
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY SELECT u.* FROM (
            SELECT m.id, m.title, m.content, m.archived, m.created_at, m.updated_at
            FROM memos AS m
            WHERE m.window_keys && keys AND m.title ILIKE pattern
              AND m.user_id + 0 = owner AND m.archived::int = arch::int
              AND memo_in_window(ord, m.id, m.updated_at, after_id, after_at, end_id, end_at)
        UNION
            SELECT m.id, m.title, m.content, m.archived, m.created_at, m.updated_at
            FROM memos AS m
            WHERE m.window_keys && keys AND m.content ILIKE pattern
              AND m.user_id + 0 = owner AND m.archived::int = arch::int
              AND memo_in_window(ord, m.id, m.updated_at, after_id, after_at, end_id, end_at)
        ) AS u
        ORDER BY CASE WHEN ord = 0 THEN u.id END,
            CASE WHEN ord = 2 THEN u.updated_at END DESC,
            u.id DESC
        LIMIT need;
END
$$;

-- The first `need` matches after the position, window by window, at most
-- `windows` of them. A window is a stretch of the list's key (the id, or
-- `updated_at` for -updated_at) meant to hold about `win` memos: from the
-- first memo after the position, as long as the next 64 memos' stretch times
-- `win` / 64, four times as long after each window that left the page short.
-- Only 64 entries of the b-tree are read to size it (walking all `win` cost
-- 0.14 us per memo, more than the rest of the search); a denser stretch than
-- the 64 only makes the window hold more matches. Rows of kind 0 are the
-- matches, in order. Then, when the page is not full but the list goes on,
-- one row of kind 1 holds the position after the last window: everything up
-- to it has been searched. A row of kind 2 (only) says that a window spans
-- more than the window entries cover, and the caller searches otherwise.
CREATE FUNCTION memo_search_windows(owner BIGINT, arch BOOLEAN, pattern TEXT, ord INT,
    after_id BIGINT, after_at TIMESTAMPTZ, need INT, win INT, windows INT)
RETURNS TABLE (id BIGINT, title TEXT, content TEXT, archived BOOLEAN,
    created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, kind INT)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    probe CONSTANT INT := 64;
    first_key BIGINT;
    probe_key BIGINT;
    end_key BIGINT;
    end_id BIGINT;
    end_at TIMESTAMPTZ;
    at_end BOOLEAN;
    keys BIGINT[];
    found_now INT;
    wanted INT := need;
    growth NUMERIC := 1;
BEGIN
    FOR pass IN 1..windows LOOP
        IF ord = 0 THEN
            SELECT m.id INTO first_key FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch AND m.id > after_id
                ORDER BY m.user_id, m.archived, m.id LIMIT 1;
            SELECT m.id INTO probe_key FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch AND m.id > after_id
                ORDER BY m.user_id, m.archived, m.id OFFSET probe - 1 LIMIT 1;
            IF probe_key IS NULL THEN
                SELECT m.id INTO probe_key FROM memos AS m
                    WHERE m.user_id = owner AND m.archived = arch
                    ORDER BY m.user_id DESC, m.archived DESC, m.id DESC LIMIT 1;
            END IF;
        ELSIF ord = 1 THEN
            SELECT -m.id INTO first_key FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch AND m.id < after_id
                ORDER BY m.user_id DESC, m.archived DESC, m.id DESC LIMIT 1;
            SELECT -m.id INTO probe_key FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch AND m.id < after_id
                ORDER BY m.user_id DESC, m.archived DESC, m.id DESC OFFSET probe - 1 LIMIT 1;
            IF probe_key IS NULL THEN
                SELECT -m.id INTO probe_key FROM memos AS m
                    WHERE m.user_id = owner AND m.archived = arch
                    ORDER BY m.user_id, m.archived, m.id LIMIT 1;
            END IF;
        ELSE
            SELECT -memo_micros(m.updated_at) INTO first_key FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch
                  AND (m.updated_at, m.id) < (after_at, after_id)
                ORDER BY m.user_id DESC, m.archived DESC, m.updated_at DESC, m.id DESC LIMIT 1;
            SELECT -memo_micros(m.updated_at) INTO probe_key FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch
                  AND (m.updated_at, m.id) < (after_at, after_id)
                ORDER BY m.user_id DESC, m.archived DESC, m.updated_at DESC, m.id DESC
                OFFSET probe - 1 LIMIT 1;
            IF probe_key IS NULL THEN
                SELECT -memo_micros(m.updated_at) INTO probe_key FROM memos AS m
                    WHERE m.user_id = owner AND m.archived = arch
                    ORDER BY m.user_id, m.archived, m.updated_at, m.id LIMIT 1;
            END IF;
        END IF;
        EXIT WHEN first_key IS NULL;
        -- Keys run upwards in the list's order (-id and -updated_at negated).
        IF probe_key IS NULL OR probe_key < first_key THEN
            probe_key := first_key;
        END IF;
        end_key := LEAST(first_key + (probe_key - first_key + 1)::numeric * win / probe * growth,
            4611686018427387904)::bigint;
        keys := CASE ord
            WHEN 0 THEN memo_window_cover(owner, arch, 0, first_key, end_key)
            WHEN 1 THEN memo_window_cover(owner, arch, 0, -end_key, -first_key)
            ELSE memo_window_cover(owner, arch, 1, -end_key, -first_key)
        END;
        IF keys IS NULL THEN
            RETURN QUERY SELECT NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BOOLEAN,
                NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ, 2;
            RETURN;
        END IF;
        IF ord = 0 THEN
            at_end := NOT EXISTS (SELECT 1 FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch AND m.id > end_key);
        ELSIF ord = 1 THEN
            at_end := NOT EXISTS (SELECT 1 FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch AND m.id < -end_key);
        ELSE
            at_end := NOT EXISTS (SELECT 1 FROM memos AS m
                WHERE m.user_id = owner AND m.archived = arch
                  AND m.updated_at < 'epoch'::timestamptz + (-end_key) * interval '1 microsecond');
        END IF;
        -- The window's end as memo_window_hits takes it: up to and with
        -- end_id (ids), or from end_at on (times).
        end_id := CASE ord WHEN 0 THEN end_key WHEN 1 THEN -end_key ELSE -9223372036854775808 END;
        end_at := CASE WHEN ord = 2 THEN 'epoch'::timestamptz + (-end_key) * interval '1 microsecond'
            ELSE after_at END;
        RETURN QUERY SELECT h.*, 0 FROM memo_window_hits(owner, arch, pattern, ord, keys,
            after_id, after_at, end_id, end_at, wanted) AS h;
        GET DIAGNOSTICS found_now = ROW_COUNT;
        wanted := wanted - found_now;
        EXIT WHEN wanted <= 0 OR at_end;
        after_id := end_id;
        after_at := end_at;
        growth := growth * 4;
        IF pass = windows THEN
            RETURN QUERY SELECT after_id, NULL::TEXT, NULL::TEXT, NULL::BOOLEAN,
                NULL::TIMESTAMPTZ, after_at, 1;
        END IF;
    END LOOP;
END
$$;

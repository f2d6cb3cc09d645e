-- memo's connections keep one generic plan per statement
-- (`plan_cache_mode = force_generic_plan`, `db::postgres_options`), and that
-- setting reaches the EXECUTE inside `memo_search_hits`, which is there to be
-- planned with the search text's value (migration 0005). The function now
-- says so itself.
ALTER FUNCTION memo_search_hits(BIGINT, BOOLEAN, TEXT, BIGINT)
    SET plan_cache_mode = force_custom_plan;

-- 0014_checkin_sessions.sql: a check-in's session looked up inside its own group commit.
--
-- Profiled (README, "Performance"): a check-in from a session its worker had not cached took
-- two transactions one after the other: the session look-up (session_resolve_many, which
-- also touches last_seen_at) and then the check-in batch.  Now such a check-in (or check-out)
-- carries its token's hash instead of an actor, and checkin_batch() resolves the sessions of
-- the batch in the check-in's transaction: one round trip and one commit fewer per request,
-- and the worker learns the session for its cache from the answer.
--
--   * sessions_resolve_touch(): the look-up and touch of session_resolve_many, without its
--     asynchronous commit, so that a check-in transaction can use it.  The touch skips a row
--     that another transaction is touching (SKIP LOCKED): two batches never wait for each
--     other there, and cannot deadlock.  session_resolve_many is now that plus the
--     asynchronous commit.
--   * checkin_batch(items, idle_minutes): api_call_batch, where an item may carry "session"
--     (the token's SHA-256 in hex) in place of "actor".  A session that is missing, expired,
--     idle too long or of a disabled account answers 401, as the server would have before
--     running the call; the others run as the session's account.  Each row also says whose
--     session it was and how long that answer holds (NULL for items that came with an actor).
--   * sessions keeps free room in its pages (fillfactor), so that a touch stays on its page
--     and adds no index entries (a HOT update).

ALTER TABLE sessions SET (fillfactor = 80);

CREATE FUNCTION sessions_resolve_touch(hashes text[], idle_minutes int)
RETURNS TABLE (i int, account_id bigint, volunteer_id bigint, valid_ms bigint)
LANGUAGE plpgsql AS $$  -- plpgsql, not sql: its plan is kept for the session, not remade per call
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH h AS (
        -- (a hash is 64 lowercase hex digits: said without a bounded repeat, which costs
        -- PostgreSQL's regular expressions ten times as much)
        SELECT t.n::int AS i, decode(t.x, 'hex') AS hash
          FROM unnest(hashes) WITH ORDINALITY AS t(x, n)
         WHERE octet_length(t.x) = 64 AND t.x !~ '[^0-9a-f]'),
    s AS (
        SELECT h.i, s.token_hash, s.account_id, a.volunteer_id, s.expires_at, s.last_seen_at,
               s.last_seen_at < now() - interval '30 seconds' AS stale
          FROM h JOIN sessions s ON s.token_hash = h.hash
          JOIN accounts a ON a.id = s.account_id AND NOT a.disabled
         WHERE s.expires_at > now()
           AND s.last_seen_at > now() - make_interval(mins => idle_minutes)),
    touch AS (
        UPDATE sessions x SET last_seen_at = now()
         WHERE x.token_hash IN (SELECT y.token_hash FROM sessions y
                                 WHERE y.token_hash IN (SELECT s.token_hash FROM s WHERE s.stale)
                                   AND y.last_seen_at < now() - interval '30 seconds'
                                   FOR NO KEY UPDATE SKIP LOCKED)
        RETURNING x.token_hash)
    -- valid for: until the absolute limit or the idle limit from the last touch, whichever
    -- comes first (a touch skipped because another transaction holds the row counts as
    -- not made: the answer is never trusted longer than the database would allow)
    SELECT s.i, s.account_id, s.volunteer_id,
           greatest(0, floor(extract(epoch FROM
               least(s.expires_at,
                     CASE WHEN t.token_hash IS NULL THEN s.last_seen_at ELSE now() END
                     + make_interval(mins => idle_minutes)) - now()) * 1000))::bigint
      FROM s LEFT JOIN touch t ON t.token_hash = s.token_hash;
END
$$;

CREATE OR REPLACE FUNCTION session_resolve_many(hashes text[], idle_minutes int)
RETURNS TABLE (i int, account_id bigint, volunteer_id bigint, valid_ms bigint)
LANGUAGE plpgsql AS $$
BEGIN
    -- A look-up alone: its touch is bookkeeping, not a record (0008).
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY SELECT * FROM sessions_resolve_touch(hashes, idle_minutes);
END
$$;

-- items: api_call_batch's, each with "actor" or "session".  One row per item, n its place in
-- items from 1, in any order.
CREATE FUNCTION checkin_batch(items jsonb, idle_minutes int)
RETURNS TABLE (n int, ok boolean, body text, state text, message text, col text, cons text,
               account_id bigint, volunteer_id bigint, valid_ms bigint)
-- generic plans: custom ones (which PostgreSQL keeps choosing here, its generic estimate for
-- generate_series being 1,000 rows) were made anew on every call
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    hashes text[];
    accounts_ bigint[];
    volunteers_ bigint[];
    valid_ bigint[];
    runs int[];  -- the items that run, in order: runs[k] is the item of api_call_batch's row k
BEGIN
    IF jsonb_typeof(items) <> 'array' THEN
        RAISE EXCEPTION 'checkin_batch takes an array';
    END IF;
    hashes := ARRAY(SELECT i.item ->> 'session'
                      FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n) ORDER BY i.n);
    IF NOT EXISTS (SELECT 1 FROM unnest(hashes) x WHERE x IS NOT NULL) THEN
        -- every item came with its actor (the worker had the sessions cached)
        RETURN QUERY SELECT b.n, b.ok, b.body, b.state, b.message, b.col, b.cons,
                            NULL::bigint, NULL::bigint, NULL::bigint
                       FROM api_call_batch(items) b;
        RETURN;
    END IF;

    SELECT array_agg(r.account_id ORDER BY g.n), array_agg(r.volunteer_id ORDER BY g.n),
           array_agg(r.valid_ms ORDER BY g.n)
      INTO accounts_, volunteers_, valid_
      FROM generate_series(1, cardinality(hashes)) AS g(n)
      LEFT JOIN sessions_resolve_touch(hashes, idle_minutes) r ON r.i = g.n;

    -- No live session: what auth.c answers when it looks the session up first.
    RETURN QUERY
    SELECT g.n, false, NULL::text, 'VD401', 'log in first: the session is missing or expired',
           NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint
      FROM generate_series(1, cardinality(hashes)) AS g(n)
     WHERE hashes[g.n] IS NOT NULL AND accounts_[g.n] IS NULL;

    runs := ARRAY(SELECT g.n FROM generate_series(1, cardinality(hashes)) AS g(n)
                   WHERE hashes[g.n] IS NULL OR accounts_[g.n] IS NOT NULL ORDER BY g.n);
    IF cardinality(runs) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT runs[b.n], b.ok, b.body, b.state, b.message, b.col, b.cons,
           accounts_[runs[b.n]], volunteers_[runs[b.n]], valid_[runs[b.n]]
      FROM api_call_batch((
               SELECT jsonb_agg(CASE WHEN hashes[u.x] IS NULL THEN items -> (u.x - 1)
                                     ELSE (items -> (u.x - 1)) - 'session'
                                          || jsonb_build_object('actor', accounts_[u.x]) END
                                ORDER BY u.k)
                 FROM unnest(runs) WITH ORDINALITY AS u(x, k))) b;
END
$$;

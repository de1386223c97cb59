-- 0008_batch.sql: group commit for check-ins and check-outs, batched session look-ups, and
-- the notifications that keep the servers' session caches true.
--
--   * api_call_batch(): many api_call()s in ONE transaction (one WAL flush for all of them).
--     Each item runs in its own subtransaction (BEGIN ... EXCEPTION), so one volunteer's
--     conflict rolls back only that item; the rules are not repeated here: each item is the
--     same api_call(fn, ...) -> api.checkin / api.checkout as a single request, with its own
--     Idempotency-Key row.  The server keeps a batch at 64 items or fewer: a backend caches
--     64 subtransaction ids, and more would slow every snapshot in the cluster.
--   * session_resolve_many(): session_resolve() for many tokens in one statement, with how
--     long each answer stays true (the server caches it that long at most).
--   * Triggers that NOTIFY vd_sessions when a session ends (log-out, rotation at log-in, purge,
--     an account deleted) or an account is disabled, so that every server drops its cached copy.

--------------------------------------------------------------------------------------------
-- Group commit
--------------------------------------------------------------------------------------------

-- items: [{"fn", "actor", "args", "key", "hash", "ip", "rid"}, ...] in arrival order (the
-- parameters of api_call).  One row per item, in item order: ok and the result as text (the
-- same bytes api_call would have returned), or the error's SQLSTATE, message, column and
-- constraint (what the server maps to a status, as for a single call).
--
-- Items run ordered by event id, then arrival: every batch takes event locks (walk-ins) in
-- the same order, so two batches cannot deadlock on them.  All items share the transaction's
-- now(): the batch began at most a few milliseconds after each request arrived.
CREATE FUNCTION api_call_batch(items jsonb)
RETURNS TABLE (n int, ok boolean, body text, state text, message text, col text, cons text)
LANGUAGE plpgsql AS $$
DECLARE
    it record;
    res jsonb;
BEGIN
    IF jsonb_typeof(items) <> 'array' OR jsonb_array_length(items) > 64 THEN
        RAISE EXCEPTION 'api_call_batch takes an array of at most 64 items';
    END IF;
    FOR it IN
        SELECT t.e AS item, t.i::int AS i
          FROM jsonb_array_elements(items) WITH ORDINALITY AS t(e, i)
         ORDER BY (t.e -> 'args' ->> 'event_id')::bigint NULLS FIRST, t.i
    LOOP
        n := it.i;
        body := NULL; state := NULL; message := NULL; col := NULL; cons := NULL;
        IF it.item ->> 'fn' NOT IN ('checkin', 'checkout') THEN
            ok := false;
            state := 'XX000';
            message := 'api_call_batch runs check-ins and check-outs only';
            RETURN NEXT;
            CONTINUE;
        END IF;
        BEGIN
            res := api_call(it.item ->> 'fn', (it.item ->> 'actor')::bigint, it.item -> 'args',
                            it.item ->> 'key', it.item ->> 'hash', (it.item ->> 'ip')::inet,
                            it.item ->> 'rid');
            ok := true;
            body := res::text;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                                    col = COLUMN_NAME, cons = CONSTRAINT_NAME;
            ok := false;
            col := nullif(col, '');
            cons := nullif(cons, '');
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

--------------------------------------------------------------------------------------------
-- Sessions, many at once
--------------------------------------------------------------------------------------------

-- hashes: SHA-256 of tokens as hex.  One row per live session: its index in hashes (from 1),
-- the account and volunteer, and valid_ms, how many milliseconds from now the answer stays
-- true without a touch (the absolute limit, or the idle limit counted from last_seen_at as it
-- is after this call).  last_seen_at is touched as by session_resolve: at most every 30 s.
-- That touch is bookkeeping, not a record: its commit does not wait for the WAL flush
-- (synchronous_commit off for this transaction only), so a look-up never costs an fsync.  A
-- crash can lose the last fraction of a second of touches: a session then looks idle a few
-- seconds early, never late.  Check-ins and every API write keep synchronous_commit on.
CREATE FUNCTION session_resolve_many(hashes text[], idle_minutes int)
RETURNS TABLE (i int, account_id bigint, volunteer_id bigint, valid_ms bigint)
LANGUAGE plpgsql AS $$  -- plpgsql, not sql: its plan is kept for the session, not remade per call
#variable_conflict use_column
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH h AS (
        SELECT t.n::int AS i, decode(t.x, 'hex') AS hash
          FROM unnest(hashes) WITH ORDINALITY AS t(x, n)
         WHERE t.x ~ '^[0-9a-f]{64}$'),
    s AS (
        SELECT h.i, s.token_hash, s.account_id, a.volunteer_id, s.expires_at,
               CASE WHEN s.last_seen_at < now() - interval '30 seconds' THEN now()
                    ELSE s.last_seen_at END AS seen
          FROM h JOIN sessions s ON s.token_hash = h.hash
          JOIN accounts a ON a.id = s.account_id AND NOT a.disabled
         WHERE s.expires_at > now()
           AND s.last_seen_at > now() - make_interval(mins => idle_minutes)),
    touch AS (
        UPDATE sessions x SET last_seen_at = now()
         WHERE x.token_hash IN (SELECT s.token_hash FROM s)
           AND x.last_seen_at < now() - interval '30 seconds')
    SELECT s.i, s.account_id, s.volunteer_id,
           greatest(0, floor(extract(epoch FROM
               least(s.expires_at, s.seen + make_interval(mins => idle_minutes)) - now()) * 1000))::bigint
      FROM s;
END
$$;

--------------------------------------------------------------------------------------------
-- Telling the servers' caches
--------------------------------------------------------------------------------------------

-- Payloads on channel vd_sessions: 's:<hex hash>' (that session ended), 'a:<account id>'
-- (every session of that account), '*' (drop everything: a large purge).  Sent at commit.
CREATE FUNCTION sessions_notify_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM ended) > 100 THEN
        PERFORM pg_notify('vd_sessions', '*');
    ELSE
        PERFORM pg_notify('vd_sessions', 's:' || encode(o.token_hash, 'hex')) FROM ended o;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sessions_ended AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS ended FOR EACH STATEMENT EXECUTE FUNCTION sessions_notify_ended();

CREATE FUNCTION sessions_notify_shortened() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vd_sessions', 's:' || encode(NEW.token_hash, 'hex'));
    RETURN NULL;
END
$$;
-- A session made shorter by hand (its limits moved back, or moved to another account): the
-- touch in session_resolve only ever moves last_seen_at forward, so it sends nothing.
CREATE TRIGGER sessions_shortened AFTER UPDATE OF expires_at, last_seen_at, account_id ON sessions
    FOR EACH ROW WHEN (NEW.expires_at < OLD.expires_at OR NEW.last_seen_at < OLD.last_seen_at
                       OR NEW.account_id <> OLD.account_id)
    EXECUTE FUNCTION sessions_notify_shortened();

CREATE FUNCTION accounts_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vd_sessions', 'a:' || NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER accounts_sessions_changed AFTER UPDATE OF disabled, volunteer_id ON accounts
    FOR EACH ROW WHEN (NEW.disabled IS DISTINCT FROM OLD.disabled
                       OR NEW.volunteer_id IS DISTINCT FROM OLD.volunteer_id)
    EXECUTE FUNCTION accounts_notify_changed();

--------------------------------------------------------------------------------------------
-- Plan caching on the hot path
--------------------------------------------------------------------------------------------

-- Profiled (README, "Performance"): PostgreSQL 15 plans the body of a LANGUAGE sql function
-- that it cannot inline on EVERY call, and again in every subtransaction (each item of a
-- batch is one); these few took over half of a check-in's time in the database.  A plpgsql
-- function keeps its plans for the session.  So each of them becomes plpgsql with the same
-- body, read here from the catalog (whatever the earlier migrations defined, never a copy in
-- this file), and `#variable_conflict use_column` so that names resolve as in SQL functions.
-- Only functions the planner never inlines are listed (a query with FROM, an aggregate, a
-- composite result, or a statement other than SELECT); entry_json, which it does inline into
-- lists, stays SQL.  Set-returning functions are left alone, and so are IMMUTABLE ones whose
-- body relies on WHERE or CASE to avoid an error (credit_span): plpgsql plans with the
-- argument values as constants, and the planner folds constant expressions before any
-- WHERE runs.
DO $$
DECLARE
    f record;
    body text;
BEGIN
    FOR f IN
        SELECT p.proname, p.prosrc, p.prorettype, p.provolatile,
               pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result
          FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
         WHERE l.lanname = 'sql' AND NOT p.proretset AND p.prokind = 'f'
           AND p.pronamespace = 'public'::regnamespace
           AND p.proname IN ('authz_level', 'audit', 'event_policy', 'attendance_entry',
                             'attendance_json', 'flags_valid')
    LOOP
        body := regexp_replace(f.prosrc, ';\s*$', '');
        IF f.prorettype = 'void'::regtype THEN
            body := 'BEGIN ' || body || '; END';
        ELSE  -- a SQL function returns its first row, or NULL when there is none
            body := 'DECLARE result_ ' || f.result || '; BEGIN SELECT * INTO result_ FROM ('
                    || body || ') AS body_ LIMIT 1; RETURN result_; END';
        END IF;
        EXECUTE format('CREATE OR REPLACE FUNCTION %I(%s) RETURNS %s LANGUAGE plpgsql %s AS %L',
                       f.proname, f.args, f.result,
                       CASE f.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
                       E'#variable_conflict use_column\n' || body);
    END LOOP;
END
$$;

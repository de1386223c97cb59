-- 0021_retention.sql: expired rows are treated as gone, and then deleted.
--
--   * An Idempotency-Key past its expires_at (24 hours after its first use, 0001) is treated
--     as absent: a request under it runs anew and its answer is stored under the key again.
--     api_call (0002) and checkin_calls (0013), the two places that claim a key, claim an
--     expired row as they would claim a missing one (INSERT ... ON CONFLICT DO UPDATE of an
--     expired row only): the same single statement, so a key within its day costs nothing
--     more.  api_call_batch and checkin_batch reach keys only through these two.
--   * retention_purge(): one run of the purge job (server/jobs.c): at most `batch` rows of
--     each table, oldest first, so that a run holds its row locks briefly and writes a small
--     transaction; the server runs it again at once while a run comes back full.  It deletes
--     Idempotency-Keys past expiry, sessions past their absolute limit or idle too long (by
--     the server's VOLUNTEERD_SESSION_IDLE_MIN, which is not stored), with a minute's margin,
--     and log-in throttle counters of windows that have ended (login_lookup reads only the
--     current 15-minute window).
--   * sessions_notify_ended() (0008) says nothing about the sessions the purge deletes: no
--     server caches a session past its limits (sessions.h: a cached answer lasts until the
--     limit as it stood when the database gave it, and a touch only moves the limit later),
--     so the notifications would only make every worker look its sessions up again ('*', for
--     a delete of more than 100 rows) or read one message per dead session.

--------------------------------------------------------------------------------------------
-- Expired keys are absent
--------------------------------------------------------------------------------------------

-- As 0002, with an expired key claimed anew.
CREATE OR REPLACE FUNCTION api_call(fn text, actor bigint, args jsonb, idem_key text, req_hash text,
                         ip inet, rid text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    key_scope text;
    k idempotency_keys;
    result jsonb;
BEGIN
    PERFORM set_config('vd.actor', coalesce(actor, 0)::text, true),
            set_config('vd.ip', coalesce(host(ip), ''), true),
            set_config('vd.rid', coalesce(rid, ''), true);
    IF idem_key IS NOT NULL THEN
        key_scope := CASE WHEN coalesce(actor, 0) > 0 THEN 'account:' || actor
                      ELSE 'anon:' || coalesce(host(ip), '') END;
        INSERT INTO idempotency_keys AS i (scope, key, request_hash)
        VALUES (key_scope, idem_key, decode(req_hash, 'hex'))
        ON CONFLICT (scope, key) DO UPDATE
           SET request_hash = excluded.request_hash, status = NULL, content_type = NULL,
               response = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at
         WHERE i.expires_at <= now();
        IF NOT FOUND THEN
            SELECT * INTO k FROM idempotency_keys i WHERE i.scope = key_scope AND i.key = idem_key;
            IF k.request_hash <> decode(req_hash, 'hex') THEN
                PERFORM problem(422, 'Idempotency-Key', 'this Idempotency-Key was used for a different request');
            END IF;
            RETURN k.response::jsonb;
        END IF;
    END IF;
    EXECUTE format('SELECT api.%I($1, $2)', fn) INTO result USING actor, args;
    IF idem_key IS NOT NULL THEN
        UPDATE idempotency_keys i SET status = 200, content_type = 'application/json',
               response = result::text
         WHERE i.scope = key_scope AND i.key = idem_key;
    END IF;
    RETURN result;
END
$$;

-- As 0013, with an expired key claimed anew.
CREATE OR REPLACE FUNCTION checkin_calls(items jsonb)
RETURNS TABLE (n int, ok boolean, body text, state text, message text, col text, cons text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    claimed int[];
    runs int[];  -- the items that run, in order: runs[o.n] is the item of outcome o
    outcomes checkin_outcome[];
BEGIN
    WITH keyed AS (
        SELECT i.n::int AS n, idempotency_scope((i.item ->> 'actor')::bigint, (i.item ->> 'ip')::inet) AS scope,
               i.item ->> 'key' AS key, decode(i.item ->> 'hash', 'hex') AS hash
          FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n)
         WHERE i.item ->> 'key' IS NOT NULL
    ), claim AS (
        INSERT INTO idempotency_keys AS i (scope, key, request_hash)
        SELECT k.scope, k.key, k.hash FROM keyed k ORDER BY k.scope, k.key
            ON CONFLICT (scope, key) DO UPDATE
               SET request_hash = excluded.request_hash, status = NULL, content_type = NULL,
                   response = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at
             WHERE i.expires_at <= now()
        RETURNING i.scope, i.key
    )
    SELECT coalesce(array_agg(k.n), '{}') INTO claimed FROM keyed k JOIN claim c USING (scope, key);

    -- Keys that were there: the stored answer, or 422.
    RETURN QUERY
    SELECT i.n::int, NOT m.differs,
           CASE WHEN NOT m.differs THEN k.response::jsonb::text END,
           CASE WHEN m.differs THEN 'VD422' END,
           CASE WHEN m.differs THEN 'this Idempotency-Key was used for a different request' END,
           CASE WHEN m.differs THEN 'Idempotency-Key' END,
           NULL::text
      FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n)
      LEFT JOIN idempotency_keys k
        ON k.scope = idempotency_scope((i.item ->> 'actor')::bigint, (i.item ->> 'ip')::inet)
       AND k.key = i.item ->> 'key'
     CROSS JOIN LATERAL (SELECT coalesce(k.request_hash <> decode(i.item ->> 'hash', 'hex'), false) AS differs) m
     WHERE i.item ->> 'key' IS NOT NULL AND i.n <> ALL (claimed);

    runs := ARRAY(SELECT i.n::int FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n)
                   WHERE i.item ->> 'key' IS NULL OR i.n = ANY (claimed) ORDER BY i.n);
    outcomes := ARRAY(SELECT o FROM checkin_many((SELECT coalesce(jsonb_agg(items -> (x - 1) ORDER BY x), '[]')
                                                    FROM unnest(runs) x)) o);

    WITH done AS (
        SELECT idempotency_scope((items -> (runs[o.n] - 1) ->> 'actor')::bigint,
                                 (items -> (runs[o.n] - 1) ->> 'ip')::inet) AS scope,
               items -> (runs[o.n] - 1) ->> 'key' AS key, o.ok, o.result
          FROM unnest(outcomes) o
         WHERE runs[o.n] = ANY (claimed)
    ), forgotten AS (
        DELETE FROM idempotency_keys k USING done d
         WHERE NOT d.ok AND k.scope = d.scope AND k.key = d.key
    )
    UPDATE idempotency_keys k SET status = 200, content_type = 'application/json', response = d.result::text
      FROM done d
     WHERE d.ok AND k.scope = d.scope AND k.key = d.key;

    RETURN QUERY
    SELECT runs[o.n], o.ok, o.result::text, o.state, o.message, o.col, o.cons FROM unnest(outcomes) o;
END
$$;


--------------------------------------------------------------------------------------------
-- The purge
--------------------------------------------------------------------------------------------

-- As 0008, silent for the purge's own deletes (vd.sessions_purge, set for its transaction).
CREATE OR REPLACE FUNCTION sessions_notify_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('vd.sessions_purge', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF (SELECT count(*) FROM ended) > 100 THEN
        PERFORM pg_notify('vd_sessions', '*');
    ELSE
        PERFORM pg_notify('vd_sessions', 's:' || encode(o.token_hash, 'hex')) FROM ended o;
    END IF;
    RETURN NULL;
END
$$;

-- A session no server may still trust: past its absolute limit, or idle for longer than
-- idle_minutes, by a minute's margin (a server caches an answer from the moment it arrives,
-- a little after the database's now()).
CREATE FUNCTION session_dead(s sessions, idle_minutes int) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT s.expires_at < now() - interval '1 minute'
        OR s.last_seen_at < now() - make_interval(mins => idle_minutes + 1)
$$;

-- One run: up to `batch` rows of each table, oldest first, rows another transaction holds
-- skipped (SKIP LOCKED: the purge never waits on a request).  One runner at a time across
-- servers (the others return zeros).  Returns how many rows went from each table.
CREATE FUNCTION retention_purge(idle_minutes int, batch int,
                                OUT keys_purged bigint, OUT sessions_purged bigint,
                                OUT attempts_purged bigint)
LANGUAGE plpgsql AS $$
BEGIN
    keys_purged := 0;
    sessions_purged := 0;
    attempts_purged := 0;
    IF NOT pg_try_advisory_xact_lock(7301021) THEN
        RETURN;
    END IF;
    PERFORM set_config('vd.sessions_purge', 'on', true);

    WITH gone AS (
        DELETE FROM idempotency_keys k
         WHERE (k.scope, k.key) IN (SELECT x.scope, x.key FROM idempotency_keys x
                                     WHERE x.expires_at <= now()
                                     ORDER BY x.expires_at LIMIT batch
                                       FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    SELECT count(*) INTO keys_purged FROM gone;

    WITH gone AS (
        DELETE FROM sessions s
         WHERE s.token_hash IN (SELECT x.token_hash FROM sessions x
                                 WHERE session_dead(x, idle_minutes)
                                 ORDER BY x.last_seen_at LIMIT batch
                                   FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    SELECT count(*) INTO sessions_purged FROM gone;

    WITH gone AS (
        DELETE FROM login_attempts t
         WHERE (t.key, t.window_start) IN (SELECT x.key, x.window_start FROM login_attempts x
                                            WHERE x.window_start <= now() - interval '15 minutes'
                                            ORDER BY x.window_start LIMIT batch
                                              FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    SELECT count(*) INTO attempts_purged FROM gone;
END
$$;

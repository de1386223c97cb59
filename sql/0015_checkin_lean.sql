-- 0015_checkin_lean.sql: fewer steps between a batch of check-ins and its INSERT.
--
-- Profiled (README, "Performance"): a batch cost PostgreSQL about a millisecond of CPU before
-- its first row, whatever its size, and at the paced half load of `make bench` batches hold
-- five to nine check-ins, so that fixed cost was most of a check-in's.  This removes steps and
-- plan from the usual batch, and a statement from every row written with flags:
--
--   * checkin_batch(): a batch of check-ins only, none with an Idempotency-Key, whose sessions
--     are all live (the usual one) goes straight to checkin_many with the sessions' accounts,
--     instead of through api_call_batch with every item rebuilt as JSON.  Any other batch
--     takes the way it took before.
--   * checkin_many(items, actors): 0013's, with the accounts found from the sessions passed
--     beside the items.  checkin_many(items) is the same function (actors defaults to NULL).
--     Its rules are computed once a row (see judged).
--   * flags_valid(): the same rule as a loop.  It was 0001's query, which 0008 made plpgsql
--     with that query inside: a query started and ended per row of attendances and
--     hour_entries, to look at an array that is usually empty.

--------------------------------------------------------------------------------------------
-- Flags
--------------------------------------------------------------------------------------------

-- As 0001: an open vocabulary, but each flag looks like one (a lowercase letter, then up to 31
-- lowercase letters, digits or underscores), at most 16 of them, in a one-dimensional array.
-- STRICT: NULL for NULL, as the query answered.  The length is counted apart from the pattern,
-- which PostgreSQL's regular expressions match much faster without a bounded repeat.
CREATE OR REPLACE FUNCTION flags_valid(flags text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    flag text;
BEGIN
    IF coalesce(array_ndims(flags), 1) <> 1 OR cardinality(flags) > 16 THEN
        RETURN false;
    END IF;
    FOREACH flag IN ARRAY flags LOOP
        IF flag IS NULL OR length(flag) > 32 OR flag !~ '^[a-z][a-z0-9_]*$' THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;

--------------------------------------------------------------------------------------------
-- Check-ins with their accounts given
--------------------------------------------------------------------------------------------

-- The one-argument function goes: its callers (api.checkin, checkin_calls, api_call_batch)
-- now call this one, actors left out.
DROP FUNCTION checkin_many(jsonb);

-- items: [{"actor", "args", "ip", "rid"}, ...]: the parameters of api.checkin and the request
-- context that api_call would have set (the audit row's account, address and request id).
-- actors[n], when given and not NULL, is item n's actor (checkin_batch found it from the
-- item's session), in place of its "actor".
-- One row per item, n its place in items from 1.  All rules of a check-in, in the order the
-- single request always checked them (so that a request refused for two reasons gets the same
-- one): event 404, who (attendance_who), cancelled, the window, one open attendance, credited
-- time ahead, sign-up or walk-in within capacity.
CREATE FUNCTION checkin_many(items jsonb, actors bigint[] DEFAULT NULL)
RETURNS SETOF checkin_outcome
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    requests checkin_request[];
    this_round checkin_request[];
    outcomes checkin_outcome[];
    alone checkin_request;
    rounds int;
    refused int;
    st text;
    msg text;
    column_ text;
    constraint_ text;
BEGIN
    WITH given AS (
        SELECT i.n::int AS n, coalesce(actors[i.n], (i.item ->> 'actor')::bigint) AS actor,
               i.item -> 'args' AS args,
               host(nullif(i.item ->> 'ip', '')::inet)::inet AS ip, nullif(i.item ->> 'rid', '') AS rid
          FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n)
    ), judged AS MATERIALIZED (
        -- MATERIALIZED, and attendance_who behind OFFSET 0: each refusal is computed once a
        -- row.  Inlined, the planner copied attendance_who's CASE into every use of refused
        -- (a plan three times as long, all of it built again at every batch's start).
        SELECT g.n, g.actor, g.ip, g.rid, e.id AS event_id, w.volunteer, w.method, t.at,
               p.walk_ins_allowed,
               CASE
                   WHEN e.id IS NULL THEN (404, NULL, 'event not found')::refusal
                   WHEN (w.refused).status IS NOT NULL THEN w.refused
                   WHEN e.status <> 'scheduled' THEN (409, NULL, 'the event was cancelled')::refusal
                   WHEN t.at < t.opens THEN
                       (409, NULL, format('check-in opens at %s, %s minutes before the start',
                                          to_char(t.opens AT TIME ZONE app_time_zone(), 'HH24:MI'),
                                          p.checkin_open_before_minutes))::refusal
                   WHEN t.at >= t.closes THEN
                       (409, NULL, format('check-in closed at %s',
                                          to_char(t.closes AT TIME ZONE app_time_zone(), 'HH24:MI')))::refusal
               END AS refused
          FROM given g
          LEFT JOIN events e ON e.id = arg_id(g.args, 'event_id')
          LEFT JOIN activities ac ON ac.id = e.activity_id
          LEFT JOIN hour_policies p ON p.id = ac.policy_id
         CROSS JOIN LATERAL (SELECT * FROM attendance_who(g.actor, g.args, e, p) OFFSET 0) w
          -- `at`: the time of the tap, set by the server only for a check-in queued offline on
          -- the check-in page (it has checked it against the page's presence proof); else now
         CROSS JOIN LATERAL (
               SELECT coalesce((g.args ->> 'at')::timestamptz, now()) AS at,
                      e.starts_at - make_interval(mins => p.checkin_open_before_minutes) AS opens,
                      CASE WHEN p.checkin_close_after_start_minutes IS NULL THEN e.ends_at
                           ELSE least(e.ends_at, e.starts_at + make_interval(mins => p.checkin_close_after_start_minutes))
                      END AS closes) t
    ), ranked AS (
        SELECT j.*, CASE WHEN (j.refused).status IS NULL
                         THEN row_number() OVER (PARTITION BY (j.refused).status IS NULL, j.volunteer
                                                 ORDER BY j.n)::int END AS round
          FROM judged j
    )
    SELECT array_agg(ROW(q.*)::checkin_request ORDER BY q.n), max(q.round), count(*) FILTER (WHERE q.round IS NULL)
      INTO requests, rounds, refused
      FROM ranked q;

    IF refused > 0 THEN
        RETURN QUERY
        SELECT q.n, false, NULL::jsonb, 'VD' || (q.refused).status, (q.refused).message, (q.refused).field, NULL::text
          FROM unnest(requests) q
         WHERE q.round IS NULL;
    END IF;

    FOR round_no IN 1 .. coalesce(rounds, 0) LOOP
        IF rounds = 1 AND refused = 0 THEN
            this_round := requests;  -- the usual batch: one request per volunteer, all to run
        ELSE
            this_round := ARRAY(SELECT q FROM unnest(requests) q WHERE q.round = round_no ORDER BY q.n);
        END IF;
        BEGIN
            outcomes := checkin_round(this_round);
        EXCEPTION WHEN OTHERS THEN
            -- What only the database could say (the exclusion constraint, a deadlock): run the
            -- round's requests one by one, so that it is the answer of the one it concerns.
            outcomes := '{}';
            FOREACH alone IN ARRAY this_round LOOP
                BEGIN
                    outcomes := outcomes || checkin_round(ARRAY[alone]);
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                            column_ = COLUMN_NAME, constraint_ = CONSTRAINT_NAME;
                    outcomes := outcomes || (alone.n, false, NULL, st, msg, nullif(column_, ''),
                                             nullif(constraint_, ''))::checkin_outcome;
                END;
            END LOOP;
        END;
        RETURN QUERY SELECT * FROM unnest(outcomes);
    END LOOP;
END
$$;

--------------------------------------------------------------------------------------------
-- The batch
--------------------------------------------------------------------------------------------

-- As 0014 (items: api_call_batch's, each with "actor" or "session"; one row per item, in any
-- order), with the usual batch sent straight to checkin_many.
CREATE OR REPLACE FUNCTION checkin_batch(items jsonb, idle_minutes int)
RETURNS TABLE (n int, ok boolean, body text, state text, message text, col text, cons text,
               account_id bigint, volunteer_id bigint, valid_ms bigint)
-- generic plans, as 0014's (its custom ones were made anew on every call)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    hashes text[];
    sessions_ int;
    plain boolean;  -- check-ins only, none with an Idempotency-Key
    accounts_ bigint[];
    volunteers_ bigint[];
    valid_ bigint[];
    dead int;
    runs int[];  -- the items that run, in order: runs[k] is the item of api_call_batch's row k
BEGIN
    IF jsonb_typeof(items) <> 'array' OR jsonb_array_length(items) > 64 THEN
        RAISE EXCEPTION 'checkin_batch takes an array of at most 64 items';
    END IF;
    SELECT array_agg(i.item ->> 'session' ORDER BY i.n), count(i.item ->> 'session'),
           bool_and(i.item ->> 'fn' = 'checkin' AND i.item ->> 'key' IS NULL)
      INTO hashes, sessions_, plain
      FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n);
    IF sessions_ = 0 THEN
        -- every item came with its actor (the worker had the sessions cached)
        RETURN QUERY SELECT b.n, b.ok, b.body, b.state, b.message, b.col, b.cons,
                            NULL::bigint, NULL::bigint, NULL::bigint
                       FROM api_call_batch(items) b;
        RETURN;
    END IF;

    SELECT array_agg(r.account_id ORDER BY g.n), array_agg(r.volunteer_id ORDER BY g.n),
           array_agg(r.valid_ms ORDER BY g.n),
           count(*) FILTER (WHERE hashes[g.n] IS NOT NULL AND r.account_id IS NULL)
      INTO accounts_, volunteers_, valid_, dead
      FROM generate_series(1, cardinality(hashes)) AS g(n)
      LEFT JOIN sessions_resolve_touch(hashes, idle_minutes) r ON r.i = g.n;

    IF plain AND dead = 0 THEN
        RETURN QUERY
        SELECT o.n, o.ok, o.result::text, o.state, o.message, o.col, o.cons,
               accounts_[o.n], volunteers_[o.n], valid_[o.n]
          FROM checkin_many(items, accounts_) o;
        RETURN;
    END IF;

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

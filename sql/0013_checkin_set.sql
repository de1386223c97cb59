-- 0013_checkin_set.sql: check-ins many at a time, in a few set-based statements.
--
-- Profiled (README, "Performance"): a check-in cost about 0.47 ms of PostgreSQL CPU, spent on
-- a dozen small statements per item plus a subtransaction per item of a batch.  Here the
-- rules of a check-in are stated once, over a set of requests, and everything uses them:
--
--   * attendance_who(): who is being checked in or out, and how (0006's attendance_actor, as
--     a query that says why it refuses instead of raising).  attendance_actor, and so
--     check-out, now raises what it says.
--   * checkin_many(items): every rule of api.checkin for many requests at once: one row per
--     item, either the attendance or the error exactly as problem() (or the unique index)
--     would raise it.  A batch costs a handful of statements whatever its size: one
--     INSERT ... SELECT into attendances, one into audit_log.
--   * api.checkin(actor, args): checkin_many of one item, its error raised; the single request
--     and the batch share the rules.
--   * api_call_batch(items): its check-ins go through checkin_many together, with the
--     Idempotency-Key semantics of api_call; check-outs keep the per-item path.
--
-- Ordering.  A batch's requests are concurrent: any serial order is a true answer, and this
-- one is chosen: a volunteer's requests run in arrival order, each seeing the one before
-- (two check-ins of one volunteer in one batch: the second gets the 409 it would get after the
-- first; a check-in and then a check-out both succeed); walk-ins take the last places in
-- arrival order.  checkin_many runs in rounds, a volunteer's first request in the first round,
-- their second (rare) in the next, and so on.

--------------------------------------------------------------------------------------------
-- Shapes
--------------------------------------------------------------------------------------------

-- A refusal not raised yet: problem(status, field, message) later, by whoever has to raise.
-- Test one with (r).status IS NULL: a row with a NULL field is neither NULL nor NOT NULL.
CREATE TYPE refusal AS (status int, field text, message text);

-- One check-in request after the rules that do not depend on the attendances (who, code,
-- event, window): refused, or to run in `round` (its rank among the volunteer's requests).
CREATE TYPE checkin_request AS (
    n int,  -- its place in checkin_many's items, from 1
    actor bigint,
    ip inet,
    rid text,
    event_id bigint,
    volunteer bigint,
    method text,
    at timestamptz,
    walk_ins_allowed boolean,
    refused refusal,
    round int
);

-- The outcome of one check-in: ok and the attendance, or the error as it would be raised
-- (SQLSTATE, message, column, constraint: what the server maps to a status).
CREATE TYPE checkin_outcome AS (
    n int,
    ok boolean,
    result jsonb,
    state text,
    message text,
    col text,
    cons text
);

--------------------------------------------------------------------------------------------
-- Who: the rule of attendance_actor, once
--------------------------------------------------------------------------------------------

-- The caller themself with the event's code ('self'; a coordinator of the event needs no code
-- and is 'roster'), or someone else by a coordinator of the event ('roster': 404 for staff
-- outside its scope, 403 for everyone else, as authz_event_write).  Returns the volunteer, the
-- method, and why not (NULL: allowed).  A set-returning SQL function, so that a query calling
-- it per row gets it inlined; OFFSET 0 keeps each value computed once per row.
CREATE FUNCTION attendance_who(actor bigint, args jsonb, e events, p hour_policies)
RETURNS TABLE (volunteer bigint, method text, refused refusal)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN s.for_self THEN o.own ELSE o.given END,
           CASE WHEN s.for_self AND NOT (o.code IS NULL AND z.level >= 2) THEN 'self' ELSE 'roster' END,
           CASE
               WHEN s.for_self AND o.own IS NULL THEN
                   (422, 'volunteer_id', 'this account has no volunteer record: name the volunteer')::refusal
               WHEN s.for_self AND o.code IS NULL AND z.level < 2 THEN
                   (403, 'code', 'the check-in code is required: scan the poster or ask the coordinator')::refusal
               WHEN s.for_self AND o.code IS NOT NULL
                    AND NOT (CASE WHEN p.static_code THEN o.code = e.checkin_code
                                  ELSE coalesce((args ->> 'code_ok')::boolean, false) END) THEN
                   (403, 'code', 'wrong or expired check-in code: scan the poster again')::refusal
               WHEN NOT s.for_self AND z.level < 2 AND actor_is_staff(actor) THEN
                   (404, NULL, 'event not found')::refusal
               WHEN NOT s.for_self AND z.level < 2 THEN
                   (403, NULL, 'only a coordinator of this event may do this')::refusal
               WHEN NOT s.for_self AND NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.id = o.given) THEN
                   (422, 'volunteer_id', 'no such volunteer')::refusal
           END
      FROM (SELECT (SELECT a.volunteer_id FROM accounts a WHERE a.id = actor) AS own,
                   arg_id(args, 'volunteer_id') AS given, args ->> 'code' AS code OFFSET 0) o
     CROSS JOIN LATERAL (SELECT coalesce(o.given IS NULL OR o.given = o.own, false) AS for_self) s
     -- the role over the event, only where a rule asks for it (a volunteer with a code: never)
     CROSS JOIN LATERAL (SELECT CASE WHEN NOT s.for_self OR o.code IS NULL
                                     THEN authz_level(actor, e.org_unit_id, e.team_id) ELSE 0 END AS level
                          OFFSET 0) z
$$;

CREATE OR REPLACE FUNCTION attendance_actor(actor bigint, args jsonb, e events, p hour_policies,
                                            OUT volunteer bigint, OUT method text)
LANGUAGE plpgsql AS $$
DECLARE
    who record;
BEGIN
    SELECT * INTO who FROM attendance_who(actor, args, e, p);
    IF (who.refused).status IS NOT NULL THEN
        PERFORM problem((who.refused).status, (who.refused).field, (who.refused).message);
    END IF;
    volunteer := who.volunteer;
    method := who.method;
END
$$;

--------------------------------------------------------------------------------------------
-- The answer's shape, with the entry given
--------------------------------------------------------------------------------------------

-- An attendance as the API shows it (0006's attendance_json), its ledger entry passed in, so
-- that a query answering for many attendances whose entries it knows needs no look-up per row
-- (a check-in has none yet).  One SELECT without FROM: the planner inlines it.
CREATE FUNCTION attendance_shape(a attendances, e hour_entries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'event_id', a.event_id, 'volunteer_id', a.volunteer_id,
        'check_in_at', a.check_in_at, 'check_out_at', a.check_out_at, 'method', a.method,
        'flags', to_jsonb(a.flags), 'voided', a.voided_at IS NOT NULL,
        'credited_minutes', CASE WHEN a.check_out_at IS NULL THEN NULL ELSE e.minutes END,
        'entry', CASE WHEN e.id IS NULL THEN NULL ELSE entry_json(e) END)
$$;

-- The shape with the attendance's live entry (attendance_entry).  The entry goes through a
-- variable: an argument computed by a function and used more than once would keep the planner
-- from inlining attendance_shape.
CREATE OR REPLACE FUNCTION attendance_json(a attendances) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e hour_entries := attendance_entry(a.id);
BEGIN
    RETURN attendance_shape(a, e);
END
$$;

--------------------------------------------------------------------------------------------
-- Check-in, many at once
--------------------------------------------------------------------------------------------

-- One round of checkin_many: requests of distinct volunteers that passed the stateless rules.
-- The rules that depend on attendances (one open attendance per volunteer, no credited time
-- ahead, sign-up or walk-in within capacity), then the INSERTs.  Raises only what the
-- database itself says (a constraint a request could not foresee, a deadlock): checkin_many
-- then finds whose it is.
CREATE FUNCTION checkin_round(requests checkin_request[]) RETURNS checkin_outcome[]
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    outcomes checkin_outcome[];
BEGIN
    -- Walk-ins take their events' locks, in id order as sign-ups do (0001), so that two
    -- transactions cannot both take the last place; the next statement counts the places
    -- with a snapshot taken after the locks.
    PERFORM 1 FROM events ev
     WHERE ev.id IN (SELECT r.event_id FROM unnest(requests) r
                      WHERE r.walk_ins_allowed
                        AND NOT EXISTS (SELECT 1 FROM signups s
                                         WHERE s.event_id = r.event_id AND s.volunteer_id = r.volunteer
                                           AND s.status = 'confirmed'))
     ORDER BY ev.id
       FOR NO KEY UPDATE;

    WITH r AS (
        SELECT r.n, r.actor, r.ip, r.rid, r.event_id, r.volunteer, r.method, r.at, r.walk_ins_allowed,
               (SELECT x.event_id FROM attendances x
                 WHERE x.volunteer_id = r.volunteer AND x.check_out_at IS NULL AND x.voided_at IS NULL) AS open_at,
               -- rule 3 said clearly; the exclusion constraint still decides a race
               EXISTS (SELECT 1 FROM hour_entries h
                        WHERE h.volunteer_id = r.volunteer AND h.status IN ('pending', 'approved')
                          AND h.started_at >= r.at - interval '7 days' AND h.ended_at > r.at
                          AND h.ended_at > h.started_at) AS credited_ahead,
               EXISTS (SELECT 1 FROM signups s
                        WHERE s.event_id = r.event_id AND s.volunteer_id = r.volunteer
                          AND s.status = 'confirmed') AS signed_up
          FROM unnest(requests) r
    ), walk_in AS (
        -- The walk-ins that passed the rules before capacity, in arrival order per event.  (One
        -- that then loses the race below to another transaction's check-in of the same
        -- volunteer has been counted: the event is then full one walk-in early, never over.)
        SELECT r.n, r.event_id, row_number() OVER (PARTITION BY r.event_id ORDER BY r.n) AS place
          FROM r
         WHERE r.open_at IS NULL AND NOT r.credited_ahead AND NOT r.signed_up AND r.walk_ins_allowed
    ), places AS (
        -- what is left of an event's capacity: confirmed sign-ups and walk-ins take a place each
        SELECT ev.id AS event_id,
               ev.capacity - ev.confirmed_count
               - (SELECT count(*) FROM attendances x
                   WHERE x.event_id = ev.id AND x.voided_at IS NULL AND 'walk_in' = ANY (x.flags)) AS left_
          FROM events ev
         WHERE ev.id IN (SELECT w.event_id FROM walk_in w) AND ev.capacity IS NOT NULL
    ), judged AS (
        SELECT r.*, w.n IS NOT NULL AS walk_in,
               CASE
                   WHEN r.open_at = r.event_id THEN
                       (409, NULL, 'already checked in at this event')::refusal
                   WHEN r.open_at IS NOT NULL THEN
                       (409, NULL, format('already checked in at event %s: check out there first', r.open_at))::refusal
                   WHEN r.credited_ahead THEN
                       (409, NULL, 'time from now on is already credited to this volunteer (a reported entry)')::refusal
                   WHEN NOT r.signed_up AND NOT r.walk_ins_allowed THEN
                       (409, NULL, 'you are not signed up for this event, and it takes no walk-ins')::refusal
                   WHEN w.place > p.left_ THEN
                       (409, NULL, 'the event is full')::refusal
               END AS refused
          FROM r
          LEFT JOIN walk_in w ON w.n = r.n
          LEFT JOIN places p ON p.event_id = w.event_id
    ), inserted AS (
        INSERT INTO attendances (event_id, volunteer_id, check_in_at, method, flags, created_by, ip)
        SELECT j.event_id, j.volunteer, j.at,
               CASE WHEN j.walk_in AND j.method = 'self' THEN 'walk_in' ELSE j.method END,
               CASE WHEN j.walk_in THEN ARRAY['walk_in'] ELSE '{}' END,
               j.actor, j.ip
          FROM judged j
         WHERE (j.refused).status IS NULL
         ORDER BY j.n
        -- Another transaction checked the volunteer in since we looked: its check-in stands and
        -- this one is refused as the unique index refuses it (the same 409 as before).  Only
        -- this index can arbitrate: the exclusion constraint is deferrable.
            ON CONFLICT (volunteer_id) WHERE check_out_at IS NULL AND voided_at IS NULL DO NOTHING
        RETURNING attendances AS a
    ), audited AS (
        INSERT INTO audit_log (account_id, ip, action, entity, entity_id, old, new, request_id)
        SELECT nullif(j.actor, 0), j.ip, 'check_in', 'attendance', (i.a).id, NULL, to_jsonb(i.a), j.rid
          FROM inserted i JOIN judged j ON j.volunteer = (i.a).volunteer_id
    )
    SELECT array_agg(CASE
               WHEN (j.refused).status IS NOT NULL THEN
                   (j.n, false, NULL, 'VD' || (j.refused).status, (j.refused).message, (j.refused).field, NULL)::checkin_outcome
               WHEN i.a IS NULL THEN
                   (j.n, false, NULL, '23505',
                    'duplicate key value violates unique constraint "attendances_one_open_per_volunteer"',
                    NULL, 'attendances_one_open_per_volunteer')::checkin_outcome
               -- the answer of api.checkin: the new attendance, which has no ledger entry yet
               ELSE (j.n, true, attendance_shape(i.a, NULL), NULL, NULL, NULL, NULL)::checkin_outcome
           END ORDER BY j.n)
      INTO outcomes
      FROM judged j
      LEFT JOIN inserted i ON (i.a).volunteer_id = j.volunteer;
    RETURN outcomes;
END
$$;

-- items: [{"actor", "args", "ip", "rid"}, ...]: the parameters of api.checkin and the request
-- context that api_call would have set (the audit row's account, address and request id).
-- One row per item, n its place in items from 1.  All rules of a check-in, in the order the
-- single request always checked them (so that a request refused for two reasons gets the same
-- one): event 404, who (attendance_who), cancelled, the window, one open attendance, credited
-- time ahead, sign-up or walk-in within capacity.
CREATE FUNCTION checkin_many(items jsonb) RETURNS SETOF checkin_outcome
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
        SELECT i.n::int AS n, (i.item ->> 'actor')::bigint AS actor, i.item -> 'args' AS args,
               host(nullif(i.item ->> 'ip', '')::inet)::inet AS ip, nullif(i.item ->> 'rid', '') AS rid
          FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n)
    ), judged AS (
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
         CROSS JOIN LATERAL attendance_who(g.actor, g.args, e, p) w
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

-- Raise an outcome's error as it was found: problem() for our own refusals, else the
-- database's error with its constraint.
CREATE FUNCTION checkin_raise(o checkin_outcome) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF o.state LIKE 'VD%' THEN
        PERFORM problem(substr(o.state, 3)::int, o.col, o.message);
    END IF;
    RAISE EXCEPTION USING ERRCODE = o.state, MESSAGE = o.message, COLUMN = coalesce(o.col, ''),
                          CONSTRAINT = coalesce(o.cons, '');
END
$$;

-- POST /events/{id}/check-ins: one request is a set of one.
CREATE OR REPLACE FUNCTION api.checkin(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o checkin_outcome;
BEGIN
    SELECT * INTO o
      FROM checkin_many(jsonb_build_array(jsonb_build_object(
               'actor', actor, 'args', args,
               'ip', current_setting('vd.ip', true), 'rid', current_setting('vd.rid', true))));
    IF NOT o.ok THEN
        PERFORM checkin_raise(o);
    END IF;
    RETURN o.result;
END
$$;

--------------------------------------------------------------------------------------------
-- Group commit with set-based check-ins
--------------------------------------------------------------------------------------------

-- The scope of an Idempotency-Key, as api_call (0002) computes it: the account, or the address
-- of an anonymous caller.
CREATE FUNCTION idempotency_scope(actor bigint, ip inet) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(actor, 0) > 0 THEN 'account:' || actor ELSE 'anon:' || coalesce(host(ip), '') END
$$;

-- api_call('checkin', ...) for many calls (items as api_call_batch's, their keys distinct):
-- one row per item, n its place in items from 1.  The Idempotency-Key as api_call handles it:
-- the key is claimed first (a concurrent claim of the same key waits for the other
-- transaction); a key already there answers with the stored response, or 422 for another
-- request; a check-in that fails keeps no key; one that succeeds stores its answer.
CREATE FUNCTION checkin_calls(items jsonb)
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
        INSERT INTO idempotency_keys (scope, key, request_hash)
        SELECT k.scope, k.key, k.hash FROM keyed k ORDER BY k.scope, k.key
            ON CONFLICT DO NOTHING
        RETURNING scope, key
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

-- items: [{"fn", "actor", "args", "key", "hash", "ip", "rid"}, ...] as before (0008), one row
-- per item in any order.  Check-ins run together through checkin_calls; check-outs one by one
-- through api_call in their own subtransactions, ordered by event as before (so two batches
-- take event locks in the same order).  A check-out runs before the check-ins unless the same
-- volunteer has a check-in earlier in the batch, then after them.  A key used twice in one
-- batch (a retry that caught up with its first try): the later use runs in a later pass, when
-- the first has stored its answer or given its key up.
CREATE OR REPLACE FUNCTION api_call_batch(items jsonb)
RETURNS TABLE (n int, ok boolean, body text, state text, message text, col text, cons text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    plan jsonb;
    step record;
    it record;
    res jsonb;
    only_checkins boolean;
    keys int;
    distinct_keys int;
BEGIN
    IF jsonb_typeof(items) <> 'array' OR jsonb_array_length(items) > 64 THEN
        RAISE EXCEPTION 'api_call_batch takes an array of at most 64 items';
    END IF;
    -- The usual batch, check-ins only: straight to checkin_many when no call has a key, and
    -- through checkin_calls when no key is used twice.
    SELECT bool_and(i.item ->> 'fn' = 'checkin'), count(i.item ->> 'key'),
           count(DISTINCT (idempotency_scope((i.item ->> 'actor')::bigint, (i.item ->> 'ip')::inet),
                           i.item ->> 'key')) FILTER (WHERE i.item ->> 'key' IS NOT NULL)
      INTO only_checkins, keys, distinct_keys
      FROM jsonb_array_elements(items) AS i(item);
    IF only_checkins AND keys = 0 THEN
        RETURN QUERY SELECT o.n, o.ok, o.result::text, o.state, o.message, o.col, o.cons FROM checkin_many(items) o;
        RETURN;
    ELSIF only_checkins AND keys = distinct_keys THEN
        RETURN QUERY SELECT * FROM checkin_calls(items);
        RETURN;
    END IF;

    RETURN QUERY
    SELECT i.n::int, false, NULL::text, 'XX000', 'api_call_batch runs check-ins and check-outs only',
           NULL::text, NULL::text
      FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n)
     WHERE (i.item ->> 'fn') IS DISTINCT FROM 'checkin' AND (i.item ->> 'fn') IS DISTINCT FROM 'checkout';

    -- Each call's pass (its rank among the uses of its key) and phase: 0 check-outs before the
    -- check-ins, 1 the check-ins, 2 check-outs after them.
    WITH calls AS (
        SELECT i.n::int AS n, i.item ->> 'fn' AS fn, arg_id(i.item -> 'args', 'event_id') AS event_id,
               coalesce(arg_id(i.item -> 'args', 'volunteer_id'),
                        (SELECT a.volunteer_id FROM accounts a WHERE a.id = (i.item ->> 'actor')::bigint)) AS volunteer,
               CASE WHEN i.item ->> 'key' IS NULL THEN 1
                    ELSE row_number() OVER (PARTITION BY i.item ->> 'key' IS NULL,
                                            idempotency_scope((i.item ->> 'actor')::bigint, (i.item ->> 'ip')::inet),
                                            i.item ->> 'key' ORDER BY i.n) END AS pass
          FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, n)
         WHERE i.item ->> 'fn' IN ('checkin', 'checkout')
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'n', c.n, 'pass', c.pass, 'event_id', c.event_id,
               'phase', CASE WHEN c.fn = 'checkin' THEN 1
                             WHEN EXISTS (SELECT 1 FROM calls x
                                           WHERE x.fn = 'checkin' AND x.pass = c.pass
                                             AND x.volunteer = c.volunteer AND x.n < c.n) THEN 2
                             ELSE 0 END)), '[]')
      INTO plan
      FROM calls c;

    FOR step IN
        SELECT DISTINCT s.pass, s.phase FROM jsonb_to_recordset(plan) AS s(pass int, phase int)
         ORDER BY s.pass, s.phase
    LOOP
        IF step.phase = 1 THEN
            RETURN QUERY
            SELECT part.ns[c.n], c.ok, c.body, c.state, c.message, c.col, c.cons
              FROM (SELECT array_agg(s.n ORDER BY s.n) AS ns, jsonb_agg(items -> (s.n - 1) ORDER BY s.n) AS calls
                      FROM jsonb_to_recordset(plan) AS s(n int, pass int, phase int)
                     WHERE s.pass = step.pass AND s.phase = 1) part
             CROSS JOIN LATERAL checkin_calls(part.calls) c;
            CONTINUE;
        END IF;
        FOR it IN
            SELECT s.n, items -> (s.n - 1) AS item
              FROM jsonb_to_recordset(plan) AS s(n int, pass int, phase int, event_id bigint)
             WHERE s.pass = step.pass AND s.phase = step.phase
             ORDER BY s.event_id NULLS FIRST, s.n
        LOOP
            n := it.n;
            body := NULL; state := NULL; message := NULL; col := NULL; cons := NULL;
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
    END LOOP;
END
$$;

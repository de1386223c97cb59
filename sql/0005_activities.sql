-- 0005_activities.sql: activities (one-off and weekly), their events, and sign-ups.
--
-- The api functions of POST /activities, GET /activities/{id}[/events], GET /events[/{id}],
-- PATCH /events/{id}, POST /events/{id}/signups and DELETE /events/{id}/signups/{volunteer}.
-- The server has validated shapes and formats (times arrive as RFC 3339 in UTC, recurrences
-- with exactly their six keys); what needs the database is decided here.
--
-- Who may do what
--   * Reading activities and events: every logged-in account. They are public notices for
--     volunteers. Only staff in scope (authz_level >= coordinator over the event's org unit or
--     team) get the hidden `_checkin` member, which the server turns into checkin_code and
--     checkin_url and removes.
--   * Writing (create, PATCH, signing up someone else): a coordinator or admin in scope.
--     A caller without any staff grant gets 403 (the object is visible to them; their role
--     does not allow the write); staff whose scope does not reach it get 404, as everywhere.
--   * POST /activities: the team must be in the actor's scope (404 "team not found" otherwise,
--     also for a team that does not exist), and the org unit where it happens must be in the
--     actor's own org scope or in the team's org-unit subtree (else 422 on org_unit_id).
--   * Sign-ups: a volunteer signs up and cancels only themself; staff in scope anyone.
--
-- Invariants
--   * A sign-up decides confirmed vs waitlisted after locking the event row (FOR NO KEY
--     UPDATE), so concurrent sign-ups queue on that row and see each other's counts; the
--     CHECK events_confirmed_within_capacity backs it up.
--   * The waitlist is served by created_at (then volunteer_id): a cancellation of a confirmed
--     place, or a larger capacity, promotes in that order, in the same transaction.
--   * An event that has ended (ends_at <= now()) is never rewritten: PATCH, sign-up and
--     cancellation answer 409.
--   * Recurrences expand in the deployment's zone (app_time_zone()), one event per matching
--     local day from `from` to `until` inclusive, idempotently (events_activity_id_starts_at_key).
--   * Every write leaves an audit row in its transaction.

--------------------------------------------------------------------------------------------
-- Helpers
--------------------------------------------------------------------------------------------

-- Does actor hold any coordinator or admin grant at all?
CREATE FUNCTION actor_is_staff(actor bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM role_grants g
                    WHERE g.account_id = actor AND g.role IN ('admin', 'coordinator'))
$$;

-- The write check on an activity or event (see the header): pass, 404 or 403.
CREATE FUNCTION authz_event_write(actor bigint, unit bigint, team bigint, what text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF authz_level(actor, unit, team) >= role_level('coordinator') THEN
        RETURN;
    END IF;
    IF actor_is_staff(actor) THEN
        PERFORM problem(404, NULL, what || ' not found');
    END IF;
    PERFORM problem(403, NULL, 'only a coordinator of this ' || what || ' may do this');
END
$$;

-- MO..SU -> ISO day of week 1..7.
CREATE FUNCTION weekday_iso(code text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_position(ARRAY['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'], upper(code))
$$;

-- An instant from a query argument: YYYY-MM-DD is the start of that local day (or, with
-- day_end, of the next day, so that `to=2026-03-31` includes the 31st); anything else must
-- be a timestamp with an offset (the server has checked RFC 3339 already).
CREATE FUNCTION arg_instant(args jsonb, key text, day_end boolean) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text := args ->> key;
BEGIN
    IF v IS NULL THEN
        RETURN NULL;
    END IF;
    IF v ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        RETURN (v::date + CASE WHEN day_end THEN 1 ELSE 0 END)::timestamp AT TIME ZONE app_time_zone();
    END IF;
    RETURN v::timestamptz;
EXCEPTION WHEN data_exception THEN
    PERFORM problem(422, key, key || ' must be YYYY-MM-DD or an RFC 3339 time with an offset');
    RETURN NULL;
END
$$;

--------------------------------------------------------------------------------------------
-- Shapes
--------------------------------------------------------------------------------------------

CREATE FUNCTION activity_json(a activities) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'team_id', a.team_id, 'org_unit_id', a.org_unit_id, 'title', a.title,
        'category', a.category, 'location', a.location, 'capacity', a.capacity,
        'policy_id', a.policy_id, 'recurrence', a.recurrence,
        'event_count', (SELECT count(*) FROM events e WHERE e.activity_id = a.id),
        'created_at', a.created_at, 'updated_at', a.updated_at)
$$;

-- The public event; with staff, also `_checkin` for the server: {"static": code or null}
-- (a code when the activity's hour policy fixes it, null when the server derives it).
CREATE FUNCTION event_json(e events, staff boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id, 'activity_id', e.activity_id, 'title', a.title, 'category', a.category,
        'location', a.location, 'team_id', e.team_id, 'org_unit_id', e.org_unit_id,
        'starts_at', e.starts_at, 'ends_at', e.ends_at, 'capacity', e.capacity,
        'status', e.status, 'confirmed', e.confirmed_count, 'waitlisted', e.waitlisted_count)
        || CASE WHEN staff THEN jsonb_build_object('_checkin', jsonb_build_object(
                   'static', CASE WHEN p.static_code THEN e.checkin_code END))
                ELSE '{}'::jsonb END
      FROM activities a JOIN hour_policies p ON p.id = a.policy_id
     WHERE a.id = e.activity_id
$$;

CREATE FUNCTION signup_json(s signups) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('event_id', s.event_id, 'volunteer_id', s.volunteer_id,
                              'status', s.status, 'created_at', s.created_at,
                              'updated_at', s.updated_at)
$$;

-- Keyset cursor of event lists ordered by (starts_at, id): "<epoch microseconds>_<id>".
CREATE FUNCTION event_cursor(e events) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT (extract(epoch FROM e.starts_at) * 1000000)::bigint::text || '_' || e.id
$$;

--------------------------------------------------------------------------------------------
-- Recurrence
--------------------------------------------------------------------------------------------

-- Create the events an activity's recurrence calls for and that do not exist yet; returns how
-- many were created. Idempotent: an event already at that start (even a cancelled one) stays
-- as it is. An event moved by PATCH leaves its original slot free, so a regeneration would
-- fill that slot again: regenerate only after changing the recurrence itself.
CREATE FUNCTION activity_generate_events(activity bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    a  activities;
    r  jsonb;
    tz text := app_time_zone();
    n  int;
BEGIN
    SELECT * INTO a FROM activities WHERE id = activity;
    r := a.recurrence;
    IF r IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO events (activity_id, team_id, org_unit_id, starts_at, ends_at, capacity)
    SELECT a.id, a.team_id, a.org_unit_id,
           (d + (r ->> 'start_time')::time) AT TIME ZONE tz,
           (d + (r ->> 'end_time')::time) AT TIME ZONE tz,
           a.capacity
      FROM (SELECT (r ->> 'from')::date + i AS d
              FROM generate_series(0, (r ->> 'until')::date - (r ->> 'from')::date) i) days
     WHERE extract(isodow FROM d)::int IN (SELECT weekday_iso(x) FROM jsonb_array_elements_text(r -> 'byday') x)
     ORDER BY d
    ON CONFLICT ON CONSTRAINT events_activity_id_starts_at_key DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

--------------------------------------------------------------------------------------------
-- Activities
--------------------------------------------------------------------------------------------

-- POST /activities: {team_id, org_unit_id, title, category?, location?, capacity?} and either
-- {starts_at, ends_at} (one event) or {recurrence} (weekly events).
CREATE FUNCTION api.activity_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    team bigint := arg_id(args, 'team_id');
    unit bigint := arg_id(args, 'org_unit_id');
    t    teams;
    a    activities;
    n    int;
BEGIN
    IF NOT actor_is_staff(actor) THEN
        PERFORM problem(403, NULL, 'only coordinators and administrators create activities');
    END IF;
    SELECT * INTO t FROM teams WHERE id = team;
    IF NOT FOUND THEN
        PERFORM problem(404, 'team_id', 'team not found');
    END IF;
    PERFORM authz_require(authz_level(actor, NULL, team), 'coordinator', 'team');
    IF NOT EXISTS (SELECT 1 FROM org_units WHERE id = unit)
       OR NOT (authz_level(actor, unit, NULL) >= role_level('coordinator')
               OR org_unit_covers(t.org_unit_id, unit)) THEN
        PERFORM problem(422, 'org_unit_id',
                        'no such org unit in your scope or under the team''s own unit');
    END IF;
    INSERT INTO activities (team_id, org_unit_id, title, category, location, capacity, recurrence,
                            created_by)
    VALUES (team, unit, args ->> 'title', args ->> 'category', args ->> 'location',
            (args ->> 'capacity')::int, args -> 'recurrence', actor)
    RETURNING * INTO a;
    IF a.recurrence IS NULL THEN
        INSERT INTO events (activity_id, team_id, org_unit_id, starts_at, ends_at, capacity)
        VALUES (a.id, a.team_id, a.org_unit_id, (args ->> 'starts_at')::timestamptz,
                (args ->> 'ends_at')::timestamptz, a.capacity);
        n := 1;
    ELSE
        n := activity_generate_events(a.id);
    END IF;
    PERFORM audit('create', 'activity', a.id, NULL, to_jsonb(a) || jsonb_build_object('events', n));
    RETURN activity_json(a);
END
$$;

-- GET /activities/{id}: any logged-in account.
CREATE FUNCTION api.activity_get(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT activity_json(a) FROM activities a WHERE a.id = arg_id(args, 'id')
$$;

--------------------------------------------------------------------------------------------
-- Events
--------------------------------------------------------------------------------------------

-- One page of events ordered by (starts_at, id), optionally of one activity, between from and
-- to (starts_at in [from, to)), under an org unit's subtree, of one team.
CREATE FUNCTION events_page(actor bigint, args jsonb, activity bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lim      int := arg_limit(args);
    cur      text := args ->> 'cursor';
    after_at timestamptz;
    after_id bigint;
    t_from   timestamptz := arg_instant(args, 'from', false);
    t_to     timestamptz := arg_instant(args, 'to', true);
    unit     bigint := arg_opt_id(args, 'org_unit_id');
    team     bigint := arg_opt_id(args, 'team_id');
    rows     jsonb;
BEGIN
    IF cur IS NOT NULL THEN
        IF cur !~ '^-?[0-9]{1,18}_[0-9]{1,18}$' THEN
            PERFORM problem(422, 'cursor', 'cursor is not one this server gave out');
        END IF;
        after_at := 'epoch'::timestamptz + split_part(cur, '_', 1)::bigint * interval '1 microsecond';
        after_id := split_part(cur, '_', 2)::bigint;
    END IF;
    IF t_from IS NOT NULL AND t_to IS NOT NULL AND t_to <= t_from THEN
        PERFORM problem(422, 'to', 'to must be after from');
    END IF;
    SELECT coalesce(jsonb_agg(event_json(p.ev, authz_level(actor, (p.ev).org_unit_id, (p.ev).team_id)
                                               >= role_level('coordinator'))
                              || jsonb_build_object('_cursor', event_cursor(p.ev))
                              ORDER BY (p.ev).starts_at, (p.ev).id), '[]'::jsonb)
      INTO rows
      FROM (SELECT e AS ev FROM events e
             WHERE (activity IS NULL OR e.activity_id = activity)
               AND (t_from IS NULL OR e.starts_at >= t_from)
               AND (t_to IS NULL OR e.starts_at < t_to)
               AND (unit IS NULL OR e.org_unit_id IN (SELECT id FROM org_unit_subtree(unit)))
               AND (team IS NULL OR e.team_id = team)
               AND (after_at IS NULL OR (e.starts_at, e.id) > (after_at, after_id))
             ORDER BY e.starts_at, e.id
             LIMIT lim + 1) p;
    RETURN jsonb_build_object(
        'items', coalesce((SELECT jsonb_agg(x - '_cursor' ORDER BY i)
                             FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(x, i)
                            WHERE i <= lim), '[]'::jsonb),
        'next_cursor', CASE WHEN jsonb_array_length(rows) > lim
                            THEN rows -> (lim - 1) ->> '_cursor' END);
END
$$;

-- GET /activities/{id}/events: any logged-in account; 404 when the activity does not exist.
CREATE FUNCTION api.activity_events(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM activities WHERE id = arg_id(args, 'id')) THEN
        RETURN NULL;
    END IF;
    RETURN events_page(actor, args - 'from' - 'to' - 'org_unit_id' - 'team_id', arg_id(args, 'id'));
END
$$;

-- GET /events?from=&to=&org_unit_id=&team_id=: any logged-in account.
CREATE FUNCTION api.events_list(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT events_page(actor, args, NULL)
$$;

-- GET /events/{id}: any logged-in account; staff in scope also get `_checkin`.
CREATE FUNCTION api.event_get(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT event_json(e, authz_level(actor, e.org_unit_id, e.team_id) >= role_level('coordinator'))
      FROM events e WHERE e.id = arg_id(args, 'id')
$$;

-- Promote waitlisted sign-ups of an event (whose row the caller has locked) into the free
-- places, first come first served; audits each promotion and returns how many.
CREATE FUNCTION signups_promote(event bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    e events;
    n int;
BEGIN
    SELECT * INTO e FROM events WHERE id = event;
    IF e.capacity IS NOT NULL AND e.confirmed_count >= e.capacity THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        UPDATE signups s SET status = 'confirmed'
         WHERE s.event_id = event
           AND s.volunteer_id IN (SELECT w.volunteer_id FROM signups w
                                   WHERE w.event_id = event AND w.status = 'waitlisted'
                                   ORDER BY w.created_at, w.volunteer_id
                                   LIMIT CASE WHEN e.capacity IS NULL THEN NULL
                                              ELSE e.capacity - e.confirmed_count END)
        RETURNING s.*),
    audited AS (
        SELECT audit('promote', 'signup', m.event_id, jsonb_build_object('volunteer_id', m.volunteer_id,
                     'status', 'waitlisted'), signup_json(m)) FROM moved m)
    SELECT count(*) INTO n FROM audited;
    RETURN n;
END
$$;

-- PATCH /events/{id} {status?, capacity?, starts_at?, ends_at?}: a coordinator in scope; never
-- once the event has ended, and a started event keeps its start.
CREATE FUNCTION api.event_update(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e      events;
    ne     events;
    new_st text;
    cap    int;
    s_at   timestamptz;
    e_at   timestamptz;
BEGIN
    SELECT * INTO e FROM events WHERE id = arg_id(args, 'id') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
    IF e.ends_at <= now() THEN
        PERFORM problem(409, NULL, 'the event has ended; a past event is never rewritten');
    END IF;
    new_st := coalesce(args ->> 'status', e.status);
    cap := CASE WHEN args ? 'capacity' THEN (args ->> 'capacity')::int ELSE e.capacity END;
    s_at := coalesce((args ->> 'starts_at')::timestamptz, e.starts_at);
    e_at := coalesce((args ->> 'ends_at')::timestamptz, e.ends_at);
    IF s_at <> e.starts_at AND e.starts_at <= now() THEN
        PERFORM problem(409, 'starts_at', 'the event has started; its start can no longer move');
    END IF;
    IF e_at <= s_at THEN
        PERFORM problem(422, CASE WHEN args ? 'ends_at' THEN 'ends_at' ELSE 'starts_at' END,
                        'ends_at must be after starts_at');
    END IF;
    IF e_at <> e.ends_at AND e_at <= now() THEN
        PERFORM problem(422, 'ends_at', 'ends_at must be in the future');
    END IF;
    IF cap IS NOT NULL AND cap < e.confirmed_count THEN
        PERFORM problem(409, 'capacity', format('capacity %s is below the %s confirmed sign-ups',
                                                cap, e.confirmed_count));
    END IF;
    UPDATE events SET status = new_st, capacity = cap, starts_at = s_at, ends_at = e_at
     WHERE id = e.id
    RETURNING * INTO ne;
    IF cap IS NULL OR cap > coalesce(e.capacity, 0) THEN
        PERFORM signups_promote(e.id);
        SELECT * INTO ne FROM events WHERE id = e.id;
    END IF;
    PERFORM audit('update', 'event', e.id,
                  jsonb_build_object('status', e.status, 'capacity', e.capacity,
                                     'starts_at', e.starts_at, 'ends_at', e.ends_at),
                  jsonb_build_object('status', ne.status, 'capacity', ne.capacity,
                                     'starts_at', ne.starts_at, 'ends_at', ne.ends_at));
    RETURN event_json(ne, true);
END
$$;

--------------------------------------------------------------------------------------------
-- Sign-ups
--------------------------------------------------------------------------------------------

-- POST /events/{id}/signups {volunteer_id}: the server fills volunteer_id with the caller's
-- own record when the body names none. A repeat returns the live sign-up with
-- `_created: false` (the server answers 200 instead of 201 and drops the member).
CREATE FUNCTION api.signup_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    ev  bigint := arg_id(args, 'event_id');
    vol bigint := arg_id(args, 'volunteer_id');
    e   events;
    s   signups;
    st  text;
    had boolean;
    own bigint := (SELECT volunteer_id FROM accounts WHERE id = actor);
BEGIN
    -- The lock that serializes sign-ups of one event: counts read after it are current.
    SELECT * INTO e FROM events WHERE id = ev FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'event not found');
    END IF;
    IF vol IS DISTINCT FROM own THEN
        PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.id = vol) THEN
        PERFORM problem(422, 'volunteer_id', 'no such volunteer');
    END IF;
    SELECT * INTO s FROM signups WHERE event_id = ev AND volunteer_id = vol;
    had := FOUND;
    IF had AND s.status <> 'cancelled' THEN
        RETURN signup_json(s) || '{"_created": false}'::jsonb;
    END IF;
    IF e.status = 'cancelled' THEN
        PERFORM problem(409, NULL, 'the event is cancelled');
    END IF;
    IF e.ends_at <= now() THEN
        PERFORM problem(409, NULL, 'the event has ended');
    END IF;
    IF (SELECT v.status FROM volunteers v WHERE v.id = vol) <> 'active' THEN
        PERFORM problem(409, 'volunteer_id', 'the volunteer is suspended');
    END IF;
    -- created_at is the time of the decision (after the lock), not of the transaction's
    -- start, so that the waitlist's order is the order in which places were handed out.
    st := CASE WHEN e.capacity IS NULL OR e.confirmed_count < e.capacity
               THEN 'confirmed' ELSE 'waitlisted' END;
    IF had THEN
        -- a renewed sign-up joins the end of the queue
        UPDATE signups SET status = st, created_at = clock_timestamp(), created_by = actor
         WHERE event_id = ev AND volunteer_id = vol
        RETURNING * INTO s;
    ELSE
        INSERT INTO signups (event_id, volunteer_id, status, created_by, created_at)
        VALUES (ev, vol, st, actor, clock_timestamp())
        RETURNING * INTO s;
    END IF;
    PERFORM audit('signup', 'signup', ev, NULL, signup_json(s));
    RETURN signup_json(s) || '{"_created": true}'::jsonb;
END
$$;

-- DELETE /events/{id}/signups/{volunteer_id}: the volunteer themself or staff in scope.
-- Cancelling a confirmed place promotes the first waitlisted. Cancelling twice is a no-op.
CREATE FUNCTION api.signup_cancel(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    ev  bigint := arg_id(args, 'event_id');
    vol bigint := arg_id(args, 'volunteer_id');
    e   events;
    s   signups;
    own bigint := (SELECT volunteer_id FROM accounts WHERE id = actor);
BEGIN
    SELECT * INTO e FROM events WHERE id = ev FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'event not found');
    END IF;
    IF vol IS DISTINCT FROM own THEN
        PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
    END IF;
    SELECT * INTO s FROM signups WHERE event_id = ev AND volunteer_id = vol FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'sign-up not found');
    END IF;
    IF s.status = 'cancelled' THEN
        RETURN '{}'::jsonb;
    END IF;
    IF e.ends_at <= now() THEN
        PERFORM problem(409, NULL, 'the event has ended; its sign-ups are kept as they were');
    END IF;
    UPDATE signups SET status = 'cancelled' WHERE event_id = ev AND volunteer_id = vol;
    PERFORM audit('cancel', 'signup', ev, signup_json(s),
                  jsonb_build_object('volunteer_id', vol, 'status', 'cancelled'));
    IF s.status = 'confirmed' THEN
        PERFORM signups_promote(ev);
    END IF;
    RETURN '{}'::jsonb;
END
$$;

-- 0006_attendance.sql: check-in, check-out, the rules for hours, approval and the ledger's API.
--
-- The rules of DESIGN §3 live here once, each read from the event's hour policy:
--   1  the check-in window; one open attendance per volunteer (unique index);
--   2  credited = overlap of the attendance with the event, rounded down to the policy unit,
--      then the minimum credit and the daily cap;
--   3  no minute credited twice (exclusion constraints on attendances and on the ledger);
--   4  forgotten check-outs closed at ends_at + grace, credited to ends_at, pending;
--   5  approval mode auto/manual; flagged entries pending;
--   6  self-reports and backfills pending, with a reason;
--   7  corrections as new entries that void the old (trigger in 0001);
--   8  days and months in the deployment's zone (hour_entry_days, 0001).
-- Whether a rotating check-in code is right is decided by the server (it holds the key) and
-- passed in as code_ok; a static code is compared here.
--
-- Who may do what (events are public notices, 0005): a volunteer checks themself in and out
-- (with the event's code) and self-reports hours, at any event.  Acting on someone else's
-- attendance, the roster, backfills: a coordinator or admin over the event's org unit or team
-- (authz_event_write of 0005: 403 for an account without any staff grant, since the event is
-- visible to it; 404 for staff whose scope does not reach it).  Corrections and approval: a
-- coordinator over the place or team of the service; the volunteer whose attendance or entry
-- it is gets 403 (their own record, their role does not allow it); anyone else 404.

--------------------------------------------------------------------------------------------
-- Shapes
--------------------------------------------------------------------------------------------

CREATE FUNCTION entry_json(h hour_entries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', h.id, 'volunteer_id', h.volunteer_id, 'event_id', h.event_id,
        'attendance_id', h.attendance_id, 'activity_id', h.activity_id, 'team_id', h.team_id,
        'org_unit_id', h.org_unit_id, 'home_org_unit_id', h.home_org_unit_id,
        'started_at', h.started_at, 'ended_at', h.ended_at, 'minutes', h.minutes,
        'hours', to_char(h.minutes / 60.0, 'FM999990.00'), 'status', h.status,
        'flags', to_jsonb(h.flags), 'corrects', h.corrects, 'reason', h.reason,
        'created_by', h.created_by, 'created_at', h.created_at, 'decided_by', h.decided_by,
        'decided_at', h.decided_at, 'decision_reason', h.decision_reason)
$$;

-- The live (pending or approved) entry of an attendance, else its latest one.
CREATE FUNCTION attendance_entry(attendance bigint) RETURNS hour_entries
LANGUAGE sql STABLE AS $$
    SELECT * FROM hour_entries h WHERE h.attendance_id = attendance
     ORDER BY (h.status IN ('pending', 'approved')) DESC, h.id DESC LIMIT 1
$$;

CREATE FUNCTION attendance_json(a attendances) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'event_id', a.event_id, 'volunteer_id', a.volunteer_id,
        'check_in_at', a.check_in_at, 'check_out_at', a.check_out_at, 'method', a.method,
        'flags', to_jsonb(a.flags), 'voided', a.voided_at IS NOT NULL,
        'credited_minutes', CASE WHEN a.check_out_at IS NULL THEN NULL ELSE e.minutes END,
        'entry', CASE WHEN e.id IS NULL THEN NULL ELSE entry_json(e) END)
      FROM (SELECT (attendance_entry(a.id)).*) e
$$;

--------------------------------------------------------------------------------------------
-- The rules
--------------------------------------------------------------------------------------------

-- Rule 2: the minutes a credited span is worth under a policy, before the daily cap.
CREATE FUNCTION credit_minutes(span tstzrange, p hour_policies) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN m < p.min_credit_minutes THEN 0 ELSE m END
      FROM (SELECT CASE WHEN span IS NULL OR isempty(span) THEN 0
                        ELSE (floor(extract(epoch FROM upper(span) - lower(span)) / 60
                                    / p.rounding_minutes) * p.rounding_minutes)::int END AS m) t
$$;

-- The span of an attendance that counts: its overlap with the event (early arrival and
-- staying late are not credited).
CREATE FUNCTION credit_span(check_in timestamptz, check_out timestamptz, e events) RETURNS tstzrange
LANGUAGE sql IMMUTABLE AS $$
    SELECT tstzrange(greatest(check_in, e.starts_at), least(check_out, e.ends_at), '[)')
     WHERE greatest(check_in, e.starts_at) < least(check_out, e.ends_at)
    UNION ALL
    SELECT 'empty'::tstzrange
     WHERE greatest(check_in, e.starts_at) >= least(check_out, e.ends_at)
$$;

-- The daily cap: what is left of it on the local day the span starts, counting the minutes
-- the volunteer's live entries earned on that day (their split at local midnight, rule 8),
-- other than `except_entry` (the one being corrected).  Reached through the volunteer's index
-- on hour_entries (an entry is at most 7 days long), not by scanning a month of
-- hour_entry_days, which has no index on the volunteer.
CREATE FUNCTION daily_cap_left(volunteer bigint, at timestamptz, p hour_policies, except_entry bigint)
RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p.daily_cap_minutes IS NULL THEN NULL
                ELSE greatest(0, p.daily_cap_minutes - coalesce((
                    SELECT sum(d.minutes)
                      FROM (SELECT (at AT TIME ZONE app_time_zone())::date AS day) t
                      JOIN hour_entries h
                        ON h.volunteer_id = volunteer
                       AND h.started_at < (t.day + 1)::timestamp AT TIME ZONE app_time_zone()
                       AND h.started_at >= (t.day - 7)::timestamp AT TIME ZONE app_time_zone()
                       AND h.ended_at >= t.day::timestamp AT TIME ZONE app_time_zone()
                       AND h.status IN ('pending', 'approved')
                       AND h.id IS DISTINCT FROM except_entry
                      JOIN hour_entry_days d ON d.entry_id = h.id AND d.day = t.day), 0))::int END
$$;

-- Write the ledger entry of a closed attendance (rules 2 and 5), correcting `corrects` when
-- given.  Returns the new entry.
CREATE FUNCTION ledger_write(a attendances, e events, p hour_policies, extra_flags text[],
                             corrects bigint, reason text) RETURNS hour_entries
LANGUAGE plpgsql AS $$
DECLARE
    span tstzrange := a.credited;
    minutes int := credit_minutes(a.credited, p);
    cap int;
    flags text[] := array(SELECT DISTINCT f FROM unnest(a.flags || extra_flags) f
                           WHERE f IN ('walk_in', 'auto_checkout', 'correction', 'capped') ORDER BY f);
    h hour_entries;
BEGIN
    cap := daily_cap_left(a.volunteer_id, coalesce(lower(span), a.check_in_at), p, corrects);
    IF cap IS NOT NULL AND minutes > cap THEN
        minutes := cap;
        flags := flags || 'capped'::text;
    END IF;
    INSERT INTO hour_entries (volunteer_id, event_id, attendance_id, policy_id, started_at, ended_at,
                              minutes, status, flags, corrects, reason, created_by, decided_by)
    VALUES (a.volunteer_id, a.event_id, a.id, p.id,
            coalesce(lower(span), greatest(a.check_in_at, e.starts_at)),
            coalesce(upper(span), greatest(a.check_in_at, e.starts_at)),
            minutes,
            -- rule 5: anything flagged waits for a coordinator (a correction of an attendance
            -- whose entry was rejected corrects nothing, but is still a correction)
            CASE WHEN p.approval_mode = 'auto' AND corrects IS NULL
                      AND NOT flags && ARRAY['walk_in', 'auto_checkout', 'correction'] THEN 'approved' ELSE 'pending' END,
            flags, corrects, reason, ctx_actor(), NULL)
    RETURNING * INTO h;
    RETURN h;
END
$$;

-- The event, locked for this transaction, or 404.
CREATE FUNCTION event_for_update(id bigint) RETURNS events
LANGUAGE plpgsql AS $$
DECLARE e events;
BEGIN
    SELECT * INTO e FROM events WHERE events.id = event_for_update.id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'event not found');
    END IF;
    RETURN e;
END
$$;

-- The event, unlocked, or 404.
CREATE FUNCTION event_get(id bigint) RETURNS events
LANGUAGE plpgsql STABLE AS $$
DECLARE e events;
BEGIN
    SELECT * INTO e FROM events WHERE events.id = event_get.id;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'event not found');
    END IF;
    RETURN e;
END
$$;

CREATE FUNCTION event_policy(e events) RETURNS hour_policies
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM activities a JOIN hour_policies p ON p.id = a.policy_id WHERE a.id = e.activity_id
$$;

-- Who is being checked in or out, and how: the caller themself with the event's code
-- ('self'), or anyone by a coordinator of the event ('roster').  Returns (volunteer, method).
CREATE FUNCTION attendance_actor(actor bigint, args jsonb, e events, p hour_policies,
                                 OUT volunteer bigint, OUT method text)
LANGUAGE plpgsql AS $$
DECLARE
    own bigint := (SELECT volunteer_id FROM accounts WHERE id = actor);
    given bigint := arg_id(args, 'volunteer_id');
BEGIN
    IF given IS NULL OR given = own THEN
        IF own IS NULL THEN
            PERFORM problem(422, 'volunteer_id', 'this account has no volunteer record: name the volunteer');
        END IF;
        volunteer := own;
        method := 'self';
        IF authz_level(actor, e.org_unit_id, e.team_id) >= 2 AND args ->> 'code' IS NULL THEN
            method := 'roster';  -- a coordinator checking themself in needs no code
        ELSIF args ->> 'code' IS NULL THEN
            PERFORM problem(403, 'code', 'the check-in code is required: scan the poster or ask the coordinator');
        ELSIF NOT (CASE WHEN p.static_code THEN args ->> 'code' = e.checkin_code
                        ELSE coalesce((args ->> 'code_ok')::boolean, false) END) THEN
            PERFORM problem(403, 'code', 'wrong or expired check-in code: scan the poster again');
        END IF;
    ELSE
        PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');  -- 0005: 404 or 403
        IF NOT EXISTS (SELECT 1 FROM volunteers WHERE id = given) THEN
            PERFORM problem(422, 'volunteer_id', 'no such volunteer');
        END IF;
        volunteer := given;
        method := 'roster';
    END IF;
END
$$;

--------------------------------------------------------------------------------------------
-- Check-in and check-out
--------------------------------------------------------------------------------------------

-- POST /events/{id}/check-ins
CREATE FUNCTION api.checkin(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e events := event_get(arg_id(args, 'event_id'));
    p hour_policies := event_policy(e);
    who record;
    -- `at`: the time of the tap, set by the server only for a check-in queued offline on the
    -- check-in page (it has checked it against the page's presence proof); else now.
    now_ timestamptz := coalesce((args ->> 'at')::timestamptz, now());
    opens timestamptz;
    closes timestamptz;
    flags text[] := '{}';
    a attendances;
    open_at bigint;
BEGIN
    who := attendance_actor(actor, args, e, p);
    IF e.status <> 'scheduled' THEN
        PERFORM problem(409, NULL, 'the event was cancelled');
    END IF;
    opens := e.starts_at - make_interval(mins => p.checkin_open_before_minutes);
    closes := CASE WHEN p.checkin_close_after_start_minutes IS NULL THEN e.ends_at
                   ELSE least(e.ends_at, e.starts_at + make_interval(mins => p.checkin_close_after_start_minutes)) END;
    IF now_ < opens THEN
        PERFORM problem(409, NULL, format('check-in opens at %s, %s minutes before the start',
                        to_char(opens AT TIME ZONE app_time_zone(), 'HH24:MI'), p.checkin_open_before_minutes));
    ELSIF now_ >= closes THEN
        PERFORM problem(409, NULL, format('check-in closed at %s',
                        to_char(closes AT TIME ZONE app_time_zone(), 'HH24:MI')));
    END IF;
    -- Rule 1 and 3, said clearly; the unique index and the exclusion constraint still decide
    -- a race between two check-ins of one volunteer.
    SELECT x.event_id INTO open_at FROM attendances x
     WHERE x.volunteer_id = who.volunteer AND x.check_out_at IS NULL AND x.voided_at IS NULL;
    IF FOUND THEN
        PERFORM problem(409, NULL, CASE WHEN open_at = e.id THEN 'already checked in at this event'
                                        ELSE format('already checked in at event %s: check out there first', open_at) END);
    END IF;
    IF EXISTS (SELECT 1 FROM hour_entries h
                WHERE h.volunteer_id = who.volunteer AND h.status IN ('pending', 'approved')
                  AND h.started_at >= now_ - interval '7 days' AND h.ended_at > now_
                  AND h.ended_at > h.started_at) THEN
        PERFORM problem(409, NULL, 'time from now on is already credited to this volunteer (a reported entry)');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM signups s WHERE s.event_id = e.id AND s.volunteer_id = who.volunteer
                      AND s.status = 'confirmed') THEN
        -- A walk-in: only when the policy allows it and a place is left.  Walk-ins take the
        -- event's lock, so that two of them cannot take the last place together.
        IF NOT p.walk_ins_allowed THEN
            PERFORM problem(409, NULL, 'you are not signed up for this event, and it takes no walk-ins');
        END IF;
        e := event_for_update(e.id);
        IF e.capacity IS NOT NULL AND e.confirmed_count + (
               SELECT count(*) FROM attendances x
                WHERE x.event_id = e.id AND x.voided_at IS NULL AND 'walk_in' = ANY (x.flags)) >= e.capacity THEN
            PERFORM problem(409, NULL, 'the event is full');
        END IF;
        flags := ARRAY['walk_in'];
    END IF;
    INSERT INTO attendances (event_id, volunteer_id, check_in_at, method, flags, created_by, ip)
    VALUES (e.id, who.volunteer, now_, CASE WHEN flags = '{}' THEN who.method ELSE
                                            CASE WHEN who.method = 'roster' THEN 'roster' ELSE 'walk_in' END END,
            flags, actor, nullif(current_setting('vd.ip', true), '')::inet)
    RETURNING * INTO a;
    PERFORM audit('check_in', 'attendance', a.id, NULL, to_jsonb(a));
    RETURN attendance_json(a);
END
$$;

-- POST /events/{id}/check-outs
CREATE FUNCTION api.checkout(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e events := event_get(arg_id(args, 'event_id'));
    p hour_policies := event_policy(e);
    who record;
    a attendances;
    h hour_entries;
    out_at timestamptz := coalesce((args ->> 'at')::timestamptz, now());  -- as in api.checkin
BEGIN
    who := attendance_actor(actor, args, e, p);
    SELECT * INTO a FROM attendances x
     WHERE x.event_id = e.id AND x.volunteer_id = who.volunteer
       AND x.check_out_at IS NULL AND x.voided_at IS NULL
     FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(409, NULL, 'not checked in at this event');
    END IF;
    UPDATE attendances SET check_out_at = greatest(out_at, a.check_in_at),
                           credited = credit_span(a.check_in_at, greatest(out_at, a.check_in_at), e)
     WHERE id = a.id RETURNING * INTO a;
    h := ledger_write(a, e, p, '{}', NULL, NULL);
    PERFORM audit('check_out', 'attendance', a.id, NULL, to_jsonb(a));
    RETURN attendance_json(a);
END
$$;

-- Rule 4, run by every server every minute; one runner at a time across servers (the
-- advisory lock), idempotent (only open attendances past their deadline are touched).
-- Returns how many it closed.
CREATE FUNCTION auto_checkout_run() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    row_ record;
    a attendances;
    e events;
    p hour_policies;
    n int := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7301002) THEN
        RETURN 0;
    END IF;
    FOR row_ IN
        SELECT x.id FROM attendances x
          JOIN events ev ON ev.id = x.event_id
          JOIN activities ac ON ac.id = ev.activity_id
          JOIN hour_policies pol ON pol.id = ac.policy_id
         WHERE x.check_out_at IS NULL AND x.voided_at IS NULL
           AND ev.ends_at + make_interval(mins => pol.checkout_grace_minutes) <= now()
         ORDER BY x.id LIMIT 1000
           FOR UPDATE OF x SKIP LOCKED
    LOOP
        SELECT * INTO a FROM attendances WHERE id = row_.id;
        e := event_get(a.event_id);
        p := event_policy(e);
        UPDATE attendances
           SET check_out_at = greatest(e.ends_at + make_interval(mins => p.checkout_grace_minutes), a.check_in_at),
               credited = credit_span(a.check_in_at, e.ends_at, e),
               method = 'auto', flags = array(SELECT DISTINCT f FROM unnest(a.flags || 'auto_checkout'::text) f)
         WHERE id = a.id RETURNING * INTO a;
        PERFORM ledger_write(a, e, p, ARRAY['auto_checkout'], NULL, NULL);
        PERFORM audit('auto_check_out', 'attendance', a.id, NULL, to_jsonb(a));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- GET /events/{id}/attendance (coordinator): the live roster.
CREATE FUNCTION api.event_attendance(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e events;
BEGIN
    SELECT * INTO e FROM events WHERE id = arg_id(args, 'event_id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'event not found');
    END IF;
    PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
    RETURN (
        WITH people AS (
            SELECT s.volunteer_id, s.status AS signup, s.created_at FROM signups s WHERE s.event_id = e.id
            UNION
            SELECT a.volunteer_id, NULL, a.created_at FROM attendances a
             WHERE a.event_id = e.id AND a.voided_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM signups s WHERE s.event_id = e.id AND s.volunteer_id = a.volunteer_id)
        ), rows AS (
            SELECT p.volunteer_id, p.signup, v.name, v.phone, v.volunteer_no,
                   (SELECT attendance_json(a) FROM attendances a
                     WHERE a.event_id = e.id AND a.volunteer_id = p.volunteer_id AND a.voided_at IS NULL
                     ORDER BY a.id DESC LIMIT 1) AS attendance
              FROM people p JOIN volunteers v ON v.id = p.volunteer_id
        ), classified AS (
            SELECT r.*, CASE
                       WHEN r.attendance IS NOT NULL AND r.attendance ->> 'check_out_at' IS NULL THEN 'on_post'
                       WHEN r.attendance IS NOT NULL THEN 'done'
                       WHEN r.signup = 'confirmed' AND now() >= e.starts_at THEN 'missing'
                       ELSE 'signed_up' END AS state
              FROM rows r
             WHERE r.signup IS DISTINCT FROM 'cancelled' OR r.attendance IS NOT NULL
        )
        SELECT jsonb_build_object(
            'event_id', e.id, 'starts_at', e.starts_at, 'ends_at', e.ends_at, 'status', e.status,
            'capacity', e.capacity,
            'counts', jsonb_build_object(
                'signed_up', (SELECT count(*) FROM classified WHERE signup IN ('confirmed', 'waitlisted')),
                'on_post', (SELECT count(*) FROM classified WHERE state = 'on_post'),
                'done', (SELECT count(*) FROM classified WHERE state = 'done'),
                'missing', (SELECT count(*) FROM classified WHERE state = 'missing')),
            'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
                         'volunteer_id', c.volunteer_id, 'name', c.name, 'phone', c.phone,
                         'volunteer_no', c.volunteer_no, 'signup', c.signup, 'state', c.state,
                         'attendance', c.attendance) ORDER BY c.name, c.volunteer_id)
                       FROM classified c), '[]'::jsonb)));
END
$$;

--------------------------------------------------------------------------------------------
-- Corrections, self-reports, approval
--------------------------------------------------------------------------------------------

-- PATCH /attendance/{id} (coordinator): new times and a reason.  The attendance takes the new
-- times; the ledger gets a new entry that corrects (and so voids) the old one; the audit row
-- keeps both versions.
CREATE FUNCTION api.attendance_correct(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    old attendances;
    a attendances;
    e events;
    p hour_policies;
    old_entry hour_entries;
    new_in timestamptz;
    new_out timestamptz;
BEGIN
    SELECT * INTO old FROM attendances WHERE id = arg_id(args, 'attendance_id') FOR UPDATE;
    IF NOT FOUND OR old.voided_at IS NOT NULL THEN
        PERFORM problem(404, NULL, 'attendance not found');
    END IF;
    e := event_for_update(old.event_id);
    p := event_policy(e);
    PERFORM authz_require(greatest(authz_level(actor, e.org_unit_id, e.team_id),
                                   CASE WHEN old.volunteer_id = actor_volunteer(actor) THEN 1 ELSE 0 END),
                          'coordinator', 'attendance');
    new_in := coalesce((args ->> 'check_in_at')::timestamptz, old.check_in_at);
    new_out := coalesce((args ->> 'check_out_at')::timestamptz, old.check_out_at);
    IF new_out IS NULL THEN
        -- an open attendance whose check-in time was wrong: it stays open, no entry yet
        IF new_in > now() + interval '5 minutes' THEN
            PERFORM problem(422, 'check_in_at', 'check-in is in the future');
        END IF;
        BEGIN
            UPDATE attendances SET check_in_at = new_in WHERE id = old.id RETURNING * INTO a;
        EXCEPTION WHEN exclusion_violation THEN
            PERFORM problem(409, 'check_in_at', 'the new check-in time overlaps time already credited to this volunteer');
        END;
        PERFORM audit('correct', 'attendance', a.id, to_jsonb(old), to_jsonb(a));
        RETURN attendance_json(a);
    ELSIF new_out < new_in THEN
        PERFORM problem(422, 'check_out_at', 'check-out is before check-in');
    ELSIF new_out > now() + interval '5 minutes' THEN
        PERFORM problem(422, 'check_out_at', 'check-out is in the future');
    END IF;
    old_entry := attendance_entry(old.id);
    BEGIN
        UPDATE attendances SET check_in_at = new_in, check_out_at = new_out,
                               credited = credit_span(new_in, new_out, e)
         WHERE id = old.id RETURNING * INTO a;
        PERFORM ledger_write(a, e, p, ARRAY['correction'],
                             CASE WHEN old_entry.status IN ('pending', 'approved') THEN old_entry.id END,
                             arg_text(args, 'reason'));
    EXCEPTION WHEN exclusion_violation THEN
        PERFORM problem(409, 'check_in_at', 'the new times overlap time already credited to this volunteer');
    END;
    PERFORM audit('correct', 'attendance', a.id, to_jsonb(old), to_jsonb(a));
    RETURN attendance_json(a);
END
$$;

-- POST /hours: a self-report (the volunteer) or a backfill (a coordinator), always pending
-- (rule 6), inside the event's time, overlapping nothing already credited nor an open
-- attendance (whose credit will start at its check-in), worth what the policy says (rule 2:
-- rounding, minimum credit, daily cap).
CREATE FUNCTION api.hours_report(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e events;
    p hour_policies;
    own bigint := (SELECT volunteer_id FROM accounts WHERE id = actor);
    volunteer bigint := coalesce(arg_id(args, 'volunteer_id'), own);
    started timestamptz := (args ->> 'started_at')::timestamptz;
    ended timestamptz := (args ->> 'ended_at')::timestamptz;
    flag text;
    flags text[];
    minutes int;
    cap int;
    h hour_entries;
BEGIN
    SELECT * INTO e FROM events WHERE id = arg_id(args, 'event_id');
    IF NOT FOUND THEN
        PERFORM problem(422, 'event_id', 'no such event');
    END IF;
    p := event_policy(e);
    IF volunteer IS NULL THEN
        PERFORM problem(422, 'volunteer_id', 'this account has no volunteer record: name the volunteer');
    END IF;
    IF volunteer = own THEN
        flag := 'self_report';
    ELSE
        PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
        IF NOT EXISTS (SELECT 1 FROM volunteers WHERE id = volunteer) THEN
            PERFORM problem(422, 'volunteer_id', 'no such volunteer');
        END IF;
        flag := 'backfill';
    END IF;
    IF arg_text(args, 'reason') IS NULL THEN
        PERFORM problem(422, 'reason', 'self-reported and backfilled hours need a reason');
    ELSIF ended <= started THEN
        PERFORM problem(422, 'ended_at', 'ended_at must be after started_at');
    END IF;
    IF e.status <> 'scheduled' THEN
        PERFORM problem(409, 'event_id', 'the event was cancelled');
    ELSIF started < e.starts_at OR started >= e.ends_at OR ended > e.ends_at THEN
        PERFORM problem(422, CASE WHEN started < e.starts_at OR started >= e.ends_at THEN 'started_at' ELSE 'ended_at' END,
                        format('the hours must lie within the event, %s to %s',
                        to_char(e.starts_at AT TIME ZONE app_time_zone(), 'YYYY-MM-DD HH24:MI'),
                        to_char(e.ends_at AT TIME ZONE app_time_zone(), 'YYYY-MM-DD HH24:MI')));
    ELSIF started > now() OR ended > now() + interval '5 minutes' THEN
        PERFORM problem(422, 'ended_at', 'hours cannot be reported for the future');
    END IF;
    -- Rule 3, said clearly (hour_entries_no_overlap still decides a race).
    IF EXISTS (SELECT 1 FROM hour_entries x
                WHERE x.volunteer_id = volunteer AND x.status IN ('pending', 'approved')
                  AND x.started_at < ended AND x.started_at >= started - interval '7 days'
                  AND x.ended_at > started AND x.ended_at > x.started_at) THEN
        PERFORM problem(409, 'started_at', 'these hours overlap time already credited to the volunteer');
    END IF;
    IF EXISTS (SELECT 1 FROM attendances x
                WHERE x.volunteer_id = volunteer AND x.check_out_at IS NULL AND x.voided_at IS NULL
                  AND x.check_in_at < ended) THEN
        PERFORM problem(409, 'ended_at', 'the volunteer is checked in since before these hours end');
    END IF;
    minutes := credit_minutes(tstzrange(started, ended, '[)'), p);
    flags := ARRAY[flag];
    cap := daily_cap_left(volunteer, started, p, NULL);
    IF cap IS NOT NULL AND minutes > cap THEN
        minutes := cap;
        flags := flags || 'capped'::text;
    END IF;
    INSERT INTO hour_entries (volunteer_id, event_id, policy_id, started_at, ended_at, minutes, status,
                              flags, reason, created_by)
    VALUES (volunteer, e.id, p.id, started, ended, minutes, 'pending', flags, arg_text(args, 'reason'), actor)
    RETURNING * INTO h;
    PERFORM audit(flag, 'hour_entry', h.id, NULL, entry_json(h));
    RETURN entry_json(h);
END
$$;

-- Approve or reject one entry (the caller must coordinate the place or the team of the
-- service).  Used singly and in bulk.
CREATE FUNCTION hours_decide(actor bigint, entry bigint, decision text, why text) RETURNS hour_entries
LANGUAGE plpgsql AS $$
DECLARE
    h hour_entries;
BEGIN
    SELECT * INTO h FROM hour_entries WHERE id = entry FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'hour entry not found');
    END IF;
    PERFORM authz_require(greatest(authz_level(actor, h.org_unit_id, h.team_id),
                                   CASE WHEN h.volunteer_id = actor_volunteer(actor) THEN 1 ELSE 0 END),
                          'coordinator', 'hour entry');
    IF h.status = decision THEN
        RETURN h;  -- deciding twice the same way is not an error
    ELSIF h.status <> 'pending' THEN
        PERFORM problem(409, NULL, format('the entry is already %s', h.status));
    END IF;
    UPDATE hour_entries SET status = decision, decided_by = actor, decision_reason = why
     WHERE id = h.id RETURNING * INTO h;
    PERFORM audit(CASE decision WHEN 'approved' THEN 'approve' ELSE 'reject' END, 'hour_entry', h.id,
                  NULL, jsonb_build_object('status', h.status, 'reason', why));
    RETURN h;
END
$$;

-- POST /hours/{id}/approve
CREATE FUNCTION api.hours_approve(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT entry_json(hours_decide(actor, arg_id(args, 'entry_id'), 'approved', NULL)) $$;

-- POST /hours/{id}/reject {reason}
CREATE FUNCTION api.hours_reject(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF arg_text(args, 'reason') IS NULL THEN
        PERFORM problem(422, 'reason', 'a rejection needs a reason');
    END IF;
    RETURN entry_json(hours_decide(actor, arg_id(args, 'entry_id'), 'rejected', arg_text(args, 'reason')));
END
$$;

-- POST /hours/approve {ids}: each id on its own (a failure undoes only that id), with a result
-- per id.
CREATE FUNCTION api.hours_approve_bulk(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    id_text text;
    results jsonb := '[]';
    h hour_entries;
    ok int := 0;
    msg text;
    state text;
BEGIN
    FOR id_text IN SELECT jsonb_array_elements_text(args -> 'ids') LOOP
        BEGIN
            h := hours_decide(actor, id_text::bigint, 'approved', NULL);
            results := results || jsonb_build_object('id', id_text::bigint, 'status', h.status);
            ok := ok + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
            results := results || jsonb_build_object('id', id_text::bigint,
                'error', jsonb_build_object('status', CASE WHEN state LIKE 'VD%' THEN substr(state, 3)::int ELSE 409 END,
                                            'detail', msg));
        END;
    END LOOP;
    RETURN jsonb_build_object('approved', ok, 'failed', jsonb_array_length(results) - ok, 'results', results);
END
$$;

--------------------------------------------------------------------------------------------
-- Statements
--------------------------------------------------------------------------------------------

-- A volunteer's entries between two instants and their totals (voided and rejected entries
-- listed but not counted).  With a range, the totals count the minutes served on the local
-- days the range covers (rule 8: an entry across midnight or a month's end counts in each
-- day for what was served on it), from hour_entry_days; a range that ends inside a day
-- counts that whole day.
CREATE FUNCTION volunteer_hours_json(volunteer bigint, from_ts timestamptz, to_ts timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH z AS (
        SELECT app_time_zone() AS tz
    ), r AS (
        SELECT (from_ts AT TIME ZONE z.tz)::date AS d0,
               CASE WHEN to_ts IS NULL THEN NULL
                    WHEN (to_ts AT TIME ZONE z.tz)::time = '00:00' THEN (to_ts AT TIME ZONE z.tz)::date
                    ELSE (to_ts AT TIME ZONE z.tz)::date + 1 END AS d1
          FROM z
    ), e AS (
        SELECT * FROM hour_entries h
         WHERE h.volunteer_id = volunteer
           AND (from_ts IS NULL OR h.ended_at >= from_ts)
           AND (to_ts IS NULL OR h.started_at < to_ts)
    ), m AS (
        SELECT e.status,
               CASE WHEN from_ts IS NULL AND to_ts IS NULL THEN e.minutes
                    ELSE (SELECT coalesce(sum(d.minutes), 0)
                            FROM hour_entry_days d, r, z
                           WHERE d.entry_id = e.id
                             AND d.day BETWEEN (e.started_at AT TIME ZONE z.tz)::date
                                           AND (e.ended_at AT TIME ZONE z.tz)::date
                             AND (r.d0 IS NULL OR d.day >= r.d0)
                             AND (r.d1 IS NULL OR d.day < r.d1)) END AS minutes
          FROM e WHERE e.status IN ('approved', 'pending')
    ), t AS (
        SELECT coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0) AS approved,
               coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0) AS pending
          FROM m
    )
    SELECT jsonb_build_object(
        'volunteer_id', volunteer,
        'entries', coalesce((SELECT jsonb_agg(entry_json(e) ORDER BY e.started_at DESC, e.id DESC) FROM e), '[]'),
        'totals', jsonb_build_object(
            'approved_minutes', t.approved,
            'pending_minutes', t.pending,
            'approved_hours', to_char(t.approved / 60.0, 'FM999999990.00'),
            'pending_hours', to_char(t.pending / 60.0, 'FM999999990.00')))
      FROM t
$$;

-- GET /volunteers/{id}/hours?from=&to= (self, or staff in scope).  from/to are dates
-- (local days, to inclusive) or instants.
CREATE FUNCTION api.volunteer_hours(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v bigint := arg_id(args, 'volunteer_id');
    from_ts timestamptz;
    to_ts timestamptz;
BEGIN
    PERFORM authz_require(authz_volunteer_level(actor, v), 'volunteer', 'volunteer');
    from_ts := arg_instant(args, 'from', false);  -- 0005: a local day or an instant
    to_ts := arg_instant(args, 'to', true);
    RETURN volunteer_hours_json(v, from_ts, to_ts);
END
$$;

-- GET /me: the account, the volunteer record, and this month's and this year's totals.
CREATE OR REPLACE FUNCTION api.me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT account_json(a.id) || jsonb_build_object(
        'account', account_json(a.id),
        'volunteer', (SELECT volunteer_json(v) FROM volunteers v WHERE v.id = a.volunteer_id),
        'hours', CASE WHEN a.volunteer_id IS NULL THEN NULL ELSE jsonb_build_object(
            'month', volunteer_hours_json(a.volunteer_id,
                        date_trunc('month', now() AT TIME ZONE app_time_zone()) AT TIME ZONE app_time_zone(), NULL) -> 'totals',
            'year', volunteer_hours_json(a.volunteer_id,
                        date_trunc('year', now() AT TIME ZONE app_time_zone()) AT TIME ZONE app_time_zone(), NULL) -> 'totals',
            'all', volunteer_hours_json(a.volunteer_id, NULL, NULL) -> 'totals',
            'entries', (volunteer_hours_json(a.volunteer_id, now() - interval '400 days', NULL) -> 'entries')) END)
      FROM accounts a WHERE a.id = actor
$$;

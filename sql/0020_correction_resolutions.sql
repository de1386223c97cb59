-- 0020_correction_resolutions.sql: the organizer's side of correction requests (DESIGN §1:
-- "a volunteer may report an error and the organizer must correct it"), and the console's
-- reads for rejecting an entry and correcting an attendance.
--
--   GET  /correction-requests?status=&event_id=&volunteer_id=&limit=&cursor=
--                                      api.correction_requests_list
--   POST /correction-requests/{id}/resolve {resolution: corrected|declined, note}
--                                      api.correction_request_resolve
--
-- A request's lifecycle is `status` open -> resolved (0001 also allowed 'rejected'; it is
-- never written: a declined request is status 'resolved' with resolution 'declined').  The
-- outcome is `resolution` (0001 left it free text; nothing ever wrote it), the words for the
-- volunteer are the new `note`, required when declined.  Scope is that of approving the
-- hours of the request's event (authz_level over the event's org unit and team, or over the
-- entry's when the event is gone): a coordinator or admin there resolves; the volunteer sees
-- their own requests; anyone else gets 404.
--
-- The pages' reads (api.page_console, api.page_me) keep their earlier definitions out of the
-- api schema under a new name and add to them, as 0017 did for api.me_data.

ALTER TABLE correction_requests
    ADD COLUMN note text CONSTRAINT correction_requests_note_check CHECK (char_length(note) <= 2000),
    ADD CONSTRAINT correction_requests_resolution_kind_check
        CHECK (resolution IN ('corrected', 'declined')),
    ADD CONSTRAINT correction_requests_resolution_state_check
        CHECK ((status = 'open') = (resolution IS NULL)),
    ADD CONSTRAINT correction_requests_declined_note_check
        CHECK (resolution IS DISTINCT FROM 'declined' OR note IS NOT NULL);
CREATE INDEX correction_requests_event_id_idx ON correction_requests (event_id, id);

-- The strongest role actor holds over a request: staff through its event (or its entry),
-- level 1 for the volunteer who filed it.
CREATE FUNCTION correction_request_level(actor bigint, c correction_requests) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT greatest(
        coalesce((SELECT authz_level(actor, e.org_unit_id, e.team_id) FROM events e WHERE e.id = c.event_id), 0),
        coalesce((SELECT authz_level(actor, h.org_unit_id, h.team_id) FROM hour_entries h
                   WHERE h.id = c.entry_id AND c.event_id IS NULL), 0),
        CASE WHEN c.volunteer_id = actor_volunteer(actor) THEN 1 ELSE 0 END)
$$;

CREATE FUNCTION correction_request_json(c correction_requests) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'volunteer_id', c.volunteer_id,
        'volunteer_name', (SELECT v.name FROM volunteers v WHERE v.id = c.volunteer_id),
        'entry_id', c.entry_id, 'event_id', c.event_id,
        'attendance_id', (SELECT h.attendance_id FROM hour_entries h WHERE h.id = c.entry_id),
        'event', (SELECT jsonb_build_object('title', a.title, 'starts_at', e.starts_at, 'ends_at', e.ends_at)
                    FROM events e JOIN activities a ON a.id = e.activity_id WHERE e.id = c.event_id),
        'message', c.message, 'status', c.status, 'resolution', c.resolution, 'note', c.note,
        'resolved_entry_id', c.resolved_entry_id, 'created_at', c.created_at,
        'resolved_at', c.resolved_at, 'resolved_by', c.resolved_by)
$$;

-- GET /correction-requests: the requests the actor may see (their own, and those over whose
-- event they are at least coordinator), oldest first, keyset-paged by id.  `status` is open,
-- resolved or all (the default); a filter id the actor cannot reach is 404.
CREATE FUNCTION api.correction_requests_list(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lim int := arg_limit(args);
    cur bigint := arg_cursor(args);
    st text := coalesce(arg_text(args, 'status'), 'all');
    ev bigint := arg_opt_id(args, 'event_id');
    vol bigint := arg_opt_id(args, 'volunteer_id');
    own bigint := actor_volunteer(actor);
BEGIN
    IF st NOT IN ('open', 'resolved', 'all') THEN
        PERFORM problem(422, 'status', 'status must be open, resolved or all');
    END IF;
    IF ev IS NOT NULL THEN
        -- events are visible to everyone logged in: a volunteer may filter their own by any
        -- event; a staff account without a volunteer record only by an event in its scope
        PERFORM authz_require((SELECT greatest(authz_level(actor, e.org_unit_id, e.team_id),
                                               CASE WHEN own IS NOT NULL THEN 1 ELSE 0 END)
                                 FROM events e WHERE e.id = ev), 'volunteer', 'event');
    END IF;
    IF vol IS NOT NULL THEN
        PERFORM authz_require(greatest(authz_volunteer_level(actor, vol),
                                       (SELECT coalesce(max(correction_request_level(actor, x)), 0)
                                          FROM correction_requests x WHERE x.volunteer_id = vol)),
                              'volunteer', 'volunteer');
    END IF;
    RETURN page(coalesce((
        SELECT jsonb_agg(correction_request_json(c) ORDER BY c.id)
          FROM (SELECT * FROM correction_requests c
                 WHERE (st = 'all' OR (c.status = 'open') = (st = 'open'))
                   AND (ev IS NULL OR c.event_id = ev)
                   AND (vol IS NULL OR c.volunteer_id = vol)
                   AND c.id > cur
                   AND (c.volunteer_id = own OR correction_request_level(actor, c) >= role_level('coordinator'))
                 ORDER BY c.id LIMIT lim + 1) c), '[]'::jsonb), lim);
END
$$;

-- POST /correction-requests/{id}/resolve {resolution, note}: a coordinator or admin over the
-- request's event closes it, "corrected" (after fixing the record, e.g. PATCH /attendance/{id};
-- the newest live entry that replaced the reported one is linked) or "declined" with a note
-- the volunteer reads.  A request already resolved is 409.
CREATE FUNCTION api.correction_request_resolve(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    old correction_requests;
    c correction_requests;
    kind text := arg_text(args, 'resolution');
    why text := arg_text(args, 'note');
    fixed bigint;
BEGIN
    SELECT * INTO old FROM correction_requests WHERE id = arg_id(args, 'id') FOR UPDATE;
    PERFORM authz_require(CASE WHEN old.id IS NULL THEN 0 ELSE correction_request_level(actor, old) END,
                          'coordinator', 'correction request');
    IF kind IS NULL OR kind NOT IN ('corrected', 'declined') THEN
        PERFORM problem(422, 'resolution', 'resolution must be corrected or declined');
    ELSIF kind = 'declined' AND why IS NULL THEN
        PERFORM problem(422, 'note', 'say why the request is declined: the volunteer reads the note');
    ELSIF char_length(why) > 2000 THEN
        PERFORM problem(422, 'note', 'the note is at most 2000 characters');
    END IF;
    IF old.status <> 'open' THEN
        PERFORM problem(409, NULL, format('this correction request was resolved (%s) on %s',
                                          old.resolution, local_time(old.resolved_at)));
    END IF;
    IF kind = 'corrected' AND old.entry_id IS NOT NULL THEN
        -- the live entry that now stands for the reported one: the attendance's current entry,
        -- else the end of the chain of corrections
        SELECT x.id INTO fixed FROM hour_entries h JOIN hour_entries x ON x.attendance_id = h.attendance_id
         WHERE h.id = old.entry_id AND x.id > h.id AND x.status IN ('pending', 'approved')
         ORDER BY x.id DESC LIMIT 1;
        IF fixed IS NULL THEN
            WITH RECURSIVE chain(id) AS (
                SELECT old.entry_id
                UNION ALL
                SELECT h.id FROM hour_entries h JOIN chain ON h.corrects = chain.id)
            SELECT max(id) INTO fixed FROM chain WHERE id <> old.entry_id;
        END IF;
    END IF;
    UPDATE correction_requests
       SET status = 'resolved', resolution = kind, note = why, resolved_by = actor,
           resolved_at = now(), resolved_entry_id = fixed
     WHERE id = old.id RETURNING * INTO c;
    PERFORM audit('resolve', 'correction_request', c.id, to_jsonb(old), to_jsonb(c));
    RETURN correction_request_json(c);
END
$$;

-- The audit trail of a request is readable by an admin over its event (GET /audit).
ALTER FUNCTION audit_entity_level(bigint, text, bigint) RENAME TO audit_entity_level_before_requests;
CREATE FUNCTION audit_entity_level(actor bigint, entity text, entity_id bigint) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN entity = 'correction_request'
                THEN (SELECT correction_request_level(actor, c) FROM correction_requests c WHERE c.id = entity_id)
                ELSE audit_entity_level_before_requests(actor, entity, entity_id) END
$$;

--------------------------------------------------------------------------------------------
-- Pages
--------------------------------------------------------------------------------------------

-- GET /me: the requests with their outcome and the organizer's note.
ALTER FUNCTION api.page_me(bigint, jsonb) RENAME TO page_me_before_resolutions;
ALTER FUNCTION api.page_me_before_resolutions(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.page_me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT d || CASE WHEN d ? 'requests' THEN jsonb_build_object('requests', coalesce((
                    SELECT jsonb_agg(jsonb_build_object(
                               'id', c.id, 'entry_id', c.entry_id, 'message', c.message, 'status', c.status,
                               'resolution', c.resolution, 'note', c.note, 'created', local_time(c.created_at),
                               'resolved', local_time(c.resolved_at)) ORDER BY c.created_at DESC, c.id DESC)
                      FROM (SELECT * FROM correction_requests c WHERE c.volunteer_id = actor_volunteer(actor)
                             ORDER BY c.created_at DESC, c.id DESC LIMIT 10) c), '[]'::jsonb))
                ELSE '{}'::jsonb END
      FROM page_me_before_resolutions(actor, args) d
$$;

-- GET /api/v1/me/data: the requests with their outcome and note too.
ALTER FUNCTION api.me_data(bigint, jsonb) RENAME TO me_data_before_resolutions;
ALTER FUNCTION api.me_data_before_resolutions(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.me_data(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT d || jsonb_build_object('correction_requests', coalesce((
                    SELECT jsonb_agg(correction_request_json(c) ORDER BY c.created_at, c.id)
                      FROM correction_requests c WHERE c.volunteer_id = actor_volunteer(actor)), '[]'::jsonb))
      FROM me_data_before_resolutions(actor, args) d
$$;

-- GET /console: also the oldest 5 open requests over the actor's events (each comes with a form:
-- the page stays within its 30 KB budget next to 20 events and 30 pending entries), and their count.
ALTER FUNCTION api.page_console(bigint, jsonb) RENAME TO page_console_before_requests;
ALTER FUNCTION api.page_console_before_requests(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.page_console(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d jsonb := page_console_before_requests(actor, args);  -- 403 for a non-staff account
BEGIN
    RETURN d || jsonb_build_object(
        'requests', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'id', c.id, 'volunteer', v.name, 'message', c.message,
                       'created', local_time(c.created_at), 'entry_id', c.entry_id,
                       'event_id', c.event_id,
                       'title', (SELECT a.title FROM events e JOIN activities a ON a.id = e.activity_id
                                  WHERE e.id = c.event_id),
                       'event_starts', (SELECT local_time(e.starts_at) FROM events e WHERE e.id = c.event_id),
                       'entry', (SELECT jsonb_build_object(
                                     'started', local_time(h.started_at),
                                     'ended', to_char(h.ended_at AT TIME ZONE app_time_zone(), 'HH24:MI'),
                                     'hours', to_char(h.minutes / 60.0, 'FM999990.00'),
                                     'status', h.status, 'flags', to_jsonb(h.flags))
                                   FROM hour_entries h WHERE h.id = c.entry_id)) ORDER BY c.id)
              FROM (SELECT * FROM correction_requests c
                     WHERE c.status = 'open'
                       AND correction_request_level(actor, c) >= role_level('coordinator')
                     ORDER BY c.id LIMIT 5) c
              JOIN volunteers v ON v.id = c.volunteer_id), '[]'::jsonb),
        'requests_total', (SELECT count(*) FROM correction_requests c
                            WHERE c.status = 'open'
                              AND correction_request_level(actor, c) >= role_level('coordinator')));
END
$$;

-- GET /console/entries/{id}: one entry for a coordinator over it (as hours_decide: 404 out
-- of scope, 403 for the volunteer themself), with its attendance (times as the values of
-- datetime-local inputs, in the deployment's zone), the entry that replaced it, and the open
-- correction requests about it.
CREATE FUNCTION api.page_entry(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    h hour_entries;
    t attendances;
    tz text := app_time_zone();
BEGIN
    SELECT * INTO h FROM hour_entries WHERE id = arg_id(args, 'entry_id');
    PERFORM authz_require(CASE WHEN h.id IS NULL THEN 0
                               ELSE greatest(authz_level(actor, h.org_unit_id, h.team_id),
                                             CASE WHEN h.volunteer_id = actor_volunteer(actor) THEN 1 ELSE 0 END) END,
                          'coordinator', 'hour entry');
    SELECT * INTO t FROM attendances WHERE id = h.attendance_id;
    RETURN jsonb_build_object(
        'entry', jsonb_build_object(
            'id', h.id, 'status', h.status, 'flags', to_jsonb(h.flags), 'reason', h.reason,
            'decision_reason', h.decision_reason, 'started', local_time(h.started_at),
            'ended', to_char(h.ended_at AT TIME ZONE tz, 'HH24:MI'),
            'hours', to_char(h.minutes / 60.0, 'FM999990.00'), 'corrects', h.corrects,
            'replaced_by', coalesce((SELECT max(x.id) FROM hour_entries x WHERE x.corrects = h.id),
                                    (SELECT max(x.id) FROM hour_entries x
                                      WHERE x.attendance_id = h.attendance_id AND x.id > h.id))),
        'volunteer', (SELECT jsonb_build_object('id', v.id, 'name', v.name, 'volunteer_no', v.volunteer_no)
                        FROM volunteers v WHERE v.id = h.volunteer_id),
        'event', (SELECT page_event_json(e) FROM events e WHERE e.id = h.event_id),
        'attendance', CASE WHEN t.id IS NOT NULL AND t.voided_at IS NULL THEN jsonb_build_object(
            'id', t.id, 'method', t.method, 'flags', to_jsonb(t.flags),
            'check_in', to_char(t.check_in_at AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI'),
            'check_out', to_char(t.check_out_at AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI')) END,
        'requests', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                  'id', c.id, 'message', c.message, 'created', local_time(c.created_at))
                                  ORDER BY c.id)
                                FROM correction_requests c WHERE c.entry_id = h.id AND c.status = 'open'),
                             '[]'::jsonb));
END
$$;

-- POST /console/entries/{id} action=correct: the form's local times (datetime-local values,
-- in the deployment's zone) as instants, then api.attendance_correct on the entry's
-- attendance exactly as PATCH /attendance/{id} (scope, rules, ledger, audit).  A time the form left as it was (to the minute) is not sent; nothing
-- changed is 422.
CREATE FUNCTION page_local_instant(args jsonb, key text, field text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s text := arg_text(args, key);
BEGIN
    IF s IS NULL THEN
        RETURN NULL;
    END IF;
    IF s !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$' THEN
        PERFORM problem(422, field, field || ' must be a date and time, e.g. 2026-05-01T09:00');
    END IF;
    BEGIN
        RETURN s::timestamp AT TIME ZONE app_time_zone();
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        PERFORM problem(422, field, field || ' is not a valid date and time');
    END;
END
$$;

CREATE FUNCTION api.page_attendance_correct(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t attendances;
    new_in timestamptz := page_local_instant(args, 'check_in', 'check_in_at');
    new_out timestamptz := page_local_instant(args, 'check_out', 'check_out_at');
    body jsonb;
BEGIN
    SELECT a.* INTO t FROM hour_entries h JOIN attendances a ON a.id = h.attendance_id
     WHERE h.id = arg_id(args, 'entry_id');
    body := jsonb_build_object('attendance_id', coalesce(t.id, 0));
    IF arg_text(args, 'reason') IS NULL THEN
        PERFORM problem(422, 'reason', 'a correction needs a reason');
    ELSIF char_length(arg_text(args, 'reason')) > 1000 THEN
        PERFORM problem(422, 'reason', 'the reason is at most 1000 characters');
    END IF;
    IF new_in IS NOT NULL AND new_in IS DISTINCT FROM date_trunc('minute', t.check_in_at AT TIME ZONE app_time_zone())
                                                      AT TIME ZONE app_time_zone() THEN
        body := body || jsonb_build_object('check_in_at', new_in);
    END IF;
    IF new_out IS NOT NULL AND new_out IS DISTINCT FROM date_trunc('minute', t.check_out_at AT TIME ZONE app_time_zone())
                                                        AT TIME ZONE app_time_zone() THEN
        body := body || jsonb_build_object('check_out_at', new_out);
    END IF;
    IF t.id IS NOT NULL AND NOT body ?| ARRAY['check_in_at', 'check_out_at'] THEN
        PERFORM problem(422, 'check_out_at', 'neither time was changed');
    END IF;
    RETURN api.attendance_correct(actor, body || jsonb_build_object('reason', arg_text(args, 'reason')));
END
$$;

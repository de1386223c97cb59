-- 0009_pages.sql: the reads the web pages need (DESIGN §5, issue 7), and correction requests.
--
-- The pages change nothing through these functions except correction_request_create: every
-- write a page makes (check-in, check-out, registration, sign-up, cancel) goes through the
-- same api.* function as the JSON API.  These functions only gather what a page shows, with
-- times already formatted in the deployment's zone (local_time below), so that the C page
-- code needs no time-zone database.  Each is api.<name>(actor, args) -> jsonb, called by
-- api_call like every other; actor is 0 for an anonymous visitor where that is allowed.

-- 'YYYY-MM-DD HH24:MI' in the deployment's zone (NULL stays NULL).
CREATE FUNCTION local_time(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE app_time_zone(), 'YYYY-MM-DD HH24:MI')
$$;

-- What a page shows of an event: public facts only (a QR poster is public).
CREATE FUNCTION page_event_json(e events) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id, 'title', a.title, 'location', a.location, 'category', a.category,
        'starts', local_time(e.starts_at), 'ends', local_time(e.ends_at),
        'ends_time', to_char(e.ends_at AT TIME ZONE app_time_zone(), 'HH24:MI'),
        'status', e.status, 'ended', e.ends_at <= now(),
        'capacity', e.capacity, 'confirmed', e.confirmed_count)
      FROM activities a WHERE a.id = e.activity_id
$$;

-- GET /checkin/{code}: the event and, for a logged-in volunteer, their sign-up and their
-- latest live attendance at it (open, or closed with its credited time and entry status).
CREATE FUNCTION api.page_checkin(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'event', page_event_json(e),
        'volunteer', (SELECT jsonb_build_object('id', v.id, 'name', v.name)
                        FROM accounts ac JOIN volunteers v ON v.id = ac.volunteer_id
                       WHERE ac.id = actor),
        'signup', (SELECT s.status FROM signups s JOIN accounts ac ON ac.volunteer_id = s.volunteer_id
                    WHERE ac.id = actor AND s.event_id = e.id),
        'attendance', (SELECT jsonb_build_object(
                              'id', x.id, 'check_in', local_time(x.check_in_at),
                              'check_in_time', to_char(x.check_in_at AT TIME ZONE app_time_zone(), 'HH24:MI'),
                              'check_out', local_time(x.check_out_at),
                              'check_out_time', to_char(x.check_out_at AT TIME ZONE app_time_zone(), 'HH24:MI'),
                              'open', x.check_out_at IS NULL,
                              'minutes', h.minutes, 'hours', to_char(h.minutes / 60.0, 'FM999990.00'),
                              'status', h.status)
                         FROM accounts ac
                         JOIN attendances x ON x.volunteer_id = ac.volunteer_id AND x.event_id = e.id
                                           AND x.voided_at IS NULL
                         LEFT JOIN LATERAL (SELECT (attendance_entry(x.id)).*) h ON true
                        WHERE ac.id = actor
                        ORDER BY x.check_in_at DESC, x.id DESC LIMIT 1))
      FROM events e WHERE e.id = arg_id(args, 'event_id')
$$;

-- GET /register: the units a person may choose as home.  Communities (with their parent's
-- name, since two subdistricts may each have a 'Xinhua' community); a deployment without
-- communities offers its units of the first three levels instead.  Public: the names of
-- communities are not secret, and self-registration needs them.  At most 250 (the page's 30 KB
-- budget); a deployment with more communities needs a two-step choice (known limit).
CREATE FUNCTION api.org_unit_choices(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH c AS (
        SELECT u.id, u.name, u.kind, u.path, p.name AS parent_name
          FROM org_units u LEFT JOIN org_units p ON p.id = u.parent_id
         WHERE u.kind = 'community'
            OR (NOT EXISTS (SELECT 1 FROM org_units x WHERE x.kind = 'community') AND u.depth <= 2)
         ORDER BY u.path
         LIMIT 250)
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
               'id', c.id, 'name', c.name, 'kind', c.kind, 'parent_name', c.parent_name)
               ORDER BY c.path), '[]'::jsonb))
      FROM c
$$;

-- GET /me: the logged-in volunteer's page: record, star levels (when 0007's "stars" is in
-- volunteer_json), this month's and this year's totals (the same statement function as the
-- API's hours), the latest 20 entries, the next 15 events nearby or signed up for, and correction
-- requests.  An account without a volunteer record gets {"volunteer": null}.
CREATE FUNCTION api.page_me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v volunteers;
    tz text := app_time_zone();
    area bigint;
BEGIN
    SELECT vv.* INTO v FROM accounts a JOIN volunteers vv ON vv.id = a.volunteer_id WHERE a.id = actor;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('volunteer', NULL,
                                  'login', (SELECT login FROM accounts WHERE id = actor));
    END IF;
    area := coalesce((SELECT parent_id FROM org_units WHERE id = v.org_unit_id), v.org_unit_id);
    RETURN jsonb_build_object(
        'volunteer', jsonb_build_object('id', v.id, 'name', v.name, 'volunteer_no', v.volunteer_no,
                                        'phone', v.phone, 'status', v.status,
                                        'org_unit', (SELECT name FROM org_units WHERE id = v.org_unit_id)),
        'stars', coalesce((SELECT jsonb_agg(jsonb_build_object('name', s.name, 'level', l.value::int)
                                            ORDER BY s.id)
                             FROM jsonb_each(volunteer_json(v) -> 'stars') l
                             JOIN star_schemes s ON s.code = l.key
                            WHERE jsonb_typeof(volunteer_json(v) -> 'stars') = 'object'), '[]'::jsonb),
        'month', volunteer_hours_json(v.id, date_trunc('month', now() AT TIME ZONE tz) AT TIME ZONE tz, NULL) -> 'totals',
        'year', volunteer_hours_json(v.id, date_trunc('year', now() AT TIME ZONE tz) AT TIME ZONE tz, NULL) -> 'totals',
        'entries', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'id', h.id, 'title', a.title, 'date', to_char(h.started_at AT TIME ZONE tz, 'YYYY-MM-DD'),
                        'start', to_char(h.started_at AT TIME ZONE tz, 'HH24:MI'),
                        'end', to_char(h.ended_at AT TIME ZONE tz, 'HH24:MI'),
                        'minutes', h.minutes, 'hours', to_char(h.minutes / 60.0, 'FM999990.00'),
                        'status', h.status, 'flags', to_jsonb(h.flags),
                        'requested', EXISTS (SELECT 1 FROM correction_requests c
                                              WHERE c.entry_id = h.id AND c.status = 'open'))
                        ORDER BY h.started_at DESC, h.id DESC)
                   FROM (SELECT * FROM hour_entries x WHERE x.volunteer_id = v.id
                          ORDER BY x.started_at DESC, x.id DESC LIMIT 20) h
                   JOIN activities a ON a.id = h.activity_id), '[]'::jsonb),
        'upcoming', coalesce((SELECT jsonb_agg(page_event_json(e) || jsonb_build_object('signup', s.status)
                                              ORDER BY e.starts_at, e.id)
                   FROM (SELECT * FROM events e
                          WHERE e.ends_at > now() AND e.starts_at < now() + interval '60 days'
                            AND e.status = 'scheduled'
                            AND (e.org_unit_id IN (SELECT id FROM org_unit_subtree(area))
                                 OR EXISTS (SELECT 1 FROM signups s2 WHERE s2.event_id = e.id
                                               AND s2.volunteer_id = v.id AND s2.status <> 'cancelled'))
                          ORDER BY e.starts_at, e.id LIMIT 15) e
                   LEFT JOIN signups s ON s.event_id = e.id AND s.volunteer_id = v.id), '[]'::jsonb),
        'requests', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'id', c.id, 'entry_id', c.entry_id, 'message', c.message, 'status', c.status,
                        'resolution', c.resolution, 'created', local_time(c.created_at))
                        ORDER BY c.created_at DESC)
                   FROM (SELECT * FROM correction_requests c WHERE c.volunteer_id = v.id
                          ORDER BY c.created_at DESC LIMIT 10) c), '[]'::jsonb));
END
$$;

-- POST /correction-requests {entry_id?, event_id?, message}: a volunteer reports an error in
-- their own record (Regulations Art. 19: the organizer must correct it); a coordinator sees
-- the open requests and answers with a correction.  Only the volunteer themself may file one;
-- an entry or event they have no record of is 404.  One open request per entry.
CREATE FUNCTION api.correction_request_create(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    own bigint := (SELECT volunteer_id FROM accounts WHERE id = actor);
    entry bigint := arg_id(args, 'entry_id');
    ev bigint := arg_id(args, 'event_id');
    c correction_requests;
BEGIN
    IF own IS NULL THEN
        PERFORM problem(403, NULL, 'only a volunteer can report an error in their own record');
    END IF;
    IF entry IS NULL AND ev IS NULL THEN
        PERFORM problem(422, 'entry_id', 'name the entry (or the event) the error is in');
    END IF;
    IF entry IS NOT NULL THEN
        SELECT h.event_id INTO ev FROM hour_entries h WHERE h.id = entry AND h.volunteer_id = own;
        IF NOT FOUND THEN
            PERFORM problem(404, NULL, 'hour entry not found');
        END IF;
        IF EXISTS (SELECT 1 FROM correction_requests x WHERE x.entry_id = entry AND x.status = 'open') THEN
            PERFORM problem(409, 'entry_id', 'a correction request for this entry is already open');
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM events WHERE id = ev) THEN
        PERFORM problem(404, NULL, 'event not found');
    END IF;
    IF arg_text(args, 'message') IS NULL THEN
        PERFORM problem(422, 'message', 'say what is wrong');
    END IF;
    INSERT INTO correction_requests (volunteer_id, entry_id, event_id, message, created_by)
    VALUES (own, entry, ev, btrim(args ->> 'message'), actor)
    RETURNING * INTO c;
    PERFORM audit('create', 'correction_request', c.id, NULL, to_jsonb(c));
    RETURN jsonb_build_object('id', c.id, 'volunteer_id', c.volunteer_id, 'entry_id', c.entry_id,
                              'event_id', c.event_id, 'message', c.message, 'status', c.status,
                              'created_at', c.created_at);
END
$$;

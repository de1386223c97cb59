-- 0025_roster_pages.sql: the live roster a page at a time.
--
-- GET /events/{id}/attendance answered the whole roster in one JSON value, and looked up each
-- person's attendance once per use of it (up to four times a row): 6.3 MB in 5.8-8.5 s for
-- an event of 20,500 people, and DESIGN §8 plans for 160,000.  It now takes DESIGN's list
-- convention (`limit` default 50, max 500; `cursor`; `next_cursor`) in its order (name,
-- volunteer_id), and an optional `state` (signed_up|on_post|done|missing); `counts` still
-- covers the whole event, whatever the page or the filter.  A walk-in with two attendances at
-- the event was listed twice; now once.
--
-- The roster's rows (one per person, with their latest live attendance) are computed once per
-- call: the counts are one aggregate over them, and only the page's rows are joined to their
-- attendance's JSON.  Sorting by name still reads every person of the event (a roster is a
-- subset of volunteers, so no index gives its name order), but as bare rows: on the 20,500
-- people above, 52-111 ms a page of 50, the first or the middle (psql on the shared 2-core
-- machine, 2026-12-07).

-- The roster of event e, one row per person: a sign-up (not cancelled) or a live attendance,
-- with the latest live attendance and the state the roster shows.  A walk-in with two
-- attendances at the event is one person.
CREATE FUNCTION roster_rows(e events)
RETURNS TABLE (volunteer_id bigint, signup text, attendance_id bigint, state text)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(s.volunteer_id, a.volunteer_id), s.status, a.id,
           CASE WHEN a.id IS NOT NULL AND a.check_out_at IS NULL THEN 'on_post'
                WHEN a.id IS NOT NULL THEN 'done'
                WHEN s.status = 'confirmed' AND now() >= e.starts_at THEN 'missing'
                ELSE 'signed_up' END
      FROM (SELECT * FROM signups WHERE event_id = e.id) s
      FULL JOIN (SELECT DISTINCT ON (x.volunteer_id) x.id, x.volunteer_id, x.check_out_at
                   FROM attendances x
                  WHERE x.event_id = e.id AND x.voided_at IS NULL
                  ORDER BY x.volunteer_id, x.id DESC) a ON a.volunteer_id = s.volunteer_id
     WHERE s.status IS DISTINCT FROM 'cancelled' OR a.id IS NOT NULL
$$;

-- GET /events/{id}/attendance?limit=&cursor=&state= (coordinator): the live roster.  The
-- cursor is the last volunteer id of the page before, placed by that volunteer's name now (a
-- renamed one moves it, as renaming moves anyone in a list ordered by name).
CREATE OR REPLACE FUNCTION api.event_attendance(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lim        int := arg_limit(args);
    cur        bigint := arg_cursor(args);
    want       text := arg_text(args, 'state');
    e          events;
    after_name text;
    counts     jsonb;
    items      jsonb;
BEGIN
    IF want IS NOT NULL AND want NOT IN ('signed_up', 'on_post', 'done', 'missing') THEN
        PERFORM problem(422, 'state', 'state must be signed_up, on_post, done or missing');
    END IF;
    SELECT * INTO e FROM events WHERE id = arg_id(args, 'event_id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'event not found');
    END IF;
    PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
    IF cur > 0 THEN
        SELECT v.name INTO after_name FROM volunteers v WHERE v.id = cur;
        IF after_name IS NULL THEN
            PERFORM problem(422, 'cursor', 'cursor is not one this server gave out');
        END IF;
    END IF;
    WITH r AS MATERIALIZED (SELECT * FROM roster_rows(e)),
    shown AS (
        SELECT r.*, v.name, v.phone, v.volunteer_no
          FROM r JOIN volunteers v ON v.id = r.volunteer_id
         WHERE (want IS NULL OR r.state = want)
           AND (after_name IS NULL OR (v.name, v.id) > (after_name, cur))
         ORDER BY v.name, v.id
         LIMIT lim + 1)
    SELECT (SELECT jsonb_build_object(
                'signed_up', count(*) FILTER (WHERE r.signup IN ('confirmed', 'waitlisted')),
                'on_post', count(*) FILTER (WHERE r.state = 'on_post'),
                'done', count(*) FILTER (WHERE r.state = 'done'),
                'missing', count(*) FILTER (WHERE r.state = 'missing'))
              FROM r),
           coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'volunteer_id', p.volunteer_id, 'name', p.name, 'phone', p.phone,
                        'volunteer_no', p.volunteer_no, 'signup', p.signup, 'state', p.state,
                        'attendance', CASE WHEN a.id IS NOT NULL THEN attendance_json(a) END)
                        ORDER BY p.name, p.volunteer_id)
                       FROM shown p LEFT JOIN attendances a ON a.id = p.attendance_id), '[]'::jsonb)
      INTO counts, items;
    RETURN jsonb_build_object(
        'event_id', e.id, 'starts_at', e.starts_at, 'ends_at', e.ends_at, 'status', e.status,
        'capacity', e.capacity, 'counts', counts)
        || page(items, lim, 'volunteer_id');
END
$$;

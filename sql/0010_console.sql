-- 0010_console.sql: the reads of the staff pages /console and /admin (DESIGN §5, issue 7).
--
-- Like 0009_pages.sql these change nothing: every write of the staff pages (roster check-in
-- and check-out, bulk approval, a new activity) goes through the API's own api.* function.
-- Scope is the API's: an event, entry or team is shown when the actor is at least a
-- coordinator over it (authz_unit_paths / authz_team_ids, the same sets the list functions
-- use); anything else is simply not listed.  Times come formatted in the deployment's zone.

-- The org-unit subtrees and teams an actor coordinates, as one test of (unit, team).
CREATE FUNCTION console_in_scope(actor bigint, unit bigint, team bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM org_units u, authz_unit_paths(actor, 'coordinator') p
                    WHERE u.id = unit AND u.path >= p AND u.path < left(p, -1) || '0')
        OR team IN (SELECT authz_team_ids(actor, 'coordinator'))
$$;

-- GET /console: the events in scope from the start of today for `days` days (default 7; the
-- first 20, so that the page stays under 30 KB), the oldest 30 pending entries in scope,
-- with their totals, and the first 50 teams in scope (for the form that creates an
-- activity).  A volunteer without a staff role gets 403.
CREATE FUNCTION api.page_console(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    days  int := least(greatest(coalesce((args ->> 'days')::int, 7), 1), 62);
    today timestamptz := date_trunc('day', now() AT TIME ZONE app_time_zone()) AT TIME ZONE app_time_zone();
BEGIN
    IF NOT actor_is_staff(actor) THEN
        PERFORM problem(403, NULL, 'the console is for coordinators and administrators');
    END IF;
    RETURN jsonb_build_object(
        'today', to_char(now() AT TIME ZONE app_time_zone(), 'YYYY-MM-DD'),
        'events', coalesce((
            SELECT jsonb_agg(page_event_json(e) || jsonb_build_object(
                       'day', to_char(e.starts_at AT TIME ZONE app_time_zone(), 'YYYY-MM-DD'),
                       'start_time', to_char(e.starts_at AT TIME ZONE app_time_zone(), 'HH24:MI'),
                       'team', t.name, 'waitlisted', e.waitlisted_count,
                       'on_post', (SELECT count(*) FROM attendances a
                                    WHERE a.event_id = e.id AND a.voided_at IS NULL
                                      AND a.check_out_at IS NULL))
                             ORDER BY e.starts_at, e.id)
              FROM (SELECT * FROM events e
                     WHERE e.ends_at > today AND e.starts_at < today + days * interval '1 day'
                       AND console_in_scope(actor, e.org_unit_id, e.team_id)
                     ORDER BY e.starts_at, e.id LIMIT 20) e
              JOIN teams t ON t.id = e.team_id), '[]'::jsonb),
        'pending', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'id', h.id, 'volunteer', v.name, 'title', a.title,
                       'started', local_time(h.started_at),
                       'hours', to_char(h.minutes / 60.0, 'FM999990.00'),
                       'flags', to_jsonb(h.flags), 'reason', h.reason) ORDER BY h.started_at, h.id)
              FROM (SELECT * FROM hour_entries h
                     WHERE h.status = 'pending'
                       AND console_in_scope(actor, h.org_unit_id, h.team_id)
                     ORDER BY h.started_at, h.id LIMIT 30) h
              JOIN volunteers v ON v.id = h.volunteer_id
              JOIN activities a ON a.id = h.activity_id), '[]'::jsonb),
        'events_total', (SELECT count(*) FROM events e
                          WHERE e.ends_at > today AND e.starts_at < today + days * interval '1 day'
                            AND console_in_scope(actor, e.org_unit_id, e.team_id)),
        'pending_total', (SELECT count(*) FROM hour_entries h
                           WHERE h.status = 'pending'
                             AND console_in_scope(actor, h.org_unit_id, h.team_id)),
        'teams', coalesce((
            SELECT jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name,
                                                'org_unit_id', t.org_unit_id, 'unit', u.name)
                             ORDER BY u.path, t.name, t.id)
              FROM (SELECT * FROM teams t
                     WHERE authz_level(actor, NULL, t.id) >= role_level('coordinator')
                     ORDER BY t.id LIMIT 50) t
              JOIN org_units u ON u.id = t.org_unit_id), '[]'::jsonb));
END
$$;

-- GET /console/events/{id}: the event and its live roster (api.event_attendance, which
-- checks that the actor coordinates the event), with local times for the page.
CREATE FUNCTION api.page_roster(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    roster jsonb := api.event_attendance(actor, args);
BEGIN
    RETURN roster || jsonb_build_object(
        'event', (SELECT page_event_json(e) FROM events e WHERE e.id = arg_id(args, 'event_id')),
        'times', coalesce((SELECT jsonb_object_agg(i ->> 'volunteer_id', jsonb_build_object(
                             'in', to_char((i -> 'attendance' ->> 'check_in_at')::timestamptz
                                           AT TIME ZONE app_time_zone(), 'HH24:MI'),
                             'out', to_char((i -> 'attendance' ->> 'check_out_at')::timestamptz
                                            AT TIME ZONE app_time_zone(), 'HH24:MI'),
                             'hours', to_char((i -> 'attendance' ->> 'credited_minutes')::int / 60.0,
                                              'FM999990.00')))
                             FROM jsonb_array_elements(roster -> 'items') i
                            WHERE jsonb_typeof(i -> 'attendance') = 'object'), '{}'::jsonb));
END
$$;

-- GET /console/events/{id}/poster: what the poster prints, for a coordinator of the event;
-- `_checkin` is the marker the server turns into the rotating code and URL (see event_json).
CREATE FUNCTION api.page_poster(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e events;
BEGIN
    SELECT * INTO e FROM events WHERE id = arg_id(args, 'event_id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'event not found');
    END IF;
    PERFORM authz_event_write(actor, e.org_unit_id, e.team_id, 'event');
    RETURN page_event_json(e) || jsonb_build_object('_checkin', event_json(e, true) -> '_checkin');
END
$$;

-- GET /admin: the monthly report (api.report_monthly, with its own scope check), the path
-- from the actor's reachable top down to the unit (for the drill-down's way back), the
-- unit's children (with whether they have children of their own), and the unit's approved
-- hours in each of the 12 months up to `month`.  `month` defaults to the current one.
CREATE FUNCTION api.page_admin(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m      date;
    a      jsonb;
    report jsonb;
    under  bigint;
    trend  jsonb := '[]';
    r      jsonb;
BEGIN
    a := args || jsonb_build_object('month', coalesce(args ->> 'month',
                                                       to_char(now() AT TIME ZONE app_time_zone(), 'YYYY-MM')));
    m := report_arg_month(a, 'month');
    report := api.report_monthly(actor, a);
    under := (report ->> 'under')::bigint;
    FOR i IN REVERSE 11..0 LOOP
        r := api.report_monthly(actor, a - 'by' || jsonb_build_object(
                 'month', to_char(m - i * interval '1 month', 'YYYY-MM'), 'under', under, 'by', 'org_unit'));
        trend := trend || jsonb_build_object('month', r ->> 'month',
                                             'approved_hours', r -> 'totals' ->> 'approved_hours');
    END LOOP;
    RETURN jsonb_build_object(
        'report', report, 'trend', trend,
        'path', coalesce((SELECT jsonb_agg(jsonb_build_object('id', u.id, 'name', u.name) ORDER BY n)
                            FROM org_unit_ancestors(under) WITH ORDINALITY AS x(id, n)
                            JOIN org_units u ON u.id = x.id
                           WHERE authz_level(actor, u.id, NULL) >= role_level('coordinator')), '[]'::jsonb),
        'parents', coalesce((SELECT jsonb_agg(u.id) FROM org_units u
                              WHERE u.parent_id = under
                                AND EXISTS (SELECT 1 FROM org_units c WHERE c.parent_id = u.id)), '[]'::jsonb));
END
$$;

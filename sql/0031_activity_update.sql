-- 0031_activity_update.sql: PATCH /activities/{id} {title?, category?, location?, capacity?,
-- policy_id?}: a coordinator corrects an activity after POST /activities.
--
-- The server has checked shapes and limits with the same code as POST /activities, and has
-- refused team_id, org_unit_id, recurrence, starts_at and ends_at (422 naming the field):
-- where and by whom an activity happens, and when its events are, do not change here.
--
-- Who may: as PATCH /events/{id} (authz_event_write of 0005): a coordinator or admin over the
-- activity's org unit or team; other staff 404; an account without a staff grant 403 (the
-- activity is a public notice it can see).  A new policy_id must be usable at the activity's
-- org unit (hour_policy_usable of 0022: 422 on policy_id); keeping the current one is not
-- checked again.
--
-- What a change means (nothing already written is rewritten):
--   * title, category, location: read live by every event, page, poster and report line that
--     shows the activity; certificates already issued keep the title they were issued with.
--   * policy_id: rules are read when they are applied (0006, 0013, 0015), so every check-in,
--     check-out and automatic check-out after the commit follows the new policy; an attendance
--     open across the change is credited under the policy in force at its check-out.  Ledger
--     entries already written keep their minutes, status and policy_id.
--   * capacity: the default of events inserted later without one (events_fill, 0001).  All of
--     an activity's events are created with POST /activities (a recurrence is expanded in full
--     there), so existing events keep theirs; PATCH /events/{id} changes one.
--
-- The row is locked FOR NO KEY UPDATE (the keys events reference do not change), so concurrent
-- edits queue and event inserts are not blocked.  The audit row holds the changed fields only,
-- before and after; a PATCH that changes nothing writes neither the row nor an audit row.

CREATE FUNCTION api.activity_update(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    prev    activities;
    a       activities;
    changed text[];
BEGIN
    SELECT * INTO prev FROM activities WHERE id = arg_id(args, 'id') FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM authz_event_write(actor, prev.org_unit_id, prev.team_id, 'activity');
    a := prev;
    IF args ? 'title' THEN a.title := args ->> 'title'; END IF;
    IF args ? 'category' THEN a.category := args ->> 'category'; END IF;
    IF args ? 'location' THEN a.location := args ->> 'location'; END IF;
    IF args ? 'capacity' THEN a.capacity := (args ->> 'capacity')::int; END IF;
    IF args ? 'policy_id' THEN a.policy_id := arg_id(args, 'policy_id'); END IF;
    IF a.policy_id <> prev.policy_id THEN
        PERFORM hour_policy_usable(actor, a.policy_id, prev.org_unit_id);
    END IF;
    changed := array(SELECT k FROM unnest(ARRAY['title', 'category', 'location', 'capacity', 'policy_id']) k
                      WHERE to_jsonb(a) -> k IS DISTINCT FROM to_jsonb(prev) -> k);
    IF cardinality(changed) = 0 THEN
        RETURN activity_json(prev);
    END IF;
    UPDATE activities
       SET title = a.title, category = a.category, location = a.location,
           capacity = a.capacity, policy_id = a.policy_id
     WHERE id = prev.id
    RETURNING * INTO a;
    PERFORM audit('update', 'activity', a.id,
                  (SELECT jsonb_object_agg(k, to_jsonb(prev) -> k) FROM unnest(changed) k),
                  (SELECT jsonb_object_agg(k, to_jsonb(a) -> k) FROM unnest(changed) k));
    RETURN activity_json(a);
END
$$;

--------------------------------------------------------------------------------------------
-- The console's page of one activity (/console/activities/{id}, p_console.c)
--------------------------------------------------------------------------------------------

-- As 0009, with activity_id, so that the roster can link to its activity's page.
CREATE OR REPLACE FUNCTION page_event_json(e events) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id, 'activity_id', e.activity_id, 'title', a.title, 'location', a.location,
        'category', a.category,
        'starts', local_time(e.starts_at), 'ends', local_time(e.ends_at),
        'ends_time', to_char(e.ends_at AT TIME ZONE app_time_zone(), 'HH24:MI'),
        'status', e.status, 'ended', e.ends_at <= now(),
        'capacity', e.capacity, 'confirmed', e.confirmed_count)
      FROM activities a WHERE a.id = e.activity_id
$$;

-- GET /console/activities/{id}: the activity for its edit form, for those who may PATCH it
-- (404/403 as api.activity_update), with its team and unit names and the hour policies the
-- form offers: those the actor may choose for it (visible, global or owned at or above its
-- unit, as hour_policy_usable), the current one first even if it is not among them, 50 at
-- most.
CREATE FUNCTION api.page_activity(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    a activities;
BEGIN
    SELECT * INTO a FROM activities WHERE id = arg_id(args, 'activity_id');
    IF NOT FOUND THEN
        PERFORM problem(404, NULL, 'activity not found');
    END IF;
    PERFORM authz_event_write(actor, a.org_unit_id, a.team_id, 'activity');
    RETURN activity_json(a) || jsonb_build_object(
        'team', (SELECT t.name FROM teams t WHERE t.id = a.team_id),
        'unit', (SELECT u.name FROM org_units u WHERE u.id = a.org_unit_id),
        'policies', (
            SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'name', p.name, 'unit', p.unit,
                                                         'approval_mode', p.approval_mode,
                                                         'static_code', p.static_code)
                                      ORDER BY p.current DESC, p.path NULLS FIRST, p.id), '[]'::jsonb)
              FROM (SELECT p.id, p.name, p.approval_mode, p.static_code, u.name AS unit, u.path,
                           p.id = a.policy_id AS current
                      FROM hour_policies p LEFT JOIN org_units u ON u.id = p.org_unit_id
                     WHERE p.id = a.policy_id
                        OR (hour_policy_visible(actor, p.org_unit_id)
                            AND (p.org_unit_id IS NULL OR org_unit_covers(p.org_unit_id, a.org_unit_id)))
                     ORDER BY p.id = a.policy_id DESC, u.path NULLS FIRST, p.id LIMIT 50) p));
END
$$;

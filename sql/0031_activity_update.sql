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

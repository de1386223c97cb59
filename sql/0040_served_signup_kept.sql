-- 0040: a sign-up the volunteer has served is kept.
--
-- DELETE /events/{id}/signups/{volunteer_id} cancelled a sign-up whatever the volunteer had
-- done: one checked in could cancel while on post, and a confirmed place went to the first
-- waitlisted while its holder was still there (two on post for one place); one checked out
-- could cancel afterwards and free a place whose hours were already recorded.  Now a sign-up
-- with an attendance at the event that is not voided is 409, for the volunteer and for staff
-- (void the attendance first, through a correction, if it was a mistake).  The rest is 0005's:
-- 404, no-op for a cancelled one, 409 once the event has ended, promotion of the waitlist.
--
-- /me (api.page_me) marks such an upcoming event "served": true, and the page offers no button
-- for it (server/pages/p_me.c).

CREATE OR REPLACE FUNCTION api.signup_cancel(actor bigint, args jsonb) RETURNS jsonb
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
    IF EXISTS (SELECT 1 FROM attendances a
                WHERE a.volunteer_id = vol AND a.event_id = ev AND a.voided_at IS NULL) THEN
        PERFORM problem(409, NULL, 'already checked in at this event; a sign-up that was served is kept');
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

-- As 0036's, with "served": true on each upcoming event the volunteer has an attendance at
-- (open or closed, not voided).
ALTER FUNCTION api.page_me(bigint, jsonb) RENAME TO page_me_before_served;
ALTER FUNCTION api.page_me_before_served(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.page_me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN jsonb_typeof(d -> 'upcoming') = 'array' THEN d || jsonb_build_object(
               'upcoming', (SELECT coalesce(jsonb_agg(
                                   u || CASE WHEN EXISTS (
                                                SELECT 1 FROM attendances x
                                                 WHERE x.volunteer_id = actor_volunteer(actor)
                                                   AND x.event_id = (u ->> 'id')::bigint
                                                   AND x.voided_at IS NULL)
                                             THEN '{"served": true}'::jsonb ELSE '{}'::jsonb END
                                   ORDER BY t.n), '[]'::jsonb)
                              FROM jsonb_array_elements(d -> 'upcoming') WITH ORDINALITY AS t(u, n)))
           ELSE d END
      FROM page_me_before_served(actor, args) d
$$;

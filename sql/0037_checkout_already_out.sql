-- 0037: a check-out of an attendance already closed says so; attendance_actor is dropped.
--
-- A check-out finds nothing open to close in two cases: the volunteer never checked in at the
-- event, or they did and have checked out already (a stale tab of the check-in page or of
-- /me, a double tap that was not de-duplicated).  Both answered 409 'not checked in at this
-- event', and the pages said "you have not checked in" to someone who had.  The second case
-- now answers 409 'not checked in at this event: already checked out at HH:MI' (the latest
-- check-out there, local time): the same status and problem type, and the same words first,
-- so that a client matching them still matches; the pages tell the two apart (page.c).  The
-- look-up runs only on that error path: a check-out that closes an attendance (the usual one,
-- also in the group commit's batches) does exactly what it did.
--
-- attendance_actor (0006) is dropped: 0013 replaced its callers with attendance_who (api.checkin
-- became checkin_many's, 0033 made api.checkout call attendance_who itself), and nothing in a
-- later migration or in the server calls it.  plpgsql bodies are not tracked as dependencies,
-- so the DROP could not tell; the check was a search of sql/ and server/.

-- Why there is no open attendance of the volunteer at the event to close: the refusal's
-- message.  Only check-out's error path calls it.
CREATE FUNCTION checkout_refusal(event bigint, volunteer bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT format('not checked in at this event: already checked out at %s',
                                   to_char(x.check_out_at AT TIME ZONE app_time_zone(), 'HH24:MI'))
                       FROM attendances x
                      WHERE x.volunteer_id = checkout_refusal.volunteer AND x.event_id = checkout_refusal.event
                        AND x.check_out_at IS NOT NULL AND x.voided_at IS NULL
                      ORDER BY x.check_out_at DESC, x.id DESC LIMIT 1),
                    'not checked in at this event')
$$;

-- POST /events/{id}/check-outs: 0033's, but for the refusal's message.
CREATE OR REPLACE FUNCTION api.checkout(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e events := event_get(arg_id(args, 'event_id'));
    p hour_policies := event_policy(e);
    who record;
    a attendances;
    h hour_entries;
    out_at timestamptz := coalesce((args ->> 'at')::timestamptz, now());  -- as in api.checkin
BEGIN
    SELECT * INTO who FROM attendance_who(actor, args, e, p);
    IF (who.refused).status IS NOT NULL AND (who.refused).field IS DISTINCT FROM 'code' THEN
        PERFORM problem((who.refused).status, (who.refused).field, (who.refused).message);
    END IF;
    SELECT * INTO a FROM attendances x
     WHERE x.event_id = e.id AND x.volunteer_id = who.volunteer
       AND x.check_out_at IS NULL AND x.voided_at IS NULL
     FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM problem(409, NULL, checkout_refusal(e.id, who.volunteer));
    END IF;
    UPDATE attendances SET check_out_at = greatest(out_at, a.check_in_at),
                           credited = credit_span(a.check_in_at, greatest(out_at, a.check_in_at), e)
     WHERE id = a.id RETURNING * INTO a;
    h := ledger_write(a, e, p, '{}', NULL, NULL);
    PERFORM audit('check_out', 'attendance', a.id, NULL, to_jsonb(a));
    RETURN attendance_json(a);
END
$$;

DROP FUNCTION attendance_actor(bigint, jsonb, events, hour_policies);

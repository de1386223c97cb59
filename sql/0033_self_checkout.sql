-- 0033: a volunteer checks out of their own attendance without the event's code.
--
-- DESIGN §4: a check-in is "self with the event's code"; a check-out is "self, coordinator".
-- Until now a check-out went through attendance_who as a check-in does, so a volunteer's own
-- check-out without a code was refused (403 naming `code`), and so was one whose rotating code
-- had expired by the time they left (the check-in page posts the code from its URL).  Presence
-- was proven at check-in, and a check-out from anywhere can only shorten the credited time
-- (credit ends at min(check-out, ends_at); a forgotten check-out is closed at ends_at, pending).
--
-- So a check-out passes over attendance_who's refusals about the code: only a call for oneself
-- gets them, and a code sent along with one's own check-out is not looked at (the server no
-- longer sends it: server/h_attendance.c, which also leaves check-outs out of the wrong-code
-- throttle).  Every other refusal stands: an account without a volunteer record must name the
-- volunteer (422), and someone else's check-out needs a coordinator of the event (403, or 404
-- for staff outside its scope).  The attendance's method and flags are those of its check-in,
-- as before.  The single request and the group commit (api_call_batch) both call this.

-- POST /events/{id}/check-outs: 0006's, but for who may.
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

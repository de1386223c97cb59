-- 0036: /me shows the volunteer's open attendance, so that they can check out there.
--
-- A volunteer checked in from the QR poster's page may close that tab (or WeChat's browser may
-- drop it); /me then showed the event among the upcoming ones with sign-up buttons only, and
-- nothing said they were on duty.  A check-out of one's own needs no code (0033), so /me can
-- offer it: server/pages/p_me.c posts it through the API's own path (attendance_submit, which
-- runs api.checkout, as POST /events/{id}/check-outs does).
--
-- api.page_me gains, for an account with a volunteer record only (staff without one get
-- nothing new):
-- * on_duty: the volunteer's open attendance (at most one exists: the partial unique index
--   attendances_one_open_per_volunteer), with its event as the pages show one (id, title,
--   location, local starts/ends), the local check-in time, and can_check_out, always true:
--   one's own check-out is never refused but for an attendance already closed;
-- * checked_out: with args {"attendance_id"} (the page's redirect after a check-out names
--   it), that attendance when it is the volunteer's own and closed: the credited hours and
--   the entry's status, for the confirmation.  Anything else (another's, open, voided): null.

ALTER FUNCTION api.page_me(bigint, jsonb) RENAME TO page_me_before_on_duty;
ALTER FUNCTION api.page_me_before_on_duty(bigint, jsonb) SET SCHEMA public;
CREATE FUNCTION api.page_me(actor bigint, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT d || CASE WHEN jsonb_typeof(d -> 'volunteer') = 'object' THEN jsonb_build_object(
                    'on_duty', (SELECT page_event_json(e) || jsonb_build_object(
                                           'attendance_id', x.id,
                                           'check_in', local_time(x.check_in_at),
                                           'check_in_time',
                                           to_char(x.check_in_at AT TIME ZONE app_time_zone(), 'HH24:MI'),
                                           'can_check_out', true)
                                  FROM attendances x JOIN events e ON e.id = x.event_id
                                 WHERE x.volunteer_id = actor_volunteer(actor)
                                   AND x.check_out_at IS NULL AND x.voided_at IS NULL),
                    'checked_out', (SELECT jsonb_build_object(
                                           'attendance_id', x.id, 'minutes', h.minutes,
                                           'hours', to_char(h.minutes / 60.0, 'FM999990.00'),
                                           'status', h.status)
                                      FROM attendances x
                                      LEFT JOIN LATERAL (SELECT (attendance_entry(x.id)).*) h ON true
                                     WHERE x.id = arg_id(args, 'attendance_id')
                                       AND x.volunteer_id = actor_volunteer(actor)
                                       AND x.check_out_at IS NOT NULL AND x.voided_at IS NULL))
                ELSE '{}'::jsonb END
      FROM page_me_before_on_duty(actor, args) d
$$;

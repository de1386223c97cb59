-- gen-data, fast path, phase hour_entry_days (with session_replication_role = replica, set by
-- the binary; it runs beside hour_entries.sql, in another session).
SET LOCAL work_mem = '512MB';
-- What trigger hour_entries_split writes: one row per local day.  An entry inside one local
-- day (nearly all) is that day and its minutes; the others go through hour_day_split itself.
INSERT INTO hour_entry_days (entry_id, day, volunteer_id, event_id, team_id, org_unit_id, home_org_unit_id, minutes, status)
SELECT e.id, (e.started_at AT TIME ZONE p.tz)::date, e.volunteer_id, e.event_id, e.team_id, e.org_unit_id,
       e.home_org_unit_id, e.minutes, e.status
  FROM gen.entry e, gen.p p
 WHERE (e.ended_at AT TIME ZONE p.tz)::date = (e.started_at AT TIME ZONE p.tz)::date
    OR (e.ended_at AT TIME ZONE p.tz) = ((e.started_at AT TIME ZONE p.tz)::date + 1)::timestamp
UNION ALL
SELECT e.id, s.day, e.volunteer_id, e.event_id, e.team_id, e.org_unit_id, e.home_org_unit_id, s.minutes, e.status
  FROM gen.entry e, gen.p p, LATERAL hour_day_split(e.started_at, e.ended_at, e.minutes, p.tz) s
 WHERE NOT ((e.ended_at AT TIME ZONE p.tz)::date = (e.started_at AT TIME ZONE p.tz)::date
            OR (e.ended_at AT TIME ZONE p.tz) = ((e.started_at AT TIME ZONE p.tz)::date + 1)::timestamp);
SELECT (SELECT count(*) FROM hour_entry_days) || ' entry days';

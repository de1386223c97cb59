-- gen-data --verify, phase verify: the ledger's per-day split, the home units and the rollups recomputed;
-- fails on any difference.
SET LOCAL work_mem = '512MB';
DO $$
DECLARE bad bigint;
BEGIN
    -- hour_entry_days is exactly hour_day_split of every entry, with the entry's copies
    SELECT count(*) INTO bad FROM (
        (SELECT h.id, s.day, h.volunteer_id, h.event_id, h.team_id, h.org_unit_id, h.home_org_unit_id, s.minutes, h.status
           FROM hour_entries h, LATERAL hour_day_split(h.started_at, h.ended_at, h.minutes, app_time_zone()) s
         EXCEPT ALL
         SELECT entry_id, day, volunteer_id, event_id, team_id, org_unit_id, home_org_unit_id, minutes, status FROM hour_entry_days)
        UNION ALL
        (SELECT entry_id, day, volunteer_id, event_id, team_id, org_unit_id, home_org_unit_id, minutes, status FROM hour_entry_days
         EXCEPT ALL
         SELECT h.id, s.day, h.volunteer_id, h.event_id, h.team_id, h.org_unit_id, h.home_org_unit_id, s.minutes, h.status
           FROM hour_entries h, LATERAL hour_day_split(h.started_at, h.ended_at, h.minutes, app_time_zone()) s)) x;
    IF bad > 0 THEN RAISE EXCEPTION 'verify: % hour_entry_days rows differ from hour_day_split', bad; END IF;
    -- the as-at home unit
    SELECT count(*) INTO bad FROM hour_entries h WHERE h.home_org_unit_id <> volunteer_home_at(h.volunteer_id, h.started_at);
    IF bad > 0 THEN RAISE EXCEPTION 'verify: % entries with a wrong home unit', bad; END IF;
    -- the rollups against the per-day ledger
    SELECT count(*) INTO bad FROM (
        (SELECT date_trunc('month', day)::date, volunteer_id, org_unit_id, team_id, home_org_unit_id,
                coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0), coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0)
           FROM hour_entry_days WHERE status IN ('approved', 'pending') GROUP BY 1, 2, 3, 4, 5
         EXCEPT
         SELECT month, volunteer_id, org_unit_id, team_id, home_org_unit_id, approved_minutes, pending_minutes
           FROM monthly_volunteer_totals)
        UNION ALL
        (SELECT month, volunteer_id, org_unit_id, team_id, home_org_unit_id, approved_minutes, pending_minutes
           FROM monthly_volunteer_totals WHERE approved_minutes <> 0 OR pending_minutes <> 0
         EXCEPT
         SELECT date_trunc('month', day)::date, volunteer_id, org_unit_id, team_id, home_org_unit_id,
                coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0), coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0)
           FROM hour_entry_days WHERE status IN ('approved', 'pending') GROUP BY 1, 2, 3, 4, 5)) x;
    IF bad > 0 THEN RAISE EXCEPTION 'verify: % monthly_volunteer_totals rows differ from hour_entry_days', bad; END IF;
END $$;
SELECT 'hour_entry_days = hour_day_split, home units as at service, rollups = ledger';

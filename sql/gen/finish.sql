-- gen-data, phase finish: the identity sequences moved past the explicit ids; the foreign keys the replica
-- role did not check, checked set-wise.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['org_units', 'teams', 'activities', 'events', 'volunteers', 'attendances', 'hour_entries'] LOOP
        EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), greatest(1, (SELECT max(id) FROM %I)))', t, t);
    END LOOP;
END $$;
-- The foreign keys the replica role did not check, checked set-wise.
DO $$
DECLARE bad bigint;
BEGIN
    SELECT count(*) INTO bad FROM attendances a
     WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = a.event_id)
        OR NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.id = a.volunteer_id);
    IF bad > 0 THEN RAISE EXCEPTION 'attendances: % rows with a dangling key', bad; END IF;
    SELECT count(*) INTO bad FROM signups s
     WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id)
        OR NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.id = s.volunteer_id);
    IF bad > 0 THEN RAISE EXCEPTION 'signups: % rows with a dangling key', bad; END IF;
    SELECT count(*) INTO bad FROM hour_entries h
     WHERE NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.id = h.volunteer_id)
        OR NOT EXISTS (SELECT 1 FROM attendances a WHERE a.id = h.attendance_id AND a.volunteer_id = h.volunteer_id AND a.event_id = h.event_id)
        OR NOT EXISTS (SELECT 1 FROM events e WHERE e.id = h.event_id AND e.activity_id = h.activity_id
                                                  AND e.team_id = h.team_id AND e.org_unit_id = h.org_unit_id)
        OR NOT EXISTS (SELECT 1 FROM org_units u WHERE u.id = h.home_org_unit_id)
        OR (h.corrects IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hour_entries c WHERE c.id = h.corrects AND c.status = 'void'));
    IF bad > 0 THEN RAISE EXCEPTION 'hour_entries: % rows with a dangling key', bad; END IF;
    SELECT count(*) INTO bad FROM hour_entry_days d WHERE NOT EXISTS (SELECT 1 FROM hour_entries h WHERE h.id = d.entry_id);
    IF bad > 0 THEN RAISE EXCEPTION 'hour_entry_days: % rows with a dangling key', bad; END IF;
END $$;
SELECT 'foreign keys ok';

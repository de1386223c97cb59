-- gen-data, fast path, phase hour_entries: gen.entry as it stands, triggers off.  The binary
-- runs it between gen.defer_indexes('hour_entries') and gen.restore_indexes, with
-- session_replication_role = replica; hour_entry_days.sql writes what the triggers would have.
SET LOCAL work_mem = '512MB';
INSERT INTO hour_entries (id, volunteer_id, event_id, attendance_id, activity_id, team_id, org_unit_id,
                          home_org_unit_id, policy_id, started_at, ended_at, minutes, status, flags, corrects,
                          reason, created_by, created_at, decided_by, decided_at, decision_reason, voided_by, voided_at)
OVERRIDING SYSTEM VALUE
SELECT id, volunteer_id, event_id, attendance_id, activity_id, team_id, org_unit_id, home_org_unit_id, 1,
       started_at, ended_at, minutes, status, flags, corrects, reason, NULL, created_at, NULL, decided_at,
       CASE WHEN status = 'rejected' THEN '核实未到岗' END, NULL, voided_at
  FROM gen.entry ORDER BY id;
SELECT (SELECT count(*) FROM hour_entries) || ' entries';

-- gen-data --via-triggers, phase ledger-via-triggers: the ledger written through the triggers
-- (slow; for comparing with the fast path at small scale).
-- as the API would: originals pending/approved, the trigger fills the as-at copies and the days
INSERT INTO hour_entries (id, volunteer_id, event_id, attendance_id, policy_id, started_at, ended_at, minutes,
                          status, flags, corrects, reason, created_by, decided_at)
OVERRIDING SYSTEM VALUE
SELECT id, volunteer_id, event_id, attendance_id, 1, started_at, ended_at, minutes, first_status, flags, NULL,
       NULL, NULL, CASE WHEN first_status = 'approved' THEN decided_at END
  FROM gen.entry WHERE corrects IS NULL ORDER BY id;
-- corrections: the trigger voids the corrected entry
INSERT INTO hour_entries (id, volunteer_id, event_id, policy_id, started_at, ended_at, minutes,
                          status, flags, corrects, reason, created_by)
OVERRIDING SYSTEM VALUE
SELECT id, volunteer_id, event_id, 1, started_at, ended_at, minutes, 'pending', flags, corrects, reason, NULL
  FROM gen.entry WHERE corrects IS NOT NULL ORDER BY id;
-- decisions
UPDATE hour_entries h SET status = e.status, decision_reason = CASE WHEN e.status = 'rejected' THEN '核实未到岗' END
  FROM gen.entry e
 WHERE e.id = h.id AND h.status = 'pending' AND e.status IN ('approved', 'rejected');
SELECT (SELECT count(*) FROM hour_entries) || ' entries, ' || (SELECT count(*) FROM hour_entry_days) || ' entry days';

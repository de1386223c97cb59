-- 0011_report_speed.sql: two fixes found by `make bench-reports` on the generated district.
--
-- 1. attendance_entry() (0006) finds an attendance's entries whatever their status; the only
--    index on attendance_id is partial (live entries), so each look-up scanned the ledger and a
--    check-out at 10 M entries took seconds.  A plain index makes it a probe.
-- 2. report_monthly_live() (0007) is PL/pgSQL: from its sixth call in a session PostgreSQL may
--    switch to a generic plan that cannot use the caller's unit path for partition and range
--    pruning (55-60 ms instead of 8 ms at scale 0.2).  Custom plans keep the pruning.
CREATE INDEX hour_entries_attendance_id_idx ON hour_entries (attendance_id)
    WHERE attendance_id IS NOT NULL;

ALTER FUNCTION report_monthly_live(date, text, text, org_units) SET plan_cache_mode = force_custom_plan;

-- gen-data, phase attendances (both paths): the attendances of gen.att.  In the fast path the
-- binary runs it between gen.defer_indexes('attendances') and gen.restore_indexes, with
-- session_replication_role = replica (the foreign keys are checked by finish.sql).
INSERT INTO attendances (id, event_id, volunteer_id, check_in_at, check_out_at, method, flags, credited,
                         created_by, ip, created_at, updated_at) OVERRIDING SYSTEM VALUE
SELECT a.id, a.event_id, a.volunteer_id, a.ci2, a.co2,
       CASE WHEN a.kind = 'auto' THEN 'auto' WHEN a.walk_in AND a.self THEN 'walk_in' WHEN a.self THEN 'self' ELSE 'roster' END,
       CASE WHEN a.kind = 'auto' AND a.walk_in THEN '{auto_checkout,walk_in}'::text[]
            WHEN a.kind = 'auto' THEN '{auto_checkout}' WHEN a.walk_in THEN '{walk_in}' ELSE '{}' END,
       CASE WHEN greatest(a.ci2, a.starts_at) < least(CASE WHEN a.kind = 'auto' AND NOT a.corr THEN a.ends_at ELSE a.co2 END, a.ends_at)
            THEN tstzrange(greatest(a.ci2, a.starts_at), least(CASE WHEN a.kind = 'auto' AND NOT a.corr THEN a.ends_at ELSE a.co2 END, a.ends_at), '[)')
            ELSE 'empty' END,
       NULL, NULL, a.ci, CASE WHEN a.corr THEN a.co + make_interval(secs => 86400 + floor(a.r_delay * 172800)) ELSE a.co END
  FROM gen.att a
 ORDER BY a.id;

SELECT (SELECT count(*) FROM attendances) || ' attendances';

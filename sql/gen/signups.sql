-- gen-data, phase signups (both paths).  In the fast path the binary runs it between
-- gen.defer_indexes('signups') and gen.restore_indexes, followed by signup_counts.sql.
-- sign-ups: every comer but the walk-ins, and the no-shows (a third of them cancelled)
INSERT INTO signups (event_id, volunteer_id, status, created_by, created_at, updated_at)
SELECT c.event_id, c.volunteer_id,
       CASE WHEN c.x >= c.p AND gen.u2(c.volunteer_id, c.event_id, gen.s(70)) < 0.33 THEN 'cancelled' ELSE 'confirmed' END,
       NULL, e.starts_at - make_interval(secs => 3600 + floor(gen.u2(c.volunteer_id, c.event_id, gen.s(71)) * 3 * 86400)),
       e.starts_at - make_interval(secs => 3600 + floor(gen.u2(c.volunteer_id, c.event_id, gen.s(71)) * 3 * 86400))
  FROM gen.cand c JOIN gen.ev e ON e.id = c.event_id
 WHERE c.x >= c.p OR gen.u2(c.volunteer_id, c.event_id, gen.s(64)) >= 0.02
 ORDER BY 1, 2;
SELECT (SELECT count(*) FROM signups) || ' sign-ups';

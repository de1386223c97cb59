-- gen-data, phase entries-plan: gen.entry, every hour entry as the API would have written it,
-- in its final state.  Originals have id = the attendance's; corrections follow.  Decisions on
-- pending entries: in the last month half still pending, before that 93% approved, 5% pending,
-- 2% rejected.
SET LOCAL work_mem = '512MB';
CREATE UNLOGGED TABLE gen.entry AS
WITH s AS (
    SELECT a.*, p.tz,
           -- the last month is still being approved
           a.starts_at >= ((p.end_month - interval '1 month')::timestamp AT TIME ZONE p.tz) AS recent,
           greatest(a.ci, a.starts_at) AS s0,
           least(CASE WHEN a.kind = 'auto' THEN a.ends_at ELSE a.co END, a.ends_at) AS s1,
           greatest(a.ci2, a.starts_at) AS c0, least(a.co2, a.ends_at) AS c1,
           a.co + make_interval(secs => 86400 + floor(a.r_delay * 172800)) AS corrected_at,
           -- the home unit as at service (volunteer_home_at): movers' new home from the move on
           CASE WHEN m.id IS NOT NULL AND greatest(a.ci, a.starts_at) >= m.moved_at THEN m.new_home ELSE v.home END AS home0,
           CASE WHEN m.id IS NOT NULL AND greatest(a.ci2, a.starts_at) >= m.moved_at THEN m.new_home ELSE v.home END AS home1,
           CASE WHEN a.kind = 'auto' OR a.walk_in THEN 'pending' ELSE 'approved' END AS first_status
      FROM gen.att a JOIN gen.vol v ON v.id = a.volunteer_id LEFT JOIN gen.mover m ON m.id = a.volunteer_id, gen.p p
), d AS (
    SELECT s.*,
           CASE WHEN corr THEN 'void' WHEN first_status = 'approved' THEN 'approved'
                WHEN r_decide < CASE WHEN recent THEN 0.5 ELSE 0.93 END THEN 'approved'
                WHEN r_decide < 0.98 THEN 'pending' ELSE 'rejected' END AS status0
      FROM s
)
SELECT id, id AS attendance_id, NULL::bigint AS corrects, volunteer_id, event_id, activity_id, team_id,
       org_unit_id, home0 AS home_org_unit_id, starts_at,
       s0 AS started_at, CASE WHEN s0 < s1 THEN s1 ELSE s0 END AS ended_at,
       CASE WHEN s0 < s1 THEN floor(extract(epoch FROM s1 - s0) / 60)::int ELSE 0 END AS minutes,
       array(SELECT f FROM unnest(ARRAY[CASE WHEN kind = 'auto' THEN 'auto_checkout' END,
                                        CASE WHEN walk_in THEN 'walk_in' END]) f WHERE f IS NOT NULL ORDER BY f) AS flags,
       first_status, status0 AS status, NULL::text AS reason,
       co AS created_at,
       CASE WHEN first_status = 'approved' THEN co
            WHEN status0 IN ('approved', 'rejected') THEN co + make_interval(secs => 3600 + floor(r_delay * 4 * 86400)) END AS decided_at,
       CASE WHEN corr THEN corrected_at END AS voided_at
  FROM d
UNION ALL
SELECT (SELECT count(*) FROM gen.att) + row_number() OVER (ORDER BY id), id, id, volunteer_id, event_id,
       activity_id, team_id, org_unit_id, home1, starts_at,
       c0, CASE WHEN c0 < c1 THEN c1 ELSE c0 END,
       CASE WHEN c0 < c1 THEN floor(extract(epoch FROM c1 - c0) / 60)::int ELSE 0 END,
       array(SELECT f FROM unnest(ARRAY['correction', CASE WHEN kind = 'auto' THEN 'auto_checkout' END,
                                        CASE WHEN walk_in THEN 'walk_in' END]) f WHERE f IS NOT NULL ORDER BY f),
       'pending',
       CASE WHEN gen.u(id, gen.s(80)) < CASE WHEN recent THEN 0.5 ELSE 0.85 END THEN 'approved' ELSE 'pending' END,
       CASE WHEN kind = 'auto' THEN '忘记签退，按实际离开时间更正' ELSE '手机未能签到，按实际到岗时间更正' END,
       corrected_at,
       CASE WHEN gen.u(id, gen.s(80)) < CASE WHEN recent THEN 0.5 ELSE 0.85 END
            THEN corrected_at + make_interval(secs => 3600 + floor(r_delay * 86400)) END,
       NULL
  FROM d WHERE corr;
SELECT sum(n) || ' entries: ' || string_agg(status || ' ' || n, ', ' ORDER BY status) || ', '
       || sum(n) FILTER (WHERE status = 'void') || ' corrected'
  FROM (SELECT status, count(*) AS n FROM gen.entry GROUP BY status) s;

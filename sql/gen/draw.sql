-- gen-data, phase draw: who came, drawn per volunteer and event (the candidates of sign-ups and attendances).
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL work_mem = '256MB';
-- The expected number of candidates, so that the attendances come out near the target:
-- sum over (volunteer, slot) of the volunteer's weight times the events of that team and slot
-- after their registration (a suffix sum of the event weights).
CREATE TABLE gen.evsum AS
SELECT id, team_id, slot, starts_at,
       sum(w) OVER (PARTITION BY team_id, slot ORDER BY starts_at DESC, id DESC) AS suffix
  FROM gen.ev WHERE NOT cancelled;
CREATE INDEX ON gen.evsum (team_id, slot, starts_at);
ANALYZE gen.evsum;
CREATE TABLE gen.k AS
SELECT (SELECT target_att FROM gen.p)
       / greatest(1e-9, sum(v.w * coalesce((SELECT e.suffix FROM gen.evsum e
                                              WHERE e.team_id = s.team_id AND e.slot = s.slot AND e.starts_at >= v.reg_at
                                              ORDER BY e.starts_at LIMIT 1), 0))) AS k
  FROM gen.vslot s JOIN gen.vol v ON v.id = s.volunteer_id;

-- A candidate (volunteer, event) with its probability p; x < p: came; x < 1.12 p: signed up
-- (the rest of those are no-shows, a third of them cancelled).  2% of comers walk in unsigned.
CREATE UNLOGGED TABLE gen.cand AS
SELECT e.id AS event_id, s.volunteer_id, x, p
  FROM gen.vslot s
  JOIN gen.vol v ON v.id = s.volunteer_id
  JOIN gen.ev e ON e.team_id = s.team_id AND e.slot = s.slot AND e.starts_at >= v.reg_at AND NOT e.cancelled
  CROSS JOIN gen.k
  CROSS JOIN LATERAL (SELECT least(0.95, k.k * v.w * e.w) AS p,
                             gen.u2(s.volunteer_id, e.id, gen.s(50)) AS x) d
 WHERE x < 1.12 * p;
ANALYZE gen.cand;
SELECT count(*) || ' candidates (signed up or came), k = ' || round((SELECT k FROM gen.k)::numeric, 5) FROM gen.cand;

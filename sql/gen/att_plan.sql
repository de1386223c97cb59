-- gen-data, phase att-plan: every attendance's times and kind, in gen.att.
SET LOCAL work_mem = '512MB';
-- Times. Check-in: mostly early (up to 25 min), a quarter a little late, 5% much later.
-- Kinds: 3.5% forgot to check out (closed by the auto check-out at ends_at + 2 h, credited to
-- ends_at, pending); the rest check out after the end (80%), a little early (12%) or early (8%).
-- 1.2% are corrected later by a coordinator (a new entry voids the first).
CREATE UNLOGGED TABLE gen.att AS
SELECT row_number() OVER (ORDER BY c.event_id, c.volunteer_id) AS id,
       c.event_id, c.volunteer_id, e.starts_at, e.ends_at, e.org_unit_id, e.team_id, e.activity_id,
       ci, co, kind, walk_in, corr,
       -- the corrected times: an auto check-out corrected to the real departure; otherwise a
       -- check-in the phone failed to send, corrected to five minutes before the start
       CASE WHEN corr AND kind = 'auto' THEN ci ELSE CASE WHEN corr THEN e.starts_at - interval '5 minutes' ELSE ci END END AS ci2,
       CASE WHEN corr AND kind = 'auto'
            THEN greatest(ci, e.ends_at - make_interval(secs => floor(gen.u2(c.volunteer_id, c.event_id, gen.s(66)) * 1800)))
            ELSE co END AS co2,
       gen.u2(c.volunteer_id, c.event_id, gen.s(67)) AS r_decide,
       gen.u2(c.volunteer_id, c.event_id, gen.s(68)) AS r_delay,
       gen.u2(c.volunteer_id, c.event_id, gen.s(69)) < 0.8 AS self
  FROM gen.cand c
  JOIN gen.ev e ON e.id = c.event_id
  CROSS JOIN LATERAL (SELECT gen.u2(c.volunteer_id, c.event_id, gen.s(60)) AS r0,
                             gen.u2(c.volunteer_id, c.event_id, gen.s(61)) AS r1,
                             gen.u2(c.volunteer_id, c.event_id, gen.s(62)) AS r2,
                             gen.u2(c.volunteer_id, c.event_id, gen.s(63)) AS r3,
                             extract(epoch FROM e.ends_at - e.starts_at) AS dur) r
  CROSS JOIN LATERAL (SELECT least(e.ends_at - interval '1 minute', greatest(e.starts_at - interval '30 minutes',
              e.starts_at + make_interval(secs => floor(CASE WHEN r1 < 0.70 THEN -r2 * 1500
                                                             WHEN r1 < 0.95 THEN r2 * 900
                                                             ELSE r2 * dur / 2 END)))) AS ci,
                             CASE WHEN r0 < 0.035 THEN 'auto' ELSE 'normal' END AS kind,
                             gen.u2(c.volunteer_id, c.event_id, gen.s(64)) < 0.02 AS walk_in,
                             gen.u2(c.volunteer_id, c.event_id, gen.s(65)) < 0.012 AS corr) t1
  CROSS JOIN LATERAL (SELECT CASE WHEN kind = 'auto' THEN greatest(e.ends_at + interval '2 hours', ci)
                                  ELSE greatest(ci, e.ends_at + make_interval(secs => floor(
                                      CASE WHEN r3 < 0.80 THEN r3 / 0.8 * 1200
                                           WHEN r3 < 0.92 THEN -(r3 - 0.8) / 0.12 * 900
                                           ELSE -(0.1 + (r3 - 0.92) / 0.08 * 0.4) * dur END))) END AS co) t2
 WHERE c.x < c.p;
ALTER TABLE gen.att ADD PRIMARY KEY (id);
ANALYZE gen.att;

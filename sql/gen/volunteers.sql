-- gen-data, phase volunteers: volunteers (through the home-history trigger), movers, team members.
CREATE TABLE gen.vol AS
SELECT v::bigint AS id,
       (SELECT min(id) FROM org_units WHERE kind = 'grid') + floor(gen.u(v, gen.s(10)) * p.n_grid)::int AS home,
       -- 60% registered before the window, 40% during it
       CASE WHEN gen.u(v, gen.s(11)) < 0.6
            THEN (p.first_month::timestamp AT TIME ZONE p.tz) - make_interval(secs => floor(gen.u(v, gen.s(12)) * 3 * 365 * 86400))
            ELSE (p.first_month::timestamp AT TIME ZONE p.tz)
                 + make_interval(secs => floor(gen.u(v, gen.s(12)) * extract(epoch FROM (p.end_month - p.first_month) * interval '1 day')))
       END AS reg_at,
       least(6.0, -ln(1 - gen.u(v, gen.s(13)))) AS w,  -- how keen: exponential, mean ~1
       gen.u(v, gen.s(14)) < 0.005 OR v <= 2 AS mover,  -- at least two, also at small scales
       gen.u(v, gen.s(15)) < 0.048 AS party
  FROM gen.p p, generate_series(1, p.n_vol) v;
ALTER TABLE gen.vol ADD PRIMARY KEY (id);

INSERT INTO volunteers (id, name, phone, gender, birth_date, org_unit_id, work_unit, party_member, skills,
                        created_at, updated_at) OVERRIDING SYSTEM VALUE
SELECT v.id,
       (ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周','徐','孙','马','朱','胡','郭','何','林','罗','高',
              '梁','郑','谢','宋','唐','许','韩','冯','邓','曹'])[1 + floor(gen.u(v.id, gen.s(20)) * 30)::int]
       || (ARRAY['伟','芳','娜','敏','静','丽','强','磊','军','洋','勇','艳','杰','娟','涛','明','超','秀英','华','慧',
                 '建国','志强','海燕','桂兰','文博','子涵','欣怡','浩然','雨萱','俊杰'])[1 + floor(gen.u(v.id, gen.s(21)) * 30)::int]
       || CASE WHEN gen.u(v.id, gen.s(22)) < 0.3
               THEN (ARRAY['华','明','玲','平','红','辉','宇','琳','峰','婷'])[1 + floor(gen.u(v.id, gen.s(23)) * 10)::int]
               ELSE '' END,
       -- unique: the last 8 digits are a bijection of the id (odd multiplier, not a multiple of 5)
       (ARRAY['130','131','132','135','136','137','138','139','150','151','152','158','159','166',
              '177','180','186','187','188','189','199'])[1 + floor(gen.u(v.id, gen.s(24)) * 21)::int]
       || lpad(((v.id::bigint * 48271 + p.seed * 7919) % 100000000)::text, 8, '0'),
       CASE WHEN gen.u(v.id, gen.s(25)) < 0.55 THEN 'female' ELSE 'male' END,
       DATE '1950-01-01' + floor(gen.u(v.id, gen.s(26)) * 365 * 55)::int,
       v.home,
       CASE WHEN v.party THEN (ARRAY['区委办','区政府办','区财政局','区教育局','区卫健局','区民政局','区城管局',
                                     '区税务局','区供电局','区人民医院'])[1 + floor(gen.u(v.id, gen.s(27)) * 10)::int] END,
       v.party,
       CASE WHEN gen.u(v.id, gen.s(28)) < 0.2 THEN ARRAY['first_aid'] ELSE '{}' END,
       v.reg_at, v.reg_at
  FROM gen.vol v, gen.p p
 ORDER BY v.id;

-- Movers: half a percent moved home once, at a moment inside the window, to another grid.
CREATE TABLE gen.mover AS
SELECT v.id, v.home AS old_home,
       (SELECT min(id) FROM org_units WHERE kind = 'grid')
         + ((v.home - (SELECT min(id) FROM org_units WHERE kind = 'grid') + 1 + floor(gen.u(v.id, gen.s(30)) * (p.n_grid - 1))::int) % p.n_grid) AS new_home,
       greatest(v.reg_at, p.first_month::timestamp AT TIME ZONE p.tz)
         + make_interval(secs => floor(gen.u(v.id, gen.s(31)) * 0.9
                                        * extract(epoch FROM (p.end_month::timestamp AT TIME ZONE p.tz) - greatest(v.reg_at, p.first_month::timestamp AT TIME ZONE p.tz)))) AS moved_at
  FROM gen.vol v, gen.p p WHERE v.mover;
SET LOCAL session_replication_role = replica;  -- the history trigger would date the move now()
UPDATE volunteer_home_history h SET valid_to = m.moved_at FROM gen.mover m WHERE h.volunteer_id = m.id AND h.valid_to IS NULL;
INSERT INTO volunteer_home_history (volunteer_id, org_unit_id, valid_from, valid_to)
SELECT id, new_home, moved_at, NULL FROM gen.mover ORDER BY id;
UPDATE volunteers v SET org_unit_id = m.new_home, updated_at = m.moved_at FROM gen.mover m WHERE v.id = m.id;
SET LOCAL session_replication_role = origin;

-- Team membership: the team of the home community (else of the subdistrict, else the
-- district's); a fifth also serve with a second team (the subdistrict's or the district's).
CREATE TABLE gen.unit_team AS
SELECT c.id AS unit,
       coalesce((SELECT min(t.id) FROM teams t WHERE t.org_unit_id = c.id),
                (SELECT min(t.id) FROM teams t WHERE t.org_unit_id = c.parent_id), 1) AS primary_team,
       (SELECT min(t.id) FROM teams t WHERE t.org_unit_id = c.parent_id) AS subd_team
  FROM org_units c WHERE c.kind = 'community';
CREATE TABLE gen.vt AS
SELECT v.id AS volunteer_id, ut.primary_team,
       CASE WHEN gen.u(v.id, gen.s(40)) < 0.2
            THEN coalesce(nullif(ut.subd_team, ut.primary_team), nullif(1, ut.primary_team)) END AS second_team
  FROM gen.vol v JOIN org_units g ON g.id = v.home JOIN gen.unit_team ut ON ut.unit = g.parent_id;
INSERT INTO team_members (team_id, volunteer_id, role, joined_at)
SELECT t, m.volunteer_id, CASE WHEN gen.u2(m.volunteer_id, t, gen.s(41)) < 0.01 THEN 'leader' ELSE 'member' END,
       v.reg_at
  FROM gen.vt m JOIN gen.vol v ON v.id = m.volunteer_id,
       LATERAL (VALUES (m.primary_team), (m.second_team)) x(t)
 WHERE t IS NOT NULL
 ORDER BY 1, 2;

-- Who may serve where: per volunteer and slot, one of their teams (70% the first).
CREATE TABLE gen.vslot AS
SELECT m.volunteer_id, s.slot,
       CASE WHEN m.second_team IS NULL OR gen.u2(m.volunteer_id, s.slot, gen.s(42)) < 0.7 THEN m.primary_team
            ELSE m.second_team END AS team_id
  FROM gen.vt m CROSS JOIN gen.slot s;
DELETE FROM gen.vslot x WHERE NOT EXISTS (SELECT 1 FROM gen.act a WHERE a.team_id = x.team_id AND a.slot = x.slot);
ANALYZE gen.vol; ANALYZE gen.vslot; ANALYZE gen.mover;
SELECT (SELECT count(*) FROM volunteers) || ' volunteers, ' || (SELECT count(*) FROM gen.mover) || ' moved, '
       || (SELECT count(*) FROM team_members) || ' memberships';

-- gen-data, phase org-units: the area tree, teams, activities and events, through their triggers.
INSERT INTO org_units (id, parent_id, kind, code, name) OVERRIDING SYSTEM VALUE
VALUES (1, NULL, 'district', '440106000000', '文明示范区');
-- subdistricts 2 .. 1+S
INSERT INTO org_units (id, parent_id, kind, code, name) OVERRIDING SYSTEM VALUE
SELECT 1 + s, 1, 'subdistrict', '440106' || lpad(s::text, 3, '0') || '000',
       (ARRAY['沙河','五山','员村','车陂','石牌','林和','棠下','天园','龙洞','元岗'])[1 + (s - 1) % 10]
       || CASE WHEN s > 10 THEN s::text ELSE '' END || '街道'
  FROM gen.p, generate_series(1, n_subd) s ORDER BY s;
-- communities, round-robin over the subdistricts
INSERT INTO org_units (id, parent_id, kind, code, name) OVERRIDING SYSTEM VALUE
SELECT 1 + n_subd + c, 2 + (c - 1) % n_subd, 'community',
       '440106' || lpad((1 + (c - 1) % n_subd)::text, 3, '0') || lpad((1 + (c - 1) / n_subd)::text, 3, '0'),
       (ARRAY['东风','朝阳','和平','幸福','建设','新华','光明','胜利','红旗','育才','春晖','锦绣',
              '金穗','翠竹','枫叶','怡安','华景','绿荫','康乐','明珠','长兴','福星','安居','兴盛'])[1 + floor(gen.u(c, gen.s(1)) * 24)::int]
       || (1 + (c - 1) / n_subd) || '社区'
  FROM gen.p, generate_series(1, n_comm) c ORDER BY c;
-- grids, round-robin over the communities
INSERT INTO org_units (id, parent_id, kind, code, name) OVERRIDING SYSTEM VALUE
SELECT 1 + n_subd + n_comm + g, 2 + n_subd + (g - 1) % n_comm, 'grid',
       (SELECT code FROM org_units WHERE id = 2 + n_subd + (g - 1) % n_comm) || lpad((1 + (g - 1) / n_comm)::text, 3, '0'),
       '第' || (1 + (g - 1) / n_comm) || '网格'
  FROM gen.p, generate_series(1, n_grid) g ORDER BY g;
-- the practice-centre tree: 中心 / 所 / 站 / 点
INSERT INTO org_units (id, parent_id, kind, code, name) OVERRIDING SYSTEM VALUE
SELECT 2 + n_subd + n_comm + n_grid, 1, 'center', 'SJ-ZX', '新时代文明实践中心' FROM gen.p;
INSERT INTO org_units (id, parent_id, kind, code, name) OVERRIDING SYSTEM VALUE
SELECT 2 + n_subd + n_comm + n_grid + i, 2 + n_subd + n_comm + n_grid, 'station', 'SJ-S-' || lpad(i::text, 3, '0'),
       '新时代文明实践所' || i
  FROM gen.p, generate_series(1, n_suo) i ORDER BY i;
INSERT INTO org_units (id, parent_id, kind, code, name) OVERRIDING SYSTEM VALUE
SELECT 2 + n_subd + n_comm + n_grid + n_suo + i, 2 + n_subd + n_comm + n_grid + 1 + (i - 1) % n_suo, 'station',
       'SJ-Z-' || lpad(i::text, 3, '0'), '新时代文明实践站' || i
  FROM gen.p, generate_series(1, n_zhan) i ORDER BY i;
INSERT INTO org_units (id, parent_id, kind, code, name) OVERRIDING SYSTEM VALUE
SELECT 2 + n_subd + n_comm + n_grid + n_suo + n_zhan + i, 2 + n_subd + n_comm + n_grid + n_suo + 1 + (i - 1) % n_zhan,
       'point', 'SJ-D-' || lpad(i::text, 3, '0'), '新时代文明实践点' || i
  FROM gen.p, generate_series(1, n_dian) i ORDER BY i;
SELECT count(*) || ' org units' FROM org_units;

-- teams: 1 the district's, then one per subdistrict, then the communities' (round-robin)
INSERT INTO teams (id, name, org_unit_id, parent_team_id, kind, created_at) OVERRIDING SYSTEM VALUE
SELECT j, u.name || CASE k WHEN 'party_branch' THEN '党员先锋队' WHEN 'unit' THEN '机关志愿服务队'
                           ELSE CASE WHEN j = 1 THEN '志愿服务总队' ELSE '志愿服务队' END END
          || CASE WHEN j > 1 + n_subd + n_comm THEN (j / n_comm)::text ELSE '' END,
       u.id, CASE WHEN u.kind = 'community' AND u.parent_id <= n_team THEN u.parent_id END,
       k, first_month - 400
  FROM gen.p,
       LATERAL generate_series(1, n_team) j,
       LATERAL (SELECT CASE WHEN j = 1 THEN 1
                            WHEN j <= 1 + n_subd THEN j
                            ELSE 2 + n_subd + (j - 2 - n_subd) % n_comm END AS unit,
                       CASE WHEN j > 1 AND j % 10 = 0 THEN 'party_branch' WHEN j > 1 AND j % 17 = 0 THEN 'unit'
                            ELSE 'general' END AS k) x
  JOIN org_units u ON u.id = x.unit
 ORDER BY j;
-- parent_team_id above points at the subdistrict's team: team j = 1 + s owns subdistrict id 1 + s
SELECT count(*) || ' teams' FROM teams;

-- Activity slots (local times); a team's activities get distinct slots, and a volunteer serves
-- one team per slot, so that nobody is ever credited twice for the same minute.
CREATE TABLE gen.slot (slot int PRIMARY KEY, days int[], t0 time, len interval, title text, category text,
                       byday text[]);
INSERT INTO gen.slot VALUES
    (0, '{1,2,3,4,5}', '07:00', '2 hours',    '交通文明岗（早高峰）', 'traffic',   '{MO,TU,WE,TH,FR}'),
    (1, '{2,5}',       '09:00', '2 hours',    '周二周五环境清洁',     'cleaning',  '{TU,FR}'),
    (2, '{3}',         '14:30', '2 hours',    '入户走访',             'visit',     '{WE}'),
    (3, '{2,5}',       '17:00', '2 hours',    '文明劝导（晚高峰）',   'traffic',   '{TU,FR}'),
    (4, '{4}',         '19:30', '2 hours',    '社区文明宣传',         'publicity', '{TH}'),
    (5, '{6}',         '22:00', '2.5 hours',  '夜间治安巡逻',         'patrol',    '{SA}'),  -- crosses midnight
    (6, '{7}',         '09:00', '2.5 hours',  '周末公益服务',         'welfare',   '{SU}');

-- activity i: team 1 + (i-1) % T, its k-th; every fifth team has the evening/weekend slots
INSERT INTO activities (id, team_id, org_unit_id, title, category, location, capacity, policy_id,
                        recurrence, created_at) OVERRIDING SYSTEM VALUE
SELECT x.i, t.id, g.id, s.title || '·' || g.name, s.category, ou.name || g.name, NULL, 1,
       CASE WHEN s.t0 + s.len <= '24:00'::time THEN jsonb_build_object(
           'freq', 'weekly', 'byday', to_jsonb(s.byday), 'from', p.first_month, 'until', p.end_month - 1,
           'start_time', to_char(s.t0, 'HH24:MI'), 'end_time', to_char(s.t0 + s.len, 'HH24:MI')) END,
       p.first_month - 30
  FROM gen.p p
  CROSS JOIN (SELECT i, 1 + (i - 1) % q.n_team AS team, (i - 1) / q.n_team AS k
                FROM gen.p q, generate_series(1, q.n_act) i) x
  JOIN teams t ON t.id = x.team
  JOIN org_units ou ON ou.id = t.org_unit_id
  JOIN gen.slot s ON s.slot = (ARRAY[1,0,3,2,4,5,6])[1 + (x.k + CASE WHEN x.team % 5 = 2 THEN 3 ELSE 0 END) % 7]
  CROSS JOIN LATERAL (
      SELECT gg.id, gg.name FROM org_units gg
       WHERE gg.kind = 'grid' AND gg.path >= ou.path AND gg.path < left(ou.path, -1) || '0'
       ORDER BY gg.id
      OFFSET floor(gen.u(x.i, gen.s(2)) * (SELECT count(*) FROM org_units c
                                           WHERE c.kind = 'grid' AND c.path >= ou.path
                                             AND c.path < left(ou.path, -1) || '0')) LIMIT 1) g
 ORDER BY x.i;
CREATE TABLE gen.act AS
SELECT a.id, a.team_id, a.org_unit_id,
       (ARRAY[1,0,3,2,4,5,6])[1 + ((a.id - 1) / p.n_team + CASE WHEN a.team_id % 5 = 2 THEN 3 ELSE 0 END) % 7] AS slot,
       0.6 + 0.8 * gen.u(a.id, gen.s(3)) AS w
  FROM activities a, gen.p p;
SELECT count(*) || ' activities' FROM activities;

-- events: every matching day of every activity; 1% cancelled (weather); ids in time order
INSERT INTO events (id, activity_id, team_id, org_unit_id, starts_at, ends_at, capacity, status,
                    checkin_code, checkin_secret, created_at) OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY st, a.id), a.id, a.team_id, a.org_unit_id, st, st + s.len, NULL,
       CASE WHEN gen.u2(a.id, d - p.first_month, gen.s(4)) < 0.01 THEN 'cancelled' ELSE 'scheduled' END,
       lpad(floor(gen.u2(a.id, d - p.first_month, gen.s(5)) * 1000000)::int::text, 6, '0'),
       decode(md5(p.seed || '/' || a.id || '/' || d), 'hex'),
       (p.first_month - 30)::timestamp AT TIME ZONE p.tz
  FROM gen.p p
  JOIN gen.act a ON true
  JOIN gen.slot s ON s.slot = a.slot
  CROSS JOIN LATERAL generate_series(p.first_month::timestamp, (p.end_month - 1)::timestamp, interval '1 day') g
  CROSS JOIN LATERAL (SELECT g::date AS d) dd
  CROSS JOIN LATERAL (SELECT (d + s.t0) AT TIME ZONE p.tz AS st) x
 WHERE extract(isodow FROM d)::int = ANY (s.days)
 ORDER BY 1;
CREATE TABLE gen.ev AS
SELECT e.id, e.activity_id, e.team_id, e.org_unit_id, e.starts_at, e.ends_at, a.slot,
       e.status = 'cancelled' AS cancelled,
       -- weight: the activity's, the season's (Spring Festival low, the inspection months high), noise
       a.w * (ARRAY[0.8,0.6,1.0,1.1,1.1,1.0,0.9,0.9,1.1,1.2,1.2,1.0])[extract(month FROM e.starts_at AT TIME ZONE p.tz)::int]
           * (0.85 + 0.3 * gen.u(e.id, gen.s(6))) AS w
  FROM events e JOIN gen.act a ON a.id = e.activity_id, gen.p p;
CREATE INDEX ON gen.ev (team_id, slot, starts_at);
ANALYZE gen.act; ANALYZE gen.ev;
SELECT count(*) || ' events' FROM events;

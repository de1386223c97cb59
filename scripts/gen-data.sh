#!/usr/bin/env bash
# Generates one city district's volunteer data set inside PostgreSQL (issue 6, DESIGN §1 and §8).
#
#   scripts/gen-data.sh [--scale N] [--seed S] [--months M] [--end-month YYYY-MM]
#                       [--via-triggers] [--verify] [--database-url URL]
#
# Scale 1 is the district of DESIGN §1: 1 district, 10 subdistricts, 110 communities, 2,644
# grids, the practice-centre tree (1 centre, 15 所, 85 站, 5 点), 101 teams, 409 activities,
# ~53,000 events over twelve months, 146,000 volunteers, ~11 M sign-ups and ~10 M attendances
# with their ledger entries. Fractions scale every count (at least a few of each);
# --scale 0.002 is a test-sized district. The data covers the M (default 12) whole calendar
# months before --end-month (default: the current month, in the deployment's time zone), so the
# current month is left to live check-ins.
#
# How: everything is computed inside PostgreSQL with generate_series and set-based INSERT ...
# SELECT; randomness is hashint8extended(key, seed): a pure function of (seed, what, which), so a
# given seed gives the same rows in any plan order, with or without parallel workers. Ids are
# explicit and the identity sequences are moved past them afterwards. The small tables (org
# units, teams, activities, events, volunteers) go through their triggers. The ledger does not:
# attendances, sign-ups, hour_entries and hour_entry_days are written with
# session_replication_role = replica (per-row triggers and foreign-key triggers off, for this
# session only; CHECK, UNIQUE and EXCLUDE constraints still hold), in the final state the
# triggers and the API would have produced (as-at copies, voided corrected entries, decisions,
# the per-day split of hour_day_split, the events' sign-up counters); the foreign keys are then
# checked set-wise, and the rollups are rebuilt with rollups_rebuild_all() (0007) or
# rollups_rebuild_month() per month (0001). The replica role needs a superuser (the private
# clusters of the tests and of `make bench-reports` connect as postgres). For the three big
# tables the secondary indexes and the unique/exclusion constraints are dropped inside the
# loading transaction and rebuilt from their catalog definitions before it commits (one
# sorted build instead of ten million insertions; the rebuild checks the constraints again).
# Attendances + entries and sign-ups + entry days load in two sessions at once (2 cores).
#
# --via-triggers writes the ledger through the triggers instead (original entries inserted
# pending/approved, corrections inserted with `corrects` so that the trigger voids the old entry,
# decisions as UPDATEs, hour_entry_days and rollups by trigger): slow (~150 µs an entry), for
# comparing with the fast path at small scale (tests/integration/test_gen_data.py).
# --verify recomputes hour_entry_days with hour_day_split for every entry and the rollups from
# hour_entry_days, and fails on any difference (minutes at scale 1).
#
# The database must be migrated and hold no org units, volunteers or events. DATABASE_URL (or
# --database-url) is passed to psql verbatim. Timings per phase go to stdout.
set -euo pipefail

SCALE=1
SEED=1
MONTHS=12
END_MONTH=
VIA_TRIGGERS=0
VERIFY=0
URL=${DATABASE_URL:-}

usage() {
	sed -n '2,4p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--scale) SCALE=${2:?}; shift 2 ;;
	--seed) SEED=${2:?}; shift 2 ;;
	--months) MONTHS=${2:?}; shift 2 ;;
	--end-month) END_MONTH=${2:?}; shift 2 ;;
	--via-triggers) VIA_TRIGGERS=1; shift ;;
	--verify) VERIFY=1; shift ;;
	--database-url) URL=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) echo "gen-data: unknown argument $1" >&2; usage ;;
	esac
done

[[ "$SCALE" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "gen-data: --scale wants a positive number" >&2; exit 2; }
[[ "$SEED" =~ ^[0-9]{1,9}$ ]] || { echo "gen-data: --seed wants an integer 0..999999999" >&2; exit 2; }
[[ "$MONTHS" =~ ^[0-9]{1,2}$ ]] && [ "$MONTHS" -ge 1 ] && [ "$MONTHS" -le 36 ] ||
	{ echo "gen-data: --months wants 1..36" >&2; exit 2; }
[ -z "$END_MONTH" ] || [[ "$END_MONTH" =~ ^[0-9]{4}-[0-9]{2}$ ]] ||
	{ echo "gen-data: --end-month wants YYYY-MM" >&2; exit 2; }

PSQL=${PSQL:-psql}
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
command -v "$PSQL" >/dev/null 2>&1 || PSQL=/usr/lib/postgresql/15/bin/psql

# One phase = one psql session, one transaction (-1), stops at the first error.
psqlv() {
	"$PSQL" "$URL" -X -q -At -v ON_ERROR_STOP=1 -v scale="$SCALE" -v seed="$SEED" \
		-v months="$MONTHS" -v end_month="$END_MONTH" -v via="$VIA_TRIGGERS" "$@"
}

# SQL that drops a table's secondary indexes and unique/exclusion constraints (keeping the
# primary key) for the bulk insert that follows in the same transaction, and the SQL that
# rebuilds them, from their own catalog definitions, after it: one sorted build per index
# instead of ten million insertions. The constraints are checked again by the rebuild, and a
# failure rolls the drop back with everything else.
defer_indexes() { # table
	cat <<SQL
CREATE TEMP TABLE deferred_$1 ON COMMIT DROP AS
SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) AS redo,
       format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS undo
  FROM pg_constraint c WHERE c.conrelid = '$1'::regclass AND c.contype IN ('u', 'x')
UNION ALL
SELECT pg_get_indexdef(i.indexrelid), format('DROP INDEX %s', i.indexrelid::regclass)
  FROM pg_index i WHERE i.indrelid = '$1'::regclass AND NOT i.indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid);
SELECT undo FROM deferred_$1 \gexec
SQL
}
restore_indexes() { # table
	cat <<SQL
SET LOCAL maintenance_work_mem = '1GB';
SELECT redo FROM deferred_$1 \gexec
SQL
}

T0=$(date +%s.%N)
phase() { # name; the SQL on stdin
	local name=$1 t1 t2 out
	t1=$(date +%s.%N)
	out=$(mktemp)
	if ! psqlv ${PHASE_TX--1} -f - >"$out" 2>&1; then
		cat "$out" >&2
		rm -f "$out"
		echo "gen-data: phase $name failed" >&2
		exit 1
	fi
	t2=$(date +%s.%N)
	printf 'gen-data: %-22s %8.1f s  %s\n' "$name" "$(echo "$t2 - $t1" | bc)" \
		"$(grep -v '^$' "$out" | tr '\n' ' ')"
	rm -f "$out"
}

# A phase in the background (its own session and transaction); wait_bg waits for all and
# fails when one failed.
BG=()
phase_bg() {
	local name=$1 sql
	sql=$(cat)
	(printf '%s\n' "$sql" | phase "$name") &
	BG+=($!)
}
wait_bg() {
	local pid rc=0
	for pid in "${BG[@]}"; do
		wait "$pid" || rc=1
	done
	BG=()
	[ $rc = 0 ] || { echo "gen-data: a phase failed" >&2; exit 1; }
}

echo "gen-data: scale $SCALE, seed $SEED, $MONTHS months before ${END_MONTH:-the current month}$([ $VIA_TRIGGERS = 1 ] && echo ', ledger through the triggers')"

#---------------------------------------------------------------------------------------------
# Parameters, helpers, the shape's counts
#---------------------------------------------------------------------------------------------
phase setup <<'SQL'
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM org_units) OR EXISTS (SELECT 1 FROM volunteers) OR EXISTS (SELECT 1 FROM events) THEN
        RAISE EXCEPTION 'gen-data wants a migrated database without org units, volunteers or events';
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'gen-data needs a superuser connection (it sets session_replication_role)';
    END IF;
END $$;
DROP SCHEMA IF EXISTS gen CASCADE;
CREATE SCHEMA gen;

-- A uniform number in [0, 1) from (key, salt): 53 bits of PostgreSQL's hash-partitioning hash,
-- which is stable across platforms and releases.
CREATE FUNCTION gen.u(k bigint, salt bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((hashint8extended(k, salt) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;
-- ... from two keys
CREATE FUNCTION gen.u2(a bigint, b bigint, salt bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((hashint8extended(b, hashint8extended(a, salt)) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;

CREATE TABLE gen.p AS
SELECT :scale::numeric AS scale, :seed::bigint AS seed, :months::int AS months,
       m0 AS first_month, (m0 + make_interval(months => :months))::date AS end_month,
       app_time_zone() AS tz,
       greatest(1, round(10 * :scale))::int AS n_subd,
       greatest(2, round(110 * :scale))::int AS n_comm,
       greatest(4, round(2644 * :scale))::int AS n_grid,
       greatest(2, round(101 * :scale))::int AS n_team,
       greatest(60, round(146000 * :scale))::int AS n_vol,
       greatest(1, round(15 * :scale))::int AS n_suo,
       greatest(1, round(85 * :scale))::int AS n_zhan,
       greatest(1, round(5 * :scale))::int AS n_dian,
       round(10000000 * :scale * :months / 12.0)::bigint AS target_att
  FROM (SELECT (coalesce(nullif(:'end_month', '') || '-01',
                         date_trunc('month', now() AT TIME ZONE app_time_zone())::date::text)::date
                - make_interval(months => :months))::date AS m0) t;
ALTER TABLE gen.p ADD COLUMN n_act int;
UPDATE gen.p SET n_act = least(7 * n_team, greatest(4 * n_team, round(409 * scale)::int));
-- salts: seed * 1000 + a number per purpose (psql does not expand variables inside $$)
SELECT format('CREATE FUNCTION gen.s(what int) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
              format('SELECT %s::bigint * 1000 + what', :seed::bigint)) \gexec

-- the hour_entry_days partitions of the months generated
SELECT count(*) || ' partitions added' FROM gen.p, hour_entry_days_ensure(first_month, end_month - 1);
SELECT format('%s..%s: %s subdistricts, %s communities, %s grids, %s teams, %s activities, %s volunteers, ~%s attendances',
              first_month, end_month - 1, n_subd, n_comm, n_grid, n_team, n_act, n_vol, target_att) FROM gen.p;
SQL

#---------------------------------------------------------------------------------------------
# The area tree, teams, activities, events (through their triggers)
#---------------------------------------------------------------------------------------------
phase org-units <<'SQL'
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
SQL

#---------------------------------------------------------------------------------------------
# Volunteers (through the home-history trigger), movers, team members
#---------------------------------------------------------------------------------------------
phase volunteers <<'SQL'
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
SQL

#---------------------------------------------------------------------------------------------
# Who came: sign-ups and attendances (drawn per volunteer and event)
#---------------------------------------------------------------------------------------------
phase draw <<'SQL'
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
SQL

phase att-plan <<'SQL'
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
SQL


#---------------------------------------------------------------------------------------------
# The ledger
#---------------------------------------------------------------------------------------------
# gen.entry: every entry as the API would have written it, in its final state.  Originals have
# id = the attendance's; corrections follow.  Decisions on pending entries: in the last month
# half still pending, before that 93% approved, 5% pending, 2% rejected.
phase entries-plan <<'SQL'
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
SQL

if [ "$VIA_TRIGGERS" = 0 ]; then
# Two streams on the two cores: attendances then hour_entries, and sign-ups then
# hour_entry_days (the replica role skips the foreign keys between them; checked below).
phase_bg attendances <<SQL
$(defer_indexes attendances)

\\if :via
\\else
SET LOCAL session_replication_role = replica;
\\endif
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

$(restore_indexes attendances)
SELECT (SELECT count(*) FROM attendances) || ' attendances';
SQL
phase_bg signups <<SQL
$(defer_indexes signups)
-- sign-ups: every comer but the walk-ins, and the no-shows (a third of them cancelled)
INSERT INTO signups (event_id, volunteer_id, status, created_by, created_at, updated_at)
SELECT c.event_id, c.volunteer_id,
       CASE WHEN c.x >= c.p AND gen.u2(c.volunteer_id, c.event_id, gen.s(70)) < 0.33 THEN 'cancelled' ELSE 'confirmed' END,
       NULL, e.starts_at - make_interval(secs => 3600 + floor(gen.u2(c.volunteer_id, c.event_id, gen.s(71)) * 3 * 86400)),
       e.starts_at - make_interval(secs => 3600 + floor(gen.u2(c.volunteer_id, c.event_id, gen.s(71)) * 3 * 86400))
  FROM gen.cand c JOIN gen.ev e ON e.id = c.event_id
 WHERE c.x >= c.p OR gen.u2(c.volunteer_id, c.event_id, gen.s(64)) >= 0.02
 ORDER BY 1, 2;
\\if :via
\\else
-- what trigger signups_count keeps
UPDATE events e SET confirmed_count = s.c, waitlisted_count = s.w
  FROM (SELECT event_id, count(*) FILTER (WHERE status = 'confirmed')::int AS c,
               count(*) FILTER (WHERE status = 'waitlisted')::int AS w
          FROM signups GROUP BY event_id) s
 WHERE e.id = s.event_id;
\\endif
$(restore_indexes signups)
SELECT (SELECT count(*) FROM signups) || ' sign-ups';
SQL
wait_bg
phase_bg hour_entries <<SQL
$(defer_indexes hour_entries)
SET LOCAL session_replication_role = replica;
SET LOCAL work_mem = '512MB';
INSERT INTO hour_entries (id, volunteer_id, event_id, attendance_id, activity_id, team_id, org_unit_id,
                          home_org_unit_id, policy_id, started_at, ended_at, minutes, status, flags, corrects,
                          reason, created_by, created_at, decided_by, decided_at, decision_reason, voided_by, voided_at)
OVERRIDING SYSTEM VALUE
SELECT id, volunteer_id, event_id, attendance_id, activity_id, team_id, org_unit_id, home_org_unit_id, 1,
       started_at, ended_at, minutes, status, flags, corrects, reason, NULL, created_at, NULL, decided_at,
       CASE WHEN status = 'rejected' THEN '核实未到岗' END, NULL, voided_at
  FROM gen.entry ORDER BY id;
$(restore_indexes hour_entries)
SELECT (SELECT count(*) FROM hour_entries) || ' entries';
SQL
phase_bg hour_entry_days <<'SQL'
SET LOCAL session_replication_role = replica;
SET LOCAL work_mem = '512MB';
-- What trigger hour_entries_split writes: one row per local day.  An entry inside one local
-- day (nearly all) is that day and its minutes; the others go through hour_day_split itself.
INSERT INTO hour_entry_days (entry_id, day, volunteer_id, event_id, team_id, org_unit_id, home_org_unit_id, minutes, status)
SELECT e.id, (e.started_at AT TIME ZONE p.tz)::date, e.volunteer_id, e.event_id, e.team_id, e.org_unit_id,
       e.home_org_unit_id, e.minutes, e.status
  FROM gen.entry e, gen.p p
 WHERE (e.ended_at AT TIME ZONE p.tz)::date = (e.started_at AT TIME ZONE p.tz)::date
    OR (e.ended_at AT TIME ZONE p.tz) = ((e.started_at AT TIME ZONE p.tz)::date + 1)::timestamp
UNION ALL
SELECT e.id, s.day, e.volunteer_id, e.event_id, e.team_id, e.org_unit_id, e.home_org_unit_id, s.minutes, e.status
  FROM gen.entry e, gen.p p, LATERAL hour_day_split(e.started_at, e.ended_at, e.minutes, p.tz) s
 WHERE NOT ((e.ended_at AT TIME ZONE p.tz)::date = (e.started_at AT TIME ZONE p.tz)::date
            OR (e.ended_at AT TIME ZONE p.tz) = ((e.started_at AT TIME ZONE p.tz)::date + 1)::timestamp);
SELECT (SELECT count(*) FROM hour_entry_days) || ' entry days';
SQL
wait_bg
else
phase attendances <<'SQL'

\if :via
\else
SET LOCAL session_replication_role = replica;
\endif
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
SQL
phase signups <<'SQL'
-- sign-ups: every comer but the walk-ins, and the no-shows (a third of them cancelled)
INSERT INTO signups (event_id, volunteer_id, status, created_by, created_at, updated_at)
SELECT c.event_id, c.volunteer_id,
       CASE WHEN c.x >= c.p AND gen.u2(c.volunteer_id, c.event_id, gen.s(70)) < 0.33 THEN 'cancelled' ELSE 'confirmed' END,
       NULL, e.starts_at - make_interval(secs => 3600 + floor(gen.u2(c.volunteer_id, c.event_id, gen.s(71)) * 3 * 86400)),
       e.starts_at - make_interval(secs => 3600 + floor(gen.u2(c.volunteer_id, c.event_id, gen.s(71)) * 3 * 86400))
  FROM gen.cand c JOIN gen.ev e ON e.id = c.event_id
 WHERE c.x >= c.p OR gen.u2(c.volunteer_id, c.event_id, gen.s(64)) >= 0.02
 ORDER BY 1, 2;
\if :via
\else
-- what trigger signups_count keeps
UPDATE events e SET confirmed_count = s.c, waitlisted_count = s.w
  FROM (SELECT event_id, count(*) FILTER (WHERE status = 'confirmed')::int AS c,
               count(*) FILTER (WHERE status = 'waitlisted')::int AS w
          FROM signups GROUP BY event_id) s
 WHERE e.id = s.event_id;
\endif
SELECT (SELECT count(*) FROM signups) || ' sign-ups';
SQL
phase ledger-via-triggers <<'SQL'
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
SQL
fi

#---------------------------------------------------------------------------------------------
# Sequences, foreign keys, rollups, statistics
#---------------------------------------------------------------------------------------------
phase finish <<'SQL'
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['org_units', 'teams', 'activities', 'events', 'volunteers', 'attendances', 'hour_entries'] LOOP
        EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), greatest(1, (SELECT max(id) FROM %I)))', t, t);
    END LOOP;
END $$;
-- The foreign keys the replica role did not check, checked set-wise.
DO $$
DECLARE bad bigint;
BEGIN
    SELECT count(*) INTO bad FROM attendances a
     WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = a.event_id)
        OR NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.id = a.volunteer_id);
    IF bad > 0 THEN RAISE EXCEPTION 'attendances: % rows with a dangling key', bad; END IF;
    SELECT count(*) INTO bad FROM signups s
     WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id)
        OR NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.id = s.volunteer_id);
    IF bad > 0 THEN RAISE EXCEPTION 'signups: % rows with a dangling key', bad; END IF;
    SELECT count(*) INTO bad FROM hour_entries h
     WHERE NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.id = h.volunteer_id)
        OR NOT EXISTS (SELECT 1 FROM attendances a WHERE a.id = h.attendance_id AND a.volunteer_id = h.volunteer_id AND a.event_id = h.event_id)
        OR NOT EXISTS (SELECT 1 FROM events e WHERE e.id = h.event_id AND e.activity_id = h.activity_id
                                                  AND e.team_id = h.team_id AND e.org_unit_id = h.org_unit_id)
        OR NOT EXISTS (SELECT 1 FROM org_units u WHERE u.id = h.home_org_unit_id)
        OR (h.corrects IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hour_entries c WHERE c.id = h.corrects AND c.status = 'void'));
    IF bad > 0 THEN RAISE EXCEPTION 'hour_entries: % rows with a dangling key', bad; END IF;
    SELECT count(*) INTO bad FROM hour_entry_days d WHERE NOT EXISTS (SELECT 1 FROM hour_entries h WHERE h.id = d.entry_id);
    IF bad > 0 THEN RAISE EXCEPTION 'hour_entry_days: % rows with a dangling key', bad; END IF;
END $$;
SELECT 'foreign keys ok';
SQL

if [ "$VIA_TRIGGERS" = 0 ]; then
phase rollups <<'SQL'
SET LOCAL work_mem = '512MB';
DO $$
BEGIN
    IF to_regproc('rollups_rebuild_all') IS NOT NULL THEN
        PERFORM rollups_rebuild_all();
    ELSE
        PERFORM rollups_rebuild_month(m)
           FROM (SELECT DISTINCT date_trunc('month', day)::date AS m FROM hour_entry_days) t ORDER BY m;
        -- all-time per volunteer (0001 has no rebuild of it)
        DELETE FROM volunteer_totals;
        INSERT INTO volunteer_totals (volunteer_id, approved_minutes, pending_minutes)
        SELECT volunteer_id, sum(approved_minutes), sum(pending_minutes)
          FROM monthly_volunteer_totals GROUP BY volunteer_id ORDER BY 1;
    END IF;
END $$;
SELECT (SELECT count(*) FROM monthly_volunteer_totals) || ' monthly volunteer rows';
SQL
fi

# VACUUM (outside a transaction block): hint bits, visibility map and statistics of the
# freshly loaded tables, so that autovacuum does not do it during the first minutes of use.
PHASE_TX= phase vacuum-analyze <<'SQL'
VACUUM (ANALYZE);
SQL

if [ "$VERIFY" = 1 ]; then
phase verify <<'SQL'
SET LOCAL work_mem = '512MB';
DO $$
DECLARE bad bigint;
BEGIN
    -- hour_entry_days is exactly hour_day_split of every entry, with the entry's copies
    SELECT count(*) INTO bad FROM (
        (SELECT h.id, s.day, h.volunteer_id, h.event_id, h.team_id, h.org_unit_id, h.home_org_unit_id, s.minutes, h.status
           FROM hour_entries h, LATERAL hour_day_split(h.started_at, h.ended_at, h.minutes, app_time_zone()) s
         EXCEPT ALL
         SELECT entry_id, day, volunteer_id, event_id, team_id, org_unit_id, home_org_unit_id, minutes, status FROM hour_entry_days)
        UNION ALL
        (SELECT entry_id, day, volunteer_id, event_id, team_id, org_unit_id, home_org_unit_id, minutes, status FROM hour_entry_days
         EXCEPT ALL
         SELECT h.id, s.day, h.volunteer_id, h.event_id, h.team_id, h.org_unit_id, h.home_org_unit_id, s.minutes, h.status
           FROM hour_entries h, LATERAL hour_day_split(h.started_at, h.ended_at, h.minutes, app_time_zone()) s)) x;
    IF bad > 0 THEN RAISE EXCEPTION 'verify: % hour_entry_days rows differ from hour_day_split', bad; END IF;
    -- the as-at home unit
    SELECT count(*) INTO bad FROM hour_entries h WHERE h.home_org_unit_id <> volunteer_home_at(h.volunteer_id, h.started_at);
    IF bad > 0 THEN RAISE EXCEPTION 'verify: % entries with a wrong home unit', bad; END IF;
    -- the rollups against the per-day ledger
    SELECT count(*) INTO bad FROM (
        (SELECT date_trunc('month', day)::date, volunteer_id, org_unit_id, team_id, home_org_unit_id,
                coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0), coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0)
           FROM hour_entry_days WHERE status IN ('approved', 'pending') GROUP BY 1, 2, 3, 4, 5
         EXCEPT
         SELECT month, volunteer_id, org_unit_id, team_id, home_org_unit_id, approved_minutes, pending_minutes
           FROM monthly_volunteer_totals)
        UNION ALL
        (SELECT month, volunteer_id, org_unit_id, team_id, home_org_unit_id, approved_minutes, pending_minutes
           FROM monthly_volunteer_totals WHERE approved_minutes <> 0 OR pending_minutes <> 0
         EXCEPT
         SELECT date_trunc('month', day)::date, volunteer_id, org_unit_id, team_id, home_org_unit_id,
                coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0), coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0)
           FROM hour_entry_days WHERE status IN ('approved', 'pending') GROUP BY 1, 2, 3, 4, 5)) x;
    IF bad > 0 THEN RAISE EXCEPTION 'verify: % monthly_volunteer_totals rows differ from hour_entry_days', bad; END IF;
END $$;
SELECT 'hour_entry_days = hour_day_split, home units as at service, rollups = ledger';
SQL
fi

phase cleanup <<'SQL'
DROP SCHEMA gen CASCADE;
SQL
printf 'gen-data: %-22s %8.1f s\n' total "$(echo "$(date +%s.%N) - $T0" | bc)"

"""`volunteerd gen-data` at a small scale: deterministic, within every constraint, the ledger's
per-day split and rollups exactly what the triggers produce, and (with 0007) the monthly
report equal to a plain GROUP BY over the ledger; its arguments checked (exit 2), a database
that holds data or a connection that is no superuser's refused (exit 1).

Two months ending with 2024-11-30, a Saturday: the Saturday night patrol (22:00-00:30) crosses
both midnight and the month's end.
"""
import os
import secrets

import pytest

import helpers

GEN_SH = os.path.join(helpers.ROOT, "scripts", "gen-data.sh")
ARGS = ["--scale", "0.002", "--seed", "5", "--months", "2", "--end-month", "2024-12"]
PW = "Gen-data-admin-1"

# Columns that depend on the moment of loading (now()), left out of the comparisons.
TABLES = {
    "org_units": ("id", "id, parent_id, kind, code, name, path, depth"),
    "teams": ("id", "id, name, org_unit_id, parent_team_id, kind"),
    "volunteers": ("id", "id, volunteer_no, name, phone, gender, birth_date, org_unit_id, work_unit, party_member, "
                         "skills, created_at"),
    "volunteer_home_history": ("volunteer_id, valid_from", "volunteer_id, org_unit_id, valid_from, valid_to"),
    "team_members": ("team_id, volunteer_id", "team_id, volunteer_id, role, joined_at"),
    "activities": ("id", "id, team_id, org_unit_id, title, category, recurrence"),
    "events": ("id", "id, activity_id, team_id, org_unit_id, starts_at, ends_at, status, checkin_code, "
                     "confirmed_count, waitlisted_count"),
    "signups": ("event_id, volunteer_id", "event_id, volunteer_id, status, created_at"),
    "attendances": ("id", "id, event_id, volunteer_id, check_in_at, check_out_at, method, flags, credited, "
                          "created_at, voided_at"),
    # the trigger path stamps created_at, decided_at and voided_at with now()
    "hour_entries": ("id", "id, volunteer_id, event_id, attendance_id, activity_id, team_id, org_unit_id, "
                           "home_org_unit_id, policy_id, started_at, ended_at, minutes, status, flags, corrects, "
                           "reason, decision_reason"),
    "hour_entry_days": ("entry_id, day", "entry_id, day, volunteer_id, event_id, team_id, org_unit_id, "
                                         "home_org_unit_id, minutes, status"),
    # rows at 0/0 (left by the trigger upkeep after a void, or made by the rebuild for
    # 0-minute entries) carry no figures
    "monthly_volunteer_totals": ("month, volunteer_id, org_unit_id, team_id, home_org_unit_id",
                                 "month, volunteer_id, org_unit_id, team_id, home_org_unit_id, approved_minutes, "
                                 "pending_minutes", "approved_minutes <> 0 OR pending_minutes <> 0"),
    "volunteer_totals": ("volunteer_id", "volunteer_id, approved_minutes, pending_minutes",
                         "approved_minutes <> 0 OR pending_minutes <> 0"),
}


def gen(srv, *extra, timeout=120):
    r = srv.cmd(["gen-data", *ARGS, *extra], timeout=timeout)
    assert r.returncode == 0, f"gen-data failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def checksums(pg, db):
    out = {}
    for table, (key, cols, *where) in TABLES.items():
        cond = f"WHERE {where[0]}" if where else ""
        out[table] = pg.sql(f"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY {key})), '-') "
                            f"FROM (SELECT {cols} FROM {table} {cond}) t", db=db).strip()
    if pg.sql("SELECT to_regclass('report_unit_totals') IS NOT NULL", db=db).strip() == "t":
        # the journal folded into the totals: what a report reads
        out["report_unit_totals+deltas"] = pg.sql(
            "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY month, dimension, unit_id, team_id)), '-') "
            "FROM (SELECT month, dimension, unit_id, team_id, sum(a) AS a, sum(p) AS p, sum(v) AS v FROM ("
            "  SELECT month, dimension, unit_id, team_id, approved_minutes a, pending_minutes p, volunteers v FROM report_unit_totals"
            "  UNION ALL"
            "  SELECT month, dimension, unit_id, team_id, approved_minutes, pending_minutes, volunteers FROM report_unit_deltas) u"
            " GROUP BY 1, 2, 3, 4 HAVING sum(a) <> 0 OR sum(p) <> 0 OR sum(v) <> 0) t", db=db).strip()
    return out


def _generate(pg, workdir, *extra):
    """A fresh migrated database with an admin, filled by gen-data; returns its name."""
    name = f"gen_{os.getpid()}_{secrets.token_hex(4)}"
    url = pg.create_db(name)
    srv = helpers.Server(url, workdir, tls=False)
    srv.migrate()
    srv.create_admin("admin", PW)
    out = gen(srv, *extra)
    # a line per phase with its time, the rows it printed after it
    assert "gen-data: setup " in out and " partitions added " in out, out
    assert ("ledger-via-triggers" in out) == ("--via-triggers" in extra), out
    assert "gen-data: total " in out.splitlines()[-1], out
    return name


@pytest.fixture(scope="module")
def fast(pg, workdir):
    """The bulk path, with the generator's own --verify."""
    return _generate(pg, workdir, "--verify")


def test_gen_data_deterministic_exact_and_within_constraints(pg, workdir, fast):
    a = fast
    b = _generate(pg, workdir)
    sums_a, sums_b = checksums(pg, a), checksums(pg, b)
    assert sums_a == sums_b, "two runs with the same seed differ"
    counts = {k: int(v.split()[0]) for k, v in sums_a.items()}
    for table in ("org_units", "teams", "volunteers", "events", "signups", "attendances", "hour_entries",
                  "hour_entry_days", "monthly_volunteer_totals"):
        assert counts[table] > 0, table
    assert counts["attendances"] > 1000

    q = lambda sql: pg.sql(sql, db=a).strip()  # noqa: E731
    # the shape's variety: forgotten check-outs, corrections, walk-ins, decisions, movers,
    # midnight and month-end crossings
    assert int(q("SELECT count(*) FROM attendances WHERE method = 'auto' AND 'auto_checkout' = ANY (flags)")) > 0
    assert int(q("SELECT count(*) FROM hour_entries WHERE corrects IS NOT NULL")) > 0
    assert q("SELECT bool_and(c.status = 'void') FROM hour_entries h JOIN hour_entries c ON c.id = h.corrects") == "t"
    assert q("SELECT count(DISTINCT status) FROM hour_entries") == "4"
    assert int(q("SELECT count(*) FROM hour_entries WHERE 'walk_in' = ANY (flags)")) > 0
    assert int(q("SELECT count(*) FROM volunteer_home_history WHERE valid_to IS NOT NULL")) > 0
    assert int(q("SELECT count(*) FROM (SELECT entry_id FROM hour_entry_days GROUP BY 1 HAVING count(*) > 1) t")) > 0
    assert int(q("SELECT count(*) FROM hour_entry_days d JOIN hour_entries h ON h.id = d.entry_id "
                 "WHERE d.day = '2024-12-01' AND h.started_at < '2024-12-01 00:00+08'")) > 0
    assert int(q("SELECT count(*) FROM hour_entries h WHERE h.home_org_unit_id <> "
                 "(SELECT org_unit_id FROM volunteers v WHERE v.id = h.volunteer_id)")) > 0

    # constraints: none open, no credited minute twice, every foreign key holds
    assert q("SELECT count(*) FROM attendances WHERE check_out_at IS NULL") == "0"
    assert q("SELECT count(*) FROM attendances x JOIN attendances y ON x.volunteer_id = y.volunteer_id AND x.id < y.id "
             "AND x.credited && y.credited") == "0"
    assert q("SELECT count(*) FROM hour_entries x JOIN hour_entries y ON x.volunteer_id = y.volunteer_id AND x.id < y.id "
             "AND x.status IN ('pending', 'approved') AND y.status IN ('pending', 'approved') "
             "AND tstzrange(x.started_at, x.ended_at) && tstzrange(y.started_at, y.ended_at)") == "0"
    fks = q("""SELECT format('SELECT %L || '' '' || count(*) FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)',
                             conname, conrelid::regclass,
                             (SELECT string_agg(format('c.%I IS NOT NULL', a.attname), ' AND ')
                                FROM unnest(conkey) k JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k),
                             confrelid::regclass,
                             (SELECT string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' AND ')
                                FROM unnest(conkey, confkey) AS u(ck, fk)
                                JOIN pg_attribute ca ON ca.attrelid = conrelid AND ca.attnum = u.ck
                                JOIN pg_attribute pa ON pa.attrelid = confrelid AND pa.attnum = u.fk))
               FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace
                AND conrelid::regclass::text NOT LIKE 'hour_entry_days_%'""").splitlines()
    assert len(fks) > 20
    broken = [line for line in pg.sql(";\n".join(fks) + ";", db=a).splitlines() if not line.endswith(" 0")]
    assert broken == [], broken

    # the bulk load dropped and rebuilt indexes and constraints: the catalog is as migrated,
    # and no trigger was left disabled
    catalog = """SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
                   SELECT pg_get_indexdef(i.indexrelid) AS x FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                    WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'hour_entry_days_%'
                   UNION ALL
                   SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                    WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'hour_entry_days_%'
                   UNION ALL
                   SELECT tgrelid::regclass || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger
                    WHERE NOT tgisinternal AND tgrelid::regclass::text NOT LIKE 'hour_entry_days_%') t"""
    empty = f"gen_empty_{os.getpid()}_{secrets.token_hex(4)}"
    helpers.Server(pg.create_db(empty), workdir, tls=False).migrate()
    assert pg.sql(catalog, db=a) == pg.sql(catalog, db=empty)

    # hour_entry_days is exactly hour_day_split of every entry
    assert q("""SELECT count(*) FROM (
                  (SELECT h.id, s.day, s.minutes, h.status FROM hour_entries h,
                          LATERAL hour_day_split(h.started_at, h.ended_at, h.minutes, app_time_zone()) s
                   EXCEPT ALL SELECT entry_id, day, minutes, status FROM hour_entry_days)
                  UNION ALL
                  (SELECT entry_id, day, minutes, status FROM hour_entry_days
                   EXCEPT ALL SELECT h.id, s.day, s.minutes, h.status FROM hour_entries h,
                          LATERAL hour_day_split(h.started_at, h.ended_at, h.minutes, app_time_zone()) s)) x""") == "0"


def test_gen_data_fast_path_equals_the_triggers(pg, workdir, fast):
    """The bulk path (triggers off, days and rollups set-wise) against the same rows written
    through the triggers (and 0007's rollup upkeep)."""
    slow = _generate(pg, workdir, "--via-triggers")
    a, b = checksums(pg, fast), checksums(pg, slow)
    differ = [k for k in a if a[k] != b.get(k)]
    assert differ == [], {k: (a[k], b.get(k)) for k in differ}


def _report(pg, db, month, by, dim="service", under=1):
    import json
    actor = pg.sql("SELECT id FROM accounts WHERE login = 'admin'", db=db).strip()
    args = json.dumps({"month": month, "by": by, "dimension": dim, "under": str(under)})
    return json.loads(pg.sql(f"SELECT api.report_monthly({actor}, '{args}'::jsonb)", db=db))


def test_gen_data_monthly_report_equals_a_plain_group_by(pg, fast):
    db = fast
    if pg.sql("SELECT to_regproc('api.report_monthly') IS NOT NULL", db=db).strip() != "t":
        pytest.skip("no monthly report yet (sql/0007)")
    q = lambda sql: pg.sql(sql, db=db).strip()  # noqa: E731
    for month in ("2024-10", "2024-11", "2024-12"):
        for dim, col in (("service", "org_unit_id"), ("residence", "home_org_unit_id")):
            rep = _report(pg, db, month, "org_unit", dim)
            plain = {}
            for line in q(f"""SELECT c.id, coalesce(sum(d.minutes) FILTER (WHERE d.status = 'approved'), 0),
                                     coalesce(sum(d.minutes) FILTER (WHERE d.status = 'pending'), 0),
                                     count(DISTINCT d.volunteer_id) FILTER (WHERE d.status = 'approved' AND d.minutes > 0)
                                FROM org_units c
                                JOIN org_units u ON u.path >= c.path AND u.path < left(c.path, -1) || '0'
                                JOIN hour_entry_days d ON d.{col} = u.id
                               WHERE c.parent_id = 1 AND d.day >= DATE '{month}-01'
                                 AND d.day < DATE '{month}-01' + interval '1 month'
                                 AND d.status IN ('approved', 'pending')
                               GROUP BY c.id""").splitlines():
                k, ap, pe, vo = (int(x) for x in line.split("|"))
                plain[k] = (ap, pe, vo)
            got = {r["id"]: (r["approved_minutes"], r["pending_minutes"], r["volunteers"]) for r in rep["rows"]
                   if r["approved_minutes"] or r["pending_minutes"]}
            assert got == plain, (month, dim)
            tot = tuple(int(x) for x in q(f"""
                SELECT coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0) || '|' ||
                       coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0) || '|' ||
                       count(DISTINCT volunteer_id) FILTER (WHERE status = 'approved' AND minutes > 0)
                  FROM hour_entry_days WHERE day >= DATE '{month}-01' AND day < DATE '{month}-01' + interval '1 month'
                   AND status IN ('approved', 'pending')""").split("|"))
            t = rep["totals"]
            assert (t["approved_minutes"], t["pending_minutes"], t["volunteers"]) == tot, (month, dim)
        rep = _report(pg, db, month, "team")
        plain = {}
        for line in q(f"""SELECT team_id, coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0),
                                 coalesce(sum(minutes) FILTER (WHERE status = 'pending'), 0),
                                 count(DISTINCT volunteer_id) FILTER (WHERE status = 'approved' AND minutes > 0)
                            FROM hour_entry_days WHERE day >= DATE '{month}-01'
                             AND day < DATE '{month}-01' + interval '1 month' AND status IN ('approved', 'pending')
                           GROUP BY team_id""").splitlines():
            k, ap, pe, vo = (int(x) for x in line.split("|"))
            plain[k] = (ap, pe, vo)
        got = {r["id"]: (r["approved_minutes"], r["pending_minutes"], r["volunteers"]) for r in rep["rows"]
               if r["approved_minutes"] or r["pending_minutes"]}
        assert got == plain, (month, "team")


# Bad arguments: exit 2 with the usage, before any connection.
BAD = [
    (("gen-data", "--scale", "x"), "--scale wants a positive number"),
    (("gen-data", "--scale", "-1"), "--scale wants a positive number"),
    (("gen-data", "--scale", "1."), "--scale wants a positive number"),
    (("gen-data", "--scale"), "--scale needs a value"),
    (("gen-data", "--seed", "1234567890"), "--seed wants an integer"),
    (("gen-data", "--seed", "1e3"), "--seed wants an integer"),
    (("gen-data", "--months", "0"), "--months wants 1..36"),
    (("gen-data", "--months", "37"), "--months wants 1..36"),
    (("gen-data", "--end-month", "2024-13"), "--end-month wants YYYY-MM"),
    (("gen-data", "--end-month", "2024-1"), "--end-month wants YYYY-MM"),
    (("gen-data", "--if-empty"), "gen-data takes no such option"),
    (("gen-data", "--frobnicate"), "unknown option --frobnicate"),
    (("seed-demo", "--scale", "1"), "seed-demo takes no such option"),
    (("seed-demo", "--via-triggers"), "seed-demo takes no such option"),
    (("migrate", "--verify"), "migrate takes no such option"),
]


def test_bad_arguments_exit_2_before_touching_the_database(pg, workdir):
    name = f"gen_bad_{os.getpid()}_{secrets.token_hex(4)}"
    srv = helpers.Server(pg.create_db(name), workdir, tls=False)
    srv.migrate()
    for args, message in BAD:
        r = srv.cmd(list(args), timeout=30)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert message in r.stderr and "usage: volunteerd" in r.stderr, (args, r.stderr)
        assert r.stdout == "", args
    # the script's callers get the same
    r = helpers.run(["bash", GEN_SH, "--months", "0"], env=srv.env)
    assert r.returncode == 2 and "--months wants 1..36" in r.stderr, r.stderr
    assert pg.sql("SELECT count(*) FROM org_units", db=name).strip() == "0"
    assert pg.sql("SELECT to_regnamespace('gen') IS NULL", db=name).strip() == "t"
    # sql/gen/ is embedded beside the migrations, not among them
    numbered = sorted(f[:-4] for f in os.listdir(os.path.join(helpers.ROOT, "sql")) if f[0].isdigit())
    applied = pg.sql("SELECT lpad(version::text, 4, '0') || '_' || name FROM schema_migrations ORDER BY version",
                     db=name).split()
    assert applied == numbered


def test_refuses_a_database_with_data_and_a_role_that_is_no_superuser(pg, workdir, fast):
    srv = helpers.Server(pg.url(fast), workdir, tls=False)
    before = checksums(pg, fast)
    r = srv.cmd(["gen-data", *ARGS], timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "already holds org units, volunteers or events" in r.stderr, r.stderr
    assert r.stdout == ""
    assert checksums(pg, fast) == before

    # An empty migrated database, reached as a role that may read everything but is no
    # superuser (--database-url wins over DATABASE_URL, which names the full database):
    # refused before anything is written, saying why.
    name = f"gen_plain_{os.getpid()}_{secrets.token_hex(4)}"
    helpers.Server(pg.create_db(name), workdir, tls=False).migrate()
    pg.sql("DO $$ BEGIN CREATE ROLE gen_plain LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; "
           "GRANT pg_read_all_data TO gen_plain", db="postgres")
    plain = f"postgresql://gen_plain@/{name}?host={pg.dir}&port={pg.port}"
    for cmd in (["gen-data", *ARGS], ["seed-demo"]):
        r = srv.cmd([*cmd, "--database-url", plain], timeout=60)
        assert r.returncode == 1, (cmd, r.stdout, r.stderr)
        assert "superuser" in r.stderr and "session_replication_role" in r.stderr, r.stderr
        assert r.stdout == ""
    assert pg.sql("SELECT count(*) FROM org_units", db=name).strip() == "0"
    assert pg.sql("SELECT to_regnamespace('gen') IS NULL", db=name).strip() == "t"

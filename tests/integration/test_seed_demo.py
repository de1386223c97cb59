"""`volunteerd seed-demo`: the small demo district that `make run` loads (gen-data at scale
0.002, seed 1, the twelve months before the current one) into an empty database, which the
API and the monthly report then show; refused (exit 1, saying why) on a database that holds
data, and with --if-empty a quiet no-op there."""
import os
import secrets

import pytest

import apiclient
import helpers

PW = "Seed-demo-admin-1"


def counts(pg, db):
    return pg.sql("SELECT (SELECT count(*) FROM org_units) || ' ' || (SELECT count(*) FROM volunteers) || ' ' || "
                  "(SELECT count(*) FROM events) || ' ' || (SELECT count(*) FROM hour_entries) || ' ' || "
                  "(SELECT max(id) FROM volunteers)", db=db).strip()


@pytest.fixture(scope="module")
def demo(pg, workdir):
    """A migrated empty database filled by seed-demo, with an admin and a server on it."""
    name = f"demo_{os.getpid()}_{secrets.token_hex(4)}"
    srv = helpers.Server(pg.create_db(name), workdir, tls=False, workers=1)
    try:
        srv.migrate()
        r = srv.cmd(["seed-demo"], timeout=300)
        assert r.returncode == 0, f"seed-demo failed:\n{r.stdout}\n{r.stderr}"
        srv.create_admin("admin", PW)
        srv.start()
        yield name, srv, r.stdout
    finally:
        srv.cleanup()


def test_seed_demo_loads_the_demo_district_that_the_api_shows(pg, demo):
    name, srv, out = demo
    lines = out.splitlines()
    assert lines[0] == "seed-demo: scale 0.002, seed 1, 12 months before the current month", out
    assert any(line.startswith("seed-demo: attendances ") for line in lines), out
    assert lines[-1].startswith("seed-demo: total "), out
    assert pg.sql("SELECT to_regnamespace('gen') IS NULL", db=name).strip() == "t"
    units, volunteers, events, entries, _ = (int(x) for x in counts(pg, name).split())
    assert (units, volunteers) == (13, 292)
    assert events > 500 and entries > 10000

    admin = apiclient.Api(srv, "admin", PW)
    page = admin.ok("GET", "/org-units?under=1&limit=100")
    names = {u["name"] for u in page["items"]}
    assert "文明示范区" in names and "沙河街道" in names, names
    # last month, in the deployment's time zone: wholly generated, mostly approved
    month = pg.sql("SELECT to_char(date_trunc('month', now() AT TIME ZONE app_time_zone()) - interval '1 month', "
                   "'YYYY-MM')", db=name).strip()
    rep = admin.ok("GET", f"/reports/monthly?month={month}&by=org_unit&under=1")
    assert rep["totals"]["approved_minutes"] > 0 and rep["totals"]["volunteers"] > 0, rep["totals"]
    assert any(r["name"] == "沙河街道" and r["approved_minutes"] > 0 for r in rep["rows"]), rep["rows"]
    # the current month is left to live check-ins
    now = pg.sql("SELECT to_char(now() AT TIME ZONE app_time_zone(), 'YYYY-MM')", db=name).strip()
    rep = admin.ok("GET", f"/reports/monthly?month={now}&by=org_unit&under=1")
    assert rep["totals"]["approved_minutes"] == 0 and rep["totals"]["pending_minutes"] == 0


def test_seed_demo_refuses_a_database_that_holds_data(pg, pg_url_unmigrated, demo):
    name, srv, _ = demo
    before = counts(pg, name)
    # --database-url wins over DATABASE_URL (an unmigrated database here: no refusal for data
    # there, a different message)
    r = srv.cmd(["seed-demo", "--database-url", pg.url(name)], env={"DATABASE_URL": pg_url_unmigrated},
                timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "already holds org units, volunteers or events" in r.stderr, r.stderr
    assert "--if-empty" in r.stderr
    assert r.stdout == ""
    assert counts(pg, name) == before


def test_seed_demo_if_empty_is_a_quiet_no_op_on_a_database_with_data(pg, demo):
    name, srv, _ = demo
    before = counts(pg, name)
    r = srv.cmd(["seed-demo", "--if-empty"], timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert counts(pg, name) == before


@pytest.fixture
def pg_url_unmigrated(pg):
    return pg.create_db(f"demo_none_{os.getpid()}_{secrets.token_hex(4)}")


def test_seed_demo_on_an_unmigrated_database_says_migrate_first(pg, workdir, pg_url_unmigrated):
    srv = helpers.Server(pg_url_unmigrated, workdir, tls=False)
    r = srv.cmd(["seed-demo", "--if-empty"], timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "volunteerd migrate" in r.stderr, r.stderr

"""The server runs as a role that may change data but not the schema (R31).

`volunteerd migrate` runs as the schema's owner and, with VOLUNTEERD_APP_ROLE, grants that
role SELECT, INSERT, UPDATE and DELETE and nothing more; the one piece of DDL the server's
jobs need (a month partition of the ledger) runs as the owner through a SECURITY DEFINER
function.  The shared server of the whole suite (conftest) connects as conftest.APP_ROLE, so
every other test exercises the role's rights; these tests check its limits and the set-up.
"""
import datetime as dt

import psycopg2
import pytest

import conftest
from helpers import wait_until

ROLE = conftest.APP_ROLE


def app_conn(pg, db="vd"):
    c = pg.connect(db, user=ROLE)
    c.autocommit = True
    return c


@pytest.mark.parametrize("stmt", [
    "CREATE TABLE stray (x int)",
    "CREATE FUNCTION stray() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE SCHEMA stray",
    "DROP TABLE audit_log",
    "ALTER TABLE attendances DISABLE TRIGGER ALL",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
    "TRUNCATE audit_log",
    "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
    "DELETE FROM schema_migrations",
    "CREATE TABLE hour_entry_days_2999_01 PARTITION OF hour_entry_days"
    " FOR VALUES FROM ('2999-01-01') TO ('2999-02-01')",
    "SELECT app_role_grant('vd_app')",
])
def test_the_app_role_cannot_change_the_schema(pg, server, stmt):
    with app_conn(pg) as c, c.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(stmt)


def test_the_app_role_reads_and_writes_data(pg, server):
    with app_conn(pg) as c, c.cursor() as cur:
        cur.execute("SELECT count(*) FROM volunteers")
        cur.execute("SELECT max(version) FROM schema_migrations")
        assert cur.fetchone()[0] >= 28
        # what the server's jobs run (server/queries.c), as the role
        cur.execute("SELECT auto_checkout_run()")
        cur.execute("SELECT rollups_compact()")
        cur.execute("SELECT * FROM retention_purge(30, 100)")


def test_the_shared_server_connects_as_the_app_role_unwarned(pg, server):
    assert server.get("/readyz").status_code == 200
    users = pg.sql("SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'volunteerd'")
    assert users.split() == [ROLE], users
    assert "db_role_broad" not in server.log_text()


def test_the_ledger_partitions_job_runs_as_the_app_role(pg, server):
    """The job's DDL runs as the owner: a missing future month is made by the role's call."""
    month = (dt.date.today().replace(day=1) + dt.timedelta(days=300)).replace(day=1)
    part = f"hour_entry_days_{month:%Y_%m}"
    pg.sql(f"DROP TABLE {part}")
    with app_conn(pg) as c, c.cursor() as cur:
        cur.execute("SELECT hour_entry_days_ensure(current_date - 31, current_date + 400)")
        assert cur.fetchone()[0] == 1
    assert pg.sql(f"SELECT tableowner FROM pg_tables WHERE tablename = '{part}'").strip() == "postgres"


def test_a_server_with_broad_rights_is_warned(pg, fresh_db, make_server):
    _, url = fresh_db()
    srv = make_server(url, tls=False, workers=1)
    srv.migrate()
    srv.start()  # a warning, not a refusal: a development database runs as its owner
    assert srv.get("/readyz").status_code == 200
    assert wait_until(lambda: "event=db_role_broad" in srv.log_text(), 5)
    line = next(l for l in srv.log_text().splitlines() if "event=db_role_broad" in l)
    assert "level=warn" in line and "reason=superuser" in line, line


def test_migrate_with_its_own_url_and_a_server_without_ddl(pg, fresh_db, make_server):
    name, owner_url = fresh_db()
    app_url = pg.url(name, user=ROLE)
    srv = make_server(app_url, tls=False, workers=1)
    # as the app role, migrate cannot create the schema: a clear refusal, nothing half-made
    r = srv.cmd(["migrate"])
    assert r.returncode != 0
    assert "permission denied" in (r.stderr + r.stdout), r.stderr + r.stdout
    assert pg.sql("SELECT to_regclass('schema_migrations') IS NULL", db=name).strip() == "t"
    # a role that does not exist, and the owner itself, are refused by name
    for role, says in (("no_such_role", "does not exist"), ("postgres", "the role migrate runs as")):
        r = srv.cmd(["migrate"], env={"VOLUNTEERD_MIGRATE_DATABASE_URL": owner_url,
                                       "VOLUNTEERD_APP_ROLE": role})
        assert r.returncode != 0 and "VOLUNTEERD_APP_ROLE" in r.stderr and says in r.stderr, r.stderr
    r = srv.cmd(["migrate"], env={"VOLUNTEERD_MIGRATE_DATABASE_URL": owner_url, "VOLUNTEERD_APP_ROLE": ROLE})
    assert r.returncode == 0, r.stderr
    srv.start()
    assert srv.get("/readyz").status_code == 200
    assert "db_role_broad" not in srv.log_text()

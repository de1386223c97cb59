"""Fixtures for the integration tests.

They build nothing (`make test` has built build/volunteerd).  A session-wide throwaway
PostgreSQL cluster runs in a temporary directory (as the `postgres` user under root), migrated
and with an admin account; one session-wide `volunteerd serve` runs on free HTTP and HTTPS
ports with two workers.  Tests that stop or break things get their own server, database or
cluster from the factory fixtures below, so that a failure cannot spill into other tests.
Everything started is stopped in finalizers, and once more at session end as a safety net.
"""
import os
import secrets
import shutil
import tempfile

import pytest

import helpers

# The shared server connects as this role, which may change data but not the schema (R31);
# migrate runs as the cluster's superuser and grants it the server's rights.
APP_ROLE = "vd_app"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "Adm1n-" + secrets.token_urlsafe(12)

_cleanups = []  # (name, fn): everything started, for the safety net at session end


def _track(fn):
    _cleanups.append(fn)
    return fn


def pytest_configure(config):
    # The tests talk to a self-signed certificate and offer old TLS versions on purpose.
    config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")
    config.addinivalue_line("filterwarnings", "ignore:ssl.TLSVersion:DeprecationWarning")


def pytest_sessionfinish(session, exitstatus):
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # a safety net must not raise
            pass
    if helpers.SANITIZER_REPORTS:
        print("\n=== sanitizer reports in server logs ===")
        for report in helpers.SANITIZER_REPORTS:
            print(report)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def binary():
    if not (os.path.isfile(helpers.BIN) and os.access(helpers.BIN, os.X_OK)):
        pytest.fail(f"{helpers.BIN} is missing: run `make` (make test builds it)", pytrace=False)
    return helpers.BIN


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="vd-test-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(binary, workdir):
    """The session's cluster, with database `vd` migrated and an admin account."""
    cluster = helpers.Postgres()
    _track(cluster.cleanup)
    try:
        cluster.init()
        cluster.sql(f"CREATE ROLE {APP_ROLE} LOGIN", db="postgres")
        setup = helpers.Server(cluster.url(), workdir, tls=False, env={"VOLUNTEERD_APP_ROLE": APP_ROLE})
        setup.migrate()
        setup.create_admin(ADMIN_LOGIN, ADMIN_PASSWORD)
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture(scope="session")
def server(pg, workdir):
    """The shared server: HTTP and HTTPS, two workers, on the session database, connected as
    APP_ROLE (its migrate, as the superuser, as in production).  The suite registers hundreds
    of volunteers from 127.0.0.1: the registration throttle is raised (test_consent.py tests it
    on servers of its own).  Several files gather check-ins into one batch by holding a table
    lock for a second or more: lock_timeout is off (test_attendance.py tests its default on a
    server of its own)."""
    srv = helpers.Server(pg.url(user=APP_ROLE), workdir, tls=True, workers=2,
                         env={"VOLUNTEERD_MIGRATE_DATABASE_URL": pg.url(), "VOLUNTEERD_APP_ROLE": APP_ROLE,
                              "VOLUNTEERD_REGISTER_TRIES": "1000000", "VOLUNTEERD_DB_LOCK_TIMEOUT_MS": "0"})
    _track(srv.cleanup)
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
def make_server(workdir, binary):
    """A factory of extra servers (not started) for tests that stop, kill or break them."""
    made = []

    def make(database_url, **kw):
        srv = helpers.Server(database_url, workdir, **kw)
        made.append(srv)
        _track(srv.cleanup)
        return srv

    yield make
    for srv in made:
        srv.cleanup()


@pytest.fixture
def fresh_db(pg):
    """A factory of empty databases in the session cluster; returns a DATABASE_URL."""
    count = [0]

    def make():
        count[0] += 1
        name = f"t_{os.getpid()}_{secrets.token_hex(4)}_{count[0]}"
        return name, pg.create_db(name)

    return make


@pytest.fixture
def own_pg(binary):
    """A cluster of the test's own (for tests that stop and start PostgreSQL)."""
    cluster = helpers.Postgres()
    _track(cluster.cleanup)
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.cleanup()

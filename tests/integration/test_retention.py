"""Retention (sql/0021_retention.sql, server/jobs.c): an Idempotency-Key past its expiry is
treated as absent in every path that honours keys, and the purge job deletes expired keys,
dead sessions and ended log-in throttle windows, in bounded runs, without telling the
session caches about sessions no cache can hold, counting what it deleted in /metrics.

Each test runs its own server (VOLUNTEERD_JOB_INTERVAL=1, so the job runs every second) on a
fresh database; expired rows are inserted or aged with SQL through the test's database handle.
"""
import datetime as dt
import re
import secrets
import select
import time

import pytest
import requests

import helpers
from apiclient import Api

PW = "Ret-test-pass-123"
TIMEOUT = 10


def one(pg, sql, db):
    out = pg.sql(sql, db=db).strip().splitlines()
    return out[0] if out else None


def phone():
    return "137" + "".join(secrets.choice("0123456789") for _ in range(8))


def purged(srv):
    """volunteerd_purged_rows_total by table, from /metrics."""
    text = requests.get(srv.url("/metrics"), timeout=TIMEOUT).text
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r'^volunteerd_purged_rows_total\{table="(\w+)"\} (\d+)$', text, re.M)}


@pytest.fixture
def world(make_server, fresh_db, pg):
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=2, env={"VOLUNTEERD_JOB_INTERVAL": "1"})
    srv.migrate()
    srv.create_admin("admin", PW)
    srv.start()
    return name, srv, Api(srv, "admin", PW)


def test_purge_deletes_expired_rows_and_keeps_live_ones(world, pg):
    db, srv, admin = world
    acc = int(one(pg, "SELECT id FROM accounts WHERE login = 'admin'", db))
    h = lambda tag: "'\\x" + secrets.token_hex(32) + "'::bytea"  # noqa: E731 (a session's hash)
    pg.sql(f"""
        INSERT INTO idempotency_keys (scope, key, request_hash, status, response, created_at, expires_at)
        VALUES ('account:{acc}', 'ret-old', '\\x00', 200, '{{}}', now() - interval '25 hours', now() - interval '1 hour'),
               ('account:{acc}', 'ret-new', '\\x00', 200, '{{}}', now() - interval '1 hour', now() + interval '23 hours');
        INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at, ip, user_agent)
        VALUES ({h(1)}, {acc}, now() - interval '13 hours', now() - interval '2 hours', now() - interval '1 hour', '10.9.8.1', 'ret-past-limit'),
               ({h(2)}, {acc}, now() - interval '2 hours', now() - interval '40 minutes', now() + interval '10 hours', '10.9.8.2', 'ret-idle'),
               ({h(3)}, {acc}, now() - interval '2 hours', now() - interval '5 minutes', now() + interval '10 hours', '10.9.8.3', 'ret-live');
        INSERT INTO login_attempts (key, window_start, count)
        VALUES ('login:ret-old', login_window() - interval '1 hour', 3),
               ('login:ret-now', login_window(), 2);
    """, db=db)
    gone = helpers.wait_until(lambda: one(pg, "SELECT (SELECT count(*) FROM idempotency_keys WHERE key = 'ret-old')"
                                              " + (SELECT count(*) FROM sessions WHERE user_agent IN ('ret-past-limit', 'ret-idle'))"
                                              " + (SELECT count(*) FROM login_attempts WHERE key = 'login:ret-old')", db) == "0", 20)
    assert gone, srv.log_text()[-2000:]
    assert one(pg, "SELECT count(*) FROM idempotency_keys WHERE key = 'ret-new'", db) == "1"
    assert one(pg, "SELECT count(*) FROM sessions WHERE user_agent = 'ret-live'", db) == "1"
    assert one(pg, "SELECT count(*) FROM login_attempts WHERE key = 'login:ret-now'", db) == "1"
    # the admin's own session (from the log-in above) is live and still works
    assert admin.status("GET", "/me") == 200
    m = purged(srv)
    assert m["idempotency_keys"] >= 1 and m["sessions"] >= 2 and m["login_attempts"] >= 1, m
    assert helpers.wait_until(lambda: re.search(r"purge.*sessions=2", srv.log_text()), 5), srv.log_text()[-2000:]


def test_purge_of_dead_sessions_sends_no_notification(world, pg):
    """0008's trigger would send '*' for a delete of more than 100 sessions (every worker
    drops its whole session cache); the purge's sessions were in no cache, so it sends nothing.
    An ordinary delete still notifies."""
    db, srv, admin = world
    acc = int(one(pg, "SELECT id FROM accounts WHERE login = 'admin'", db))
    conn = pg.connect(db)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("LISTEN vd_sessions")
        # 150 dead sessions in one statement: one run of the purge takes them all
        pg.sql(f"INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at, user_agent)"
               f" SELECT sha256(('ret-dead-' || g)::bytea), {acc}, now() - interval '13 hours',"
               f" now() - interval '2 hours', now() - interval '1 hour', 'ret-dead'"
               f" FROM generate_series(1, 150) g", db=db)
        assert helpers.wait_until(lambda: one(pg, "SELECT count(*) FROM sessions WHERE user_agent = 'ret-dead'", db) == "0",
                                  20), srv.log_text()[-2000:]
        time.sleep(0.5)
        conn.poll()
        got = [n.payload for n in conn.notifies]
        assert got == [], got
        # the channel works: a live session deleted by hand is announced
        live = secrets.token_hex(32)
        pg.sql(f"INSERT INTO sessions (token_hash, account_id, expires_at) VALUES ('\\x{live}', {acc}, now() + interval '1 hour');"
               f" DELETE FROM sessions WHERE token_hash = '\\x{live}'", db=db)
        deadline = time.time() + 5
        while not conn.notifies and time.time() < deadline:
            select.select([conn], [], [], 0.5)
            conn.poll()
        assert [n.payload for n in conn.notifies] == ["s:" + live]
    finally:
        conn.close()
    assert purged(srv)["sessions"] >= 150


def test_expired_idempotency_key_runs_anew(world, pg):
    """api_call (a plain write), checkin_calls (a keyed check-in) and a check-out (api_call
    inside the batch): a key past expires_at is a new key."""
    db, srv, admin = world

    def expire(key):
        pg.sql(f"UPDATE idempotency_keys SET created_at = now() - interval '25 hours',"
               f" expires_at = now() - interval '1 second' WHERE key = '{key}'", db=db)

    key = {"Idempotency-Key": "ret-unit-" + secrets.token_hex(4)}
    body = {"parent_id": None, "kind": "district", "code": "ret-d1", "name": "区一"}
    d = admin.ok("POST", "/org-units", body, headers=key, want=201)
    assert admin.ok("POST", "/org-units", body, headers=key, want=201)["id"] == d["id"]  # a replay
    other = dict(body, code="ret-d2", name="区二")
    assert admin.status("POST", "/org-units", other, headers=key) == 422
    expire(key["Idempotency-Key"])
    d2 = admin.ok("POST", "/org-units", other, headers=key, want=201)  # runs anew
    assert d2["id"] != d["id"] and d2["code"] == "ret-d2"
    assert admin.ok("POST", "/org-units", other, headers=key, want=201)["id"] == d2["id"]  # stored anew
    assert one(pg, f"SELECT count(*) FROM idempotency_keys WHERE key = '{key['Idempotency-Key']}'"
                   f" AND expires_at > now() + interval '23 hours'", db) == "1"

    # check-in and check-out (the group commit's paths)
    t = admin.ok("POST", "/teams", {"name": "队", "org_unit_id": d["id"]})
    n0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    act = admin.ok("POST", "/activities", {"team_id": t["id"], "org_unit_id": d["id"], "title": "t",
                                           "starts_at": (n0 - dt.timedelta(minutes=10)).isoformat(),
                                           "ends_at": (n0 + dt.timedelta(hours=1)).isoformat()})
    ev = admin.ok("GET", f"/activities/{act['id']}/events")["items"][0]
    v = int(one(pg, f"INSERT INTO volunteers (name, phone, org_unit_id) VALUES ('留存', '{phone()}', {d['id']})"
                    f" RETURNING id", db))
    k = {"Idempotency-Key": "ret-ci-" + secrets.token_hex(4)}
    a = admin.ok("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v}, headers=k, want=201)
    assert admin.ok("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v}, headers=k, want=201)["id"] == a["id"]
    expire(k["Idempotency-Key"])
    r = admin.req("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v}, headers=k)
    assert r.status_code == 409, r.text  # ran again: already checked in (not the stored 201)
    # the failed check-in kept no key; a check-out under it runs
    admin.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v}, headers=k, want=200)
    expire(k["Idempotency-Key"])
    r = admin.req("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v}, headers=k)
    assert r.status_code == 409, r.text  # ran again: nothing open to check out (not the stored 200)

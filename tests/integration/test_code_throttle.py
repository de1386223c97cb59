"""Wrong check-in codes are throttled per account (server/h_attendance.c, common/throttle.c):
after VOLUNTEERD_CODE_TRIES (10) wrong codes within VOLUNTEERD_CODE_WINDOW, a check-in with a
code gets 429 problem+json with Retry-After until the window passes, through the API and
through the check-in page (in the page's language); a check-out needs no code and is never
throttled (test_self_checkout.py); another account is not affected; the count is shared by the
server's workers, and holds for a session that no worker has cached yet.

Each test runs its own server (two workers, a 6-second window) on a fresh database, with an
event whose policy has a static code (compared in SQL) that takes walk-ins.
"""
import re
import secrets
import time

import pytest
import requests

import helpers
from apiclient import Api

PW = "Thr-test-pass-123"
WINDOW = 6
TRIES = 10
CODE = "246810"
WRONG = "135790"


@pytest.fixture
def world(make_server, fresh_db, pg):
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=2, env={"VOLUNTEERD_CODE_WINDOW": str(WINDOW)})
    srv.migrate()
    srv.create_admin("admin", PW)
    srv.start()
    admin = Api(srv, "admin", PW)
    d = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district", "code": "thr-d", "name": "区"})
    t = admin.ok("POST", "/teams", {"name": "队", "org_unit_id": d["id"]})
    ev = helpers.open_event(_Db(pg, name), t["id"], "thr-static", "静态码", CODE, walk_ins=True)
    return srv, d["id"], ev


class _Db:
    """The session cluster's handle, aimed at the test's own database."""

    def __init__(self, pg, db):
        self.pg, self.db = pg, db

    def sql(self, q):
        return self.pg.sql(q, db=self.db)


def volunteer(srv, unit):
    """A self-registered volunteer (its login is its phone); an Api logged in as it."""
    phone = "139" + "".join(secrets.choice("0123456789") for _ in range(8))
    Api(srv).ok("POST", "/volunteers", {"name": "试", "phone": phone, "org_unit_id": unit, "password": PW},
                want=201)
    return Api(srv, phone, PW), phone


def problem(r, status, field=None):
    assert r.status_code == status, f"{r.status_code}, want {status}: {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    if field:
        assert [e["field"] for e in body.get("errors", [])] == [field], body
    return body


def test_wrong_codes_then_429_until_the_window_passes(world):
    srv, unit, ev = world
    a, _ = volunteer(srv, unit)
    b, _ = volunteer(srv, unit)
    for _ in range(TRIES):
        problem(a.req("POST", f"/events/{ev}/check-ins", {"code": WRONG}), 403, "code")
    t0 = time.monotonic()
    # the right code now: refused all the same, before it reaches the database
    r = a.req("POST", f"/events/{ev}/check-ins", {"code": CODE})
    body = problem(r, 429, "code")
    assert "too many wrong check-in codes" in body["detail"], body
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= WINDOW, r.headers
    # a check-out needs no code (0033): it is not throttled, and answers as it would anyway
    assert a.req("POST", f"/events/{ev}/check-outs", {"code": CODE}).status_code == 409
    # both workers hold it (the table is the server's): a few more tries all answer 429
    for _ in range(4):
        problem(a.req("POST", f"/events/{ev}/check-ins", {"code": CODE}), 429)
    # another account is not affected
    problem(b.req("POST", f"/events/{ev}/check-ins", {"code": WRONG}), 403, "code")
    b.ok("POST", f"/events/{ev}/check-ins", {"code": CODE}, want=201)
    # after the window the right code checks in
    time.sleep(max(0.0, wait - (time.monotonic() - t0)) + 1.1)
    a.ok("POST", f"/events/{ev}/check-ins", {"code": CODE}, want=201)
    a.ok("POST", f"/events/{ev}/check-outs", {"code": CODE}, want=200)


def test_fewer_wrong_codes_are_not_throttled(world):
    srv, unit, ev = world
    a, _ = volunteer(srv, unit)
    for _ in range(TRIES - 1):
        problem(a.req("POST", f"/events/{ev}/check-ins", {"code": WRONG}), 403, "code")
    # a check-in without a code is refused for that (403 naming "code") but is no wrong code
    for _ in range(3):
        body = problem(a.req("POST", f"/events/{ev}/check-ins", {}), 403, "code")
        assert "required" in body["detail"], body
    a.ok("POST", f"/events/{ev}/check-ins", {"code": CODE}, want=201)


def test_a_session_no_worker_has_cached_is_throttled_too(world):
    """A fresh log-in's first check-in would have its session resolved by the group commit:
    while an account is blocked the session is resolved first, so the fresh token is refused."""
    srv, unit, ev = world
    a, phone = volunteer(srv, unit)
    for _ in range(TRIES):
        problem(a.req("POST", f"/events/{ev}/check-ins", {"code": WRONG}), 403, "code")
    for _ in range(3):  # each a new session, cached by no worker
        fresh = Api(srv, phone, PW)
        problem(fresh.req("POST", f"/events/{ev}/check-ins", {"code": CODE}), 429, "code")
    # a session that is not live still gets 401 on that path
    dead = Api(srv)
    dead.token = "x" * 43
    assert dead.req("POST", f"/events/{ev}/check-ins", {"code": CODE}).status_code == 401


def test_the_checkin_page_says_so_in_its_language(world):
    srv, unit, ev = world
    _, phone = volunteer(srv, unit)
    s = requests.Session()
    origin = srv.url("").rstrip("/")
    path = f"/checkin/{ev}"

    def token(html):
        return re.findall(r'name="_t" value="([^"]+)"', html)[0]

    def post(html, data, lang=None):
        h = {"Origin": origin}
        if lang:
            h["Accept-Language"] = lang
        return s.post(srv.url(path), data=dict(data, _t=token(html)), headers=h, timeout=10,
                      allow_redirects=False)

    r = s.get(srv.url(path), timeout=10)
    assert r.status_code == 200
    # the first wrong code also logs in
    r = post(r.text, {"action": "checkin", "code": WRONG, "phone": phone, "password": PW})
    assert r.status_code == 403, r.text[:300]
    for _ in range(TRIES - 1):
        r = post(r.text, {"action": "checkin", "code": WRONG})
        assert r.status_code == 403, r.text[:300]
    r = post(r.text, {"action": "checkin", "code": CODE})
    assert r.status_code == 429, r.text[:300]
    assert "签到码错误次数过多" in r.text, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= WINDOW
    r = post(r.text, {"action": "checkin", "code": CODE}, lang="en")
    assert r.status_code == 429
    assert "Too many wrong check-in codes" in r.text, r.text
    time.sleep(int(r.headers["Retry-After"]) + 1.1)
    r = post(r.text, {"action": "checkin", "code": CODE})
    assert r.status_code == 303, r.text[:300]

"""Attendance and hours (issue 5): check-in and check-out, the rules of DESIGN §3, the ledger,
approval, corrections, self-reports, idempotency and a randomized comparison with a model.

The shared server and database are shared with other test files, so this module builds its
own small district (random codes): district D, community A, grid G under A, team T of A, a
coordinator of A.  Volunteers are inserted with SQL; accounts and roles go through the API.
Hour policies are made through POST /hour-policies (owned by district D, so the coordinators
below it may use them) and chosen with policy_id on POST /activities.  Times that the API cannot produce (an
attendance that began 44 minutes ago, an event on a fixed day three days back that is still
open) are set with SQL on the rows, never on the ledger: the ledger is always written by the
server.

The model in the randomized test is written from DESIGN §3 (overlap with the event, rounded
down to the unit, minimum credit, daily cap per local day, statuses by approval mode and
flags, corrections void what they correct), not from sql/0006_attendance.sql.
"""
import datetime as dt
import hashlib
import hmac
import os
import random
import secrets
import threading
import time

import pytest
import requests

import conftest
import helpers
from apiclient import Api

SH = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai: no DST
PW = "Att-test-pass-123"
US = dt.timedelta(microseconds=1)


# --- small helpers ------------------------------------------------------------------------------

def one(pg, sql, db="vd"):
    """The first value the statement returns (psql -At prints the row before its tag)."""
    out = pg.sql(sql, db=db).strip().splitlines()
    return out[0] if out else None


def q(s):
    return "'" + s.replace("'", "''") + "'"


def now():
    return dt.datetime.now(SH)


def iso(t):
    return t.replace(microsecond=0).isoformat()


def ts(s):
    return dt.datetime.fromisoformat(s)


def at(day, h, m=0, s=0):
    """A local (Asia/Shanghai) instant on a date; h may be 24+ for the next day."""
    return dt.datetime.combine(day, dt.time(0), SH) + dt.timedelta(hours=h, minutes=m, seconds=s)


def phone():
    return "137" + "".join(secrets.choice("0123456789") for _ in range(8))


def fields(r):
    return [e.get("field") for e in r.json().get("errors", [])]


def expect(r, status, field=None):
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code}, want {status}: {r.text[:400]}"
    if status >= 400:
        assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
        body = r.json()
        assert body["status"] == status and body.get("detail"), body
        if field:
            assert field in fields(r) or body.get("field") == field, body
    return r.json() if r.content else None


def checkin_key(server):
    with open(os.path.join(server.dir, "secret"), "rb") as f:
        master = f.read()
    return hmac.new(master, b"volunteerd check-in codes v1", hashlib.sha256).digest()


def code_of(key, event_id, slot):
    """common/checkin_code.h: HMAC(key, 'C' || id || slot) -> first 8 bytes BE mod 10^6."""
    h = hmac.new(key, b"C" + event_id.to_bytes(8, "big") + slot.to_bytes(8, "big", signed=True),
                 hashlib.sha256).digest()
    return "%06d" % (int.from_bytes(h[:8], "big") % 1000000)


def token_of(key, event_id, slot):
    import base64
    h = hmac.new(key, b"T" + event_id.to_bytes(8, "big") + slot.to_bytes(8, "big", signed=True),
                 hashlib.sha256).digest()
    raw = event_id.to_bytes(8, "big") + slot.to_bytes(4, "big") + h[:12]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def safe_slot():
    """The current 45-second slot, after waiting out its last two seconds (so that a code made
    here is judged in the same slot by the server)."""
    t = time.time()
    if t % 45 > 42.5:
        time.sleep(45 - t % 45 + 0.2)
    return int(time.time() // 45)


class World:
    pass


@pytest.fixture(scope="module")
def w(server, pg):
    x = World()
    x.sfx = sfx = secrets.token_hex(4)
    x.server, x.pg = server, pg
    x.admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, code):
        p = "NULL" if parent is None else str(parent)
        return int(one(pg, f"INSERT INTO org_units (parent_id, kind, code, name) VALUES "
                           f"({p}, '{kind}', {q(code + '-' + sfx)}, {q(code)}) RETURNING id"))

    x.d = unit(None, "district", "att-d")
    x.a = unit(x.d, "community", "att-a")
    x.b = unit(x.d, "community", "att-b")
    x.g = unit(x.a, "grid", "att-g")
    x.t = int(one(pg, f"INSERT INTO teams (name, org_unit_id) VALUES ('签到队', {x.a}) RETURNING id"))
    acc = x.admin.ok("POST", "/accounts", {"login": f"att-co-{sfx}", "password": PW})
    x.admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "org_unit_id": x.a})
    x.co = Api(server, f"att-co-{sfx}", PW)
    acc = x.admin.ok("POST", "/accounts", {"login": f"att-cob-{sfx}", "password": PW})
    x.admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "org_unit_id": x.b})
    x.co_b = Api(server, f"att-cob-{sfx}", PW)
    x.key = checkin_key(server)
    x.npol = 0
    return x


def policy(w, **f):
    """An hour policy of district D with the rules f (the rest as DESIGN §3); its id."""
    w.npol += 1
    return w.admin.ok("POST", "/hour-policies", dict(f, name=f"att-{w.sfx}-{w.npol}", org_unit_id=w.d),
                      want=201)["id"]


def event(w, start, end, pol=None, capacity=None, unit=None):
    """An activity with one event [start, end) (through the API), on policy pol."""
    body = {"team_id": w.t, "org_unit_id": unit or w.g, "title": "文明劝导", "category": "交通",
            "location": "路口", "starts_at": start.isoformat(), "ends_at": end.isoformat()}
    if capacity:
        body["capacity"] = capacity
    if pol:
        body["policy_id"] = pol
    a = w.co.ok("POST", "/activities", body, want=201)
    assert a["policy_id"] == (pol or 1), a
    items = w.co.ok("GET", f"/activities/{a['id']}/events")["items"]
    assert len(items) == 1
    return items[0]


def live_event(w, pol=None, capacity=None, before=dt.timedelta(hours=2), after=dt.timedelta(hours=2)):
    t = now().replace(microsecond=0)
    return event(w, t - before, t + after, pol, capacity)


def volunteer(w, account=False, unit=None):
    vid = int(one(w.pg, f"INSERT INTO volunteers (name, phone, org_unit_id) VALUES "
                        f"('签到志愿者', '{phone()}', {unit or w.a}) RETURNING id"))
    if not account:
        return vid
    login = f"att-v{vid}-{w.sfx}"
    w.admin.ok("POST", "/accounts", {"login": login, "password": PW, "volunteer_id": vid})
    return vid, Api(w.server, login, PW)


def signup(w, ev, vid):
    s = w.co.ok("POST", f"/events/{ev['id']}/signups", {"volunteer_id": vid})
    assert s["status"] == "confirmed", s
    return s


def checkin(w, ev, vid, api=None, **body):
    return (api or w.co).req("POST", f"/events/{ev['id']}/check-ins", dict(body, volunteer_id=vid) if vid else body)


def checkout(w, ev, vid, api=None, **body):
    return (api or w.co).req("POST", f"/events/{ev['id']}/check-outs", dict(body, volunteer_id=vid) if vid else body)


def backdate(w, att_id, delta):
    """The attendance began `delta` ago (the server's clock)."""
    secs = delta.total_seconds()
    w.pg.sql(f"UPDATE attendances SET check_in_at = now() - interval '{secs} seconds' WHERE id = {att_id}")


def hours(w, vid, api=None, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return (api or w.co).ok("GET", f"/volunteers/{vid}/hours" + ("?" + qs if qs else ""))


def attend(w, ev, vid, ago):
    """Roster check-in, moved `ago` into the past, and check-out: the check-out's body."""
    a = expect(checkin(w, ev, vid), 201)
    backdate(w, a["id"], ago)
    return expect(checkout(w, ev, vid), 200)


# --- rule 1: the check-in window, one open attendance -------------------------------------------

def test_checkin_window_31_and_29_minutes_before_start(w):
    v = volunteer(w)
    t = now().replace(microsecond=0)
    early = event(w, t + dt.timedelta(minutes=31), t + dt.timedelta(minutes=91))
    signup(w, early, v)
    r = checkin(w, early, v)
    expect(r, 409)
    assert "opens" in r.json()["detail"], r.json()
    soon = event(w, t + dt.timedelta(minutes=29), t + dt.timedelta(minutes=89))
    signup(w, soon, v)
    a = expect(checkin(w, soon, v), 201)
    for k in ("id", "event_id", "volunteer_id", "check_in_at", "check_out_at", "method",
              "credited_minutes", "entry"):
        assert k in a, k
    assert (a["event_id"], a["volunteer_id"], a["method"]) == (soon["id"], v, "roster")
    assert a["check_out_at"] is None and a["credited_minutes"] is None and a["entry"] is None
    assert abs(ts(a["check_in_at"]) - now()) < dt.timedelta(seconds=30)
    # rule 2 at the edge: checked out before the start, nothing is credited (and nothing fails)
    out = expect(checkout(w, soon, v), 200)
    assert out["credited_minutes"] == 0 and out["entry"]["minutes"] == 0, out
    assert out["entry"]["status"] == "approved" and out["entry"]["flags"] == [], out["entry"]
    assert ts(out["entry"]["started_at"]) == ts(soon["starts_at"]) == ts(out["entry"]["ended_at"])
    # a second check-out has nothing to close
    expect(checkout(w, soon, v), 409)


def test_checkin_after_the_end_and_at_a_cancelled_event(w, pg):
    v = volunteer(w)
    t = now().replace(microsecond=0)
    past = event(w, t - dt.timedelta(hours=2), t - dt.timedelta(seconds=1))
    r = checkin(w, past, v)
    expect(r, 409)
    assert "closed" in r.json()["detail"]
    ev = live_event(w)
    pg.sql(f"UPDATE events SET status = 'cancelled' WHERE id = {ev['id']}")
    expect(checkin(w, ev, v), 409)
    expect(checkin(w, {"id": 999999999}, v), 404)


def test_overlapping_events_second_checkin_409(w, pg):
    v = volunteer(w)
    e1, e2 = live_event(w), live_event(w)
    a1 = expect(checkin(w, e1, v), 201)
    r = checkin(w, e2, v)
    expect(r, 409)
    assert "already checked in" in r.json()["detail"], r.json()
    r = checkin(w, e1, v)
    expect(r, 409)
    assert "already checked in" in r.json()["detail"]
    assert one(pg, f"SELECT count(*) FROM attendances WHERE volunteer_id = {v}") == "1"
    # The database itself refuses a second open attendance and overlapping credited time.
    r = pg.as_pg([f"{helpers.PGBIN}/psql", "-h", pg.dir, "-p", str(pg.port), "-U", "postgres", "-d", "vd",
                  "-c", f"INSERT INTO attendances (event_id, volunteer_id, check_in_at, method) "
                        f"VALUES ({e2['id']}, {v}, now(), 'roster')"])
    assert r.returncode != 0 and "attendances_one_open_per_volunteer" in r.stderr, r.stderr
    out = expect(checkout(w, e1, v), 200)
    r = pg.as_pg([f"{helpers.PGBIN}/psql", "-h", pg.dir, "-p", str(pg.port), "-U", "postgres", "-d", "vd",
                  "-c", f"INSERT INTO attendances (event_id, volunteer_id, check_in_at, check_out_at, credited, method) "
                        f"VALUES ({e2['id']}, {v}, '{a1['check_in_at']}', '{out['check_out_at']}', "
                        f"tstzrange('{a1['check_in_at']}', '{out['check_out_at']}'), 'roster')"])
    assert r.returncode != 0 and "attendances_no_overlap" in r.stderr, r.stderr
    # after the check-out, the other event takes the volunteer (no minute is shared)
    expect(checkin(w, e2, v), 201)
    expect(checkout(w, e2, v), 200)


# --- rule 2: rounding, minimum credit, daily cap -------------------------------------------------

@pytest.mark.parametrize("unit, want", [(1, 44), (5, 40), (15, 30), (30, 30)])
def test_rounding_units(w, unit, want):
    pol = policy(w, rounding_minutes=unit)
    ev = live_event(w, pol)
    v = volunteer(w)
    signup(w, ev, v)
    out = attend(w, ev, v, dt.timedelta(minutes=44, seconds=30))
    assert out["credited_minutes"] == want and out["entry"]["minutes"] == want, out
    assert out["entry"]["status"] == "approved"
    assert out["entry"]["hours"] == "%.2f" % (want / 60), out["entry"]
    # early arrival is not credited: the credited start is the event's start
    ev2 = live_event(w, pol, before=dt.timedelta(minutes=20))
    v = volunteer(w)
    signup(w, ev2, v)
    a = expect(checkin(w, ev2, v), 201)
    backdate(w, a["id"], dt.timedelta(minutes=45))  # arrived 25 minutes before the start
    out = expect(checkout(w, ev2, v), 200)
    assert out["entry"]["minutes"] == 20 // unit * unit, out
    assert ts(out["entry"]["started_at"]) == ts(ev2["starts_at"])


def test_minimum_credit(w):
    pol = policy(w, min_credit_minutes=30)
    ev = live_event(w, pol)
    short, enough = volunteer(w), volunteer(w)
    signup(w, ev, short)
    signup(w, ev, enough)
    assert attend(w, ev, short, dt.timedelta(minutes=29, seconds=50))["credited_minutes"] == 0
    assert attend(w, ev, enough, dt.timedelta(minutes=35, seconds=10))["credited_minutes"] == 35


def test_daily_cap(w):
    # on the check-out path: 90 minutes served, 60 credited, flagged capped
    pol = policy(w, daily_cap_minutes=60)
    ev = live_event(w, pol)
    v = volunteer(w)
    signup(w, ev, v)
    out = attend(w, ev, v, dt.timedelta(minutes=90, seconds=5))
    assert out["credited_minutes"] == 60 and "capped" in out["entry"]["flags"], out
    # across entries of one local day; another day is not affected; rejected entries free it
    pol = policy(w, daily_cap_minutes=120)
    day = (now() - dt.timedelta(days=3)).date()
    past = event(w, at(day, 8), at(day, 20), pol)
    nxt = event(w, at(day, 32), at(day, 44), pol)  # the next day, 08:00 to 20:00
    v = volunteer(w)

    def report(start, end, e=past):
        return w.co.ok("POST", "/hours", {"volunteer_id": v, "event_id": e["id"], "started_at": iso(start),
                                          "ended_at": iso(end), "reason": "补录"}, want=201)

    first = report(at(day, 9), at(day, 10, 30))
    assert first["minutes"] == 90 and first["flags"] == ["backfill"]
    second = report(at(day, 11), at(day, 12))
    assert second["minutes"] == 30 and sorted(second["flags"]) == ["backfill", "capped"], second
    assert report(at(day, 13), at(day, 13, 30))["minutes"] == 0
    assert report(at(day, 33), at(day, 34), nxt)["minutes"] == 60
    w.co.ok("POST", f"/hours/{first['id']}/reject", {"reason": "重复"})
    assert report(at(day, 14), at(day, 15))["minutes"] == 60  # 120 - 30 - 0 left = 90


# --- self check-in with a code or the poster's token ---------------------------------------------

def test_self_checkin_code_token_and_stale_token(w):
    ev = live_event(w)
    v, vapi = volunteer(w, account=True)
    signup(w, ev, v)
    r = checkin(w, ev, None, vapi)
    expect(r, 403, "code")
    slot = safe_slot()
    wrong = "%06d" % ((int(code_of(w.key, ev["id"], slot)) + 1) % 1000000)
    expect(checkin(w, ev, None, vapi, code=wrong), 403, "code")
    expect(checkin(w, ev, None, vapi, code="12a456"), 403)
    expect(checkin(w, ev, None, vapi, code=code_of(w.key, ev["id"], slot - 2)), 403, "code")  # stale code
    expect(checkin(w, ev, None, vapi, code=token_of(w.key, ev["id"], slot - 2)), 403, "code")  # stale QR token
    expect(checkin(w, ev, None, vapi, code=token_of(w.key, ev["id"], slot + 1)), 403)  # from the future
    other = live_event(w)
    expect(checkin(w, ev, None, vapi, code=token_of(w.key, other["id"], slot)), 403)  # another event's
    tampered = token_of(w.key, ev["id"], slot)
    tampered = tampered[:-1] + ("A" if tampered[-1] != "A" else "B")
    expect(checkin(w, ev, None, vapi, code=tampered), 403)
    # the previous slot's token is still good (read out just before the slot turned)
    a = expect(checkin(w, ev, None, vapi, code=token_of(w.key, ev["id"], slot - 1)), 201)
    assert a["method"] == "self" and a["volunteer_id"] == v
    # the code a coordinator sees on the event is the one that checks in
    shown = w.co.ok("GET", f"/events/{ev['id']}")["checkin_code"]
    expect(checkin(w, ev, None, vapi, code=shown), 409)  # (already in)
    # a check-out needs no code (0033), so a wrong one sent along is not looked at
    out = expect(checkout(w, ev, None, vapi, code=wrong), 200)
    assert out["entry"]["status"] == "approved"
    # another volunteer cannot be checked in by a volunteer (only staff in scope): the event is
    # public, so that is 403; staff out of scope get 404
    v2 = volunteer(w)
    expect(checkin(w, ev, v2, vapi, code=shown), 403)
    expect(checkin(w, ev, v2, w.co_b), 404)  # a coordinator out of scope


def test_static_code_policy(w, pg):
    pol = policy(w, static_code=True)
    ev = live_event(w, pol)
    v, vapi = volunteer(w, account=True)
    signup(w, ev, v)
    code = one(pg, f"SELECT checkin_code FROM events WHERE id = {ev['id']}")
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    expect(checkin(w, ev, None, vapi, code=wrong), 403, "code")
    expect(checkin(w, ev, None, vapi, code=code), 201)


# --- walk-ins --------------------------------------------------------------------------------------

def test_walk_in_allowed_and_refused(w):
    ev = live_event(w, capacity=2)
    signed = volunteer(w)
    signup(w, ev, signed)
    walker, wapi = volunteer(w, account=True)
    third = volunteer(w)
    slot = safe_slot()
    a = expect(checkin(w, ev, None, wapi, code=code_of(w.key, ev["id"], slot)), 201)
    assert a["method"] == "walk_in" and "walk_in" in a["flags"], a
    r = checkin(w, ev, third)  # 1 confirmed + 1 walk-in = capacity 2
    expect(r, 409)
    assert "full" in r.json()["detail"]
    expect(checkin(w, ev, signed), 201)  # a signed-up volunteer still gets in
    backdate(w, a["id"], dt.timedelta(minutes=10, seconds=5))
    out = expect(checkout(w, ev, None, wapi, code=code_of(w.key, ev["id"], safe_slot())), 200)
    assert out["entry"]["status"] == "pending" and out["entry"]["flags"] == ["walk_in"], out["entry"]
    assert out["credited_minutes"] == 10
    # a policy without walk-ins
    pol = policy(w, walk_ins_allowed=False)
    closed = live_event(w, pol)
    r = checkin(w, closed, third)
    expect(r, 409)
    assert "not signed up" in r.json()["detail"]
    signup(w, closed, third)
    expect(checkin(w, closed, third), 201)


# --- rule 4: forgotten check-outs ----------------------------------------------------------------

def test_forgotten_checkout_closed_by_the_job(make_server, fresh_db, pg):
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=2, env={"VOLUNTEERD_JOB_INTERVAL": "1"})
    srv.migrate()
    srv.create_admin("admin", PW)
    srv.start()
    admin = Api(srv, "admin", PW)
    d = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district", "code": "fc-d", "name": "区"})
    t = admin.ok("POST", "/teams", {"name": "队", "org_unit_id": d["id"]})
    v = int(one(pg, f"INSERT INTO volunteers (name, phone, org_unit_id) VALUES ('忘签退', '{phone()}', {d['id']}) "
                    f"RETURNING id", db=name))
    n0 = now().replace(microsecond=0)
    act = admin.ok("POST", "/activities", {"team_id": t["id"], "org_unit_id": d["id"], "title": "t",
                                           "starts_at": iso(n0 - dt.timedelta(minutes=10)),
                                           "ends_at": iso(n0 + dt.timedelta(hours=1))})
    ev = admin.ok("GET", f"/activities/{act['id']}/events")["items"][0]
    kept = admin.ok("POST", "/activities", {"team_id": t["id"], "org_unit_id": d["id"], "title": "still on",
                                            "starts_at": iso(n0 - dt.timedelta(minutes=10)),
                                            "ends_at": iso(n0 + dt.timedelta(hours=1))})
    ev_on = admin.ok("GET", f"/activities/{kept['id']}/events")["items"][0]
    v2 = int(one(pg, f"INSERT INTO volunteers (name, phone, org_unit_id) VALUES ('在岗', '{phone()}', {d['id']}) "
                     f"RETURNING id", db=name))
    admin.ok("POST", f"/events/{ev['id']}/signups", {"volunteer_id": v})
    a = admin.ok("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v}, want=201)
    admin.ok("POST", f"/events/{ev_on['id']}/check-ins", {"volunteer_id": v2}, want=201)
    # The event ran 5 h to 3 h ago and the volunteer came 4 h ago and never checked out: the
    # grace (2 h) ended an hour ago.
    pg.sql(f"UPDATE events SET starts_at = now() - interval '5 hours', ends_at = now() - interval '3 hours' "
           f"WHERE id = {ev['id']}; UPDATE attendances SET check_in_at = now() - interval '4 hours' "
           f"WHERE id = {a['id']}", db=name)
    ends = ts(one(pg, f"SELECT to_json(ends_at) #>> '{{}}' FROM events WHERE id = {ev['id']}", db=name))
    done = helpers.wait_until(lambda: one(pg, f"SELECT count(*) FROM hour_entries WHERE attendance_id = {a['id']}",
                                          db=name) == "1", 15)
    assert done, srv.log_text()[-2000:]
    h = admin.ok("GET", f"/volunteers/{v}/hours")
    (e,) = h["entries"]
    assert e["status"] == "pending" and e["flags"] == ["auto_checkout"], e
    assert e["minutes"] == 60 and ts(e["ended_at"]) == ends, e
    assert h["totals"] == {"approved_minutes": 0, "pending_minutes": 60, "approved_hours": "0.00",
                           "pending_hours": "1.00"}, h["totals"]
    att = admin.ok("GET", f"/events/{ev['id']}/attendance")
    (row,) = att["items"]
    assert row["state"] == "done" and row["attendance"]["method"] == "auto"
    assert ts(row["attendance"]["check_out_at"]) == ends + dt.timedelta(hours=2)
    assert "auto_checkout" in row["attendance"]["flags"]
    # running again changes nothing (three more ticks, and once by hand)
    before = one(pg, "SELECT count(*) || ':' || max(id) || ':' || sum(minutes) FROM hour_entries", db=name)
    time.sleep(3.2)
    assert one(pg, "SELECT auto_checkout_run()", db=name) == "0"
    assert one(pg, "SELECT count(*) || ':' || max(id) || ':' || sum(minutes) FROM hour_entries", db=name) == before
    # the volunteer still on post at an event that has not ended is left alone
    assert one(pg, f"SELECT count(*) FROM attendances WHERE volunteer_id = {v2} AND check_out_at IS NULL",
               db=name) == "1"
    # a coordinator confirms it
    assert admin.ok("POST", f"/hours/{e['id']}/approve", {})["status"] == "approved"
    srv.stop()


# --- rule 8: midnight and month end in Asia/Shanghai ---------------------------------------------

def anchored_event(w, start, pol=None):
    """An event from a fixed past instant until 3 h from now, so that a volunteer can be
    checked in now and the times then corrected into the past."""
    return event(w, start, now().replace(microsecond=0) + dt.timedelta(hours=3), pol)


def corrected(w, ev, vid, start, end, reason="补签"):
    a = expect(checkin(w, ev, vid), 201)
    expect(checkout(w, ev, vid), 200)
    return w.co.ok("PATCH", f"/attendance/{a['id']}", {"check_in_at": iso(start), "check_out_at": iso(end),
                                                       "reason": reason})


def days_of(pg, entry_id):
    return pg.sql(f"SELECT day || '=' || minutes FROM hour_entry_days WHERE entry_id = {entry_id} ORDER BY day").split()


def test_midnight_split(w, pg):
    day = (now() - dt.timedelta(days=3)).date()
    ev = anchored_event(w, at(day, 20))
    v = volunteer(w)
    signup(w, ev, v)
    a = corrected(w, ev, v, at(day, 23, 10), at(day, 25, 20))
    e = a["entry"]
    assert e["minutes"] == 130 and a["credited_minutes"] == 130
    assert days_of(pg, e["id"]) == [f"{day}=50", f"{day + dt.timedelta(days=1)}=80"]
    h = hours(w, v, **{"from": day, "to": day})
    assert h["totals"]["pending_minutes"] == 50, h["totals"]
    h = hours(w, v, **{"from": day + dt.timedelta(days=1), "to": day + dt.timedelta(days=1)})
    assert h["totals"]["pending_minutes"] == 80, h["totals"]
    assert hours(w, v)["totals"]["pending_minutes"] == 130


def test_month_end_split_and_statements(w, pg):
    first = now().date().replace(day=1)
    if now().date() == first:  # stay clear of "now": use the month before
        first = (first - dt.timedelta(days=1)).replace(day=1)
    last = first - dt.timedelta(days=1)  # the last day of the month before `first`
    ev = anchored_event(w, at(last, 22))
    v, vapi = volunteer(w, account=True)
    signup(w, ev, v)
    a = corrected(w, ev, v, at(last, 23, 30), at(first, 0, 45))
    e = a["entry"]
    assert e["minutes"] == 75
    assert days_of(pg, e["id"]) == [f"{last}=30", f"{first}=45"]
    before = hours(w, v, **{"from": last.replace(day=1), "to": last})
    assert before["totals"]["pending_minutes"] == 30 and [x["id"] for x in before["entries"]] == [e["id"]]
    month = hours(w, v, **{"from": first, "to": first.replace(day=28)})
    assert month["totals"]["pending_minutes"] == 45
    assert w.co.ok("POST", f"/hours/{e['id']}/approve", {})["status"] == "approved"
    month = hours(w, v, api=vapi, **{"from": first, "to": first.replace(day=28)})  # the volunteer themself
    assert month["totals"] == {"approved_minutes": 45, "pending_minutes": 0, "approved_hours": "0.75",
                               "pending_hours": "0.00"}, month["totals"]
    # a range that misses the entry lists nothing
    assert hours(w, v, **{"from": last - dt.timedelta(days=5), "to": last - dt.timedelta(days=1)})["entries"] == []
    # instants work too
    assert hours(w, v, **{"from": iso(at(first, 0)).replace("+", "%2B")})["totals"]["approved_minutes"] == 45
    r = vapi.req("GET", f"/volunteers/{v}/hours?from=yesterday")
    expect(r, 422, "from")
    # GET /me: this month's and this year's totals and the entries
    me = vapi.ok("GET", "/me")
    assert me["volunteer"]["id"] == v and me["hours"]["all"]["approved_minutes"] == 75
    this_month = now().date().replace(day=1)
    assert me["hours"]["month"]["approved_minutes"] == (45 if first == this_month else 0)
    assert me["hours"]["year"]["approved_minutes"] == (75 if last.year == now().year else
                                                      45 if first.year == now().year else 0)
    listed = {x["id"]: x["status"] for x in me["hours"]["entries"]}
    assert listed[e["id"]] == "approved" and sorted(listed.values()) == ["approved", "void"], listed
    # another volunteer cannot read these hours
    other, oapi = volunteer(w, account=True)
    expect(oapi.req("GET", f"/volunteers/{v}/hours"), 404)


# --- rule 5: approval modes; approve and reject ---------------------------------------------------

def test_approval_modes(w):
    auto_ev = live_event(w)
    manual_ev = live_event(w, policy(w, approval_mode="manual"))
    v1, v2 = volunteer(w), volunteer(w)
    signup(w, auto_ev, v1)
    signup(w, manual_ev, v2)
    e1 = attend(w, auto_ev, v1, dt.timedelta(minutes=30, seconds=1))["entry"]
    e2 = attend(w, manual_ev, v2, dt.timedelta(minutes=30, seconds=1))["entry"]
    assert (e1["status"], e2["status"]) == ("approved", "pending")
    assert hours(w, v2)["totals"]["pending_minutes"] == 30
    expect(w.co_b.req("POST", f"/hours/{e2['id']}/approve", {}), 404)  # out of scope
    ap = w.co.ok("POST", f"/hours/{e2['id']}/approve", {})
    assert ap["status"] == "approved" and ap["id"] == e2["id"]
    assert w.co.ok("POST", f"/hours/{e2['id']}/approve")["status"] == "approved"  # twice: same answer
    expect(w.co.req("POST", f"/hours/{e2['id']}/reject", {"reason": "晚了"}), 409)  # approved stays approved
    assert hours(w, v2)["totals"] == {"approved_minutes": 30, "pending_minutes": 0, "approved_hours": "0.50",
                                      "pending_hours": "0.00"}
    # a volunteer cannot approve
    vv, vapi = volunteer(w, account=True)
    expect(vapi.req("POST", f"/hours/{e2['id']}/approve", {}), 404)


def test_reject_needs_a_reason_and_bulk_approval(w, pg):
    day = (now() - dt.timedelta(days=5)).date()
    ev = event(w, at(day, 0), at(day, 23, 59), policy(w, approval_mode="manual"))
    v = volunteer(w)
    # 300 pending entries of one minute each, written as the server would (backfills)
    pg.sql(f"INSERT INTO hour_entries (volunteer_id, event_id, started_at, ended_at, minutes, status, flags, reason) "
           f"SELECT {v}, {ev['id']}, '{at(day, 1).isoformat()}'::timestamptz + i * interval '2 minutes', "
           f"'{at(day, 1).isoformat()}'::timestamptz + i * interval '2 minutes' + interval '1 minute', 1, "
           f"'pending', '{{backfill}}', 'bulk test' FROM generate_series(0, 299) i")
    ids = [int(x) for x in pg.sql(f"SELECT id FROM hour_entries WHERE volunteer_id = {v} ORDER BY id").split()]
    assert len(ids) == 300
    r = w.co.req("POST", f"/hours/{ids[0]}/reject", {})
    expect(r, 422, "reason")
    expect(w.co.req("POST", f"/hours/{ids[0]}/reject", {"reason": "  "}), 422, "reason")
    rej = w.co.ok("POST", f"/hours/{ids[0]}/reject", {"reason": "不在岗"})
    assert rej["status"] == "rejected" and rej["decision_reason"] == "不在岗"
    expect(w.co.req("POST", f"/hours/{ids[0]}/approve", {}), 409)
    # 1,001 ids are too many; 1,000 are fine, each with its own result
    expect(w.co.req("POST", "/hours/approve", {"ids": list(range(1, 1002))}), 422, "ids")
    expect(w.co.req("POST", "/hours/approve", {"ids": ["1"]}), 422, "ids")
    missing = [10 ** 12 + i for i in range(699)]
    out = w.co.ok("POST", "/hours/approve", {"ids": ids + missing + [ids[5]]})
    assert len(ids + missing) + 1 == 1000
    assert out["approved"] == 300 and out["failed"] == 700, {k: out[k] for k in ("approved", "failed")}
    res = out["results"]
    assert len(res) == 1000 and [x["id"] for x in res] == ids + missing + [ids[5]]
    assert res[0]["error"]["status"] == 409  # the rejected one; it does not undo the others
    assert all(x["status"] == "approved" for x in res[1:300]) and res[-1]["status"] == "approved"
    assert all(x["error"]["status"] == 404 for x in res[300:999])
    t = hours(w, v)["totals"]
    assert (t["approved_minutes"], t["pending_minutes"]) == (299, 0), t
    # out of scope: per-id 404, nothing changes
    more = [int(x) for x in pg.sql(
        f"INSERT INTO hour_entries (volunteer_id, event_id, started_at, ended_at, minutes, status, flags, reason) "
        f"VALUES ({v}, {ev['id']}, '{at(day, 20).isoformat()}', '{at(day, 21).isoformat()}', 60, 'pending', "
        f"'{{backfill}}', 'x') RETURNING id").split()[:1]]
    out = w.co_b.ok("POST", "/hours/approve", {"ids": more})
    assert out["approved"] == 0 and out["results"][0]["error"]["status"] == 404
    assert hours(w, v)["totals"]["pending_minutes"] == 60


# --- rule 7: corrections --------------------------------------------------------------------------

def test_correction_voids_and_points_at_the_old_entry(w, pg):
    day = (now() - dt.timedelta(days=2)).date()
    ev = anchored_event(w, at(day, 8))
    v = volunteer(w)
    signup(w, ev, v)
    a = expect(checkin(w, ev, v), 201)
    old = expect(checkout(w, ev, v), 200)["entry"]
    assert old["status"] == "approved"
    r = w.co.req("PATCH", f"/attendance/{a['id']}", {"check_in_at": iso(at(day, 9)), "check_out_at": iso(at(day, 11))})
    expect(r, 422, "reason")
    r = w.co.req("PATCH", f"/attendance/{a['id']}", {"check_in_at": iso(at(day, 11)), "check_out_at": iso(at(day, 9)),
                                                    "reason": "x"})
    expect(r, 422, "check_out_at")
    r = w.co.req("PATCH", f"/attendance/{a['id']}", {"check_in_at": "yesterday", "reason": "x"})
    expect(r, 422, "check_in_at")
    expect(w.co_b.req("PATCH", f"/attendance/{a['id']}", {"check_in_at": iso(at(day, 9)), "reason": "x"}), 404)
    fixed = w.co.ok("PATCH", f"/attendance/{a['id']}", {"check_in_at": iso(at(day, 7, 30)),
                                                        "check_out_at": iso(at(day, 11, 0, 40)), "reason": "忘记签到"})
    e = fixed["entry"]
    assert fixed["id"] == a["id"] and fixed["credited_minutes"] == 180  # 08:00 (the start) to 11:00
    assert e["corrects"] == old["id"] and e["status"] == "pending" and "correction" in e["flags"]
    assert e["reason"] == "忘记签到" and ts(e["started_at"]) == at(day, 8)
    h = hours(w, v)
    by_id = {x["id"]: x for x in h["entries"]}
    assert by_id[old["id"]]["status"] == "void" and by_id[old["id"]]["minutes"] == old["minutes"]
    assert h["totals"]["approved_minutes"] == 0 and h["totals"]["pending_minutes"] == 180
    # a correction of the correction
    again = w.co.ok("PATCH", f"/attendance/{a['id']}", {"check_out_at": iso(at(day, 10)), "reason": "提前离开"})
    assert again["entry"]["corrects"] == e["id"] and again["entry"]["minutes"] == 120
    w.co.ok("POST", f"/hours/{again['entry']['id']}/approve", {})
    assert hours(w, v)["totals"] == {"approved_minutes": 120, "pending_minutes": 0, "approved_hours": "2.00",
                                     "pending_hours": "0.00"}
    # the ledger rows were never edited: the old facts are intact, only the status moved on
    assert one(pg, f"SELECT minutes || ' ' || status FROM hour_entries WHERE id = {e['id']}") == "180 void"
    # the audit trail shows old and new times, who and when
    trail = w.admin.ok("GET", f"/audit?entity=attendance&entity_id={a['id']}")["items"]
    corr = [x for x in trail if x["action"] == "correct"]
    assert len(corr) == 2 and all(x["account_id"] == w.co.account["id"] and x["at"] for x in corr)
    last = corr[0]
    assert ts(last["old"]["check_out_at"]) == at(day, 11, 0, 40) and ts(last["new"]["check_out_at"]) == at(day, 10)
    assert ts(corr[1]["old"]["check_in_at"]) == ts(a["check_in_at"]) and ts(corr[1]["new"]["check_in_at"]) == at(day, 7, 30)
    # an approved entry is never edited in place, not even by SQL
    r = pg.as_pg([f"{helpers.PGBIN}/psql", "-h", pg.dir, "-p", str(pg.port), "-U", "postgres", "-d", "vd",
                  "-c", f"UPDATE hour_entries SET minutes = 999 WHERE id = {again['entry']['id']}"])
    assert r.returncode != 0 and "cannot be edited" in r.stderr
    # a correction that would overlap another attendance of the volunteer is 409
    b = corrected(w, ev, v, at(day, 12), at(day, 13))
    assert b["entry"]["minutes"] == 60
    r = w.co.req("PATCH", f"/attendance/{b['id']}", {"check_in_at": iso(at(day, 9, 30)), "reason": "x"})
    expect(r, 409)
    assert "overlap" in r.json()["detail"]


def test_correcting_an_open_attendance(w):
    day = (now() - dt.timedelta(days=2)).date()
    ev = anchored_event(w, at(day, 8))
    v = volunteer(w)
    signup(w, ev, v)
    a = expect(checkin(w, ev, v), 201)
    still = w.co.ok("PATCH", f"/attendance/{a['id']}", {"check_in_at": iso(now() - dt.timedelta(minutes=20)),
                                                        "reason": "早到了"})
    assert still["check_out_at"] is None and still["entry"] is None
    out = expect(checkout(w, ev, v), 200)
    assert out["credited_minutes"] == 20 and out["entry"]["status"] == "approved"


# --- rule 6: self-reports and backfills -----------------------------------------------------------

def test_self_report_and_backfill(w):
    day = (now() - dt.timedelta(days=4)).date()
    ev = event(w, at(day, 9), at(day, 12))
    v, vapi = volunteer(w, account=True)

    def post(api, **body):
        base = {"event_id": ev["id"], "started_at": iso(at(day, 9)), "ended_at": iso(at(day, 10)), "reason": "忘记签到"}
        base.update(body)
        return api.req("POST", "/hours", {k: x for k, x in base.items() if x is not None})

    expect(post(vapi, reason=None), 422, "reason")
    expect(post(vapi, reason="   "), 422, "reason")
    expect(post(vapi, started_at=iso(at(day, 8, 59))), 422, "started_at")
    expect(post(vapi, ended_at=iso(at(day, 12, 1))), 422, "ended_at")
    expect(post(vapi, ended_at=iso(at(day, 8))), 422, "ended_at")
    expect(post(vapi, started_at="9:00"), 422, "started_at")
    expect(post(vapi, event_id=999999999), 422, "event_id")
    mine = expect(post(vapi), 201)
    assert mine["status"] == "pending" and mine["flags"] == ["self_report"] and mine["minutes"] == 60
    assert mine["volunteer_id"] == v and mine["reason"] == "忘记签到" and mine["corrects"] is None
    r = post(vapi, started_at=iso(at(day, 9, 30)), ended_at=iso(at(day, 10, 30)))
    expect(r, 409)
    assert "overlap" in r.json()["detail"]
    back = expect(post(w.co, volunteer_id=v, started_at=iso(at(day, 10)), ended_at=iso(at(day, 11, 15))), 201)
    assert back["flags"] == ["backfill"] and back["status"] == "pending" and back["minutes"] == 75
    assert back["team_id"] == w.t and back["org_unit_id"] == w.g
    # a volunteer cannot report for someone else; a coordinator out of scope cannot either
    other = volunteer(w)
    later = {"started_at": iso(at(day, 11, 30)), "ended_at": iso(at(day, 11, 45))}
    expect(post(vapi, volunteer_id=other, **later), 403)
    expect(post(w.co_b, volunteer_id=other, **later), 404)
    # no hours in the future
    live = live_event(w)
    expect(w.co.req("POST", "/hours", {"volunteer_id": other, "event_id": live["id"], "reason": "x",
                                       "started_at": iso(now() + dt.timedelta(minutes=10)),
                                       "ended_at": iso(now() + dt.timedelta(minutes=40))}), 422)
    # while the volunteer is checked in, nothing after the check-in can be reported
    signup(w, live, other)
    expect(checkin(w, live, other), 201)
    r = w.co.req("POST", "/hours", {"volunteer_id": other, "event_id": live["id"], "reason": "x",
                                    "started_at": iso(now() - dt.timedelta(minutes=30)),
                                    "ended_at": iso(now() + dt.timedelta(minutes=2))})
    expect(r, 409)
    expect(checkout(w, live, other), 200)  # and the check-out is not blocked by anything
    t = hours(w, v)["totals"]
    assert (t["approved_minutes"], t["pending_minutes"]) == (0, 135)
    w.co.ok("POST", "/hours/approve", {"ids": [mine["id"], back["id"]]})
    assert hours(w, v, api=vapi)["totals"]["approved_minutes"] == 135


# --- idempotency ----------------------------------------------------------------------------------

def test_idempotency_key_on_checkin_and_checkout(w, pg):
    ev = live_event(w)
    v = volunteer(w)
    signup(w, ev, v)
    key = {"Idempotency-Key": "ci-" + secrets.token_hex(8)}
    r1 = w.co.req("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v}, headers=key)
    r2 = w.co.req("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v}, headers=key)
    a1, a2 = expect(r1, 201), expect(r2, 201)
    assert a1 == a2 and r1.content == r2.content
    assert one(pg, f"SELECT count(*) FROM attendances WHERE volunteer_id = {v}") == "1"
    v2 = volunteer(w)
    signup(w, ev, v2)
    expect(w.co.req("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v2}, headers=key), 422, "Idempotency-Key")
    assert one(pg, f"SELECT count(*) FROM attendances WHERE volunteer_id = {v2}") == "0"
    key2 = {"Idempotency-Key": "co-" + secrets.token_hex(8)}
    o1 = expect(w.co.req("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v}, headers=key2), 200)
    o2 = expect(w.co.req("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v}, headers=key2), 200)
    assert o1 == o2
    assert one(pg, f"SELECT count(*) FROM hour_entries WHERE volunteer_id = {v}") == "1"
    # without the key, a second check-out is a conflict
    expect(w.co.req("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v}), 409)


class OneEvent:
    """A server of its own (the suite's shared one runs without lock_timeout), an event open
    now and a volunteer, and the administrator's check-in of that volunteer under an
    Idempotency-Key."""

    def __init__(self, make_server, pg):
        self.pg = pg
        self.srv = make_server(pg.url(), tls=False, workers=2)
        self.srv.migrate()
        self.srv.create_admin("admin", PW)
        self.srv.start()
        admin = Api(self.srv, "admin", PW)
        d = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district", "code": "kr-d", "name": "区"})
        t = admin.ok("POST", "/teams", {"name": "队", "org_unit_id": d["id"]})
        self.unit = d["id"]
        self.v = self.new_volunteer()
        n0 = now().replace(microsecond=0)
        act = admin.ok("POST", "/activities", {"team_id": t["id"], "org_unit_id": d["id"], "title": "t",
                                               "starts_at": iso(n0), "ends_at": iso(n0 + dt.timedelta(hours=1))})
        self.ev = admin.ok("GET", f"/activities/{act['id']}/events")["items"][0]
        self.admin = Api(self.srv, "admin", PW)  # a fresh session: nothing else will write while we wait
        self.key = {"Idempotency-Key": "crash-" + secrets.token_hex(6)}
        self.body = {"volunteer_id": self.v}

    def new_volunteer(self):
        return int(one(self.pg, f"INSERT INTO volunteers (name, phone, org_unit_id) "
                                f"VALUES ('断电', '{phone()}', {self.unit}) RETURNING id"))

    def check_in(self, body=None, timeout=10, key=True):
        return self.admin.req("POST", f"/events/{self.ev['id']}/check-ins", body or self.body,
                              headers=self.key if key else None, timeout=timeout)


class CommitHeld(OneEvent):
    """OneEvent, and its check-in's COMMIT held: a synchronous standby that does not exist
    makes the COMMIT wait, written but invisible to others, until synchronous_standby_names is
    cleared (`release`)."""

    def __init__(self, make_server, pg):
        super().__init__(make_server, pg)
        self.outcome = {}
        self.thread = None

    def send_and_hold(self):
        """Sends the check-in from a thread and returns once its COMMIT waits."""
        def send():
            try:
                self.outcome["r"] = self.check_in(timeout=30)
            except requests.RequestException as e:
                self.outcome["e"] = e

        self.pg.sql("ALTER SYSTEM SET synchronous_standby_names = 'nobody'", db="postgres")
        self.pg.sql("SELECT pg_reload_conf()", db="postgres")
        time.sleep(0.3)
        self.thread = threading.Thread(target=send, daemon=True)
        self.thread.start()
        assert helpers.wait_until(lambda: self.held_backend() is not None, 15), "the check-in never reached its commit"
        assert one(self.pg, "SELECT count(*) FROM attendances") == "0"  # not visible yet

    def held_backend(self):
        pid = one(self.pg, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' "
                           "AND query LIKE '%checkin_batch%'", db="postgres")
        return pid or None

    def release(self):
        self.pg.sql("ALTER SYSTEM RESET synchronous_standby_names", db="postgres")
        self.pg.sql("SELECT pg_reload_conf()", db="postgres")

    def assert_retry_finds_the_commit(self):
        """Once the held COMMIT has completed, the retry under the same key answers the
        committed attendance, and there is one."""
        assert helpers.wait_until(lambda: one(self.pg, "SELECT count(*) FROM attendances") == "1", 10), \
            "the commit did not complete"
        committed = one(self.pg, "SELECT id FROM attendances")
        a = expect(self.check_in(), 201)
        assert str(a["id"]) == committed and a["volunteer_id"] == self.v
        assert one(self.pg, "SELECT count(*) FROM attendances") == "1"


def test_replay_after_the_server_was_killed_between_commit_and_reply(make_server, own_pg):
    """The check-in commits, and the server dies before it can reply: the whole server is
    killed with SIGKILL while the COMMIT is held.  Then the commit completes, a new server
    starts, and the client's retry with the same key must find the committed attendance, not
    make a second one."""
    w = CommitHeld(make_server, own_pg)
    try:
        w.send_and_hold()
        w.srv.kill()  # SIGKILL to the whole process group: parent and workers
        assert not w.srv.workers()
    finally:
        w.release()
    w.thread.join(35)
    assert "r" not in w.outcome, "the client got an answer from a killed server"
    w.srv.start()
    w.assert_retry_finds_the_commit()
    # the same key with another body is still refused
    expect(w.check_in({"volunteer_id": w.v, "code": "123456"}), 422, "Idempotency-Key")
    w.srv.stop()


def test_a_connection_lost_during_commit_is_never_a_2xx_and_the_retry_finds_the_commit(make_server, own_pg):
    """R34: the database connection dies while the COMMIT is in flight and the server lives on
    (the backend holding the COMMIT is terminated: the transaction has committed locally, the
    server never hears so).  The client gets 503 with Retry-After, never a 2xx for an outcome
    the server does not know; its retry with the same key gets the committed attendance, and
    there is one."""
    w = CommitHeld(make_server, own_pg)
    try:
        w.send_and_hold()
        own_pg.sql(f"SELECT pg_terminate_backend({w.held_backend()})", db="postgres")
        w.thread.join(35)
    finally:
        w.release()
    r = w.outcome.get("r")
    assert r is not None, f"no answer: {w.outcome.get('e')}"
    expect(r, 503)
    assert r.headers.get("Retry-After"), r.headers
    w.assert_retry_finds_the_commit()  # the pool has reconnected by itself
    w.srv.stop()


def test_a_checkin_behind_a_held_row_lock_is_503_at_the_lock_timeout(make_server, own_pg):
    """R38: a transaction elsewhere holds the volunteer's row (FOR UPDATE, as an edit does) and
    stalls.  The check-in, whose foreign key must share-lock that row, waits lock_timeout
    (VOLUNTEERD_DB_LOCK_TIMEOUT_MS, 1 s by default) twice, once in its batch's round and once
    alone (checkin_many runs a failed round's check-ins one by one, so that the others of its
    batch go through: test_checkin_lean.py), and so gets its 503 with Retry-After in about
    2 s, where the 5 s of statement_timeout would have failed the whole batch.  PostgreSQL's
    lock_not_available is in the log.  Another volunteer checks in meanwhile, and once the lock
    is gone the retry under the same key checks in once.  The log's db_error line names the
    503's request id, so that an operator finds what held it up."""
    w = OneEvent(make_server, own_pg)
    other = w.new_volunteer()
    result = {}

    def check_in_held():
        t0 = time.monotonic()
        result["r"] = w.check_in(timeout=15)
        result["took"] = time.monotonic() - t0

    lock = own_pg.connect()
    try:
        lock.cursor().execute(f"SELECT 1 FROM volunteers WHERE id = {w.v} FOR UPDATE")
        waiting = threading.Thread(target=check_in_held, daemon=True)
        waiting.start()
        assert helpers.wait_until(lambda: one(own_pg, "SELECT count(*) FROM pg_stat_activity "
                                                      "WHERE wait_event_type = 'Lock'", db="postgres") != "0", 5)
        expect(w.check_in({"volunteer_id": other}, key=False), 201)
        waiting.join(15)
    finally:
        lock.rollback()
        lock.close()
    r = result.get("r")
    assert r is not None, "the held check-in got no answer"
    expect(r, 503)
    assert r.headers.get("Retry-After"), r.headers
    assert result["took"] < 3.0, f"the 503 took {result['took']:.2f} s"
    rid = r.headers["X-Request-Id"]
    assert any(f"rid={rid} " in line and "sqlstate=55P03" in line and "event=db_error" in line
               for line in w.srv.log_text().splitlines()), (rid, w.srv.log_text()[-2000:])
    assert one(own_pg, f"SELECT count(*) FROM attendances WHERE volunteer_id = {w.v}") == "0"
    a = expect(w.check_in(), 201)
    assert a["volunteer_id"] == w.v
    assert one(own_pg, f"SELECT count(*) FROM attendances WHERE volunteer_id = {w.v}") == "1"
    w.srv.stop()


# --- the live roster ------------------------------------------------------------------------------

def test_event_roster(w):
    ev = live_event(w)
    on, done, missing, walk = volunteer(w), volunteer(w), volunteer(w), volunteer(w)
    for v in (on, done, missing):
        signup(w, ev, v)
    expect(checkin(w, ev, on), 201)
    expect(checkin(w, ev, done), 201)
    expect(checkout(w, ev, done), 200)
    expect(checkin(w, ev, walk), 201)
    r = w.co.ok("GET", f"/events/{ev['id']}/attendance")
    state = {x["volunteer_id"]: x["state"] for x in r["items"]}
    assert state == {on: "on_post", done: "done", missing: "missing", walk: "on_post"}, state
    assert r["counts"] == {"signed_up": 3, "on_post": 2, "done": 1, "missing": 1}, r["counts"]
    expect(w.co_b.req("GET", f"/events/{ev['id']}/attendance"), 404)


# --- a randomized run against a model written from DESIGN §3 --------------------------------------

class Model:
    """What DESIGN §3 says the ledger must hold, kept independently of the server."""

    def __init__(self, policies):
        self.pol = policies  # event id -> policy dict
        self.entries = {}    # id -> dict(vol, minutes, status, start, end, att)
        self.atts = {}       # id -> dict(vol, ev, start, end (None while open), walk, entry)
        self.open = {}       # vol -> attendance id

    @staticmethod
    def minutes(p, a, b):
        if b <= a:
            return 0
        m = ((b - a) // US) // 60_000_000
        m = m // p["rounding"] * p["rounding"]
        return 0 if m < p["min"] else m

    def day_used(self, vol, day, skip=None):
        return sum(e["minutes"] for i, e in self.entries.items()
                   if e["vol"] == vol and i != skip and e["status"] in ("pending", "approved")
                   and e["start"].astimezone(SH).date() == day)

    def capped(self, p, vol, start, m, skip=None):
        if p["cap"] is None:
            return m
        return min(m, max(0, p["cap"] - self.day_used(vol, start.astimezone(SH).date(), skip)))

    def credited(self, ev, a, b):
        s, e = max(a, ev["start"]), min(b, ev["end"])
        return (s, e) if s < e else None

    def overlaps_credit(self, vol, span, skip_att=None):
        """For a correction: does span share a minute with another attendance's credited time
        (whatever became of its entry), an open one's claim from its check-in on, or a live
        entry without attendance?"""
        if span is None:
            return False
        s, e = span
        for i, a in self.atts.items():
            if a["vol"] != vol or i == skip_att:
                continue
            if a["end"] is None:
                if e > a["start"]:
                    return True
            elif a["span"] and a["span"][0] < e and s < a["span"][1]:
                return True
        for x in self.entries.values():
            if (x["vol"] == vol and x["status"] in ("pending", "approved") and x["att"] is None
                    and x["end"] > x["start"] and x["start"] < e and s < x["end"]):
                return True
        return False

    def overlaps_live(self, vol, s, e):
        """For a report: does [s, e) share a minute with a live entry, or come after the
        check-in of an open attendance?"""
        if any(a["vol"] == vol and a["end"] is None and a["start"] < e for a in self.atts.values()):
            return True
        return any(x["vol"] == vol and x["status"] in ("pending", "approved") and x["end"] > x["start"]
                   and x["start"] < e and s < x["end"] for x in self.entries.values())

    def totals(self, vol):
        ap = sum(e["minutes"] for e in self.entries.values() if e["vol"] == vol and e["status"] == "approved")
        pe = sum(e["minutes"] for e in self.entries.values() if e["vol"] == vol and e["status"] == "pending")
        return {"approved_minutes": ap, "pending_minutes": pe}


def test_randomized_against_a_model(w, pg):
    rng = random.Random(20240505)
    sess = requests.Session()
    sess.headers["Authorization"] = "Bearer " + w.co.token
    base = w.co.base

    def call(method, path, body=None):
        return sess.request(method, base + path, json=body, timeout=10)

    day = (now() - dt.timedelta(days=4)).date()       # corrections land here
    prev = day - dt.timedelta(days=1)                  # backfills land here (and on `day`)
    kinds = [dict(rounding=1, min=0, cap=None, mode="auto", walk=True),
             dict(rounding=5, min=10, cap=None, mode="auto", walk=True),
             dict(rounding=15, min=0, cap=240, mode="manual", walk=True),
             dict(rounding=30, min=30, cap=180, mode="auto", walk=True),
             dict(rounding=1, min=0, cap=300, mode="auto", walk=False)]
    end_live = now().replace(microsecond=0) + dt.timedelta(hours=3)
    live, past, evs = [], [], {}
    for k, p in enumerate(kinds):
        pid = policy(w, rounding_minutes=p["rounding"], min_credit_minutes=p["min"], daily_cap_minutes=p["cap"],
                     approval_mode=p["mode"], walk_ins_allowed=p["walk"])
        for j in range(2):
            start = at(day, 8 + 2 * j, 30 * k)
            e = event(w, start, end_live, pid)
            live.append(e["id"])
            evs[e["id"]] = dict(p, start=start, end=end_live)
        start, end = at(prev, 9 + k % 2), at(prev, 17 + k % 3)
        e = event(w, start, end, pid)
        past.append(e["id"])
        evs[e["id"]] = dict(p, start=start, end=end)
    vols = [volunteer(w) for _ in range(24)]
    signed = {(e, v) for e in live for v in vols if rng.random() < 0.6}
    pg.sql("INSERT INTO signups (event_id, volunteer_id, status) VALUES " +
           ", ".join(f"({e}, {v}, 'confirmed')" for e, v in sorted(signed)))
    m = Model(evs)
    mismatches, counts = [], {}

    def check(op, r, want):
        counts[op] = counts.get(op, 0) + 1
        if r.status_code != want:
            mismatches.append(f"{op}: {r.status_code} want {want}: {r.text[:200]}")
            return False
        return want < 300

    def rand_time(d, lo=7, hi=20):
        return at(d, lo) + dt.timedelta(seconds=rng.randrange(0, (hi - lo) * 3600))

    for step in range(3000):
        op = rng.choices(["in", "out", "fix", "report", "approve", "reject", "bulk"],
                         [24, 20, 20, 14, 12, 6, 4])[0]
        v = rng.choice(vols)
        if op == "in":
            e = rng.choice(live)
            p = evs[e]
            want = 409 if v in m.open or ((e, v) not in signed and not p["walk"]) else 201
            r = call("POST", f"/events/{e}/check-ins", {"volunteer_id": v})
            if check(op, r, want):
                a = r.json()
                m.atts[a["id"]] = dict(vol=v, ev=e, start=ts(a["check_in_at"]), end=None, span=None,
                                       walk=(e, v) not in signed, entry=None)
                m.open[v] = a["id"]
        elif op == "out":
            e = m.atts[m.open[v]]["ev"] if v in m.open and rng.random() < 0.9 else rng.choice(live)
            aid = m.open.get(v)
            want = 200 if aid is not None and m.atts[aid]["ev"] == e else 409
            r = call("POST", f"/events/{e}/check-outs", {"volunteer_id": v})
            if check(op, r, want):
                body = r.json()
                a = m.atts[aid]
                p = evs[e]
                a["end"] = ts(body["check_out_at"])
                a["span"] = m.credited(p, a["start"], a["end"])
                s0 = a["span"][0] if a["span"] else max(a["start"], p["start"])
                mins = m.capped(p, v, s0, m.minutes(p, *(a["span"] or (s0, s0))))
                status = "approved" if p["mode"] == "auto" and not a["walk"] else "pending"
                eid = body["entry"]["id"]
                m.entries[eid] = dict(vol=v, minutes=mins, status=status, start=s0,
                                      end=a["span"][1] if a["span"] else s0, att=aid)
                a["entry"] = eid
                del m.open[v]
        elif op == "fix":
            mine = [i for i, a in m.atts.items() if a["vol"] == v]
            if not mine:
                continue
            aid = rng.choice(mine)
            a = m.atts[aid]
            p = evs[a["ev"]]
            start = rand_time(day)
            end = min(start + dt.timedelta(seconds=rng.randrange(0, 5 * 3600)), at(day, 21))
            span = m.credited(p, start, end)
            want = 409 if m.overlaps_credit(v, span, skip_att=aid) else 200
            r = call("PATCH", f"/attendance/{aid}", {"check_in_at": iso(start), "check_out_at": iso(end),
                                                     "reason": f"更正{step}"})
            if check(op, r, want):
                body = r.json()
                old = a["entry"]
                corrects = old if old is not None and m.entries[old]["status"] in ("pending", "approved") else None
                s0 = span[0] if span else max(start, p["start"])
                mins = m.capped(p, v, s0, m.minutes(p, *(span or (s0, s0))), skip=corrects)
                if corrects is not None:
                    m.entries[corrects]["status"] = "void"
                eid = body["entry"]["id"]
                if body["entry"]["corrects"] != corrects:
                    mismatches.append(f"fix {aid}: corrects {body['entry']['corrects']} want {corrects}")
                m.entries[eid] = dict(vol=v, minutes=mins, status="pending", start=s0,
                                      end=span[1] if span else s0, att=aid)
                a.update(start=start, end=end, span=span, entry=eid)
                if m.open.get(v) == aid:
                    del m.open[v]
        elif op == "report":
            e = rng.choice(past + live)
            p = evs[e]
            d = prev if e in past else day
            start = rand_time(d, 8, 19)
            end = start + dt.timedelta(seconds=rng.randrange(60, 3 * 3600))
            if end > at(d, 20, 30):
                end = at(d, 20, 30)
            inside = p["start"] <= start < p["end"] and end <= p["end"]
            want = 422 if not inside else 409 if m.overlaps_live(v, start, end) else 201
            r = call("POST", "/hours", {"volunteer_id": v, "event_id": e, "started_at": iso(start),
                                        "ended_at": iso(end), "reason": "补录"})
            if check(op, r, want):
                mins = m.capped(p, v, start, m.minutes(p, start, end))
                m.entries[r.json()["id"]] = dict(vol=v, minutes=mins, status="pending", start=start, end=end,
                                                 att=None)
        elif op in ("approve", "reject"):
            if not m.entries:
                continue
            eid = rng.choice(list(m.entries))
            x = m.entries[eid]
            target = "approved" if op == "approve" else "rejected"
            want = 200 if x["status"] in ("pending", target) else 409
            r = call("POST", f"/hours/{eid}/{op}", {} if op == "approve" else {"reason": "核实"})
            if check(op, r, want):
                x["status"] = target
        else:
            pending = [i for i, x in m.entries.items() if x["status"] == "pending"]
            ids = rng.sample(pending, min(len(pending), rng.randrange(1, 30)))
            ids += rng.sample(list(m.entries), min(len(m.entries), 5)) + [10 ** 12 + step]
            r = call("POST", "/hours/approve", {"ids": ids})
            if check(op, r, 200):
                got = r.json()["results"]
                for i, res in zip(ids, got):
                    x = m.entries.get(i)
                    want = 404 if x is None else 200 if x["status"] in ("pending", "approved") else 409
                    have = res.get("error", {}).get("status", 200)
                    if have != want:
                        mismatches.append(f"bulk id {i}: {have} want {want}")
                    if want == 200:
                        x["status"] = "approved"
        if len(mismatches) > 5:
            break

    assert not mismatches, "\n".join(mismatches)
    assert counts.get("in", 0) > 300 and counts.get("fix", 0) > 400 and len(m.entries) > 550, counts
    statuses = {s: sum(1 for x in m.entries.values() if x["status"] == s) for s in ("pending", "approved", "rejected", "void")}
    assert all(statuses.values()), statuses
    wrong = []
    for v in vols:
        h = hours(w, v)
        got = {k: h["totals"][k] for k in ("approved_minutes", "pending_minutes")}
        if got != m.totals(v):
            entries = {x["id"]: (x["minutes"], x["status"]) for x in h["entries"]}
            mine = {i: (x["minutes"], x["status"]) for i, x in m.entries.items() if x["vol"] == v}
            diff = {i: (entries.get(i), mine.get(i)) for i in set(entries) | set(mine) if entries.get(i) != mine.get(i)}
            wrong.append(f"volunteer {v}: server {got}, model {m.totals(v)}; entries differing {diff}")
    assert not wrong, "\n".join(wrong[:5])
    # every entry's split over days adds up to its minutes
    assert one(pg, "SELECT count(*) FROM hour_entries h WHERE h.volunteer_id IN (" + ",".join(map(str, vols)) +
               ") AND h.minutes <> (SELECT coalesce(sum(minutes), 0) FROM hour_entry_days d WHERE d.entry_id = h.id)") == "0"

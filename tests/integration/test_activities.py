"""Activities, events and sign-ups (issue 4): one-off and weekly activities, the event lists,
check-in codes for staff only, PATCH rules, sign-ups with waitlist and promotion, and 50
parallel sign-ups at capacity 10.

The shared server and database are shared with other tests, so this module builds its own
small district (random codes): district D with communities A and B, grid G under A, team TA
of A and TB of B, a coordinator of A, a coordinator of B and a few volunteers.  Org units,
teams and volunteers are inserted with SQL; accounts and roles go through the API.
"""
import concurrent.futures
import datetime as dt
import re
import secrets
import time

import pytest

import conftest
from apiclient import Api

SH = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST
PASSWORD = "Act-test-pass-123"


def one(pg, q):
    """The first value the statement returns (psql -At prints the row before its tag)."""
    return pg.sql(q).strip().splitlines()[0]


def q(s):
    return "'" + s.replace("'", "''") + "'"


def phone():
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def now():
    return dt.datetime.now(SH).replace(microsecond=0)


def iso(t):
    return t.isoformat()


class World:
    pass


@pytest.fixture(scope="module")
def w(server, pg):
    sfx = secrets.token_hex(4)
    x = World()
    x.sfx = sfx
    x.admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, code):
        p = "NULL" if parent is None else str(parent)
        return int(one(pg, f"INSERT INTO org_units (parent_id, kind, code, name) VALUES "
                           f"({p}, '{kind}', {q(code + '-' + sfx)}, {q(code)}) RETURNING id"))

    x.d = unit(None, "district", "act-d")
    x.a = unit(x.d, "community", "act-a")
    x.b = unit(x.d, "community", "act-b")
    x.g = unit(x.a, "grid", "act-g")
    x.ta = int(one(pg, f"INSERT INTO teams (name, org_unit_id) VALUES ('队A', {x.a}) RETURNING id"))
    x.tb = int(one(pg, f"INSERT INTO teams (name, org_unit_id) VALUES ('队B', {x.b}) RETURNING id"))

    def coordinator(name, **scope):
        acc = x.admin.ok("POST", "/accounts", {"login": f"{name}-{sfx}", "password": PASSWORD})
        x.admin.ok("POST", f"/accounts/{acc['id']}/roles", dict(role="coordinator", **scope))
        return Api(server, f"{name}-{sfx}", PASSWORD)

    x.co_a = coordinator("act-coa", org_unit_id=x.a)
    x.co_b = coordinator("act-cob", org_unit_id=x.b)
    x.co_ta = coordinator("act-cota", team_id=x.ta)

    # Volunteers in A; the first two with accounts of their own.
    x.vols = [int(one(pg, f"INSERT INTO volunteers (name, phone, org_unit_id) VALUES "
                          f"('志愿者{i}', '{phone()}', {x.a}) RETURNING id")) for i in range(5)]
    x.vol_api = []
    for i in range(2):
        login = f"act-v{i}-{sfx}"
        x.admin.ok("POST", "/accounts", {"login": login, "password": PASSWORD, "volunteer_id": x.vols[i]})
        x.vol_api.append(Api(server, login, PASSWORD))
    x.server, x.pg = server, pg
    return x


def one_off(w, api=None, start=None, hours=1, capacity=5, **over):
    start = start or now() + dt.timedelta(days=1)
    body = {"team_id": w.ta, "org_unit_id": w.g, "title": "文明劝导", "category": "交通",
            "location": "路口", "capacity": capacity, "starts_at": iso(start),
            "ends_at": iso(start + dt.timedelta(hours=hours))}
    body.update(over)
    return (api or w.co_a).ok("POST", "/activities", body, want=201)


def event_of(w, activity, api=None):
    items = (api or w.co_a).ok("GET", f"/activities/{activity['id']}/events")["items"]
    assert len(items) == 1, items
    return items[0]


def weekly(w, rec, api=None, want=201, **over):
    body = {"team_id": w.ta, "org_unit_id": w.a, "title": "周二周五清洁", "category": "环境",
            "location": "社区", "capacity": 20, "recurrence": rec}
    body.update(over)
    r = (api or w.co_a).req("POST", "/activities", body)
    assert r.status_code == want, f"{r.status_code} {r.text[:300]}"
    return r.json() if r.content else None


def two_weeks():
    today = now().date()
    return {"freq": "weekly", "byday": ["TU", "FR"], "from": str(today),
            "until": str(today + dt.timedelta(days=13)), "start_time": "08:00", "end_time": "10:00"}


def problem_field(r):
    body = r.json()
    return [e.get("field") for e in body.get("errors", [])]


# --- activities and events ---------------------------------------------------------------------

def test_one_off_activity_and_its_event(w):
    start = now() - dt.timedelta(minutes=10)  # a start in the recent past is allowed
    a = one_off(w, start=start, hours=1, capacity=5)
    for k in ("id", "team_id", "org_unit_id", "title", "category", "location", "capacity",
              "recurrence", "event_count"):
        assert k in a, k
    assert a["recurrence"] is None and a["event_count"] == 1 and a["capacity"] == 5
    assert (a["team_id"], a["org_unit_id"], a["title"]) == (w.ta, w.g, "文明劝导")
    assert w.vol_api[0].ok("GET", f"/activities/{a['id']}") == w.co_a.ok("GET", f"/activities/{a['id']}")

    ev = event_of(w, a)
    got = w.co_a.ok("GET", f"/events/{ev['id']}")
    for k in ("id", "activity_id", "starts_at", "ends_at", "capacity", "status", "confirmed",
              "waitlisted", "team_id", "org_unit_id", "title", "location", "checkin_code", "checkin_url"):
        assert k in got, k
    assert dt.datetime.fromisoformat(got["starts_at"]) == start
    assert dt.datetime.fromisoformat(got["ends_at"]) == start + dt.timedelta(hours=1)
    assert got["starts_at"].endswith("+08:00"), got["starts_at"]  # shown in the deployment's zone
    assert (got["status"], got["capacity"], got["confirmed"], got["waitlisted"]) == ("scheduled", 5, 0, 0)
    assert re.fullmatch(r"[0-9]{6}", got["checkin_code"]), got["checkin_code"]
    # No VOLUNTEERD_PUBLIC_URL in the tests: the scheme and Host it was asked at (a QR code of
    # a bare path opens nothing on a phone), and a 32-character token.
    origin = w.co_a.base[: -len("/api/v1")]
    assert re.fullmatch(re.escape(origin) + r"/checkin/[A-Za-z0-9_-]{32}", got["checkin_url"]), got["checkin_url"]
    assert "_checkin" not in got


def test_checkin_code_only_for_staff_in_scope(w):
    ev = event_of(w, one_off(w))
    for api in (w.co_a, w.co_ta, w.admin):
        got = api.ok("GET", f"/events/{ev['id']}")
        assert "checkin_code" in got and "checkin_url" in got
    for api in (w.vol_api[0], w.co_b):
        got = api.ok("GET", f"/events/{ev['id']}")
        assert got["id"] == ev["id"]
        assert "checkin_code" not in got and "checkin_url" not in got and "_checkin" not in got
    # Lists follow the same rule.
    items = w.co_b.ok("GET", f"/activities/{ev['activity_id']}/events")["items"]
    assert items and all("checkin_code" not in e for e in items)
    items = w.co_a.ok("GET", f"/activities/{ev['activity_id']}/events")["items"]
    assert items and all(re.fullmatch(r"[0-9]{6}", e["checkin_code"]) for e in items)
    # Two staff readers within one 45-second slot see the same code (nothing random).
    a1 = w.co_a.ok("GET", f"/events/{ev['id']}")
    a2 = w.admin.ok("GET", f"/events/{ev['id']}")
    if a1["checkin_url"] == a2["checkin_url"]:  # the same slot
        assert a1["checkin_code"] == a2["checkin_code"]


def test_static_code_policy(w, pg):
    a = one_off(w)
    ev = event_of(w, a)
    code = one(pg, f"SELECT checkin_code FROM events WHERE id = {ev['id']}")
    # a rotating code (the default policy) is derived, not the stored one; a 1 in 10^6 clash
    # with the stored code is ruled out by asking in two slots
    if w.co_a.ok("GET", f"/events/{ev['id']}")["checkin_code"] == code:
        time.sleep(46)
        assert w.co_a.ok("GET", f"/events/{ev['id']}")["checkin_code"] != code
    # the system administrator makes a global static-code policy; it fixes the code at once
    pol = w.admin.ok("POST", "/hour-policies", {"name": f"static-{w.sfx}", "static_code": True}, want=201)
    assert pol["static_code"] is True and pol["org_unit_id"] is None
    a2 = one_off(w, policy_id=pol["id"])
    assert a2["policy_id"] == pol["id"]
    ev2 = event_of(w, a2)
    code2 = one(pg, f"SELECT checkin_code FROM events WHERE id = {ev2['id']}")
    got2 = w.co_a.ok("GET", f"/events/{ev2['id']}")
    assert got2["checkin_code"] == code2
    # a fixed code's link is the permanent one, which a printed poster can carry
    assert got2["checkin_url"] == w.co_a.base[: -len("/api/v1")] + f"/checkin/{ev2['id']}"


def test_weekly_two_weeks_tue_fri(w):
    a = weekly(w, two_weeks())
    assert a["event_count"] == 4, a
    assert a["recurrence"]["byday"] == ["TU", "FR"]
    items = w.co_a.ok("GET", f"/activities/{a['id']}/events")["items"]
    assert len(items) == 4
    starts = [dt.datetime.fromisoformat(e["starts_at"]).astimezone(SH) for e in items]
    assert starts == sorted(starts)
    for e, s in zip(items, starts):
        assert s.strftime("%a %H:%M") in ("Tue 08:00", "Fri 08:00"), s
        assert dt.datetime.fromisoformat(e["ends_at"]).astimezone(SH) == s.replace(hour=10)
        assert e["capacity"] == 20 and e["status"] == "scheduled"
    today = now().date()
    assert all(today <= s.date() <= today + dt.timedelta(days=13) for s in starts)
    # The day list in the zone, computed here: every Tue and Fri of the fourteen days.
    want = [today + dt.timedelta(days=i) for i in range(14)
            if (today + dt.timedelta(days=i)).weekday() in (1, 4)]
    assert [s.date() for s in starts] == want


def test_weekly_all_days_and_single_day(w):
    today = now().date()
    rec = {"freq": "weekly", "byday": ["MO", "TU", "WE", "TH", "FR", "SA", "SU"], "from": str(today),
           "until": str(today + dt.timedelta(days=9)), "start_time": "19:30", "end_time": "21:00"}
    assert weekly(w, rec)["event_count"] == 10
    rec.update(byday=["SU"], until=str(today))
    assert weekly(w, rec)["event_count"] == (1 if today.weekday() == 6 else 0)


def test_regeneration_is_idempotent(w, pg):
    a = weekly(w, two_weeks())
    assert one(pg, f"SELECT activity_generate_events({a['id']})") == "0"
    assert one(pg, f"SELECT count(*) FROM events WHERE activity_id = {a['id']}") == "4"
    # A lost event comes back, and only that one.
    pg.sql(f"DELETE FROM events WHERE id = (SELECT min(id) FROM events WHERE activity_id = {a['id']})")
    assert one(pg, f"SELECT activity_generate_events({a['id']})") == "1"
    assert one(pg, f"SELECT count(*) FROM events WHERE activity_id = {a['id']}") == "4"


@pytest.mark.parametrize("change, field", [
    ({"byday": ["XX"]}, "recurrence.byday"),
    ({"byday": ["tu"]}, "recurrence.byday"),
    ({"byday": []}, "recurrence.byday"),
    ({"byday": ["TU", "TU"]}, "recurrence.byday"),
    ({"byday": "TU"}, "recurrence.byday"),
    ({"freq": "daily"}, "recurrence.freq"),
    ({"from": "2026-02-30"}, "recurrence.from"),
    ({"until": "next week"}, "recurrence.until"),
    ({"start_time": "25:00"}, "recurrence.start_time"),
    ({"start_time": "8:00"}, "recurrence.start_time"),
    ({"end_time": "07:59"}, "recurrence.end_time"),
    ({"end_time": "08:00"}, "recurrence.end_time"),
    ({"interval": 2}, "recurrence.interval"),
    ({"from": None}, "recurrence.from"),
], ids=lambda v: str(v))
def test_recurrence_validation(w, change, field):
    rec = two_weeks()
    rec.update(change)
    r = w.co_a.req("POST", "/activities", {"team_id": w.ta, "org_unit_id": w.a, "title": "t",
                                           "recurrence": rec})
    assert r.status_code == 422, r.text
    assert field in problem_field(r), r.text


def test_recurrence_date_order_and_two_year_cap(w):
    today = now().date()
    rec = two_weeks()
    rec.update(until=str(today - dt.timedelta(days=1)))
    r = w.co_a.req("POST", "/activities", {"team_id": w.ta, "org_unit_id": w.a, "title": "t", "recurrence": rec})
    assert r.status_code == 422 and "recurrence.until" in problem_field(r), r.text
    rec.update({"from": "2026-01-05", "until": "2028-01-06"})  # two years and a day
    r = w.co_a.req("POST", "/activities", {"team_id": w.ta, "org_unit_id": w.a, "title": "t", "recurrence": rec})
    assert r.status_code == 422 and "recurrence.until" in problem_field(r), r.text
    rec.update({"from": "2026-01-05", "until": "2028-01-05", "byday": ["MO"]})  # exactly two years
    assert weekly(w, rec)["event_count"] == 105


@pytest.mark.parametrize("body, field", [
    ({"starts_at": None}, "starts_at"),
    ({"ends_at": None}, "ends_at"),
    ({"starts_at": "2026-03-01T08:00:00"}, "starts_at"),  # no offset
    ({"starts_at": "tomorrow"}, "starts_at"),
    ({"capacity": 0}, "capacity"),
    ({"capacity": "5"}, "capacity"),
    ({"title": " "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"team_id": "1"}, "team_id"),
    ({"colour": "red"}, "colour"),
], ids=lambda v: str(v))
def test_one_off_validation(w, body, field):
    start = now() + dt.timedelta(days=1)
    b = {"team_id": w.ta, "org_unit_id": w.a, "title": "t", "capacity": 3, "starts_at": iso(start),
         "ends_at": iso(start + dt.timedelta(hours=1))}
    b.update(body)
    r = w.co_a.req("POST", "/activities", b)
    assert r.status_code == 422, r.text
    assert field in problem_field(r), r.text


def test_one_off_time_rules(w):
    start = now() + dt.timedelta(days=1)
    base = {"team_id": w.ta, "org_unit_id": w.a, "title": "t"}
    for s, e, field in [(start, start, "ends_at"), (start, start - dt.timedelta(hours=1), "ends_at"),
                        (start, start + dt.timedelta(days=32), "ends_at"),
                        (start + dt.timedelta(days=800), start + dt.timedelta(days=800, hours=1), "starts_at")]:
        r = w.co_a.req("POST", "/activities", dict(base, starts_at=iso(s), ends_at=iso(e)))
        assert r.status_code == 422 and field in problem_field(r), r.text
    r = w.co_a.req("POST", "/activities", dict(base, starts_at=iso(start), ends_at=iso(start + dt.timedelta(hours=1)),
                                               recurrence=two_weeks()))
    assert r.status_code == 422, r.text


def test_malformed_body_is_400(w):
    r = w.co_a.req("POST", "/activities", None, data=b"{\"title\": ")
    assert r.status_code == 400, r.text


def test_create_scope(w):
    # Another community's coordinator: the team is not theirs -> 404.
    r = w.co_b.req("POST", "/activities", {"team_id": w.ta, "org_unit_id": w.a, "title": "t",
                                           "starts_at": iso(now()), "ends_at": iso(now() + dt.timedelta(hours=1))})
    assert r.status_code == 404, r.text
    # Their own team, but held in a community outside their scope and the team's -> 422.
    r = w.co_b.req("POST", "/activities", {"team_id": w.tb, "org_unit_id": w.g, "title": "t",
                                           "starts_at": iso(now()), "ends_at": iso(now() + dt.timedelta(hours=1))})
    assert r.status_code == 422 and "org_unit_id" in problem_field(r), r.text
    # A volunteer may not create activities -> 403; a team that does not exist -> 404.
    r = w.vol_api[0].req("POST", "/activities", {"team_id": w.ta, "org_unit_id": w.a, "title": "t",
                                                 "starts_at": iso(now()), "ends_at": iso(now() + dt.timedelta(hours=1))})
    assert r.status_code == 403, r.text
    r = w.co_a.req("POST", "/activities", {"team_id": 9_000_000_000, "org_unit_id": w.a, "title": "t",
                                           "starts_at": iso(now()), "ends_at": iso(now() + dt.timedelta(hours=1))})
    assert r.status_code == 404, r.text
    # A team coordinator: their team, anywhere under the team's community.
    one_off(w, api=w.co_ta)
    # The district's admin covers everything below it.
    assert one_off(w, api=w.admin)["team_id"] == w.ta


def test_activity_get_404(w):
    assert w.co_a.status("GET", "/activities/9000000000") == 404
    assert w.co_a.status("GET", "/activities/9000000000/events") == 404
    assert w.co_a.status("GET", "/events/9000000000") == 404
    assert w.co_a.status("GET", "/events/abc") == 404


def test_anonymous_is_401(w):
    anon = Api(w.server)
    assert anon.status("GET", "/events") == 401
    assert anon.status("POST", "/activities", {}) == 401


def test_events_list_filters_and_pages(w):
    a = weekly(w, two_weeks())
    today = now().date()
    end = today + dt.timedelta(days=14)
    mine = [e["id"] for e in w.co_a.ok("GET", f"/activities/{a['id']}/events")["items"]]

    def ids(path, api=None):
        out, cursor = [], None
        for _ in range(50):  # bounded
            sep = "&" if "?" in path else "?"
            page = (api or w.co_a).ok("GET", path + (f"{sep}cursor={cursor}" if cursor else ""))
            out += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return out
        raise AssertionError("too many pages")

    got = ids(f"/events?from={today}&to={end}&org_unit_id={w.a}&limit=500")
    assert set(mine) <= set(got)
    # Volunteers read the same list.
    assert set(mine) <= set(ids(f"/events?from={today}&to={end}&team_id={w.ta}", w.vol_api[0]))
    assert not set(mine) & set(ids(f"/events?from={today}&to={end}&org_unit_id={w.b}"))
    assert not set(mine) & set(ids(f"/events?from={today}&to={end}&team_id={w.tb}"))
    # Pages of 3 give the same events in the same order, ordered by start.
    paged = ids(f"/activities/{a['id']}/events?limit=3")
    assert paged == mine
    page = w.co_a.ok("GET", f"/activities/{a['id']}/events?limit=3")
    assert len(page["items"]) == 3 and page["next_cursor"]
    # RFC 3339 bounds (with an encoded '+'): the first event only.
    first = w.co_a.ok("GET", f"/events/{mine[0]}")
    s = dt.datetime.fromisoformat(first["starts_at"])
    frm = iso(s).replace("+", "%2B")
    to = iso(s + dt.timedelta(minutes=1)).replace("+", "%2B")
    assert mine[0] in ids(f"/events?from={frm}&to={to}&team_id={w.ta}")
    assert mine[1] not in ids(f"/events?from={frm}&to={to}&team_id={w.ta}")
    # Bad arguments.
    for bad, field in [(f"from={end}&to={today}", "to"), ("from=yesterday", "from"), ("to=2026-13-01", "to"),
                       ("org_unit_id=x", "org_unit_id"), ("limit=0", "limit"), ("cursor=zz", "cursor")]:
        r = w.co_a.req("GET", f"/events?{bad}")
        assert r.status_code == 422 and field in problem_field(r), (bad, r.text)


# --- PATCH /events/{id} ------------------------------------------------------------------------

def test_cancel_event(w, pg):
    ev = event_of(w, one_off(w))
    got = w.co_a.ok("PATCH", f"/events/{ev['id']}", {"status": "cancelled"})
    assert got["status"] == "cancelled" and "checkin_code" in got
    assert w.vol_api[0].ok("GET", f"/events/{ev['id']}")["status"] == "cancelled"
    r = w.vol_api[0].req("POST", f"/events/{ev['id']}/signups", {})
    assert r.status_code == 409, r.text
    r = w.co_a.req("POST", f"/events/{ev['id']}/signups", {"volunteer_id": w.vols[2]})
    assert r.status_code == 409, r.text
    assert one(pg, f"SELECT count(*) FROM audit_log WHERE entity = 'event' AND entity_id = {ev['id']} "
                   "AND action = 'update' AND new ->> 'status' = 'cancelled'") == "1"


def test_patch_capacity_and_times(w):
    ev = event_of(w, one_off(w, capacity=2))
    s = dt.datetime.fromisoformat(ev["starts_at"])
    got = w.co_a.ok("PATCH", f"/events/{ev['id']}", {"capacity": 3, "starts_at": iso(s + dt.timedelta(hours=1)),
                                                      "ends_at": iso(s + dt.timedelta(hours=3))})
    assert got["capacity"] == 3
    assert dt.datetime.fromisoformat(got["starts_at"]) == s + dt.timedelta(hours=1)
    assert dt.datetime.fromisoformat(got["ends_at"]) == s + dt.timedelta(hours=3)
    for body, st, field in [({"ends_at": iso(s)}, 422, "ends_at"), ({"capacity": 0}, 422, "capacity"),
                            ({"status": "done"}, 422, "status"), ({}, 422, "status"),
                            ({"title": "x"}, 422, "title"),
                            ({"ends_at": iso(now() - dt.timedelta(minutes=1)),
                              "starts_at": iso(now() - dt.timedelta(hours=1))}, 422, "ends_at")]:
        r = w.co_a.req("PATCH", f"/events/{ev['id']}", body)
        assert r.status_code == st and field in problem_field(r), (body, r.text)
    # Capacity below the confirmed sign-ups: 409.
    for v in w.vols[2:5]:
        w.co_a.ok("POST", f"/events/{ev['id']}/signups", {"volunteer_id": v}, want=201)
    r = w.co_a.req("PATCH", f"/events/{ev['id']}", {"capacity": 2})
    assert r.status_code == 409, r.text
    # Unlimited capacity (null) is accepted.
    assert w.co_a.ok("PATCH", f"/events/{ev['id']}", {"capacity": None})["capacity"] is None


def test_patch_scope(w):
    ev = event_of(w, one_off(w))
    assert w.co_b.status("PATCH", f"/events/{ev['id']}", {"status": "cancelled"}) == 404
    assert w.vol_api[0].status("PATCH", f"/events/{ev['id']}", {"status": "cancelled"}) == 403
    assert w.co_a.status("PATCH", "/events/9000000000", {"status": "cancelled"}) == 404
    assert w.co_a.ok("GET", f"/events/{ev['id']}")["status"] == "scheduled"


def test_past_event_is_never_rewritten(w, pg):
    day = now() - dt.timedelta(days=2)
    ev = event_of(w, one_off(w, start=day, hours=1))
    for body in ({"status": "cancelled"}, {"capacity": 10}, {"ends_at": iso(now() + dt.timedelta(hours=1))}):
        r = w.co_a.req("PATCH", f"/events/{ev['id']}", body)
        assert r.status_code == 409, (body, r.text)
    assert w.co_a.req("POST", f"/events/{ev['id']}/signups", {"volunteer_id": w.vols[2]}).status_code == 409
    assert one(pg, f"SELECT status || capacity FROM events WHERE id = {ev['id']}") == "scheduled5"


def test_started_event_keeps_its_start(w):
    start = now() - dt.timedelta(minutes=5)
    ev = event_of(w, one_off(w, start=start, hours=2))
    r = w.co_a.req("PATCH", f"/events/{ev['id']}", {"starts_at": iso(start + dt.timedelta(minutes=30))})
    assert r.status_code == 409, r.text
    got = w.co_a.ok("PATCH", f"/events/{ev['id']}", {"ends_at": iso(start + dt.timedelta(hours=3))})
    assert dt.datetime.fromisoformat(got["ends_at"]) == start + dt.timedelta(hours=3)


# --- sign-ups ----------------------------------------------------------------------------------

def test_signups_waitlist_and_promotion(w, pg):
    ev = event_of(w, one_off(w, capacity=2))
    path = f"/events/{ev['id']}/signups"
    v0, v1 = w.vol_api
    # Self sign-up with an empty body: the caller's own record.
    s = v0.ok("POST", path, {}, want=201)
    assert s == {**s, "event_id": ev["id"], "volunteer_id": w.vols[0], "status": "confirmed"}
    assert v0.ok("POST", path, {}, want=200)["status"] == "confirmed"  # the same sign-up again
    assert v0.ok("POST", path, {"volunteer_id": w.vols[0]}, want=200)["status"] == "confirmed"
    s = w.co_a.ok("POST", path, {"volunteer_id": w.vols[2]}, want=201)
    assert s["status"] == "confirmed"
    s = v1.ok("POST", path, None, want=201)  # no body at all
    assert s["status"] == "waitlisted" and s["volunteer_id"] == w.vols[1]
    s = w.co_a.ok("POST", path, {"volunteer_id": w.vols[3]}, want=201)
    assert s["status"] == "waitlisted"
    got = w.co_a.ok("GET", f"/events/{ev['id']}")
    assert (got["confirmed"], got["waitlisted"]) == (2, 2)

    # Not allowed: a volunteer signing up someone else; another community's coordinator;
    # an account without a volunteer record and no volunteer_id; an unknown volunteer.
    assert v0.status("POST", path, {"volunteer_id": w.vols[4]}) == 403
    assert w.co_b.status("POST", path, {"volunteer_id": w.vols[4]}) == 404
    r = w.co_a.req("POST", path, {})
    assert r.status_code == 422 and "volunteer_id" in problem_field(r), r.text
    r = w.co_a.req("POST", path, {"volunteer_id": 9_000_000_000})
    assert r.status_code == 422 and "volunteer_id" in problem_field(r), r.text
    assert w.co_a.status("POST", "/events/9000000000/signups", {"volunteer_id": w.vols[4]}) == 404
    assert v0.status("DELETE", f"{path}/{w.vols[2]}") == 403
    assert w.co_b.status("DELETE", f"{path}/{w.vols[2]}") == 404
    assert w.co_a.status("DELETE", f"{path}/{w.vols[4]}") == 404  # never signed up

    # The volunteer cancels their own confirmed place: the first waitlisted (v1) moves up.
    r = v0.req("DELETE", f"{path}/{w.vols[0]}")
    assert r.status_code == 204 and not r.content, r.text
    assert v0.status("DELETE", f"{path}/{w.vols[0]}") == 204  # twice: nothing more happens
    rows = dict(line.split("|") for line in pg.sql(
        f"SELECT volunteer_id, status FROM signups WHERE event_id = {ev['id']}").split())
    assert rows == {str(w.vols[0]): "cancelled", str(w.vols[1]): "confirmed",
                    str(w.vols[2]): "confirmed", str(w.vols[3]): "waitlisted"}
    # A coordinator cancels v2: v3 moves up.
    assert w.co_a.status("DELETE", f"{path}/{w.vols[2]}") == 204
    got = w.co_a.ok("GET", f"/events/{ev['id']}")
    assert (got["confirmed"], got["waitlisted"]) == (2, 0)
    assert one(pg, f"SELECT status FROM signups WHERE event_id = {ev['id']} AND volunteer_id = {w.vols[3]}") == "confirmed"
    # v0 signs up again: a new sign-up at the end of the queue (201), waitlisted now.
    s = v0.ok("POST", path, {}, want=201)
    assert s["status"] == "waitlisted"
    # A larger capacity promotes the waitlist.
    w.co_a.ok("PATCH", f"/events/{ev['id']}", {"capacity": 3})
    assert one(pg, f"SELECT status FROM signups WHERE event_id = {ev['id']} AND volunteer_id = {w.vols[0]}") == "confirmed"
    # Every write left its audit row.
    actions = pg.sql(f"SELECT action FROM audit_log WHERE entity = 'signup' AND entity_id = {ev['id']} ORDER BY id").split()
    assert actions == ["signup", "signup", "signup", "signup", "cancel", "promote", "cancel", "promote",
                       "signup", "promote"], actions


def test_idempotent_create(w, pg):
    start = now() + dt.timedelta(days=3)
    body = {"team_id": w.ta, "org_unit_id": w.a, "title": f"幂等-{w.sfx}", "starts_at": iso(start),
            "ends_at": iso(start + dt.timedelta(hours=1))}
    key = {"Idempotency-Key": "act-" + w.sfx}
    a1 = w.co_a.ok("POST", "/activities", body, headers=key, want=201)
    a2 = w.co_a.ok("POST", "/activities", body, headers=key, want=201)
    assert a1["id"] == a2["id"]
    assert one(pg, f"SELECT count(*) FROM activities WHERE title = '幂等-{w.sfx}'") == "1"
    r = w.co_a.req("POST", "/activities", dict(body, title="other"), headers=key)
    assert r.status_code == 422, r.text
    assert one(pg, f"SELECT count(*) FROM audit_log WHERE entity = 'activity' AND entity_id = {a1['id']}") == "1"


def test_fifty_parallel_signups_capacity_ten(w, pg):
    ev = event_of(w, one_off(w, capacity=10))
    vols = [int(v) for v in pg.sql(
        "INSERT INTO volunteers (name, phone, org_unit_id) "
        f"SELECT '并发' || i, '138' || lpad((floor(random() * 1e8))::bigint::text, 8, '0'), {w.a} "
        "FROM generate_series(1, 50) i RETURNING id").split()[:50]]
    assert len(vols) == 50

    def sign(v):
        r = w.co_a.req("POST", f"/events/{ev['id']}/signups", {"volunteer_id": v}, timeout=30)
        return r.status_code, (r.json().get("status") if r.status_code < 300 else r.text[:200])

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(sign, vols, timeout=120))
    codes = [c for c, _ in results]
    assert codes == [201] * 50, results
    statuses = [s for _, s in results]
    assert statuses.count("confirmed") == 10 and statuses.count("waitlisted") == 40, statuses
    got = w.co_a.ok("GET", f"/events/{ev['id']}")
    assert (got["confirmed"], got["waitlisted"]) == (10, 40)
    assert one(pg, f"SELECT count(*) FILTER (WHERE status = 'confirmed') || '/' || count(*) "
                   f"FROM signups WHERE event_id = {ev['id']}") == "10/50"
    # Confirmed are exactly the ten earliest sign-ups; the first waitlisted moves up on a cancel.
    assert one(pg, f"SELECT bool_and(status = 'confirmed') FROM (SELECT status FROM signups WHERE event_id = {ev['id']} "
                   "ORDER BY created_at, volunteer_id LIMIT 10) t") == "t"
    first_wait = one(pg, f"SELECT volunteer_id FROM signups WHERE event_id = {ev['id']} AND status = 'waitlisted' "
                         "ORDER BY created_at, volunteer_id LIMIT 1")
    leaving = one(pg, f"SELECT volunteer_id FROM signups WHERE event_id = {ev['id']} AND status = 'confirmed' LIMIT 1")
    assert w.co_a.status("DELETE", f"/events/{ev['id']}/signups/{leaving}") == 204
    assert one(pg, f"SELECT status FROM signups WHERE event_id = {ev['id']} AND volunteer_id = {first_wait}") == "confirmed"
    got = w.co_a.ok("GET", f"/events/{ev['id']}")
    assert (got["confirmed"], got["waitlisted"]) == (10, 39)


def test_checkin_url_under_public_url(w, pg, make_server):
    """With VOLUNTEERD_PUBLIC_URL the link is built on it, whatever Host the request came
    with: what an operator behind a proxy sets."""
    ev = event_of(w, one_off(w))
    srv = make_server(pg.url(), tls=False, env={"VOLUNTEERD_PUBLIC_URL": "https://vol.example.org"})
    srv.start()
    got = Api(srv, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).ok("GET", f"/events/{ev['id']}")
    assert re.fullmatch(r"https://vol\.example\.org/checkin/[A-Za-z0-9_-]{32}", got["checkin_url"]), got

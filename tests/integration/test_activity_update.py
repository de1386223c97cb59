"""PATCH /api/v1/activities/{id} (sql/0031_activity_update.sql): each field changes and shows
where the activity shows; the checks of POST /activities (422 naming the field); what cannot
change; who may; the audit row; a policy switch governs the check-ins and check-outs after it,
also of an attendance open across it; Idempotency-Key.

The module builds its own tree over HTTP as the system administrator (random codes: the
database is shared with other test files):

    D (district)                                 D2 (another district)
    ├── S1 (subdistrict)  admin: adminS1         └── E (community)  coordinator: coordE
    │   └── A (community) coordinator: coordA
    │       team T (owned by A)  coordinator: coordT (a grant on the team)
    │       volunteer V (own login)
    └── S2 (subdistrict)  admin: adminS2
"""
import datetime as dt
import re
import secrets
import types

import pytest
import requests

import conftest
import helpers
from apiclient import Api, expect, make_staff, make_unit

PW = "Act-upd-pass-" + secrets.token_hex(3)
SH = dt.timezone(dt.timedelta(hours=8))


def now():
    return dt.datetime.now(SH).replace(microsecond=0)


def phone():
    return "135" + "".join(secrets.choice("0123456789") for _ in range(8))


@pytest.fixture(scope="module")
def w(server, pg):
    sfx = secrets.token_hex(4)
    x = types.SimpleNamespace(sfx=sfx, pg=pg)
    sa = x.sa = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, name):
        return make_unit(sa, parent, kind, f"au-{name}-{sfx}", name)

    def staff(name, grant):
        return make_staff(sa, f"au-{name}-{sfx}", PW, grant)

    x.D = unit(None, "district", "D")
    x.S1 = unit(x.D, "subdistrict", "S1")
    x.S2 = unit(x.D, "subdistrict", "S2")
    x.A = unit(x.S1, "community", "A")
    x.E = unit(unit(None, "district", "D2"), "community", "E")
    x.T = sa.ok("POST", "/teams", {"name": "编辑队", "org_unit_id": x.A}, want=201)["id"]
    x.adminS1 = staff("adminS1", {"role": "admin", "org_unit_id": x.S1})
    x.adminS2 = staff("adminS2", {"role": "admin", "org_unit_id": x.S2})
    x.coordA = staff("coordA", {"role": "coordinator", "org_unit_id": x.A})
    x.coordT = staff("coordT", {"role": "coordinator", "team_id": x.T})
    x.coordE = staff("coordE", {"role": "coordinator", "org_unit_id": x.E})
    v = sa.ok("POST", "/volunteers", {"name": "编辑志愿者", "phone": phone(), "org_unit_id": x.A,
                                      "password": PW}, want=201)
    x.vol_login = v["phone"]
    x.vol = Api(server, v["phone"], PW)
    x.n = 0
    return x


def policy(w, **fields):
    w.n += 1
    return w.adminS1.ok("POST", "/hour-policies", {"name": f"编辑规则-{w.sfx}-{w.n}", "org_unit_id": w.S1,
                                                   **fields}, want=201)


def activity(w, started=False, **extra):
    """A one-off activity of team T at A, tomorrow (or started an hour ago, ending in two); it and
    its event."""
    t = now()
    start = t - dt.timedelta(hours=1) if started else t + dt.timedelta(days=1)
    body = {"team_id": w.T, "org_unit_id": w.A, "title": "路口劝导", "category": "交通",
            "location": "东门路口", "capacity": 20, "starts_at": start.isoformat(),
            "ends_at": (start + dt.timedelta(hours=3)).isoformat(), **extra}
    a = w.coordA.ok("POST", "/activities", body, want=201)
    ev = w.coordA.ok("GET", f"/activities/{a['id']}/events")["items"][0]
    return a, ev


def volunteer(w):
    return w.sa.ok("POST", "/volunteers", {"name": "编辑", "phone": phone(), "org_unit_id": w.A},
                   want=201)["id"]


def signed_in(w, ev, v):
    """v signed up (so that only the policy can make an entry pending) and checked in."""
    w.coordA.ok("POST", f"/events/{ev['id']}/signups", {"volunteer_id": v}, want=201)
    return w.coordA.ok("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v}, want=201)


def backdate(w, att, minutes):
    """The attendance began `minutes` ago (the event started an hour ago, so all of it counts)."""
    w.pg.sql(f"UPDATE attendances SET check_in_at = now() - interval '{minutes} minutes' WHERE id = {att['id']}")


# --- each field -------------------------------------------------------------------------------

def test_text_fields_change_and_show_on_the_event(w):
    a, ev = activity(w)
    got = w.coordA.ok("PATCH", f"/activities/{a['id']}",
                      {"title": "文明交通劝导", "location": "西门路口", "category": "文明"})
    assert (got["title"], got["location"], got["category"]) == ("文明交通劝导", "西门路口", "文明")
    assert got == w.coordA.ok("GET", f"/activities/{a['id']}")  # the answer is GET's shape
    for api in (w.coordA, w.vol):
        e = api.ok("GET", f"/events/{ev['id']}")
        assert (e["title"], e["location"], e["category"]) == ("文明交通劝导", "西门路口", "文明")
    # the unnamed fields are untouched; null clears category and location
    assert (got["capacity"], got["policy_id"], got["team_id"], got["org_unit_id"]) == (20, 1, w.T, w.A)
    got = w.coordA.ok("PATCH", f"/activities/{a['id']}", {"category": None, "location": None})
    assert got["category"] is None and got["location"] is None and got["title"] == "文明交通劝导"
    assert w.vol.ok("GET", f"/events/{ev['id']}")["location"] is None


def browser(w, login):
    """A cookie session of `login`, as the pages use."""
    s = requests.Session()
    r = s.post(w.sa.server.url("/api/v1/session"), json={"login": login, "password": PW}, timeout=10)
    assert r.status_code == 201, r.text
    return s


def test_title_shows_on_the_console_pages(w):
    a, ev = activity(w)
    w.coordA.ok("PATCH", f"/activities/{a['id']}", {"title": f"新标题-{w.sfx}"})
    s = browser(w, f"au-coordA-{w.sfx}")
    for path in (f"/console/events/{ev['id']}", f"/console/events/{ev['id']}/poster"):
        r = s.get(w.sa.server.url(path), timeout=30, allow_redirects=False)
        assert r.status_code == 200, (path, r.status_code)
        assert f"新标题-{w.sfx}" in r.text and "路口劝导" not in r.text, path


def test_capacity_is_the_default_and_events_keep_theirs(w):
    a, ev = activity(w)
    got = w.coordA.ok("PATCH", f"/activities/{a['id']}", {"capacity": 5})
    assert got["capacity"] == 5
    assert w.coordA.ok("GET", f"/events/{ev['id']}")["capacity"] == 20  # the event keeps its own
    assert w.coordA.ok("PATCH", f"/activities/{a['id']}", {"capacity": None})["capacity"] is None
    assert w.coordA.ok("GET", f"/events/{ev['id']}")["capacity"] == 20
    # PATCH /events/{id} is what changes an event's
    assert w.coordA.ok("PATCH", f"/events/{ev['id']}", {"capacity": 7})["capacity"] == 7


def test_policy_id_usable_policies_only(w):
    mine = policy(w)
    w.adminS2.ok("POST", "/hour-policies", {"name": f"别处-{w.sfx}", "org_unit_id": w.S2}, want=201)
    other = w.adminS2.ok("GET", f"/hour-policies?org_unit_id={w.S2}")["items"][-1]
    a, _ = activity(w)
    assert w.coordA.ok("PATCH", f"/activities/{a['id']}", {"policy_id": mine["id"]})["policy_id"] == mine["id"]
    for bad in (other["id"], 999999999):
        expect(w.coordA.req("PATCH", f"/activities/{a['id']}", {"policy_id": bad}), 422, "policy_id")
    assert w.coordA.ok("GET", f"/activities/{a['id']}")["policy_id"] == mine["id"]
    assert w.coordA.ok("PATCH", f"/activities/{a['id']}", {"policy_id": 1})["policy_id"] == 1


def test_static_code_policy_shows_at_once(w):
    a, ev = activity(w)
    assert "/checkin/" in w.coordA.ok("GET", f"/events/{ev['id']}")["checkin_url"]
    fixed = policy(w, static_code=True)
    w.coordA.ok("PATCH", f"/activities/{a['id']}", {"policy_id": fixed["id"]})
    assert w.coordA.ok("GET", f"/events/{ev['id']}")["checkin_url"].endswith(f"/checkin/{ev['id']}")


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": None}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": 5}, "title"),
    ({"category": "c" * 51}, "category"),
    ({"location": "l" * 201}, "location"),
    ({"location": "a\u0001b"}, "location"),
    ({"capacity": 0}, "capacity"),
    ({"capacity": 100001}, "capacity"),
    ({"capacity": "5"}, "capacity"),
    ({"capacity": 1.5}, "capacity"),
    ({"policy_id": None}, "policy_id"),
    ({"policy_id": 0}, "policy_id"),
    ({"policy_id": "1"}, "policy_id"),
    ({"team_id": 1}, "team_id"),
    ({"org_unit_id": 1}, "org_unit_id"),
    ({"recurrence": None}, "recurrence"),
    ({"recurrence": {"freq": "weekly"}}, "recurrence"),
    ({"starts_at": "2030-01-01T08:00:00+08:00"}, "starts_at"),
    ({"ends_at": "2030-01-01T08:00:00+08:00"}, "ends_at"),
    ({"title": "ok", "colour": "red"}, "colour"),
    ({}, "title"),
])
def test_422_names_the_field_and_changes_nothing(w, body, field):
    a, _ = activity(w)
    expect(w.coordA.req("PATCH", f"/activities/{a['id']}", body), 422, field)
    assert w.coordA.ok("GET", f"/activities/{a['id']}") == a


def test_limits_are_inclusive(w):
    a, _ = activity(w)
    got = w.coordA.ok("PATCH", f"/activities/{a['id']}",
                      {"title": "题" * 200, "category": "c" * 50, "location": "址" * 200, "capacity": 100000})
    assert len(got["title"]) == 200 and got["capacity"] == 100000


def test_malformed_body_is_400(w):
    a, _ = activity(w)
    r = w.coordA.req("PATCH", f"/activities/{a['id']}", data=b"{not json",
                     headers={"Content-Type": "application/json"})
    expect(r, 400)


def test_unknown_activity_is_404(w):
    expect(w.coordA.req("PATCH", "/activities/999999999", {"title": "x"}), 404)


# --- who may ----------------------------------------------------------------------------------

def test_scope(w):
    a, _ = activity(w)
    expect(w.coordE.req("PATCH", f"/activities/{a['id']}", {"title": "别区"}), 404)
    expect(w.adminS2.req("PATCH", f"/activities/{a['id']}", {"title": "邻街道"}), 404)
    expect(w.vol.req("PATCH", f"/activities/{a['id']}", {"title": "志愿者"}), 403)
    assert w.coordA.ok("GET", f"/activities/{a['id']}")["title"] == "路口劝导"
    assert w.coordT.ok("PATCH", f"/activities/{a['id']}", {"title": "队长改"})["title"] == "队长改"
    assert w.adminS1.ok("PATCH", f"/activities/{a['id']}", {"title": "街道改"})["title"] == "街道改"
    # the team's coordinator uses the policies it sees (global, and those on its unit's branch)
    assert w.coordT.ok("PATCH", f"/activities/{a['id']}", {"policy_id": policy(w)["id"]})["policy_id"] > 1


def test_anonymous_is_401(w):
    a, _ = activity(w)
    expect(Api(w.sa.server).req("PATCH", f"/activities/{a['id']}", {"title": "x"}), 401)


# --- audit ------------------------------------------------------------------------------------

def test_audit_row_has_the_changed_fields_only(w):
    a, _ = activity(w)
    p = policy(w)
    w.coordA.ok("PATCH", f"/activities/{a['id']}",
                {"title": "审计后", "location": "东门路口", "policy_id": p["id"], "capacity": None})
    rows = w.sa.ok("GET", f"/audit?entity=activity&entity_id={a['id']}")["items"]
    assert [r["action"] for r in rows] == ["update", "create"]
    assert rows[0]["old"] == {"title": "路口劝导", "policy_id": 1, "capacity": 20}
    assert rows[0]["new"] == {"title": "审计后", "policy_id": p["id"], "capacity": None}
    assert rows[0]["account_id"] == w.coordA.account["id"]
    # a PATCH that changes nothing answers 200 and writes no row
    w.coordA.ok("PATCH", f"/activities/{a['id']}", {"title": "审计后"})
    assert len(w.sa.ok("GET", f"/audit?entity=activity&entity_id={a['id']}")["items"]) == 2


# --- the policy switch --------------------------------------------------------------------------

def test_checkins_after_a_switch_follow_the_new_policy(w):
    manual = policy(w, approval_mode="manual")
    a, ev = activity(w, started=True)
    v1, v2 = volunteer(w), volunteer(w)
    signed_in(w, ev, v1)
    assert w.coordA.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v1})["entry"]["status"] == "approved"
    w.coordA.ok("PATCH", f"/activities/{a['id']}", {"policy_id": manual["id"]})
    signed_in(w, ev, v2)
    out = w.coordA.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v2})
    assert out["entry"]["status"] == "pending" and out["entry"]["flags"] == [], out
    # the entry written before the switch keeps its status and policy
    first = w.coordA.ok("GET", f"/volunteers/{v1}/hours")["entries"]
    assert [e["status"] for e in first] == ["approved"]
    pol = w.pg.sql(f"SELECT policy_id FROM hour_entries WHERE volunteer_id IN ({v1}, {v2}) ORDER BY id").split()
    assert pol == ["1", str(manual["id"])]


def test_an_attendance_open_across_a_switch_is_credited_under_the_policy_at_check_out(w):
    quarter = policy(w, rounding_minutes=15, approval_mode="manual")
    a, ev = activity(w, started=True)
    v = volunteer(w)
    att = signed_in(w, ev, v)
    backdate(w, att, 47)
    w.coordA.ok("PATCH", f"/activities/{a['id']}", {"policy_id": quarter["id"]})
    out = w.coordA.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v})
    assert out["credited_minutes"] == 45 and out["entry"]["status"] == "pending", out
    # and back: the default policy (1-minute unit, auto approval) for the next one
    w.coordA.ok("PATCH", f"/activities/{a['id']}", {"policy_id": 1})
    v2 = volunteer(w)
    att2 = signed_in(w, ev, v2)
    backdate(w, att2, 47)
    out2 = w.coordA.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": v2})
    assert out2["credited_minutes"] == 47 and out2["entry"]["status"] == "approved", out2
    # the first entry is not rewritten by the second switch
    assert w.coordA.ok("GET", f"/volunteers/{v}/hours")["entries"][0]["minutes"] == 45


def test_an_open_attendance_is_closed_automatically_under_the_new_policy(w):
    """The grace of a forgotten check-out, too, is the policy's at the time it is applied."""
    no_grace = policy(w, checkout_grace_minutes=0, rounding_minutes=15)
    a, ev = activity(w, started=True)
    v = volunteer(w)
    att = signed_in(w, ev, v)
    # the event ran until half an hour ago; the volunteer came 107 minutes ago: 77 minutes
    w.pg.sql(f"UPDATE events SET starts_at = now() - interval '2 hours', ends_at = now() - interval '30 minutes' "
             f"WHERE id = {ev['id']}; UPDATE attendances SET check_in_at = now() - interval '107 minutes' "
             f"WHERE id = {att['id']}")
    entries = f"SELECT count(*) FROM hour_entries WHERE attendance_id = {att['id']}"
    w.pg.sql("SELECT auto_checkout_run()")
    assert w.pg.sql(entries).split() == ["0"]  # the default policy's 2 h of grace are not over
    w.coordA.ok("PATCH", f"/activities/{a['id']}", {"policy_id": no_grace["id"]})

    def closed():  # by this call, or by the server's own minute job if it got there first
        w.pg.sql("SELECT auto_checkout_run()")
        return w.pg.sql(entries).split() == ["1"]

    assert helpers.wait_until(closed, 15)
    (e,) = w.coordA.ok("GET", f"/volunteers/{v}/hours")["entries"]
    assert (e["minutes"], e["status"], e["flags"]) == (75, "pending", ["auto_checkout"]), e


# --- Idempotency-Key --------------------------------------------------------------------------

def test_idempotency_key_replays_the_stored_answer(w):
    a, _ = activity(w)
    key = {"Idempotency-Key": "act-upd-" + w.sfx}
    body = {"title": "幂等一次"}
    first = w.coordA.ok("PATCH", f"/activities/{a['id']}", body, headers=key)
    w.coordA.ok("PATCH", f"/activities/{a['id']}", {"title": "之后又改"})
    again = w.coordA.req("PATCH", f"/activities/{a['id']}", body, headers=key)
    assert again.status_code == 200 and again.json() == first  # the stored answer, not a new write
    assert w.coordA.ok("GET", f"/activities/{a['id']}")["title"] == "之后又改"
    expect(w.coordA.req("PATCH", f"/activities/{a['id']}", {"title": "别的"}, headers=key), 422)
    rows = w.sa.ok("GET", f"/audit?entity=activity&entity_id={a['id']}")["items"]
    assert [r["action"] for r in rows] == ["update", "update", "create"]


# --- the console's edit form (/console/activities/{id}) ----------------------------------------

def page_token(html):
    return re.findall(r'name="_t" value="([^"]+)"', html)[0]


def post_form(w, s, path, data):
    origin = w.sa.server.url("").rstrip("/")
    return s.post(w.sa.server.url(path), data=data, headers={"Origin": origin}, timeout=30,
                  allow_redirects=False)


def get_page(w, s, path):
    r = s.get(w.sa.server.url(path), timeout=30, allow_redirects=False)
    if r.status_code == 200:
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert len(r.content) < 30 * 1024
        assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)", r.text) == []
    return r


def test_console_form_edits_title_place_and_policy(w):
    a, ev = activity(w)
    manual = policy(w, approval_mode="manual")
    s = browser(w, f"au-coordA-{w.sfx}")
    roster = get_page(w, s, f"/console/events/{ev['id']}")
    assert f'href="/console/activities/{a["id"]}"' in roster.text
    path = f"/console/activities/{a['id']}"
    r = get_page(w, s, path)
    assert r.status_code == 200, r.text[:300]
    assert 'value="路口劝导"' in r.text and 'value="东门路口"' in r.text
    assert '<option value="1" selected>' in r.text and f'<option value="{manual["id"]}">' in r.text
    r = post_form(w, s, path, {"_t": page_token(r.text), "action": "activity", "title": "改后的标题",
                               "location": "", "policy": str(manual["id"])})
    assert r.status_code == 303 and r.headers["Location"] == path + "?done=saved", r.text[:300]
    got = w.coordA.ok("GET", f"/activities/{a['id']}")
    assert (got["title"], got["location"], got["policy_id"]) == ("改后的标题", None, manual["id"])
    assert got["category"] == "交通" and got["capacity"] == 20  # not on the form: untouched
    page = get_page(w, s, r.headers["Location"]).text
    assert 'role="status"' in page and f'<option value="{manual["id"]}" selected>' in page
    en = get_page(w, s, path + "?lang=en").text
    assert "Edit activity" in en and "Hours already recorded keep theirs" in en


def test_console_form_refusals(w):
    a, ev = activity(w)
    path = f"/console/activities/{a['id']}"
    s = browser(w, f"au-coordA-{w.sfx}")
    html = get_page(w, s, path).text
    # the API's own check, shown on the form with the typed value kept
    r = post_form(w, s, path, {"_t": page_token(html), "action": "activity", "title": "  ",
                               "location": "新地点", "policy": "1"})
    assert r.status_code == 422 and 'id="f-title"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="新地点"' in r.text
    # no token, or a token of another page: 403, nothing written
    r = post_form(w, s, path, {"action": "activity", "title": "无令牌", "policy": "1"})
    assert r.status_code == 403
    roster = get_page(w, s, f"/console/events/{ev['id']}").text
    r = post_form(w, s, path, {"_t": page_token(roster), "action": "activity", "title": "别的令牌",
                               "policy": "1"})
    assert r.status_code == 403
    assert w.coordA.ok("GET", f"/activities/{a['id']}")["title"] == "路口劝导"
    # a policy of another area: the API's 422 on policy_id
    other = w.adminS2.ok("POST", "/hour-policies", {"name": f"别处表单-{w.sfx}", "org_unit_id": w.S2}, want=201)
    r = post_form(w, s, path, {"_t": page_token(get_page(w, s, path).text), "action": "activity",
                               "title": "路口劝导", "policy": str(other["id"])})
    assert r.status_code == 422 and 'id="e-policy"' in r.text


def test_console_form_scope(w):
    a, _ = activity(w)
    path = f"/console/activities/{a['id']}"
    assert get_page(w, browser(w, f"au-coordE-{w.sfx}"), path).status_code == 404
    assert get_page(w, browser(w, f"au-coordT-{w.sfx}"), path).status_code == 200
    assert get_page(w, browser(w, w.vol_login), path).status_code == 403
    r = requests.get(w.sa.server.url(path), timeout=30, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].startswith("/me?next=")

"""Hour policies through the API (GET/POST /hour-policies, GET/PATCH /hour-policies/{id}) and
policy_id on POST /activities: fields and their 422s, who owns, sees and changes a policy,
the audit trail, and that the rules of a chosen policy are the ones applied (manual approval
gives pending entries; a static-code policy accepts its fixed code; a change applies from then
on and never rewrites the ledger).

The module builds its own tree over HTTP as the system administrator (random codes: the
database is shared with other test files):

    D (district)
    ├── S1 (subdistrict)   admin: adminS1
    │   └── A (community)  coordinator: coordA; team T (owned by A); volunteer V (own login)
    └── S2 (subdistrict)   admin: adminS2
        └── B (community)  coordinator: coordB
"""
import datetime as dt
import secrets

import pytest

import conftest
from apiclient import Api, expect

PW = "Pol-test-pass-" + secrets.token_hex(3)
SH = dt.timezone(dt.timedelta(hours=8))


def now():
    return dt.datetime.now(SH).replace(microsecond=0)


def phone():
    return "136" + "".join(secrets.choice("0123456789") for _ in range(8))


class World:
    pass


@pytest.fixture(scope="module")
def w(server, pg):
    x = World()
    x.sfx = sfx = secrets.token_hex(4)
    x.pg = pg
    sa = x.sa = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, name):
        return sa.ok("POST", "/org-units", {"parent_id": parent, "kind": kind,
                                            "code": f"pol-{name}-{sfx}", "name": name}, want=201)["id"]

    def staff(name, grant):
        login = f"pol-{name}-{sfx}"
        acc = sa.ok("POST", "/accounts", {"login": login, "password": PW}, want=201)
        sa.ok("POST", f"/accounts/{acc['id']}/roles", grant, want=201)
        return Api(server, login, PW)

    x.D = unit(None, "district", "D")
    x.S1 = unit(x.D, "subdistrict", "S1")
    x.S2 = unit(x.D, "subdistrict", "S2")
    x.A = unit(x.S1, "community", "A")
    x.B = unit(x.S2, "community", "B")
    x.T = sa.ok("POST", "/teams", {"name": "政策队", "org_unit_id": x.A}, want=201)["id"]
    x.adminS1 = staff("adminS1", {"role": "admin", "org_unit_id": x.S1})
    x.adminS2 = staff("adminS2", {"role": "admin", "org_unit_id": x.S2})
    x.coordA = staff("coordA", {"role": "coordinator", "org_unit_id": x.A})
    x.coordB = staff("coordB", {"role": "coordinator", "org_unit_id": x.B})
    v = sa.ok("POST", "/volunteers", {"name": "政策志愿者", "phone": phone(), "org_unit_id": x.A,
                                      "password": PW}, want=201)
    x.V = v["id"]
    x.vol = Api(server, v["phone"], PW)
    x.n = 0
    return x


def name(w):
    w.n += 1
    return f"规则-{w.sfx}-{w.n}"


def live_activity(w, api=None, **extra):
    """A one-off activity at A that started an hour ago and ends in two; its event."""
    t = now()
    body = {"team_id": w.T, "org_unit_id": w.A, "title": "路口劝导", "location": "路口",
            "starts_at": (t - dt.timedelta(hours=1)).isoformat(),
            "ends_at": (t + dt.timedelta(hours=2)).isoformat(), **extra}
    a = (api or w.coordA).ok("POST", "/activities", body, want=201)
    ev = (api or w.coordA).ok("GET", f"/activities/{a['id']}/events")["items"][0]
    return a, ev


# --- create, read, list -----------------------------------------------------------------------

def test_create_with_defaults_and_fields(w):
    p = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S1}, want=201)
    assert p["org_unit_id"] == w.S1 and p["org_unit_name"] == "S1" and p["is_default"] is False
    assert (p["rounding_minutes"], p["min_credit_minutes"], p["daily_cap_minutes"]) == (1, 0, None)
    assert (p["checkin_open_before_minutes"], p["checkin_close_after_start_minutes"]) == (30, None)
    assert (p["checkout_grace_minutes"], p["approval_mode"]) == (120, "auto")
    assert p["walk_ins_allowed"] is True and p["static_code"] is False
    full = {"name": name(w), "org_unit_id": w.S1, "rounding_minutes": 15, "min_credit_minutes": 30,
            "daily_cap_minutes": 480, "checkin_open_before_minutes": 10,
            "checkin_close_after_start_minutes": 20, "checkout_grace_minutes": 60,
            "approval_mode": "manual", "walk_ins_allowed": False, "static_code": True}
    q = w.adminS1.ok("POST", "/hour-policies", full, want=201)
    assert {k: q[k] for k in full} == full
    assert w.coordA.ok("GET", f"/hour-policies/{q['id']}") == q
    # the audit trail has the creation, by the admin, with the new values
    rows = w.sa.ok("GET", f"/audit?entity=hour_policy&entity_id={q['id']}")["items"]
    assert [r["action"] for r in rows] == ["create"]
    assert rows[0]["account_id"] == w.adminS1.account["id"] and rows[0]["new"]["rounding_minutes"] == 15


def test_default_policy_is_global_and_listed(w):
    p = w.coordA.ok("GET", "/hour-policies/1")
    assert p["is_default"] and p["org_unit_id"] is None and p["name"] == "default"
    ids = [i["id"] for i in w.coordB.ok("GET", "/hour-policies?limit=500")["items"]]
    assert 1 in ids


@pytest.mark.parametrize("body,field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "n", "rounding_minutes": 0}, "rounding_minutes"),
    ({"name": "n", "rounding_minutes": 61}, "rounding_minutes"),
    ({"name": "n", "rounding_minutes": 7}, "rounding_minutes"),
    ({"name": "n", "rounding_minutes": "5"}, "rounding_minutes"),
    ({"name": "n", "rounding_minutes": None}, "rounding_minutes"),
    ({"name": "n", "min_credit_minutes": -1}, "min_credit_minutes"),
    ({"name": "n", "min_credit_minutes": 1441}, "min_credit_minutes"),
    ({"name": "n", "daily_cap_minutes": 0}, "daily_cap_minutes"),
    ({"name": "n", "daily_cap_minutes": 1441}, "daily_cap_minutes"),
    ({"name": "n", "checkin_open_before_minutes": -5}, "checkin_open_before_minutes"),
    ({"name": "n", "checkin_open_before_minutes": 1441}, "checkin_open_before_minutes"),
    ({"name": "n", "checkin_close_after_start_minutes": 10081}, "checkin_close_after_start_minutes"),
    ({"name": "n", "checkout_grace_minutes": -1}, "checkout_grace_minutes"),
    ({"name": "n", "checkout_grace_minutes": 24 * 60 + 1}, "checkout_grace_minutes"),
    ({"name": "n", "approval_mode": "sometimes"}, "approval_mode"),
    ({"name": "n", "walk_ins_allowed": "yes"}, "walk_ins_allowed"),
    ({"name": "n", "static_code": 1}, "static_code"),
    ({"name": "n", "org_unit_id": "S1"}, "org_unit_id"),
    ({"name": "n", "colour": "red"}, "colour"),
])
def test_create_422_names_the_field(w, body, field):
    b = dict(body)
    if "org_unit_id" not in b:
        b["org_unit_id"] = w.S1
    expect(w.adminS1.req("POST", "/hour-policies", b), 422, field)


def test_patch_422_names_the_field(w):
    p = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S1}, want=201)
    for body, field in (({"rounding_minutes": 45}, "rounding_minutes"), ({"name": None}, "name"),
                        ({"name": "   "}, "name"), ({"approval_mode": None}, "approval_mode"),
                        ({"org_unit_id": w.S2}, "org_unit_id"), ({}, None),
                        ({"checkout_grace_minutes": 100000}, "checkout_grace_minutes")):
        expect(w.adminS1.req("PATCH", f"/hour-policies/{p['id']}", body), 422, field)
    assert w.adminS1.ok("GET", f"/hour-policies/{p['id']}") == p  # nothing changed


def test_name_unique_per_owner(w):
    n = name(w)
    w.adminS1.ok("POST", "/hour-policies", {"name": n, "org_unit_id": w.S1}, want=201)
    expect(w.adminS1.req("POST", "/hour-policies", {"name": n, "org_unit_id": w.S1}), 409, "name")
    # another owner may use the same name
    w.adminS2.ok("POST", "/hour-policies", {"name": n, "org_unit_id": w.S2}, want=201)
    other = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S1}, want=201)
    expect(w.adminS1.req("PATCH", f"/hour-policies/{other['id']}", {"name": n}), 409, "name")


def test_scope(w):
    p1 = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S1}, want=201)
    pa = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.A}, want=201)
    p2 = w.adminS2.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S2}, want=201)
    # reading: the owner's branch (ancestors and descendants of one's grants); others 404
    assert w.coordA.status("GET", f"/hour-policies/{p1['id']}") == 200   # a policy from above
    assert w.coordA.status("GET", f"/hour-policies/{p2['id']}") == 404
    assert w.coordB.status("GET", f"/hour-policies/{p1['id']}") == 404
    assert w.adminS1.status("GET", f"/hour-policies/{pa['id']}") == 200  # a policy from below
    assert w.sa.status("GET", f"/hour-policies/{p2['id']}") == 200
    expect(w.vol.req("GET", f"/hour-policies/{p1['id']}"), 403)
    expect(w.vol.req("GET", "/hour-policies"), 403)
    expect(w.coordA.req("GET", "/hour-policies/999999999"), 404)
    # creating: admin over the owner unit; global: the system administrator only
    expect(w.coordA.req("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.A}), 403)
    expect(w.adminS1.req("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S2}), 404)
    expect(w.adminS1.req("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.D}), 404)
    expect(w.adminS1.req("POST", "/hour-policies", {"name": name(w)}), 403)
    expect(w.vol.req("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.A}), 403)
    expect(w.adminS1.req("POST", "/hour-policies", {"name": name(w), "org_unit_id": 999999999}), 404)
    g = w.sa.ok("POST", "/hour-policies", {"name": name(w)}, want=201)
    assert g["org_unit_id"] is None
    # changing: the same rule; the default policy and other global ones: system admin only
    expect(w.coordA.req("PATCH", f"/hour-policies/{p1['id']}", {"min_credit_minutes": 5}), 403)
    expect(w.adminS2.req("PATCH", f"/hour-policies/{p1['id']}", {"min_credit_minutes": 5}), 404)
    expect(w.adminS1.req("PATCH", "/hour-policies/1", {"min_credit_minutes": 5}), 403)
    expect(w.adminS1.req("PATCH", f"/hour-policies/{g['id']}", {"min_credit_minutes": 5}), 403)
    assert w.adminS1.ok("PATCH", f"/hour-policies/{pa['id']}", {"min_credit_minutes": 5})["min_credit_minutes"] == 5
    assert w.sa.ok("PATCH", f"/hour-policies/{g['id']}", {"min_credit_minutes": 5})["min_credit_minutes"] == 5
    assert w.sa.ok("GET", "/hour-policies/1")["min_credit_minutes"] == 0


def test_list_visible_paged_and_filtered(w):
    p1 = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S1}, want=201)
    p2 = w.adminS2.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S2}, want=201)
    ids = [i["id"] for i in w.coordA.ok("GET", "/hour-policies?limit=500")["items"]]
    assert 1 in ids and p1["id"] in ids and p2["id"] not in ids
    assert ids == sorted(ids)
    # pages of one: the same ids, in order, each once
    seen, cursor = [], None
    for _ in range(len(ids) + 2):
        page = w.coordA.ok("GET", "/hour-policies?limit=1" + (f"&cursor={cursor}" if cursor else ""))
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    # usable at B: the global ones and S2's, not S1's (the system administrator sees all)
    at_b = [i["id"] for i in w.sa.ok("GET", f"/hour-policies?org_unit_id={w.B}&limit=500")["items"]]
    assert 1 in at_b and p2["id"] in at_b and p1["id"] not in at_b
    expect(w.coordA.req("GET", "/hour-policies?limit=0"), 422, "limit")
    expect(w.coordA.req("GET", "/hour-policies?cursor=abc"), 422, "cursor")
    expect(w.coordA.req("GET", "/hour-policies?org_unit_id=x"), 422, "org_unit_id")


def test_patch_changes_and_audits(w):
    p = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S1}, want=201)
    q = w.adminS1.ok("PATCH", f"/hour-policies/{p['id']}",
                     {"approval_mode": "manual", "daily_cap_minutes": 240, "rounding_minutes": 20})
    assert (q["approval_mode"], q["daily_cap_minutes"], q["rounding_minutes"]) == ("manual", 240, 20)
    assert q["name"] == p["name"] and q["org_unit_id"] == w.S1
    q = w.adminS1.ok("PATCH", f"/hour-policies/{p['id']}", {"daily_cap_minutes": None})
    assert q["daily_cap_minutes"] is None and q["approval_mode"] == "manual"
    rows = w.sa.ok("GET", f"/audit?entity=hour_policy&entity_id={p['id']}")["items"]
    assert [r["action"] for r in rows] == ["update", "update", "create"]
    assert rows[1]["old"]["approval_mode"] == "auto" and rows[1]["new"]["approval_mode"] == "manual"
    assert rows[0]["old"]["daily_cap_minutes"] == 240 and rows[0]["new"]["daily_cap_minutes"] is None


# --- policy_id on activities --------------------------------------------------------------------

def test_activity_policy_id(w):
    p1 = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S1}, want=201)
    pa = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.A}, want=201)
    p2 = w.adminS2.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S2}, want=201)
    a, _ = live_activity(w)
    assert a["policy_id"] == 1  # the default
    a, _ = live_activity(w, policy_id=p1["id"])
    assert a["policy_id"] == p1["id"]
    assert w.coordA.ok("GET", f"/activities/{a['id']}")["policy_id"] == p1["id"]
    assert live_activity(w, policy_id=pa["id"])[0]["policy_id"] == pa["id"]
    for bad in (p2["id"], 999999999, "1", 0, -3):
        expect(w.coordA.req("POST", "/activities", {
            "team_id": w.T, "org_unit_id": w.A, "title": "t", "starts_at": now().isoformat(),
            "ends_at": (now() + dt.timedelta(hours=1)).isoformat(), "policy_id": bad}), 422, "policy_id")
    # a policy of A is not usable by an activity at S1 (above its owner), even by the admin
    t = now() + dt.timedelta(days=1)
    expect(w.adminS1.req("POST", "/activities", {
        "team_id": w.T, "org_unit_id": w.S1, "title": "t", "starts_at": t.isoformat(),
        "ends_at": (t + dt.timedelta(hours=1)).isoformat(), "policy_id": pa["id"]}), 422, "policy_id")


def test_manual_policy_gives_pending_and_a_change_applies_from_then_on(w):
    p = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.S1,
                                                "approval_mode": "manual"}, want=201)
    _, ev = live_activity(w, policy_id=p["id"])
    vols = [w.sa.ok("POST", "/volunteers", {"name": "审核", "phone": phone(), "org_unit_id": w.A},
                    want=201)["id"] for _ in range(2)]
    for v in vols:  # signed up, so that nothing but the policy makes an entry pending
        w.coordA.ok("POST", f"/events/{ev['id']}/signups", {"volunteer_id": v}, want=201)
        w.coordA.ok("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": v}, want=201)
    out = w.coordA.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": vols[0]}, want=200)
    assert out["entry"]["status"] == "pending", out
    # the same kind of check-out on the default (auto) policy is approved
    _, ev1 = live_activity(w)
    v = w.sa.ok("POST", "/volunteers", {"name": "自动", "phone": phone(), "org_unit_id": w.A}, want=201)["id"]
    w.coordA.ok("POST", f"/events/{ev1['id']}/signups", {"volunteer_id": v}, want=201)
    w.coordA.ok("POST", f"/events/{ev1['id']}/check-ins", {"volunteer_id": v}, want=201)
    assert w.coordA.ok("POST", f"/events/{ev1['id']}/check-outs", {"volunteer_id": v})["entry"]["status"] == "approved"
    # switch to auto: the next check-out is approved, the earlier entry stays pending
    w.adminS1.ok("PATCH", f"/hour-policies/{p['id']}", {"approval_mode": "auto"})
    out2 = w.coordA.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": vols[1]}, want=200)
    assert out2["entry"]["status"] == "approved", out2
    hours = w.coordA.ok("GET", f"/volunteers/{vols[0]}/hours")["entries"]
    assert [h["status"] for h in hours] == ["pending"]


def test_static_code_policy_accepts_its_fixed_code(w):
    p = w.adminS1.ok("POST", "/hour-policies", {"name": name(w), "org_unit_id": w.A,
                                                "static_code": True}, want=201)
    _, ev = live_activity(w, policy_id=p["id"])
    code = w.coordA.ok("GET", f"/events/{ev['id']}")["checkin_code"]
    stored = w.pg.sql(f"SELECT checkin_code FROM events WHERE id = {ev['id']}").strip().splitlines()[0]
    assert code == stored
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    expect(w.vol.req("POST", f"/events/{ev['id']}/check-ins", {"code": wrong}), 403, "code")
    att = w.vol.ok("POST", f"/events/{ev['id']}/check-ins", {"code": code}, want=201)
    assert att["method"] in ("self", "walk_in") and att["volunteer_id"] == w.V, att
    out = w.vol.ok("POST", f"/events/{ev['id']}/check-outs", {"code": code}, want=200)
    assert out["check_out_at"] is not None
    # the rotating default refuses that same fixed code once the policy no longer fixes it
    w.adminS1.ok("PATCH", f"/hour-policies/{p['id']}", {"static_code": False})
    expect(w.vol.req("POST", f"/events/{ev['id']}/check-ins", {"code": stored}), 403, "code")

"""GET /audit for an administrator with a scoped grant (sql/0035_audit_scope.sql): the rows of
hour policies, certificates and month closes are theirs to read when the object lies in their
scope, as the rows of every other entity are, and stay hidden from an administrator of
another branch.

The module builds its own tree over HTTP as the system administrator (random codes: the
database is shared with other test files):

    D (district)
    ├── S1 (subdistrict)   admin: adminS1
    │   └── A (community)  coordinator: coordA; team T; volunteer V
    └── S2 (subdistrict)   admin: adminS2
"""
import datetime as dt
import secrets
import types

import pytest

import conftest
from apiclient import Api, expect, make_staff, make_unit
from test_volunteers import random_phone

PW = "Audit-scope-" + secrets.token_hex(4)
SH = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def w(server):
    x = types.SimpleNamespace()
    sfx = x.sfx = secrets.token_hex(4)
    sa = x.sa = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, name):
        return make_unit(sa, parent, kind, f"as-{name}-{sfx}", name)

    x.D = unit(None, "district", "D")
    x.S1 = unit(x.D, "subdistrict", "S1")
    x.S2 = unit(x.D, "subdistrict", "S2")
    x.A = unit(x.S1, "community", "A")
    x.adminS1 = make_staff(sa, f"as-admin1-{sfx}", PW, {"role": "admin", "org_unit_id": x.S1})
    x.adminS2 = make_staff(sa, f"as-admin2-{sfx}", PW, {"role": "admin", "org_unit_id": x.S2})
    x.coordA = make_staff(sa, f"as-coord-{sfx}", PW, {"role": "coordinator", "org_unit_id": x.A})
    team = sa.ok("POST", "/teams", {"name": "审计队", "org_unit_id": x.A}, want=201)["id"]
    start = dt.datetime.now(SH).replace(microsecond=0) - dt.timedelta(hours=5)
    act = sa.ok("POST", "/activities", {
        "team_id": team, "org_unit_id": x.A, "title": "审计活动", "category": "文明", "location": "路口",
        "capacity": 10, "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=3)).isoformat()}, want=201)
    x.event = sa.ok("GET", f"/activities/{act['id']}/events")["items"][0]["id"]
    x.V = sa.ok("POST", "/volunteers", {"name": "审计志愿者", "phone": random_phone(), "org_unit_id": x.A},
                want=201)["id"]
    return x


def trail(api, entity, entity_id):
    return [r["action"] for r in api.ok("GET", f"/audit?entity={entity}&entity_id={entity_id}")["items"]]


def listed(api, entity, entity_id):
    """Whether the unfiltered trail (its first page, newest first) holds a row of that object."""
    return any(r["entity"] == entity and r["entity_id"] == entity_id
               for r in api.ok("GET", "/audit?limit=100")["items"])


def test_an_owned_hour_policy(w):
    p = w.adminS1.ok("POST", "/hour-policies", {"name": f"审计规则-{w.sfx}", "org_unit_id": w.S1}, want=201)
    w.adminS1.ok("PATCH", f"/hour-policies/{p['id']}", {"rounding_minutes": 5})
    assert trail(w.adminS1, "hour_policy", p["id"]) == ["update", "create"]
    assert listed(w.adminS1, "hour_policy", p["id"])
    expect(w.adminS2.req("GET", f"/audit?entity=hour_policy&entity_id={p['id']}"), 404)
    assert not listed(w.adminS2, "hour_policy", p["id"])
    assert trail(w.sa, "hour_policy", p["id"]) == ["update", "create"]


def test_a_global_hour_policy_stays_the_system_administrators(w):
    g = w.sa.ok("POST", "/hour-policies", {"name": f"全局审计规则-{w.sfx}"}, want=201)
    assert trail(w.sa, "hour_policy", g["id"]) == ["create"]
    for admin in (w.adminS1, w.adminS2):
        expect(admin.req("GET", f"/audit?entity=hour_policy&entity_id={g['id']}"), 404)
        assert not listed(admin, "hour_policy", g["id"])


def test_a_certificate(w):
    start = dt.datetime.now(SH).replace(microsecond=0) - dt.timedelta(hours=4)
    e = w.coordA.ok("POST", "/hours", {"volunteer_id": w.V, "event_id": w.event, "started_at": start.isoformat(),
                                       "ended_at": (start + dt.timedelta(minutes=60)).isoformat(),
                                       "reason": "补录"}, want=201)
    if e["status"] == "pending":
        w.coordA.ok("POST", f"/hours/{e['id']}/approve", {})
    c = w.coordA.ok("POST", f"/volunteers/{w.V}/certificates", {}, want=201)
    assert trail(w.adminS1, "certificate", c["id"]) == ["issue"]
    assert listed(w.adminS1, "certificate", c["id"])
    expect(w.adminS2.req("GET", f"/audit?entity=certificate&entity_id={c['id']}"), 404)
    assert not listed(w.adminS2, "certificate", c["id"])
    # the coordinator who issued it is no administrator: the trail is not theirs
    expect(w.coordA.req("GET", f"/audit?entity=certificate&entity_id={c['id']}"), 403)


def test_a_month_close(w):
    last = (dt.datetime.now(SH).date().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    c = w.adminS1.ok("POST", f"/reports/monthly/{last}/close?under={w.S1}", {}, want=201)
    assert trail(w.adminS1, "month_close", c["id"]) == ["close"]
    assert listed(w.adminS1, "month_close", c["id"])
    expect(w.adminS2.req("GET", f"/audit?entity=month_close&entity_id={c['id']}"), 404)
    assert not listed(w.adminS2, "month_close", c["id"])
    assert trail(w.sa, "month_close", c["id"]) == ["close"]

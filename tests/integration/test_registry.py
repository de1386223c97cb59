"""Org units (the area tree), teams and team membership: issue 4, DESIGN §4.

One small tree of our own (unique codes, so that other test files sharing the server and the
database cannot collide with it):

    D (district)
    ├── S1 (subdistrict)      admin: sub_admin
    │   ├── C1 (community)    coordinator: c1_coord; team T1 (coordinator: t1_coord), T1a under T1
    │   │   └── G1 (grid)
    │   └── C2 (community)    team T2
    └── S2 (subdistrict)
        └── C3 (community)

Volunteers are inserted with SQL (POST /volunteers belongs to another module).
"""
import secrets

import pytest

import conftest
from apiclient import Api

PW = "Passw0rd-" + secrets.token_hex(4)


def uniq(prefix):
    return f"{prefix}-{secrets.token_hex(5)}"


def field_names(resp):
    return [e.get("field") for e in resp.json().get("errors", [])]


def make_volunteer(pg, unit_id, name="测试志愿者"):
    phone = "139" + "".join(secrets.choice("0123456789") for _ in range(8))
    out = pg.sql(f"INSERT INTO volunteers (name, phone, org_unit_id) "
                 f"VALUES ('{name}', '{phone}', {int(unit_id)}) RETURNING id")
    return int(out.split()[0])


def make_account(admin, grants=(), volunteer_id=None):
    body = {"login": uniq("u").replace("-", "."), "password": PW}
    if volunteer_id is not None:
        body["volunteer_id"] = volunteer_id
    acc = admin.ok("POST", "/accounts", body, want=201)
    for g in grants:
        admin.ok("POST", f"/accounts/{acc['id']}/roles", g, want=201)
    return acc, body["login"]


def unit(api, parent, kind, name, want=201):
    return api.ok("POST", "/org-units",
                  {"parent_id": parent, "kind": kind, "code": uniq(kind), "name": name}, want=want)


@pytest.fixture(scope="module")
def admin(server):
    return Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def tree(server, pg, admin):
    t = {}
    t["D"] = unit(admin, None, "district", "测试区")
    t["S1"] = unit(admin, t["D"]["id"], "subdistrict", "一街道")
    t["S2"] = unit(admin, t["D"]["id"], "subdistrict", "二街道")
    t["C1"] = unit(admin, t["S1"]["id"], "community", "甲社区")
    t["C2"] = unit(admin, t["S1"]["id"], "community", "乙社区")
    t["C3"] = unit(admin, t["S2"]["id"], "community", "丙社区")
    t["G1"] = unit(admin, t["C1"]["id"], "grid", "甲一网格")
    t["T1"] = admin.ok("POST", "/teams", {"name": "甲社区志愿服务队", "org_unit_id": t["C1"]["id"]},
                       want=201)
    t["T1a"] = admin.ok("POST", "/teams", {"name": "甲分队", "org_unit_id": t["C1"]["id"],
                                           "parent_team_id": t["T1"]["id"]}, want=201)
    t["T2"] = admin.ok("POST", "/teams", {"name": "乙社区志愿服务队", "org_unit_id": t["C2"]["id"],
                                          "kind": "party_branch"}, want=201)
    ids = {k: v["id"] for k, v in t.items()}

    _, login = make_account(admin, [{"role": "admin", "org_unit_id": ids["S1"]}])
    t["sub_admin"] = Api(server, login, PW)
    _, login = make_account(admin, [{"role": "coordinator", "org_unit_id": ids["C1"]}])
    t["c1_coord"] = Api(server, login, PW)
    _, login = make_account(admin, [{"role": "coordinator", "team_id": ids["T1"]}])
    t["t1_coord"] = Api(server, login, PW)

    # a volunteer who lives in C1 and belongs to T1, with an account of their own
    t["vol_id"] = make_volunteer(pg, ids["C1"])
    admin.ok("POST", f"/teams/{ids['T1']}/members", {"volunteer_id": t["vol_id"]}, want=201)
    _, login = make_account(admin, volunteer_id=t["vol_id"])
    t["vol"] = Api(server, login, PW)
    t["ids"] = ids
    return t


# ---------------------------------------------------------------------------------------------
# Org units: shapes and validation
# ---------------------------------------------------------------------------------------------

def test_org_unit_shape(admin, tree):
    d, c1, g1 = tree["D"], tree["C1"], tree["G1"]
    for u in (d, c1, g1):
        assert {"id", "parent_id", "kind", "code", "name", "depth", "path"} <= set(u)
        assert isinstance(u["id"], int)
    assert d["parent_id"] is None and d["depth"] == 0 and d["kind"] == "district"
    assert c1["parent_id"] == tree["S1"]["id"] and c1["depth"] == 2
    assert g1["path"] == f"/{d['id']}/{tree['S1']['id']}/{c1['id']}/{g1['id']}/"
    got = admin.ok("GET", f"/org-units/{c1['id']}", want=200)
    assert got["code"] == c1["code"] and got["name"] == "甲社区" and got["kind"] == "community"


@pytest.mark.parametrize("body, field", [
    ({"kind": "county", "code": "X", "name": "n"}, "kind"),
    ({"kind": "grid", "code": "X"}, "name"),
    ({"kind": "grid", "code": "X", "name": "   "}, "name"),
    ({"kind": "grid", "name": "n"}, "code"),
    ({"kind": "grid", "code": "has space", "name": "n"}, "code"),
    ({"kind": "grid", "code": "X", "name": "n" * 101}, "name"),
    ({"kind": 7, "code": "X", "name": "n"}, "kind"),
    ({"kind": "grid", "code": "X", "name": "n", "parent_id": "5"}, "parent_id"),
    ({"kind": "grid", "code": "X", "name": "n", "parent_id": 0}, "parent_id"),
    ({"kind": "grid", "code": "X", "name": "n", "colour": "red"}, "colour"),
])
def test_org_unit_create_validation(admin, tree, body, field):
    body = dict(body)
    body.setdefault("parent_id", tree["ids"]["C1"])
    if body.get("code") == "X":
        body["code"] = uniq("x")
    r = admin.req("POST", "/org-units", body)
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert field in field_names(r)


def test_org_unit_bad_json_is_400(admin):
    r = admin.req("POST", "/org-units", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_org_unit_unknown_parent_is_422(admin):
    r = admin.req("POST", "/org-units",
                  {"parent_id": 9_000_000_000, "kind": "grid", "code": uniq("g"), "name": "n"})
    assert r.status_code == 422 and field_names(r) == ["parent_id"], r.text


def test_duplicate_code_is_409_naming_code(admin, tree):
    r = admin.req("POST", "/org-units", {"parent_id": tree["ids"]["C1"], "kind": "grid",
                                         "code": tree["G1"]["code"], "name": "又一个"})
    assert r.status_code == 409 and field_names(r) == ["code"], r.text
    other = unit(admin, tree["ids"]["C1"], "grid", "改码网格")
    r = admin.req("PATCH", f"/org-units/{other['id']}", {"code": tree["G1"]["code"]})
    assert r.status_code == 409 and field_names(r) == ["code"], r.text


def test_patch_renames_and_moves_with_subtree(admin, tree):
    ids = tree["ids"]
    c = unit(admin, ids["S1"], "community", "搬家社区")
    g = unit(admin, c["id"], "grid", "搬家网格")
    got = admin.ok("PATCH", f"/org-units/{c['id']}", {"name": "新名字"}, want=200)
    assert got["name"] == "新名字" and got["code"] == c["code"] and got["parent_id"] == ids["S1"]
    got = admin.ok("PATCH", f"/org-units/{c['id']}", {"parent_id": ids["S2"]}, want=200)
    assert got["parent_id"] == ids["S2"] and got["path"] == f"/{ids['D']}/{ids['S2']}/{c['id']}/"
    g2 = admin.ok("GET", f"/org-units/{g['id']}", want=200)
    assert g2["path"] == f"/{ids['D']}/{ids['S2']}/{c['id']}/{g['id']}/" and g2["depth"] == 3
    # PATCH validation
    for body, field in [({"name": None}, "name"), ({"kind": "nowhere"}, "kind"),
                        ({"code": ""}, "code"), ({"id": 5}, "id")]:
        r = admin.req("PATCH", f"/org-units/{c['id']}", body)
        assert r.status_code == 422 and field in field_names(r), (body, r.text)
    assert admin.status("PATCH", "/org-units/9000000000", {"name": "x"}) == 404


def test_move_under_own_descendant_is_409(admin, tree):
    ids = tree["ids"]
    for target in (ids["G1"], ids["C1"]):
        r = admin.req("PATCH", f"/org-units/{ids['C1']}", {"parent_id": target})
        assert r.status_code == 409, r.text
    assert admin.ok("GET", f"/org-units/{ids['C1']}")["parent_id"] == ids["S1"]
    r = admin.req("PATCH", f"/org-units/{ids['C1']}", {"parent_id": 9_000_000_000})
    assert r.status_code == 422 and field_names(r) == ["parent_id"]


def test_get_unknown_is_404(admin):
    assert admin.status("GET", "/org-units/9000000000") == 404
    assert admin.status("GET", "/org-units/abc") == 404
    assert admin.status("GET", "/teams/9000000000") == 404


# ---------------------------------------------------------------------------------------------
# Scope
# ---------------------------------------------------------------------------------------------

def test_community_coordinator_sees_nothing_of_the_neighbour(tree):
    c, ids = tree["c1_coord"], tree["ids"]
    assert c.ok("GET", f"/org-units/{ids['C1']}")["id"] == ids["C1"]
    assert c.ok("GET", f"/org-units/{ids['G1']}")["id"] == ids["G1"]
    for u in ("C2", "S1", "D", "C3"):
        assert c.status("GET", f"/org-units/{ids[u]}") == 404, u
    assert c.status("PATCH", f"/org-units/{ids['C2']}", {"name": "x"}) == 404
    assert c.status("GET", f"/teams/{ids['T2']}") == 404
    assert c.status("PATCH", f"/teams/{ids['T2']}", {"name": "x"}) == 404
    assert c.status("POST", f"/teams/{ids['T2']}/members", {"volunteer_id": tree["vol_id"]}) == 404
    assert c.status("DELETE", f"/teams/{ids['T2']}/members/{tree['vol_id']}") == 404
    assert c.status("POST", "/teams", {"name": "越界队", "org_unit_id": ids["C2"]}) == 404
    # in scope, but org units are an admin's to change
    assert c.status("PATCH", f"/org-units/{ids['C1']}", {"name": "x"}) == 403
    assert c.status("POST", "/org-units", {"parent_id": ids["C1"], "kind": "grid",
                                           "code": uniq("g"), "name": "n"}) == 403
    assert c.status("POST", "/org-units", {"parent_id": ids["C2"], "kind": "grid",
                                           "code": uniq("g"), "name": "n"}) == 404
    assert c.status("POST", "/org-units", {"parent_id": None, "kind": "district",
                                           "code": uniq("d"), "name": "n"}) == 403
    # lists show only the own subtree
    kids = c.ok("GET", f"/org-units?parent_id={ids['S1']}")["items"]
    assert [u["id"] for u in kids] == [ids["C1"]]
    top = c.ok("GET", "/org-units")["items"]
    assert [u["id"] for u in top] == [ids["C1"]]
    teams = c.ok("GET", f"/teams?under={ids['S1']}")["items"]
    assert {t["id"] for t in teams} == {ids["T1"], ids["T1a"]}
    assert c.ok("GET", f"/teams?org_unit_id={ids['C2']}")["items"] == []
    # a coordinator creates teams in scope and edits them
    t = c.ok("POST", "/teams", {"name": "网格队", "org_unit_id": ids["G1"]}, want=201)
    assert c.ok("PATCH", f"/teams/{t['id']}", {"name": "网格服务队"})["name"] == "网格服务队"


def test_subdistrict_admin_sees_its_subtree(tree):
    a, ids = tree["sub_admin"], tree["ids"]
    under = a.ok("GET", f"/org-units?under={ids['S1']}&limit=500")["items"]
    got = {u["id"] for u in under}
    assert {ids["S1"], ids["C1"], ids["C2"], ids["G1"]} <= got
    assert not got & {ids["D"], ids["S2"], ids["C3"]}
    assert [u["id"] for u in a.ok("GET", "/org-units")["items"]] == [ids["S1"]]
    assert a.ok("GET", f"/org-units?parent_id={ids['D']}")["items"][0]["id"] == ids["S1"]
    for u in ("D", "S2", "C3"):
        assert a.status("GET", f"/org-units/{ids[u]}") == 404, u
    assert a.status("PATCH", f"/org-units/{ids['C3']}", {"name": "x"}) == 404
    assert a.ok("GET", f"/teams/{ids['T2']}")["kind"] == "party_branch"
    # it creates and changes units below S1, not a root and not elsewhere
    g = unit(a, ids["C2"], "grid", "乙一网格")
    assert a.ok("PATCH", f"/org-units/{g['id']}", {"parent_id": ids["C1"]})["parent_id"] == ids["C1"]
    assert a.status("PATCH", f"/org-units/{g['id']}", {"parent_id": ids["C3"]}) == 404
    assert a.status("PATCH", f"/org-units/{ids['S1']}", {"parent_id": None}) == 403
    assert a.status("POST", "/org-units", {"parent_id": None, "kind": "district",
                                           "code": uniq("d"), "name": "n"}) == 403
    unit(a, ids["C3"], "grid", "丙一网格", want=404)
    assert a.status("POST", "/teams", {"name": "x", "org_unit_id": ids["C3"]}) == 404


def test_team_coordinator_reaches_its_team_and_sub_teams(tree, pg):
    c, ids = tree["t1_coord"], tree["ids"]
    assert c.ok("GET", f"/teams/{ids['T1']}")["id"] == ids["T1"]
    assert c.ok("GET", f"/teams/{ids['T1a']}")["parent_team_id"] == ids["T1"]
    assert c.status("GET", f"/teams/{ids['T2']}") == 404
    listed = {t["id"] for t in c.ok("GET", "/teams")["items"]}
    assert listed == {ids["T1"], ids["T1a"]}
    assert c.ok("PATCH", f"/teams/{ids['T1a']}", {"kind": "unit"})["kind"] == "unit"
    # no org-unit scope: units are 404 and creating a team is 404 (the unit is not in scope)
    assert c.status("GET", f"/org-units/{ids['C1']}") == 404
    assert c.status("POST", "/teams", {"name": "x", "org_unit_id": ids["C1"]}) == 404
    # it enrols volunteers living in the team's area, not others
    near = make_volunteer(pg, ids["G1"])
    far = make_volunteer(pg, ids["C3"])
    c.ok("POST", f"/teams/{ids['T1']}/members", {"volunteer_id": near}, want=201)
    r = c.req("POST", f"/teams/{ids['T1']}/members", {"volunteer_id": far})
    assert r.status_code == 422 and field_names(r) == ["volunteer_id"], r.text
    assert c.status("DELETE", f"/teams/{ids['T1']}/members/{near}") == 204


def test_plain_volunteer_reads_own_unit_and_teams_only(tree):
    v, ids = tree["vol"], tree["ids"]
    assert v.ok("GET", f"/org-units/{ids['C1']}")["id"] == ids["C1"]
    assert v.ok("GET", f"/teams/{ids['T1']}")["id"] == ids["T1"]
    assert [u["id"] for u in v.ok("GET", "/org-units")["items"]] == [ids["C1"]]
    assert [t["id"] for t in v.ok("GET", "/teams")["items"]] == [ids["T1"]]
    for path in (f"/org-units/{ids['C2']}", f"/org-units/{ids['G1']}", f"/org-units/{ids['S1']}",
                 f"/teams/{ids['T1a']}", f"/teams/{ids['T2']}"):
        assert v.status("GET", path) == 404, path
    # in scope (their own), but read-only: 403; elsewhere 404
    assert v.status("PATCH", f"/org-units/{ids['C1']}", {"name": "x"}) == 403
    assert v.status("PATCH", f"/teams/{ids['T1']}", {"name": "x"}) == 403
    assert v.status("POST", f"/teams/{ids['T1']}/members", {"volunteer_id": tree["vol_id"]}) == 403
    assert v.status("DELETE", f"/teams/{ids['T1']}/members/{tree['vol_id']}") == 403
    assert v.status("POST", f"/teams/{ids['T2']}/members", {"volunteer_id": tree["vol_id"]}) == 404
    assert v.status("POST", "/teams", {"name": "x", "org_unit_id": ids["C1"]}) == 404
    assert v.status("POST", "/org-units", {"parent_id": ids["C1"], "kind": "grid",
                                           "code": uniq("g"), "name": "n"}) == 404


def test_anonymous_is_401(server):
    anon = Api(server)
    for method, path in (("GET", "/org-units"), ("GET", "/org-units/1"), ("POST", "/org-units"),
                         ("GET", "/teams"), ("POST", "/teams/1/members")):
        assert anon.status(method, path, {}) == 401, (method, path)


# ---------------------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------------------

def test_list_pagination(admin, tree):
    parent = unit(admin, tree["ids"]["C2"], "grid", "分页父")
    made = [unit(admin, parent["id"], "point", f"点{i}")["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while pages < 10:
        q = f"/org-units?parent_id={parent['id']}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = admin.ok("GET", q, want=200)
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= 3
        seen += [u["id"] for u in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == made and pages == 3
    one = admin.ok("GET", f"/org-units?parent_id={parent['id']}&kind=point&limit=500")
    assert [u["id"] for u in one["items"]] == made and one["next_cursor"] is None
    assert admin.ok("GET", f"/org-units?parent_id={parent['id']}&kind=grid")["items"] == []
    for q, field in (("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"),
                     ("cursor=abc", "cursor"), ("parent_id=abc", "parent_id")):
        r = admin.req("GET", f"/org-units?{q}")
        assert r.status_code == 422 and field_names(r) == [field], (q, r.text)


def test_team_list_pagination(admin, tree):
    home = unit(admin, tree["ids"]["C2"], "grid", "多队网格")
    made = [admin.ok("POST", "/teams", {"name": f"队{i}", "org_unit_id": home["id"]}, want=201)["id"]
            for i in range(5)]
    first = admin.ok("GET", f"/teams?org_unit_id={home['id']}&limit=2")
    assert [t["id"] for t in first["items"]] == made[:2] and first["next_cursor"]
    rest = admin.ok("GET", f"/teams?org_unit_id={home['id']}&limit=10&cursor={first['next_cursor']}")
    assert [t["id"] for t in rest["items"]] == made[2:] and rest["next_cursor"] is None


# ---------------------------------------------------------------------------------------------
# Teams
# ---------------------------------------------------------------------------------------------

def test_team_shape_and_validation(admin, tree):
    ids = tree["ids"]
    t = tree["T1"]
    assert {"id", "name", "org_unit_id", "parent_team_id", "kind"} <= set(t)
    assert t["kind"] == "general" and t["parent_team_id"] is None and t["org_unit_id"] == ids["C1"]
    assert tree["T1a"]["parent_team_id"] == t["id"]
    for body, field in [({"org_unit_id": ids["C1"]}, "name"),
                        ({"name": "x"}, "org_unit_id"),
                        ({"name": "x", "org_unit_id": ids["C1"], "kind": "club"}, "kind"),
                        ({"name": "x", "org_unit_id": "1"}, "org_unit_id"),
                        ({"name": "x", "org_unit_id": 9_000_000_000}, "org_unit_id"),
                        ({"name": "x", "org_unit_id": ids["C1"], "parent_team_id": 9_000_000_000},
                         "parent_team_id"),
                        ({"name": "x", "org_unit_id": ids["C1"], "leader": 1}, "leader")]:
        r = admin.req("POST", "/teams", body)
        assert r.status_code == 422 and field in field_names(r), (body, r.text)
    for body, field in [({"name": ""}, "name"), ({"kind": None}, "kind"),
                        ({"org_unit_id": None}, "org_unit_id")]:
        r = admin.req("PATCH", f"/teams/{t['id']}", body)
        assert r.status_code == 422 and field in field_names(r), (body, r.text)


def test_team_patch_and_cycle(admin, tree):
    ids = tree["ids"]
    a = admin.ok("POST", "/teams", {"name": "上级队", "org_unit_id": ids["C2"]}, want=201)
    b = admin.ok("POST", "/teams", {"name": "下级队", "org_unit_id": ids["C2"],
                                   "parent_team_id": a["id"]}, want=201)
    r = admin.req("PATCH", f"/teams/{a['id']}", {"parent_team_id": b["id"]})
    assert r.status_code == 409, r.text
    r = admin.req("PATCH", f"/teams/{a['id']}", {"parent_team_id": a["id"]})
    assert r.status_code == 409, r.text
    got = admin.ok("PATCH", f"/teams/{b['id']}", {"parent_team_id": None, "org_unit_id": ids["C3"],
                                                 "name": "独立队", "kind": "unit"})
    assert got == {**got, "parent_team_id": None, "org_unit_id": ids["C3"], "name": "独立队",
                   "kind": "unit"}
    assert admin.ok("GET", f"/teams/{b['id']}")["org_unit_id"] == ids["C3"]


# ---------------------------------------------------------------------------------------------
# Membership
# ---------------------------------------------------------------------------------------------

def test_members_add_update_remove(admin, tree, pg):
    ids = tree["ids"]
    c = tree["c1_coord"]
    team = c.ok("POST", "/teams", {"name": "成员测试队", "org_unit_id": ids["C1"]}, want=201)
    vid = make_volunteer(pg, ids["G1"])
    m = c.ok("POST", f"/teams/{team['id']}/members", {"volunteer_id": vid, "role": "member"}, want=201)
    assert m["team_id"] == team["id"] and m["volunteer_id"] == vid and m["role"] == "member"
    assert "_created" not in m
    m = c.ok("POST", f"/teams/{team['id']}/members", {"volunteer_id": vid, "role": "leader"}, want=200)
    assert m["role"] == "leader"
    m = c.ok("POST", f"/teams/{team['id']}/members", {"volunteer_id": vid, "role": "leader"}, want=200)
    assert m["role"] == "leader"
    assert c.ok("GET", f"/teams/{team['id']}")["member_count"] == 1
    assert pg.sql(f"SELECT role FROM team_members WHERE team_id = {team['id']}").strip() == "leader"
    for body, field in [({"volunteer_id": 9_000_000_000}, "volunteer_id"), ({}, "volunteer_id"),
                        ({"volunteer_id": vid, "role": "boss"}, "role"),
                        ({"volunteer_id": str(vid)}, "volunteer_id")]:
        r = c.req("POST", f"/teams/{team['id']}/members", body)
        assert r.status_code == 422 and field_names(r) == [field], (body, r.text)
    # a volunteer of the neighbouring community is not the C1 coordinator's to enrol
    other = make_volunteer(pg, ids["C2"])
    r = c.req("POST", f"/teams/{team['id']}/members", {"volunteer_id": other})
    assert r.status_code == 422 and field_names(r) == ["volunteer_id"]
    r = c.req("DELETE", f"/teams/{team['id']}/members/{vid}")
    assert r.status_code == 204 and r.content == b""
    assert c.status("DELETE", f"/teams/{team['id']}/members/{vid}") == 404
    assert c.status("DELETE", f"/teams/{team['id']}/members/{other}") == 404
    assert c.status("DELETE", f"/teams/9000000000/members/{vid}") == 404
    assert c.ok("GET", f"/teams/{team['id']}")["member_count"] == 0


def test_member_add_idempotent_retry_keeps_status(admin, tree, pg):
    ids = tree["ids"]
    vid = make_volunteer(pg, ids["C2"])
    key = {"Idempotency-Key": uniq("k")}
    body = {"volunteer_id": vid, "role": "member"}
    r1 = admin.req("POST", f"/teams/{ids['T2']}/members", body, headers=key)
    r2 = admin.req("POST", f"/teams/{ids['T2']}/members", body, headers=key)
    assert r1.status_code == r2.status_code == 201 and r1.json() == r2.json()
    n = pg.sql(f"SELECT count(*) FROM audit_log WHERE entity = 'team' AND entity_id = {ids['T2']} "
               f"AND action = 'member_add' AND new ->> 'volunteer_id' = '{vid}'")
    assert n.strip() == "1"


# ---------------------------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------------------------

def test_audit_rows_for_org_units_and_teams(admin, tree, pg):
    ids = tree["ids"]
    u = unit(admin, ids["C2"], "grid", "审计网格")
    admin.ok("PATCH", f"/org-units/{u['id']}", {"name": "审计网格二"})
    admin.ok("PATCH", f"/org-units/{u['id']}", {"name": "审计网格二"})  # no change, no row
    rows = admin.ok("GET", f"/audit?entity=org_unit&entity_id={u['id']}")["items"]
    assert [r["action"] for r in rows] == ["update", "create"]
    assert rows[0]["old"]["name"] == "审计网格" and rows[0]["new"]["name"] == "审计网格二"
    assert rows[1]["account_id"] == admin.account["id"]

    t = admin.ok("POST", "/teams", {"name": "审计队", "org_unit_id": u["id"]}, want=201)
    admin.ok("PATCH", f"/teams/{t['id']}", {"name": "审计队二"})
    vid = make_volunteer(pg, u["id"])
    admin.ok("POST", f"/teams/{t['id']}/members", {"volunteer_id": vid}, want=201)
    admin.ok("POST", f"/teams/{t['id']}/members", {"volunteer_id": vid, "role": "leader"}, want=200)
    assert admin.status("DELETE", f"/teams/{t['id']}/members/{vid}") == 204
    rows = admin.ok("GET", f"/audit?entity=team&entity_id={t['id']}")["items"]
    assert [r["action"] for r in rows] == ["member_remove", "member_update", "member_add",
                                           "update", "create"]
    assert rows[0]["old"]["volunteer_id"] == vid and rows[1]["new"]["role"] == "leader"
    # refusals write nothing
    before = pg.sql("SELECT count(*) FROM audit_log").strip()
    admin.req("POST", "/org-units", {"parent_id": u["id"], "kind": "grid", "code": u["code"],
                                     "name": "重复"})
    tree["c1_coord"].req("PATCH", f"/org-units/{ids['C2']}", {"name": "x"})
    assert pg.sql("SELECT count(*) FROM audit_log").strip() == before


def test_concurrent_first_adds_create_once(admin, tree, pg):
    from concurrent.futures import ThreadPoolExecutor
    ids = tree["ids"]
    vid = make_volunteer(pg, ids["C2"])
    with ThreadPoolExecutor(max_workers=8) as ex:
        codes = list(ex.map(lambda _: admin.status("POST", f"/teams/{ids['T2']}/members",
                                                   {"volunteer_id": vid}), range(8)))
    assert sorted(codes) == [200] * 7 + [201], codes
    n = pg.sql(f"SELECT count(*) FROM audit_log WHERE entity = 'team' AND entity_id = {ids['T2']} "
               f"AND action = 'member_add' AND new ->> 'volunteer_id' = '{vid}'")
    assert n.strip() == "1"

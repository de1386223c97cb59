"""The issue's scenario, over HTTP only: a district with two subdistricts, four communities and
their grids, three teams, twenty volunteers and a weekly Tue/Fri activity; then the people in it
do their day: sign up, check in by code and by roster, check out, and see their hours."""
import datetime as dt
import secrets

import conftest
from apiclient import Api

TZ = dt.timezone(dt.timedelta(hours=8))


def id_number(seq):
    """A valid 18-character ID number (GB 11643 check digit)."""
    body = f"110105199{seq % 10}0{1 + seq % 9}1{seq % 9}{seq % 1000:03d}"
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * k for c, k in zip(body, w)) % 11]


def test_a_district_over_http(server):
    tag = secrets.token_hex(3)
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    unit = lambda parent, kind, code, name: admin.ok(
        "POST", "/org-units", {"parent_id": parent, "kind": kind, "code": f"{code}-{tag}", "name": name}, want=201)

    district = unit(None, "district", "D", "示范区")
    subs = [unit(district["id"], "subdistrict", f"S{i}", f"街道{i}") for i in range(2)]
    communities = [unit(subs[i // 2]["id"], "community", f"C{i}", f"社区{i}") for i in range(4)]
    grids = [unit(c["id"], "grid", f"G{i}", f"{c['name']}网格") for i, c in enumerate(communities)]
    assert {g["depth"] for g in grids} == {3}
    children = admin.ok("GET", f"/org-units?parent_id={subs[0]['id']}")["items"]
    assert sorted(c["id"] for c in children) == sorted(c["id"] for c in communities[:2])

    teams = [admin.ok("POST", "/teams", {"name": f"社区{i}志愿服务队", "org_unit_id": communities[i]["id"]}, want=201)
             for i in range(2)]
    teams.append(admin.ok("POST", "/teams", {"name": "党员先锋队", "org_unit_id": subs[1]["id"],
                                             "kind": "party_branch"}, want=201))

    # Twenty volunteers: half register themselves, half are registered by the admin.
    vols = []
    for i in range(20):
        phone = f"139{int(tag, 16) % 10000:04d}{i:04d}"
        body = {"name": f"志愿者{i}", "phone": phone, "org_unit_id": communities[i % 4]["id"],
                "password": f"Vol-pass-{i}-{tag}"}
        if i % 3 == 0:
            body["id_number"] = id_number(int(tag, 16) % 500 + i)
            body["consent_id_number"] = True  # asked of those who register themselves
        who = Api(server) if i % 2 else admin
        v = who.ok("POST", "/volunteers", body, want=201)
        assert v["volunteer_no"] and "id_number" not in body or body["id_number"] not in str(v)
        v["login"], v["password"] = phone, body["password"]
        vols.append(v)
        admin.ok("POST", f"/teams/{teams[i % 3]['id']}/members", {"volunteer_id": v["id"], "role": "member"},
                 want=(200, 201))
    assert len({v["volunteer_no"] for v in vols}) == 20

    # A coordinator for community 0, who runs the weekly street cleaning.
    coord = admin.ok("POST", "/accounts", {"login": f"coord-{tag}", "password": "Coord-pass-123"}, want=201)
    admin.ok("POST", f"/accounts/{coord['id']}/roles", {"role": "coordinator", "org_unit_id": communities[0]["id"]},
             want=201)
    co = Api(server, f"coord-{tag}", "Coord-pass-123")
    today = dt.datetime.now(TZ).date()
    weekly = co.ok("POST", "/activities", {
        "team_id": teams[0]["id"], "org_unit_id": grids[0]["id"], "title": "周二周五清洁", "category": "环境",
        "location": "社区", "capacity": 3,
        "recurrence": {"freq": "weekly", "byday": ["TU", "FR"], "from": str(today + dt.timedelta(days=1)),
                       "until": str(today + dt.timedelta(days=28)), "start_time": "08:00", "end_time": "10:00"}},
        want=201)
    events = co.ok("GET", f"/activities/{weekly['id']}/events")["items"]
    assert len(events) == 8
    for e in events:
        start = dt.datetime.fromisoformat(e["starts_at"]).astimezone(TZ)
        assert start.strftime("%a %H:%M") in ("Tue 08:00", "Fri 08:00")

    # Sign-ups beyond capacity wait; a cancellation promotes the first in line.
    first = events[0]["id"]
    mine = [v for i, v in enumerate(vols) if i % 3 == 0][:5]
    statuses = [Api(server, v["login"], v["password"]).ok("POST", f"/events/{first}/signups", {}, want=201)["status"]
                for v in mine]
    assert statuses == ["confirmed"] * 3 + ["waitlisted"] * 2
    Api(server, mine[0]["login"], mine[0]["password"]).ok("DELETE", f"/events/{first}/signups/{mine[0]['id']}",
                                                           want=204)
    ev = co.ok("GET", f"/events/{first}")
    assert (ev["confirmed"], ev["waitlisted"]) == (3, 1)

    # Today's short post: one volunteer checks in with the code, one by roster; both check out.
    now = dt.datetime.now(TZ).replace(microsecond=0)
    post = co.ok("POST", "/activities", {
        "team_id": teams[0]["id"], "org_unit_id": grids[0]["id"], "title": "交通文明岗", "category": "交通",
        "location": "路口", "capacity": 10, "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=1)).isoformat()}, want=201)
    post_ev = co.ok("GET", f"/activities/{post['id']}/events")["items"][0]
    code = co.ok("GET", f"/events/{post_ev['id']}")["checkin_code"]
    v1 = Api(server, vols[0]["login"], vols[0]["password"])
    v1.ok("POST", f"/events/{post_ev['id']}/signups", {}, want=201)
    att = v1.ok("POST", f"/events/{post_ev['id']}/check-ins", {"code": code}, want=201)
    assert att["method"] == "self" and att["check_out_at"] is None
    assert v1.status("POST", f"/events/{post_ev['id']}/check-ins", {"code": code}) == 409  # one open attendance
    co.ok("POST", f"/events/{post_ev['id']}/check-ins", {"volunteer_id": vols[4]["id"]}, want=201)
    roster = co.ok("GET", f"/events/{post_ev['id']}/attendance")
    assert roster["counts"]["on_post"] == 2
    out = v1.ok("POST", f"/events/{post_ev['id']}/check-outs", {"code": code})
    assert out["credited_minutes"] >= 0 and out["entry"]["status"] in ("approved", "pending")
    co.ok("POST", f"/events/{post_ev['id']}/check-outs", {"volunteer_id": vols[4]["id"]})
    roster = co.ok("GET", f"/events/{post_ev['id']}/attendance")
    assert roster["counts"]["done"] == 2 and roster["counts"]["on_post"] == 0

    # Each sees their own hours; nobody sees a neighbour's.
    me = v1.ok("GET", "/me")
    assert me["volunteer"]["id"] == vols[0]["id"]
    assert v1.status("GET", f"/volunteers/{vols[1]['id']}/hours") == 404
    assert co.ok("GET", f"/volunteers/{vols[0]['id']}/hours")["totals"]["approved_minutes"] >= 0
    # The coordinator of community 0 does not see community 1's volunteers.
    assert co.status("GET", f"/volunteers/{vols[1]['id']}") == 404

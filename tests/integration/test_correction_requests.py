"""Correction requests, the organizer's side (DESIGN §1: a volunteer may report an error and the
organizer must correct it; sql/0020): GET /correction-requests (scope, filters, 422 naming the
field, keyset pages) and POST /correction-requests/{id}/resolve (scope as approving the event's
hours, corrected after a PATCH /attendance/{id} links the new entry, declined needs a note the
volunteer reads, a second resolution is 409, the audit row)."""
import datetime as dt
import secrets

import pytest

import conftest
from apiclient import Api

TZ = dt.timezone(dt.timedelta(hours=8))
PW = "Corr-pass-" + secrets.token_hex(3)


def problem(resp, status, field=None):
    assert resp.status_code == status, resp.text[:300]
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body = resp.json()
    if field:
        assert [e["field"] for e in body.get("errors", [])] == [field], body
    return body


@pytest.fixture(scope="module")
def cw(server):
    """Communities A and B (a coordinator each), a volunteer of A with a login and two
    finished attendances at A's current event, and a volunteer of B with one at B's."""
    tag = secrets.token_hex(3)
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    d = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district", "code": f"CD-{tag}",
                                        "name": "更正区"}, want=201)
    units, teams, coords, events = {}, {}, {}, {}
    now = dt.datetime.now(TZ).replace(microsecond=0)
    for s in ("A", "B"):
        units[s] = admin.ok("POST", "/org-units", {"parent_id": d["id"], "kind": "community",
                                                   "code": f"C{s}-{tag}", "name": f"社区{s}"}, want=201)
        teams[s] = admin.ok("POST", "/teams", {"name": f"队{s}", "org_unit_id": units[s]["id"]}, want=201)
        acc = admin.ok("POST", "/accounts", {"login": f"cr{s}-{tag}", "password": PW}, want=201)
        admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "org_unit_id": units[s]["id"]},
                 want=201)
        coords[s] = Api(server, f"cr{s}-{tag}", PW)
        act = coords[s].ok("POST", "/activities", {
            "team_id": teams[s]["id"], "org_unit_id": units[s]["id"], "title": f"岗{s}", "capacity": 100,
            "starts_at": (now - dt.timedelta(hours=3)).isoformat(),
            "ends_at": (now + dt.timedelta(hours=3)).isoformat()}, want=201)
        events[s] = coords[s].ok("GET", f"/activities/{act['id']}/events")["items"][0]

    def volunteer(s, n):
        phone = f"136{(int(tag, 16) * 10 + n) % 100000000:08d}"
        v = Api(server).ok("POST", "/volunteers", {"name": f"志愿者{s}{n}", "phone": phone,
                                                   "org_unit_id": units[s]["id"], "password": PW}, want=201)
        return v, Api(server, phone, PW)

    vol, vol_api = volunteer("A", 1)
    vol_b, vol_b_api = volunteer("B", 2)
    return {"admin": admin, "coords": coords, "events": events, "units": units, "now": now,
            "vol": vol, "vol_api": vol_api, "vol_b": vol_b, "vol_b_api": vol_b_api, "k": iter(range(1, 200))}


def backfill(cw, s="A", who="vol"):
    """A pending backfilled entry of the volunteer at side s's event, in minutes of its own."""
    co, ev, v = cw["coords"][s], cw["events"][s], cw[who]
    k = next(cw["k"])
    start = cw["now"] - dt.timedelta(hours=3) + dt.timedelta(minutes=3 * k)
    entry = co.ok("POST", "/hours", {"volunteer_id": v["id"], "event_id": ev["id"],
                                     "started_at": start.isoformat(),
                                     "ended_at": (start + dt.timedelta(minutes=2)).isoformat(),
                                     "reason": "补录"}, want=201)
    return entry


def request(cw, s="A", who="vol", message="时间记错了"):
    entry = backfill(cw, s, who)
    api = cw["vol_api"] if who == "vol" else cw["vol_b_api"]
    r = api.ok("POST", "/correction-requests", {"entry_id": entry["id"], "message": message}, want=201)
    return r, entry


def test_the_volunteer_lists_their_own_and_staff_see_those_of_their_events(cw, server):
    ra, _ = request(cw, "A")
    rb, _ = request(cw, "B", "vol_b")
    mine = cw["vol_api"].ok("GET", "/correction-requests?limit=500")["items"]
    assert ra["id"] in [i["id"] for i in mine] and rb["id"] not in [i["id"] for i in mine]
    item = [i for i in mine if i["id"] == ra["id"]][0]
    assert item["status"] == "open" and item["resolution"] is None and item["note"] is None
    assert item["event"]["title"] == "岗A" and item["volunteer_name"] == "志愿者A1"
    seen_a = [i["id"] for i in cw["coords"]["A"].ok("GET", "/correction-requests?status=open&limit=500")["items"]]
    assert ra["id"] in seen_a and rb["id"] not in seen_a
    seen_b = [i["id"] for i in cw["coords"]["B"].ok("GET", "/correction-requests?limit=500")["items"]]
    assert rb["id"] in seen_b and ra["id"] not in seen_b
    # the system administrator sees both
    seen = [i["id"] for i in cw["admin"].ok("GET", f"/correction-requests?event_id={cw['events']['A']['id']}&limit=500")["items"]]
    assert ra["id"] in seen
    assert Api(server).status("GET", "/correction-requests") == 401


def test_filters_out_of_reach_are_404_and_bad_values_422_naming_the_field(cw):
    co = cw["coords"]["A"]
    problem(co.req("GET", f"/correction-requests?event_id={cw['events']['B']['id']}"), 404)
    problem(co.req("GET", f"/correction-requests?volunteer_id={cw['vol_b']['id']}"), 404)
    problem(cw["vol_api"].req("GET", f"/correction-requests?volunteer_id={cw['vol_b']['id']}"), 404)
    problem(co.req("GET", "/correction-requests?event_id=999999999"), 404)
    problem(co.req("GET", "/correction-requests?status=closed"), 422, "status")
    problem(co.req("GET", "/correction-requests?limit=0"), 422, "limit")
    problem(co.req("GET", "/correction-requests?limit=501"), 422, "limit")
    problem(co.req("GET", "/correction-requests?cursor=abc"), 422, "cursor")
    problem(co.req("GET", "/correction-requests?event_id=x"), 422, "event_id")
    # a volunteer filters their own by any event, and by themself
    own = cw["vol_api"].ok("GET", f"/correction-requests?volunteer_id={cw['vol']['id']}&limit=500")["items"]
    assert own and all(i["volunteer_id"] == cw["vol"]["id"] for i in own)
    assert cw["vol_api"].ok("GET", f"/correction-requests?event_id={cw['events']['B']['id']}")["items"] == []
    # a coordinator filters by a volunteer of theirs
    theirs = co.ok("GET", f"/correction-requests?volunteer_id={cw['vol']['id']}&limit=500")["items"]
    assert [i["id"] for i in theirs] == [i["id"] for i in own]


def test_pages_follow_the_cursor_without_gaps_or_repeats(cw):
    made = [request(cw, "A")[0]["id"] for _ in range(3)]
    co = cw["coords"]["A"]
    path = f"/correction-requests?volunteer_id={cw['vol']['id']}&limit=2"
    got, cursor, pages = [], None, 0
    while True:
        page = co.ok("GET", path + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) <= 2
        got += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        pages += 1
        if cursor is None or pages > 50:
            break
    assert cursor is None and len(got) == len(set(got)) and got == sorted(got)
    assert set(made) <= set(got)
    everything = co.ok("GET", f"/correction-requests?volunteer_id={cw['vol']['id']}&limit=500")["items"]
    assert got == [i["id"] for i in everything]
    default = co.ok("GET", "/correction-requests")  # limit 50 by default
    assert set(default) == {"items", "next_cursor"} and len(default["items"]) <= 50


def test_resolve_scope_the_volunteer_403_another_community_404(cw, server):
    r, _ = request(cw, "A")
    body = {"resolution": "declined", "note": "核实无误"}
    problem(cw["vol_api"].req("POST", f"/correction-requests/{r['id']}/resolve", body), 403)
    problem(cw["coords"]["B"].req("POST", f"/correction-requests/{r['id']}/resolve", body), 404)
    problem(cw["coords"]["A"].req("POST", "/correction-requests/999999999/resolve", body), 404)
    assert Api(server).status("POST", f"/correction-requests/{r['id']}/resolve", body) == 401
    still = cw["coords"]["A"].ok("GET", f"/correction-requests?volunteer_id={cw['vol']['id']}&status=open&limit=500")
    assert r["id"] in [i["id"] for i in still["items"]]


def test_resolve_checks_its_body_naming_the_field(cw):
    r, _ = request(cw, "A")
    co, path = cw["coords"]["A"], f"/correction-requests/{r['id']}/resolve"
    problem(co.req("POST", path, {}), 422, "resolution")
    problem(co.req("POST", path, {"resolution": "maybe"}), 422, "resolution")
    problem(co.req("POST", path, {"resolution": 1}), 422, "resolution")
    problem(co.req("POST", path, {"resolution": "declined"}), 422, "note")
    problem(co.req("POST", path, {"resolution": "declined", "note": "  "}), 422, "note")
    problem(co.req("POST", path, {"resolution": "declined", "note": "长" * 2001}), 422, "note")
    resp = co.req("POST", path, {"resolution": "corrected", "extra": 1})
    assert resp.status_code in (400, 422), resp.text
    # none of these changed anything
    item = [i for i in co.ok("GET", f"/correction-requests?volunteer_id={cw['vol']['id']}&limit=500")["items"]
            if i["id"] == r["id"]][0]
    assert item["status"] == "open"


def test_corrected_after_a_patch_links_the_new_entry_and_a_second_resolution_is_409(cw):
    co = cw["coords"]["A"]
    ev = cw["events"]["A"]
    # a real attendance (roster check-in and check-out), reported by the volunteer
    co.ok("POST", f"/events/{ev['id']}/check-ins", {"volunteer_id": cw["vol"]["id"]}, want=201)
    att = co.ok("POST", f"/events/{ev['id']}/check-outs", {"volunteer_id": cw["vol"]["id"]}, want=200)
    old_entry = att["entry"]["id"]
    r = cw["vol_api"].ok("POST", "/correction-requests", {"entry_id": old_entry, "message": "我早到了"}, want=201)
    start = dt.datetime.fromisoformat(att["check_out_at"]) - dt.timedelta(minutes=1)
    fixed = co.ok("PATCH", f"/attendance/{att['id']}", {"check_in_at": start.isoformat(), "reason": "志愿者反映"})
    new_entry = fixed["entry"]["id"]
    assert new_entry != old_entry
    done = co.ok("POST", f"/correction-requests/{r['id']}/resolve", {"resolution": "corrected"})
    assert done["status"] == "resolved" and done["resolution"] == "corrected" and done["note"] is None
    assert done["resolved_entry_id"] == new_entry and done["resolved_at"] and done["resolved_by"]
    assert done["attendance_id"] == att["id"]
    again = problem(co.req("POST", f"/correction-requests/{r['id']}/resolve", {"resolution": "corrected"}), 409)
    assert "resolved" in again["detail"]
    problem(co.req("POST", f"/correction-requests/{r['id']}/resolve", {"resolution": "declined", "note": "x"}), 409)
    # the audit row, written with the change
    audit = cw["admin"].ok("GET", f"/audit?entity=correction_request&entity_id={r['id']}")["items"]
    assert [a["action"] for a in audit] == ["resolve", "create"]
    assert audit[0]["old"]["status"] == "open" and audit[0]["new"]["resolution"] == "corrected"
    # the lists by state
    resolved = co.ok("GET", f"/correction-requests?status=resolved&volunteer_id={cw['vol']['id']}&limit=500")["items"]
    assert r["id"] in [i["id"] for i in resolved] and all(i["status"] == "resolved" for i in resolved)
    still_open = co.ok("GET", f"/correction-requests?status=open&volunteer_id={cw['vol']['id']}&limit=500")["items"]
    assert r["id"] not in [i["id"] for i in still_open] and all(i["status"] == "open" for i in still_open)
    # a new request on the same entry is allowed again once the first is resolved
    cw["vol_api"].ok("POST", "/correction-requests", {"entry_id": new_entry, "message": "再看看"}, want=201)


def test_declined_carries_the_note_the_volunteer_reads(cw):
    r, _ = request(cw, "B", "vol_b", "我没有迟到")
    done = cw["coords"]["B"].ok("POST", f"/correction-requests/{r['id']}/resolve",
                                {"resolution": "declined", "note": "签到记录与现场登记一致"})
    assert done["resolution"] == "declined" and done["note"] == "签到记录与现场登记一致"
    assert done["resolved_entry_id"] is None
    mine = [i for i in cw["vol_b_api"].ok("GET", "/correction-requests?status=resolved")["items"] if i["id"] == r["id"]]
    assert mine and mine[0]["note"] == "签到记录与现场登记一致" and mine[0]["resolution"] == "declined"
    data = cw["vol_b_api"].ok("GET", "/me/data")
    kept = [c for c in data["correction_requests"] if c["id"] == r["id"]]
    assert kept and kept[0]["note"] == "签到记录与现场登记一致"


def test_an_idempotent_retry_answers_the_stored_result(cw):
    r, _ = request(cw, "A")
    co, path = cw["coords"]["A"], f"/correction-requests/{r['id']}/resolve"
    key = {"Idempotency-Key": "res-" + secrets.token_hex(6)}
    body = {"resolution": "declined", "note": "重复提交"}
    first = co.req("POST", path, body, headers=key)
    assert first.status_code == 200, first.text
    second = co.req("POST", path, body, headers=key)
    assert second.status_code == 200 and second.json() == first.json()
    problem(co.req("POST", path, body), 409)

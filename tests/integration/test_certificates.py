"""Certificates of the service record (志愿服务记录证明; sql/0017_certificates.sql,
server/h_certificates.c, server/pages/p_certificate.c): the approved hours of a period,
exactly as GET /volunteers/{id}/hours counts them, split by activity; kept as issued; checked
by anyone holding the link (number and code, also in a QR code); revoked when the volunteer's
personal data is erased.
"""
import datetime as dt
import re
import secrets
import types

import pytest
import requests

import conftest
from apiclient import Api, anonymous, make_staff, make_unit
from test_pages import ESCAPED, EVIL, Browser, check_page, token_of
from test_volunteers import random_id, random_phone

PW = "Cert-pass-" + secrets.token_hex(4)
SH = dt.timezone(dt.timedelta(hours=8))
TIMEOUT = 10


@pytest.fixture(scope="module")
def w(server, pg):
    x = types.SimpleNamespace(server=server, pg=pg)
    sfx = secrets.token_hex(4)
    sa = x.sa = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, name):
        return make_unit(sa, parent, kind, f"ct-{name}-{sfx}", name)

    x.D = unit(None, "district", "证明区" + sfx)
    x.A = unit(unit(x.D, "subdistrict", "S"), "community", "A")
    x.B = unit(x.D, "community", "B")
    x.team = sa.ok("POST", "/teams", {"name": "文明交通队" + EVIL, "org_unit_id": x.A}, want=201)["id"]
    x.now = dt.datetime.now(SH).replace(microsecond=0)
    x.events = []
    for title in ("交通文明岗" + EVIL, "垃圾分类宣传"):
        start = x.now - dt.timedelta(hours=50)
        act = sa.ok("POST", "/activities", {
            "team_id": x.team, "org_unit_id": x.A, "title": title, "category": "文明",
            "location": "路口", "capacity": 100, "starts_at": start.isoformat(),
            "ends_at": (x.now + dt.timedelta(hours=2)).isoformat()}, want=201)
        x.events.append(sa.ok("GET", f"/activities/{act['id']}/events")["items"][0]["id"])

    x.coord = make_staff(sa, f"ct-coord-a-{sfx}", PW, {"role": "coordinator", "org_unit_id": x.A})
    x.coord_b = make_staff(sa, f"ct-coord-b-{sfx}", PW, {"role": "coordinator", "org_unit_id": x.B})
    x.admin = make_staff(sa, f"ct-admin-{sfx}", PW, {"role": "admin", "org_unit_id": x.D})
    return x


def served(w, vid, event, start, minutes, approve=True):
    """An entry of `minutes` from `start`, backfilled by the coordinator (and approved)."""
    e = w.coord.ok("POST", "/hours", {"volunteer_id": vid, "event_id": event, "started_at": start.isoformat(),
                                      "ended_at": (start + dt.timedelta(minutes=minutes)).isoformat(),
                                      "reason": "补录"}, want=201)
    if approve and e["status"] == "pending":
        w.coord.ok("POST", f"/hours/{e['id']}/approve", {})
    return e


def volunteer(w):
    body = {"name": "证明" + EVIL, "phone": random_phone(), "org_unit_id": w.A, "id_number": random_id(),
            "consent_id_number": True, "password": PW}
    v = anonymous(w.server).ok("POST", "/volunteers", body, want=201)
    return v, body, Api(w.server, body["phone"], PW)


def with_service(w):
    """A volunteer with approved service on two days and two activities, and a pending entry."""
    v, body, me = volunteer(w)
    # At set hours of the day before yesterday and of yesterday (all within the events, which
    # began 50 hours before w.now), so that no entry crosses midnight, whenever the test runs:
    # 90 minutes from w.now - 48 h did between 22:30 and midnight, Beijing time, and split.
    today = w.now.date()
    day1 = dt.datetime.combine(today - dt.timedelta(days=2), dt.time(22, 0), SH)
    day2 = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(10, 0), SH)
    served(w, v["id"], w.events[0], day1, 90)
    served(w, v["id"], w.events[0], day2, 45)
    served(w, v["id"], w.events[1], day2 + dt.timedelta(hours=2), 60)
    served(w, v["id"], w.events[1], day2 + dt.timedelta(hours=4), 30, approve=False)
    return v, body, me, day1.date(), day2.date()


def test_a_certificate_states_the_approved_hours_and_checks_out(w):
    v, body, me, day1, day2 = with_service(w)
    want = me.ok("GET", f"/volunteers/{v['id']}/hours")["totals"]
    c = me.ok("POST", "/me/certificates", {}, want=201)
    assert re.fullmatch(r"VC\d{11,}", c["number"]) and c["status"] == "valid"
    assert c["service"]["approved_minutes"] == want["approved_minutes"] == 195
    assert c["service"]["approved_hours"] == want["approved_hours"] == "3.25"
    assert sum(line["minutes"] for line in c["service"]["lines"]) == 195  # pending not counted
    assert sorted((line["activity"], line["sessions"], line["hours"]) for line in c["service"]["lines"]) == [
        ("交通文明岗" + EVIL, 1, "2.25"), ("垃圾分类宣传", 1, "1.00")]
    assert c["volunteer"] == {"name": body["name"], "volunteer_no": v["volunteer_no"], "id_number": v["id_number"]}
    assert body["id_number"] not in str(c) and "*" in c["volunteer"]["id_number"]
    assert c["issuer"]["org_unit_id"] == w.D and c["period"] == {"from": None, "to": None}
    assert c["url"] == w.server.url(f"/certificates/{c['number']}?c={c['code']}")
    assert me.ok("GET", "/me/certificates")["items"] == [c]
    mine = me.ok("GET", "/me/data")["certificates"]  # the copy of one's data holds it (no url)
    assert mine == [{k: x for k, x in c.items() if k != "url"}]

    # Anyone holding the link checks it: no log-in, the content as issued, escaped.
    r = requests.get(c["url"], timeout=TIMEOUT)
    html = check_page(r)
    assert r.headers["X-Robots-Tag"] == "noindex" and r.headers["Cache-Control"] == "no-store"
    assert c["number"] in html and v["volunteer_no"] in html and v["id_number"] in html
    assert ESCAPED in html and "3.25" in html and "证明区" in html and "<svg" in html
    assert 'id="cert-status"' in html and "此证明有效" in html
    for bad in (f"/certificates/{c['number']}?c={'0' * 32}", f"/certificates/{c['number']}",
                f"/certificates/VC2026999999999?c={c['code']}"):
        assert requests.get(w.server.url(bad), timeout=TIMEOUT).status_code == 404

    # Later approvals do not change what was issued; a new certificate counts them.  (At a set
    # hour of yesterday, clear of with_service's entries: 15 minutes from w.now - 30 h met its
    # 22:00 entry of the day before yesterday when the test ran between 03:30 and 04:00.)
    served(w, v["id"], w.events[1], dt.datetime.combine(day2, dt.time(16, 0), SH), 15)
    assert requests.get(c["url"], timeout=TIMEOUT).text.count("3.25") >= 1
    assert me.ok("POST", "/me/certificates", {}, want=201)["service"]["approved_hours"] == "3.50"


def test_a_period_counts_its_days_only(w):
    v, _, me, day1, day2 = with_service(w)
    c = me.ok("POST", "/me/certificates", {"from": str(day2), "to": str(day2)}, want=201)
    want = me.ok("GET", f"/volunteers/{v['id']}/hours?from={day2}&to={day2}")["totals"]
    assert c["service"]["approved_minutes"] == want["approved_minutes"] == 105
    assert c["period"] == {"from": str(day2), "to": str(day2)}
    c = me.ok("POST", "/me/certificates", {"to": str(day1)}, want=201)
    assert c["service"]["approved_minutes"] == 90 and c["period"] == {"from": None, "to": str(day1)}

    def refused(body, status, field=None):
        r = me.req("POST", "/me/certificates", body)
        assert r.status_code == status and "problem+json" in r.headers["Content-Type"], r.text
        if field:
            assert [e["field"] for e in r.json()["errors"]] == [field], r.text

    refused({"from": "2026-02-30"}, 422, "from")
    refused({"to": "tomorrow"}, 422, "to")
    refused({"from": str(day2), "to": str(day1)}, 422, "to")
    refused({"from": 2026}, 422, "from")
    refused({"volunteer_id": v["id"]}, 422, "volunteer_id")
    refused({"from": "2000-01-01", "to": "2000-12-31"}, 409)  # nothing to certify
    assert len(me.ok("GET", "/me/certificates")["items"]) == 2
    nobody, _, fresh = volunteer(w)
    r = fresh.req("POST", "/me/certificates", {})
    assert r.status_code == 409


def test_staff_issue_one_for_a_volunteer_in_scope(w):
    v, _, me, _, _ = with_service(w)
    c = w.coord.ok("POST", f"/volunteers/{v['id']}/certificates", {}, want=201)
    assert c["service"]["approved_minutes"] == 195 and c["volunteer_id"] == v["id"]
    assert [i["number"] for i in me.ok("GET", "/me/certificates")["items"]] == [c["number"]]
    assert w.coord_b.status("POST", f"/volunteers/{v['id']}/certificates", {}) == 404
    assert me.status("POST", f"/volunteers/{v['id']}/certificates", {}) == 403
    staff = w.coord.req("POST", "/me/certificates", {})
    assert staff.status_code == 409  # no volunteer record of their own
    assert w.coord.ok("GET", "/me/certificates") == {"items": []}
    audit = w.pg.sql(f"SELECT account_id, new ->> 'number' FROM audit_log WHERE action = 'issue' "
                     f"AND entity = 'certificate' AND entity_id = {c['id']}").strip()
    assert audit == f"{w.coord.account['id']}|{c['number']}"


def test_the_pages_issue_list_and_print_a_certificate(w):
    v, body, _, day1, day2 = with_service(w)
    b = Browser(w.server)
    r = b.get("/me/certificates")
    assert r.status_code == 303 and r.headers["Location"] == "/me?next=%2Fme%2Fcertificates"
    html = check_page(b.get("/me"))
    assert b.post("/me", {"_t": token_of(html), "action": "login", "phone": body["phone"],
                          "password": PW}).status_code == 303
    assert 'href="/me/certificates"' in check_page(b.get("/me"))
    html = check_page(b.get("/me/certificates"))
    assert 'id="no-certs"' in html and 'type="date"' in html
    html = check_page(b.post("/me/certificates", {"_t": token_of(html), "from": "2000-01-01", "to": "2000-01-31"}),
                      status=409)
    assert 'role="alert"' in html and "这段时间内没有已确认的服务时长" in html
    html = check_page(b.post("/me/certificates", {"_t": token_of(html), "from": str(day2), "to": str(day1)}),
                      status=422)
    assert "截止日期不能早于起始日期" in html and f'value="{day2}"' in html  # the dates kept
    r = b.post("/me/certificates", {"_t": token_of(html), "from": str(day2)})
    assert r.status_code == 303 and r.headers["Location"].startswith("/certificates/VC"), r.text
    html = check_page(b.get(r.headers["Location"]))
    assert "志愿服务记录证明" in html and "1.75" in html and ESCAPED in html and 'id="print"' in html
    for part in ("一、志愿者信息", "二、服务信息", "三、出具单位", "四、其他", "盖章"):
        assert part in html
    listed = check_page(b.get("/me/certificates"))
    assert r.headers["Location"].replace("&", "&amp;") in listed or r.headers["Location"] in listed
    assert "1.75" in listed and 'id="no-certs"' not in listed
    # the form needs its token
    assert b.post("/me/certificates", {"_t": "forged", "from": str(day2)}).status_code == 403
    en = check_page(b.get(r.headers["Location"] + "&lang=en"))
    assert "Certificate of volunteer service record" in en


def test_an_administrator_revokes_a_certificate_with_a_reason(w):
    v, _, me, _, _ = with_service(w)
    c = me.ok("POST", "/me/certificates", {}, want=201)
    for who, body, status in ((w.coord, {"reason": "记录有误"}, 403), (me, {"reason": "不要了"}, 403),
                              (w.admin, {}, 422), (w.admin, {"reason": "   "}, 422),
                              (w.admin, {"reason": "x", "when": "now"}, 422)):
        r = who.req("POST", f"/certificates/{c['id']}/revoke", body)
        assert r.status_code == status and "problem+json" in r.headers["Content-Type"], r.text
    assert w.admin.status("POST", "/certificates/99999999999/revoke", {"reason": "x"}) == 404
    assert "此证明有效" in requests.get(c["url"], timeout=TIMEOUT).text

    got = w.admin.ok("POST", f"/certificates/{c['id']}/revoke", {"reason": "服务记录有误" + EVIL})
    assert got["status"] == "revoked" and got["revoke_reason"] == "服务记录有误" + EVIL
    assert got["service"] == c["service"] and got["url"] == c["url"]  # the content stays as issued
    again = w.admin.ok("POST", f"/certificates/{c['id']}/revoke", {"reason": "另一个原因"})
    assert again["revoke_reason"] == got["revoke_reason"] and again["revoked_at"] == got["revoked_at"]
    html = check_page(requests.get(c["url"], timeout=TIMEOUT))
    assert "此证明已撤销" in html and '<span id="cert-reason">服务记录有误' + ESCAPED in html
    assert [i["status"] for i in me.ok("GET", "/me/certificates")["items"]] == ["revoked"]
    assert w.pg.sql(f"SELECT count(*) FROM audit_log WHERE action = 'revoke' AND entity = 'certificate' "
                    f"AND entity_id = {c['id']}").strip() == "1"


def test_erasure_revokes_the_certificates(w):
    v, body, me, _, _ = with_service(w)
    c = me.ok("POST", "/me/certificates", {}, want=201)
    Api(w.server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).ok("DELETE", f"/volunteers/{v['id']}")
    html = check_page(requests.get(c["url"], timeout=TIMEOUT))
    assert "此证明已撤销" in html and v["volunteer_no"] in html
    assert "证明" + ESCAPED not in html and v["id_number"] not in html  # the name, the masked ID
    row = w.pg.sql(f"SELECT revoked_at IS NOT NULL, content -> 'volunteer' FROM certificates WHERE id = {c['id']}")
    assert row.strip() == f'''t|{{"volunteer_no": "{v['volunteer_no']}"}}'''

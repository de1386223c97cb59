"""Erasure of a volunteer's personal data on request (PIPL Art. 47; sql/0018_erasure.sql):
by an administrator (DELETE /api/v1/volunteers/{id}) or by the volunteer, confirmed with the
password (POST /api/v1/me/erase).  The personal fields go, from the record, the account, the
sessions and the audit trail's snapshots; the hours and every report figure stay, under the
volunteer number.
"""
import datetime as dt
import secrets
import types

import pytest
import requests

import conftest
from apiclient import Api, anonymous, make_staff, make_unit
from test_volunteers import random_id, random_phone

PW = "Erase-pass-" + secrets.token_hex(4)
SH = dt.timezone(dt.timedelta(hours=8))
TIMEOUT = 10


@pytest.fixture(scope="module")
def w(server, pg):
    x = types.SimpleNamespace(server=server, pg=pg)
    x.sfx = sfx = secrets.token_hex(4)
    sa = x.sa = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, name):
        return make_unit(sa, parent, kind, f"er-{name}-{sfx}", name)

    x.D = unit(None, "district", "D")
    x.S1, x.S2 = unit(x.D, "subdistrict", "S1"), unit(x.D, "subdistrict", "S2")
    x.A = unit(x.S1, "community", "A")
    x.team = sa.ok("POST", "/teams", {"name": "注销测试队", "org_unit_id": x.A}, want=201)["id"]

    def staff(name, grant):
        return make_staff(sa, f"er-{name}-{sfx}", PW, grant)

    x.admin = staff("admin-s1", {"role": "admin", "org_unit_id": x.S1})
    x.admin_other = staff("admin-s2", {"role": "admin", "org_unit_id": x.S2})
    x.coord = staff("coord-a", {"role": "coordinator", "org_unit_id": x.A})
    start = dt.datetime.now(SH).replace(microsecond=0) - dt.timedelta(hours=3)
    act = x.coord.ok("POST", "/activities", {
        "team_id": x.team, "org_unit_id": x.A, "title": "垃圾分类宣传", "category": "环境",
        "location": "社区广场", "capacity": 100, "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=6)).isoformat()}, want=201)
    x.event = x.coord.ok("GET", f"/activities/{act['id']}/events")["items"][0]["id"]
    later = start + dt.timedelta(days=3)
    act = x.coord.ok("POST", "/activities", {
        "team_id": x.team, "org_unit_id": x.A, "title": "敬老院探访", "category": "助老",
        "location": "敬老院", "capacity": 1, "starts_at": later.isoformat(),
        "ends_at": (later + dt.timedelta(hours=2)).isoformat()}, want=201)
    x.future = x.coord.ok("GET", f"/activities/{act['id']}/events")["items"][0]["id"]
    x.month = start.strftime("%Y-%m")
    return x


def address(v):
    """The address recorded with the volunteer's check-in: one of their own (documentation
    prefix), so that a trace of it is theirs."""
    return f"2001:db8::{v['id']:x}:1"


def registered(w):
    """A self-registered volunteer with every personal field, a team membership, two hours of
    service (checked in and out by themselves, so their address is recorded) and a session."""
    body = {"name": "注销" + secrets.token_hex(2), "phone": random_phone(), "org_unit_id": w.A,
            "id_number": random_id(), "consent_id_number": True, "gender": "female", "birth_date": "1990-05-06",
            "work_unit": "区图书馆" + secrets.token_hex(2), "skills": ["急救"], "password": PW}
    v = anonymous(w.server).ok("POST", "/volunteers", body, want=201)
    w.coord.ok("POST", f"/teams/{w.team}/members", {"volunteer_id": v["id"]}, want=201)
    me = Api(w.server, body["phone"], PW)
    att = w.coord.ok("POST", f"/events/{w.event}/check-ins", {"volunteer_id": v["id"]}, want=201)
    w.pg.sql(f"UPDATE attendances SET check_in_at = now() - interval '2 hours', ip = '{address(v)}' "
             f"WHERE id = {att['id']}")
    out = w.coord.ok("POST", f"/events/{w.event}/check-outs", {"volunteer_id": v["id"]}, want=200)
    if out["entry"]["status"] == "pending":
        w.coord.ok("POST", f"/hours/{out['entry']['id']}/approve", {})
    return v, body, me


def figures(w, vid):
    """What the erasure must not change: the volunteer's hours and the month's reports."""
    return (w.coord.ok("GET", f"/volunteers/{vid}/hours")["totals"],
            w.sa.ok("GET", f"/reports/monthly?month={w.month}&by=org_unit&under={w.D}&format=json"),
            w.sa.ok("GET", f"/reports/monthly?month={w.month}&by=team&under={w.D}"))


def personal_traces(w, v, body):
    """Every place the personal data could still be: the record, the account, sessions, and
    any audit row or attendance that mentions the name, phone, address or the masked ID."""
    vid = v["id"]
    return w.pg.sql(f"""
        SELECT 'volunteer', id FROM volunteers
         WHERE id = {vid} AND (phone IS NOT NULL OR id_number_enc IS NOT NULL OR id_number_hmac IS NOT NULL
                OR id_number_masked IS NOT NULL OR gender IS NOT NULL OR birth_date IS NOT NULL
                OR work_unit IS NOT NULL OR skills <> '{{}}' OR name <> volunteer_no)
        UNION ALL SELECT 'account', id FROM accounts WHERE volunteer_id = {vid} AND (NOT disabled OR login = '{body['phone']}')
        UNION ALL SELECT 'session', 1 FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE a.volunteer_id = {vid}
        UNION ALL SELECT 'attendance', id FROM attendances WHERE volunteer_id = {vid} AND ip IS NOT NULL
        UNION ALL SELECT 'audit:' || action || ':' || entity || ':' || concat(old::text, new::text), id FROM audit_log
         WHERE concat(old::text, new::text, host(ip)) LIKE ANY (ARRAY['%{body['name']}%', '%{body['phone']}%',
                '%{v['id_number']}%', '%{address(v)}%', '%{body['work_unit']}%'])
        UNION ALL SELECT 'audit-ip', l.id FROM audit_log l JOIN accounts a ON a.id = l.account_id
         WHERE a.volunteer_id = {vid} AND l.ip IS NOT NULL
        UNION ALL SELECT 'correction request', id FROM correction_requests
         WHERE volunteer_id = {vid} AND concat(message, note) LIKE ANY (ARRAY['%{body['name']}%',
                '%{body['phone']}%'])""").splitlines()


def test_an_administrator_erases_the_personal_data_and_the_hours_stay(w):
    v, body, me = registered(w)
    assert me.status("GET", "/me") == 200
    assert personal_traces(w, v, body)  # the helper sees the data before
    # v holds the one place of an event still to come; another waits for it
    assert me.ok("POST", f"/events/{w.future}/signups", {}, want=201)["status"] == "confirmed"
    waiting = anonymous(w.server).ok("POST", "/volunteers", {"name": "候补", "phone": random_phone(),
                                                             "org_unit_id": w.A}, want=201)["id"]
    assert w.coord.ok("POST", f"/events/{w.future}/signups", {"volunteer_id": waiting},
                      want=201)["status"] == "waitlisted"
    # a correction request in their own words, declined with a note that names them
    entry = me.ok("GET", f"/volunteers/{v['id']}/hours")["entries"][0]
    req = me.ok("POST", "/correction-requests", {"entry_id": entry["id"],
                                                 "message": f"我是{body['name']}，电话{body['phone']}"}, want=201)
    w.coord.ok("POST", f"/correction-requests/{req['id']}/resolve",
               {"resolution": "declined", "note": f"{body['name']}您好，记录无误"})
    before = figures(w, v["id"])

    r = w.admin.req("DELETE", f"/volunteers/{v['id']}")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "erased" and got["name"] == v["volunteer_no"] == got["volunteer_no"]
    assert got["phone"] is None and got["id_number"] is None and got["gender"] is None
    assert got["work_unit"] is None and got["skills"] == [] and got["birth_date"] is None
    assert got["teams"] == [{"team_id": w.team, "role": "member"}]
    assert personal_traces(w, v, body) == []
    for _ in range(4):  # refused by every worker at once
        assert me.status("GET", "/me") == 401
    assert requests.post(w.server.url("/api/v1/session"), json={"login": body["phone"], "password": PW},
                         timeout=TIMEOUT).status_code == 401
    assert figures(w, v["id"]) == before
    signups = {s["volunteer_id"]: s["signup"]
               for s in w.coord.ok("GET", f"/events/{w.future}/attendance")["items"]}
    assert signups.get(waiting) == "confirmed" and v["id"] not in signups, signups

    # The export of the month lists the volunteer under the number, with nothing personal.
    csv = w.sa.req("GET", f"/reports/volunteers?month={w.month}&under={w.D}&format=csv").text
    line = next(ln for ln in csv.splitlines() if v["volunteer_no"] in ln)
    assert body["name"] not in csv and body["phone"] not in csv and body["work_unit"] not in line

    # Frozen: nothing brings personal data back; erasing again changes nothing.
    r = w.admin.req("PATCH", f"/volunteers/{v['id']}", {"name": "复活"})
    assert r.status_code == 409 and "problem+json" in r.headers["Content-Type"], r.text
    assert w.admin.ok("DELETE", f"/volunteers/{v['id']}") == got
    assert w.pg.sql(f"SELECT count(*) FROM audit_log WHERE action = 'erase' AND entity_id = {v['id']}").strip() == "1"

    # The phone and the ID number are free again: the person may register anew.
    again = anonymous(w.server).ok("POST", "/volunteers", dict(body, name="重新登记"), want=201)
    assert again["id"] != v["id"] and again["phone"] == body["phone"]


def test_an_erased_volunteer_takes_no_new_service(w):
    """No check-in by roster, no backfill, no team to join, no sign-up (0024; sign-ups since
    0005); a correction of what was recorded before stays possible."""
    v, body, me = registered(w)
    entry = w.coord.ok("GET", f"/volunteers/{v['id']}/hours")["entries"][0]
    w.admin.ok("DELETE", f"/volunteers/{v['id']}")
    other_team = w.sa.ok("POST", "/teams", {"name": "另一队", "org_unit_id": w.A}, want=201)["id"]
    # within the event, before the attendance of registered(): no overlap to refuse it first
    start = dt.datetime.now(SH).replace(microsecond=0) - dt.timedelta(minutes=160)
    refusals = [
        ("POST", f"/events/{w.event}/check-ins", {"volunteer_id": v["id"]}),
        ("POST", f"/events/{w.future}/signups", {"volunteer_id": v["id"]}),
        ("POST", f"/teams/{other_team}/members", {"volunteer_id": v["id"]}),
        ("POST", "/hours", {"volunteer_id": v["id"], "event_id": w.event, "reason": "补录",
                            "started_at": start.isoformat(),
                            "ended_at": (start + dt.timedelta(minutes=30)).isoformat()}),
    ]
    for method, path, payload in refusals:
        r = w.coord.req(method, path, payload)
        assert r.status_code == 409, (path, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json().get("errors", [])] == ["volunteer_id"], r.text
    # a live volunteer checked in in the same request as the erased one is not held back
    live = anonymous(w.server).ok("POST", "/volunteers", {"name": "在册", "phone": random_phone(),
                                                          "org_unit_id": w.A}, want=201)["id"]
    assert w.coord.ok("POST", f"/events/{w.event}/check-ins", {"volunteer_id": live}, want=201)
    # what was recorded before can still be put right
    att = entry["attendance_id"]
    fixed = w.coord.ok("PATCH", f"/attendance/{att}",
                       {"check_out_at": entry["ended_at"].replace("Z", "+00:00"), "reason": "更正签退"})
    assert fixed["id"] == att


def test_who_may_erase(w):
    v, body, me = registered(w)
    assert me.status("DELETE", f"/volunteers/{v['id']}") == 403  # oneself: POST /me/erase
    assert w.coord.status("DELETE", f"/volunteers/{v['id']}") == 403
    assert w.admin_other.status("DELETE", f"/volunteers/{v['id']}") == 404
    assert anonymous(w.server).status("DELETE", f"/volunteers/{v['id']}") == 401
    assert w.admin.status("DELETE", "/volunteers/99999999999") == 404
    assert w.admin.status("DELETE", "/volunteers/x") == 404
    assert me.status("GET", "/me") == 200 and len(personal_traces(w, v, body)) > 3

    # A volunteer who is also staff keeps the record until the roles are revoked.
    grant = w.admin.ok("POST", f"/accounts/{me.account['id']}/roles",
                       {"role": "coordinator", "org_unit_id": w.A}, want=201)
    r = w.admin.req("DELETE", f"/volunteers/{v['id']}")
    assert r.status_code == 409 and "roles" in r.json()["detail"], r.text
    assert w.admin.ok("GET", f"/volunteers/{v['id']}")["phone"] == body["phone"]
    # What they did to others as staff keeps the others' records in the audit trail.
    other, other_body, _ = registered(w)
    me.ok("PATCH", f"/volunteers/{other['id']}", {"work_unit": "街道办" + secrets.token_hex(2)})
    w.admin.ok("DELETE", f"/accounts/{me.account['id']}/roles/{grant['id']}", want=204)
    assert w.admin.ok("DELETE", f"/volunteers/{v['id']}")["status"] == "erased"
    assert personal_traces(w, v, body) == []
    kept = w.pg.sql(f"SELECT new ->> 'name', new ->> 'phone', host(ip) IS NULL FROM audit_log "
                    f"WHERE entity = 'volunteer' AND entity_id = {other['id']} AND action = 'update' "
                    f"AND account_id = {me.account['id']}").strip()
    assert kept == f"{other_body['name']}|{other_body['phone']}|t"


def test_a_volunteer_erases_their_own_data_with_their_password(w):
    v, body, me = registered(w)
    other_device = Api(w.server, body["phone"], PW, tls=True)
    before = figures(w, v["id"])

    r = me.req("POST", "/me/erase", {"current_password": "wrong-password-1"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "current_password", r.text
    for bad in ({}, {"current_password": PW, "confirm": True}):
        r = me.req("POST", "/me/erase", bad)
        assert r.status_code in (400, 422) and "problem+json" in r.headers["Content-Type"], r.text
    assert me.status("GET", "/me") == 200
    assert w.pg.sql(f"SELECT status FROM volunteers WHERE id = {v['id']}").strip() == "active"

    r = me.req("POST", "/me/erase", {"current_password": PW})
    assert r.status_code == 200, r.text
    assert r.json() == {"volunteer_no": v["volunteer_no"], "erased": True}
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    for _ in range(4):
        assert me.status("GET", "/me") == 401 and other_device.status("GET", "/me") == 401
    assert personal_traces(w, v, body) == []
    assert figures(w, v["id"]) == before
    erase = w.pg.sql(f"SELECT account_id, coalesce(host(ip), '-') FROM audit_log "
                     f"WHERE action = 'erase' AND entity_id = {v['id']}").strip()
    assert erase == f"{me.account['id']}|-"  # who did it is kept; from where, not


def test_erasing_oneself_needs_a_volunteer_record(w):
    login = f"er-staff-{secrets.token_hex(3)}"
    w.sa.ok("POST", "/accounts", {"login": login, "password": PW}, want=201)
    staff = Api(w.server, login, PW)
    r = staff.req("POST", "/me/erase", {"current_password": PW})
    assert r.status_code == 409 and "problem+json" in r.headers["Content-Type"], r.text
    assert staff.status("GET", "/me") == 200
    assert anonymous(w.server).status("POST", "/me/erase", {"current_password": PW}) == 401


def test_the_audit_trail_stays_append_only_outside_the_erasure(w):
    import psycopg2
    row = w.pg.sql("SELECT max(id) FROM audit_log").strip()
    for erasing in (False, True):
        for sql in (f"UPDATE audit_log SET new = NULL WHERE id = {row}",
                    f"UPDATE audit_log SET action = 'x' WHERE id = {row}",
                    f"DELETE FROM audit_log WHERE id = {row}"):
            if not erasing and "action" in sql:
                continue
            if erasing and "new = NULL" in sql:
                continue  # the one change the erasure makes
            conn = w.pg.connect()
            try:
                with pytest.raises(psycopg2.Error, match="append-only"):
                    with conn.cursor() as cur:
                        if erasing:
                            cur.execute("SET LOCAL vd.erasing = 'on'")
                        cur.execute(sql)
            finally:
                conn.rollback()
                conn.close()

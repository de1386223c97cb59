"""The staff pages (/console, its roster and QR poster, /admin) over plain HTTP: security
headers, markup injected into event titles, team and unit names and volunteer names comes back
escaped, pages stay under 30 KB (the chart library is a separate static file), scope (a
coordinator of community A sees nothing of community B), the forms (roster check-in and
check-out, bulk approval, a weekly activity) go through the API's rules once per token, and
the downloads are the API's exports."""
import datetime as dt
import io
import os
import re
import secrets
import zipfile

import pytest
import requests

import conftest
from apiclient import Api

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TZ = dt.timezone(dt.timedelta(hours=8))
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
EVIL = "<script>alert(\"x\")</script>&'\">"
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&quot;&gt;"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def evil(label):
    return f"{label}{EVIL}"


def tokens(html):
    return re.findall(r'name="_t" value="([^"]+)"', html)


def check_page(resp, *, status=200):
    assert resp.status_code == status, resp.text[:500]
    h = resp.headers
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert h["Content-Security-Policy"] == CSP
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    assert len(resp.content) < 30 * 1024, f"{resp.url}: {len(resp.content)} bytes"
    assert EVIL not in resp.text and "<script>alert" not in resp.text
    # only our own external scripts: no inline script, no inline style
    assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)", resp.text) == []
    assert " style=" not in resp.text and "<style" not in resp.text
    return resp.text


class Browser:
    """A cookie jar that posts forms the way a browser does (Origin header, no redirects)."""

    def __init__(self, server, login=None, password=None):
        self.server = server
        self.s = requests.Session()
        self.origin = server.url("").rstrip("/")
        if login:
            r = self.s.post(server.url("/api/v1/session"), json={"login": login, "password": password},
                            timeout=10)
            assert r.status_code == 201, r.text

    def get(self, path, **kw):
        return self.s.get(self.server.url(path), timeout=30, allow_redirects=False, **kw)

    def post(self, path, data, **kw):
        headers = {"Origin": self.origin, **kw.pop("headers", {})}
        return self.s.post(self.server.url(path), data=data, headers=headers, timeout=30,
                           allow_redirects=False, **kw)


@pytest.fixture(scope="module")
def world(server):
    """Two communities: A, whose every name holds markup, with an event under way, a signed-up
    volunteer and a pending entry; B with its own coordinator and event."""
    tag = secrets.token_hex(3)
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, code, name):
        return admin.ok("POST", "/org-units", {"parent_id": parent, "kind": kind, "code": f"{code}-{tag}",
                                               "name": name}, want=201)

    district = unit(None, "district", "SD", evil("区"))
    sub = unit(district["id"], "subdistrict", "SS", evil("街道"))
    comm_a = unit(sub["id"], "community", "SA", evil("社区甲"))
    comm_b = unit(sub["id"], "community", "SB", "乙社区")
    team_a = admin.ok("POST", "/teams", {"name": evil("队"), "org_unit_id": comm_a["id"]}, want=201)
    team_b = admin.ok("POST", "/teams", {"name": "乙队", "org_unit_id": comm_b["id"]}, want=201)

    def coordinator(name, unit_id):
        acc = admin.ok("POST", "/accounts", {"login": f"{name}-{tag}", "password": "Coord-pass-123"}, want=201)
        admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "org_unit_id": unit_id},
                 want=201)
        return Api(server, f"{name}-{tag}", "Coord-pass-123"), f"{name}-{tag}"

    co_a, login_a = coordinator("sca", comm_a["id"])
    co_b, login_b = coordinator("scb", comm_b["id"])
    now = dt.datetime.now(TZ).replace(microsecond=0)

    def event(co, team, unit_id, title):
        act = co.ok("POST", "/activities", {
            "team_id": team["id"], "org_unit_id": unit_id, "title": title, "category": evil("类"),
            "location": evil("东门"), "capacity": 10,
            "starts_at": (now - dt.timedelta(minutes=10)).isoformat(),
            "ends_at": (now + dt.timedelta(hours=2)).isoformat()}, want=201)
        return co.ok("GET", f"/activities/{act['id']}/events")["items"][0]

    ev_a = event(co_a, team_a, comm_a["id"], evil("甲岗"))
    ev_a2 = event(co_a, team_a, comm_a["id"], "甲岗二")
    ev_b = event(co_b, team_b, comm_b["id"], f"乙岗-{tag}")

    def volunteer(name, n):
        phone = f"135{(int(tag, 16) * 10 + n) % 100000000:08d}"
        return Api(server).ok("POST", "/volunteers", {
            "name": name, "phone": phone, "org_unit_id": comm_a["id"], "password": "Vol-pass-" + tag},
            want=201)

    vol = volunteer(evil("张"), 1)
    vol2 = volunteer("李四", 2)
    vol3 = volunteer(evil("王"), 3)
    for v in (vol, vol2):
        co_a.ok("POST", f"/events/{ev_a['id']}/signups", {"volunteer_id": v["id"]}, want=(200, 201))
    # a pending backfill for the approval list (a volunteer of its own: no overlap with the
    # roster test's attendance)
    co_a.ok("POST", f"/events/{ev_a2['id']}/check-ins", {"volunteer_id": vol2["id"]}, want=201)
    co_a.ok("POST", f"/events/{ev_a2['id']}/check-outs", {"volunteer_id": vol2["id"]}, want=200)
    entry = co_a.ok("POST", "/hours", {
        "volunteer_id": vol3["id"], "event_id": ev_a2["id"],
        "started_at": (now - dt.timedelta(minutes=9)).isoformat(),
        "ended_at": (now - dt.timedelta(minutes=1)).isoformat(), "reason": evil("补录")}, want=201)
    return {"admin": admin, "co_a": co_a, "login_a": login_a, "co_b": co_b, "login_b": login_b,
            "ev_a": ev_a, "ev_a2": ev_a2, "ev_b": ev_b, "vol": vol, "vol2": vol2, "vol3": vol3, "entry": entry,
            "comm_a": comm_a, "comm_b": comm_b, "sub": sub, "district": district, "tag": tag}


def test_console_needs_a_staff_login(server, world):
    r = Browser(server).get("/console")
    assert r.status_code == 303 and r.headers["Location"].startswith("/me?next=")
    r = Browser(server).get("/admin")
    assert r.status_code == 303
    vol_login = f"135{(int(world['tag'], 16) * 10 + 2) % 100000000:08d}"
    b = Browser(server, vol_login, "Vol-pass-" + world["tag"])
    check_page(b.get("/console"), status=403)
    check_page(b.get("/admin"), status=403)
    check_page(b.get(f"/console/events/{world['ev_a']['id']}"), status=403)


def test_console_escapes_and_keeps_to_scope(server, world):
    b = Browser(server, world["login_a"], "Coord-pass-123")
    html = check_page(b.get("/console"))
    print(f"/console: {len(html.encode())} bytes")
    assert ESCAPED in html
    assert "甲岗" + ESCAPED in html  # the title
    assert "王" + ESCAPED in html  # the pending entry's volunteer
    assert "乙岗" not in html  # community B's event
    assert f'value="{world["entry"]["id"]}"' in html
    # B's coordinator sees B's event and nothing of A
    b2 = Browser(server, world["login_b"], "Coord-pass-123")
    html = check_page(b2.get("/console"))
    assert f"乙岗-{world['tag']}" in html and "甲岗" not in html and "王" not in html
    check_page(b2.get(f"/console/events/{world['ev_a']['id']}"), status=404)
    check_page(b2.get(f"/console/events/{world['ev_a']['id']}/poster"), status=404)
    # English
    html = check_page(b.get("/console?lang=en"))
    assert "Coordinator console" in html and 'lang="en"' in html


def test_roster_check_in_and_out_once_per_token(server, world):
    b = Browser(server, world["login_a"], "Coord-pass-123")
    path = f"/console/events/{world['ev_a']['id']}"
    html = check_page(b.get(path))
    assert "张" + ESCAPED in html and "甲岗" + ESCAPED in html
    row = re.search(r'<tr data-volunteer="%d">.*?</tr>' % world["vol"]["id"], html).group(0)
    tok = tokens(row)[0]
    form = {"_t": tok, "action": "in", "volunteer_id": str(world["vol"]["id"])}
    r = b.post(path, form)
    assert r.status_code == 303 and r.headers["Location"] == path + "?done=in"
    r = b.post(path, form)  # a double tap: the stored answer, no second attendance
    assert r.status_code == 303
    roster = world["co_a"].ok("GET", f"/events/{world['ev_a']['id']}/attendance")
    assert roster["counts"]["on_post"] == 1
    html = check_page(b.get(path + "?done=in"))
    assert 'id="n-on_post">1<' in html
    row = re.search(r'<tr data-volunteer="%d">.*?</tr>' % world["vol"]["id"], html).group(0)
    assert 'value="out"' in row
    r = b.post(path, {"_t": tokens(row)[0], "action": "out", "volunteer_id": str(world["vol"]["id"])})
    assert r.status_code == 303 and r.headers["Location"] == path + "?done=out"
    roster = world["co_a"].ok("GET", f"/events/{world['ev_a']['id']}/attendance")
    assert roster["counts"]["done"] == 1 and roster["counts"]["on_post"] == 0
    # a forged token and a foreign origin are refused
    check_page(b.post(path, {"_t": "x" * 63, "action": "in", "volunteer_id": "1"}), status=403)
    r = b.post(path, {"_t": tok, "action": "in", "volunteer_id": "1"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403


def test_walk_in_found_by_phone_or_volunteer_number(server, world):
    """Someone not on the list (here a volunteer of community B, not signed up) is checked in
    from the roster's walk-in form by phone, volunteer number or ID number, with the event's walk-in
    rules, once per token; an unknown number shows the roster again with the message next to
    the field and the number kept."""
    b = Browser(server, world["login_a"], "Coord-pass-123")
    ev = world["ev_a"]["id"]
    path = f"/console/events/{ev}"

    def walker(n):
        phone = f"136{(int(world['tag'], 16) * 10 + n) % 100000000:08d}"
        return Api(server).ok("POST", "/volunteers", {"name": evil("赵"), "phone": phone,
                                                      "org_unit_id": world["comm_b"]["id"]}, want=201)

    def walkin_form(html):
        form = re.search(r'<section aria-labelledby="h-walkin".*?</section>', html, re.S).group(0)
        assert 'name="who"' in form and 'value="walkin"' in form
        return tokens(form)[0]

    def state_of(vid):
        items = world["co_a"].ok("GET", f"/events/{ev}/attendance")["items"]
        return [(i["state"], i["attendance"]["flags"]) for i in items if i["volunteer_id"] == vid]

    w1, w2 = walker(1), walker(2)
    # a third with an ID number, found by it: only its blind index reaches the database
    seventeen = f"11010519850612{int(world['tag'], 16) % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    idn = seventeen + "10X98765432"[sum(int(d) * k for d, k in zip(seventeen, weights)) % 11]
    w3 = Api(server).ok("POST", "/volunteers", {"name": "孙", "phone": f"137{int(world['tag'], 16) % 100000000:08d}",
                                                "org_unit_id": world["comm_b"]["id"], "id_number": idn,
                                                "consent_id_number": True}, want=201)
    tok = walkin_form(check_page(b.get(path)))
    html = check_page(b.post(path, {"_t": tok, "action": "walkin", "who": "13900000000"}), status=422)
    assert 'value="13900000000"' in html and 'id="e-who"' in html and 'aria-invalid="true"' in html
    assert state_of(w1["id"]) == []

    form = {"_t": tok, "action": "walkin", "who": f" {w1['phone']} "}
    r = b.post(path, form)
    assert r.status_code == 303 and r.headers["Location"] == path + "?done=in"
    r = b.post(path, form)  # a double tap: the stored answer, no second attendance
    assert r.status_code == 303
    assert state_of(w1["id"]) == [("on_post", ["walk_in"])]
    html = check_page(b.get(path + "?done=in"))
    assert re.search(r'<tr data-volunteer="%d">.*?value="out"' % w1["id"], html)

    # by volunteer number, as typed on a phone's keyboard
    tok = walkin_form(html)
    r = b.post(path, {"_t": tok, "action": "walkin", "who": w2["volunteer_no"].lower()})
    assert r.status_code == 303
    assert state_of(w2["id"]) == [("on_post", ["walk_in"])]
    tok = walkin_form(check_page(b.get(path)))
    r = b.post(path, {"_t": tok, "action": "walkin", "who": idn.lower()})
    assert r.status_code == 303, r.text[:300]
    assert state_of(w3["id"]) == [("on_post", ["walk_in"])]
    # a mistyped ID number (the check digit) is nobody's
    bad = idn[:-1] + ("0" if idn[-1] != "0" else "1")
    tok = walkin_form(check_page(b.get(path)))
    html = check_page(b.post(path, {"_t": tok, "action": "walkin", "who": bad}), status=422)
    assert 'id="e-who"' in html
    # an API refusal (already on post) shows on the roster, the number kept
    tok = walkin_form(check_page(b.get(path)))
    html = check_page(b.post(path, {"_t": tok, "action": "walkin", "who": w2["phone"]}), status=409)
    assert f'value="{w2["phone"]}"' in html and 'role="alert"' in html
    # neither a phone nor a number at all, and no form token
    tok = walkin_form(html)
    check_page(b.post(path, {"_t": tok, "action": "walkin", "who": "x" * 100}), status=422)
    check_page(b.post(path, {"action": "walkin", "who": w1["phone"]}), status=403)


def test_bulk_approval_through_the_form(server, world):
    b = Browser(server, world["login_a"], "Coord-pass-123")
    html = check_page(b.get("/console"))
    ids = re.findall(r'name="id" value="(\d+)"', html)
    assert str(world["entry"]["id"]) in ids
    form_html = html[html.index('id="pending"'):]
    tok = tokens(form_html)[0]
    r = b.post("/console", {"_t": tok, "action": "approve"})
    check_page(r, status=422)
    r = b.post("/console", [("_t", tok), ("action", "approve")] + [("id", i) for i in ids])
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"].startswith(f"/console?done=approved&n={len(ids)}&f=0")
    h = world["co_a"].ok("GET", f"/volunteers/{world['vol3']['id']}/hours")
    assert any(e["id"] == world["entry"]["id"] and e["status"] == "approved" for e in h["entries"])
    html = check_page(b.get(r.headers["Location"]))
    assert f'id="approved-n">{len(ids)}<' in html
    # no longer among the pending (an option of another select may share the number)
    assert f'name="id" value="{world["entry"]["id"]}"' not in html


def test_weekly_activity_from_the_console(server, world):
    b = Browser(server, world["login_a"], "Coord-pass-123")
    html = check_page(b.get("/console"))
    tok = tokens(html[html.index('id="new"'):])[0]
    team = re.search(r'<option value="(\d+:\d+)"', html).group(1)
    today = dt.datetime.now(TZ).date()  # the app's day, not this machine's (UTC)
    base = [("_t", tok), ("action", "create"), ("team", team), ("title", evil("每周清洁")),
            ("location", "东门"), ("capacity", "12"), ("from", today.isoformat()),
            ("until", (today + dt.timedelta(days=27)).isoformat()),
            ("start_time", "09:00"), ("end_time", "11:00")]
    html = check_page(b.post("/console", base), status=422)  # no weekday
    assert 'id="e-byday"' in html and 'value="每周清洁' + ESCAPED + '"' in html
    r = b.post("/console", base + [("byday", "TU"), ("byday", "FR")])
    assert r.status_code == 303 and r.headers["Location"] == "/console?done=created"
    evs = world["co_a"].ok("GET", f"/events?org_unit_id={world['comm_a']['id']}&limit=500")["items"]
    assert sum(1 for e in evs if e["title"] == evil("每周清洁")) == 8
    r = b.post("/console", base + [("byday", "TU"), ("byday", "FR")])  # a double tap
    assert r.status_code == 303
    evs = world["co_a"].ok("GET", f"/events?org_unit_id={world['comm_a']['id']}&limit=500")["items"]
    assert sum(1 for e in evs if e["title"] == evil("每周清洁")) == 8
    check_page(b.post("/console", base + [("byday", "MO")]), status=422)  # the token, another body


def test_qr_poster(server, world):
    b = Browser(server, world["login_a"], "Coord-pass-123")
    html = check_page(b.get(f"/console/events/{world['ev_a']['id']}/poster"))
    print(f"poster: {len(html.encode())} bytes")
    ev = world["co_a"].ok("GET", f"/events/{world['ev_a']['id']}")
    assert re.search(r'<svg [^>]*role="img"[^>]*aria-label="', html)
    assert '<path fill="#000" d="M' in html
    code = re.search(r'id="code">(\d{6})<', html).group(1)
    assert len(code) == 6
    assert "/checkin/" in html and "甲岗" + ESCAPED in html
    assert 'data-refresh="30"' in html and "/static/console.js" in html
    # the QR code and the link under it are absolute (no VOLUNTEERD_PUBLIC_URL here: the
    # address the page was asked at), so that a phone can open what it scans
    link = re.search(r'<p class="url">([^<]*)</p>', html).group(1)
    assert re.fullmatch(rf"http://127\.0\.0\.1:{server.http}/checkin/[A-Za-z0-9_-]{{32}}", link), link


def test_qr_poster_of_a_rotating_code_reloads_itself_without_javascript(server, world):
    """The default policy rotates the code every 45 s: the poster says it is for a screen that
    stays on, and a browser without JavaScript reloads it just after the code's slot turns
    (<noscript><meta http-equiv="refresh">: with JavaScript, console.js swaps the poster in)."""
    b = Browser(server, world["login_a"], "Coord-pass-123")
    html = check_page(b.get(f"/console/events/{world['ev_a']['id']}/poster"))
    head = html[:html.index("</head>")]
    m = re.search(r'<noscript><meta http-equiv="refresh" content="(\d+)"></noscript>', head)
    assert m and 2 <= int(m.group(1)) <= 46, head
    assert 'data-use="screen"' in html and 'id="print"' not in html
    assert "一直亮着的屏幕" in html and "45" in html
    # the console itself does not reload
    assert 'http-equiv="refresh"' not in check_page(b.get("/console"))


def test_qr_poster_of_a_fixed_code_is_printable(server, world):
    """A static-code policy: the poster shows the fixed code, a QR code of the event's
    permanent check-in URL (no rotating token), no refresh, and says it may be printed."""
    pol = world["admin"].ok("POST", "/hour-policies", {"name": "固定码" + world["tag"], "static_code": True},
                            want=201)
    now = dt.datetime.now(TZ).replace(microsecond=0)
    act = world["co_a"].ok("POST", "/activities", {
        "team_id": world["co_a"].ok("GET", f"/events/{world['ev_a']['id']}")["team_id"],
        "org_unit_id": world["comm_a"]["id"], "title": "固定码岗", "policy_id": pol["id"],
        "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=1)).isoformat()}, want=201)
    ev = world["co_a"].ok("GET", f"/activities/{act['id']}/events")["items"][0]
    b = Browser(server, world["login_a"], "Coord-pass-123")
    html = check_page(b.get(f"/console/events/{ev['id']}/poster"))
    assert re.search(r'id="code">(\d{6})<', html).group(1) == ev["checkin_code"]
    url = re.search(r'<p class="url">([^<]+)</p>', html).group(1)
    assert url == f"http://127.0.0.1:{server.http}/checkin/{ev['id']}", url
    assert 'http-equiv="refresh"' not in html and "data-refresh" not in html
    assert 'data-use="print"' in html and 'id="print"' in html and "可以打印" in html
    # the permanent URL asks for the printed code, which checks the volunteer in
    assert 'name="code"' in check_page(Browser(server).get(f"/checkin/{ev['id']}"))
    v = Browser(server, world["vol3"]["phone"], "Vol-pass-" + world["tag"])
    html = check_page(v.get(f"/checkin/{ev['id']}"))
    form = html[html.index('<form method="post"'):]
    r = v.post(f"/checkin/{ev['id']}", {"_t": tokens(form)[0], "action": "checkin",
                                         "code": ev["checkin_code"]})
    assert r.status_code == 303, r.text[:500]
    assert 'name="action" value="checkout"' in check_page(v.get(r.headers["Location"]))


def test_console_offers_the_hour_policies_in_scope(server, world):
    admin = world["admin"]
    mine = admin.ok("POST", "/hour-policies", {"name": evil("审核规则"), "org_unit_id": world["sub"]["id"],
                                               "approval_mode": "manual"}, want=201)
    theirs = admin.ok("POST", "/hour-policies", {"name": "乙规则" + world["tag"],
                                                 "org_unit_id": world["comm_b"]["id"]}, want=201)
    b = Browser(server, world["login_a"], "Coord-pass-123")
    html = check_page(b.get("/console"))
    sel = html[html.index('<select id="f-policy" name="policy"'):]
    sel = sel[:sel.index("</select>")]
    assert '<option value="1" selected>' in sel
    assert f'<option value="{mine["id"]}">审核规则{ESCAPED} · 街道{ESCAPED} · 人工审核</option>' in sel
    assert f'value="{theirs["id"]}"' not in sel
    assert '<label for="f-policy">' in html
    # a weekly activity on the chosen policy
    tok = tokens(html[html.index('id="new"'):])[0]
    team = re.search(r'<option value="(\d+:\d+)"', html).group(1)
    today = dt.datetime.now(TZ).date()
    base = [("_t", tok), ("action", "create"), ("team", team), ("title", "规则周活动" + world["tag"]),
            ("from", today.isoformat()), ("until", (today + dt.timedelta(days=6)).isoformat()),
            ("start_time", "09:00"), ("end_time", "10:00"), ("byday", "MO"), ("byday", "TH")]
    # a policy the coordinator does not see: 422 shown next to the select, the choice kept
    html = check_page(b.post("/console", base + [("policy", str(theirs["id"]))]), status=422)
    assert 'id="e-policy"' in html and 'aria-invalid="true"' in html
    assert f'<option value="{theirs["id"]}"' not in html
    tok = tokens(html[html.index('id="new"'):])[0]
    base[0] = ("_t", tok)
    r = b.post("/console", base + [("policy", str(mine["id"]))])
    assert r.status_code == 303, r.text[:500]
    evs = world["co_a"].ok("GET", f"/events?org_unit_id={world['comm_a']['id']}&limit=500")["items"]
    acts = {e["activity_id"] for e in evs if e["title"] == "规则周活动" + world["tag"]}
    assert len(acts) == 1
    assert world["co_a"].ok("GET", f"/activities/{acts.pop()}")["policy_id"] == mine["id"]


def test_admin_report_drill_down_and_downloads(server, world):
    admin = Browser(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    month = dt.datetime.now(TZ).strftime("%Y-%m")
    html = check_page(admin.get(f"/admin?month={month}&under={world['sub']['id']}"))
    print(f"/admin: {len(html.encode())} bytes")
    assert "社区甲" + ESCAPED in html and "街道" + ESCAPED in html
    assert f'under={world["comm_a"]["id"]}' in html  # drill-down link to the child
    assert f'under={world["district"]["id"]}' in html  # the way back up
    assert html.count("<tr data-label=") >= 2 + 12
    assert "/static/uplot.min.js" in html and "/static/admin.js" in html
    m = re.search(r'id="dl-xlsx" href="([^"]+)"', html)
    url = m.group(1).replace("&amp;", "&")
    r = admin.get(url)
    assert r.status_code == 200 and r.headers["Content-Type"] == XLSX
    assert zipfile.ZipFile(io.BytesIO(r.content)).testzip() is None
    url = re.search(r'id="dl-csv" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    r = admin.get(url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    # by team, a coordinator in their own scope; out of scope is 404; bad input a 422 page
    a = Browser(server, world["login_a"], "Coord-pass-123")
    html = check_page(a.get(f"/admin?by=team&month={month}"))
    assert "队" + ESCAPED in html and "乙队" not in html
    check_page(a.get(f"/admin?under={world['comm_b']['id']}"), status=404)
    check_page(a.get("/admin?month=2026-13"), status=422)


def test_chart_library_is_embedded_and_served(server):
    b = Browser(server)
    r = b.get("/console")  # anonymous: redirect; static files need no login
    assert r.status_code == 303
    for name, ctype in (("uplot.min.js", "text/javascript"), ("admin.js", "text/javascript"),
                        ("console.js", "text/javascript"), ("staff.css", "text/css"),
                        ("uplot.min.css", "text/css")):
        r = b.get(f"/static/{name}")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(ctype)
        with open(os.path.join(ROOT, "server", "pages", "static", name), "rb") as f:
            assert r.content.rstrip(b"\n") == f.read().rstrip(b"\n"), name
    r = b.get("/static/uplot.min.js")
    assert b"uPlot" in r.content and b"??=" in r.content  # served as is (no trigraph damage)
    pinned = os.path.join(ROOT, "tests", "e2e", "node_modules", "uplot", "dist", "uPlot.iife.min.js")
    if os.path.exists(pinned):  # the embedded copy is the pinned npm package's file
        with open(pinned, "rb") as f:
            assert r.content.rstrip(b"\n") == f.read().rstrip(b"\n")


def test_a_full_console_stays_under_30_kb(fresh_db, make_server):
    """The largest /console: 20 events shown (of 35, every title and place long and full of
    markup), 30 pending entries (of 60) with long names, and the form with the default hour
    policy.  On a database of its own, so that what other tests leave visible to every
    coordinator (global hour policies) does not change what is measured."""
    _, url = fresh_db()
    server = make_server(url, tls=False, workers=1)
    server.migrate()
    server.create_admin("full-admin", "Full-admin-pass-1")
    server.start()
    admin, tag = Api(server, "full-admin", "Full-admin-pass-1"), secrets.token_hex(4)
    district = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district", "code": f"FD-{tag}",
                                               "name": "满区"}, want=201)
    comm = admin.ok("POST", "/org-units", {"parent_id": district["id"], "kind": "community",
                                           "code": f"SF-{tag}", "name": "满" * 40}, want=201)
    team = admin.ok("POST", "/teams", {"name": evil("满队" * 20), "org_unit_id": comm["id"]}, want=201)
    acc = admin.ok("POST", "/accounts", {"login": f"scf-{tag}", "password": "Coord-pass-123"}, want=201)
    admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "org_unit_id": comm["id"]}, want=201)
    co = Api(server, f"scf-{tag}", "Coord-pass-123")
    today = dt.datetime.now(TZ).date()  # the app's day, not this machine's (UTC)
    title = evil("长" * 30)
    for i in range(5):
        co.ok("POST", "/activities", {
            "team_id": team["id"], "org_unit_id": comm["id"], "title": f"{title}{i}", "location": evil("地" * 20),
            "capacity": 100, "recurrence": {"freq": "weekly", "byday": ["MO", "TU", "WE", "TH", "FR", "SA", "SU"],
                                            "from": today.isoformat(), "until": (today + dt.timedelta(days=6)).isoformat(),
                                            "start_time": "23:00", "end_time": "23:50"}}, want=201)
    now = dt.datetime.now(TZ).replace(microsecond=0)
    past = co.ok("POST", "/activities", {
        "team_id": team["id"], "org_unit_id": comm["id"], "title": title, "location": "x", "capacity": 100,
        "starts_at": (now - dt.timedelta(days=3)).isoformat(),
        "ends_at": (now - dt.timedelta(days=3) + dt.timedelta(hours=12)).isoformat()}, want=201)
    past_ev = co.ok("GET", f"/activities/{past['id']}/events")["items"][0]
    start = dt.datetime.fromisoformat(past_ev["starts_at"])
    for v in range(6):
        phone = f"137{(int(tag, 16) * 10 + v) % 100000000:08d}"
        vol = Api(server).ok("POST", "/volunteers", {"name": evil("名" * 12), "phone": phone,
                                                    "org_unit_id": comm["id"]}, want=(201,))
        for k in range(10):
            s = start + dt.timedelta(minutes=20 * k)
            co.ok("POST", "/hours", {"volunteer_id": vol["id"], "event_id": past_ev["id"],
                                     "started_at": s.isoformat(), "ended_at": (s + dt.timedelta(minutes=15)).isoformat(),
                                     "reason": evil("因" * 30)}, want=201)
    b = Browser(server, f"scf-{tag}", "Coord-pass-123")
    html = check_page(b.get("/console"))  # asserts < 30 KB
    print(f"full /console: {len(html.encode())} bytes")
    assert html.count('name="id"') == 30 and html.count("data-event=") == 20
    assert "(60)" in html and "35 " in html


def test_admin_page_for_a_team_leader(server, world):
    """A coordinator whose only grant is on a team (sql/0019_team_reports.sql): /admin shows
    the monthly report of their team, with the same figures as the API's team view and the
    downloads of that view, and no choice by area (which is 403 for them)."""
    admin, tag = world["admin"], world["tag"]
    team_a = world["ev_a"]["team_id"]
    acc = admin.ok("POST", "/accounts", {"login": f"stl-{tag}", "password": "Coord-pass-123"}, want=201)
    admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "team_id": team_a}, want=201)
    api = Api(server, f"stl-{tag}", "Coord-pass-123")
    b = Browser(server, f"stl-{tag}", "Coord-pass-123")
    month = dt.datetime.now(TZ).strftime("%Y-%m")
    rep = api.ok("GET", f"/reports/monthly?month={month}&by=team")
    assert [r["id"] for r in rep["rows"]] == [team_a] and rep["rows"][0]["events"] >= 2
    html = check_page(b.get("/admin"))
    assert "我的服务队" in html and "队" + ESCAPED in html and "乙队" not in html
    assert 'id="f-by"' not in html and 'name="by" value="team"' in html
    row = rep["rows"][0]
    assert (f'<td class="n">{row["volunteers"]}</td><td class="n">{row["approved_hours"]}</td>'
            f'<td class="n">{row["pending_hours"]}</td><td class="n">{row["events"]}</td>') in html
    assert html.count("<tr data-label=") == 1 + 12  # the team, and the 12-month trend
    url = re.search(r'id="dl-csv" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "under=" not in url and "by=team" in url
    r = b.get(url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.content.decode("utf-8-sig").splitlines()[1].startswith(f"{team_a},")
    url = re.search(r'id="dl-xlsx" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    r = b.get(url)
    assert r.status_code == 200 and r.headers["Content-Type"] == XLSX
    # under their team's community: the same team; anywhere else 404; by area 403
    html = check_page(b.get(f"/admin?by=team&month={month}&under={world['comm_a']['id']}"))
    assert "队" + ESCAPED in html and "社区甲" + ESCAPED in html and "乙队" not in html
    assert 'href="/admin?month=' in html and "我的服务队" in html  # the way back to all their teams
    check_page(b.get(f"/admin?by=team&under={world['comm_b']['id']}"), status=404)
    check_page(b.get("/admin?by=org_unit"), status=403)
    # English too
    html = check_page(b.get("/admin?lang=en"))
    assert "My teams" in html

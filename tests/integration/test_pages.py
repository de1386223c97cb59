"""The volunteer's pages (/checkin/{code}, /register, /me) over plain HTTP: markup injected into
every user-supplied field they show comes back escaped; every page carries the security headers
and stays under 30 KB; forms need their one-time token; the static files are cached for a year;
both language catalogues name the same strings."""
import datetime as dt
import os
import re
import secrets
import time

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


def evil(label):
    return f"{label}{EVIL}"


def token_of(html, index=0):
    found = re.findall(r'name="_t" value="([^"]+)"', html)
    assert found, "no form token in the page"
    return found[index]


def check_page(resp, *, status=200):
    assert resp.status_code == status, resp.text[:500]
    h = resp.headers
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert h["Content-Security-Policy"] == CSP
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    assert len(resp.content) < 30 * 1024, f"{resp.url}: {len(resp.content)} bytes"
    assert EVIL not in resp.text and "<script>alert" not in resp.text
    assert "<script>" not in resp.text.replace('<script src="/static/app.js', "")
    return resp.text


class Browser:
    """A cookie jar that posts forms the way a browser does (Origin header, no redirects)."""

    def __init__(self, server):
        self.server = server
        self.s = requests.Session()
        self.origin = server.url("").rstrip("/")

    def get(self, path, **kw):
        return self.s.get(self.server.url(path), timeout=10, allow_redirects=False, **kw)

    def post(self, path, data, **kw):
        headers = {"Origin": self.origin, **kw.pop("headers", {})}
        return self.s.post(self.server.url(path), data=data, headers=headers, timeout=10,
                           allow_redirects=False, **kw)


@pytest.fixture(scope="module")
def world(server):
    """A district whose every name, title and place holds markup, with an event under way."""
    tag = secrets.token_hex(3)
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def unit(parent, kind, code, name):
        return admin.ok("POST", "/org-units", {"parent_id": parent, "kind": kind, "code": f"{code}-{tag}",
                                               "name": name}, want=201)

    district = unit(None, "district", "PD", evil("区"))
    sub = unit(district["id"], "subdistrict", "PS", evil("街道"))
    community = unit(sub["id"], "community", "PC", evil("社区"))
    team = admin.ok("POST", "/teams", {"name": evil("队"), "org_unit_id": community["id"]}, want=201)
    coord = admin.ok("POST", "/accounts", {"login": f"pcoord-{tag}", "password": "Coord-pass-123"}, want=201)
    admin.ok("POST", f"/accounts/{coord['id']}/roles",
             {"role": "coordinator", "org_unit_id": community["id"]}, want=201)
    co = Api(server, f"pcoord-{tag}", "Coord-pass-123")
    now = dt.datetime.now(TZ).replace(microsecond=0)
    act = co.ok("POST", "/activities", {
        "team_id": team["id"], "org_unit_id": community["id"], "title": evil("岗"), "category": evil("类"),
        "location": evil("东门"), "capacity": 10,
        "starts_at": (now - dt.timedelta(minutes=10)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=2)).isoformat()}, want=201)
    event = co.ok("GET", f"/activities/{act['id']}/events")["items"][0]
    phone = f"136{int(tag, 16) % 100000000:08d}"
    password = "Page-pass-" + tag
    vol = Api(server).ok("POST", "/volunteers", {
        "name": evil("张"), "phone": phone, "org_unit_id": community["id"], "password": password,
        "work_unit": evil("单位")}, want=201)
    return {"co": co, "event": event, "phone": phone, "password": password, "vol": vol,
            "community": community, "tag": tag}


def checkin_path(world):
    ev = world["co"].ok("GET", f"/events/{world['event']['id']}")
    return "/checkin/" + ev["checkin_url"].split("/checkin/")[1], ev["checkin_code"]


def test_register_escapes_unit_names_and_refilled_values(server, world):
    b = Browser(server)
    html = check_page(b.get("/register"))
    assert html.count(ESCAPED) >= 2  # the community and its subdistrict
    r = b.post("/register", {"_t": token_of(html), "name": evil("名"), "phone": "12345",
                             "password": "Long-enough-1", "org_unit_id": str(world["community"]["id"]),
                             "work_unit": evil("单位"), "next": '/me"><script>'})
    html = check_page(r, status=422)
    assert 'value="名' + ESCAPED + '"' in html
    assert 'id="e-phone"' in html and 'aria-invalid="true"' in html
    assert 'value="/me"' in html  # a next that is not a plain local path falls back to /me


def test_register_shows_every_fields_error_at_once(server, world):
    b = Browser(server)
    html = check_page(b.get("/register"))
    r = b.post("/register", {"_t": token_of(html), "name": "   ", "phone": "12345", "password": "short",
                             "org_unit_id": str(world["community"]["id"])})
    html = check_page(r, status=422)
    for field in ("name", "phone", "password"):
        assert f'id="e-{field}"' in html, field


def test_register_refuses_a_field_twice_a_nul_or_bytes_not_utf8(server, world):
    """R29: a form is taken exactly as sent or not at all.  A field given twice (the server
    would read only the first), a %00 (C would cut the value there) or a value that is not
    UTF-8 is 400 naming the field, and registers no one; the same form sent cleanly
    registers."""
    b = Browser(server)
    html = check_page(b.get("/register"))
    phone = f"135{secrets.randbelow(10**8):08d}"
    fields = [("_t", token_of(html)), ("name", "王五"), ("phone", phone), ("password", "Long-enough-1"),
              ("org_unit_id", str(world["community"]["id"]))]
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)

    def registered():
        return admin.ok("GET", f"/volunteers?q={phone}")["items"]

    def refused(body, field):
        r = b.post("/register", body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/problem+json"), \
            (r.status_code, r.text[:300])
        assert [e["field"] for e in r.json()["errors"]] == [field], r.text
        assert registered() == []

    refused(fields + [("phone", "13900000000")], "phone")
    refused(fields[:1] + [("name", "王五"), ("name", "")] + fields[2:], "name")
    clean = "&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in fields[1:])
    refused(f"_t={fields[0][1]}&work_unit=a%00b&{clean}", "work_unit")
    refused(f"_t={fields[0][1]}&work_unit=%C3%28&{clean}", "work_unit")
    refused(f"_t={fields[0][1]}&work_unit=100%&{clean}", "work_unit")
    r = b.post("/register", fields)
    assert r.status_code == 303, r.text[:300]
    assert len(registered()) == 1


def test_checkin_page_escapes_event_and_logs_in_and_checks_in(server, world):
    b = Browser(server)
    path, _ = checkin_path(world)
    html = check_page(b.get(path))
    assert html.count(ESCAPED) >= 2  # title and place
    r = b.post(path, {"_t": token_of(html), "action": "checkin", "phone": world["phone"],
                      "password": world["password"]})
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"].startswith(path)
    assert "vd_session=" in r.headers["Set-Cookie"]
    html = check_page(b.get(r.headers["Location"]))
    assert "已签到" in html and 'name="action" value="checkout"' in html
    # the same form again (a refresh of the POST, a double tap): answered, not done twice
    roster = world["co"].ok("GET", f"/events/{world['event']['id']}/attendance")
    assert roster["counts"]["on_post"] == 1
    r = b.post(path, {"_t": token_of(html), "action": "checkout"})
    assert r.status_code == 303
    roster = world["co"].ok("GET", f"/events/{world['event']['id']}/attendance")
    assert roster["counts"]["done"] == 1 and roster["counts"]["on_post"] == 0


def test_me_escapes_every_field_it_shows(server, world):
    b = Browser(server)
    html = check_page(b.get("/me"))  # the log-in form
    r = b.post("/me", {"_t": token_of(html), "action": "login", "phone": world["phone"],
                       "password": world["password"], "next": "/me"})
    assert r.status_code == 303 and r.headers["Location"] == "/me"
    html = check_page(b.get("/me"))
    # name, home community, event titles and places; then a correction request's message
    assert html.count(ESCAPED) >= 3, html
    me = Api(server, world["phone"], world["password"])
    entries = me.ok("GET", f"/volunteers/{world['vol']['id']}/hours")["entries"]
    if entries:
        m = re.search(r'<select id="f-entry" name="entry_id"><option value="(\d+)"', html)
        assert m
        form_tok = re.findall(r'name="_t" value="([^"]+)"><input type="hidden" name="action" '
                              r'value="correction">', html)
        r = b.post("/me", {"_t": form_tok[0], "action": "correction", "entry_id": m.group(1),
                           "message": evil("错")})
        assert r.status_code == 303, r.text[:300]
        html = check_page(b.get("/me"))
        assert "错" + ESCAPED in html


def test_forms_need_their_token_and_our_origin(server, world):
    b = Browser(server)
    path, _ = checkin_path(world)
    check_page(b.post(path, {"action": "checkin", "phone": world["phone"], "password": world["password"]}),
               status=403)
    # an anonymous log-in form posted from another site (log-in CSRF) is refused too
    html = check_page(b.get("/me"))
    r = b.post("/me", {"_t": token_of(html), "action": "login", "phone": world["phone"],
                       "password": world["password"]}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    # so is one whose browser says (Sec-Fetch-Site) another site sent it (R45)
    for site in ("cross-site", "same-site"):
        html = check_page(b.get("/me"))
        r = b.post("/me", {"_t": token_of(html), "action": "login", "phone": world["phone"],
                           "password": world["password"]}, headers={"Sec-Fetch-Site": site})
        assert r.status_code == 403, site
    html = check_page(b.get("/me"))
    r = b.post("/me", {"_t": token_of(html), "action": "login", "phone": world["phone"],
                       "password": world["password"]}, headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303
    # a token made for another purpose, or tampered with, is refused
    html = check_page(b.get("/me"))
    tok = token_of(html, -1)  # the log-out form is the last
    bad = tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")
    check_page(b.post("/me", {"_t": bad, "action": "logout"}), status=403)
    # a logged-in form posted from another site is refused before the page runs
    r = b.post("/me", {"_t": tok, "action": "logout"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = b.post("/me", {"_t": tok, "action": "logout"})
    assert r.status_code == 303 and "Max-Age=0" in r.headers["Set-Cookie"]


def test_language_switch_and_accept_language(server):
    b = Browser(server)
    r = b.get("/register?lang=en")
    html = check_page(r)
    assert '<html lang="en">' in html and "Volunteer registration" in html
    assert "vd_lang=en" in r.headers["Set-Cookie"] and "; HttpOnly" in r.headers["Set-Cookie"]
    assert "; Secure" not in r.headers["Set-Cookie"]
    tls = server.get("/register?lang=zh", tls=True, allow_redirects=False)
    assert "vd_lang=zh" in tls.headers["Set-Cookie"] and "; Secure" in tls.headers["Set-Cookie"]
    assert "Volunteer registration" in check_page(b.get("/register"))  # the cookie holds
    html = check_page(requests.get(server.url("/register"), headers={"Accept-Language": "en-US,en;q=0.8"},
                                   timeout=10))
    assert '<html lang="en">' in html
    html = check_page(requests.get(server.url("/register"), timeout=10))
    assert '<html lang="zh-CN">' in html and "志愿者注册" in html


def test_static_files_are_cached_with_their_types(server):
    html = requests.get(server.url("/register"), timeout=10).text
    for name, ctype in (("app.css", "text/css; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"),
                        ("icon.svg", "image/svg+xml; charset=utf-8")):
        m = re.search(r'(/static/' + re.escape(name) + r'\?v=[0-9a-f]{8})', html)
        assert m, name
        r = requests.get(server.url(m.group(1)), timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"] == ctype
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(server.url("/static/nope.js"), timeout=10).status_code == 404
    r = requests.get(server.url("/"), timeout=10, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/me"


def test_unknown_checkin_code_is_a_404_page(server):
    check_page(requests.get(server.url("/checkin/not-a-code"), timeout=10), status=404)
    check_page(requests.get(server.url("/checkin/999999999"), timeout=10), status=404)


def test_both_catalogues_name_every_message():
    def keys(path):
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            return [k for k in re.findall(r"\[(MSG_[A-Z_]+)\]\s*=", f.read()) if k != "MSG_COUNT"]
    with open(os.path.join(ROOT, "server/pages/msg.h"), encoding="utf-8") as f:
        ids = [m for m in re.findall(r"^\s*(MSG_[A-Z_]+)", f.read(), re.M) if m != "MSG_COUNT"]
    zh, en = keys("server/pages/lang_zh.c"), keys("server/pages/lang_en.c")
    assert sorted(zh) == sorted(set(zh)) and sorted(en) == sorted(set(en))
    assert set(zh) == set(ids) and set(en) == set(ids)


def test_correction_request_api(server, world):
    me = Api(server, world["phone"], world["password"])
    entries = me.ok("GET", f"/volunteers/{world['vol']['id']}/hours")["entries"]
    assert me.status("POST", "/correction-requests", {"message": "x"}) == 422
    assert me.status("POST", "/correction-requests", {"entry_id": 999999999, "message": "x"}) == 404
    assert Api(server).status("POST", "/correction-requests", {"entry_id": 1, "message": "x"}) == 401
    live = [e for e in entries if e["status"] in ("pending", "approved")]
    assert live, "test_checkin_page... left an entry"
    r = me.req("POST", "/correction-requests", {"entry_id": live[0]["id"], "message": "签退时间不对"})
    assert r.status_code in (201, 409)  # 409: the /me test already filed one for it
    assert me.status("POST", "/correction-requests", {"entry_id": live[0]["id"], "message": "again"}) == 409


def test_a_full_me_page_stays_under_30_kb(server, world):
    """The largest /me (it lists 15 upcoming events and the latest 20 entries), every title long
    and full of markup."""
    co, now = world["co"], dt.datetime.now(TZ).replace(microsecond=0)
    title = ("很长的活动名称" * 5 + EVIL)[:100]
    past = co.ok("POST", "/activities", {
        "team_id": world["event"]["team_id"], "org_unit_id": world["community"]["id"], "title": title,
        "category": "环境", "location": EVIL * 2, "capacity": 100,
        "starts_at": (now - dt.timedelta(days=1, hours=3)).isoformat(),
        "ends_at": (now - dt.timedelta(days=1, hours=1)).isoformat()}, want=201)
    past_ev = co.ok("GET", f"/activities/{past['id']}/events")["items"][0]
    start = dt.datetime.fromisoformat(past_ev["starts_at"])
    for k in range(30):
        s = start + dt.timedelta(minutes=3 * k)
        co.ok("POST", "/hours", {"volunteer_id": world["vol"]["id"], "event_id": past_ev["id"],
                                 "started_at": s.isoformat(), "ended_at": (s + dt.timedelta(minutes=2)).isoformat(),
                                 "reason": "补录"}, want=201)
    tomorrow = (now + dt.timedelta(days=1)).date()
    co.ok("POST", "/activities", {
        "team_id": world["event"]["team_id"], "org_unit_id": world["community"]["id"], "title": title,
        "category": "环境", "location": EVIL * 2, "capacity": 100,
        "recurrence": {"freq": "weekly", "byday": ["MO", "TU", "WE", "TH", "FR", "SA", "SU"],
                       "from": str(tomorrow), "until": str(tomorrow + dt.timedelta(days=24)),
                       "start_time": "08:00", "end_time": "10:00"}}, want=201)
    b = Browser(server)
    html = check_page(b.get("/me"))
    r = b.post("/me", {"_t": token_of(html), "action": "login", "phone": world["phone"],
                       "password": world["password"]})
    assert r.status_code == 303
    html = check_page(b.get("/me"))  # asserts < 30 KB
    # each upcoming event has a button, but the one served earlier in this module (checked in
    # by test_checkin_page_escapes_event_and_logs_in_and_checks_in), which is marked instead
    marked = html.count('<span class="tag">已签退</span>') + html.count('href="#on-duty">')
    assert html.count("<tr>") == 21
    assert html.count('value="signup"') + html.count('value="cancel"') + marked == 15
    print(f"/me with 20 entries and 15 events: {len(html.encode())} bytes")


def test_checkin_errors_are_shown_in_the_page(server, world):
    """The API's problems, in the page's words: window not open, wrong typed code, already in."""
    co, now = world["co"], dt.datetime.now(TZ).replace(microsecond=0)
    later = co.ok("POST", "/activities", {
        "team_id": world["event"]["team_id"], "org_unit_id": world["community"]["id"], "title": "晚班",
        "category": "环境", "location": "路口", "capacity": 10,
        "starts_at": (now + dt.timedelta(hours=3)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=4)).isoformat()}, want=201)
    later_ev = co.ok("GET", f"/activities/{later['id']}/events")["items"][0]
    phone = f"135{int(world['tag'], 16) % 100000000:08d}"
    password = "Err-pass-" + world["tag"]
    Api(server).ok("POST", "/volunteers", {"name": "错", "phone": phone, "org_unit_id": world["community"]["id"],
                                           "password": password}, want=201)
    b = Browser(server)
    ev = co.ok("GET", f"/events/{later_ev['id']}")
    path = "/checkin/" + ev["checkin_url"].split("/checkin/")[1]
    html = check_page(b.get(path))
    r = b.post(path, {"_t": token_of(html), "action": "checkin", "phone": phone, "password": password})
    html = check_page(r, status=409)
    assert "签到尚未开始" in html and 'role="alert"' in html

    # by event id, the code is typed: a wrong one is said next to the field
    path = f"/checkin/{world['event']['id']}"
    html = check_page(b.get(path))
    assert 'name="code"' in html
    html = check_page(b.post(path, {"_t": token_of(html), "action": "checkin", "code": "000000"}), status=403)
    assert 'id="e-code"' in html and "签到码错误" in html
    # the right code checks in; a second check-in (another tab, a fresh form) is refused
    stale = token_of(html)
    good = co.ok("GET", f"/events/{world['event']['id']}")["checkin_code"]
    r = b.post(path, {"_t": stale, "action": "checkin", "code": good})
    assert r.status_code == 303, r.text[:300]
    r = b.post(path, {"_t": stale, "action": "checkin", "code": good})  # the same form: replayed
    assert r.status_code == 303
    html = check_page(b.get(path))  # a fresh form (another tab) is a second check-in: refused
    html = check_page(b.post(path, {"_t": token_of(html), "action": "checkin",
                                    "code": good}), status=409)
    assert "已在此活动签到" in html
    roster = co.ok("GET", f"/events/{world['event']['id']}/attendance")
    mine = [i for i in roster["items"] if i["phone"] == phone and i["attendance"]]
    assert len(mine) == 1


def _new_volunteer(server, world, n):
    phone = f"135{(int(world['tag'], 16) * 10 + n) % 100000000:08d}"
    password = f"Tap-pass-{n}-{world['tag']}"
    v = Api(server).ok("POST", "/volunteers", {"name": f"Tap{n}", "phone": phone,
                                                "org_unit_id": world["community"]["id"],
                                                "password": password}, want=201)
    return v, phone, password


def _check_in_at(world, volunteer_id):
    roster = world["co"].ok("GET", f"/events/{world['event']['id']}/attendance")
    row = next(i for i in roster["items"] if i["volunteer_id"] == volunteer_id)
    return dt.datetime.fromisoformat(row["attendance"]["check_in_at"])


def test_me_changes_the_password_and_logs_out_everywhere_else(server, world):
    _, phone, password = _new_volunteer(server, world, 7)
    new = "Brand-new-pass-" + world["tag"]
    elsewhere = Api(server, phone, password)  # another phone of the same volunteer
    b = Browser(server)
    html = check_page(b.get("/me"))
    r = b.post("/me", {"_t": token_of(html), "action": "login", "phone": phone, "password": password})
    assert r.status_code == 303

    def account_form(index):
        html = check_page(b.get("/me"))
        section = re.search(r'<section aria-labelledby="h-account".*?</section>', html, re.S).group(0)
        assert 'autocomplete="current-password"' in section and 'autocomplete="new-password"' in section
        assert "data-queue" not in section  # never kept in the offline queue
        return token_of(section, index)

    def change(current, fresh, status):
        return check_page(b.post("/me", {"_t": account_form(0), "action": "password",
                                         "current_password": current, "new_password": fresh}), status=status)

    html = change("wrong-pass-1", new, 422)
    assert 'id="e-current_password"' in html and "当前密码不正确" in html and new not in html
    html = change(password, "short", 422)
    assert 'id="e-new_password"' in html and "密码需 10–128 个字符" in html
    html = change("", new, 422)
    assert 'id="e-current_password"' in html
    assert elsewhere.status("GET", "/me") == 200

    r = b.post("/me", {"_t": account_form(0), "action": "password", "current_password": password,
                       "new_password": new})
    assert r.status_code == 303 and r.headers["Location"] == "/me?done=password"
    assert "密码已修改" in check_page(b.get("/me?done=password"))
    assert elsewhere.status("GET", "/me") == 401
    Api(server, phone, new)  # logs in with the new one

    third = Api(server, phone, new)
    r = b.post("/me", {"_t": account_form(1), "action": "logout_others"})
    assert r.status_code == 303 and r.headers["Location"] == "/me?done=others"
    assert third.status("GET", "/me") == 401
    assert "其他设备上的登录均已退出" in check_page(b.get("/me?done=others"))


def test_my_data_is_all_about_me_and_nothing_else(server, world):
    v, phone, password = _new_volunteer(server, world, 8)
    me = Api(server, phone, password)
    ev = world["event"]["id"]
    me.ok("POST", f"/events/{ev}/signups", {}, want=(200, 201))
    world["co"].ok("POST", f"/events/{ev}/check-ins", {"volunteer_id": v["id"]}, want=201)
    world["co"].ok("POST", f"/events/{ev}/check-outs", {"volunteer_id": v["id"]}, want=200)
    me.ok("POST", "/correction-requests", {"event_id": ev, "message": evil("少算")}, want=201)

    r = me.req("GET", "/me/data")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Disposition"] == 'attachment; filename="volunteerd-my-data.json"'
    assert r.headers["Cache-Control"] == "no-store"
    d = r.json()
    assert d["account"]["login"] == phone and d["volunteer"]["id"] == v["id"]
    assert [h["org_unit_id"] for h in d["homes"]] == [world["community"]["id"]]
    assert [(s["event"]["id"], s["status"]) for s in d["signups"]] == [(ev, "confirmed")]
    assert d["signups"][0]["event"]["title"] == evil("岗")  # JSON: kept as typed, not escaped
    assert [(a["event"]["id"], a["check_out_at"] is not None) for a in d["attendances"]] == [(ev, True)]
    assert all(h["volunteer_id"] == v["id"] for h in d["hour_entries"])
    assert [c["message"] for c in d["correction_requests"]] == [evil("少算")]
    assert [s["current"] for s in d["sessions"]] == [None]  # the file does not say which is which
    assert "login" in [e["action"] for e in d["security_events"]]
    assert d["certificates"] == []  # none issued yet; test_certificates checks one that is
    assert "argon2" not in r.text and "token_hash" not in r.text and world["phone"] not in r.text
    assert Api(server).status("GET", "/me/data") == 401
    # the page links it
    b = Browser(server)
    html = check_page(b.get("/me"))
    assert b.post("/me", {"_t": token_of(html), "action": "login", "phone": phone,
                          "password": password}).status_code == 303
    assert 'href="/api/v1/me/data"' in check_page(b.get("/me"))


def test_me_closes_the_account_and_erases_the_personal_data(server, world):
    v, phone, password = _new_volunteer(server, world, 9)
    elsewhere = Api(server, phone, password)
    b = Browser(server)
    html = check_page(b.get("/me"))
    assert b.post("/me", {"_t": token_of(html), "action": "login", "phone": phone,
                          "password": password}).status_code == 303

    def erase(data, status):
        html = check_page(b.get("/me"))
        section = re.search(r'<details id="erase".*?</details>', html, re.S).group(0)
        assert "data-queue" not in section and 'type="checkbox"' in section and " required" in section
        return check_page(b.post("/me", {"_t": token_of(section), "action": "erase", **data}), status=status)

    html = erase({"erase_password": "wrong-pass-1", "confirm": "1"}, 422)
    assert 'id="e-erase_password"' in html and "当前密码不正确" in html and '<details id="erase" open>' in html
    assert 'id="e-current_password"' not in html  # the password form above shows no error
    erase({"erase_password": password}, 422)  # the box not ticked
    assert elsewhere.status("GET", "/me") == 200
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    grant = admin.ok("POST", f"/accounts/{elsewhere.account['id']}/roles",
                     {"role": "coordinator", "org_unit_id": world["community"]["id"]}, want=201)
    html = erase({"erase_password": password, "confirm": "1"}, 409)
    assert "仍有工作人员角色" in html
    admin.ok("DELETE", f"/accounts/{elsewhere.account['id']}/roles/{grant['id']}", want=204)

    r = b.post("/me", {"_t": token_of(re.search(r'<details id="erase".*?</details>', check_page(b.get("/me")),
                                                  re.S).group(0)),
                       "action": "erase", "erase_password": password, "confirm": "1"})
    assert r.status_code == 303 and r.headers["Location"] == f"/me?done=erased&no={v['volunteer_no']}", r.text
    assert elsewhere.status("GET", "/me") == 401
    html = check_page(b.get(r.headers["Location"]))
    assert "账号已注销" in html and f'<strong id="erased-no">{v["volunteer_no"]}</strong>' in html
    assert 'name="phone"' in html  # logged out: the log-in form
    assert Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).ok(
        "GET", f"/volunteers/{v['id']}")["status"] == "erased"
    # Staff accounts have no volunteer record: no such section for them.
    b2 = Browser(server)
    html = check_page(b2.get("/me"))
    assert b2.post("/me", {"_t": token_of(html), "action": "login", "phone": conftest.ADMIN_LOGIN,
                           "password": conftest.ADMIN_PASSWORD}).status_code == 303
    assert 'id="erase"' not in check_page(b2.get("/me"))


def test_a_tap_queued_offline_keeps_its_time_within_the_pages_proof(server, world):
    """The offline queue sends client_at, the time of the tap.  It is kept when it lies between
    the moment the page (with its presence proof) was issued and now; a time before the page,
    or in the future, falls back to the server's time."""
    path, _ = checkin_path(world)
    cases = [(1, lambda t0: t0 + dt.timedelta(seconds=1), True),    # tapped offline after opening
             (2, lambda t0: t0 - dt.timedelta(minutes=5), False),  # before the page existed
             (3, lambda t0: t0 + dt.timedelta(hours=1), False)]    # in the future
    for n, tap, kept in cases:
        v, phone, password = _new_volunteer(server, world, n)
        b = Browser(server)
        t0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        html = check_page(b.get(path))
        time.sleep(3)  # the connection comes back a while after the tap
        client_at = tap(t0)
        r = b.post(path, {"_t": token_of(html), "action": "checkin", "phone": phone, "password": password,
                          "client_at": client_at.isoformat().replace("+00:00", "Z")})
        assert r.status_code == 303, r.text[:300]
        got = _check_in_at(world, v["id"])
        if kept:
            assert abs((got - client_at).total_seconds()) < 1, (got, client_at)
        else:
            assert abs((got - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 5, (got, client_at)

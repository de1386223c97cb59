"""Two-step verification (TOTP, RFC 6238) and step-up re-authentication (R19), against the real
server and PostgreSQL.  Codes are computed here with hmac and hashlib from the secret the
server shows once.

Every test runs on a server and database of its own: wrong codes count as failed log-ins, and
the log-in throttle (five per login in a window) must not reach the shared server's accounts;
and a server seals TOTP secrets under its own secret file.

A code is accepted for the current 30-second step and one either side, each step once per
account, later steps only.  The tests take the steps they use from one reading of the clock,
first waiting (at most 8 s) out the end of a step, so that now-1 .. now+1 stay valid for the
test's ~20 s.
"""
import base64
import datetime as dt
import hashlib
import hmac
import re
import struct
import time

import pytest
import requests

import conftest
from apiclient import Api
from helpers import wait_until

TIMEOUT = 10
PW = "Totp-pass-" + conftest.ADMIN_PASSWORD[-8:]


def code_for(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def steady_step():
    """The current step, at least 22 s before the next one begins."""
    if time.time() % 30 > 22:
        time.sleep(30.2 - time.time() % 30)
    return int(time.time()) // 30


def wrong(code):
    return "%06d" % ((int(code) + 500000) % 1000000)


def login(srv, who, password, totp=None):
    body = {"login": who, "password": password}
    if totp is not None:
        body["totp"] = totp
    return requests.post(srv.url("/api/v1/session"), json=body, timeout=TIMEOUT)


def problem(resp, status, type_end, field=None):
    assert resp.status_code == status, resp.text[:300]
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body = resp.json()
    assert body["type"].endswith(type_end), body
    if field:
        assert [e["field"] for e in body["errors"]] == [field], body
    return body


def enrol(api):
    """Start an enrollment; (secret, answer)."""
    r = api.req("POST", "/me/totp")
    assert r.status_code == 201, r.text[:300]
    assert r.headers.get("Cache-Control") == "no-store"
    body = r.json()
    return body["secret"], body


def enrol_and_confirm(api, step):
    secret, _ = enrol(api)
    api.ok("POST", "/me/totp/confirm", {"code": code_for(secret, step - 1)}, want=200)
    return secret


def own_server(pg, fresh_db, make_server, **env):
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=2, env={k: str(v) for k, v in env.items()})
    srv.db_name = name
    srv.migrate()
    return srv


@pytest.fixture
def srv(pg, fresh_db, make_server):
    """The default mode (VOLUNTEERD_ADMIN_MFA unset: optional), with its bootstrap admin."""
    s = own_server(pg, fresh_db, make_server)
    s.create_admin("admin", PW)
    s.start()
    return s


def staff(admin, who, grant=None):
    acc = admin.ok("POST", "/accounts", {"login": who, "password": PW}, want=201)
    if grant:
        admin.ok("POST", f"/accounts/{acc['id']}/roles", grant, want=201)
    return acc["id"], Api(admin.server, who, PW)


def test_enrol_confirm_log_in_replay_and_turn_off(srv, pg):
    admin = Api(srv, "admin", PW)
    alice_id, alice = staff(admin, "alice")
    step = steady_step()

    # an enrollment: shown once as base32, an otpauth URI and its QR code; a second replaces it
    old, first = enrol(alice)
    assert re.fullmatch(r"[A-Z2-7]{32}", old)
    assert first["otpauth_uri"] == f"otpauth://totp/volunteerd:alice?secret={old}&issuer=volunteerd" \
                                   "&algorithm=SHA1&digits=6&period=30"
    assert first["qr_svg"].startswith("<svg") and first["confirmed"] is False
    secret, _ = enrol(alice)
    assert secret != old
    assert alice.ok("GET", "/me")["totp"] is False
    # stored sealed: neither the secret nor its bytes are in the row
    sealed = pg.sql(f"SELECT encode(secret_sealed, 'hex') FROM account_totp WHERE account_id = {alice_id}",
                    db=srv_db(srv)).strip()
    raw = base64.b32decode(secret).hex()
    assert len(sealed) == 96 and raw not in sealed

    # confirm: a wrong code and the replaced secret's code are 422 naming code
    problem(alice.req("POST", "/me/totp/confirm", {"code": wrong(code_for(secret, step))}), 422, "validation", "code")
    problem(alice.req("POST", "/me/totp/confirm", {"code": code_for(old, step)}), 422, "validation", "code")
    got = alice.ok("POST", "/me/totp/confirm", {"code": code_for(secret, step - 1)}, want=200)
    assert got["totp"] is True
    me = alice.ok("GET", "/me")
    assert me["totp"] is True and me["session"]["mfa"] is True
    problem(alice.req("POST", "/me/totp"), 409, "conflict")

    # log-in: no code, a wrong code, the right one, the same again (replay)
    problem(login(srv, "alice", PW), 401, "totp-required", "totp")
    problem(login(srv, "alice", PW, wrong(code_for(secret, step))), 401, "totp-required", "totp")
    problem(login(srv, "alice", PW, code_for(secret, step - 1)), 401, "totp-required", "totp")  # step taken
    r = login(srv, "alice", PW, code_for(secret, step))
    assert r.status_code == 201, r.text
    tok = r.json()["token"]
    me = requests.get(srv.url("/api/v1/me"), headers={"Authorization": "Bearer " + tok}, timeout=TIMEOUT).json()
    assert me["session"]["mfa"] is True
    problem(login(srv, "alice", PW, code_for(secret, step)), 401, "totp-required", "totp")
    # a wrong password with a right code says nothing about the code
    body = problem(login(srv, "alice", "Wrong-pass-123", code_for(secret, step + 1)), 401, "unauthenticated")
    assert "errors" not in body

    # turning it off: the password, then a current code
    problem(alice.req("DELETE", "/me/totp", {"current_password": PW, "code": wrong(code_for(secret, step))}),
            422, "validation", "code")
    alice.ok("DELETE", "/me/totp", {"current_password": PW, "code": code_for(secret, step + 1)}, want=204)
    assert alice.ok("GET", "/me")["totp"] is False
    assert login(srv, "alice", PW).status_code == 201  # as before it was on

    # audited; logged by name, never with the secret or a code
    actions = pg.sql(f"SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE entity_id = {alice_id}"
                     " AND action LIKE 'totp%'", db=srv_db(srv)).strip()
    assert actions == "totp_enroll,totp_enroll,totp_enrolled,totp_disabled"
    log = srv.log_text()
    for event in ("totp_enroll_started", "totp_enrolled", "totp_disabled", "login_totp_missing",
                  "reason=totp"):
        assert event in log, event
    assert secret not in log and old not in log
    assert code_for(secret, step) not in re.sub(r"rid=\S+", "", log)


def test_the_failed_codes_count_against_the_log_in_limit(srv):
    admin = Api(srv, "admin", PW)
    _, bob = staff(admin, "bob")
    step = steady_step()
    secret = enrol_and_confirm(bob, step)
    bad = wrong(code_for(secret, step))
    for _ in range(5):
        problem(login(srv, "bob", PW, bad), 401, "totp-required", "totp")
    # the login is locked now, the right code too (429), as after five wrong passwords
    r = login(srv, "bob", PW, code_for(secret, step))
    assert r.status_code == 429 and "Retry-After" in r.headers


@pytest.mark.parametrize("route", ["reauth", "turn-off"])
def test_wrong_codes_after_the_password_count_on_every_route(srv, route):
    """Someone holding the password and a session must not try the million codes through
    re-authentication or turning the factor off, where no log-in limit used to count them."""
    admin = Api(srv, "admin", PW)
    _, carol = staff(admin, "carol-" + route)
    step = steady_step()
    secret = enrol_and_confirm(carol, step)
    right, bad = code_for(secret, step), wrong(code_for(secret, step))

    def attempt(code):
        if route == "reauth":
            return carol.req("POST", "/session/reauth", {"password": PW, "totp": code})
        return carol.req("DELETE", "/me/totp", {"current_password": PW, "code": code})

    for _ in range(5):
        if route == "reauth":
            problem(attempt(bad), 401, "totp-required", "totp")
        else:
            problem(attempt(bad), 422, "validation", "code")
    r = attempt(right)  # the right code too, as after five wrong passwords
    assert r.status_code == 429 and "Retry-After" in r.headers, r.text[:300]
    r = login(srv, "carol-" + route, PW, right)
    assert r.status_code == 429


def test_an_administrator_clears_a_lost_phone(srv, pg):
    admin = Api(srv, "admin", PW)
    admin_id = admin.account["id"]
    unit = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district", "code": "tt-d", "name": "区"},
                    want=201)["id"]
    carol_id, carol = staff(admin, "carol")
    _, sub = staff(admin, "subadmin", {"role": "admin", "org_unit_id": unit})
    step = steady_step()
    enrol_and_confirm(carol, step)
    problem(login(srv, "carol", PW), 401, "totp-required", "totp")
    # only a system administrator, and not on their own account
    problem(sub.req("DELETE", f"/accounts/{carol_id}/totp"), 404, "not-found")
    problem(carol.req("DELETE", f"/accounts/{carol_id}/totp"), 404, "not-found")
    problem(admin.req("DELETE", f"/accounts/{admin_id}/totp"), 409, "conflict")
    problem(admin.req("DELETE", "/accounts/999999/totp"), 404, "not-found")
    admin.ok("DELETE", f"/accounts/{carol_id}/totp", want=204)
    assert login(srv, "carol", PW).status_code == 201
    assert carol.ok("GET", "/me")["totp"] is False
    assert pg.sql(f"SELECT account_id FROM audit_log WHERE action = 'totp_cleared' AND entity_id = {carol_id}",
                  db=srv_db(srv)).strip() == str(admin_id)
    assert f"actor={admin_id} account={carol_id}" in srv.log_text()


def test_default_mode_keeps_every_flow(pg, fresh_db, make_server):
    """The smoke contract: log-in with login and password, and a role grant long after it."""
    s = own_server(pg, fresh_db, make_server, VOLUNTEERD_REAUTH_SECONDS=1)
    s.create_admin("admin", PW)
    s.start()
    admin = Api(s, "admin", PW)
    me = admin.ok("GET", "/me")
    assert me["totp"] is False and me["session"]["mfa"] is False
    acc = admin.ok("POST", "/accounts", {"login": "dave", "password": PW}, want=201)
    time.sleep(2.5)  # past VOLUNTEERD_REAUTH_SECONDS, which only the required mode uses
    admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "admin"}, want=201)
    admin.ok("GET", "/org-units", want=200)


def test_required_mode_enrol_in_the_session_then_reauthenticate(pg, fresh_db, make_server):
    s = own_server(pg, fresh_db, make_server, VOLUNTEERD_ADMIN_MFA="required", VOLUNTEERD_REAUTH_SECONDS=3)
    # a fresh database has no account that can log in until create-admin
    assert pg.sql("SELECT count(*) FROM accounts", db=srv_db(s)).strip() == "0"
    s.start()
    assert login(s, "admin", PW).status_code == 401
    s.create_admin("admin", PW)

    admin = Api(s, "admin", PW)  # a password alone still logs in: to enrol
    body = problem(admin.req("GET", "/org-units"), 403, "mfa-required")
    assert "two-step" in body["detail"]
    problem(admin.req("POST", "/accounts", {"login": "erin", "password": PW}), 403, "mfa-required")
    me = admin.ok("GET", "/me")
    assert me["totp"] is False and me["session"]["mfa"] is False
    # the pages send the administrator to /me, where the enrollment is
    page = requests.get(s.url("/console"), cookies={"vd_session": admin.token}, allow_redirects=False,
                        timeout=TIMEOUT)
    assert page.status_code == 303 and page.headers["Location"].startswith("/me")
    assert requests.get(s.url("/me"), cookies={"vd_session": admin.token}, timeout=TIMEOUT).status_code == 200
    assert "mfa_required" in s.log_text()

    step = steady_step()
    secret = enrol_and_confirm(admin, step)  # the same session goes on
    assert admin.ok("GET", "/me")["session"]["mfa"] is True
    admin.ok("GET", "/org-units", want=200)
    acc = admin.ok("POST", "/accounts", {"login": "erin", "password": PW}, want=201)

    # a coordinator needs no second factor
    unit = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district", "code": "rq-d", "name": "区"},
                    want=201)["id"]
    g = admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "coordinator", "org_unit_id": unit},
                 want=201)
    erin = Api(s, "erin", PW)
    erin.ok("GET", "/org-units", want=200)

    # step-up: past VOLUNTEERD_REAUTH_SECONDS, grants and revokes need a fresh authentication
    time.sleep(3.5)
    problem(admin.req("POST", f"/accounts/{acc['id']}/roles", {"role": "admin", "org_unit_id": unit}),
            401, "reauth-required")
    problem(admin.req("DELETE", f"/accounts/{acc['id']}/roles/{g['id']}"), 401, "reauth-required")
    admin.ok("GET", "/org-units", want=200)  # everything else goes on
    problem(admin.req("POST", "/session/reauth", {"password": PW}), 401, "totp-required", "totp")
    problem(admin.req("POST", "/session/reauth", {"password": "Wrong-pass-123", "totp": code_for(secret, step)}),
            422, "validation", "password")
    got = admin.ok("POST", "/session/reauth", {"password": PW, "totp": code_for(secret, step)}, want=200)
    assert got == {"reauthenticated": True, "mfa": True}
    admin.ok("POST", f"/accounts/{acc['id']}/roles", {"role": "admin", "org_unit_id": unit}, want=201)
    admin.ok("DELETE", f"/accounts/{acc['id']}/roles/{g['id']}", want=204)
    assert "event=reauth_required" in s.log_text() and "event=reauth " in s.log_text()

    # erin is an admin now, logged in before it and without a second factor: refused at once
    problem(erin.req("GET", "/org-units"), 403, "mfa-required")
    # a log-in with a code counts as the second factor and as an authentication
    r = login(s, "admin", PW, code_for(secret, step + 1))
    assert r.status_code == 201
    fresh = Api(s)
    fresh.token = r.json()["token"]
    fresh.ok("POST", "/accounts", {"login": "frank", "password": PW}, want=201)


def test_a_bad_mode_stops_the_start_up(pg, fresh_db, make_server):
    _, url = fresh_db()
    s = make_server(url, tls=False, workers=1, env={"VOLUNTEERD_ADMIN_MFA": "yes"})
    proc = s.spawn()
    assert wait_until(lambda: proc.poll() is not None, 15)
    assert proc.returncode != 0
    assert "VOLUNTEERD_ADMIN_MFA" in s.log_text()


def srv_db(srv):
    return srv.db_name


# --------------------------------------------------------------------------------------------
# The pages (JavaScript off: plain forms, as test_pages.py drives them)
# --------------------------------------------------------------------------------------------

class Browser:
    """A cookie jar that posts forms as a browser does (Origin, no redirects followed)."""

    def __init__(self, server, lang="zh-CN"):
        self.server = server
        self.s = requests.Session()
        self.s.headers["Accept-Language"] = lang
        self.origin = server.url("").rstrip("/")

    def get(self, path):
        return self.s.get(self.server.url(path), timeout=TIMEOUT, allow_redirects=False)

    def post(self, path, data):
        return self.s.post(self.server.url(path), data=data, headers={"Origin": self.origin},
                           timeout=TIMEOUT, allow_redirects=False)


def section_of(html):
    return re.search(r'<section aria-labelledby="h-totp".*?</section>', html, re.S).group(0)


def token_in(html, action):
    """The one-time token of the form whose hidden action is `action`."""
    for form in re.findall(r"<form.*?</form>", html, re.S):
        if f'name="action" value="{action}"' in form:
            return re.search(r'name="_t" value="([^"]+)"', form).group(1)
    raise AssertionError(f"no {action} form in the page")


def page_login(b, who, password, totp=None):
    html = b.get("/me").text
    data = {"_t": token_in(html, "login"), "action": "login", "phone": who, "password": password}
    if totp is not None:
        data["totp"] = totp
    return b.post("/me", data)


def test_the_me_page_enrols_and_the_log_in_form_asks_for_the_code(srv):
    admin = Api(srv, "admin", PW)
    staff(admin, "gina")
    b = Browser(srv)
    html = b.get("/me").text
    assert 'name="totp"' in html and 'autocomplete="one-time-code"' in html  # the log-in form's field
    assert page_login(b, "gina", PW).status_code == 303

    html = b.get("/me").text
    assert "未开启" in section_of(html)
    step = steady_step()
    r = b.post("/me", {"_t": token_in(html, "totp_start"), "action": "totp_start"})
    assert r.status_code == 200 and r.headers.get("Cache-Control") == "no-store"
    section = section_of(r.text)
    secret = re.search(r'id="totp-secret">([A-Z2-7]{32})<', section).group(1)
    assert '<div id="totp-qr" class="qr"><svg' in section
    # a wrong code: the form again, the field marked
    r = b.post("/me", {"_t": token_in(r.text, "totp_confirm"), "action": "totp_confirm",
                       "code": wrong(code_for(secret, step))})
    assert r.status_code == 422 and 'id="e-code"' in r.text and "验证码不正确" in r.text
    assert secret not in r.text  # shown once only
    r = b.post("/me", {"_t": token_in(r.text, "totp_confirm"), "action": "totp_confirm",
                       "code": code_for(secret, step - 1)})
    assert r.status_code == 303 and r.headers["Location"] == "/me?done=totp_on"
    html = b.get("/me?done=totp_on").text
    assert "两步验证已开启" in html and "已开启" in section_of(html)

    # another browser, in English: the log-in form asks for the code, then takes it
    e = Browser(srv, "en")
    r = page_login(e, "gina", PW)
    assert r.status_code == 401 and 'id="e-totp"' in r.text and "two-step verification" in r.text
    assert 'name="phone" value="gina"' in r.text or 'value="gina"' in r.text
    r = page_login(e, "gina", PW, wrong(code_for(secret, step)))
    assert r.status_code == 401 and "The code is wrong" in r.text
    assert page_login(e, "gina", PW, code_for(secret, step)).status_code == 303
    html = e.get("/me").text
    assert "Two-step verification" in html

    # turning it off from the page: the password and a code
    r = e.post("/me", {"_t": token_in(html, "totp_off"), "action": "totp_off", "totp_password": PW,
                       "code": code_for(secret, step + 1)})
    assert r.status_code == 303 and r.headers["Location"] == "/me?done=totp_off"
    assert Api(srv, "gina", PW).ok("GET", "/me")["totp"] is False


def test_the_check_in_page_asks_a_volunteer_with_totp_for_the_code(srv):
    admin = Api(srv, "admin", PW)
    unit = admin.ok("POST", "/org-units", {"parent_id": None, "kind": "community", "code": "ck-c", "name": "社区"},
                    want=201)["id"]
    team = admin.ok("POST", "/teams", {"name": "队", "org_unit_id": unit}, want=201)["id"]
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    act = admin.ok("POST", "/activities", {
        "team_id": team, "org_unit_id": unit, "title": "岗", "category": "类", "location": "东门", "capacity": 5,
        "starts_at": (now - dt.timedelta(minutes=10)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=1)).isoformat()}, want=201)
    ev = admin.ok("GET", f"/activities/{act['id']}/events")["items"][0]
    path = "/checkin/" + admin.ok("GET", f"/events/{ev['id']}")["checkin_url"].split("/checkin/")[1]
    Api(srv).ok("POST", "/volunteers", {"name": "两步", "phone": "13900000001", "org_unit_id": unit,
                                        "password": PW}, want=201)
    vol = Api(srv, "13900000001", PW)
    step = steady_step()
    secret = enrol_and_confirm(vol, step)

    b = Browser(srv)
    html = b.get(path).text
    assert 'name="totp"' not in html  # a volunteer's page stays short until the server asks
    r = b.post(path, {"_t": token_in(html, "checkin"), "action": "checkin", "phone": "13900000001",
                      "password": PW})
    assert r.status_code == 401 and 'name="totp"' in r.text and "此账号已开启两步验证" in r.text
    r = b.post(path, {"_t": token_in(r.text, "checkin"), "action": "checkin", "phone": "13900000001",
                      "password": PW, "totp": code_for(secret, step)})
    assert r.status_code == 303, r.text[:300]
    assert admin.ok("GET", f"/events/{ev['id']}/attendance")["counts"]["on_post"] == 1

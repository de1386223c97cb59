"""Security and robustness fixes from the 2026-12 audit, against the real binary:

- a password stored at an older cost is rehashed at today's cost when it logs in (R15);
- a password is never cut short: a long multibyte one registers (API, /register page, staff
  account, create-admin, password change) and then logs in (API and /me page);
- a query parameter given twice, with a %00, a bad escape or bytes that are not UTF-8 is 400
  naming it (R29; the forms' side is in test_pages.py);
- a JSON body labelled as something else is 415, and an anonymous write whose Origin names
  another site is 403 (log-in CSRF), while clients that send no Origin keep working;
- the pool's connected count never goes negative while PostgreSQL is unreachable, so the
  pool is marked down and requests get their 503 at once;
- HTTPS answers carry Strict-Transport-Security, plain HTTP ones do not;
- every log line parses as logfmt, even with quotes in a value;
- security events (log-in, lock-out, cross-site refusal, export, log-out) are logged with the
  request id, the address and the account (R41);
- a fault of the database's own is 500 saying only "database error" (R32), with the details
  in the log;
- durability settings that are off are named in a warning at start-up;
- a second SIGTERM ends the drain at once.
"""
import http.client
import json
import re
import secrets
import signal
import socket
import threading
import time

import pytest
import requests

import conftest
import helpers
from apiclient import Api
from helpers import wait_until

TIMEOUT = 10
PROBLEM = "application/problem+json"
LONG_PW = "密码很长" * 32  # 128 characters, 384 bytes of UTF-8: the longest accepted


def phone():
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def login(srv, who, password, tls=False, **kw):
    return requests.post(srv.url("/api/v1/session", tls), json={"login": who, "password": password},
                         timeout=TIMEOUT, verify=False, **kw)


@pytest.fixture(scope="module")
def unit(server):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    tag = secrets.token_hex(3)
    ids = None
    for kind in ("district", "subdistrict", "community"):
        body = {"kind": kind, "code": f"sec-{kind}-{tag}", "name": f"{kind} {tag}"}
        if ids:
            body["parent_id"] = ids
        ids = admin.ok("POST", "/org-units", body, want=201)["id"]
    return ids


# --- 1. passwords are never truncated --------------------------------------------------------

def test_long_multibyte_password_registers_and_logs_in_through_the_api(server, unit):
    assert len(LONG_PW) == 128 and len(LONG_PW.encode()) == 384
    p = phone()
    r = requests.post(server.url("/api/v1/volunteers"), json={
        "name": "长密码", "phone": p, "org_unit_id": unit, "password": LONG_PW}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    r = login(server, p, LONG_PW)
    assert r.status_code == 201, r.text  # before the fix: 401 (only 128 bytes were compared)
    # A prefix (what a cut would have kept) is not the password.
    assert login(server, p, LONG_PW[:43]).status_code == 401
    assert login(server, p, LONG_PW[:-1]).status_code == 401
    # One character more than the limit is refused at registration and at log-in alike.
    r = requests.post(server.url("/api/v1/volunteers"), json={
        "name": "太长", "phone": phone(), "org_unit_id": unit, "password": LONG_PW + "码"}, timeout=TIMEOUT)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password", r.text
    r = login(server, p, LONG_PW + "码")
    assert r.status_code == 422, r.text

    # The password change hashes the whole new one too, and it logs in afterwards.
    me = Api(server, p, LONG_PW)
    fresh = "新密码也很长" * 21  # 126 characters, 378 bytes
    me.ok("POST", "/me/password", {"current_password": LONG_PW, "new_password": fresh}, want=200)
    assert login(server, p, fresh).status_code == 201
    assert login(server, p, LONG_PW).status_code == 401


def test_long_password_of_a_staff_account(server):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    name = "sec-" + secrets.token_hex(4)
    admin.ok("POST", "/accounts", {"login": name, "password": LONG_PW}, want=201)
    assert login(server, name, LONG_PW).status_code == 201
    assert login(server, name, LONG_PW[:43]).status_code == 401


def token_of(html):
    found = re.findall(r'name="_t" value="([^"]+)"', html)
    assert found, "no form token in the page"
    return found[0]


def test_long_password_through_the_register_and_log_in_pages(server, unit):
    origin = server.url("").rstrip("/")
    s = requests.Session()
    html = s.get(server.url("/register"), timeout=TIMEOUT).text
    p = phone()
    r = s.post(server.url("/register"), data={"_t": token_of(html), "name": "页面", "phone": p,
                                               "password": LONG_PW, "org_unit_id": str(unit)},
               headers={"Origin": origin}, timeout=TIMEOUT, allow_redirects=False)
    assert r.status_code == 303, r.text[:500]  # registered, and logged in with the same bytes
    assert login(server, p, LONG_PW).status_code == 201
    # The /me page's log-in form, from a fresh browser.
    b = requests.Session()
    html = b.get(server.url("/me"), timeout=TIMEOUT).text
    r = b.post(server.url("/me"), data={"_t": token_of(html), "action": "login", "phone": p,
                                        "password": LONG_PW},
               headers={"Origin": origin}, timeout=TIMEOUT, allow_redirects=False)
    assert r.status_code == 303, r.text[:500]


def test_create_admin_takes_a_long_password_whole(fresh_db, make_server):
    _, url = fresh_db()
    srv = make_server(url, tls=False, workers=1)
    srv.migrate()
    srv.create_admin("longadmin", LONG_PW)
    r = srv.cmd(["create-admin", "--login", "toolong", "--password-stdin"], input=LONG_PW + "码" * 200 + "\n")
    assert r.returncode == 2, r.stderr  # refused, not cut to fit
    srv.start()
    assert login(srv, "longadmin", LONG_PW).status_code == 201
    assert login(srv, "longadmin", LONG_PW[:53]).status_code == 401


# A hash of "Rehash-test-pass-1" at an older, cheaper cost (m = 4096 KiB, t = 1), made once
# with libargon2's argon2id_hash_encoded and a fixed salt.
OLD_COST_PW = "Rehash-test-pass-1"
OLD_COST_HASH = "$argon2id$v=19$m=4096,t=1,p=1$dm9sdW50ZWVyZC1zYWx0IQ$2Qm/7i5Y2EA+dWgA2KQb5ZKpeM6bP4ikIT9LXlET5YA"


def test_a_hash_of_an_older_cost_is_replaced_at_log_in(pg, fresh_db, make_server):
    """R15: a password stored at an older cost still logs in, and that log-in stores a hash at
    today's cost (so the cost can be raised without resetting anyone's password); a wrong
    password changes nothing, the password's age stays, and the next log-in rehashes nothing."""
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=1)
    srv.migrate()
    srv.create_admin("veteran", OLD_COST_PW)
    srv.start()
    pg.sql(f"UPDATE accounts SET password_hash = '{OLD_COST_HASH}' WHERE login = 'veteran'", db=name)

    def stored():
        return pg.sql("SELECT password_hash || ' ' || password_changed_at FROM accounts "
                      "WHERE login = 'veteran'", db=name).strip().split(" ", 1)

    _, changed_at = stored()
    assert login(srv, "veteran", OLD_COST_PW + "x").status_code == 401
    assert stored() == [OLD_COST_HASH, changed_at]
    assert login(srv, "veteran", OLD_COST_PW).status_code == 201
    new_hash, changed_after = stored()
    assert new_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and new_hash != OLD_COST_HASH, new_hash
    assert changed_after == changed_at
    assert login(srv, "veteran", OLD_COST_PW).status_code == 201
    assert stored() == [new_hash, changed_at]
    assert srv.log_text().count("event=password_rehashed") == 1


# --- 2. content type and log-in CSRF ----------------------------------------------------------

def test_json_api_refuses_other_content_types(server):
    body = '{"login": "%s", "password": "%s"}' % (conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    for ct in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
               "multipart/form-data; boundary=x", "application/jsonx"):
        r = requests.post(server.url("/api/v1/session"), data=body.encode(), headers={"Content-Type": ct},
                          timeout=TIMEOUT)
        assert r.status_code == 415, (ct, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith(PROBLEM) and "Set-Cookie" not in r.headers
    for ct in ("application/json", "application/json; charset=utf-8", "Application/JSON",
               "application/merge-patch+json", None):
        headers = {"Content-Type": ct} if ct else {}
        r = requests.post(server.url("/api/v1/session"), data=body.encode(), headers=headers, timeout=TIMEOUT)
        assert r.status_code == 201, (ct, r.status_code, r.text)
    # An authenticated write is held to the same rule.
    token = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).json()["token"]
    r = requests.post(server.url("/api/v1/org-units"), data=b'{"kind": "district"}',
                      headers={"Authorization": "Bearer " + token, "Content-Type": "text/plain"}, timeout=TIMEOUT)
    assert r.status_code == 415, r.text


def test_a_query_is_taken_exactly_as_sent_or_refused(server):
    """R29: a query parameter given twice (the server would read only the first), a %00 (C
    would cut the value there), a '%' that begins no escape or bytes that are not UTF-8 are
    400 naming the parameter, before the route's own rules; the same query sent once is
    served."""
    token = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).json()["token"]
    auth = {"Authorization": "Bearer " + token}

    def get(query):
        """The query exactly as written (requests would mend a bare '%' into %25)."""
        conn = http.client.HTTPConnection("127.0.0.1", server.http, timeout=TIMEOUT)
        try:
            conn.request("GET", "/api/v1/volunteers?" + query, headers=auth)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type"), resp.read().decode()
        finally:
            conn.close()

    assert get("status=active&limit=5")[0] == 200
    for query, field in (("status=active&status=withdrawn", "status"),
                         ("limit=5&status=active&limit=500", "limit"),
                         ("q=%C3%28", "q"), ("q=100%", "q"), ("q=%zz", "q"),
                         ("q=13%00", "request-target")):  # the pre-parser's refusal (R11)
        status, ctype, body = get(query)
        assert status == 400 and ctype.startswith(PROBLEM), (query, body)
        assert [e["field"] for e in json.loads(body)["errors"]] == [field], (query, body)
    # Before authentication too: the query is read before anything else.
    r = requests.get(server.url("/livez?a=1&a=1"), timeout=TIMEOUT)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "a", r.text
    assert requests.get(server.url("/livez?a=1&b=1"), timeout=TIMEOUT).status_code == 200


def test_unsupported_media_type_has_its_own_series(server):
    """A dashboard of answers by status tells a client sending the wrong Content-Type (415)
    from the rest, instead of counting it in "other"."""
    def count(status):
        return helpers.metric(server, "volunteerd_http_requests_total", method="POST",
                              route="/api/v1/session", status=status)
    before = count("415"), count("other")
    for _ in range(3):
        r = requests.post(server.url("/api/v1/session"), data=b"login=x", timeout=TIMEOUT,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415, r.text
    assert (count("415"), count("other")) == (before[0] + 3, before[1]), before


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_anonymous_write_from_another_site_is_refused(server, unit, tls):
    ours = server.url("", tls).rstrip("/")
    creds = {"login": conftest.ADMIN_LOGIN, "password": conftest.ADMIN_PASSWORD}
    for origin in ("https://evil.example", "null", ours + ".evil.example"):
        r = login(server, creds["login"], creds["password"], tls=tls, headers={"Origin": origin})
        assert r.status_code == 403, (origin, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith(PROBLEM) and "Set-Cookie" not in r.headers
    r = requests.post(server.url("/api/v1/volunteers", tls), json={
        "name": "跨站", "phone": phone(), "org_unit_id": unit}, headers={"Origin": "https://evil.example"},
        timeout=TIMEOUT, verify=False)
    assert r.status_code == 403, r.text
    # A browser's Sec-Fetch-Site naming another site counts as such an Origin (R45), even
    # without one.
    for site in ("cross-site", "same-site"):
        r = login(server, creds["login"], creds["password"], tls=tls, headers={"Sec-Fetch-Site": site})
        assert r.status_code == 403, (site, r.status_code, r.text)
    # Our own origin, and clients that send none, are served.
    assert login(server, creds["login"], creds["password"], tls=tls,
                 headers={"Origin": ours, "Sec-Fetch-Site": "same-origin"}).status_code == 201
    assert login(server, creds["login"], creds["password"], tls=tls).status_code == 201
    # A stale cookie does not make an anonymous request exempt.
    stale = "vd_session" if not tls else "__Host-vd_session"
    r = login(server, creds["login"], creds["password"], tls=tls,
              headers={"Origin": "https://evil.example", "Cookie": f"{stale}={'A' * 43}"})
    assert r.status_code == 403, r.text


# --- 3. the pool while PostgreSQL is unreachable ----------------------------------------------

def pool_connected(srv):
    text = srv.get("/metrics", timeout=3).text
    return [int(float(v)) for v in re.findall(r"^volunteerd_db_pool_connected\{[^}]*\} (\S+)$", text, re.M)]


def assert_prompt_503(srv):
    t0 = time.monotonic()
    r = srv.request("POST", "/api/v1/session", json={"login": "x", "password": "yyyyyyyyyy"}, timeout=5)
    took = time.monotonic() - t0
    assert r.status_code == 503 and r.headers["Content-Type"].startswith(PROBLEM), r.text
    assert r.headers.get("Retry-After"), "503 without Retry-After"
    assert took < 0.5, f"the 503 took {took:.2f} s"


def test_pool_started_without_the_database_stays_sane_and_recovers(own_pg, make_server):
    srv = make_server(own_pg.url(), tls=False, workers=1)
    srv.migrate()
    own_pg.stop("fast")
    srv.start()
    assert "db_unreachable_at_start" in srv.log_text()
    seen = []
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:  # every failed attempt used to count -1
        seen += pool_connected(srv)
        time.sleep(0.2)
    assert seen and min(seen) == 0 and max(seen) == 0, seen
    assert "event=db_unavailable" in srv.log_text()
    for _ in range(3):
        assert_prompt_503(srv)
    own_pg.start()
    assert wait_until(lambda: srv.get("/readyz", timeout=3).status_code == 200, 20), "no recovery"
    assert wait_until(lambda: min(pool_connected(srv)) > 0, 10)
    r = srv.request("POST", "/api/v1/session", json={"login": "x", "password": "yyyyyyyyyy"}, timeout=5)
    assert r.status_code == 401, r.text


# --- 3b. deny by default (R24) -----------------------------------------------------------------

# The API's routes open without a session (server/router.c: AUTH_PUBLIC and AUTH_OPTIONAL).
OPEN_API = {("GET", "/livez"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/api/v1/openapi.json"),
            ("POST", "/api/v1/session"), ("DELETE", "/api/v1/session"), ("POST", "/api/v1/volunteers")}


def test_every_other_api_route_refuses_a_request_without_a_session(server):
    """R24: every API operation openapi.json lists (path ids set to 1, an empty JSON body),
    asked without a session, is 401 before anything else is looked at, except the few open
    ones, which are in the document too (the pages answer a log-in form instead).  (The table itself is checked at every start:
    router_check refuses to serve a route that names no access policy.)"""
    paths = server.get("/api/v1/openapi.json").json()["paths"]
    ops = {(m.upper(), p) for p, item in paths.items() for m in item
           if m in ("get", "post", "put", "patch", "delete") and p.startswith("/api/")}
    assert len(ops) > 50, len(ops)
    assert {op for op in OPEN_API if op[1].startswith("/api/")} <= ops
    refused = []
    for method, path in sorted(ops - OPEN_API):
        r = server.request(method, re.sub(r"\{[^}]+\}", "1", path), json={} if method != "GET" else None)
        if r.status_code != 401:
            refused.append((method, path, r.status_code))
    assert refused == [], refused


# --- 4. HSTS ----------------------------------------------------------------------------------

def test_hsts_on_https_only(server):
    for path in ("/livez", "/api/v1/no-such-thing", "/register"):
        r = server.get(path, tls=True)
        assert r.headers.get("Strict-Transport-Security") == "max-age=63072000", (path, r.headers)
        r = server.get(path)
        assert "Strict-Transport-Security" not in r.headers, path


# --- 5. logfmt --------------------------------------------------------------------------------

LOGFMT_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\["\\nrt]|\\u[0-9a-f]{4})*"|[^\s"=]*)(?: |$)')


def parse_logfmt(line):
    """The pairs of one logfmt line, or None when it is not strictly logfmt."""
    out, pos = {}, 0
    while pos < len(line):
        m = LOGFMT_PAIR.match(line, pos)
        if not m:
            return None
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r'\\(["\\])', r"\1", v[1:-1])
        out[m.group(1)] = v
        pos = m.end()
    return out


def test_log_lines_with_quoted_values_parse_as_logfmt(own_pg, make_server):
    srv = make_server(own_pg.url(), tls=False, workers=1)
    srv.migrate()
    own_pg.stop("fast")
    srv.start()  # libpq's reasons quote the socket's path: connection to server on socket "..."
    srv.get("/readyz", timeout=5)
    assert wait_until(lambda: "db_connect_failed" in srv.log_text(), 5)
    srv.stop()
    lines = [l for l in srv.log_text().splitlines() if l.startswith("ts=")]
    assert lines
    quoted = 0
    for line in lines:
        pairs = parse_logfmt(line)
        assert pairs is not None, f"not logfmt: {line}"
        if '"' in pairs.get("reason", ""):
            quoted += 1
            assert "connection to server" in pairs["reason"]
    assert quoted, "no reason with a quote in it was logged"


def test_a_database_fault_answers_generically_and_is_logged(pg, fresh_db, make_server):
    """R32: when the database fails a statement for a reason of its own (here a column renamed
    under the server), the client gets 500 problem+json that says only "database error" and
    the request's id: no SQL, table, column or message of PostgreSQL's.  The log has the
    SQLSTATE and the message for the operator on a line with the request's id, and then the
    request's line.  Once the schema is whole again, the same request is served."""
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=1)
    srv.migrate()
    srv.create_admin("admin", "Fault-test-pass-1")
    srv.start()
    admin = Api(srv, "admin", "Fault-test-pass-1")
    admin.ok("POST", "/org-units", {"kind": "district", "code": "FD", "name": "故障区"}, want=201)
    assert admin.status("GET", "/org-units") == 200
    pg.sql("ALTER TABLE org_units RENAME COLUMN name TO name_gone", db=name)
    try:
        r = admin.req("GET", "/org-units")
        assert r.status_code == 500 and r.headers["Content-Type"].startswith(PROBLEM), r.text
        body = r.json()
        assert body["detail"] == "database error" and body["status"] == 500, body
        for leak in ("name", "org_units", "column", "FROM", "SELECT", "SQL", "42P01", "42703", "api."):
            assert leak not in r.text, (leak, r.text)
        # For the operator: PostgreSQL's SQLSTATE and message under the request's id, then the
        # request's line.
        rid = r.headers["X-Request-Id"]
        lines = srv.log_text().splitlines()
        fault = [i for i, l in enumerate(lines) if "event=db_error" in l and "sqlstate=42" in l]
        assert fault and 'message="' in lines[fault[-1]], srv.log_text()[-3000:]
        assert f"rid={rid} " in lines[fault[-1]], (rid, lines[fault[-1]])
        assert any(f"rid={rid}" in l and "status=500" in l for l in lines[fault[-1]:]), rid
    finally:
        pg.sql("ALTER TABLE org_units RENAME COLUMN name_gone TO name", db=name)
    assert admin.status("GET", "/org-units") == 200


def test_security_events_are_logged_with_who_and_where(server):
    """R41: each security event is one logfmt line with the request's id and the source
    address: log-in success (account, a tag of the session: the first 8 hex digits of its
    token's hash, never the token) and failure (known and unknown login, which the client
    cannot tell apart), a lock-out, a refused cross-site request, an export and a log-out;
    every request's line also names the address and the account (0: none)."""
    def lines_of(r, event):
        rid = r.headers["X-Request-Id"]
        found = []
        for line in server.log_text().splitlines():
            pairs = parse_logfmt(line) if f"rid={rid}" in line else None
            if pairs and pairs.get("event") == event:
                found.append(pairs)
        return found

    def one(r, event, **want):
        assert wait_until(lambda: lines_of(r, event), 5), (event, server.log_text()[-2000:])
        (pairs,) = lines_of(r, event)
        assert pairs["ip"] == "127.0.0.1", pairs
        for k, v in want.items():
            assert pairs[k] == v, (event, k, pairs)
        return pairs

    ok = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    assert ok.status_code == 201
    token, account = ok.json()["token"], str(ok.json()["account"]["id"])
    tag = one(ok, "login_ok", account=account, mfa="0")["session"]
    assert re.fullmatch(r"[0-9a-f]{8}", tag) and tag not in token, tag
    one(ok, "request", account="0", status="201")  # no session before this one

    one(login(server, conftest.ADMIN_LOGIN, "Wrong-password-1"), "login_failed", account=account,
        reason="password")
    stranger = "nobody-" + secrets.token_hex(4)
    one(login(server, stranger, "Wrong-password-1"), "login_failed", account="0", reason="password")
    for _ in range(4):
        login(server, stranger, "Wrong-password-1")
    locked = login(server, stranger, "Wrong-password-1")
    assert locked.status_code == 429, locked.text
    one(locked, "login_locked")

    evil = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403, evil.text
    one(evil, "cross_site_refused", account="0", route="/api/v1/session")

    auth = {"Authorization": "Bearer " + token}
    data = requests.get(server.url("/api/v1/me/data"), headers=auth, timeout=TIMEOUT)
    assert data.status_code == 200, data.text[:300]
    one(data, "export", account=account, format="json", route="/api/v1/me/data")
    one(data, "request", account=account, status="200")
    out = requests.delete(server.url("/api/v1/session"), headers=auth, timeout=TIMEOUT)
    assert out.status_code == 204, out.text
    one(out, "logout", account=account, session=tag)
    assert token not in server.log_text()


# --- 6. durability settings -------------------------------------------------------------------

def test_durability_settings_off_are_warned_at_start(own_pg, make_server):
    own_pg.sql("ALTER SYSTEM SET fsync = off", db="postgres")
    own_pg.sql("ALTER SYSTEM SET synchronous_commit = off", db="postgres")
    own_pg.sql("ALTER SYSTEM SET data_sync_retry = on", db="postgres")  # read at start only
    own_pg.stop()
    own_pg.start()
    assert own_pg.sql("SHOW fsync").strip() == "off"
    srv = make_server(own_pg.url(), tls=False, workers=1)
    srv.migrate()
    srv.start()  # a warning, not a refusal
    assert srv.get("/readyz").status_code == 200
    warned = [parse_logfmt(l) for l in srv.log_text().splitlines() if "event=db_durability_off" in l]
    assert sorted(w["setting"] for w in warned) == ["data_sync_retry", "fsync", "synchronous_commit"], warned
    assert all(w["level"] == "warn" for w in warned)


def test_durability_settings_off_stop_the_start_when_required(own_pg, make_server):
    own_pg.sql("ALTER SYSTEM SET synchronous_commit = off", db="postgres")
    own_pg.sql("SELECT pg_reload_conf()", db="postgres")
    srv = make_server(own_pg.url(), tls=False, workers=1, env={"VOLUNTEERD_REQUIRE_DURABLE_DB": "1"})
    srv.migrate()
    srv.spawn()
    assert srv.wait_exit(20) == 1, srv.log_text()
    log = srv.log_text()
    assert "event=db_durability_off" in log and "setting=synchronous_commit" in log, log
    assert "VOLUNTEERD_REQUIRE_DURABLE_DB" in log, log
    # Set right again, the same configuration starts.
    own_pg.sql("ALTER SYSTEM RESET synchronous_commit", db="postgres")
    own_pg.sql("SELECT pg_reload_conf()", db="postgres")
    srv.start()
    assert srv.get("/readyz").status_code == 200


def test_durable_database_gets_no_warning(server):
    assert "db_durability_off" not in server.log_text()


# --- 7. a second SIGTERM ----------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_second_signal_stops_at_once(pg, make_server, sig):
    srv = make_server(pg.url(), tls=False, workers=2, env={"VOLUNTEERD_SHUTDOWN_GRACE": "60"})
    srv.start()
    workers = srv.workers()
    assert len(workers) == 2
    # A body that trickles in (a byte every 0.2 s, under the drain's 1 s idle cut) keeps its
    # worker draining for the whole grace.
    stop = threading.Event()

    def trickle(s):
        s.sendall(b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n")
        for _ in range(900):
            if stop.wait(0.2):
                return
            try:
                s.sendall(b" ")
            except OSError:
                return

    with socket.create_connection(("127.0.0.1", srv.http), timeout=10) as s:
        t = threading.Thread(target=trickle, args=(s,), daemon=True)
        t.start()
        try:
            time.sleep(0.5)
            srv.proc.send_signal(sig)
            assert wait_until(lambda: "event=serve_stop " in srv.log_text(), 5)
            time.sleep(1.5)
            assert srv.proc.poll() is None, "the drain ended by itself: the test proves nothing"
            t0 = time.monotonic()
            srv.proc.send_signal(sig)
            rc = srv.wait_exit(5)
            took = time.monotonic() - t0
        finally:
            stop.set()
            t.join(5)
    assert rc is not None, "a second signal did not stop the server"
    assert took < 2.0, f"exit took {took:.2f} s"
    assert "event=serve_stop_now" in srv.log_text()
    assert wait_until(lambda: not any(helpers.alive(p) for p in workers), 3), "workers outlived the master"

"""Sessions, log-in throttling, CSRF and Idempotency-Key, against the real server.

Throttling counts failures per address, so those tests run on a server and database of
their own: the shared server must keep accepting the other tests' log-ins.
"""
import secrets

import pytest
import requests

import conftest
from apiclient import Api

TIMEOUT = 10


def login(srv, login, password, tls=False, **kw):
    return requests.post(srv.url("/api/v1/session", tls), json={"login": login, "password": password},
                         timeout=TIMEOUT, verify=False, **kw)


@pytest.fixture
def own_server(pg, fresh_db, make_server):
    """A server on a database of its own, with an admin."""
    _, url = fresh_db()
    srv = make_server(url, tls=True)
    srv.migrate()
    srv.create_admin("admin", conftest.ADMIN_PASSWORD)
    srv.start()
    return srv


def test_login_shape_cookie_and_bearer(server):
    r = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    assert r.status_code == 201
    body = r.json()
    assert len(body["token"]) >= 43  # at least 256 bits, base64url
    assert {"id", "login", "roles"} <= set(body["account"])
    assert any(g["role"] == "admin" for g in body["account"]["roles"])
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert body["token"] in cookie
    # The same token works as a Bearer token and as the cookie.
    me = requests.get(server.url("/api/v1/me"), headers={"Authorization": "Bearer " + body["token"]},
                      timeout=TIMEOUT)
    assert me.status_code == 200 and me.json()["login"] == conftest.ADMIN_LOGIN
    me = requests.get(server.url("/api/v1/me"), cookies={"vd_session": body["token"]}, timeout=TIMEOUT)
    assert me.status_code == 200


def test_https_cookie_is_host_prefixed_and_secure(server):
    r = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD, tls=True)
    assert r.status_code == 201
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-vd_session=") and "; Secure" in cookie and "Domain" not in cookie


def test_each_login_gets_a_new_token_and_logout_ends_it(server):
    a = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).json()["token"]
    b = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).json()["token"]
    assert a != b
    h = {"Authorization": "Bearer " + a}
    assert requests.delete(server.url("/api/v1/session"), headers=h, timeout=TIMEOUT).status_code == 204
    assert requests.get(server.url("/api/v1/me"), headers=h, timeout=TIMEOUT).status_code == 401
    # The other session is untouched.
    assert requests.get(server.url("/api/v1/me"), headers={"Authorization": "Bearer " + b},
                        timeout=TIMEOUT).status_code == 200


def test_login_with_cookie_rotates_the_old_session(server):
    s = requests.Session()
    r1 = s.post(server.url("/api/v1/session"), json={"login": conftest.ADMIN_LOGIN, "password": conftest.ADMIN_PASSWORD},
                timeout=TIMEOUT, headers={"Origin": f"http://127.0.0.1:{server.http}"})
    old = r1.json()["token"]
    r2 = s.post(server.url("/api/v1/session"), json={"login": conftest.ADMIN_LOGIN, "password": conftest.ADMIN_PASSWORD},
                timeout=TIMEOUT, headers={"Origin": f"http://127.0.0.1:{server.http}"})
    assert r2.status_code == 201 and r2.json()["token"] != old
    assert requests.get(server.url("/api/v1/me"), headers={"Authorization": "Bearer " + old},
                        timeout=TIMEOUT).status_code == 401


def test_bad_login_bodies(server):
    url = server.url("/api/v1/session")
    r = requests.post(url, data=b"{not json", timeout=TIMEOUT)
    assert r.status_code == 400 and "problem+json" in r.headers["Content-Type"]
    r = requests.post(url, json={"login": "admin"}, timeout=TIMEOUT)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = requests.post(url, json={"login": "admin", "password": "x", "extra": 1}, timeout=TIMEOUT)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "extra"
    # Unknown login and wrong password look the same.
    a = requests.post(url, json={"login": "nobody-" + secrets.token_hex(4), "password": "whatever-123"},
                      timeout=TIMEOUT)
    b = requests.post(url, json={"login": conftest.ADMIN_LOGIN, "password": "wrong-password-1"}, timeout=TIMEOUT)
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"]


def test_session_idle_and_absolute_expiry(server, pg):
    tok = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).json()["token"]
    h = {"Authorization": "Bearer " + tok}
    assert requests.get(server.url("/api/v1/me"), headers=h, timeout=TIMEOUT).status_code == 200
    # Idle for longer than 30 minutes: gone.
    pg.sql("UPDATE sessions SET last_seen_at = now() - interval '31 minutes' "
           f"WHERE token_hash = sha256('{tok}'::bytea)")
    assert requests.get(server.url("/api/v1/me"), headers=h, timeout=TIMEOUT).status_code == 401

    tok = login(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD).json()["token"]
    h = {"Authorization": "Bearer " + tok}
    # Active but past the absolute limit: gone too.
    pg.sql("UPDATE sessions SET created_at = now() - interval '13 hours', expires_at = now() - interval '1 hour' "
           f"WHERE token_hash = sha256('{tok}'::bytea)")
    assert requests.get(server.url("/api/v1/me"), headers=h, timeout=TIMEOUT).status_code == 401
    # The database stores only the hash of the token.
    assert pg.sql(f"SELECT count(*) FROM sessions WHERE token_hash::text LIKE '%{tok[:10]}%'").strip() == "0"


def test_csrf_cookie_writes_need_same_origin(server):
    s = requests.Session()
    origin = f"http://127.0.0.1:{server.http}"
    r = s.post(server.url("/api/v1/session"), json={"login": conftest.ADMIN_LOGIN, "password": conftest.ADMIN_PASSWORD},
               timeout=TIMEOUT)
    assert r.status_code == 201
    token = r.json()["token"]
    body = {"login": "csrf-" + secrets.token_hex(4), "password": "Csrf-pass-1234"}
    # A cookie-authenticated write from another site (or with no Origin at all) is refused.
    r = s.post(server.url("/api/v1/accounts"), json=body, headers={"Origin": "https://evil.example"},
               timeout=TIMEOUT)
    assert r.status_code == 403 and "problem+json" in r.headers["Content-Type"]
    r = s.post(server.url("/api/v1/accounts"), json=body, timeout=TIMEOUT)
    assert r.status_code == 403
    # Reads are fine, and so is the same origin.
    assert s.get(server.url("/api/v1/me"), timeout=TIMEOUT).status_code == 200
    r = s.post(server.url("/api/v1/accounts"), json=body, headers={"Origin": origin}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    # A Bearer token is never sent by a browser on its own: no Origin needed.
    r = requests.post(server.url("/api/v1/accounts"), json=dict(body, login=body["login"] + "b"),
                      headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text


def test_idempotency_key_replays_and_refuses_other_bodies(server, pg):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    key = "idem-" + secrets.token_hex(8)
    body = {"login": "idem-" + secrets.token_hex(4), "password": "Idem-pass-1234"}
    r1 = admin.req("POST", "/accounts", body, headers={"Idempotency-Key": key})
    assert r1.status_code == 201, r1.text
    r2 = admin.req("POST", "/accounts", body, headers={"Idempotency-Key": key})
    assert r2.status_code == 201 and r2.json() == r1.json()
    assert pg.sql(f"SELECT count(*) FROM accounts WHERE login = '{body['login']}'").strip() == "1"
    r3 = admin.req("POST", "/accounts", dict(body, login=body["login"] + "x"), headers={"Idempotency-Key": key})
    assert r3.status_code == 422 and r3.json()["errors"][0]["field"] == "Idempotency-Key"
    # Without a key the same body is a second request: a conflict on the login.
    r4 = admin.req("POST", "/accounts", body)
    assert r4.status_code == 409 and r4.json()["errors"][0]["field"] == "login"


def test_generated_password_is_returned_once_and_works(server):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    name = "gen-" + secrets.token_hex(4)
    acc = admin.ok("POST", "/accounts", {"login": name}, want=201)
    assert len(acc["password"]) >= 12
    Api(server, name, acc["password"])  # logs in
    assert "password" not in admin.ok("GET", "/me")


def test_generated_password_is_replayed_with_its_key_and_stored_only_sealed(server, pg):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    name = "genk-" + secrets.token_hex(4)
    key = {"Idempotency-Key": "gen-" + secrets.token_hex(8)}
    first = admin.req("POST", "/accounts", {"login": name}, headers=key)
    assert first.status_code == 201, first.text
    password = first.json()["password"]
    # The answer was lost, say: the retry shows the same account and the same password.
    again = admin.req("POST", "/accounts", {"login": name}, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert "password_sealed" not in first.json()
    Api(server, name, password)  # that password logs in
    assert pg.sql(f"SELECT count(*) FROM accounts WHERE login = '{name}'").strip() == "1"
    # The stored answer holds it sealed, never in clear.
    stored = pg.sql(f"SELECT response FROM idempotency_keys WHERE response LIKE '%{name}%'")
    assert stored and password not in stored and "password_sealed" in stored, stored
    assert password not in server.log_text()


def test_login_throttle_by_login_hides_existence(own_server):
    srv = own_server
    for _ in range(5):
        assert login(srv, "admin", "wrong-password-1").status_code == 401
    r = login(srv, "admin", conftest.ADMIN_PASSWORD)  # even the right password now waits
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "problem+json" in r.headers["Content-Type"]
    ghost = "ghost-" + secrets.token_hex(4)
    for _ in range(5):
        assert login(srv, ghost, "wrong-password-1").status_code == 401
    r = login(srv, ghost, "wrong-password-1")
    assert r.status_code == 429  # the same answer for a login that does not exist


def test_login_throttle_by_address(own_server):
    srv = own_server
    codes = [login(srv, f"user{i}-{secrets.token_hex(3)}", "wrong-password-1").status_code for i in range(31)]
    assert codes[:30] == [401] * 30 and codes[30] == 429


# --- one's own password and sessions (POST /me/password, GET and DELETE /me/sessions) --------

def an_account(admin, password):
    """A staff account made by an administrator, with the password it was given."""
    name = "pw-" + secrets.token_hex(4)
    acc = admin.ok("POST", "/accounts", {"login": name, "password": password}, want=201)
    return name, acc["id"]


def test_change_own_password_ends_the_other_sessions(server, pg):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    old, new = "Old-pass-" + secrets.token_hex(4), "New-pass-" + secrets.token_hex(4)
    name, account = an_account(admin, old)
    here, elsewhere, https = Api(server, name, old), Api(server, name, old), Api(server, name, old, tls=True)
    for a in (here, elsewhere, https):  # cached by a worker
        assert a.status("GET", "/me") == 200
    sessions = here.ok("GET", "/me/sessions")["items"]
    assert len(sessions) == 3 and [s["current"] for s in sessions].count(True) == 1
    assert {"created_at", "last_seen_at", "expires_at", "ip", "user_agent", "current"} == set(sessions[0])

    r = here.req("POST", "/me/password", {"current_password": old, "new_password": new})
    assert r.status_code == 200 and r.json() == {"sessions_ended": 2}, r.text
    for _ in range(4):  # on every worker, at once
        assert elsewhere.status("GET", "/me") == 401 and https.status("GET", "/me") == 401
    assert here.status("GET", "/me") == 200
    assert [s["current"] for s in here.ok("GET", "/me/sessions")["items"]] == [True]
    assert login(server, name, old).status_code == 401
    assert login(server, name, new).status_code == 201
    audit = pg.sql(f"SELECT action, coalesce(new::text, '') FROM audit_log WHERE entity = 'account' "
                   f"AND entity_id = {account} AND action IN ('password_set', 'sessions_ended') ORDER BY id")
    assert audit.strip().split("\n") == ["password_set|", 'sessions_ended|{"sessions_ended": 2}']
    hashes = pg.sql(f"SELECT password_hash FROM accounts WHERE id = {account}").strip()
    assert hashes.startswith("$argon2id$") and new not in audit and hashes not in audit


def test_change_own_password_refusals(server):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    pw = "Some-pass-" + secrets.token_hex(4)
    name, _ = an_account(admin, pw)
    me = Api(server, name, pw)

    def fields(body):
        r = me.req("POST", "/me/password", body)
        assert r.status_code in (400, 422) and "problem+json" in r.headers["Content-Type"], r.text
        return [e["field"] for e in r.json().get("errors", [])] or [r.json().get("field")]

    assert fields({"current_password": "wrong-password-1", "new_password": "Another-pass-1"}) == ["current_password"]
    assert fields({"current_password": pw, "new_password": "short"}) == ["new_password"]
    assert fields({"current_password": pw, "new_password": pw}) == ["new_password"]
    assert fields({"new_password": "Another-pass-1"}) == ["current_password"]
    assert fields({"current_password": pw, "new_password": "Another-pass-1", "login": name}) == ["login"]
    assert me.status("GET", "/me") == 200 and login(server, name, pw).status_code == 201
    anon = Api(server)
    for method, path, body in (("POST", "/me/password", {"current_password": pw, "new_password": "Another-pass-1"}),
                               ("GET", "/me/sessions", None), ("DELETE", "/me/sessions", None)):
        assert anon.status(method, path, body) == 401


def test_log_out_everywhere_else(server):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    pw = "Some-pass-" + secrets.token_hex(4)
    name, _ = an_account(admin, pw)
    here, there = Api(server, name, pw), Api(server, name, pw)
    assert there.status("GET", "/me") == 200
    assert here.ok("DELETE", "/me/sessions") == {"sessions_ended": 1}
    for _ in range(4):
        assert there.status("GET", "/me") == 401
    assert here.status("GET", "/me") == 200
    assert here.ok("DELETE", "/me/sessions") == {"sessions_ended": 0}


def test_wrong_current_password_counts_as_a_failed_log_in(own_server):
    srv = own_server
    admin = Api(srv, "admin", conftest.ADMIN_PASSWORD)
    r = admin.req("POST", "/me/password", {"current_password": "wrong-password-1", "new_password": "Another-pass-1"})
    assert r.status_code == 422
    for _ in range(4):
        assert login(srv, "admin", "wrong-password-1").status_code == 401
    r = admin.req("POST", "/me/password", {"current_password": conftest.ADMIN_PASSWORD,
                                           "new_password": "Another-pass-1"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text
    assert login(srv, "admin", conftest.ADMIN_PASSWORD).status_code == 429

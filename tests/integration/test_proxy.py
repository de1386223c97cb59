"""Behind a reverse proxy (VOLUNTEERD_TRUSTED_PROXIES): the client's address comes from
X-Forwarded-For and its scheme from X-Forwarded-Proto, but only when the connection comes from a
trusted proxy.  The address is what the per-address limits count and what the records keep; the
scheme decides the session cookie's name and Secure flag, the same-origin check and HSTS."""
import hashlib
import secrets

import pytest
import requests

import helpers
from apiclient import Api, make_unit
from test_volunteers import random_phone

PW = "Proxy-pass-" + secrets.token_hex(4)
TIMEOUT = 10
TRIES = 2


def start(make_server, fresh_db, trusted):
    name, url = fresh_db()
    srv = make_server(url, tls=False, workers=2, env={
        "VOLUNTEERD_TRUSTED_PROXIES": trusted, "VOLUNTEERD_REGISTER_TRIES": str(TRIES)})
    srv.migrate()
    srv.create_admin("admin", PW)
    srv.start()
    srv.db_name = name
    srv.unit = make_unit(Api(srv, "admin", PW), None, "district", "px-d", "代理区")
    return srv


@pytest.fixture
def proxied(make_server, fresh_db):
    return start(make_server, fresh_db, "10.9.0.0/16, 127.0.0.1")


@pytest.fixture
def direct(make_server, fresh_db):
    return start(make_server, fresh_db, "10.9.0.0/16")  # 127.0.0.1 is not a proxy of ours


def login(srv, headers=None):
    r = requests.post(srv.url("/api/v1/session"), json={"login": "admin", "password": PW},
                      headers=headers or {}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r


def session_ip(pg, srv, token):
    digest = hashlib.sha256(token.encode()).hexdigest()
    return pg.sql(f"SELECT host(ip) FROM sessions WHERE token_hash = '\\x{digest}'", db=srv.db_name).strip()


def register(srv, forwarded):
    body = {"name": "代理", "phone": random_phone(), "org_unit_id": srv.unit, "password": PW}
    return requests.post(srv.url("/api/v1/volunteers"), json=body, timeout=TIMEOUT,
                         headers={"X-Forwarded-For": forwarded} if forwarded else {})


def test_the_client_behind_a_trusted_proxy_is_recorded(pg, proxied):
    cases = [
        ({}, "127.0.0.1"),
        ({"X-Forwarded-For": "203.0.113.9"}, "203.0.113.9"),
        # the client's own words left of the address the proxy saw do not count
        ({"X-Forwarded-For": "6.6.6.6, 203.0.113.10"}, "203.0.113.10"),
        # a second trusted hop is skipped
        ({"X-Forwarded-For": "203.0.113.11, 10.9.3.4"}, "203.0.113.11"),
        ({"X-Forwarded-For": "2001:db8::5"}, "2001:db8::5"),
        # something that is no address: the proxy itself
        ({"X-Forwarded-For": "unknown"}, "127.0.0.1"),
    ]
    for headers, expected in cases:
        token = login(proxied, headers).json()["token"]
        assert session_ip(pg, proxied, token) == expected, headers
    # Two X-Forwarded-For headers are one list.
    raw = ("POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.12\r\nConnection: close\r\n")
    body = '{"login":"admin","password":"%s"}' % PW
    reply, _ = helpers.raw_exchange(proxied.http, (raw + f"Content-Length: {len(body)}\r\n\r\n" + body).encode())
    assert helpers.status_of(reply) == 201, reply[:300]
    token = reply.split(b'"token":"', 1)[1].split(b'"', 1)[0].decode()
    assert session_ip(pg, proxied, token) == "203.0.113.12"


def test_an_untrusted_peer_cannot_name_another_client(pg, direct):
    token = login(direct, {"X-Forwarded-For": "203.0.113.9"}).json()["token"]
    assert session_ip(pg, direct, token) == "127.0.0.1"
    # and every registration counts against the one real address
    answers = [register(direct, f"203.0.113.{i}").status_code for i in range(TRIES + 1)]
    assert answers == [201] * TRIES + [429], answers


def test_the_registration_limit_counts_each_client_behind_the_proxy(proxied):
    first = [register(proxied, "198.51.100.1").status_code for _ in range(TRIES + 1)]
    assert first == [201] * TRIES + [429], first
    # another client behind the same proxy is not held back by the first
    assert register(proxied, "198.51.100.2").status_code == 201
    # nor is one the proxy reached directly
    assert register(proxied, None).status_code == 201


def test_https_at_the_proxy_gives_the_secure_cookie_and_origin(proxied, direct):
    r = login(proxied, {"X-Forwarded-Proto": "https"})
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-vd_session=") and "; Secure" in cookie, cookie
    assert r.headers.get("Strict-Transport-Security") == "max-age=63072000"
    token = r.json()["token"]
    host = f"127.0.0.1:{proxied.http}"

    def patch(origin, proto):
        return requests.patch(proxied.url(f"/api/v1/org-units/{proxied.unit}"), json={"name": "代理区二"},
                              headers={"Cookie": f"__Host-vd_session={token}", "Origin": origin,
                                       "X-Forwarded-Proto": proto}, timeout=TIMEOUT)
    # The browser's Origin is the https one it used; the http one is another origin now.
    assert patch(f"https://{host}", "https").status_code == 200
    assert patch(f"http://{host}", "https").status_code == 403
    # The last value counts (a proxy appends); anything but https is http.
    r = login(proxied, {"X-Forwarded-Proto": "https, http"})
    assert r.headers["Set-Cookie"].startswith("vd_session=") and "Secure" not in r.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in r.headers
    # From a peer that is not a trusted proxy the header means nothing.
    r = login(direct, {"X-Forwarded-Proto": "https"})
    assert r.headers["Set-Cookie"].startswith("vd_session=") and "Secure" not in r.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in r.headers


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "10.0.0.1/"])
def test_a_bad_range_stops_the_start(fresh_db, make_server, value):
    _, url = fresh_db()
    srv = make_server(url, tls=False, workers=1, env={"VOLUNTEERD_TRUSTED_PROXIES": value})
    srv.spawn()
    assert srv.wait_exit(15) not in (None, 0), srv.log_text()
    assert "VOLUNTEERD_TRUSTED_PROXIES" in srv.log_text(), srv.log_text()

"""The log-in throttle per login and client address (0039; R17): five failures of a login from
one address lock that login from that address only; twenty from any addresses lock it for
everyone (at most 100 an hour); thirty from one address lock the address (test_sessions.py).
A successful log-in clears the login's counts, its per-address ones included.  Each client
here is its own loopback address (127.0.0.x), as phones behind different networks are."""
import json
import secrets

import pytest

import conftest
import helpers

WRONG = "wrong-password-1"


@pytest.fixture
def srv(pg, fresh_db, make_server):
    name, url = fresh_db()
    s = make_server(url, tls=False, workers=2)
    s.migrate()
    s.create_admin("admin", conftest.ADMIN_PASSWORD)
    s.start()
    s.db_name = name
    return s


def login_from(srv, source, login, password):
    """POST /api/v1/session from source (127.0.0.x): (status, headers as text)."""
    body = json.dumps({"login": login, "password": password}).encode()
    head = (f"POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with helpers.dial(srv.http, source=source) as s:
        s.sendall(head + body)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return helpers.status_of(reply), reply.split(b"\r\n\r\n", 1)[0].decode()


def test_five_failures_lock_the_login_from_that_address_only(srv):
    for _ in range(5):
        assert login_from(srv, "127.0.0.2", "admin", WRONG)[0] == 401
    status, head = login_from(srv, "127.0.0.2", "admin", conftest.ADMIN_PASSWORD)
    assert status == 429 and "Retry-After:" in head
    assert login_from(srv, "127.0.0.2", "admin", conftest.ADMIN_PASSWORD)[0] == 429
    # The account's owner, elsewhere, is not locked out by someone else's guesses.
    assert login_from(srv, "127.0.0.3", "admin", WRONG)[0] == 401
    assert login_from(srv, "127.0.0.3", "admin", conftest.ADMIN_PASSWORD)[0] == 201


@pytest.mark.parametrize("who", ["admin", "ghost"])
def test_twenty_failures_from_anywhere_lock_the_login_for_everyone(srv, who):
    login = who if who == "admin" else "ghost-" + secrets.token_hex(4)  # the same for no account
    for i in range(20):
        assert login_from(srv, f"127.0.0.{10 + i // 5}", login, WRONG)[0] == 401, i
    status, head = login_from(srv, "127.0.0.30", login, conftest.ADMIN_PASSWORD)
    assert status == 429 and "Retry-After:" in head
    assert login_from(srv, "127.0.0.31", login, WRONG)[0] == 429


def test_a_success_clears_the_counts_of_every_address(srv, pg):
    for source in ("127.0.0.40", "127.0.0.41"):
        for _ in range(4):
            assert login_from(srv, source, "admin", WRONG)[0] == 401
    assert pg.sql("SELECT count(*) FROM login_pair_attempts WHERE login_key = 'login:admin'",
                  db=srv.db_name).strip() == "2"
    assert login_from(srv, "127.0.0.40", "admin", conftest.ADMIN_PASSWORD)[0] == 201
    assert pg.sql("SELECT count(*) FROM login_pair_attempts", db=srv.db_name).strip() == "0"
    # four more from each, and neither address is locked: the earlier four were forgotten
    for source in ("127.0.0.40", "127.0.0.41"):
        for _ in range(4):
            assert login_from(srv, source, "admin", WRONG)[0] == 401
        assert login_from(srv, source, "admin", conftest.ADMIN_PASSWORD)[0] == 201

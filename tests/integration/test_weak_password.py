"""Passwords that meet the length limit and are still poor ones (R16; weak_password.h): the
best-known leaked passwords, the operator's list (VOLUNTEERD_PASSWORD_DENYLIST) and the login or
phone number with little added are refused wherever a password is set (self-registration, the
register page, staff accounts, a change of one's own, create-admin), with a 422 naming the
field; long, repeated and non-ASCII passwords stay acceptable."""
import re
import secrets

import pytest
import requests

import conftest
from apiclient import Api, anonymous, make_unit
from test_pages import Browser, check_page, token_of
from test_volunteers import random_phone

GOOD = "Tea-garden-" + secrets.token_hex(3)


@pytest.fixture(scope="module")
def unit(server):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    return make_unit(admin, None, "district", "wk-" + secrets.token_hex(3), "弱密码区")


def refused(r, field):
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    errors = {e["field"]: e["message"] for e in r.json().get("errors", [])}
    assert field in errors and "is too easy to guess" in errors[field], r.text
    return errors[field]


def register(server, unit, phone, password):
    return anonymous(server).req("POST", "/volunteers", {"name": "王芳", "phone": phone,
                                                         "org_unit_id": unit, "password": password})


@pytest.mark.parametrize("password", ["password1234", "PASSWORD1234", "1234567890", "5201314520",
                                      "qwertyuiop"])
def test_registration_refuses_a_best_known_password(server, unit, password):
    assert "leaked" in refused(register(server, unit, random_phone(), password), "password")


def test_registration_refuses_the_phone_number_with_little_added(server, unit):
    phone = random_phone()
    for password in (phone, phone + "!", "wf" + phone + "ab"):
        assert "phone number" in refused(register(server, unit, phone, password), "password")
    assert register(server, unit, phone, phone + "-on-the-bus").status_code == 201
    Api(server, phone, phone + "-on-the-bus")


@pytest.mark.parametrize("password", ["😀" * 64, "a" * 80, "密码很长" * 32])
def test_long_and_unicode_passwords_stay_acceptable(server, unit, password):
    phone = random_phone()
    assert register(server, unit, phone, password).status_code == 201
    Api(server, phone, password)


def test_staff_accounts(server):
    admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    login = "wkstaff-" + secrets.token_hex(3)
    refused(admin.req("POST", "/accounts", {"login": login, "password": "Qwertyuiop"}), "password")
    refused(admin.req("POST", "/accounts", {"login": login, "password": login.upper() + "12"}),
            "password")
    admin.ok("POST", "/accounts", {"login": login, "password": GOOD}, want=201)
    Api(server, login, GOOD)


def test_a_change_of_ones_own_password(server, unit):
    phone = random_phone()
    assert register(server, unit, phone, GOOD).status_code == 201
    me = Api(server, phone, GOOD)
    change = {"current_password": GOOD}
    refused(me.req("POST", "/me/password", {**change, "new_password": "1234567890"}), "new_password")
    # the login is known only once the account is read: the same answer, after it
    assert "phone number" in refused(me.req("POST", "/me/password", {**change, "new_password": phone + "ab"}),
                                     "new_password")
    Api(server, phone, GOOD)  # unchanged
    me.ok("POST", "/me/password", {**change, "new_password": GOOD + "-2"}, want=200)
    Api(server, phone, GOOD + "-2")


def test_the_register_page_says_why(server, unit):
    b = Browser(server)
    html = check_page(b.get("/register"))
    phone = random_phone()
    r = b.post("/register", {"_t": token_of(html), "name": "王芳", "phone": phone,
                             "password": "password1234", "org_unit_id": str(unit)})
    html = check_page(r, status=422)
    error = re.search(r'id="e-password"[^>]*>(.*?)<', html, re.S)
    assert error and "太容易被猜到" in error.group(1), html[:3000]
    assert "password1234" not in html  # a password is never sent back


def test_create_admin_refuses_a_weak_password(server):
    r = server.cmd(["create-admin", "--login", "wkadmin-" + secrets.token_hex(3), "--password-stdin"],
                   input="password1234\n")
    assert r.returncode == 2, r.stderr
    assert "too easy to guess" in r.stderr


def test_the_operators_list(make_server, fresh_db, tmp_path):
    listed = "Volunteer-Spring-" + secrets.token_hex(2)
    path = tmp_path / "denylist.txt"
    path.write_text("# comments are just lines\nshort\n" + listed.upper() + "\r\n")
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    _, url = fresh_db()
    srv = make_server(url, tls=False, workers=1, env={"VOLUNTEERD_PASSWORD_DENYLIST": str(path)})
    srv.migrate()
    srv.create_admin("admin", GOOD)
    srv.start()
    admin = Api(srv, "admin", GOOD)
    u = make_unit(admin, None, "district", "wkl", "名单区")
    assert "leaked" in refused(register(srv, u, random_phone(), listed), "password")
    assert register(srv, u, random_phone(), listed + "x").status_code == 201
    assert "password_denylist" in srv.log_text() and "passwords=2" in srv.log_text()


def test_an_unreadable_list_stops_the_start(make_server, fresh_db):
    _, url = fresh_db()
    srv = make_server(url, tls=False, workers=1,
                      env={"VOLUNTEERD_PASSWORD_DENYLIST": "/nonexistent/denylist.txt"})
    srv.spawn()
    assert srv.wait_exit(15) not in (None, 0), srv.log_text()
    assert "VOLUNTEERD_PASSWORD_DENYLIST" in srv.log_text(), srv.log_text()

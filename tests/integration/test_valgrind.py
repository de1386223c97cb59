"""One request of each kind the server serves, small enough to run with `serve` under valgrind
(R46): `scripts/test.sh valgrind` runs this file with VOLUNTEERD_VALGRIND=1, and a server's
cleanup then fails the session on any memcheck error or definite leak (helpers.py).  Without
it they are ordinary tests.  Each asserts its answer, so that a path valgrind never walked
cannot pass as clean: the TLS handshake (1.2 and 1.3), a GET read from the database, a log-in
(Argon2 on the hashing pool), a JSON POST, a form POST of a page, a check-in."""
import re
import secrets
import ssl

import requests

import conftest
import helpers
from apiclient import Api

CODE = "482913"


def timeout():
    return 10 * helpers.SLOW


def test_tls_handshakes_and_a_get_over_tls(server):
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        got, err = helpers.tls_handshake(server.https, version, timeout=timeout())
        assert got == name, err
    r = server.get("/livez", tls=True)
    assert r.status_code == 200, r.text


def test_log_in_then_a_json_post_and_a_get(server):
    admin = Api(server)
    r = requests.post(admin.base + "/session", json={"login": conftest.ADMIN_LOGIN,
                                                     "password": conftest.ADMIN_PASSWORD},
                      timeout=timeout())
    assert r.status_code == 201, r.text
    admin.token = r.json()["token"]
    code = "VG-" + secrets.token_hex(3)
    r = admin.req("POST", "/org-units", {"parent_id": None, "kind": "district", "code": code,
                                         "name": "Valgrind " + code}, timeout=timeout())
    assert r.status_code == 201, r.text
    r = admin.req("GET", f"/org-units/{r.json()['id']}", timeout=timeout())
    assert r.status_code == 200 and r.json()["code"] == code, r.text


def test_a_page_form_post_registers(server, pg):
    unit, _ = helpers.unit_with_team(pg, "VGR-" + secrets.token_hex(3), "Valgrind register", "T")
    with requests.Session() as s:
        r = s.get(server.url("/register"), timeout=timeout())
        assert r.status_code == 200, r.text[:300]
        token = re.search(r'name="_t" value="([^"]+)"', r.text).group(1)
        phone = f"137{secrets.randbelow(10**8):08d}"
        r = s.post(server.url("/register"), timeout=timeout(), allow_redirects=False,
                   headers={"Origin": server.url("").rstrip("/")},
                   data={"_t": token, "name": "王五", "phone": phone, "password": "Long-enough-1",
                         "org_unit_id": str(unit)})
    assert r.status_code == 303, r.text[:300]
    assert pg.sql(f"SELECT count(*) FROM volunteers WHERE phone = '{phone}'").strip() == "1"


def test_a_check_in(server, pg):
    tag = secrets.token_hex(3)
    unit, team = helpers.unit_with_team(pg, "VGC-" + tag, "Valgrind check-in", "T")
    event = helpers.open_event(pg, team, "vg " + tag, "Valgrind post", CODE)
    session = "vg" + secrets.token_hex(21)[:41]  # 43 characters, as a real token
    helpers.volunteers_with_sessions(pg, unit, [session], "vg-" + tag, phone="138", signup_event=event)
    r = requests.post(server.url(f"/api/v1/events/{event}/check-ins"), json={"code": CODE},
                      headers={"Authorization": "Bearer " + session}, timeout=timeout())
    assert r.status_code == 201, r.text
    assert pg.sql(f"SELECT count(*) FROM attendances WHERE event_id = {event}").strip() == "1"

"""Volunteers (issue 4): self-registration and registration by a coordinator, the ID number's
protection (encrypted, blind-indexed, shown masked, never logged), search with keyset pages,
self read and edit, staff edits within scope.

Everything here builds its own org units (codes with a random suffix) and volunteers with
random phone and ID numbers, so that it shares the session's server and database with the
other test modules without colliding.
"""
import contextlib
import datetime
import os
import random
import secrets
import signal
import threading

import pytest

import conftest
from apiclient import Api, anonymous

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
RNG = random.SystemRandom()


def id_check(first17):
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, W)) % 11]


def make_id(birth="19850612", seq=None, region="110105"):
    """A valid GB 11643 number with the given birth date (YYYYMMDD)."""
    seq = seq if seq is not None else f"{RNG.randrange(1000):03d}"
    first = region + birth + seq
    return first + id_check(first)


def random_id():
    d = datetime.date(1950, 1, 1) + datetime.timedelta(days=RNG.randrange(20000))
    return make_id(d.strftime("%Y%m%d"), region=f"{RNG.randrange(110000, 659999)}")


def random_phone():
    return "1" + RNG.choice("3456789") + "".join(RNG.choice("0123456789") for _ in range(9))


def problem_fields(r):
    return [e.get("field") for e in r.json().get("errors", [])]


def luhn_ok(no):
    digits = no[1:]
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# --- the world of this module ---------------------------------------------------------------

class World:
    pass


def make_unit(admin, pg, parent, kind, tag):
    code = f"vt-{kind}-{tag}-{secrets.token_hex(4)}"
    body = {"kind": kind, "code": code, "name": f"{kind} {tag}"}
    if parent:
        body["parent_id"] = parent
    r = admin.req("POST", "/org-units", body)
    if r.status_code == 201:
        return r.json()["id"]
    # The org-unit endpoint may not be there yet: the table is enough for these tests.
    parent_sql = str(parent) if parent else "NULL"
    return int(pg.sql(f"INSERT INTO org_units (parent_id, kind, code, name) VALUES "
                      f"({parent_sql}, '{kind}', '{code}', '{kind} {tag}') RETURNING id").split()[0])


def make_staff(admin, role, **scope):
    login = f"vt-{role}-{secrets.token_hex(4)}"
    password = "Pw-" + secrets.token_urlsafe(12)
    acct = admin.ok("POST", "/accounts", {"login": login, "password": password}, want=201)
    admin.ok("POST", f"/accounts/{acct['id']}/roles", dict(role=role, **scope), want=201)
    return Api(admin.server, login, password)


@pytest.fixture(scope="module")
def world(server, pg):
    w = World()
    w.server, w.pg = server, pg
    w.admin = Api(server, conftest.ADMIN_LOGIN, conftest.ADMIN_PASSWORD)
    w.district = make_unit(w.admin, pg, None, "district", "d")
    w.sub = make_unit(w.admin, pg, w.district, "subdistrict", "s")
    w.a = make_unit(w.admin, pg, w.sub, "community", "a")
    w.a_grid = make_unit(w.admin, pg, w.a, "grid", "a1")
    w.b = make_unit(w.admin, pg, w.sub, "community", "b")
    w.coord_a = make_staff(w.admin, "coordinator", org_unit_id=w.a)
    w.coord_b = make_staff(w.admin, "coordinator", org_unit_id=w.b)
    w.anon = anonymous(server)
    return w


def register(w, client=None, want=201, **fields):
    """POST /volunteers (anonymous unless client); a self-registration with an ID number gives
    the separate consent unless the test says otherwise (test_consent.py tests it)."""
    body = {"name": "张" + secrets.token_hex(3), "phone": random_phone(), "org_unit_id": w.a}
    if client is None and isinstance(fields.get("id_number"), str):
        body["consent_id_number"] = True
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not ...}
    r = (client or w.anon).req("POST", "/volunteers", body)
    assert r.status_code == want, f"POST /volunteers {body.get('name')}: {r.status_code} {r.text[:300]}"
    return r.json(), body


# --- self-registration --------------------------------------------------------------------

def test_self_registration_then_log_in(world):
    w = world
    idn = make_id("19900307", "447")
    password = "Self-reg-" + secrets.token_hex(6)
    v, body = register(w, id_number=idn, password=password, skills=["急救", "摄影", "急救"],
                       work_unit="区图书馆", party_member=True)
    assert v["volunteer_no"].startswith("V") and len(v["volunteer_no"]) == 11
    assert luhn_ok(v["volunteer_no"])
    assert v["id_number"] == idn[:4] + "*" * 10 + idn[-4:]
    assert idn not in str(v)
    assert v["birth_date"] == "1990-03-07" and v["gender"] == "male"  # derived from the number
    assert v["skills"] == ["急救", "摄影"]  # duplicates dropped, order kept
    assert v["party_member"] is True and v["work_unit"] == "区图书馆"
    assert v["org_unit_id"] == w.a and v["status"] == "active" and v["account_id"]

    # The phone number is the login.
    me = Api(w.server, body["phone"], password)
    assert me.account["volunteer_id"] == v["id"]
    got = me.ok("GET", f"/volunteers/{v['id']}")
    assert got["id"] == v["id"] and got["id_number"] == v["id_number"]

    # What is stored: ciphertext (format, key id and volunteer id || nonce || 18 bytes || tag,
    # test_id_keys.py), a 32-byte index, the masked form; a password hash, never the password.
    row = w.pg.sql(f"SELECT octet_length(id_number_enc), octet_length(id_number_hmac), "
                   f"id_number_masked, encode(id_number_enc, 'escape') LIKE '%{idn[6:14]}%' "
                   f"FROM volunteers WHERE id = {v['id']}").strip()
    assert row == f"59|32|{v['id_number']}|f"
    hash_ = w.pg.sql(f"SELECT password_hash FROM accounts WHERE volunteer_id = {v['id']}").strip()
    assert hash_.startswith("$argon2id$") and password not in hash_


def test_self_registration_without_id_number_or_password(world):
    v, _ = register(world, gender="female", birth_date="2001-02-03")
    assert v["id_number"] is None and v["account_id"] is None
    assert v["gender"] == "female" and v["birth_date"] == "2001-02-03"
    assert v["skills"] == [] and v["party_member"] is False


def test_explicit_fields_win_over_the_id_number(world):
    v, _ = register(world, id_number=make_id("19800101", "124"), gender="male",
                    birth_date="1980-01-02")
    assert v["gender"] == "male" and v["birth_date"] == "1980-01-02"


def test_volunteer_numbers_generated_and_unique(world):
    nos = [register(world, id_number=random_id())[0]["volunteer_no"] for _ in range(5)]
    assert len(set(nos)) == 5
    for no in nos:
        assert no[0] == "V" and no[1:].isdigit() and luhn_ok(no)
    dup = world.pg.sql("SELECT count(*) FROM (SELECT volunteer_no FROM volunteers "
                       "GROUP BY 1 HAVING count(*) > 1) d").strip()
    assert dup == "0"


def test_consecutive_registrations_get_consecutive_ids_and_numbers(world):
    # One id and one volunteer number per registration, with an ID number or without, by the
    # person or by a coordinator (sql/0038): a number on a card is read as a count, and a gap
    # after every registration with an ID number looked like a lost one.  (This module's tests
    # run one at a time, and nothing else registers volunteers meanwhile.)
    w = world
    made = [register(w, id_number=random_id())[0], register(w)[0],
            register(w, client=w.coord_a, id_number=random_id())[0], register(w, client=w.coord_a)[0],
            register(w, id_number=random_id())[0], register(w, client=w.coord_a, id_number=random_id())[0],
            register(w)[0]]
    ids = [v["id"] for v in made]
    nos = [int(v["volunteer_no"][1:-1]) for v in made]
    assert ids == list(range(ids[0], ids[0] + len(made))), ids
    assert nos == list(range(nos[0], nos[0] + len(made))), nos


def test_volunteer_no_cannot_be_chosen(world):
    r = world.anon.req("POST", "/volunteers", {"name": "王五", "phone": random_phone(),
                                               "org_unit_id": world.a, "volunteer_no": "V1"})
    assert r.status_code == 422 and problem_fields(r) == ["volunteer_no"]


# --- validation ---------------------------------------------------------------------------

def _bad_cases():
    future = (datetime.date.today() + datetime.timedelta(days=400)).strftime("%Y%m%d")
    good = make_id("19850612", "001")
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    return [
        ("phone", {"phone": "12345"}),
        ("phone", {"phone": "12812345678"}),       # second digit 2
        ("phone", {"phone": "138123456789"}),      # 12 digits
        ("phone", {"phone": "1381234567a"}),
        ("phone", {"phone": 13812345678}),         # not a string
        ("phone", {"phone": ...}),                 # missing
        ("id_number", {"id_number": wrong_check}),
        ("id_number", {"id_number": make_id("19850230", "001")}),   # 30 February
        ("id_number", {"id_number": make_id("18991231", "001")}),   # before 1900
        ("id_number", {"id_number": make_id(future, "001")}),       # born in the future
        ("id_number", {"id_number": good[:17]}),
        ("id_number", {"id_number": good + "1"}),
        ("id_number", {"id_number": "A" + good[1:]}),
        ("name", {"name": "名" * 51}),
        ("name", {"name": "   "}),
        ("name", {"name": ...}),
        ("name", {"name": "a\u0007b"}),
        ("org_unit_id", {"org_unit_id": 9_000_000_000_000}),
        ("org_unit_id", {"org_unit_id": "1"}),
        ("org_unit_id", {"org_unit_id": 0}),
        ("org_unit_id", {"org_unit_id": ...}),
        ("gender", {"gender": "other"}),
        ("birth_date", {"birth_date": "2001-02-30"}),
        ("birth_date", {"birth_date": "01/02/2001"}),
        ("birth_date", {"birth_date": (datetime.date.today() + datetime.timedelta(days=3)).isoformat()}),
        ("work_unit", {"work_unit": "x" * 201}),
        ("party_member", {"party_member": "yes"}),
        ("skills", {"skills": "急救"}),
        ("skills", {"skills": ["x" * 33]}),
        ("skills", {"skills": [""]}),
        ("skills", {"skills": [1]}),
        ("skills", {"skills": ["s%d" % i for i in range(21)]}),
        ("password", {"password": "short"}),
        ("password", {"password": "p" * 129}),
        ("status", {"status": "active"}),          # not a field of a registration
        ("nickname", {"nickname": "小王"}),          # unknown field
    ]


@pytest.mark.parametrize("field,patch", _bad_cases(), ids=lambda x: x if isinstance(x, str) else None)
def test_registration_validation(world, field, patch):
    body = {"name": "李四", "phone": random_phone(), "org_unit_id": world.a}
    if isinstance(patch.get("id_number"), str):
        body["consent_id_number"] = True  # the number's own rules, not its consent
    body.update(patch)
    body = {k: v for k, v in body.items() if v is not ...}
    r = world.anon.req("POST", "/volunteers", body)
    assert r.status_code == 422, f"{patch}: {r.status_code} {r.text[:200]}"
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert problem_fields(r) == [field], r.text
    if "id_number" in body and isinstance(body["id_number"], str):
        assert body["id_number"] not in r.text  # an error never quotes the number


def test_registration_names_every_bad_field(world):
    """A 422 names every field at fault, in the order the checks run, each with its own message;
    detail is the first's.  A client on a weak signal mends them all in one round trip."""
    bad_id = make_id("19850230", "001")  # 30 February
    body = {"name": "   ", "phone": "12345", "org_unit_id": world.a, "gender": "other",
            "birth_date": "2001-02-30", "skills": [""], "password": "short", "nickname": "x",
            "id_number": bad_id}
    r = world.anon.req("POST", "/volunteers", body)
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    p = r.json()
    assert problem_fields(r) == ["nickname", "name", "phone", "id_number", "gender", "birth_date",
                                 "skills", "password"], r.text
    assert p["detail"] == p["errors"][0]["message"]
    assert all(e["message"] for e in p["errors"])
    assert len({e["message"] for e in p["errors"]}) == len(p["errors"])
    assert bad_id not in r.text  # an error never quotes the number

    # mended one by one, the others are still named (the ID number's separate consent last),
    # and a good body goes through
    body.pop("nickname")
    body["name"] = "李四"
    assert problem_fields(world.anon.req("POST", "/volunteers", body)) == [
        "phone", "id_number", "gender", "birth_date", "skills", "password", "consent_id_number"]
    body.update(phone=random_phone(), id_number=random_id(), gender="male", skills=["急救"],
                password="Pw-" + secrets.token_hex(8))
    body.pop("birth_date")
    assert problem_fields(world.anon.req("POST", "/volunteers", body)) == ["consent_id_number"]
    body["consent_id_number"] = True
    assert world.anon.req("POST", "/volunteers", body).status_code == 201


def test_patch_names_every_bad_field(world, two_volunteers):
    (v1, me1, _), _ = two_volunteers
    r = me1.req("PATCH", f"/volunteers/{v1['id']}",
                {"name": None, "skills": None, "gender": "x", "birth_date": "x"})
    assert r.status_code == 422 and problem_fields(r) == ["name", "skills", "gender",
                                                          "birth_date"], r.text
    # nothing changed
    assert me1.ok("GET", f"/volunteers/{v1['id']}")["name"] == v1["name"]


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"name":"a","name":"b"}', b"\xff\xfe"])
def test_registration_malformed(world, raw):
    r = world.anon.req("POST", "/volunteers", headers={"Content-Type": "application/json"}, data=raw)
    assert r.status_code == 400, r.text


def test_registration_nulls_mean_absent(world):
    v, _ = register(world, id_number=None, gender=None, skills=None, work_unit=None)
    assert v["id_number"] is None and v["skills"] == []


# --- conflicts ------------------------------------------------------------------------------

def test_duplicate_phone_is_409_naming_phone(world):
    v, body = register(world)
    r = world.anon.req("POST", "/volunteers", {"name": "另一个人", "phone": body["phone"],
                                               "org_unit_id": world.b})
    assert r.status_code == 409 and problem_fields(r) == ["phone"], r.text
    # staff get the same answer
    r = world.coord_a.req("POST", "/volunteers", {"name": "另一个人", "phone": body["phone"],
                                                  "org_unit_id": world.a})
    assert r.status_code == 409 and problem_fields(r) == ["phone"], r.text


def test_duplicate_id_number_is_409_naming_id_number(world):
    for _ in range(10000):  # one ending in X, to exercise the lower-case x normalization
        idn = make_id(f"197505{RNG.randrange(10, 28)}", f"{RNG.randrange(1000):03d}")
        if idn[-1] == "X":
            break
    register(world, id_number=idn)
    r = world.anon.req("POST", "/volunteers", {"name": "冒名", "phone": random_phone(),
                                               "org_unit_id": world.a, "id_number": idn.lower(),
                                               "consent_id_number": True})
    assert r.status_code == 409 and problem_fields(r) == ["id_number"], r.text
    assert idn not in r.text and idn.lower() not in r.text


def test_phone_taken_as_a_staff_login_is_409_phone(world):
    phone = random_phone()
    world.admin.ok("POST", "/accounts", {"login": phone, "password": "Pw-" + secrets.token_hex(8)},
                   want=201)
    r = world.anon.req("POST", "/volunteers", {"name": "赵六", "phone": phone, "org_unit_id": world.a,
                                               "password": "Pw-" + secrets.token_hex(8)})
    assert r.status_code == 409 and problem_fields(r) == ["phone"], r.text
    assert world.pg.sql(f"SELECT count(*) FROM volunteers WHERE phone = '{phone}'").strip() == "0"


def test_idempotent_registration(world):
    body = {"name": "钱七", "phone": random_phone(), "org_unit_id": world.a,
            "id_number": random_id(), "consent_id_number": True, "password": "Pw-" + secrets.token_hex(8)}
    key = {"Idempotency-Key": "vt-" + secrets.token_hex(8)}
    r1 = world.anon.req("POST", "/volunteers", body, headers=key)
    r2 = world.anon.req("POST", "/volunteers", body, headers=key)
    assert r1.status_code == 201 and r2.status_code == 201, (r1.text, r2.text)
    assert r1.json()["id"] == r2.json()["id"] and r1.json()["volunteer_no"] == r2.json()["volunteer_no"]
    assert world.pg.sql(f"SELECT count(*) FROM volunteers WHERE phone = '{body['phone']}'").strip() == "1"
    r3 = world.anon.req("POST", "/volunteers", dict(body, name="孙八"), headers=key)
    assert r3.status_code == 422, r3.text


def test_concurrent_same_phone_one_wins(world):
    phone = random_phone()
    results = []

    def go(i):
        r = world.anon.req("POST", "/volunteers", {"name": f"并发{i}", "phone": phone,
                                                   "org_unit_id": world.a})
        results.append(r.status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [201] + [409] * 7


# --- registration by staff --------------------------------------------------------------------

def test_coordinator_registers_in_scope_only(world):
    w = world
    v, _ = register(w, client=w.coord_a, org_unit_id=w.a_grid)  # a grid under their community
    assert v["org_unit_id"] == w.a_grid
    created_by = w.pg.sql(f"SELECT created_by FROM volunteers WHERE id = {v['id']}").strip()
    assert created_by == str(w.coord_a.account["id"])
    r = w.coord_a.req("POST", "/volunteers", {"name": "越界", "phone": random_phone(), "org_unit_id": w.b})
    assert r.status_code == 404, r.text
    r = w.coord_a.req("POST", "/volunteers", {"name": "越界", "phone": random_phone(), "org_unit_id": w.sub})
    assert r.status_code == 404, r.text
    r = w.coord_a.req("POST", "/volunteers", {"name": "无处", "phone": random_phone(),
                                              "org_unit_id": 9_000_000_000_000})
    assert r.status_code == 404, r.text  # not in scope: its existence is not told
    # a sub-district admin reaches both communities
    admin_s = make_staff(w.admin, "admin", org_unit_id=w.sub)
    register(w, client=admin_s, org_unit_id=w.b)


def test_anonymous_registration_into_a_missing_unit(world):
    r = world.anon.req("POST", "/volunteers", {"name": "无处", "phone": random_phone(),
                                               "org_unit_id": 9_000_000_000_000})
    assert r.status_code == 422 and problem_fields(r) == ["org_unit_id"]


def test_a_logged_in_volunteer_cannot_register_others(world):
    password = "Pw-" + secrets.token_hex(8)
    _, body = register(world, password=password)
    me = Api(world.server, body["phone"], password)
    r = me.req("POST", "/volunteers", {"name": "朋友", "phone": random_phone(), "org_unit_id": world.a})
    assert r.status_code == 403, r.text


def test_staff_registration_with_password_creates_the_login(world):
    password = "Pw-" + secrets.token_hex(8)
    v, body = register(world, client=world.coord_a, password=password)
    me = Api(world.server, body["phone"], password)
    assert me.account["volunteer_id"] == v["id"]


# --- search ---------------------------------------------------------------------------------

def test_search_by_name_phone_and_number_with_pages(world):
    w = world
    prefix = "搜" + secrets.token_hex(2)
    made = [register(w, name=f"{prefix}{i}", org_unit_id=(w.a if i % 2 else w.a_grid))[0]
            for i in range(5)]
    other, _ = register(w, name=f"{prefix}b", org_unit_id=w.b)
    ids = sorted(v["id"] for v in made)

    # name prefix, 2 per page, ascending ids, every page full until the last
    seen, cursor, pages = [], None, 0
    while pages < 10:
        q = f"/volunteers?q={prefix}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = w.coord_a.ok("GET", q)
        seen += [v["id"] for v in page["items"]]
        pages += 1
        for v in page["items"]:
            assert "id_number_enc" not in v and "id_number_hmac" not in v
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids and pages == 3
    # the other community's volunteer is not in coordinator A's results, but in the admin's
    all_admin = w.admin.ok("GET", f"/volunteers?q={prefix}&limit=500")
    assert sorted(v["id"] for v in all_admin["items"]) == sorted(ids + [other["id"]])
    assert [v["id"] for v in w.coord_b.ok("GET", f"/volunteers?q={prefix}")["items"]] == [other["id"]]

    # phone prefix and exact volunteer number
    target = made[2]
    got = w.coord_a.ok("GET", f"/volunteers?q={target['phone']}")["items"]
    assert [v["id"] for v in got] == [target["id"]]
    got = w.coord_a.ok("GET", f"/volunteers?q={target['phone'][:9]}")["items"]
    assert target["id"] in [v["id"] for v in got]
    got = w.coord_a.ok("GET", f"/volunteers?q={target['volunteer_no']}")["items"]
    assert [v["id"] for v in got] == [target["id"]]
    assert w.coord_b.ok("GET", f"/volunteers?q={target['volunteer_no']}")["items"] == []

    # filters narrow, never widen
    got = w.coord_a.ok("GET", f"/volunteers?q={prefix}&org_unit_id={w.a_grid}")["items"]
    assert sorted(v["id"] for v in got) == sorted(v["id"] for v in made if v["org_unit_id"] == w.a_grid)
    assert w.coord_a.ok("GET", f"/volunteers?q={prefix}&org_unit_id={w.b}")["items"] == []

    # LIKE metacharacters are literal
    assert w.coord_a.ok("GET", "/volunteers?q=%25")["items"] == []
    assert w.coord_a.ok("GET", "/volunteers?q=_")["items"] == []


def test_search_bad_parameters(world):
    c = world.coord_a
    assert c.status("GET", "/volunteers?limit=0") == 422
    assert c.status("GET", "/volunteers?limit=501") == 422
    assert c.status("GET", "/volunteers?cursor=abc") == 422
    assert c.status("GET", "/volunteers?org_unit_id=x") == 422
    assert c.status("GET", "/volunteers?q=" + "长" * 51) == 422
    assert c.status("GET", "/volunteers?status=gone") == 422


def test_search_is_for_staff(world):
    password = "Pw-" + secrets.token_hex(8)
    _, body = register(world, password=password)
    me = Api(world.server, body["phone"], password)
    assert me.status("GET", "/volunteers") == 403
    assert world.anon.status("GET", "/volunteers") == 401


def test_team_coordinator_reaches_members_only(world):
    w = world
    team = int(w.pg.sql(f"INSERT INTO teams (name, org_unit_id) VALUES ('队{secrets.token_hex(2)}', {w.b}) "
                        "RETURNING id").split()[0])
    member, _ = register(w, org_unit_id=w.a)     # lives in A, serves in a team of B
    stranger, _ = register(w, org_unit_id=w.a)
    w.pg.sql(f"INSERT INTO team_members (team_id, volunteer_id) VALUES ({team}, {member['id']})")
    coord_t = make_staff(w.admin, "coordinator", team_id=team)
    got = coord_t.ok("GET", "/volunteers?limit=500")["items"]
    assert [v["id"] for v in got] == [member["id"]]
    assert coord_t.ok("GET", f"/volunteers?team_id={team}")["items"][0]["id"] == member["id"]
    assert coord_t.ok("GET", f"/volunteers/{member['id']}")["teams"] == [{"team_id": team, "role": "member"}]
    assert coord_t.status("GET", f"/volunteers/{stranger['id']}") == 404
    # coordinator B reaches the member through B's team, A through the home unit
    assert w.coord_b.status("GET", f"/volunteers/{member['id']}") == 200
    assert w.coord_b.status("GET", f"/volunteers/{stranger['id']}") == 404
    got = w.coord_b.ok("GET", f"/volunteers?team_id={team}")["items"]
    assert [v["id"] for v in got] == [member["id"]]


def test_team_coordinator_registers_into_the_team(world):
    """A coordinator whose only grant is on a team registers a newcomer with team_id: the
    volunteer joins the team in the same transaction, and the coordinator reaches the record
    through it.  The home unit must be in the team's area (or the caller's own unit scope)."""
    w = world
    team = int(w.pg.sql(f"INSERT INTO teams (name, org_unit_id) VALUES ('队{secrets.token_hex(2)}', {w.a}) "
                        "RETURNING id").split()[0])
    other = int(w.pg.sql(f"INSERT INTO teams (name, org_unit_id) VALUES ('队{secrets.token_hex(2)}', {w.b}) "
                         "RETURNING id").split()[0])
    coord_t = make_staff(w.admin, "coordinator", team_id=team)

    # without team_id the unit decides, as before: no grant on it, so it is not found
    register(w, client=coord_t, want=404, org_unit_id=w.a_grid)

    v, body = register(w, client=coord_t, want=201, org_unit_id=w.a_grid, team_id=team)
    assert v["teams"] == [{"team_id": team, "role": "member"}]
    assert coord_t.ok("GET", f"/volunteers/{v['id']}")["phone"] == body["phone"]
    assert [x["id"] for x in coord_t.ok("GET", f"/volunteers?team_id={team}")["items"]] == [v["id"]]
    created_by = w.pg.sql(f"SELECT created_by FROM volunteers WHERE id = {v['id']}").strip()
    assert created_by == str(coord_t.account["id"])
    audit = w.pg.sql(f"SELECT action || ':' || entity_id FROM audit_log WHERE entity = 'team' "
                     f"AND new ->> 'volunteer_id' = '{v['id']}'").split()
    assert audit == [f"member_add:{team}"]

    # a home outside the team's area: 422 naming org_unit_id, and nothing written
    phone = random_phone()
    r = coord_t.req("POST", "/volunteers", {"name": "外区", "phone": phone, "org_unit_id": w.b,
                                            "team_id": team})
    assert r.status_code == 422 and problem_fields(r) == ["org_unit_id"], r.text
    assert w.pg.sql(f"SELECT count(*) FROM volunteers WHERE phone = '{phone}'").strip() == "0"
    # a team out of reach, or none at all: 404 alike
    for t in (other, 9_000_000_000_000):
        register(w, client=coord_t, want=404, org_unit_id=w.a, team_id=t)
    # a unit coordinator may register into a team it reaches, from its own scope
    v2, _ = register(w, client=w.coord_a, org_unit_id=w.a, team_id=team)
    assert v2["teams"] == [{"team_id": team, "role": "member"}]
    register(w, client=w.coord_a, want=404, org_unit_id=w.a, team_id=other)
    # a member of the team who is not staff of it cannot use it to register others
    member = make_staff(w.admin, "coordinator", org_unit_id=w.b)
    w.pg.sql(f"UPDATE accounts SET volunteer_id = {v['id']} WHERE id = {member.account['id']}")
    register(w, client=member, want=403, org_unit_id=w.a, team_id=team)


def test_team_id_is_for_staff_and_checked(world):
    w = world
    team = int(w.pg.sql(f"INSERT INTO teams (name, org_unit_id) VALUES ('队{secrets.token_hex(2)}', {w.a}) "
                        "RETURNING id").split()[0])
    phone = random_phone()
    r = w.anon.req("POST", "/volunteers", {"name": "自荐", "phone": phone, "org_unit_id": w.a,
                                           "team_id": team})
    assert r.status_code == 403 and problem_fields(r) == ["team_id"], r.text
    assert w.pg.sql(f"SELECT count(*) FROM volunteers WHERE phone = '{phone}'").strip() == "0"
    for bad in ("1", 0, -3, 1.5, [team]):
        r = w.coord_a.req("POST", "/volunteers", {"name": "坏", "phone": random_phone(),
                                                  "org_unit_id": w.a, "team_id": bad})
        assert r.status_code in (400, 422) and problem_fields(r) == ["team_id"], (bad, r.text)
    # null means absent, as for every optional field of a registration
    v, _ = register(w, client=w.coord_a, org_unit_id=w.a, team_id=None)
    assert v["teams"] == []
    # team membership is not edited through PATCH /volunteers
    r = w.coord_a.req("PATCH", f"/volunteers/{v['id']}", {"team_id": team})
    assert r.status_code in (400, 422) and problem_fields(r) == ["team_id"], r.text


# --- read and edit ----------------------------------------------------------------------------

@pytest.fixture
def two_volunteers(world):
    out = []
    for _ in range(2):
        password = "Pw-" + secrets.token_hex(8)
        v, body = register(world, password=password, id_number=random_id())
        out.append((v, Api(world.server, body["phone"], password), body))
    return out


def test_self_read_and_patch(world, two_volunteers):
    (v1, me1, _), (v2, me2, _) = two_volunteers
    got = me1.ok("GET", f"/volunteers/{v1['id']}")
    assert got["volunteer_no"] == v1["volunteer_no"]
    assert me1.status("GET", f"/volunteers/{v2['id']}") == 404
    assert me1.status("PATCH", f"/volunteers/{v2['id']}", {"name": "篡改"}) == 404
    assert me1.status("GET", "/volunteers/999999999999") == 404
    assert me1.status("GET", "/volunteers/abc") == 404

    new = me1.ok("PATCH", f"/volunteers/{v1['id']}",
                 {"name": "新名字", "skills": ["讲解"], "work_unit": None, "party_member": True,
                  "gender": "female", "birth_date": "1991-01-01"})
    assert new["name"] == "新名字" and new["skills"] == ["讲解"] and new["work_unit"] is None
    assert new["party_member"] is True and new["gender"] == "female"
    assert new["phone"] == v1["phone"] and new["id_number"] == v1["id_number"]

    for field, value in (("phone", random_phone()), ("org_unit_id", world.b), ("status", "suspended"),
                         ("id_number", random_id()), ("password", "Pw-" + secrets.token_hex(8))):
        r = me1.req("PATCH", f"/volunteers/{v1['id']}", {field: value})
        assert r.status_code == 403 and problem_fields(r) == [field], (field, r.text)
    for body, field in (({"nickname": "x"}, "nickname"), ({"name": None}, "name"),
                        ({"skills": None}, "skills"), ({"phone": "123"}, "phone"),
                        ({"id_number": "110105198506120010"}, "id_number"),
                        ({"volunteer_no": "V1"}, "volunteer_no"), ({"status": "gone"}, "status")):
        r = me1.req("PATCH", f"/volunteers/{v1['id']}", body)
        assert r.status_code == 422 and problem_fields(r) == [field], (body, r.text)
    # unchanged by all that
    assert me1.ok("GET", f"/volunteers/{v1['id']}")["name"] == "新名字"


def test_staff_patch_in_scope(world):
    w = world
    v, body = register(w, id_number=random_id(), password="Pw-" + secrets.token_hex(8))
    c = w.coord_a
    # move within scope: history kept
    moved = c.ok("PATCH", f"/volunteers/{v['id']}", {"org_unit_id": w.a_grid})
    assert moved["org_unit_id"] == w.a_grid
    hist = w.pg.sql(f"SELECT org_unit_id, valid_to IS NULL FROM volunteer_home_history "
                    f"WHERE volunteer_id = {v['id']} ORDER BY valid_from").split()
    assert hist == [f"{w.a}|f", f"{w.a_grid}|t"]
    # out of scope
    r = c.req("PATCH", f"/volunteers/{v['id']}", {"org_unit_id": w.b})
    assert r.status_code == 422 and problem_fields(r) == ["org_unit_id"]
    assert w.coord_b.status("PATCH", f"/volunteers/{v['id']}", {"name": "x"}) == 404
    # a new phone number: the login follows it
    phone = random_phone()
    new_pw = "Pw-" + secrets.token_hex(8)
    got = c.ok("PATCH", f"/volunteers/{v['id']}", {"phone": phone, "password": new_pw})
    assert got["phone"] == phone
    assert Api(w.server, phone, new_pw).account["volunteer_id"] == v["id"]
    # the ID number: replaced, then removed
    idn = random_id()
    got = c.ok("PATCH", f"/volunteers/{v['id']}", {"id_number": idn})
    assert got["id_number"] == idn[:4] + "*" * 10 + idn[-4:]
    got = c.ok("PATCH", f"/volunteers/{v['id']}", {"id_number": None})
    assert got["id_number"] is None
    assert w.pg.sql(f"SELECT num_nulls(id_number_enc, id_number_hmac, id_number_masked) "
                    f"FROM volunteers WHERE id = {v['id']}").strip() == "3"
    # the removed number is free again
    register(w, id_number=idn)
    got = c.ok("PATCH", f"/volunteers/{v['id']}", {"status": "suspended"})
    assert got["status"] == "suspended"
    # the phone of another volunteer
    _, other = register(w)
    r = c.req("PATCH", f"/volunteers/{v['id']}", {"phone": other["phone"]})
    assert r.status_code == 409 and problem_fields(r) == ["phone"]
    # the audit trail has each change, with the number masked only
    trail = w.admin.ok("GET", f"/audit?entity=volunteer&entity_id={v['id']}&limit=50")["items"]
    actions = [e["action"] for e in reversed(trail)]
    assert [a for a in actions if not a.startswith("id_consent_")][:2] == ["create", "update"]
    assert actions.count("id_consent_give") == 2  # registered with one, then staff's (0027)
    assert idn not in str(trail)


def test_staff_sets_a_first_password(world):
    v, body = register(world, client=world.coord_a)
    assert v["account_id"] is None
    pw = "Pw-" + secrets.token_hex(8)
    got = world.coord_a.ok("PATCH", f"/volunteers/{v['id']}", {"password": pw})
    assert got["account_id"]
    assert Api(world.server, body["phone"], pw).account["volunteer_id"] == v["id"]


@contextlib.contextmanager
def notifications_held(pg):
    """The backends of the servers' LISTEN connections stopped (SIGSTOP): no NOTIFY reaches a
    worker until the block ends, as if it were slow to arrive."""
    pids = [int(p) for p in pg.sql("SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN vd_sessions'").split()]
    assert pids, "no LISTEN connection found"
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def test_password_reset_ends_sessions(world, two_volunteers):
    """A password set by staff ends the volunteer's sessions in every worker of the server at
    once, from the moment the PATCH is answered, without waiting for the database's NOTIFY
    (held back here; each request is a fresh connection, so both workers have cached the
    session)."""
    v, me, body = two_volunteers[0]
    assert [me.status("GET", f"/volunteers/{v['id']}") for _ in range(8)] == [200] * 8
    with notifications_held(world.pg):
        world.coord_a.ok("PATCH", f"/volunteers/{v['id']}", {"password": "Pw-" + secrets.token_hex(8)})
        assert [me.status("GET", f"/volunteers/{v['id']}") for _ in range(8)] == [401] * 8


def test_me_shows_the_volunteer(world, two_volunteers):
    v, me, _ = two_volunteers[0]
    got = me.req("GET", "/me")
    if got.status_code == 200 and "volunteer" in got.json():
        assert got.json()["volunteer"]["id"] == v["id"]
        assert got.json()["volunteer"]["id_number"] == v["id_number"]


# --- the canary: no ID number or password in any log ------------------------------------------

def test_canary_never_logged(world):
    w = world
    # A distinctive but valid number (birth date 1911-11-11, sequence 987) and password.
    canary_id = make_id("19111111", "987", region="650102")
    canary_pw = "Canary-PW-" + secrets.token_hex(10)
    phone = random_phone()
    body = {"name": "金丝雀", "phone": phone, "org_unit_id": w.a, "id_number": canary_id,
            "consent_id_number": True, "password": canary_pw}
    r = w.anon.req("POST", "/volunteers", body, headers={"Idempotency-Key": "canary-" + secrets.token_hex(4)})
    assert r.status_code == 201, r.text
    v = r.json()
    # failures on every path: duplicate (409 in the database), invalid (422 in C), a
    # malformed body, staff edits, and a log-in
    assert w.anon.status("POST", "/volunteers", dict(body, phone=random_phone())) == 409
    assert w.anon.status("POST", "/volunteers", dict(body, phone=random_phone(),
                                                     id_number=canary_id[:17] + "0"
                                                     if canary_id[17] != "0" else canary_id[:17] + "1")) == 422
    assert w.anon.status("POST", "/volunteers", dict(body, phone="1")) == 422
    raw = ('{"name":"x","id_number":"%s","password":"%s",' % (canary_id, canary_pw)).encode()
    assert w.anon.req("POST", "/volunteers", headers={"Content-Type": "application/json"},
                      data=raw).status_code == 400
    w.coord_a.ok("PATCH", f"/volunteers/{v['id']}", {"id_number": canary_id, "password": canary_pw})
    token = Api(w.server, phone, canary_pw).token
    r = w.anon.req("POST", "/session", {"login": phone, "password": canary_pw + "x"})
    assert r.status_code == 401

    secrets_ = (canary_id, canary_id.lower(), canary_id[:17], canary_pw)
    server_log = w.server.log_text()
    assert server_log, "the server log is empty: the test proves nothing"
    with open(w.pg.log, errors="replace") as f:
        pg_log = f.read()
    # the duplicate above reached PostgreSQL's log (so the log is read), as a keyed hash only
    assert "volunteers_id_number_hmac_key" in pg_log
    for s in secrets_:
        assert s not in server_log, "a secret is in the server log"
        assert s not in pg_log, "a secret is in PostgreSQL's log"
    # The phone number (the login, logged in with and failed with) and the session token
    # (R42): in neither log either.
    for s in (phone, token):
        assert s not in server_log, "a phone number or token is in the server log"
        assert s not in pg_log, "a phone number or token is in PostgreSQL's log"
    # nor in any table
    dump = w.pg.sql("SELECT concat_ws(' ', (SELECT string_agg(a::text, ' ') FROM audit_log a), "
                    "(SELECT string_agg(i::text, ' ') FROM idempotency_keys i), "
                    "(SELECT string_agg(v::text, ' ') FROM volunteers v), "
                    "(SELECT string_agg(x::text, ' ') FROM accounts x))")
    for s in secrets_:
        assert s not in dump, "a secret is stored in clear"

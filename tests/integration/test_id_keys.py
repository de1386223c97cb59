"""ID numbers' keys (R43): the stored ciphertext is bound to its volunteer and names its key, the
older form (no key id, a fixed label) is still read, and a rotation (the new secret file with
VOLUNTEERD_SECRET_FILE_PREVIOUS, then `volunteerd rekey-ids`) leaves every number under the new
key, unique throughout, so that the previous key can go.

Each test has its own database and servers with secret files it made, so that it can derive the
keys as server/secret.c does and check every stored form independently (Python's
cryptography), and write rows as the code before key ids did.
"""
import hashlib
import hmac
import json
import os
import re
import secrets

import psycopg2
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import helpers
from apiclient import Api, anonymous, make_staff
from test_staff_pages import Browser, tokens
from test_volunteers import random_id, random_phone

PW = "Adm1n-" + secrets.token_hex(6)


def derive(master, label):
    return hmac.new(master, label.encode(), hashlib.sha256).digest()


class Keys:
    """The ID-number keys of one secret file, derived as server/secret.c does."""

    def __init__(self, directory, name):
        self.path = os.path.join(directory, name)
        master = os.urandom(64)
        with open(self.path, "wb") as f:
            f.write(master)
        os.chmod(self.path, 0o600)
        self.enc = derive(master, "volunteerd id-number encryption v1")
        self.index = derive(master, "volunteerd id-number index v1")
        self.id = derive(master, "volunteerd id-number key id v1")[:4]

    def blind(self, number):
        return hmac.new(self.index, number.encode(), hashlib.sha256).digest()

    def old_form(self, number):
        """The number as the code before key ids stored it: nonce || ciphertext || tag."""
        nonce = os.urandom(12)
        return nonce + AESGCM(self.enc).encrypt(nonce, number.encode(), b"volunteerd:id_number:v1")

    def header(self, vid):
        return bytes([2]) + self.id + vid.to_bytes(8, "big")

    def seal(self, vid, number):
        """The number in the current form for volunteer vid, as server/idnum.c makes it."""
        nonce = os.urandom(12)
        aad = b"volunteerd:id_number:v2" + self.header(vid)
        return self.header(vid) + nonce + AESGCM(self.enc).encrypt(nonce, number.encode(), aad)

    def open(self, vid, stored):
        """The number in the current form made by this key for volunteer vid (else raises)."""
        assert stored[:13] == self.header(vid), "not this key's form for this volunteer"
        aad = b"volunteerd:id_number:v2" + stored[:13]
        return AESGCM(self.enc).decrypt(stored[13:25], stored[25:], aad).decode()


class Env:
    """A database of its own, an admin, a district, and servers made with chosen keys."""

    def __init__(self, make_server, fresh_db, pg, tmp_path):
        self.make_server, self.pg = make_server, pg
        self.db, self.url = fresh_db()
        self.a, self.b = Keys(tmp_path, "secret-a"), Keys(tmp_path, "secret-b")
        self.srv = None
        setup = self.server(self.a, start=False)
        setup.migrate()
        setup.create_admin("admin", PW)
        self.unit = None

    def server(self, current, previous=None, start=True):
        """A server (stopping the one before) whose secret file is current's, and previous's as
        VOLUNTEERD_SECRET_FILE_PREVIOUS."""
        if self.srv:
            self.srv.stop()
        env = {"VOLUNTEERD_SECRET_FILE": current.path}
        if previous:
            env["VOLUNTEERD_SECRET_FILE_PREVIOUS"] = previous.path
        self.srv = self.make_server(self.url, tls=False, workers=1, env=env)
        if start:
            self.srv.start()
            self.admin = Api(self.srv, "admin", PW)
            if self.unit is None:
                self.unit = self.admin.ok("POST", "/org-units", {"parent_id": None, "kind": "district",
                                                                 "code": "ik-" + secrets.token_hex(3),
                                                                 "name": "区"})["id"]
        return self.srv

    def register(self, number, want=201):
        r = anonymous(self.srv).req("POST", "/volunteers", {"name": "钥" + secrets.token_hex(2),
                                                           "phone": random_phone(),
                                                           "org_unit_id": self.unit, "id_number": number,
                                                           "consent_id_number": True})
        assert r.status_code == want, r.text
        assert number not in r.text and number.lower() not in r.text
        return r.json()

    def sql(self, q, check=True):
        return self.pg.sql(q, db=self.db, check=check)

    def stored(self):
        """{volunteer id: (stored form, blind index)} of every row with an ID number."""
        rows = self.sql("SELECT id, encode(id_number_enc, 'hex'), encode(id_number_hmac, 'hex') "
                        "FROM volunteers WHERE id_number_enc IS NOT NULL ORDER BY id")
        out = {}
        for line in rows.splitlines():
            vid, enc, mac = line.split("|")
            out[int(vid)] = (bytes.fromhex(enc), bytes.fromhex(mac))
        return out

    def insert_old_form(self, keys, number):
        """A row as the code before key ids wrote it; its id."""
        masked = number[:4] + "*" * 10 + number[-4:]
        return int(self.sql(
            f"INSERT INTO volunteers (name, phone, org_unit_id, id_number_enc, id_number_hmac, id_number_masked) "
            f"VALUES ('旧', '{random_phone()}', {self.unit}, '\\x{keys.old_form(number).hex()}', "
            f"'\\x{keys.blind(number).hex()}', '{masked}') RETURNING id").split()[0])

    def rekey(self, *args):
        r = self.srv.cmd(["rekey-ids", *args])
        for number in self.numbers:
            assert number not in r.stdout + r.stderr
        return r


@pytest.fixture
def env(make_server, fresh_db, pg, tmp_path):
    e = Env(make_server, fresh_db, pg, str(tmp_path))
    e.numbers = []
    return e


def new_number(env):
    n = random_id()
    env.numbers.append(n)
    return n


def test_the_ciphertext_is_bound_to_its_volunteer_and_names_its_key(env):
    env.server(env.a)
    env.register(new_number(env))  # ids need not start at 1
    n = new_number(env)
    v = env.register(n)
    enc, mac = env.stored()[v["id"]]
    assert len(enc) == 59 and enc[:5] == bytes([2]) + env.a.id
    assert env.a.open(v["id"], enc) == n  # the reserved id is the row's id
    assert mac == env.a.blind(n)
    # an update is encrypted for the volunteer of its path
    n2 = new_number(env)
    env.admin.ok("PATCH", f"/volunteers/{v['id']}", {"id_number": n2})
    assert env.a.open(v["id"], env.stored()[v["id"]][0]) == n2
    # without an ID number the ids go on as before
    r = anonymous(env.srv).req("POST", "/volunteers", {"name": "无证", "phone": random_phone(),
                                                      "org_unit_id": env.unit})
    assert r.status_code == 201 and r.json()["id"] > v["id"]


def sequences_last(env):
    """The last value handed out by the volunteers' id sequence and by volunteer_no_seq."""
    out = env.sql("SELECT pg_sequence_last_value(pg_get_serial_sequence('volunteers', 'id')::regclass), "
                  "pg_sequence_last_value('volunteer_no_seq')")
    return tuple(int(x) for x in out.strip().split("|"))


def test_each_registration_takes_one_id_and_one_volunteer_no(env):
    # A registration with an ID number reserves its id before the encryption: the row must take
    # that id and no other.  Consecutive registrations, with a number or without, by the person
    # (API or /register) or by a coordinator, get consecutive ids and volunteer numbers, and
    # neither sequence has handed out anything beyond the last of them.
    current = env.a
    env.server(current)
    login = "ik-c-" + secrets.token_hex(3)
    coord = make_staff(env.admin, login, PW, {"role": "coordinator", "org_unit_id": env.unit})
    numbers = {}  # volunteer id: (ID number, the key current when it was stored)

    def by_self(number=None):
        if number is None:
            r = anonymous(env.srv).req("POST", "/volunteers", {"name": "自己", "phone": random_phone(),
                                                              "org_unit_id": env.unit})
            assert r.status_code == 201, r.text
            return r.json()
        return env.register(number)

    def by_coordinator(number=None):
        body = {"name": "代登", "phone": random_phone(), "org_unit_id": env.unit}
        if number:
            body["id_number"] = number
        return coord.ok("POST", "/volunteers", body, want=201)

    def by_page(number):
        b, phone = Browser(env.srv), random_phone()
        html = b.get("/register").text
        r = b.post("/register", {"_t": tokens(html)[0], "name": "页面", "phone": phone, "password": PW,
                                 "org_unit_id": str(env.unit), "id_number": number, "consent_id_number": "1"})
        assert r.status_code == 303, r.text[:300]
        vid, no = env.sql(f"SELECT id, volunteer_no FROM volunteers WHERE phone = '{phone}'").strip().split("|")
        return {"id": int(vid), "volunteer_no": no}

    def made(register, with_number):
        n = new_number(env) if with_number else None
        v = register(n)
        if n:
            numbers[v["id"]] = (n, current)
        return v

    steps = [(by_self, True), (by_self, False), (by_coordinator, True), (by_coordinator, False),
             (by_self, True), (by_coordinator, True), (by_page, True), (by_self, False), (by_self, True)]
    vs = [made(register, with_number) for register, with_number in steps]
    # and during a key rotation (the reservation also asks about the previous key's index)
    current = env.b
    env.server(current, env.a)
    coord = Api(env.srv, login, PW)
    vs += [made(by_self, True), made(by_coordinator, True), made(by_self, False)]
    # an update is encrypted for the id of its path, and reserves nothing
    n = new_number(env)
    coord.ok("PATCH", f"/volunteers/{vs[1]['id']}", {"id_number": n})
    numbers[vs[1]["id"]] = (n, current)

    ids = [v["id"] for v in vs]
    nos = [int(v["volunteer_no"][1:-1]) for v in vs]
    assert ids == list(range(ids[0], ids[0] + len(vs))), ids
    assert nos == list(range(nos[0], nos[0] + len(vs))), nos
    assert sequences_last(env) == (ids[-1], nos[-1])
    # each ciphertext is still bound to its own row, under the key current when it was made
    stored = env.stored()
    assert set(stored) == set(numbers)
    for vid, (n, key) in numbers.items():
        assert key.open(vid, stored[vid][0]) == n


def test_an_id_not_reserved_is_refused(env):
    # POST /volunteers' INSERT now names the id its ciphertext was made for: an id the sequence
    # has not handed out (which a later registration would be given) is refused all the same,
    # through the function or by a plain INSERT, and nothing is stored.
    env.server(env.a)
    env.register(new_number(env))
    ahead = sequences_last(env)[0] + 5
    n = new_number(env)
    enc, mac = env.a.seal(ahead, n).hex(), env.a.blind(n).hex()
    args = {"name": "预留", "phone": random_phone(), "org_unit_id": env.unit, "id_number_enc": enc,
            "id_number_hmac": mac, "id_number_masked": n[:4] + "*" * 10 + n[-4:],
            "consent_id_number": True, "id_consent_notice": "1"}
    tries = [("SELECT api_call('volunteer_create', 0, %s::jsonb, NULL, NULL, NULL, NULL)", (json.dumps(args),)),
             ("INSERT INTO volunteers (id, name, phone, org_unit_id, id_number_enc, id_number_hmac, "
              "id_number_masked) OVERRIDING SYSTEM VALUE VALUES (%s, '预留', %s, %s, decode(%s, 'hex'), "
              "decode(%s, 'hex'), %s)", (ahead, random_phone(), env.unit, enc, mac, args["id_number_masked"]))]
    for q, params in tries:
        conn = env.pg.connect(db=env.db)
        try:
            with pytest.raises(psycopg2.Error, match=f"volunteer id {ahead} was not reserved"):
                conn.cursor().execute(q, params)
        finally:
            conn.close()
    assert env.sql(f"SELECT count(*) FROM volunteers WHERE id >= {ahead}").strip() == "0"
    # the sequence goes on where it was
    v = env.register(n)
    assert v["id"] == ahead - 4 and env.a.open(v["id"], env.stored()[v["id"]][0]) == n


def test_a_moved_ciphertext_is_refused_or_fails_safely(env):
    env.server(env.a)
    nx, ny, nz = new_number(env), new_number(env), new_number(env)
    x, y, z = env.register(nx), env.register(ny), env.register(nz)
    stored = env.stored()
    ex, ey = stored[x["id"]][0], stored[y["id"]][0]

    # Swapping two rows' ciphertexts: the database refuses it.
    r = env.pg.as_pg([f"{helpers.PGBIN}/psql", "-h", env.pg.dir, "-p", str(env.pg.port), "-U", "postgres",
                      "-d", env.db, "-Atc",
                      f"UPDATE volunteers SET id_number_enc = CASE id WHEN {x['id']} THEN '\\x{ey.hex()}'::bytea "
                      f"ELSE '\\x{ex.hex()}'::bytea END WHERE id IN ({x['id']}, {y['id']})"])
    assert r.returncode != 0 and "volunteers_id_number_enc_volunteer" in r.stderr
    # Keeping x's header over y's nonce, ciphertext and tag passes the database's check; and an
    # owner who drops the check can copy z's whole ciphertext onto y.
    env.sql(f"UPDATE volunteers SET id_number_enc = '\\x{(ex[:13] + ey[13:]).hex()}' WHERE id = {x['id']}")
    env.sql("ALTER TABLE volunteers DROP CONSTRAINT volunteers_id_number_enc_volunteer")
    env.sql(f"UPDATE volunteers SET id_number_enc = (SELECT id_number_enc FROM volunteers WHERE id = {z['id']}) "
            f"WHERE id = {y['id']}")

    # The server never decrypts to answer: the record reads as before, the index still finds
    # the numbers, no error.
    got = env.admin.ok("GET", f"/volunteers/{x['id']}")
    assert got["id_number"] == x["id_number"]
    env.register(nx, want=409)
    # The decrypting path, rekey-ids (after a rotation, so that it reads these rows): each moved
    # ciphertext is reported by volunteer id, left as it is, and the others are rewritten.
    env.server(env.b, env.a)
    r = env.rekey()
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"volunteer {x['id']}: the ID number does not decrypt" in r.stderr
    assert f"volunteer {y['id']}: the ID number does not decrypt" in r.stderr
    assert "1 rewritten, 2 not decrypted" in r.stdout
    assert "2 of 3 ID numbers are not under key" in r.stdout
    after = env.stored()
    assert after[x["id"]][0] == ex[:13] + ey[13:] and after[y["id"]][0] == stored[z["id"]][0]
    assert env.b.open(z["id"], after[z["id"]][0]) == nz

    # Put back, a second run takes only what is left: restartable.
    env.sql(f"UPDATE volunteers SET id_number_enc = '\\x{ex.hex()}' WHERE id = {x['id']}")
    env.sql(f"UPDATE volunteers SET id_number_enc = '\\x{ey.hex()}' WHERE id = {y['id']}")
    r = env.rekey()
    assert r.returncode == 0 and "2 rewritten, 0 not decrypted" in r.stdout, r.stdout + r.stderr
    after = env.stored()
    assert env.b.open(x["id"], after[x["id"]][0]) == nx and env.b.open(y["id"], after[y["id"]][0]) == ny


def walk_in(env, number):
    """The console's walk-in form, as the administrator, at a new event open to walk-ins, with
    an ID number: the status, 303 when a volunteer was found (and checked in), 422 when not."""
    tag = secrets.token_hex(3)
    team = env.sql(f"INSERT INTO teams (name, org_unit_id) VALUES ('钥{tag}', {env.unit}) RETURNING id").split()[0]
    ev = env.sql(f"""
        WITH po AS (INSERT INTO hour_policies (name, static_code, walk_ins_allowed)
                    VALUES ('ik-{tag}', true, true) RETURNING id),
        ac AS (INSERT INTO activities (team_id, org_unit_id, title, policy_id)
               SELECT {team}, {env.unit}, '钥岗', po.id FROM po RETURNING id)
        INSERT INTO events (activity_id, starts_at, ends_at, checkin_code)
        SELECT id, now() - interval '5 minutes', now() + interval '3 hours', '246802' FROM ac
        RETURNING id""").split()[0]
    b = Browser(env.srv, "admin", PW)
    path = f"/console/events/{ev}"
    html = b.get(path).text
    form = re.search(r'<section aria-labelledby="h-walkin".*?</section>', html, re.S).group(0)
    return b.post(path, {"_t": tokens(form)[0], "action": "walkin", "who": number}).status_code


def test_rotation(env):
    # Before: rows of the older form (as the code before key ids wrote them) and of the current
    # form, all under key a.
    env.server(env.a)
    olds = {env.insert_old_form(env.a, n): n for n in (new_number(env), new_number(env), new_number(env))}
    news = {}
    for _ in range(4):
        n = new_number(env)
        news[env.register(n)["id"]] = n
    env.register(next(iter(olds.values())), want=409)  # an older row's index is a's: found
    assert len(env.stored()) == 7

    # Rotation, step 1: the server with b current and a previous.
    env.server(env.b, env.a)
    later = new_number(env)
    w = env.register(later)
    assert env.b.open(w["id"], env.stored()[w["id"]][0]) == later
    # Unique throughout: a number held under the previous key, of either form, and one under
    # the current key are all 409, registered or set by an update.
    v1, v2, v3 = list(news)[:3]
    for n in (news[v1], next(iter(olds.values())), later):
        env.register(n, want=409)
    r = env.admin.req("PATCH", f"/volunteers/{v2}", {"id_number": news[v3]})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "id_number", r.text
    env.admin.ok("PATCH", f"/volunteers/{v2}", {"id_number": news[v2]})  # its own: fine
    # The console's walk-in lookup finds a row still under the previous key, and one under the
    # current key; a number nobody has is still nobody.
    assert walk_in(env, next(iter(olds.values()))) == 303
    assert walk_in(env, later) == 303
    assert walk_in(env, new_number(env)) == 422

    # Only the new key: the rows under a do not decrypt, and nothing is written.
    before = env.stored()
    r = env.srv.cmd(["rekey-ids"], env={"VOLUNTEERD_SECRET_FILE_PREVIOUS": ""})
    assert r.returncode == 1 and "0 rewritten, 6 not decrypted" in r.stdout, r.stdout + r.stderr
    assert env.stored() == before

    # Step 2: rekey-ids, in batches of 2 committed as it goes.
    r = env.rekey("--batch", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(re.findall(r"^rekey-ids: volunteers \d+ to \d+: 2 rewritten$", r.stdout, re.M)) == 3
    assert "6 rewritten, 0 not decrypted, 0 held by another volunteer" in r.stdout
    assert f"all 8 ID numbers are under key {env.b.id.hex()}" in r.stdout
    everyone = {**olds, **news, w["id"]: later}
    for vid, (enc, mac) in env.stored().items():
        assert env.b.open(vid, enc) == everyone[vid] and mac == env.b.blind(everyone[vid])
    assert env.sql("SELECT count(*) FROM audit_log WHERE action = 'rekey'").strip() == "3"
    r = env.rekey()  # again: nothing left to do
    assert r.returncode == 0 and "0 rewritten" in r.stdout and "all 8 ID numbers" in r.stdout

    # Step 3: the previous key removed; everything reads, duplicates are still 409.
    env.server(env.b)
    r = env.rekey()
    assert r.returncode == 0 and "0 rewritten, 0 not decrypted" in r.stdout, r.stdout + r.stderr
    for n in everyone.values():
        env.register(n, want=409)
    # Erasure still clears all three.
    env.admin.ok("DELETE", f"/volunteers/{v1}")
    assert env.sql(f"SELECT num_nulls(id_number_enc, id_number_hmac, id_number_masked) FROM volunteers "
                   f"WHERE id = {v1}").strip() == "3"

    # No number in clear anywhere in the database.
    dump = env.pg.as_pg([f"{helpers.PGBIN}/pg_dump", "-h", env.pg.dir, "-p", str(env.pg.port),
                         "-U", "postgres", env.db], timeout=120)
    assert dump.returncode == 0 and "COPY public.volunteers" in dump.stdout, dump.stderr
    for n in everyone.values():
        assert n not in dump.stdout and n.lower() not in dump.stdout and n[:17] not in dump.stdout
    assert env.srv.log_text() and not any(n in env.srv.log_text() for n in env.numbers)


def test_the_previous_secret_must_be_another(env):
    srv = env.server(env.a, env.a, start=False)
    srv.spawn()
    assert srv.wait_exit(15) == 1
    assert "VOLUNTEERD_SECRET_FILE_PREVIOUS" in srv.log_text()
    r = srv.cmd(["rekey-ids"], env={"VOLUNTEERD_SECRET_FILE_PREVIOUS": env.b.path + ".missing"})
    assert r.returncode == 1 and "VOLUNTEERD_SECRET_FILE_PREVIOUS" in r.stderr

"""Set-based check-ins (sql/0013_checkin_set.sql) in a real concurrent batch.

Many volunteers check in at once over HTTP, and the requests are made to land in ONE group
commit: the module's server has a single worker, a lock on audit_log holds its first two
batches (two pilot check-ins: the second leaves once the first has been out 50 ms) in the
database, so every later request waits in the batch being gathered, which leaves as one
statement when the lock is released.  That the batch was one
transaction is checked from the rows: its check-ins share the transaction's now().

Each test mixes successes with each kind of failure in that one batch and checks every answer
(status, detail, field) against what the same request gets alone, that every 2xx is in the
database with its audit row, and that the failures left nothing behind.

Volunteers, accounts and sessions are inserted with SQL (tokens chosen here, stored as their
SHA-256, as the server does), as in test_batch.py.
"""
import concurrent.futures as cf
import secrets
import time

import pytest
import requests

import conftest
import helpers

TIMEOUT = 15
CODE = "246810"


@pytest.fixture(scope="module")
def one_worker(pg, workdir):
    """A server with ONE worker on the session database, so that concurrent requests meet in
    the same batch (gathered behind a table lock held longer than lock_timeout: it is off)."""
    srv = helpers.Server(pg.url(), workdir, tls=False, workers=1, env={"VOLUNTEERD_DB_LOCK_TIMEOUT_MS": "0"})
    conftest._track(srv.cleanup)
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


class World:
    pass


def make_world(pg, volunteers, capacity):
    """An org unit with two events open now, static code CODE: `signed` (no walk-ins; every
    volunteer signed up) and `walkin` (walk-ins allowed, `capacity` places, nobody signed up);
    `volunteers` volunteers with accounts and sessions; a coordinator of the unit."""
    w = World()
    tag = secrets.token_hex(4)
    w.tokens = ["cs" + secrets.token_hex(21)[:41] for _ in range(volunteers)]  # 43 characters
    w.coordinator_token = "cs" + secrets.token_hex(21)[:41]
    w.unit, team = helpers.unit_with_team(pg, f"CS-{tag}", f"Set {tag}", "Set team")
    w.signed = helpers.open_event(pg, team, f"set {tag} a", "Signed post", CODE)
    w.walkin = helpers.open_event(pg, team, f"set {tag} b", "Walk-in post", CODE, walk_ins=True,
                                  capacity=capacity, started="4 minutes")
    w.ids, _ = helpers.volunteers_with_sessions(pg, w.unit, w.tokens, f"set-{tag}", phone="156",
                                                signup_event=w.signed)
    helpers.coordinator_with_sessions(pg, w.unit, f"set-{tag}-co", [w.coordinator_token])
    return w


def post(server, path, token, body, key=None):
    h = {"Authorization": "Bearer " + token}
    if key:
        h["Idempotency-Key"] = key
    with requests.Session() as s:
        return s.post(server.url(path), json=body, headers=h, timeout=TIMEOUT)


def checkin(server, event, token, body=None, key=None):
    return lambda: post(server, f"/api/v1/events/{event}/check-ins", token,
                        {"code": CODE} if body is None else body, key)


def checkout(server, event, token):
    return lambda: post(server, f"/api/v1/events/{event}/check-outs", token, {"code": CODE})


def one_batch(pg, pilots, waves):
    """Runs `pilots` (two requests that become the two batches held by the lock), then each wave
    of requests 0.3 s after the one before (so a later wave arrives later), all while audit_log
    is locked; releases the lock once everything has arrived.  Returns the answers, a list per
    wave."""
    conn = pg.connect()
    try:
        conn.cursor().execute("LOCK TABLE audit_log IN SHARE MODE")
        with cf.ThreadPoolExecutor(80) as ex:
            held = []
            for p in pilots:  # one at a time, each its own batch waiting for the lock
                held.append(ex.submit(p))
                assert helpers.wait_until(lambda: pg.sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%checkin_batch%'").strip() == str(len(held)), 10), "pilot not held"
            # Both batches the worker may have in flight wait (the second went because the
            # first was slow): from now on it gathers.
            jobs = []
            for wave in waves:
                jobs.append([ex.submit(f) for f in wave])
                time.sleep(0.3)
            time.sleep(1.5)  # every request has arrived and waits in the batch being gathered
            conn.rollback()  # release
            for p in held:
                assert p.result(timeout=30).status_code == 201
            return [[j.result(timeout=30) for j in wave] for wave in jobs]
    finally:
        conn.close()


def problem(r, status, detail, field=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["detail"] == detail, body
    if field:
        assert [e["field"] for e in body.get("errors", [])] == [field] or body.get("field") == field, body


def committed_together(pg, attendance_ids):
    """The check-ins were one transaction: they share now()."""
    ids = ",".join(str(i) for i in attendance_ids)
    assert pg.sql(f"SELECT count(DISTINCT check_in_at) FROM attendances WHERE id IN ({ids})").strip() == "1"


def audited(pg, answers):
    """Each 2xx check-in has its attendance and one audit row with the request's own account
    and request id; returns the attendance ids."""
    ids = []
    for r in answers:
        a = r.json()
        row = pg.sql(f"""SELECT t.event_id, t.volunteer_id, l.request_id, l.account_id = t.created_by,
                                l.new ->> 'volunteer_id'
                           FROM attendances t JOIN audit_log l ON l.entity = 'attendance' AND l.entity_id = t.id
                          WHERE t.id = {a['id']} AND l.action = 'check_in'""").strip().split("\n")
        assert len(row) == 1, (a, row)
        event, volunteer, rid, own_account, new_volunteer = row[0].split("|")
        assert (int(event), int(volunteer)) == (a["event_id"], a["volunteer_id"])
        assert rid == r.headers["X-Request-Id"] and own_account == "t"
        assert int(new_volunteer) == a["volunteer_id"]
        ids.append(a["id"])
    return ids


def test_one_batch_of_many_volunteers_each_failure_alone(one_worker, pg):
    srv = one_worker
    w = make_world(pg, 40, capacity=3)
    tok, ids = w.tokens, w.ids
    # Before the batch: volunteer 2 is on post already.
    assert checkin(srv, w.signed, tok[2])().status_code == 201
    not_signed = make_world(pg, 1, capacity=1)  # a volunteer of another unit: not signed up here

    wave = {
        "ok": [checkin(srv, w.signed, tok[i]) for i in range(10, 22)],
        "wrong code": [checkin(srv, w.signed, tok[3], {"code": "000000"})],
        "no code": [checkin(srv, w.signed, tok[4], {})],
        "not signed up": [checkin(srv, w.signed, not_signed.tokens[0])],
        "already in": [checkin(srv, w.signed, tok[2])],
        "twice": [checkin(srv, w.signed, tok[5]), checkin(srv, w.signed, tok[5])],
        "walk-ins": [checkin(srv, w.walkin, tok[i]) for i in range(30, 38)],
        "no event": [checkin(srv, 999999999, tok[6])],
        "roster": [checkin(srv, w.signed, w.coordinator_token, {"volunteer_id": ids[7]})],
        "not coordinator": [checkin(srv, w.signed, tok[8], {"volunteer_id": ids[9], "code": CODE})],
    }
    order = [k for k in wave for _ in wave[k]]
    [answers] = one_batch(pg, [checkin(srv, w.signed, tok[0]), checkin(srv, w.signed, tok[1])],
                          [[f for k in wave for f in wave[k]]])
    got = {}
    for k, r in zip(order, answers):
        got.setdefault(k, []).append(r)

    for r, i in zip(got["ok"], range(10, 22)):
        assert r.status_code == 201, r.text
        a = r.json()
        assert (a["volunteer_id"], a["event_id"], a["method"], a["flags"]) == (ids[i], w.signed, "self", [])
        assert a["check_out_at"] is None and a["entry"] is None and a["credited_minutes"] is None
    problem(got["wrong code"][0], 403, "wrong or expired check-in code: scan the poster again", "code")
    problem(got["no code"][0], 403, "the check-in code is required: scan the poster or ask the coordinator", "code")
    problem(got["not signed up"][0], 409, "you are not signed up for this event, and it takes no walk-ins")
    problem(got["already in"][0], 409, "already checked in at this event")
    # The same volunteer twice in one batch: one check-in, and the 409 it would get after it.
    twice = sorted(got["twice"], key=lambda r: r.status_code)
    assert twice[0].status_code == 201, twice[0].text
    problem(twice[1], 409, "already checked in at this event")
    # The walk-in race: exactly `capacity` places, the others are told the event is full.
    walk = sorted(got["walk-ins"], key=lambda r: r.status_code)
    assert [r.status_code for r in walk] == [201] * 3 + [409] * 5, [r.text for r in walk]
    for r in walk[:3]:
        assert r.json()["method"] == "walk_in" and r.json()["flags"] == ["walk_in"]
    for r in walk[3:]:
        problem(r, 409, "the event is full")
    problem(got["no event"][0], 404, "event not found")
    roster = got["roster"][0]
    assert roster.status_code == 201 and roster.json()["method"] == "roster", roster.text
    assert roster.json()["volunteer_id"] == ids[7]
    problem(got["not coordinator"][0], 403, "only a coordinator of this event may do this")

    # Every 2xx is in the database with its audit row; they were one transaction; the
    # failures left nothing.
    ok = [r for r in answers if r.status_code == 201]
    assert len(ok) == 12 + 1 + 3 + 1
    committed_together(pg, audited(pg, ok))
    rows = pg.sql(f"""SELECT volunteer_id FROM attendances WHERE event_id IN ({w.signed}, {w.walkin})
                       AND voided_at IS NULL""").split()
    want = {ids[i] for i in [0, 1, 2, 5, 7] + list(range(10, 22))} | {r.json()["volunteer_id"] for r in walk[:3]}
    assert sorted(int(x) for x in rows) == sorted(want)
    assert pg.sql(f"SELECT count(*) FROM attendances WHERE volunteer_id = {not_signed.ids[0]}").strip() == "0"


def test_idempotency_keys_inside_a_set_batch(one_worker, pg):
    srv = one_worker
    w = make_world(pg, 12, capacity=1)
    tok = w.tokens
    k = "cs-" + secrets.token_hex(6)
    first = checkin(srv, w.signed, tok[2], key=k + "-a")()
    assert first.status_code == 201, first.text

    waves = [[
        checkin(srv, w.signed, tok[2], key=k + "-a"),                                # replay
        checkin(srv, w.signed, tok[2], {"code": CODE, "volunteer_id": w.ids[2]}, key=k + "-a"),  # other body
        checkin(srv, w.signed, tok[3], key=k + "-b"),                                # the same key twice
        checkin(srv, w.signed, tok[3], key=k + "-b"),
        checkin(srv, w.signed, tok[4], {"code": "000000"}, key=k + "-c"),           # fails: keeps no key
        checkin(srv, w.signed, tok[5], key=k + "-a"),                                # another account's key
        checkin(srv, w.signed, tok[6]),
    ]]
    [[replay, other_body, b1, b2, failed, other_account, plain]] = one_batch(
        pg, [checkin(srv, w.signed, tok[0]), checkin(srv, w.signed, tok[1])], waves)

    assert replay.status_code == 201 and replay.content == first.content, replay.text
    problem(other_body, 422, "this Idempotency-Key was used for a different request", "Idempotency-Key")
    assert b1.status_code == 201 and b2.status_code == 201, (b1.text, b2.text)
    assert b1.content == b2.content, "a replay in the same batch returns the stored answer"
    problem(failed, 403, "wrong or expired check-in code: scan the poster again", "code")
    assert other_account.status_code == 201 and plain.status_code == 201
    # One of the two ran and the other replayed its answer: which came first is the network's.
    rid = pg.sql(f"""SELECT request_id FROM audit_log
                      WHERE entity = 'attendance' AND entity_id = {b1.json()['id']}""").strip()
    ran = b1 if b1.headers["X-Request-Id"] == rid else b2
    committed_together(pg, audited(pg, [ran, other_account, plain]))
    for i, n in [(2, 1), (3, 1), (4, 0)]:
        assert pg.sql(f"SELECT count(*) FROM attendances WHERE volunteer_id = {w.ids[i]}").strip() == str(n)
    # The failed check-in stored no key: the same key with the right code is a new request.
    again = checkin(srv, w.signed, tok[4], key=k + "-c")()
    assert again.status_code == 201, again.text
    assert checkin(srv, w.signed, tok[4], key=k + "-c")().content == again.content


def test_check_in_and_out_of_one_volunteer_in_one_batch_keep_arrival_order(one_worker, pg):
    srv = one_worker
    w = make_world(pg, 8, capacity=1)
    tok = w.tokens
    assert checkin(srv, w.signed, tok[3])().status_code == 201  # on post before the batch
    first, then = one_batch(pg, [checkin(srv, w.signed, tok[0]), checkin(srv, w.signed, tok[1])], [
        [checkin(srv, w.signed, tok[2]), checkout(srv, w.signed, tok[3]), checkin(srv, w.signed, tok[4])],
        [checkout(srv, w.signed, tok[2]), checkin(srv, w.signed, tok[3])],
    ])
    (in2, out3, in4), (out2, in3) = first, then
    # Volunteer 2 checks in, then out; volunteer 3 checks out, then in again: each pair in the
    # order it arrived, whatever the batch does with the others.
    for r in (in2, in4, in3):
        assert r.status_code == 201, r.text
    for r in (out2, out3):
        assert r.status_code == 200, r.text
        assert r.json()["check_out_at"] is not None and r.json()["entry"]["status"] in ("approved", "pending")
    assert out2.json()["id"] == in2.json()["id"]
    assert in3.json()["id"] != out3.json()["id"] and in3.json()["check_out_at"] is None
    committed_together(pg, audited(pg, [in2, in4, in3]))
    open_ = pg.sql(f"""SELECT volunteer_id FROM attendances WHERE event_id = {w.signed}
                        AND check_out_at IS NULL ORDER BY volunteer_id""").split()
    assert [int(x) for x in open_] == sorted([w.ids[0], w.ids[1], w.ids[3], w.ids[4]])


def test_a_batch_waiting_on_a_lock_holds_the_next_check_in_back_briefly(one_worker, pg):
    """A worker keeps one batch in flight and gathers the next (server/batch.c), but a batch out
    for BATCH_SLOW_MS (50 ms) lets a second one go: a check-in that waits on a lock delays the
    check-ins behind it that long, not until the lock is released.  /metrics counts those
    second batches (volunteerd_commit_beside_slow_total)."""
    srv = one_worker
    w = make_world(pg, 2, capacity=1)
    time.sleep(1.2)  # the workers publish their counters every second: the earlier tests' are in
    before = beside_slow(srv)
    holder = pg.connect()
    try:
        # Volunteer 0 checked in by a transaction that has not committed: their check-in's
        # INSERT waits for it on the one-open-attendance index.
        holder.cursor().execute(
            "INSERT INTO attendances (event_id, volunteer_id, check_in_at, method) "
            "VALUES (%s, %s, now(), 'roster')", (w.signed, w.ids[0]))
        with cf.ThreadPoolExecutor(1) as ex:
            stuck = ex.submit(checkin(srv, w.signed, w.tokens[0]))
            assert helpers.wait_until(lambda: pg.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%checkin_batch%'").strip() == "1", 10), "the first batch is not held"
            t0 = time.monotonic()
            other = checkin(srv, w.signed, w.tokens[1])()
            took = time.monotonic() - t0
            assert other.status_code == 201, other.text
            assert not stuck.done(), "the held check-in was answered before its lock was released"
            assert took < TIMEOUT / 3, took
            holder.rollback()  # release: the held check-in goes on, and now it is the only one
            assert stuck.result(timeout=TIMEOUT).status_code == 201
    finally:
        holder.rollback()
        holder.close()
    audited(pg, [other])
    # the workers publish their counters every second
    assert helpers.wait_until(lambda: beside_slow(srv) == before + 1, 5), (before, beside_slow(srv))


def beside_slow(server):
    """The workers' count of batches sent beside a slow one, from /metrics."""
    return int(helpers.metric(server, "volunteerd_commit_beside_slow_total", timeout=TIMEOUT))

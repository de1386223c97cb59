"""Group commit and the session cache (issue 8).

Check-ins and check-outs of a worker are gathered into one transaction (server/batch.c,
sql/0008_batch.sql); these tests make the gathering certain by holding a lock that the first
batches wait on, so the later requests pile up into one batch, and then check that every
request still got its own answer: conflicts fail alone, Idempotency-Keys hold per item, and
every 2xx is in the database.  Then the session cache (server/sessions.c): a log-out, a
session ended or shortened with SQL, and a lost LISTEN connection must all make every worker
refuse the token.

Volunteers, accounts and sessions are inserted with SQL (tokens chosen here, stored as their
SHA-256, as the server does) so that no test pays for Argon2.
"""
import concurrent.futures as cf
import secrets
import threading
import time

import requests

import helpers

TIMEOUT = 10


def q(s):
    return "'" + s.replace("'", "''") + "'"


def make_world(pg, n):
    """A district, a static-code event open now without walk-ins, n signed-up volunteers
    with sessions.  Returns (event_id, code, tokens, volunteer_ids)."""
    tag = secrets.token_hex(4)
    tokens = ["bt" + secrets.token_urlsafe(32)[:41] for _ in range(n)]
    tokens = [t.replace("=", "A") for t in tokens]
    unit, team = helpers.unit_with_team(pg, f"B-{tag}", f"Batch {tag}", "Batch team")
    event_id = helpers.open_event(pg, team, f"batch {tag}", "Batch post", "135791")
    ids, _ = helpers.volunteers_with_sessions(pg, unit, tokens, f"batch-{tag}", phone="155", name="B",
                                              signup_event=event_id)
    return event_id, "135791", tokens, ids


def post(server, path, token, body=None, key=None):
    h = {"Authorization": "Bearer " + token}
    if key:
        h["Idempotency-Key"] = key
    # A fresh connection each time, so SO_REUSEPORT spreads requests over the workers.
    with requests.Session() as s:
        return s.post(server.url(path), json=body if body is not None else {}, headers=h,
                      timeout=TIMEOUT)


def held(pg, fn):
    """Run fn while a lock makes the first check-in batches wait (their audit rows cannot be
    inserted), so that the requests fn starts pile up into further batches; release after
    the requests are in, then return fn's result."""
    conn = pg.connect()
    try:
        cur = conn.cursor()
        cur.execute("LOCK TABLE audit_log IN SHARE MODE")
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("r", fn()))
        t.start()
        time.sleep(1.0)  # every request has arrived and waits in a batch or behind one
        conn.rollback()  # release
        t.join(30)
        assert not t.is_alive(), "requests did not finish after the lock was released"
        return result["r"]
    finally:
        conn.close()


def test_batched_checkins_answer_one_by_one(server, pg):
    event, code, tokens, ids = make_world(pg, 30)
    # Volunteer 0 is already on post at this event: their second check-in must fail alone.
    r = post(server, f"/api/v1/events/{event}/check-ins", tokens[0], {"code": code})
    assert r.status_code == 201, r.text

    def fire():
        with cf.ThreadPoolExecutor(40) as ex:
            jobs = [ex.submit(post, server, f"/api/v1/events/{event}/check-ins", t,
                              {"code": code if i != 1 else "000000"})
                    for i, t in enumerate(tokens)]
            return [j.result() for j in jobs]

    answers = held(pg, fire)
    assert answers[0].status_code == 409, answers[0].text  # already checked in
    assert answers[1].status_code == 403, answers[1].text  # wrong code
    assert "problem+json" in answers[0].headers["Content-Type"]
    for i, r in enumerate(answers[2:], 2):
        assert r.status_code == 201, (i, r.text)
        assert r.json()["volunteer_id"] == ids[i]
        assert r.json()["event_id"] == event and r.json()["check_out_at"] is None
    # Every 2xx is in the database; the conflicts left nothing behind.
    rows = pg.sql(f"SELECT volunteer_id FROM attendances WHERE event_id = {event} AND voided_at IS NULL").split()
    assert sorted(int(x) for x in rows) == sorted([ids[0]] + ids[2:])
    # They were committed together: requests that waited share a transaction, and so now().
    times = pg.sql(f"SELECT count(DISTINCT check_in_at) FROM attendances WHERE event_id = {event}").strip()
    assert int(times) < len(ids) - 1, "no two check-ins shared a transaction"
    # Check-outs go the same way, each with its own entry.
    outs = held(pg, lambda: [post(server, f"/api/v1/events/{event}/check-outs", t, {"code": code})
                             for t in tokens[2:6]])
    for r in outs:
        assert r.status_code == 200, r.text
        assert r.json()["entry"]["status"] in ("approved", "pending")


def test_idempotency_keys_hold_per_item_in_one_batch(server, pg):
    event, code, tokens, ids = make_world(pg, 3)
    path = f"/api/v1/events/{event}/check-ins"

    def fire():
        with cf.ThreadPoolExecutor(6) as ex:
            a = [ex.submit(post, server, path, tokens[0], {"code": code}, "k-same") for _ in range(3)]
            b = ex.submit(post, server, path, tokens[1], {"code": code}, "k-same")  # another account
            time.sleep(0.2)
            c = ex.submit(post, server, path, tokens[0], {"code": code, "volunteer_id": ids[0]}, "k-same")
            return [x.result() for x in a], b.result(), c.result()

    same, other_account, other_body = held(pg, fire)
    assert [r.status_code for r in same] == [201, 201, 201], [r.text for r in same]
    assert len({r.text for r in same}) == 1, "a replay must return the stored answer"
    assert other_account.status_code == 201  # keys are per account
    assert other_body.status_code == 422, other_body.text
    n = pg.sql(f"SELECT count(*) FROM attendances WHERE event_id = {event} AND volunteer_id = {ids[0]}").strip()
    assert n == "1"


def statuses(server, token, n=16):
    out = []
    for _ in range(n):
        with requests.Session() as s:
            out.append(s.get(server.url("/api/v1/me"), headers={"Authorization": "Bearer " + token},
                             timeout=TIMEOUT).status_code)
    return out


def test_logout_is_refused_by_every_worker_at_once(server, pg):
    _, _, tokens, _ = make_world(pg, 1)
    tok = tokens[0]
    assert set(statuses(server, tok)) == {200}  # cached by both workers now
    r = requests.delete(server.url("/api/v1/session"), headers={"Authorization": "Bearer " + tok},
                        timeout=TIMEOUT)
    assert r.status_code == 204
    # Right after the log-out's answer, on fresh connections (both workers): refused.
    assert set(statuses(server, tok)) == {401}


def test_sessions_ended_or_shortened_in_sql_are_refused(server, pg):
    _, _, tokens, _ = make_world(pg, 3)
    for t in tokens:
        assert set(statuses(server, t, 6)) == {200}
    h = [f"sha256(convert_to({q(t)}, 'UTF8'))" for t in tokens]
    pg.sql(f"DELETE FROM sessions WHERE token_hash = {h[0]}")
    pg.sql(f"UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE token_hash = {h[1]}")
    pg.sql(f"UPDATE accounts SET disabled = true WHERE id = (SELECT account_id FROM sessions WHERE token_hash = {h[2]})")
    time.sleep(0.05)  # NOTIFY is asynchronous to a third party such as psql
    for t in tokens:
        assert set(statuses(server, t, 6)) == {401}


def test_cache_is_off_while_the_listen_connection_is_down(server, pg):
    _, _, tokens, _ = make_world(pg, 2)
    for t in tokens:
        assert set(statuses(server, t, 6)) == {200}
    # Cut the workers' LISTEN connections; a session ended meanwhile must not be served from a
    # cache that could not hear about it.
    pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'volunteerd-listen'")
    pg.sql(f"DELETE FROM sessions WHERE token_hash = sha256(convert_to({q(tokens[0])}, 'UTF8'))")
    time.sleep(0.05)
    assert set(statuses(server, tokens[0], 6)) == {401}
    assert set(statuses(server, tokens[1], 6)) == {200}
    # ... and they come back.
    deadline = time.time() + 10
    while time.time() < deadline:
        n = pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'volunteerd-listen'").strip()
        if int(n) >= 2:
            break
        time.sleep(0.1)
    assert int(n) >= 2, "the LISTEN connections did not come back"
